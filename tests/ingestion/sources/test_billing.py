"""Billing: YooKassa payments and refunds and the merchant's subscription states over real HTTP."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from urllib.parse import parse_qs

import pytest

from ingestion.billing import billing_source
from ingestion.errors import SourceConfigurationError
from ingestion.run import describe_error

from .platform_helpers import (
    clear_log,
    column_types,
    count,
    docs,
    extended_world,
    faults,
    latest,
    loads,
    malformed_truth,
    malformed_world,
    quarantined,
    refund_world,
    requests_log,
    rows,
    serve,
    table,
)

SOURCE = "billing"


def source(url: str, world: Path, **kwargs):
    """The source against a sandbox, reading back to the world's first day."""
    data_start = dt.date.fromisoformat(json.loads((world / "world.json").read_text())["data_start"][:10])
    kwargs.setdefault("history_days", (dt.date.today() - data_start).days + 2)
    kwargs.setdefault("backoff_factor", 0.2)
    return billing_source(shop_id="123456", secret_key="sandbox-secret-key", base_url=url, **kwargs)


def iso(text: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).replace(tzinfo=None) if text else None


def money(amount: dict | None) -> Decimal | None:
    return Decimal(amount["value"]) if amount else None


def test_every_object_lands_typed(ch, clean_source):
    world = refund_world()
    payments, refunds = docs(world, "payments"), docs(world, "refunds")
    subscriptions = table(world, "billing_subscriptions").to_pylist()
    assert refunds, "the refund world must hold refunds"
    with serve(world, "billing") as sb:
        clean_source(SOURCE).run(source(sb.urls["billing"], world))

    got = {
        r[0]: r[1:]
        for r in rows(
            ch,
            "SELECT id, status, amount_value, amount_currency, income_amount_value, refunded_amount_value, "
            "paid, refundable, test, created_at, captured_at, payment_method_type, payment_method_id, "
            "payment_method_saved, card_last4, cancellation_reason, metadata_user_id, metadata_subscription_id, "
            "metadata_plan_id, metadata_kind, raw FROM raw.billing__payments",
        )
    }
    assert len(got) == count(ch, "billing__payments") == len(payments)
    for doc in payments:
        method = doc.get("payment_method") or {}
        meta = doc["metadata"]
        assert got[doc["id"]] == (
            doc["status"],
            money(doc["amount"]),
            doc["amount"]["currency"],
            money(doc.get("income_amount")),
            money(doc.get("refunded_amount")),
            doc["paid"],
            doc["refundable"],
            doc["test"],
            iso(doc["created_at"]),
            iso(doc.get("captured_at")),
            method.get("type"),
            method.get("id"),
            method.get("saved"),
            (method.get("card") or {}).get("last4"),
            (doc.get("cancellation_details") or {}).get("reason"),
            meta["user_id"],
            meta["subscription_id"],
            meta["plan_id"],
            meta["kind"],
            json.dumps(doc, ensure_ascii=False, separators=(",", ":")),
        ), doc["id"]
    assert any(r[7] for r in got.values()), "staff test payments are kept (analytics excludes them)"

    got_refunds = {
        r[0]: r[1:]
        for r in rows(ch, "SELECT id, payment_id, status, amount_value, created_at FROM raw.billing__refunds")
    }
    assert got_refunds == {
        d["id"]: (d["payment_id"], d["status"], money(d["amount"]), iso(d["created_at"])) for d in refunds
    }

    got_subs = latest(
        ch, "billing__subscriptions", "subscription_id", "user_id, plan_id, status, updated_at, ended_at"
    )
    assert got_subs == {
        s["subscription_id"]: (
            s["user_id"],
            s["plan_id"],
            s["status"],
            s["updated_at"].replace(tzinfo=None),
            s["ended_at"] and s["ended_at"].replace(tzinfo=None),
        )
        for s in subscriptions
    }

    types = column_types(ch, "billing__payments")
    assert types["id"] == "String"
    assert types["amount_value"] == "Nullable(Decimal(18, 2))"
    assert types["created_at"] == "DateTime64(3, 'UTC')"
    assert types["test"] == "Nullable(Bool)"
    assert types["status"] == "LowCardinality(String)"
    assert column_types(ch, "billing__refunds")["amount_value"] == "Nullable(Decimal(18, 2))"
    assert column_types(ch, "billing__subscriptions")["user_id"] == "Nullable(Int64)"
    assert quarantined(ch, SOURCE) == []


def test_faults_are_recovered_and_bad_objects_quarantined(ch, clean_source, sandbox, world_dir):
    url = sandbox.urls["billing"]
    payments = docs(world_dir, "payments")
    faults(
        url,
        {"path": "^/v3/payments$", "kind": "status", "status": 503},
        {"path": "^/v3/payments$", "kind": "429", "retry_after": 1},
        {"path": "^/v3/payments$", "kind": "truncate"},
        {"path": "^/v3/payments$", "kind": "malformed", "rows": 2},
        {"path": "^/merchant/v1/subscriptions$", "kind": "status", "status": 502},
    )
    clear_log(url)
    try:
        pipeline = clean_source(SOURCE)
        pipeline.run(source(url, world_dir))
    finally:
        faults(url)
    log = requests_log(url)
    assert {r["fault"] for r in log} >= {"status", "429", "truncate", "malformed"}

    bad = quarantined(ch, SOURCE)
    assert len(bad) == 2
    assert all(r[0] == "payments" and r[2].startswith("amount is not an amount object") for r in bad)
    assert all(r[1].startswith("/v3/payments id=") and '"###corrupted###"' in r[3] for r in bad)
    bad_ids = {r[1].split("id=")[1] for r in bad}
    loaded = {r[0] for r in rows(ch, "SELECT id FROM raw.billing__payments")}
    assert loaded == {d["id"] for d in payments} - bad_ids
    assert count(ch, "billing__subscriptions") == table(world_dir, "billing_subscriptions").num_rows

    # the objects damaged in transit come back with a backfill of their days
    days = sorted(dt.date.fromisoformat(d["created_at"][:10]) for d in payments if d["id"] in bad_ids)
    pipeline.run(source(url, world_dir, start_date=days[0], end_date=days[-1]))
    assert {r[0] for r in rows(ch, "SELECT id FROM raw.billing__payments")} == {d["id"] for d in payments}


def test_rerun_reads_the_lookback_only_and_adds_nothing(ch, clean_source, sandbox, world_dir):
    url = sandbox.urls["billing"]
    pipeline = clean_source(SOURCE)
    pipeline.run(source(url, world_dir))
    before = {t: count(ch, f"billing__{t}") for t in ("payments", "subscriptions")}
    newest = max(iso(d["created_at"]) for d in docs(world_dir, "payments"))

    clear_log(url)
    info = pipeline.run(source(url, world_dir))
    assert {t: count(ch, f"billing__{t}") for t in before} == before
    journal = loads(ch, SOURCE, info.loads_ids[0])
    assert journal["billing__payments"][0] > 0  # the lookback was read again…
    assert all(
        inserted == 0 for t, (_, inserted) in journal.items() if t.startswith("billing__")
    )  # …unchanged
    lowers = [
        iso(parse_qs(r["query"])["created_at.gte"][0])
        for r in requests_log(url)
        if r["path"] == "/v3/payments"
    ]
    assert min(lowers) == newest - dt.timedelta(days=7)  # the lookback, not the whole history


def test_extended_world_fetches_only_new_data(ch, clean_source, sandbox, world_dir, world_config):
    pipeline = clean_source(SOURCE)
    pipeline.run(source(sandbox.urls["billing"], world_dir))
    old_newest = max(iso(d["created_at"]) for d in docs(world_dir, "payments"))
    old_updated = max(
        s.replace(tzinfo=None) for s in table(world_dir, "billing_subscriptions")["updated_at"].to_pylist()
    )

    later = extended_world(world_config)
    with serve(later, "billing") as sb:
        url = sb.urls["billing"]
        pipeline.run(source(url, later))
        log = requests_log(url)

    payments_since = {
        iso(parse_qs(r["query"])["created_at.gte"][0]) for r in log if r["path"] == "/v3/payments"
    }
    assert min(payments_since) == old_newest - dt.timedelta(days=7)
    subs_since = [
        iso(parse_qs(r["query"])["updated_at.gte"][0]) for r in log if r["path"].endswith("subscriptions")
    ]
    assert subs_since == [old_updated - dt.timedelta(hours=1)]

    payments = docs(later, "payments")
    got = latest(ch, "billing__payments", "id", "status, refundable, refunded_amount_value")
    assert got == {d["id"]: (d["status"], d["refundable"], money(d.get("refunded_amount"))) for d in payments}
    subs = latest(ch, "billing__subscriptions", "subscription_id", "status, updated_at")
    assert subs == {
        s["subscription_id"]: (s["status"], s["updated_at"].replace(tzinfo=None))
        for s in table(later, "billing_subscriptions").to_pylist()
    }


@pytest.mark.parametrize(
    ("change", "key"),
    [
        ({"secret_key": "wrong-key"}, "sources.billing.secret_key"),
        ({"base_url_suffix": "/not-yookassa"}, "sources.billing.base_url"),
    ],
)
def test_permanent_errors_name_the_setting(clean_source, sandbox, world_dir, change, key):
    url = sandbox.urls["billing"] + change.pop("base_url_suffix", "")
    with pytest.raises(Exception) as caught:
        clean_source(SOURCE).run(
            billing_source(
                shop_id="123456",
                secret_key=change.get("secret_key", "sandbox-secret-key"),
                base_url=url,
                history_days=30,
            )
        )
    message = describe_error(caught.value)
    assert message.startswith("billing: ") and key in message
    error = caught.value
    while error is not None and not isinstance(error, SourceConfigurationError):
        error = getattr(error, "exception", None) or error.__cause__ or error.__context__
    assert isinstance(error, SourceConfigurationError)


def test_configured_through_the_environment(
    ch, clean_source, sandbox, world_dir, ch_settings, tmp_path, monkeypatch
):
    """The CLI's path: the registry builds the source, dlt reads keys from SOURCES__BILLING__*."""
    from ingestion.run import ingest

    clean_source(SOURCE)
    data_start = dt.date.fromisoformat(json.loads((world_dir / "world.json").read_text())["data_start"][:10])
    monkeypatch.setenv("SOURCES__BILLING__BASE_URL", sandbox.urls["billing"])
    monkeypatch.setenv("SOURCES__BILLING__SHOP_ID", "123456")
    monkeypatch.setenv("SOURCES__BILLING__SECRET_KEY", "sandbox-secret-key")
    monkeypatch.setenv("SOURCES__BILLING__HISTORY_DAYS", str((dt.date.today() - data_start).days + 2))
    [run] = ingest(["billing"], settings=ch_settings, pipelines_dir=tmp_path / "pipelines")
    assert run.status == "loaded", run.error
    assert count(ch, "billing__payments") == len(docs(world_dir, "payments"))

    monkeypatch.setenv("SOURCES__BILLING__SECRET_KEY", "wrong")
    [run] = ingest(["billing"], settings=ch_settings, pipelines_dir=tmp_path / "pipelines")
    assert run.status == "failed" and "SOURCES__BILLING__SECRET_KEY" in run.error


def test_the_worlds_untypable_amounts_are_quarantined(ch, clean_source):
    world = malformed_world()
    truth = malformed_truth(world, "billing_payments")
    assert truth
    with serve(world, "billing") as sb:
        clean_source(SOURCE).run(source(sb.urls["billing"], world))

    bad = quarantined(ch, SOURCE)
    assert {r[1] for r in bad} == {f"/v3/payments id={t['key']}" for t in truth}
    assert {r[2] for r in bad} == {"amount.value is not a decimal string: 'abc'"}
    loaded = {r[0] for r in rows(ch, "SELECT id FROM raw.billing__payments")}
    assert loaded == {d["id"] for d in docs(world, "payments")}  # the good ones, all of them
