"""The population: who arrives when, through which channel, with which devices and traits.

Drawn day by day (one stream per arrival day, vectorised over that day's arrivals), so day ``d``
always yields the same people whatever the length of the window. User ids are assigned in order of
registration time, which keeps them stable too: everyone registering before an old horizon
registers before anyone registering after it.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from simulator.config import DAY_MS, WorldConfig
from simulator.rng import hex_from, key_hash, np_rng
from simulator.world.campaigns import Marketing
from simulator.world.reference import CHANNELS, CITIES, GENRES, PAID_CHANNELS, PLAN_WEIGHTS

# Arrival hour weights (UTC). Evening in Moscow (UTC+3) is the peak; nothing after 22:00 UTC so
# a first session has room to finish before midnight UTC (sessions never cross a day boundary).
HOUR_WEIGHTS = np.array(
    [2, 1, 1, 1, 2, 3, 4, 5, 5, 5, 5, 6, 6, 6, 7, 8, 9, 10, 10, 9, 7, 5, 0, 0], dtype=float
)
HOUR_WEIGHTS /= HOUR_WEIGHTS.sum()

PLATFORM_WEB, PLATFORM_ANDROID, PLATFORM_IOS = 0, 1, 2


@dataclasses.dataclass
class Population:
    """Columnar people table; row ``i`` is person ``i + 1``."""

    cols: dict[str, np.ndarray]

    def __len__(self) -> int:
        return len(self.cols["person_id"])

    def __getitem__(self, name: str) -> np.ndarray:
        return self.cols[name]


def build_population(cfg: WorldConfig, mk: Marketing) -> Population:
    parts: list[dict[str, np.ndarray]] = []
    n_channels = len(CHANNELS)
    ch_share = np.array([c.share for c in CHANNELS])
    ch_share /= ch_share.sum()
    city_w = np.array([c.weight for c in CITIES])
    city_w /= city_w.sum()
    for day in range(cfg.first_day, cfg.days):
        lo, hi = cfg.arrivals_before_day(day), cfg.arrivals_before_day(day + 1)
        n = hi - lo
        if n <= 0:
            continue
        rng = np_rng(cfg.seed, "arrivals", day + 1_000_000)  # SeedSequence keys must be >= 0
        p: dict[str, np.ndarray] = {}
        p["person_id"] = np.arange(lo + 1, hi + 1, dtype=np.int64)
        hours = rng.choice(24, size=n, p=HOUR_WEIGHTS)
        secs = hours * 3600 + rng.integers(0, 3600, size=n)
        p["arrival_ms"] = cfg.start_ms + day * DAY_MS + secs * 1000 + rng.integers(0, 1000, size=n)
        p["arrival_day"] = np.full(n, day, dtype=np.int32)
        channel = rng.choice(n_channels, size=n, p=ch_share)
        p["channel"] = channel.astype(np.int8)
        web_share = np.array([c.web_share for c in CHANNELS])[channel]
        app_u = rng.random(n)
        os_u = rng.random(n)
        p["acq_platform"] = np.where(
            app_u < web_share, PLATFORM_WEB, np.where(os_u < 0.72, PLATFORM_ANDROID, PLATFORM_IOS)
        ).astype(np.int8)
        # Which touch brought them: campaign ad for paid channels, engine/network/site/newsletter otherwise.
        touch_u = rng.random(n)
        touch = np.zeros(n, dtype=np.int32)
        campaign = np.zeros(n, dtype=np.int64)
        for i in range(n):
            name = CHANNELS[channel[i]].name
            if name in PAID_CHANNELS:
                active = mk.active_campaigns(name, day)
                camp = active[int(touch_u[i] * len(active))]
                ad = int(touch_u[i] * len(active) * 3) % 3
                touch[i] = camp.touch_ids[ad]
                campaign[i] = camp.campaign_id
            elif name == "organic_search":
                touch[i] = mk.organic_touches[0 if touch_u[i] < 0.72 else 1]
            elif name == "social":
                touch[i] = mk.social_touches[int(touch_u[i] * len(mk.social_touches))]
            elif name == "referral":
                touch[i] = mk.referral_touches[int(touch_u[i] * len(mk.referral_touches))]
            elif name == "email":
                touch[i] = mk.email_touches[int(touch_u[i] * len(mk.email_touches))]
            else:
                touch[i] = 0
        p["touch_id"] = touch
        p["campaign_id"] = campaign
        yclid_raw = rng.integers(1, 2**62, size=n, dtype=np.int64)
        is_direct = channel == 0
        p["yclid"] = np.where(is_direct & (p["acq_platform"] == PLATFORM_WEB), yclid_raw, 0).astype(np.int64)
        p["birth_year"] = np.clip(np.round(rng.normal(1989, 11, size=n)), 1950, 2010).astype(np.int32)
        p["gender"] = (rng.random(n) < 0.52).astype(np.int8)  # 1 = female
        p["city"] = rng.choice(len(CITIES), size=n, p=city_w).astype(np.int16)
        p["activity"] = np.exp(rng.normal(0.0, 0.45, size=n))
        p["bad_conn"] = rng.random(n) < 0.12
        p["fav_genre"] = rng.integers(0, len(GENRES), size=n).astype(np.int8)
        p["is_staff"] = rng.random(n) < 0.003
        p["has_web2"] = rng.random(n) < 0.25
        web_u = rng.random(n)
        p["has_web"] = (p["acq_platform"] == PLATFORM_WEB) | (web_u < 0.5)
        app_extra = rng.random(n)
        p["app_os"] = np.where(
            p["acq_platform"] != PLATFORM_WEB,
            p["acq_platform"],
            np.where(app_extra < 0.25, PLATFORM_ANDROID, np.where(app_extra < 0.35, PLATFORM_IOS, 0)),
        ).astype(np.int8)
        p["has_tv"] = rng.random(n) < 0.3
        p_reg = np.array([c.p_register for c in CHANNELS])[channel]
        reg_u = rng.random(n)
        will_register = (reg_u < p_reg) | p["is_staff"]
        same_session = rng.random(n) < 0.6
        delay_ms = np.where(
            same_session,
            rng.integers(90, 1500, size=n) * 1000,
            (rng.exponential(3.0, size=n) * DAY_MS).astype(np.int64) + 3_600_000,
        )
        reg = p["arrival_ms"] + delay_ms
        # A later-day registration happens in its own session; keep it clear of midnight UTC
        # because sessions never cross a day boundary.
        tod = (reg - cfg.start_ms) % DAY_MS
        late = tod > 23 * 3_600_000
        reg = np.where(late & ~same_session, reg - tod + DAY_MS + 8 * 3_600_000, reg)
        p["reg_ms"] = np.where(will_register, reg, -1).astype(np.int64)
        p["reg_same_session"] = same_session & will_register
        p["plan"] = rng.choice(len(PLAN_WEIGHTS), size=n, p=np.array(PLAN_WEIGHTS)).astype(np.int8)
        p["trial_u"] = rng.random(n)
        p["card_fail"] = np.clip(rng.beta(1.5, 10.0, size=n), 0.0, 0.6)  # chance an autopayment is declined
        share_u = rng.random(n)
        back = rng.geometric(0.05, size=n)
        partner = p["person_id"] - back
        p["partner_id"] = np.where((share_u < cfg.shared_device_share) & (partner >= 1), partner, -1).astype(
            np.int64
        )
        upd_u = rng.random(n)
        p["profile_update_ms"] = np.where(
            (upd_u < 0.15) & will_register,
            p["reg_ms"] + (rng.exponential(10.0, size=n) * DAY_MS).astype(np.int64),
            -1,
        ).astype(np.int64)
        p["moved_city"] = rng.choice(len(CITIES), size=n, p=city_w).astype(np.int16)
        parts.append(p)
    cols = {k: np.concatenate([part[k] for part in parts]) for k in parts[0]}
    cols["user_id"] = _assign_user_ids(cols["reg_ms"], cols["person_id"], cfg.now_ms)
    return Population(cols)


def _assign_user_ids(reg_ms: np.ndarray, person_id: np.ndarray, now_ms: int) -> np.ndarray:
    """Auth-service user ids: 100001, 100002, ... in order of registration time (ties by person)."""
    registered = (reg_ms >= 0) & (reg_ms < now_ms)
    order = np.lexsort((person_id[registered], reg_ms[registered]))
    user_id = np.full(len(reg_ms), -1, dtype=np.int64)
    idx = np.flatnonzero(registered)[order]
    user_id[idx] = 100_001 + np.arange(len(idx), dtype=np.int64)
    return user_id


# ---- device identifiers (pure functions of seed and person, so any chunk can compute any id) ----


def metrica_client_id(seed: int, person_id: int, k: int, arrival_ms: int) -> int:
    """Yandex Metrica ClientID (UInt64): mostly "<first visit unix ts><9 digits>", some > 2^63."""
    h = key_hash(seed, "clientid", person_id, k)
    if h % 10 == 0:
        return (1 << 63) | (h >> 1)
    if h % 97 == 1:
        return 100_000_000_000 + h % 900_000_000_000  # short ids exist in real data
    return (arrival_ms // 1000 + k * 86_400) * 1_000_000_000 + h % 1_000_000_000


def appmetrica_device_id(seed: int, person_id: int) -> int:
    return key_hash(seed, "appmetrica_device_id", person_id) | (1 << 40)


def installation_id(seed: int, person_id: int, n: int) -> str:
    return hex_from(32, seed, "installation", person_id, n)


def tv_device_id(seed: int, person_id: int) -> str:
    return "tv-" + hex_from(16, seed, "tv", person_id)


def email_hash(seed: int, person_id: int) -> str:
    return hex_from(64, seed, "email", person_id)
