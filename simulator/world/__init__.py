"""Generation of one consistent synthetic streaming world (see ``simulator.world.generate``)."""
