"""Child process of the ingest benchmark: one player_logs run, measured from inside.

Usage: python -m benchmarks.ingest_worker <player_logs_dir> <port> <pipelines_dir>
Prints one JSON line: seconds, events, peak RSS.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path


def main(directory: str, port: int, pipelines_dir: str) -> None:
    from ingestion.pipelines import make_pipeline
    from ingestion.player_logs import player_logs_source
    from warehouse.settings import ClickHouseSettings

    settings = ClickHouseSettings(host="127.0.0.1", port=port)
    pipeline = make_pipeline("player_logs", pipelines_dir=Path(pipelines_dir), settings=settings)
    started = time.perf_counter()
    pipeline.run(player_logs_source(directory=directory))
    seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "peak_rss_mb": peak_mb}))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3])
