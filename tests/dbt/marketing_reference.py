"""Independent pandas versions of the marketing marts' rules, for the marketing tests.

They follow the documented definitions (touchpoints = the person's sessions started within the
lookback window before the conversion; credits per model; refunds credited like their payment)
on frames read from staging and int_sessions, not the SQL's array logic.
"""

from __future__ import annotations

import pandas as pd

DAY_MS = 86_400_000
MODELS = ("first_touch", "last_touch", "last_non_direct", "linear", "position_based", "time_decay")

# The simulator's true channel names and the seed's channel names; listed explicitly so a
# rename on either side fails the test instead of silently comparing different things.
TRUTH_TO_SEED_CHANNEL = {
    "yandex_direct": "yandex_direct",
    "vk_ads": "vk_ads",
    "other_paid": "other_paid",
    "organic_search": "organic_search",
    "direct": "direct",
    "referral": "referral",
    "social": "social",
    "email": "email",
}

# Cost sources by network, mapped by hand (not through the seed) for the spend checks.
NETWORK_TO_CHANNEL = {"yandex_direct": "yandex_direct", "vk_ads": "vk_ads", "mytarget": "other_paid"}


def billing_conversions(payments: pd.DataFrame, refunds: pd.DataFrame) -> pd.DataFrame:
    """Customer charges and their refunds as conversions, straight from billing staging.

    `payments`: payment_id, user_id, created_ms, amount, is_succeeded, is_test, payment_kind.
    `refunds`: refund_id, payment_id, created_ms, amount, is_succeeded.
    Returns conversion_id, person_id, conversion_ms, anchor_ms (the window's end: the payment's
    time, also for its refunds), value and is_first_payment.
    """
    paid = payments[payments.is_succeeded & ~payments.is_test & payments.user_id.notna()].copy()
    paid["person_id"] = "u" + paid.user_id.astype(str)
    charges = paid[paid.payment_kind != "trial"].sort_values(["user_id", "created_ms", "payment_id"])
    first_ids = set(charges.groupby("user_id").payment_id.first())
    charge_rows = pd.DataFrame(
        {
            "conversion_id": "billing:payment:" + paid.payment_id,
            "person_id": paid.person_id,
            "conversion_ms": paid.created_ms,
            "anchor_ms": paid.created_ms,
            "value": paid.amount.astype(float),
            "is_first_payment": paid.payment_id.isin(first_ids),
        }
    )
    done = refunds[refunds.is_succeeded].merge(
        paid[["payment_id", "person_id", "created_ms"]], on="payment_id", suffixes=("", "_payment")
    )
    refund_rows = pd.DataFrame(
        {
            "conversion_id": "billing:refund:" + done.refund_id,
            "person_id": done.person_id,
            "conversion_ms": done.created_ms,
            "anchor_ms": done.created_ms_payment,
            "value": -done.amount.astype(float),
            "is_first_payment": False,
        }
    )
    return pd.concat([charge_rows, refund_rows], ignore_index=True)


def attribute(
    conversions: pd.DataFrame, sessions: pd.DataFrame, lookback_days: int = 30, half_life_days: float = 7
) -> pd.DataFrame:
    """Credits of every conversion's touchpoints under every model.

    `conversions`: conversion_id, person_id, anchor_ms. `sessions`: session_id, person_id,
    started_ms, channel. Returns conversion_id, attribution_model, session_id (None for the
    synthetic touchpoint), channel, credit.
    """
    touches = conversions[["conversion_id", "person_id", "anchor_ms"]].merge(sessions, on="person_id")
    in_window = (touches.started_ms <= touches.anchor_ms) & (
        touches.started_ms >= touches.anchor_ms - lookback_days * DAY_MS
    )
    touches = touches[in_window].sort_values(["conversion_id", "started_ms", "session_id"]).copy()
    touches["position"] = touches.groupby("conversion_id").cumcount() + 1
    touches["n"] = touches.groupby("conversion_id").position.transform("max")
    non_direct = touches[touches.channel != "direct"].groupby("conversion_id").position.max()
    touches["last_non_direct"] = touches.conversion_id.map(non_direct).fillna(touches.n)
    weight = 2.0 ** (-(touches.anchor_ms - touches.started_ms) / DAY_MS / half_life_days)
    touches["weight"] = weight
    credits = {
        "first_touch": (touches.position == 1).astype(float),
        "last_touch": (touches.position == touches.n).astype(float),
        "last_non_direct": (touches.position == touches.last_non_direct).astype(float),
        "linear": 1.0 / touches.n,
        "position_based": touches.apply(_position_based, axis=1),
        "time_decay": touches.weight / touches.groupby("conversion_id").weight.transform("sum"),
    }
    frames = [
        touches[["conversion_id", "session_id", "channel"]].assign(
            attribution_model=m, credit=credits[m].values
        )
        for m in MODELS
    ]
    missing = conversions[~conversions.conversion_id.isin(touches.conversion_id)]
    frames += [
        pd.DataFrame(
            {"conversion_id": missing.conversion_id, "session_id": None, "channel": "direct"}
        ).assign(attribution_model=m, credit=1.0)
        for m in MODELS
    ]
    return pd.concat(frames, ignore_index=True)


def _position_based(row: pd.Series) -> float:
    if row.n == 1:
        return 1.0
    if row.n == 2:
        return 0.5
    return 0.4 if row.position in (1, row.n) else 0.2 / (row.n - 2)
