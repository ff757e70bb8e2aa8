"""`make bench`: run every benchmark and print value, ceiling and ratio for each metric."""

from __future__ import annotations

import sys

from . import ingest_player_events, warehouse_core, warehouse_http

BENCHMARKS = {
    "warehouse_http": warehouse_http.run,
    "ingest_player_events": ingest_player_events.run,
    "warehouse_core": warehouse_core.run,
}


def main(names: list[str]) -> int:
    chosen = names or list(BENCHMARKS)
    reports = []
    for name in chosen:
        report = BENCHMARKS[name]()
        report.print()
        print(f"  saved {report.save()}")
        reports.append(report)
    misses = [m.name for r in reports for m in r.metrics if m.ok is False]
    if misses:
        print("\nmissed targets: " + "; ".join(misses))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
