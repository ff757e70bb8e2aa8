"""Content catalogue: every title of the CMS API lands typed; faults, re-runs and increments."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from urllib.parse import parse_qs

import pytest

from ingestion.content_catalog import content_catalog_source
from ingestion.errors import SourceConfigurationError
from ingestion.run import describe_error

from .platform_helpers import (
    clear_log,
    column_types,
    count,
    extended_world,
    faults,
    latest,
    loads,
    malformed_truth,
    malformed_world,
    quarantined,
    requests_log,
    rows,
    serve,
    table,
)

SOURCE = "content_catalog"
TABLE = "content_catalog__content"
TOKEN = "sandbox-content-token"


def source(url: str, **kwargs):
    kwargs.setdefault("backoff_factor", 0.2)
    return content_catalog_source(token=TOKEN, base_url=url, **kwargs)


def cost(value: float | None) -> Decimal | None:
    return None if value is None else Decimal(str(value)).quantize(Decimal("0.01"))


def naive(value: dt.datetime | None) -> dt.datetime | None:
    return value.replace(tzinfo=None) if value else None


def expected_rows(world) -> dict[int, tuple]:
    return {
        c["content_id"]: (
            c["content_type"],
            c["parent_id"],
            c["series_id"],
            c["season_number"],
            c["episode_number"],
            c["title"],
            json.dumps(c["genres"], ensure_ascii=False, separators=(",", ":")),
            c["duration_sec"],
            c["credits_start_sec"],
            c["is_original"],
            c["is_free"],
            cost(c["production_cost"]),
            cost(c["licence_cost"]),
            c["licence_start"],
            c["licence_end"],
            naive(c["updated_at"]),
        )
        for c in table(world, "content").to_pylist()
    }


COLUMNS = (
    "content_type, parent_id, series_id, season_number, episode_number, title, genres, duration_sec, "
    "credits_start_sec, is_original, is_free, production_cost, licence_cost, licence_start, licence_end, updated_at"
)


def test_every_title_lands_typed(ch, clean_source, sandbox, world_dir):
    clean_source(SOURCE).run(source(sandbox.urls["content"]))

    expected = expected_rows(world_dir)
    assert count(ch, TABLE) == len(expected)
    assert latest(ch, TABLE, "content_id", COLUMNS) == expected
    types = column_types(ch, TABLE)
    assert types["content_id"] == "Int64"
    assert types["updated_at"] == "DateTime64(3, 'UTC')"
    assert types["licence_cost"] == "Nullable(Decimal(18, 2))"
    assert types["licence_end"] == "Nullable(Date32)"
    assert types["genres"] == "Nullable(String)"
    assert types["content_type"] == "LowCardinality(Nullable(String))"
    genres = rows(
        ch,
        f"SELECT JSONExtract(assumeNotNull(genres), 'Array(String)') FROM raw.{TABLE} WHERE genres IS NOT NULL LIMIT 1",
    )
    assert isinstance(genres[0][0], list) and genres[0][0]
    assert quarantined(ch, SOURCE) == []


def test_faults_are_recovered_and_bad_items_quarantined(ch, clean_source, sandbox, world_dir):
    url = sandbox.urls["content"]
    faults(
        url,
        {"path": "^/api/v1/content$", "kind": "status", "status": 503},
        {"path": "^/api/v1/content$", "kind": "429", "retry_after": 1},
        {"path": "^/api/v1/content$", "kind": "truncate"},
        {"path": "^/api/v1/content$", "kind": "malformed", "rows": 2},
    )
    clear_log(url)
    try:
        clean_source(SOURCE).run(source(url, lookback_seconds=60))
    finally:
        faults(url)
    assert [r["fault"] for r in requests_log(url)][:4] == ["status", "429", "truncate", "malformed"]

    bad = quarantined(ch, SOURCE)
    assert len(bad) == 2
    assert all(r[2] == "content_id is not an integer: '###corrupted###'" for r in bad)
    assert all(" item " in r[1] and "/api/v1/content" in r[1] for r in bad)
    # the rest of the catalogue loads: everything but the two items damaged in transit
    expected = expected_rows(world_dir)
    got = latest(ch, TABLE, "content_id", COLUMNS)
    assert len(got) == len(expected) - 2
    assert all(expected[k] == v for k, v in got.items())


def test_rerun_adds_nothing_and_increment_reads_only_new_updates(
    ch, clean_source, sandbox, world_dir, world_config
):
    pipeline = clean_source(SOURCE)
    pipeline.run(source(sandbox.urls["content"]))
    before = count(ch, TABLE)
    info = pipeline.run(source(sandbox.urls["content"]))
    assert count(ch, TABLE) == before
    assert all(i == 0 for t, (_, i) in loads(ch, SOURCE, info.loads_ids[0]).items() if t == TABLE)

    newest = max(naive(u) for u in table(world_dir, "content")["updated_at"].to_pylist())
    later = extended_world(world_config)
    with serve(later, "content") as sb:
        pipeline.run(source(sb.urls["content"]))
        log = requests_log(sb.urls["content"])
    since = {parse_qs(r["query"])["updated_since"][0] for r in log}
    assert since == {(newest - dt.timedelta(hours=1)).isoformat(timespec="milliseconds") + "Z"}
    assert latest(ch, TABLE, "content_id", COLUMNS) == expected_rows(later)


@pytest.mark.parametrize(
    ("kwargs", "key"),
    [
        ({"token": "wrong"}, "sources.content_catalog.token"),
        ({"suffix": "/cms"}, "sources.content_catalog.base_url"),
    ],
)
def test_permanent_errors_name_the_setting(clean_source, sandbox, kwargs, key):
    url = sandbox.urls["content"] + kwargs.get("suffix", "")
    with pytest.raises(Exception) as caught:
        clean_source(SOURCE).run(content_catalog_source(token=kwargs.get("token", TOKEN), base_url=url))
    assert key in describe_error(caught.value)
    error = caught.value
    while error is not None and not isinstance(error, SourceConfigurationError):
        error = getattr(error, "exception", None) or error.__cause__ or error.__context__
    assert isinstance(error, SourceConfigurationError)


def test_configured_through_the_environment(
    ch, clean_source, sandbox, world_dir, ch_settings, tmp_path, monkeypatch
):
    """The CLI's path: the registry builds the source, dlt reads its keys from the environment."""
    from ingestion.run import ingest

    clean_source(SOURCE)
    monkeypatch.setenv("SOURCES__CONTENT_CATALOG__BASE_URL", sandbox.urls["content"])
    monkeypatch.setenv("SOURCES__CONTENT_CATALOG__TOKEN", TOKEN)
    [run] = ingest(["content_catalog"], settings=ch_settings, pipelines_dir=tmp_path / "pipelines")
    assert run.status == "loaded", run.error
    assert count(ch, TABLE) == table(world_dir, "content").num_rows


def test_the_worlds_untypable_items_are_quarantined(ch, clean_source):
    world = malformed_world()
    truth = malformed_truth(world, "content")
    assert truth
    with serve(world, "content") as sb:
        clean_source(SOURCE).run(source(sb.urls["content"]))

    bad = quarantined(ch, SOURCE)
    assert [(r[1], r[2]) for r in bad] == [
        (f"content_id={t['key']}", "duration_sec is not an integer: 'abc'")
        for t in sorted(truth, key=lambda t: t["key"])
    ]
    assert latest(ch, TABLE, "content_id", COLUMNS) == expected_rows(world)
