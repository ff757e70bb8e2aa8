"""The ``python -m simulator`` entry points."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from simulator.__main__ import main


def test_generate_command_writes_a_world(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = [
        "generate",
        "--out",
        str(tmp_path / "w"),
        "--people",
        "60",
        "--days",
        "3",
        "--titles",
        "40",
        "--history-days",
        "0",
        "--workers",
        "1",
    ]
    assert main(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["counts"]["people"] == 60
    manifest = json.loads((tmp_path / "w" / "world.json").read_text())
    assert manifest["now"] == "2026-10-04T00:00:00Z"
    assert manifest["data_start"] == "2026-10-01T00:00:00Z"
