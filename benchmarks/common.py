"""Shared helpers: a server to measure, timing, and the report format."""

from __future__ import annotations

import json
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


@dataclass
class Metric:
    name: str
    value: float
    unit: str
    ceiling: float | None = None  # same measure by the engine itself
    target: str = ""  # e.g. ">= 0.7 of ceiling"
    ok: bool | None = None

    @property
    def ratio(self) -> float | None:
        if self.ceiling in (None, 0):
            return None
        return self.value / self.ceiling if self.unit.endswith("/s") else self.ceiling / self.value


@dataclass
class Report:
    benchmark: str
    metrics: list[Metric] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, metric: Metric) -> Metric:
        self.metrics.append(metric)
        return metric

    def print(self) -> None:
        print(f"\n== {self.benchmark}")
        print(f"{'metric':<48} {'value':>14} {'ceiling':>14} {'ratio':>7}  target")
        for m in self.metrics:
            ratio = f"{m.ratio:.2f}" if m.ratio is not None else ""
            ceiling = f"{m.ceiling:,.1f}" if m.ceiling is not None else ""
            verdict = "" if m.ok is None else ("PASS" if m.ok else "MISS")
            print(f"{m.name:<48} {m.value:>14,.2f} {ceiling:>14} {ratio:>7}  {m.target} {verdict} [{m.unit}]")
        for note in self.notes:
            print(f"  note: {note}")

    def save(self) -> Path:
        RESULTS.mkdir(parents=True, exist_ok=True)
        path = RESULTS / f"{self.benchmark}-{time.strftime('%Y%m%dT%H%M%S')}.json"
        path.write_text(
            json.dumps(
                {
                    "benchmark": self.benchmark,
                    "metrics": [asdict(m) | {"ratio": m.ratio} for m in self.metrics],
                    "notes": self.notes,
                },
                indent=2,
            )
        )
        return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(data_dir: Path) -> tuple[subprocess.Popen, int]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLICKHOUSE_", "PREDICTO_WAREHOUSE_"))}
    env["PREDICTO_WAREHOUSE_LOG_LEVEL"] = "WARNING"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "runner",
            "warehouse",
            "serve",
            "--port",
            str(port),
            "--data-dir",
            str(data_dir),
        ],
        cwd=ROOT,
        env=env,
    )
    for _ in range(600):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=1):
                return proc, port
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("warehouse server did not start")


def timed(fn: Callable[[], object], repeat: int = 1) -> list[float]:
    out = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def median(xs: list[float]) -> float:
    return statistics.median(xs)


def peak_rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")
