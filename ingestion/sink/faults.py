"""A fault point for tests: fail or die right after a batch was inserted.

The worst moment for a loader to stop is after its INSERT reached ClickHouse and before dlt
recorded the job as done: the next attempt sees the job again. Tests set

    PREDICTO_SINK_FAULT=after_insert:<n>:<raise|exit>

to make the n-th data insert of a load raise a transient error (dlt retries the job) or
end the process on the spot (as a kill would). Unset, this module does nothing.
"""

from __future__ import annotations

import os
import threading

FAULT_ENV = "PREDICTO_SINK_FAULT"
EXIT_CODE = 86


class SimulatedCrash(ConnectionError):
    """Raised by the `raise` fault; a ConnectionError, so it is treated as transient."""


_lock = threading.Lock()
_seen: dict[tuple[str, str], int] = {}


def after_insert(load_id: str) -> None:
    """Count one insert of load `load_id` and fire the configured fault when its turn comes."""
    spec = os.environ.get(FAULT_ENV, "")
    if not spec.startswith("after_insert:"):
        return
    _, n, action = (spec.split(":") + ["raise"])[:3]
    with _lock:
        key = (spec, load_id)
        _seen[key] = _seen.get(key, 0) + 1
        fire = _seen[key] == int(n)
    if not fire:
        return
    if action == "exit":
        os._exit(EXIT_CODE)
    raise SimulatedCrash(f"{FAULT_ENV}={spec}: simulated failure after the insert")
