"""Start, stop and inspect the embedded warehouse server (a background process per data dir)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from .settings import EmbeddedTarget

STATE_FILE = "server.json"
LOG_FILE = "server.log"


class WarehouseError(RuntimeError):
    """The embedded warehouse could not be started, stopped or reached."""


@dataclass(frozen=True)
class ServerState:
    pid: int
    host: str
    port: int
    started_at: float

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"


def read_state(data_dir: Path) -> ServerState | None:
    try:
        raw = json.loads((data_dir / STATE_FILE).read_text())
        return ServerState(int(raw["pid"]), raw["host"], int(raw["port"]), float(raw["started_at"]))
    except (OSError, ValueError, KeyError):
        return None


def write_state(data_dir: Path, host: str, port: int) -> None:
    state = {"pid": os.getpid(), "host": host, "port": port, "started_at": time.time()}
    tmp = data_dir / (STATE_FILE + ".tmp")
    tmp.write_text(json.dumps(state))
    tmp.replace(data_dir / STATE_FILE)


def clear_state(data_dir: Path) -> None:
    state = read_state(data_dir)
    if state is not None and state.pid == os.getpid():
        (data_dir / STATE_FILE).unlink(missing_ok=True)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def ping(url: str, timeout: float = 1.0) -> bool:
    try:
        with urllib.request.urlopen(url + "/ping", timeout=timeout) as resp:
            return resp.status == 200 and resp.read().strip() == b"Ok."
    except (OSError, urllib.error.URLError):
        return False


def running_state(data_dir: Path) -> ServerState | None:
    """The state of a live server of this data dir, or None."""
    state = read_state(data_dir)
    if state is None or not pid_alive(state.pid):
        return None
    return state


def start(target: EmbeddedTarget, wait_seconds: float = 60.0) -> ServerState:
    """Start a background server for `target` and wait until it answers /ping."""
    state = running_state(target.data_dir)
    if state is not None:
        if (state.host, state.port) != (target.host, target.port):
            raise WarehouseError(
                f"the warehouse for {target.data_dir} already runs at {state.url} (pid {state.pid}); "
                "stop it first to move it to another address"
            )
        return state
    if ping(target.url):
        raise WarehouseError(
            f"something else already answers at {target.url}; choose another --port or stop it"
        )
    target.data_dir.mkdir(parents=True, exist_ok=True)
    log_path = target.data_dir / LOG_FILE
    cmd = [
        sys.executable,
        "-m",
        "runner",
        "warehouse",
        "serve",
        "--host",
        target.host,
        "--port",
        str(target.port),
        "--data-dir",
        str(target.data_dir),
    ]
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
        )
    deadline = time.monotonic() + wait_seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise WarehouseError(f"the warehouse server exited at start:\n{_tail(log_path)}")
        state = read_state(target.data_dir)
        if state is not None and state.pid == proc.pid and ping(target.url, timeout=0.5):
            return state
        time.sleep(0.1)
    proc.terminate()
    raise WarehouseError(
        f"the warehouse server did not answer within {wait_seconds:.0f}s:\n{_tail(log_path)}"
    )


def stop(data_dir: Path, wait_seconds: float = 90.0) -> ServerState | None:
    """Stop the server of `data_dir`; returns its state, or None if none was running."""
    state = running_state(data_dir)
    if state is None:
        return None
    os.kill(state.pid, signal.SIGTERM)
    deadline = time.monotonic() + wait_seconds
    while time.monotonic() < deadline:
        if not pid_alive(state.pid) or _is_zombie(state.pid):
            (data_dir / STATE_FILE).unlink(missing_ok=True)
            return state
        time.sleep(0.1)
    os.kill(state.pid, signal.SIGKILL)
    (data_dir / STATE_FILE).unlink(missing_ok=True)
    return state


def ensure_running(target: EmbeddedTarget) -> str:
    """URL of a live embedded warehouse, starting one if nothing answers."""
    if ping(target.url):
        return target.url
    return start(target).url


def _is_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(") ", 1)[1].startswith("Z")
    except OSError:
        return False


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
