"""One person's life, day by day: sessions on web, app and TV, logins, subscriptions, payments, views.

Each person draws from their own keyed streams in chronological order, and every decision is taken
at the moment it takes effect (a cancellation is decided when it happens, not back-dated), so a
world cut at an earlier horizon is exactly a prefix of a longer one. Sessions never cross midnight
UTC, which keeps every day self-contained.
"""

from __future__ import annotations

import bisect
import datetime as dt
import hashlib
import heapq
import random
from typing import TYPE_CHECKING

import orjson

from simulator.config import DAY_MS
from simulator.rng import hex_from, key_hash, py_rng, uuid_from
from simulator.world import population as popmod
from simulator.world.campaigns import landing_url
from simulator.world.player import simulate_view, union_length
from simulator.world.reference import (
    ANDROID_MODELS,
    APP_PACKAGE,
    APP_SCREENS,
    APP_VERSIONS,
    BROWSERS,
    CANCEL_REASONS,
    CHANNELS,
    CITIES,
    DECLINE_REASONS,
    GENRES,
    GOAL_PAYMENT,
    GOAL_REGISTRATION,
    GOAL_TRIAL_START,
    IOS_MODELS,
    NETWORKS,
    OPERATORS,
    PAID_CHANNELS,
    PLANS,
    RETRY_DELAYS_DAYS,
    SITE,
    TRIAL_PRICE,
    TV_MODELS,
)

if TYPE_CHECKING:
    from simulator.world.chunk import ChunkSim

HOUR = 3_600_000
MINUTE = 60_000
WEB, ANDROID, IOS, TV = "web", "android", "ios", "smart_tv"
# Session start hour weights (UTC): Moscow evening peak; nothing starts after 22:00 UTC.
_SESSION_HOURS = [0, 0, 0, 0, 1, 2, 3, 4, 5, 5, 5, 6, 6, 6, 7, 8, 10, 12, 12, 10, 7, 4, 0, 0]
_SESSION_HOURS_CUM = [sum(_SESSION_HOURS[: i + 1]) for i in range(24)]


_PUBLISHER_IDS = {"Yandex.Direct": "1000", "VK Ads": "1001", "myTarget": "1002"}


def counter_user_id_hash(user_id: int) -> int:
    """What Metrica reports as ``counterUserIDHash`` for a site-provided UserID (an opaque UInt64)."""
    return int.from_bytes(
        hashlib.blake2b(str(user_id).encode(), digest_size=8, person=b"ym-uid").digest(), "little"
    )


def _wchoice(r: random.Random, items: tuple, weight_index: int = 1):
    total = sum(x[weight_index] for x in items)
    u = r.random() * total
    for x in items:
        u -= x[weight_index]
        if u < 0:
            return x
    return items[-1]


def iso_ms(ms: int) -> str:
    """ISO-8601 UTC with milliseconds and Z, as YooKassa renders times."""
    s, milli = divmod(ms, 1000)
    d = dt.datetime.fromtimestamp(s, dt.UTC)
    return d.strftime("%Y-%m-%dT%H:%M:%S") + f".{milli:03d}Z"


class Device:
    """A browser, app install or TV; may belong to another household member (shared)."""

    __slots__ = (
        "kind",
        "id",
        "owner",
        "first_use_ms",
        "logged_user",
        "logged_until",
        "first_touch",
        "last_sig_touch",
        "visits",
        "category",
        "browser",
        "os",
        "ip",
        "installed",
        "install_n",
        "installation_id",
        "fields",
        "sessions",
        "shared",
        "model",
    )

    def __init__(self, kind: str, dev_id: str, owner: int, shared: bool) -> None:
        self.kind = kind
        self.id = dev_id
        self.owner = owner
        self.shared = shared
        self.first_use_ms = -1
        self.logged_user = -1
        self.logged_until = -1
        self.first_touch = -1
        self.last_sig_touch = -1
        self.visits = 0
        self.installed = False
        self.install_n = 0
        self.installation_id = ""
        self.sessions = 0
        self.fields: dict[str, str] = {}


class Subscription:
    __slots__ = (
        "sid",
        "plan",
        "status",
        "started_ms",
        "trial_end_ms",
        "period_start",
        "period_end",
        "cancelled_ms",
        "cancel_reason",
        "ended_ms",
        "updated_ms",
        "churn_type",
        "first_kind",
        "pm",
        "had_trial",
        "converted",
        "fail_base",
        "ok",
        "failed",
        "gross",
        "refunded",
        "created_ms",
        "retry_kind",
    )

    def __init__(self, sid: str, plan: int, t: int, first_kind: str, pm: dict) -> None:
        self.sid = sid
        self.plan = plan
        self.status = "trial" if first_kind == "trial" else "active"
        self.started_ms = t
        self.created_ms = t
        self.trial_end_ms: int | None = None
        self.period_start: int | None = None
        self.period_end: int | None = None
        self.cancelled_ms: int | None = None
        self.cancel_reason: str | None = None
        self.ended_ms: int | None = None
        self.updated_ms = t
        self.churn_type: str | None = None
        self.first_kind = first_kind
        self.pm = pm
        self.had_trial = first_kind == "trial"
        self.converted: bool | None = None
        self.fail_base: int | None = None
        self.ok = 0
        self.failed = 0
        self.gross = 0.0
        self.refunded = 0.0
        self.retry_kind = "renewal"


class PersonSim:
    """Simulates person ``pid`` (1-based) from arrival to the horizon."""

    def __init__(self, chunk: ChunkSim, pid: int) -> None:
        self.c = chunk
        self.cfg = chunk.cfg
        self.pid = pid
        self.i = pid - 1
        pop = chunk.pop
        self.p = {k: pop[k][self.i] for k in pop.cols}
        self.seed = self.cfg.seed
        self.r = py_rng(self.seed, "life", pid)
        self.rb = py_rng(self.seed, "billing", pid)
        self.channel = CHANNELS[int(self.p["channel"])]
        self.city = CITIES[int(self.p["city"])]
        self.user_id = int(self.p["user_id"])
        self.reg_ms = int(self.p["reg_ms"])
        self.registered = False
        self.sub: Subscription | None = None
        self.subs: list[Subscription] = []
        self.heap: list[tuple[int, int, str, str]] = []
        self.seq = 0
        self.wants_subscribe = False
        self.ever_trial = False
        self.watch_log: list[tuple[int, int]] = []  # (day, seconds played)
        self.period_played = 0
        self.period_buffer = 0
        self.saver_watched = False
        self.resume: dict[int, int] = {}
        self.series_last: dict[int, int] = {}
        self.series_order: list[int] = []
        self.n_visits = 0
        self.n_views = 0
        self.n_logins = 0
        self.n_payments = 0
        self.n_subs = 0
        self.n_app_sessions = 0
        self.identity: set[tuple[str, str]] = set()
        self.active_days: set[tuple[int, str]] = set()
        self.payments: list[dict] = []
        self._pay_by_id: dict[str, dict] = {}
        self.cards: list[dict] = []
        self.devices = self._build_devices()

    # ------------------------------------------------------------------ devices
    def _build_devices(self) -> list[Device]:
        p = self.p
        pid, seed = self.pid, self.seed
        devs: list[Device] = []
        arrival = int(p["arrival_ms"])
        acq = int(p["acq_platform"])
        if acq == popmod.PLATFORM_WEB or p["has_web"]:
            devs.append(self._web_device(pid, 0, arrival, shared=False))
        if p["has_web2"] and devs:
            devs.append(self._web_device(pid, 1, arrival, shared=False))
        if int(p["app_os"]):
            devs.append(self._app_device(pid, int(p["app_os"]), shared=False))
        if acq != popmod.PLATFORM_WEB:
            # the app that brought them in is their first device
            devs.sort(key=lambda d: d.kind == WEB)
        if p["has_tv"]:
            devs.append(Device(TV, popmod.tv_device_id(seed, pid), pid, False))
            devs[-1].model = TV_MODELS[key_hash(seed, "tvmodel", pid) % len(TV_MODELS)]
        partner = int(p["partner_id"])
        self.partner_dev: Device | None = None
        self.partner_arrival = -1
        if partner > 0:
            j = partner - 1
            pop = self.c.pop
            p_arr = int(pop["arrival_ms"][j])
            if int(pop["acq_platform"][j]) == popmod.PLATFORM_WEB:
                d = self._web_device(partner, 0, p_arr, shared=True)
                d.first_touch = int(pop["touch_id"][j])
            else:
                d = self._app_device(partner, int(pop["acq_platform"][j]), shared=True)
                d.installed = True  # the partner installed it
                d.installation_id = popmod.installation_id(seed, partner, 0)
            d.visits = 1
            self.partner_dev = d
            self.partner_arrival = p_arr
        return devs

    def _web_device(self, owner: int, k: int, arrival: int, shared: bool) -> Device:
        seed = self.seed
        cid = popmod.metrica_client_id(seed, owner, k, arrival)
        d = Device(WEB, str(cid), owner, shared)
        h = key_hash(seed, "webdev", owner, k)
        cat_u = (h % 1000) / 1000
        d.category = 1 if cat_u < 0.6 else (2 if cat_u < 0.95 else 3)
        d.browser = BROWSERS[(h >> 10) % len(BROWSERS)][0]
        if d.category == 1:
            d.os = ("windows", "macos", "linux")[(h >> 20) % 3] if d.browser != "safari" else "macos"
        else:
            d.os = "ios" if d.browser == "safari" else "android"
        city = CITIES[int(self.c.pop["city"][owner - 1])]
        d.ip = f"{city.ip_prefix}.{(h >> 30) % 256}.{(h >> 38) % 256}"
        return d

    def _app_device(self, owner: int, os_code: int, shared: bool) -> Device:
        seed = self.seed
        dev_id = popmod.appmetrica_device_id(seed, owner)
        kind = ANDROID if os_code == popmod.PLATFORM_ANDROID else IOS
        d = Device(kind, str(dev_id), owner, shared)
        h = key_hash(seed, "appdev", owner)
        city = CITIES[int(self.c.pop["city"][owner - 1])]
        d.ip = f"{city.ip_prefix}.{(h >> 30) % 256}.{(h >> 38) % 256}"
        manu, model = (ANDROID_MODELS if kind == ANDROID else IOS_MODELS)[h % (7 if kind == ANDROID else 5)]
        d.model = model
        ver, build = APP_VERSIONS[(h >> 8) % len(APP_VERSIONS)]
        zero_ifa = kind == IOS and (h >> 16) % 4 == 0  # limited ad tracking
        d.fields = {
            "city": city.name_en,
            "country_iso_code": "RU",
            "device_locale": "ru_RU",
            "device_manufacturer": manu,
            "device_model": model,
            "device_type": "tablet" if "iPad" in model else "phone",
            "google_aid": uuid_from(seed, "gaid", owner) if kind == ANDROID else "",
            "ios_ifa": ("00000000-0000-0000-0000-000000000000" if zero_ifa else uuid_from(seed, "ifa", owner))
            if kind == IOS
            else "",
            "ios_ifv": uuid_from(seed, "ifv", owner).upper() if kind == IOS else "",
            "mcc": "250",
            "mnc": OPERATORS[(h >> 12) % 4][1],
            "operator_name": OPERATORS[(h >> 12) % 4][0],
            "original_device_model": model.replace(" ", "_"),
            "os_name": kind,
            "os_version": ("13", "14", "15")[(h >> 20) % 3]
            if kind == ANDROID
            else ("16.7", "17.5", "18.1")[(h >> 20) % 3],
            "windows_aid": "",
            "app_build_number": build,
            "app_package_name": APP_PACKAGE,
            "app_version_name": ver,
        }
        return d

    # ------------------------------------------------------------------ helpers
    def push(self, t: int, kind: str, ref: str) -> None:
        self.seq += 1
        heapq.heappush(self.heap, (t, self.seq, kind, ref))

    def has_access(self, t: int) -> bool:
        s = self.sub
        if s is None:
            return False
        if s.status in ("trial", "active", "past_due"):
            return True
        return s.status == "cancelled" and s.ended_ms is not None and t < s.ended_ms

    def _use(self, dev: Device, t: int, platform: str) -> None:
        if dev.first_use_ms < 0:
            dev.first_use_ms = t
        if dev.kind == WEB:
            self.identity.add(("metrica_client_id", dev.id))
        elif dev.kind in (ANDROID, IOS):
            self.identity.add(("appmetrica_device_id", dev.id))
            if dev.fields.get("google_aid"):
                self.identity.add(("google_aid", dev.fields["google_aid"]))
            ifa = dev.fields.get("ios_ifa", "")
            if ifa and not ifa.startswith("00000000"):
                self.identity.add(("ios_ifa", ifa))
        else:
            self.identity.add(("tv_device_id", dev.id))
        self.active_days.add(((t - self.cfg.start_ms) // DAY_MS, platform))

    def logged_in(self, dev: Device, t: int) -> bool:
        return self.registered and dev.logged_user == self.user_id and t < dev.logged_until

    def login(self, dev: Device, t: int, method: str) -> None:
        """An auth-service login from ``dev`` (the Metrica ClientID / AppMetrica device id / TV id)."""
        self.n_logins += 1
        lid = uuid_from(self.seed, "login", self.pid, self.n_logins)
        ua = self._user_agent(dev)
        self.c.logins.add(
            lid,
            self.user_id,
            t,
            {WEB: "web", ANDROID: "android", IOS: "ios", TV: "smart_tv"}[dev.kind],
            dev.id,
            method,
            dev.ip if dev.kind != TV else f"{self.city.ip_prefix}.7.1",
            ua,
            t,
            self.pid,
        )
        dev.logged_user = self.user_id
        dev.logged_until = t + 30 * DAY_MS

    def _user_agent(self, dev: Device) -> str:
        if dev.kind == WEB:
            return f"Mozilla/5.0 ({'Windows NT 10.0; Win64; x64' if dev.category == 1 else 'Linux; Android 14'}) {dev.browser}"
        if dev.kind == TV:
            return f"KinoTV/3.4 ({dev.model})"
        return f"KinoApp/{dev.fields['app_version_name']} ({dev.fields['os_name']} {dev.fields['os_version']}; {dev.model})"

    # ------------------------------------------------------------------ main loop
    def run(self) -> None:
        cfg = self.cfg
        p = self.p
        r = self.r
        arrival = int(p["arrival_ms"])
        a_day = int(p["arrival_day"])
        now = cfg.now_ms
        for day in range(a_day, cfg.days):
            d0 = cfg.start_ms + day * DAY_MS
            d1 = d0 + DAY_MS
            sessions: list[tuple[int, int, str]] = []  # (start, order, purpose)
            if day == a_day:
                sessions.append((arrival, 0, "arrival"))
            if d0 <= self.reg_ms < d1 and not (p["reg_same_session"]):
                sessions.append((self.reg_ms - (2 + r.randrange(5)) * MINUTE, 1, "register"))
            if self.reg_ms >= 0 and self.reg_ms < d0:
                self.registered = self.reg_ms < now
            # Ordinary return sessions.
            p_active = self._p_active(day, d0)
            if r.random() < p_active:
                n = 1 + (r.random() < 0.25) + (r.random() < 0.07)
                for _ in range(n):
                    u = r.random() * _SESSION_HOURS_CUM[-1]
                    hour = bisect.bisect_right(_SESSION_HOURS_CUM, u)
                    sessions.append((d0 + hour * HOUR + r.randrange(HOUR), 2, "return"))
            sessions.sort()
            busy_until = d0
            for start, _, purpose in sessions:
                self._run_billing(start)
                start = max(start, busy_until + 5 * MINUTE) if purpose == "return" else start
                if start > d1 - 40 * MINUTE:
                    continue
                busy_until = self._session(start, d1 - MINUTE, purpose, day)
            self._run_billing(d1)
            if self.p["is_staff"] and self.registered and self.sub is not None and r.random() < 0.4:
                self._test_payment(d0 + 10 * HOUR + r.randrange(6 * HOUR))
        self._finish()

    def _p_active(self, day: int, d0: int) -> float:
        a = float(self.p["activity"]) * self.channel.activity
        weekend = 1.2 if (d0 // DAY_MS + 3) % 7 >= 5 else 1.0  # 1970-01-01 was a Thursday
        if self.has_access(d0):
            # a cancelled subscription keeps access to the period end, but they come less often
            base = 0.06 if self.sub is not None and self.sub.status == "cancelled" else 0.15
        elif self.registered:
            base = 0.06 if self.subs else 0.1
        else:
            since = day - int(self.p["arrival_day"])
            base = 0.25 * (0.8**since) if since > 0 else 0.0
        return min(0.95, base * a * weekend)

    # ------------------------------------------------------------------ sessions
    def _pick_device(self, t: int, purpose: str) -> Device:
        r = self.r
        if purpose == "arrival" or purpose == "register":
            return self.devices[0] if self.devices else self.partner_dev  # type: ignore[return-value]
        if self.partner_dev is not None and t > self.partner_arrival and r.random() < 0.3:
            return self.partner_dev
        choices = [d for d in self.devices if d.kind != TV or self.has_access(t)]
        weights = [1.3 if d.kind in (ANDROID, IOS) else (1.6 if d.kind == TV else 1.0) for d in choices]
        u = r.random() * sum(weights)
        for d, w in zip(choices, weights, strict=True):
            u -= w
            if u < 0:
                return d
        return choices[-1]

    def _session(self, start: int, limit: int, purpose: str, day: int) -> int:
        dev = self._pick_device(start, purpose)
        if dev.kind == WEB:
            return self._web_session(dev, start, limit, purpose, day)
        if dev.kind == TV:
            return self._tv_session(dev, start, limit, day)
        return self._app_session(dev, start, limit, purpose, day)

    def _plan_actions(self, t: int, purpose: str) -> tuple[int, bool]:
        """(registration time or -1, whether to start a subscription in this session)."""
        reg_at = -1
        if (
            not self.registered
            and self.reg_ms >= 0
            and ((purpose == "arrival" and self.p["reg_same_session"]) or purpose == "register")
        ):
            reg_at = self.reg_ms
        subscribe = False
        if reg_at < 0 and self.registered and not self.has_access(t):
            subscribe = self.wants_subscribe or (not self.subs and self.r.random() < 0.05)
        return reg_at, subscribe

    def _register(self, dev: Device, t: int) -> bool:
        """Registration at ``t``; returns whether a trial/subscription starts right away."""
        self.registered = True
        self.identity.add(("user_id", str(self.user_id)))
        self.identity.add(("email_hash", popmod.email_hash(self.seed, self.pid)))
        self.login(dev, t, "signup")
        return self.p["trial_u"] < self.channel.p_trial

    def _web_session(self, dev: Device, start: int, limit: int, purpose: str, day: int) -> int:
        r = self.r
        c = self.c
        self._use(dev, start, WEB)
        self.n_visits += 1
        vid = key_hash(self.seed, "visit", self.pid, self.n_visits)
        touches = c.mk.touches
        if purpose == "arrival" and dev.owner == self.pid:
            touch = int(self.p["touch_id"])
            yclid = int(self.p["yclid"])
        else:
            touch = self._return_touch(day)
            yclid = 0
        if touches.kind[touch] in ("direct", "internal"):
            sig = dev.last_sig_touch if dev.last_sig_touch >= 0 else touch
        else:
            sig = touch
            dev.last_sig_touch = touch
        is_new = 1 if dev.visits == 0 else 0
        if dev.first_touch < 0:
            dev.first_touch = touch
        dev.visits += 1
        hits: list[tuple[int, str, str, list[int]]] = []  # (ts, url, title, goals)
        goals: list[tuple[int, int]] = []
        purchases: list[tuple[str, float]] = []
        t = start
        hits.append((t, landing_url(touches, touch, yclid), "Кино — фильмы и сериалы онлайн", []))
        for _ in range(r.randrange(3)):
            t += (15 + r.randrange(75)) * 1000
            g = GENRES[r.randrange(len(GENRES))]
            hits.append((t, f"{SITE}/catalog/{g}", f"Каталог: {g}", []))
        reg_at, subscribe = self._plan_actions(t, purpose)
        if reg_at >= 0:
            t = max(t + 20_000, reg_at - 30_000)
            hits.append((t, f"{SITE}/signup", "Регистрация", []))
            t = max(t + 5_000, reg_at)
            goals.append((t, GOAL_REGISTRATION))
            hits.append((t, f"{SITE}/signup/done", "Добро пожаловать", [GOAL_REGISTRATION]))
            subscribe = self._register(dev, t) or subscribe
        uid_hash = 0
        params_uid = ""
        wants_watch = r.random() < (0.55 if self.has_access(t) or subscribe else 0.12)
        if self.registered and not self.logged_in(dev, t) and (wants_watch or subscribe or r.random() < 0.5):
            t += (20 + r.randrange(40)) * 1000
            hits.append((t, f"{SITE}/login", "Вход", []))
            t += 15_000
            self.login(dev, t, "password")
        if subscribe:
            t += (20 + r.randrange(60)) * 1000
            hits.append((t, f"{SITE}/subscribe", "Оформление подписки", []))
            t += 40_000
            pay = self._start_subscription(t, WEB)
            if pay is not None:
                goal = GOAL_TRIAL_START if pay["metadata"]["kind"] == "trial" else GOAL_PAYMENT
                goals.append((t, goal))
                if pay["status"] == "succeeded":
                    purchases.append((pay["id"], float(pay["amount"]["value"])))
                hits.append((t, f"{SITE}/subscribe/success", "Подписка оформлена", [goal]))
        logged = self.logged_in(dev, t)
        if logged and r.random() < 0.7:  # the site sends the user id only on some visits
            uid_hash = counter_user_id_hash(self.user_id)
            params_uid = str(self.user_id)
            self.identity.add(("metrica_user_id_hash", str(uid_hash)))
        if wants_watch and (self.has_access(t) or not logged):
            t = self._watch_block(dev, t, limit, day, WEB, hits)
        t += (5 + r.randrange(40)) * 1000
        end = min(t, limit)
        referer = touches.referer[touch]
        watch_ids = []
        for k, (ts, url, title, hg) in enumerate(hits):
            wid = key_hash(self.seed, "hit", self.pid, self.n_visits, k)
            watch_ids.append(wid)
            c.hits.add(
                wid,
                key_hash(self.seed, "pv", self.pid, self.n_visits, k) >> 1,
                self.cfg.counter_id,
                int(dev.id),
                uid_hash,
                ts,
                title,
                url,
                referer if k == 0 else hits[k - 1][1],
                touch,
                1,
                1 if len(hits) > 1 else 0,
                hg,
                dev.category,
                dev.os,
                dev.browser,
                _mask_ip(dev.ip),
                self.city.name_en,
                self.city.region_id,
                params_uid,
                vid,
                self.pid,
            )
        duration = (end - start) // 1000
        c.visits.add(
            vid,
            self.cfg.counter_id,
            watch_ids,
            start,
            is_new,
            hits[0][1],
            hits[-1][1],
            len(hits),
            duration,
            1 if len(hits) == 1 and duration < 15 else 0,
            _mask_ip(dev.ip),
            self.city.name_en,
            self.city.region_id,
            int(dev.id),
            uid_hash,
            [g for _, g in goals],
            [ts for ts, _ in goals],
            [pid for pid, _ in purchases],
            [v for _, v in purchases],
            referer,
            dev.category,
            dev.os,
            dev.browser,
            touch,
            sig,
            dev.first_touch,
            params_uid,
            self.pid,
        )
        return end

    def _return_touch(self, day: int) -> int:
        r = self.r
        mk = self.c.mk
        u = r.random()
        if u < 0.45:
            return 0
        if u < 0.65:
            return mk.organic_touches[0 if r.random() < 0.72 else 1]
        if u < 0.75 and self.registered:
            return mk.email_touches[r.randrange(len(mk.email_touches))]
        if u < 0.85 and self.channel.name in PAID_CHANNELS:
            active = mk.active_campaigns(self.channel.name, day)
            camp = active[r.randrange(len(active))]
            return camp.touch_ids[r.randrange(3)]
        if u < 0.93:
            return mk.social_touches[r.randrange(len(mk.social_touches))]
        return mk.referral_touches[r.randrange(len(mk.referral_touches))]

    def _app_session(self, dev: Device, start: int, limit: int, purpose: str, day: int) -> int:
        r = self.r
        c = self.c
        self._use(dev, start, dev.kind)
        app_id = self.cfg.application_id
        self.n_app_sessions += 1
        session_id = str(
            10_000_000_000 + key_hash(self.seed, "amsession", self.pid, self.n_app_sessions) % 8_999_999_999
        )
        u = r.random()
        # Offline devices upload late: most within a minute, some hours or days later.
        delay = (
            (1 + r.randrange(60)) * 1000
            if u < 0.93
            else (
                (1 + r.randrange(12)) * HOUR
                if u < 0.98
                else (1 + r.randrange(3)) * DAY_MS + r.randrange(HOUR)
            )
        )
        conn = "wifi" if r.random() < 0.65 else "cell"
        ipv6 = f"::ffff:{dev.ip}"
        if not dev.installed or (r.random() < 0.004 and dev.owner == self.pid):
            self._install(
                dev,
                start - (5 + r.randrange(55)) * 1000,
                delay,
                purpose == "arrival" and dev.owner == self.pid,
            )
        self.identity.add(("appmetrica_installation_id", dev.installation_id))
        events: list[tuple[int, str, str]] = []
        t = start
        reg_at, subscribe = self._plan_actions(t, purpose)
        events.append((t, "app_open", ""))  # attribute-less event: event_json is empty
        events.append((t + 1000, "screen_view", '{"screen":"home"}'))
        t += (10 + r.randrange(50)) * 1000
        if r.random() < 0.3:
            events.append((t, "search", orjson.dumps({"query": GENRES[r.randrange(len(GENRES))]}).decode()))
            t += 20_000
        if reg_at >= 0:
            t = max(t + 10_000, reg_at)
            events.append((t, "registration", '{"method":"phone"}'))
            subscribe = self._register(dev, t) or subscribe
        wants_watch = r.random() < (0.6 if self.has_access(t) or subscribe else 0.1)
        if self.registered and not self.logged_in(dev, t) and (wants_watch or subscribe or r.random() < 0.5):
            t += 15_000
            events.append((t, "login", '{"method":"password"}'))
            self.login(dev, t, "password")
        if subscribe:
            t += 30_000
            events.append((t, "screen_view", '{"screen":"subscription"}'))
            t += 30_000
            pay = self._start_subscription(t, dev.kind)
            if pay is not None:
                name = "trial_start" if pay["metadata"]["kind"] == "trial" else "subscription_purchase"
                events.append(
                    (
                        t,
                        name,
                        orjson.dumps(
                            {
                                "plan_id": pay["metadata"]["plan_id"],
                                "amount": pay["amount"]["value"],
                                "currency": "RUB",
                                "status": pay["status"],
                            }
                        ).decode(),
                    )
                )
        if wants_watch and (self.has_access(t) or not self.logged_in(dev, t)):
            t = self._watch_block(dev, t, limit, day, dev.kind, app_events=events)
        else:
            for _ in range(r.randrange(3)):
                t += (10 + r.randrange(60)) * 1000
                events.append(
                    (t, "screen_view", f'{{"screen":"{APP_SCREENS[r.randrange(len(APP_SCREENS))]}"}}')
                )
        end = min(t + 5_000, limit)
        profile = str(self.user_id) if self.logged_in(dev, start) else ""
        c.am_sessions.add(
            app_id,
            session_id,
            start,
            start + delay,
            dev.installation_id,
            int(dev.id),
            profile,
            conn,
            ipv6,
            self.pid,
        )
        for ts, name, js in events:
            prof = str(self.user_id) if self.logged_in(dev, ts) else ""
            c.am_events.add(
                app_id,
                name,
                js,
                ts,
                ts + delay + 300,
                session_id,
                dev.installation_id,
                int(dev.id),
                prof,
                conn,
                ipv6,
                self.pid,
            )
        return end

    def _install(self, dev: Device, t: int, delay: int, acquisition: bool) -> None:
        r = self.r
        c = self.c
        reinstall = dev.installed
        dev.install_n += 1
        dev.installed = True
        dev.installation_id = popmod.installation_id(self.seed, dev.owner, dev.install_n - 1)
        if not reinstall and dev.owner == self.pid:
            c.am_devices.add(int(dev.id), *[dev.fields[f] for f in c.device_fields], self.pid)
        paid = acquisition and self.channel.name in PAID_CHANNELS
        if paid:
            camp_id = int(self.p["campaign_id"])
            camp = next(x for x in c.mk.campaigns if x.campaign_id == camp_id)
            net = NETWORKS[self.channel.name]
            click_ms = t - (1 + r.randrange(30)) * MINUTE
            click_id = hex_from(24, self.seed, "click", self.pid)
            c.am_installs.add(
                self.cfg.application_id,
                dev.installation_id,
                int(dev.id),
                "click",
                click_ms,
                click_id,
                f"::ffff:{dev.ip}",
                f"utm_source={camp.utm_source}&utm_campaign={camp.utm_campaign}",
                self._user_agent(dev),
                "",
                _PUBLISHER_IDS[net["publisher"]],
                net["publisher"],
                f"Кино | {camp.utm_campaign}",
                str(camp.campaign_id % 10**9),
                t,
                t + delay,
                f"::ffff:{dev.ip}",
                "0",
                "0",
                "referrer" if dev.kind == ANDROID else "fingerprint",
                self.pid,
            )
        else:
            c.am_installs.add(
                self.cfg.application_id,
                dev.installation_id,
                int(dev.id),
                "",
                0,
                "",
                "",
                "",
                "",
                "",
                "",
                "",
                "",
                "",
                t,
                t + delay,
                f"::ffff:{dev.ip}",
                "0",
                "1" if reinstall else "0",
                "",
                self.pid,
            )

    def _tv_session(self, dev: Device, start: int, limit: int, day: int) -> int:
        self._use(dev, start, TV)
        t = start
        if not self.logged_in(dev, t):
            t += 40_000
            self.login(dev, t, "qr_code")
        if self.has_access(t):
            t = self._watch_block(dev, t + 20_000, limit, day, TV)
        return min(t + 5_000, limit)

    # ------------------------------------------------------------------ watching
    def _watch_block(
        self,
        dev: Device,
        t: int,
        limit: int,
        day: int,
        platform: str,
        hits: list | None = None,
        app_events: list | None = None,
    ) -> int:
        r = self.r
        idx = self.c.cidx
        cat = idx.cat
        access = self.has_access(t)
        logged = self.logged_in(dev, t)
        views = 1 + (r.random() < 0.15) + (r.random() < 0.05) + (platform == TV and r.random() < 0.2)
        row = -1
        for k in range(views):
            if t > limit - 10 * MINUTE:
                break
            if access and logged:
                row = self._pick_content(day, t, row if k > 0 else -1)
            else:
                free = idx.free_films(day)
                row = free[r.randrange(len(free))] if free else -1
            if row < 0:
                break
            cid = int(cat.content_id[row])
            if hits is not None:
                t += (10 + r.randrange(40)) * 1000
                hits.append((t, f"{SITE}/title/{cid}", f"{cat.title[row]} — смотреть онлайн", []))
                t += (5 + r.randrange(25)) * 1000
                hits.append((t, f"{SITE}/watch/{cid}", f"{cat.title[row]} — плеер", []))
            if app_events is not None:
                t += (5 + r.randrange(30)) * 1000
                app_events.append((t, "title_open", f'{{"content_id":{cid}}}'))
            t += 2_000
            start_pos = self.resume.get(row, 0) if r.random() < 0.85 else 0
            res = self._view(dev, t, limit, row, start_pos, platform, logged, app_events)
            t += res * 1000 + 3_000
        return t

    def _pick_content(self, day: int, t: int, prev_row: int) -> int:
        r = self.r
        idx = self.c.cidx
        cat = idx.cat
        if prev_row >= 0 and cat.content_type[prev_row] == "episode":
            nxt = idx.next_episode(idx.row_of[cat.series_id[prev_row]], prev_row, t)
            if nxt is not None and r.random() < 0.7:
                return nxt
        if self.series_order and r.random() < 0.55:
            srow = self.series_order[-1]
            last = self.series_last.get(srow)
            if last is not None and self.resume.get(last, 0) > 0:
                return last
            nxt = idx.next_episode(srow, last, t)
            if nxt is not None:
                return nxt
        fav = GENRES[int(self.p["fav_genre"])] if r.random() < 0.5 else None
        row = idx.pick_title(day, fav, r.random())
        if cat.content_type[row] == "series":
            last = self.series_last.get(row)
            nxt = idx.next_episode(row, last, t)
            if nxt is None:
                nxt = idx.next_episode(row, None, t)
            return nxt if nxt is not None else -1
        return row

    def _view(
        self,
        dev: Device,
        t: int,
        limit: int,
        row: int,
        start_pos: int,
        platform: str,
        logged: bool,
        app_events: list | None,
    ) -> int:
        """One playback; returns its wall length in seconds."""
        c = self.c
        cat = c.cidx.cat
        self.n_views += 1
        vr = py_rng(self.seed, "view", self.pid, self.n_views)
        duration = int(cat.duration_sec[row])
        credits = int(cat.credits_start_sec[row])
        if start_pos >= credits - 60:
            start_pos = 0
        p_complete = float(cat.completion[row])
        if GENRES[int(self.p["fav_genre"])] in cat.genres[row]:
            p_complete *= 1.15
        if self.p["bad_conn"]:
            p_complete *= 0.75
        if vr.random() < p_complete:
            target = duration if vr.random() < 0.55 else credits + int((duration - credits) * vr.random())
        else:
            target = start_pos + 30 + int((credits - start_pos - 30) * vr.random() ** 1.8)
        target = max(start_pos + 30, min(target, duration))
        view_id = uuid_from(self.seed, "view", self.pid, self.n_views)
        if platform in (ANDROID, IOS) and vr.random() < 0.05:
            delay = (1 + vr.randrange(20)) * HOUR  # watched offline, uploaded later
        else:
            delay = 200 + vr.randrange(2000)
        content: dict[str, object] = {
            "content_id": int(cat.content_id[row]),
            "content_type": cat.content_type[row],
        }
        if cat.content_type[row] == "episode":
            content.update(
                series_id=cat.series_id[row],
                season_number=cat.season_number[row],
                episode_number=cat.episode_number[row],
            )
        quality = 1 if self.p["bad_conn"] else (3 if platform != TV else 4)
        sink = c.player
        user = str(self.user_id) if logged else None
        sess = sink.new_session(
            key=key_hash(self.seed, "viewkey", self.pid, self.n_views),
            start_ms=t,
            delay_ms=delay,
            session_id=view_id,
            platform=platform,
            domain_userid=dev.id,
            user_id=user,
            page_url=f"{SITE}/watch/{content['content_id']}" if platform == WEB else None,
            duration=duration,
            label=cat.title[row],
            volume=40 + vr.randrange(61),
            fullscreen=platform != WEB or vr.random() < 0.6,
            content=content,
            started_at=iso_ms(t),
        )
        limit_sec = max(10, (limit - t) // 1000)
        res = simulate_view(
            vr, duration, start_pos, target, bool(self.p["bad_conn"]), limit_sec, quality, sink, sess
        )
        if app_events is not None:
            app_events.append(
                (t, "play_start", f'{{"content_id":{content["content_id"]},"position":{start_pos}}}')
            )
        uniq = union_length(res.intervals)
        completed = res.furthest >= credits
        end_ms = t + res.end_sec * 1000
        c.views.add(
            view_id,
            self.pid,
            self.user_id if logged else None,
            int(cat.content_id[row]),
            platform,
            dev.id,
            t,
            end_ms,
            start_pos,
            uniq,
            res.played,
            res.paused,
            res.buffering,
            res.furthest,
            duration,
            credits,
            completed,
            res.n_events,
            end_ms + delay + 2000 < self.cfg.now_ms,
        )
        # Behaviour state used by later decisions.
        day = (t - self.cfg.start_ms) // DAY_MS
        self.watch_log.append((day, res.played))
        self.period_played += res.played
        self.period_buffer += res.buffering
        if cat.is_original[row] and res.played >= 600:
            self.saver_watched = True
        if completed:
            self.resume.pop(row, None)
        else:
            self.resume[row] = res.furthest
        if cat.content_type[row] == "episode":
            srow = c.cidx.row_of[cat.series_id[row]]
            self.series_last[srow] = row
            if srow in self.series_order:
                self.series_order.remove(srow)
            self.series_order.append(srow)
        return res.end_sec

    # ------------------------------------------------------------------ billing
    def _card(self) -> dict:
        if self.cards and self.rb.random() < 0.7:
            return self.cards[-1]
        rb = self.rb
        k = len(self.cards)
        pm_id = uuid_from(self.seed, "pm", self.pid, k)
        u = rb.random()
        if u < 0.78:
            brand = ("Mir", "MasterCard", "Visa")[rb.randrange(3)]
            last4 = f"{rb.randrange(10000):04d}"
            first6 = {"Mir": "220220", "MasterCard": "555400", "Visa": "427601"}[brand]
            pm = {
                "type": "bank_card",
                "id": pm_id,
                "saved": True,
                "title": f"Bank card *{last4}",
                "card": {
                    "first6": first6,
                    "last4": last4,
                    "expiry_year": str(2027 + rb.randrange(5)),
                    "expiry_month": f"{1 + rb.randrange(12):02d}",
                    "card_type": brand,
                    "card_product": {"code": "E", "name": "Classic"} if brand != "Mir" else {"code": "MIR"},
                    "issuer_country": "RU",
                    "issuer_name": ("Sberbank", "T-Bank", "VTB", "Alfa-Bank")[rb.randrange(4)],
                },
            }
        elif u < 0.93:
            pm = {
                "type": "sbp",
                "id": pm_id,
                "saved": True,
                "title": "СБП",
                "sbp_operation_id": hex_from(20, self.seed, "sbp", self.pid, k),
            }
        else:
            acct = f"41001{key_hash(self.seed, 'ym', self.pid, k) % 10**10:010d}"
            pm = {
                "type": "yoo_money",
                "id": pm_id,
                "saved": True,
                "title": f"YooMoney wallet {acct}",
                "account_number": acct,
            }
        self.cards.append(pm)
        self.identity.add(("payment_method_id", pm_id))
        return pm

    def _payment(
        self,
        t: int,
        sub: Subscription | None,
        kind: str,
        amount: str,
        ok: bool,
        test: bool = False,
        sid: str | None = None,
        plan_id: str | None = None,
        pm: dict | None = None,
    ) -> dict:
        rb = self.rb
        self.n_payments += 1
        k = self.n_payments
        h = hex_from(16, self.seed, "payment", self.pid, k)
        pay_id = f"{(t // 1000) & 0xFFFFFFFF:08x}-000f-5000-{'a' if ok else '9'}000-{h[:12]}"
        pm = pm or (sub.pm if sub else self._card())
        plan = plan_id or PLANS[sub.plan].plan_id
        sid = sid or sub.sid
        income = f"{float(amount) * 0.965:.2f}"
        doc: dict = {
            "id": pay_id,
            "status": "succeeded" if ok else "canceled",
            "amount": {"value": amount, "currency": "RUB"},
            "description": f"{PLANS[sub.plan].name if sub else 'Тестовый платёж'} ({kind})",
            "recipient": {"account_id": "123456", "gateway_id": "2345678"},
            "payment_method": pm
            if ok or kind not in ("trial", "first", "reactivation")
            else {**pm, "saved": False},
            "created_at": iso_ms(t),
            "test": test,
            "paid": ok,
            "refundable": ok,
            "metadata": {"user_id": str(self.user_id), "subscription_id": sid, "plan_id": plan, "kind": kind},
        }
        if ok:
            doc["income_amount"] = {"value": income, "currency": "RUB"}
            doc["captured_at"] = iso_ms(t + 1000 + rb.randrange(4000))
            doc["refunded_amount"] = {"value": "0.00", "currency": "RUB"}
            if pm["type"] == "bank_card":
                doc["authorization_details"] = {
                    "rrn": f"{key_hash(self.seed, 'rrn', pay_id) % 10**12:012d}",
                    "auth_code": f"{key_hash(self.seed, 'auth', pay_id) % 10**6:06d}",
                    "three_d_secure": {"applied": kind in ("trial", "first")},
                }
        else:
            reason = _wchoice(rb, DECLINE_REASONS)[0]
            party = (
                "payment_network"
                if reason in ("insufficient_funds", "card_expired", "general_decline", "issuer_unavailable")
                else "yoo_money"
            )
            doc["cancellation_details"] = {"party": party, "reason": reason}
        doc["receipt_registration"] = "succeeded" if ok else "canceled"
        doc["_t"] = t
        self.payments.append(doc)
        self._pay_by_id[pay_id] = doc
        if sub is not None and not test:
            amt = float(amount)
            if ok:
                sub.ok += 1
                sub.gross += amt
            else:
                sub.failed += 1
        return doc

    def _sub_event(
        self,
        sub: Subscription,
        t: int,
        event: str,
        amount: float | None = None,
        payment_id: str | None = None,
        reason: str | None = None,
    ) -> None:
        self.c.sub_events.add(sub.sid, self.pid, self.user_id, t, event, amount, payment_id, reason)
        sub.updated_ms = t

    def _start_subscription(self, t: int, platform: str) -> dict | None:
        """Checkout in a web or app session; returns the first payment."""
        rb = self.rb
        self.wants_subscribe = False
        reactivation = bool(self.subs)
        plan = int(self.p["plan"])
        if reactivation and rb.random() < 0.6:
            plan = 0
        trial = PLANS[plan].trial_days > 0 and not self.ever_trial and not reactivation
        self.n_subs += 1
        sid = uuid_from(self.seed, "subscription", self.pid, self.n_subs)
        pm = self._card()
        kind = "trial" if trial else ("reactivation" if reactivation else "first")
        sub = Subscription(sid, plan, t, kind, pm)
        amount = TRIAL_PRICE if trial else PLANS[plan].price
        ok = rb.random() > float(self.p["card_fail"]) * 0.5
        pay = self._payment(t, sub, kind, amount, ok)
        if not ok:
            # The viewer retries at once with another card; if that fails too the checkout is abandoned.
            pm = self._card()
            sub.pm = pm
            ok = rb.random() < 0.7
            pay = self._payment(t + 60_000 + rb.randrange(120_000), sub, kind, amount, ok)
        self.sub = sub
        self.subs.append(sub)
        if not ok:
            sub.status = "expired"
            sub.ended_ms = int(pay["_t"])
            sub.churn_type = "checkout_failed"
            sub.cancel_reason = "payment_failed"
            self._sub_event(sub, int(pay["_t"]), "checkout_failed", None, pay["id"])
            self.sub = None
            return pay
        t_ok = int(pay["_t"])
        if trial:
            self.ever_trial = True
            sub.trial_end_ms = t_ok + PLANS[plan].trial_days * DAY_MS
            sub.period_start, sub.period_end = t_ok, sub.trial_end_ms
            self._sub_event(sub, t_ok, "trial_started", float(amount), pay["id"])
            self.push(t_ok + int((3 + rb.random() * 3.5) * DAY_MS), "trial_check", sid)
            self.push(sub.trial_end_ms, "trial_end", sid)
        else:
            self._sub_event(
                sub, t_ok, "reactivated" if reactivation else "subscribed", float(amount), pay["id"]
            )
            self._new_period(sub, t_ok)
            self._maybe_refund(sub, pay)
        self.period_played = self.period_buffer = 0
        return pay

    def _new_period(self, sub: Subscription, t: int) -> None:
        plan = PLANS[sub.plan]
        sub.status = "active"
        sub.period_start = t
        sub.period_end = _add_months(t, plan.period_months)
        sub.fail_base = None
        self.period_played = self.period_buffer = 0
        # Voluntary-cancellation checks: one per month of the period, each decided when it happens.
        for m in range(plan.period_months):
            at = _add_months(t, m) + int((0.2 + self.rb.random() * 0.75) * 30 * DAY_MS)
            if at < sub.period_end:
                self.push(at, "cancel_check", sub.sid)
        self.push(sub.period_end, "renew", sub.sid)

    def _engagement(self, now_day: int) -> float:
        played = sum(s for d, s in self.watch_log if d > now_day - 30)
        if played == 0:
            return 2.5
        if played < 3600:
            return 1.6
        if played < 5 * 3600:
            return 1.0
        return 0.6

    def _run_billing(self, until: int) -> None:
        while self.heap and self.heap[0][0] < until:
            t, _, kind, sid = heapq.heappop(self.heap)
            if t >= self.cfg.now_ms:
                self.heap.clear()
                return
            if kind == "react_check":
                self._react_check(t)
                continue
            if kind == "refund":
                pay = self._pay_by_id[sid]
                owner = next((x for x in self.subs if x.sid == pay["metadata"]["subscription_id"]), None)
                self._run_refund(t, pay, owner)
                continue
            sub = self.sub
            if sub is None or sub.sid != sid:
                continue
            getattr(self, "_on_" + kind)(sub, t)

    def _on_trial_check(self, sub: Subscription, t: int) -> None:
        if sub.status != "trial":
            return
        # Viewing since the trial started drives the decision (period_played was reset at checkout).
        watched = self.period_played
        eng = (
            0.3
            if watched == 0
            else 0.55
            if watched < 1800
            else 0.95
            if watched < 7200
            else 1.25
            if watched < 18000
            else 1.45
        )
        p_keep = (
            self.channel.p_convert
            * eng
            * (1.2 if self.saver_watched else 1.0)
            * (0.8 if self.p["bad_conn"] else 1.0)
        )
        if self.rb.random() > min(0.95, p_keep):
            reason = (
                "technical_issues"
                if self.p["bad_conn"] and self.rb.random() < 0.5
                else CANCEL_REASONS[self.rb.randrange(len(CANCEL_REASONS))]
            )
            sub.status = "cancelled"
            sub.cancelled_ms = t
            sub.cancel_reason = reason
            sub.ended_ms = sub.trial_end_ms
            sub.converted = False
            sub.churn_type = "voluntary"
            self._sub_event(sub, t, "cancelled", reason=reason)
            self.push(sub.trial_end_ms, "expire", sub.sid)

    def _on_expire(self, sub: Subscription, t: int) -> None:
        """Access of a cancelled subscription ends; maybe they come back later."""
        self._sub_event(sub, t, "access_ended")
        self.push(t + int(self.rb.expovariate(1 / 12) * DAY_MS) + DAY_MS, "react_check", sub.sid)

    def _react_check(self, t: int) -> None:
        if self.has_access(t):
            return
        if self.rb.random() < 0.3 * self.channel.activity:
            self.wants_subscribe = True

    def _on_trial_end(self, sub: Subscription, t: int) -> None:
        if sub.status != "trial":
            return
        self._charge(sub, t, "first")

    def _on_renew(self, sub: Subscription, t: int) -> None:
        if sub.status == "cancelled":
            self._on_expire(sub, t)
            return
        if sub.status != "active":
            return
        self._charge(sub, t, "renewal")

    def _charge(self, sub: Subscription, t: int, kind: str) -> None:
        rb = self.rb
        plan = PLANS[sub.plan]
        ok = rb.random() > float(self.p["card_fail"])
        pay = self._payment(t, sub, kind, plan.price, ok)
        if ok:
            if kind == "first":
                sub.converted = True
                self._sub_event(sub, t, "converted", float(plan.price), pay["id"])
            else:
                self._sub_event(sub, t, "renewed", float(plan.price), pay["id"])
            self._new_period(sub, t)
            self._maybe_refund(sub, pay)
            return
        sub.status = "past_due"
        sub.fail_base = t
        self._sub_event(
            sub, t, "payment_failed", float(plan.price), pay["id"], pay["cancellation_details"]["reason"]
        )
        self.push(t + RETRY_DELAYS_DAYS[0] * DAY_MS, "retry", sub.sid)
        sub.retry_kind = kind  # retries keep the kind of the charge that failed

    def _on_retry(self, sub: Subscription, t: int) -> None:
        if sub.status != "past_due" or sub.fail_base is None:
            return
        rb = self.rb
        plan = PLANS[sub.plan]
        kind = sub.retry_kind
        ok = rb.random() < 0.4
        pay = self._payment(t, sub, kind, plan.price, ok)
        if ok:
            if kind == "first":
                sub.converted = True
            self._sub_event(sub, t, "recovered", float(plan.price), pay["id"])
            self._new_period(sub, t)
            return
        self._sub_event(
            sub, t, "payment_failed", float(plan.price), pay["id"], pay["cancellation_details"]["reason"]
        )
        elapsed = (t - sub.fail_base) // DAY_MS
        later = [d for d in RETRY_DELAYS_DAYS if d > elapsed]
        if later:
            self.push(sub.fail_base + later[0] * DAY_MS, "retry", sub.sid)
            return
        sub.status = "expired"
        sub.ended_ms = t
        sub.churn_type = "involuntary"
        sub.cancel_reason = "payment_failed"
        if kind == "first":
            sub.converted = False
        self._sub_event(sub, t, "expired", reason="payment_failed")
        self.push(t + int(self.rb.expovariate(1 / 12) * DAY_MS) + DAY_MS, "react_check", sub.sid)

    def _on_cancel_check(self, sub: Subscription, t: int) -> None:
        if sub.status != "active":
            return
        rb = self.rb
        day = (t - self.cfg.start_ms) // DAY_MS
        plan = PLANS[sub.plan]
        buffer_ratio = self.period_buffer / max(1, self.period_played + self.period_buffer)
        hazard = (
            0.15
            * self.channel.churn_mult
            * plan.churn_mult
            * self._engagement(day)
            * (1.8 if buffer_ratio > 0.03 else 1.0)
            * (0.4 if self.saver_watched else 1.0)
        )
        if rb.random() < min(0.9, hazard):
            reason = (
                "technical_issues"
                if buffer_ratio > 0.03 and rb.random() < 0.6
                else CANCEL_REASONS[rb.randrange(len(CANCEL_REASONS))]
            )
            sub.status = "cancelled"
            sub.cancelled_ms = t
            sub.cancel_reason = reason
            sub.ended_ms = sub.period_end
            sub.churn_type = "voluntary"
            self._sub_event(sub, t, "cancelled", reason=reason)

    def _maybe_refund(self, sub: Subscription, pay: dict) -> None:
        if self.rb.random() < 0.025:
            self.push(int(pay["_t"]) + int((0.2 + self.rb.random() * 2.8) * DAY_MS), "refund", pay["id"])

    def _run_refund(self, t: int, pay: dict, sub: Subscription | None) -> None:
        rb = self.rb
        full = rb.random() < 0.7
        value = float(pay["amount"]["value"])
        amt = value if full else round(value / 2, 2)
        rid = f"{(t // 1000) & 0xFFFFFFFF:08x}-0015-5000-8000-{hex_from(12, self.seed, 'refund', pay['id'])}"
        doc = {
            "id": rid,
            "payment_id": pay["id"],
            "status": "succeeded",
            "created_at": iso_ms(t),
            "amount": {"value": f"{amt:.2f}", "currency": "RUB"},
            "description": "Возврат по заявлению пользователя" if full else "Частичный возврат (компенсация)",
        }
        self.c.refunds.add(rid, pay["id"], t, doc["amount"]["value"], orjson.dumps(doc).decode(), self.pid)
        pay["refunded_amount"] = {"value": f"{amt:.2f}", "currency": "RUB"}
        pay["refundable"] = not full
        if sub is not None:
            sub.refunded += amt
            self._sub_event(sub, t, "refunded", amt, pay["id"], "full" if full else "partial")
            if full and sub.status in ("active", "past_due"):
                sub.status = "cancelled"
                sub.cancelled_ms = t
                sub.cancel_reason = "refund"
                sub.ended_ms = t
                sub.churn_type = "voluntary"
                self._sub_event(sub, t, "cancelled", reason="refund")
                self.push(t + int(self.rb.expovariate(1 / 12) * DAY_MS) + DAY_MS, "react_check", sub.sid)

    def _test_payment(self, t: int) -> None:
        """Staff QA payments on the live shop, flagged ``test`` (analytics must drop them)."""
        sid = uuid_from(self.seed, "test-subscription", self.pid, self.n_payments)
        self._payment(
            t,
            None,
            "first",
            ("1.00", "399.00")[self.rb.randrange(2)],
            True,
            test=True,
            sid=sid,
            plan_id="monthly",
            pm=self._card(),
        )

    # ------------------------------------------------------------------ end of horizon
    def _finish(self) -> None:
        c = self.c
        now = self.cfg.now_ms
        start = self.cfg.start_ms
        for doc in self.payments:
            t = doc.pop("_t")
            md = doc["metadata"]
            c.payments.add(
                doc["id"],
                t,
                doc["status"],
                self.user_id,
                md["subscription_id"],
                md["kind"],
                doc["amount"]["value"],
                doc["test"],
                orjson.dumps(doc).decode(),
                self.pid,
            )
        for s in self.subs:
            status = s.status
            ended = s.ended_ms if s.ended_ms is not None and s.ended_ms < now else None
            c.subscriptions.add(
                s.sid,
                self.user_id,
                PLANS[s.plan].plan_id,
                status,
                s.started_ms,
                s.trial_end_ms,
                s.period_start,
                s.period_end,
                s.cancelled_ms,
                s.cancel_reason,
                ended,
                s.pm["id"],
                s.created_ms,
                s.updated_ms,
                self.pid,
            )
            c.truth_subs.add(
                s.sid,
                self.pid,
                self.user_id,
                PLANS[s.plan].plan_id,
                s.started_ms,
                s.first_kind,
                s.had_trial,
                s.converted,
                status,
                ended,
                s.churn_type if ended is not None or status in ("cancelled", "expired") else None,
                s.cancel_reason,
                s.ok,
                s.failed,
                round(s.gross, 2),
                round(s.refunded, 2),
                round(s.gross - s.refunded, 2),
            )
        for id_type, id_value in sorted(self.identity):
            c.identity.add(id_type, id_value, self.pid)
        for day, platform in sorted(self.active_days):
            c.daily.add(self.pid, int((start + day * DAY_MS) // DAY_MS), platform)


def _mask_ip(ip: str) -> str:
    a, b, c_, _ = (ip.split(".") + ["0", "0", "0", "0"])[:4]
    return f"{a}.{b}.{c_}.xxx"


def _add_months(t: int, months: int) -> int:
    """Billing periods are calendar-agnostic 30-day months (365 days for 12)."""
    return t + (365 if months == 12 else 30 * months) * DAY_MS
