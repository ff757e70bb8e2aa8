"""Player logs: every event of the world's gzip JSON-lines files lands typed, once.

The files are read from the session world (read only) or from a copy in tmp_path when a test
adds, grows or breaks files.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import shutil
from pathlib import Path

import pytest

from ingestion.errors import SourceConfigurationError
from ingestion.player_logs import player_logs_source
from ingestion.run import describe_error

from .platform_helpers import (
    column_types,
    count,
    extended_world,
    loads,
    malformed_truth,
    malformed_world,
    quarantined,
    rows,
)

SOURCE = "player_logs"
TABLE = "player_logs__events"


def files_of(root: Path) -> list[Path]:
    return sorted(root.glob("*/*/*/*.jsonl.gz"))


def events_of(root: Path) -> dict[str, tuple[dict, str]]:
    """event_id → (event, its line) of every file under `root`."""
    events = {}
    for path in files_of(root):
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            for line in fh:
                event = json.loads(line)
                events[event["event_id"]] = (event, line.rstrip("\n"))
    return events


def write_lines(path: Path, lines: list[bytes]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wb") as fh:
        fh.writelines(lines)


def context(event: dict, prefix: str) -> dict:
    return next(c["data"] for c in event["contexts"]["data"] if c["schema"].startswith(prefix))


def utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).replace(tzinfo=None)


@pytest.fixture
def logs(tmp_path, world_dir) -> Path:
    """A writable copy of the world's player logs."""
    root = tmp_path / "player_logs"
    shutil.copytree(world_dir / "player_logs", root)
    return root


def test_every_event_lands_typed(ch, clean_source, world_dir):
    root = world_dir / "player_logs"
    expected = events_of(root)
    world = json.loads((world_dir / "world.json").read_text())
    assert len(expected) == world["counts"]["player_events"]

    clean_source(SOURCE).run(player_logs_source(directory=str(root), workers=2, batch_rows=20_000))

    assert count(ch, TABLE) == len(expected)
    assert rows(ch, f"SELECT uniqExact(event_id) FROM raw.{TABLE}")[0][0] == len(expected)
    types = column_types(ch, TABLE)
    assert types["event_id"] == "String"
    assert types["collector_tstamp"] == "DateTime64(6, 'UTC')"
    assert types["dvce_created_tstamp"] == "Nullable(DateTime64(6, 'UTC'))"
    assert types["event_name"] == "LowCardinality(Nullable(String))"
    assert types["player_current_time"] == "Nullable(Float64)"
    assert types["player_paused"] == "Nullable(Bool)"
    assert types["content_id"] == "Nullable(Int64)"
    assert types["percent_progress"] == "Nullable(Int64)"
    assert types["raw_event"] == "String"
    assert types["source_file"] == "LowCardinality(String)"
    partition, order = rows(
        ch,
        "SELECT partition_key, sorting_key FROM system.tables WHERE database = 'raw' AND name = {t:String}",
        t=TABLE,
    )[0]
    assert partition == "toYYYYMM(collector_tstamp)"
    assert order.startswith("toDate(collector_tstamp)")

    got = {
        r[0]: r[1:]
        for r in rows(
            ch,
            "SELECT event_id, event_name, app_id, collector_tstamp, dvce_created_tstamp, domain_userid, user_id, "
            "player_current_time, player_duration, player_paused, player_ended, player_quality, player_label, "
            "media_session_id, media_session_time_played, media_session_time_buffering, content_id, "
            f"content_type, percent_progress, new_quality, raw_event, source_file FROM raw.{TABLE}",
        )
    }
    for event_id, (event, line) in expected.items():
        player = context(event, "iglu:com.snowplowanalytics.snowplow/media_player/")
        session = context(event, "iglu:com.snowplowanalytics.snowplow.media/session/")
        content = context(event, "iglu:ru.kinoexample/content/")
        payload = event["unstruct_event"]["data"]["data"]
        assert got[event_id][:20] == (
            event["event_name"],
            event["app_id"],
            utc(event["collector_tstamp"]),
            utc(event["dvce_created_tstamp"]),
            event["domain_userid"],
            event["user_id"],
            player["currentTime"],
            player["duration"],
            player["paused"],
            player["ended"],
            player["quality"],
            player["label"],
            session["mediaSessionId"],
            session["timePlayed"],
            session["timeBuffering"],
            content["content_id"],
            content["content_type"],
            payload.get("percentProgress"),
            payload.get("newQuality"),
            line,
        ), event_id
        assert got[event_id][20].endswith(".jsonl.gz")
    # one media session per view of the truth that has events in the files
    sessions = rows(ch, f"SELECT uniqExact(media_session_id) FROM raw.{TABLE}")[0][0]
    media_sessions = {
        context(event, "iglu:com.snowplowanalytics.snowplow.media/session/")["mediaSessionId"]
        for event, _ in expected.values()
    }
    assert sessions == len(media_sessions)
    assert quarantined(ch, SOURCE) == []


def test_rerun_reads_nothing_and_backfill_adds_nothing(ch, clean_source, world_dir):
    root = str(world_dir / "player_logs")
    pipeline = clean_source(SOURCE)
    pipeline.run(player_logs_source(directory=root))
    total = count(ch, TABLE)

    again = pipeline.run(player_logs_source(directory=root))
    assert count(ch, TABLE) == total
    # no file was read again: nothing reached the sink for the events table
    assert all(TABLE not in loads(ch, SOURCE, load_id) for load_id in again.loads_ids)

    # an explicit window reads its files again; the sink keeps one row per event
    first_day = min(
        dt.date.fromisoformat("-".join(p.parts[-4:-1])) for p in files_of(world_dir / "player_logs")
    )
    backfill = pipeline.run(
        player_logs_source(directory=root, start_date=first_day, end_date=first_day + dt.timedelta(days=2))
    )
    received, inserted = loads(ch, SOURCE, backfill.loads_ids[0])[TABLE]
    assert received > 0 and inserted == 0
    assert count(ch, TABLE) == total


def test_broken_lines_go_to_quarantine_and_the_rest_loads(ch, clean_source, logs, world_dir):
    path = files_of(logs)[len(files_of(logs)) // 2]
    with gzip.open(path, "rb") as fh:
        lines = fh.read().splitlines(keepends=True)
    junk = {
        3: b'{"event_id":"cut-off","app_id":"kino-web","platform":"web","event_name":"play_ev\n',
        6: b"\x00\x00<html><body>502 Bad Gateway</body></html>\n",
        9: b"\n",  # blank lines are skipped, not quarantined
        12: b'{"app_id":"kino-web","collector_tstamp":"2026-10-01T00:00:00.000Z"}\n',
        15: b'{"event_id":"bad-type","collector_tstamp":"2026-10-01T00:00:00.000Z","user_id":{"x":1}}\n',
    }
    for position in sorted(junk):  # 1-based line numbers in the final file
        lines.insert(position - 1, junk[position])
    original = len(lines) - len(junk)
    write_lines(path, lines)

    clean_source(SOURCE).run(player_logs_source(directory=str(logs)))

    rel = path.relative_to(logs).as_posix()
    bad = quarantined(ch, SOURCE)
    assert [(r[0], r[1]) for r in bad] == [
        ("events", f"{rel}:12"),
        ("events", f"{rel}:15"),
        ("events", f"{rel}:3"),
        ("events", f"{rel}:6"),
    ]
    reasons = {r[1].rsplit(":", 1)[1]: r[2] for r in bad}
    assert reasons["3"].startswith("not valid JSON")
    assert reasons["6"].startswith("not valid JSON")
    assert reasons["12"] == "event_id is missing"
    assert reasons["15"].startswith("does not fit the event schema")
    assert bad[2][3].startswith('{"event_id":"cut-off"')
    # every event of the file, and of the others, still lands
    assert (
        rows(ch, f"SELECT count() FROM raw.{TABLE} WHERE source_file = {{f:String}}", f=rel)[0][0] == original
    )
    assert count(ch, TABLE) == json.loads((world_dir / "world.json").read_text())["counts"]["player_events"]


def test_only_new_and_grown_files_are_read(ch, clean_source, logs, world_config):
    later = extended_world(world_config) / "player_logs"
    pipeline = clean_source(SOURCE)
    pipeline.run(player_logs_source(directory=str(logs)))
    before = count(ch, TABLE)

    # the extended world's new day arrives; one of its files is still half written
    new_files = [p for p in files_of(later) if not (logs / p.relative_to(later)).exists()]
    assert new_files
    growing = new_files[0]
    full = gzip.decompress(growing.read_bytes()).splitlines(keepends=True)
    for p in new_files[1:]:
        write_lines(logs / p.relative_to(later), gzip.decompress(p.read_bytes()).splitlines(keepends=True))
    write_lines(logs / growing.relative_to(later), full[: len(full) // 2])

    info = pipeline.run(player_logs_source(directory=str(logs)))
    received, inserted = loads(ch, SOURCE, info.loads_ids[0])[TABLE]
    new_events = sum(len(gzip.decompress(p.read_bytes()).splitlines()) for p in new_files[1:])
    assert received == inserted == new_events + len(full) // 2  # old files were not read again

    # the file is complete now: it alone is read again, its new half inserted
    write_lines(logs / growing.relative_to(later), full)
    info = pipeline.run(player_logs_source(directory=str(logs)))
    assert loads(ch, SOURCE, info.loads_ids[0])[TABLE] == (len(full), len(full) - len(full) // 2)
    assert count(ch, TABLE) == len(events_of(later)) == before + new_events + len(full)


def test_missing_directory_is_a_configuration_error(clean_source, tmp_path):
    with pytest.raises(Exception) as caught:
        clean_source(SOURCE).run(player_logs_source(directory=str(tmp_path / "nowhere")))
    assert "sources.player_logs.directory" in describe_error(caught.value)
    chain = caught.value
    while chain is not None and not isinstance(chain, SourceConfigurationError):
        chain = getattr(chain, "exception", None) or chain.__cause__ or chain.__context__
    assert isinstance(chain, SourceConfigurationError)


def test_configured_through_the_environment(ch, clean_source, world_dir, ch_settings, tmp_path, monkeypatch):
    """The CLI's path: the registry builds the source, dlt reads the folder from the environment."""
    from ingestion.run import ingest

    clean_source(SOURCE)
    monkeypatch.setenv("SOURCES__PLAYER_LOGS__DIRECTORY", str(world_dir / "player_logs"))
    [run] = ingest(["player_logs"], settings=ch_settings, pipelines_dir=tmp_path / "pipelines")
    assert run.status == "loaded", run.error
    assert count(ch, TABLE) == json.loads((world_dir / "world.json").read_text())["counts"]["player_events"]


def test_the_worlds_bad_lines_are_quarantined_where_the_truth_says(ch, clean_source):
    world = malformed_world()
    truth = malformed_truth(world, "player_logs")
    assert truth
    clean_source(SOURCE).run(player_logs_source(directory=str(world / "player_logs")))

    bad = quarantined(ch, SOURCE)
    assert sorted(r[1] for r in bad) == sorted(t["key"].removeprefix("player_logs/") for t in truth)
    assert all(r[2].startswith("not valid JSON") for r in bad)
    assert count(ch, TABLE) == json.loads((world / "world.json").read_text())["counts"]["player_events"]


def test_unreadable_and_unfinished_files(ch, clean_source, logs):
    """A corrupt file is quarantined whole; a file still being written is read again later."""
    files = files_of(logs)
    corrupt, unfinished = files[0], files[-1]
    complete = unfinished.read_bytes()
    corrupt.write_bytes(b"\x1f\x8b\x08\x00garbage that is not deflate data")
    unfinished.write_bytes(complete[: len(complete) // 2])  # the gzip stream stops mid-way
    pipeline = clean_source(SOURCE)
    pipeline.run(player_logs_source(directory=str(logs)))

    bad = quarantined(ch, SOURCE)
    assert [(r[1], r[2].split(":")[0]) for r in bad] == [
        (corrupt.relative_to(logs).as_posix(), "file cannot be decompressed")
    ]
    rel = unfinished.relative_to(logs).as_posix()
    partial = rows(ch, f"SELECT count() FROM raw.{TABLE} WHERE source_file = {{f:String}}", f=rel)[0][0]
    lines = len(gzip.decompress(complete).splitlines())
    assert partial < lines

    unfinished.write_bytes(complete)  # the writer finished
    info = pipeline.run(player_logs_source(directory=str(logs)))
    assert loads(ch, SOURCE, info.loads_ids[0])[TABLE][0] == lines  # only this file was read again
    assert rows(ch, f"SELECT count() FROM raw.{TABLE} WHERE source_file = {{f:String}}", f=rel)[0][0] == lines
