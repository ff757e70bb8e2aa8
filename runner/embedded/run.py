"""Foreground entry of the embedded server: signals, state file, logging."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time

from runner.settings import EmbeddedTarget


def run_foreground(target: EmbeddedTarget) -> int:
    # One time zone for everyone: results must not depend on the machine's.
    os.environ["TZ"] = "UTC"
    time.tzset()
    logging.basicConfig(
        level=os.environ.get("PREDICTO_WAREHOUSE_LOG_LEVEL", "INFO"),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    from runner import warehouse

    from .engine import DataDirInUse
    from .server import ServerConfig, serve

    config = ServerConfig(host=target.host, port=target.port, user=target.user, password=target.password)
    try:
        server = serve(config, target.data_dir)
    except (DataDirInUse, ValueError, OSError) as exc:
        logging.getLogger("predicto.warehouse").error("%s", exc)
        print(f"error: {exc}", file=sys.stderr)
        return 1
    warehouse.write_state(target.data_dir, target.host, server.server_port)
    stopping = threading.Event()

    def _stop(signum: int, _frame: object) -> None:
        if not stopping.is_set():
            stopping.set()
            threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    logging.getLogger("predicto.warehouse").info(
        "serving %s on http://%s:%s (ClickHouse %s)",
        target.data_dir,
        target.host,
        server.server_port,
        server.engine.version,
    )
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        # Let running queries finish (a stop during an insert must not cut it), then close.
        if not server.wait_idle(timeout=60):
            logging.getLogger("predicto.warehouse").warning("stopping with queries still running")
        server.server_close()
        server.sessions.close_all()
        warehouse.clear_state(target.data_dir)
        server.engine.close()
        logging.getLogger("predicto.warehouse").info("stopped")
    return 0
