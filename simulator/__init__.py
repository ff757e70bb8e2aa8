"""Predicto simulator: a deterministic synthetic video-streaming platform and sandbox servers.

    from simulator import WorldConfig, generate_world
    world_dir = generate_world(WorldConfig(people=3000, days=30), "/tmp/world")

The sandbox servers (``simulator.sandbox``) serve a generated world over the real source
protocols. This package imports nothing from the rest of the project.
"""

from simulator.config import WorldConfig
from simulator.world.generate import generate_world

__all__ = ["WorldConfig", "generate_world"]
