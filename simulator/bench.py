"""Generation benchmark: how long a world with a given number of player events takes.

``run_benchmark`` sizes the population from a small calibration world (events per person are
stable for a given window), generates the big world into a temporary directory, and reports wall
time, CPU time, events per second and peak memory (parent + workers, from ``resource``).
The benchmarks package can call it; ``python -m simulator bench`` prints its result.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from simulator.config import WorldConfig
from simulator.world.generate import generate_world


def _peak_rss_mb() -> dict[str, float]:
    # ru_maxrss is in KiB on Linux; RUSAGE_CHILDREN is the largest worker, not their sum.
    return {
        "parent_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "largest_worker_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
    }


def _cpu() -> float:
    s = resource.getrusage(resource.RUSAGE_SELF)
    c = resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime


def run_benchmark(
    target_events: int = 10_000_000,
    days: int = 30,
    workers: int = 2,
    out_dir: str | Path | None = None,
    seed: int = 42,
) -> dict[str, Any]:
    """Generate a world of about ``target_events`` player events and measure it."""
    tmp = Path(tempfile.mkdtemp(prefix="predicto-bench-"))
    try:
        calib_cfg = WorldConfig(seed=seed, people=2000, days=days, workers=workers)
        calib = generate_world(calib_cfg, tmp / "calibration")
        per_person = json.loads((calib / "world.json").read_text())["counts"]["player_events"] / 2000
        people = max(1000, int(target_events / max(per_person, 1.0)))
        cfg = WorldConfig(seed=seed, people=people, days=days, workers=workers)
        target = Path(out_dir) if out_dir else tmp / "world"
        cpu0 = _cpu()
        t0 = time.perf_counter()
        world = generate_world(cfg, target)
        wall = time.perf_counter() - t0
        cpu = _cpu() - cpu0
        counts = json.loads((world / "world.json").read_text())["counts"]
        size = sum(p.stat().st_size for p in world.rglob("*") if p.is_file())
        events = counts["player_events"]
        return {
            "people": people,
            "days": days,
            "workers": workers,
            "cpu_count": os.cpu_count(),
            "player_events": events,
            "wall_seconds": round(wall, 2),
            "cpu_seconds": round(cpu, 2),
            "events_per_second": round(events / wall),
            "events_per_cpu_second": round(events / max(cpu, 1e-9)),
            "output_mb": round(size / 2**20, 1),
            **{k: round(v, 1) for k, v in _peak_rss_mb().items()},
            "rows": {k: v for k, v in counts.items() if k != "player_events"},
        }
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
