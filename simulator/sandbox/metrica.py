"""Yandex Metrica Logs API (management/v1 logrequests) over a generated world.

Lifecycle: evaluate -> create (query-string params) -> poll status (``created`` until
``ready_after_polls`` status calls) -> download each part (TSV with its own header line,
ClickHouse TabSeparated escaping, array literals) -> clean. Errors use Metrica's JSON error format.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import threading
from collections.abc import Callable

import pyarrow as pa
import pyarrow.compute as pc

from simulator.sandbox.http import Request, Response, ServiceApp
from simulator.sandbox.store import WorldStore, date_to_msk_range, msk_str, ts_ms, utc_str
from simulator.world.campaigns import TOUCH_FIELDS

ATTRIBUTIONS = (
    "first",
    "last",
    "lastsign",
    "last_yandex_direct_click",
    "cross_device_last",
    "cross_device_first",
    "cross_device_last_significant",
    "cross_device_last_yandex_direct_click",
    "automatic",
)
_ATTR_COLUMN = {
    "first": "touch_first",
    "last": "touch_last",
    "lastsign": "touch_lastsign",
    "last_yandex_direct_click": "touch_lastsign",
    "cross_device_last": "touch_last",
    "cross_device_first": "touch_first",
    "cross_device_last_significant": "touch_lastsign",
    "cross_device_last_yandex_direct_click": "touch_lastsign",
    "automatic": "touch_lastsign",
}
_REQUEST_ATTRIBUTION = {
    "FIRST": "first",
    "LAST": "last",
    "LASTSIGN": "lastsign",
    "LAST_YANDEX_DIRECT_CLICK": "last_yandex_direct_click",
    "CROSS_DEVICE_LAST": "cross_device_last",
    "CROSS_DEVICE_FIRST": "cross_device_first",
    "CROSS_DEVICE_LAST_SIGNIFICANT": "cross_device_last_significant",
    "CROSS_DEVICE_LAST_YANDEX_DIRECT_CLICK": "cross_device_last_yandex_direct_click",
    "AUTOMATIC": "automatic",
}


def tsv_escape(s: str) -> str:
    """ClickHouse TabSeparated escaping as Metrica uses it (quotes are escaped too)."""
    return (
        s.replace("\\", "\\\\")
        .replace("\t", "\\t")
        .replace("\n", "\\n")
        .replace("\r", "\\r")
        .replace("'", "\\'")
    )


def str_array(values: list[str]) -> str:
    return "[" + ",".join("'" + tsv_escape(v) + "'" for v in values) + "]"


def num_array(values: list) -> str:
    return "[" + ",".join(_num(v) for v in values) + "]"


def _num(v: float | int) -> str:
    if isinstance(v, float):
        return str(int(v)) if v.is_integer() else repr(v)
    return str(v)


Renderer = Callable[[pa.Table, "Ctx"], list[str]]


@dataclasses.dataclass
class Ctx:
    touches: pa.Table
    attribution: str  # default attribution for un-prefixed source fields


def _col(name: str, fmt: Callable[[object], str] = str) -> Renderer:
    return lambda t, ctx: [fmt(v) for v in t[name].to_pylist()]


def _s(name: str) -> Renderer:
    return lambda t, ctx: [tsv_escape(v or "") for v in t[name].to_pylist()]


def _const(value: str) -> Renderer:
    return lambda t, ctx: [value] * t.num_rows


def _touch(attr: str | None, field: str) -> Renderer:
    def render(t: pa.Table, ctx: Ctx) -> list[str]:
        col = _ATTR_COLUMN[attr or ctx.attribution]
        values = ctx.touches[field].to_pylist()
        return [tsv_escape(values[i]) for i in t[col].to_pylist()]

    return render


def _goal_times(t: pa.Table, ctx: Ctx) -> list[str]:
    out = []
    for goals in t["goals_ms"].cast(pa.list_(pa.int64())).to_pylist():
        out.append(str_array([msk_str(g) for g in goals]))
    return out


def _params(level: int) -> Renderer:
    def render(t: pa.Table, ctx: Ctx) -> list[str]:
        out = []
        for uid in t["params_user_id"].to_pylist():
            out.append(str_array([] if not uid else (["user_id"] if level == 1 else [uid])))
        return out

    return render


def _visit_fields() -> dict[str, Renderer]:
    f: dict[str, Renderer] = {
        "visitID": _col("visitID"),
        "counterID": _col("counterID"),
        "watchIDs": lambda t, c: [num_array(v) for v in t["watchIDs"].to_pylist()],
        "date": lambda t, c: [msk_str(v)[:10] for v in ts_ms(t["start_ms"])],
        "dateTime": lambda t, c: [msk_str(v) for v in ts_ms(t["start_ms"])],
        "dateTimeUTC": lambda t, c: [utc_str(v) for v in ts_ms(t["start_ms"])],
        "isNewUser": _col("isNewUser"),
        "startURL": _s("startURL"),
        "endURL": _s("endURL"),
        "pageViews": _col("pageViews"),
        "visitDuration": _col("visitDuration"),
        "bounce": _col("bounce"),
        "ipAddress": _s("ipAddress"),
        "regionCountry": _const("Russia"),
        "regionCity": _s("regionCity"),
        "regionCountryID": _const("225"),
        "regionCityID": _col("regionCityID"),
        "clientID": _col("clientID"),
        "counterUserIDHash": _col("counterUserIDHash"),
        "goalsID": lambda t, c: [num_array(v) for v in t["goalsID"].to_pylist()],
        "goalsSerialNumber": lambda t, c: [
            num_array(list(range(1, len(v) + 1))) for v in t["goalsID"].to_pylist()
        ],
        "goalsDateTime": _goal_times,
        "goalsPrice": lambda t, c: [num_array([0] * len(v)) for v in t["goalsID"].to_pylist()],
        "goalsOrder": lambda t, c: [str_array([""] * len(v)) for v in t["goalsID"].to_pylist()],
        "goalsCurrency": lambda t, c: [str_array(["RUB"] * len(v)) for v in t["goalsID"].to_pylist()],
        "purchaseID": lambda t, c: [str_array(v) for v in t["purchaseID"].to_pylist()],
        "purchaseRevenue": lambda t, c: [num_array(v) for v in t["purchaseRevenue"].to_pylist()],
        "purchaseCurrency": lambda t, c: [str_array(["RUB"] * len(v)) for v in t["purchaseID"].to_pylist()],
        "referer": _s("referer"),
        "from": _const(""),
        "deviceCategory": _col("deviceCategory"),
        "operatingSystemRoot": _s("operatingSystemRoot"),
        "browser": _s("browser"),
        "parsedParamsKey1": _params(1),
        "parsedParamsKey2": _params(2),
    }
    for field in TOUCH_FIELDS:
        f[field] = _touch(None, field)
        for attr in ATTRIBUTIONS:
            f[attr + field] = _touch(attr, field)
    return f


def _hit_fields() -> dict[str, Renderer]:
    f: dict[str, Renderer] = {
        "watchID": _col("watchID"),
        "pageViewID": _col("pageViewID"),
        "counterID": _col("counterID"),
        "clientID": _col("clientID"),
        "counterUserIDHash": _col("counterUserIDHash"),
        "date": lambda t, c: [msk_str(v)[:10] for v in ts_ms(t["hit_ms"])],
        "dateTime": lambda t, c: [msk_str(v) for v in ts_ms(t["hit_ms"])],
        "title": _s("title"),
        "URL": _s("URL"),
        "referer": _s("referer"),
        "goalsID": lambda t, c: [num_array(v) for v in t["goalsID"].to_pylist()],
        "isPageView": _col("isPageView"),
        "artificial": _const("0"),
        "link": _const("0"),
        "download": _const("0"),
        "notBounce": _col("notBounce"),
        "iFrame": _const("0"),
        "isTurboPage": _const("0"),
        "ecommerce": _const(""),
        "params": _const(""),
        "httpError": _const("0"),
        "deviceCategory": _col("deviceCategory"),
        "operatingSystemRoot": _s("operatingSystemRoot"),
        "browser": _s("browser"),
        "ipAddress": _s("ipAddress"),
        "regionCountry": _const("Russia"),
        "regionCity": _s("regionCity"),
        "regionCountryID": _const("225"),
        "regionCityID": _col("regionCityID"),
        "parsedParamsKey1": _params(1),
        "parsedParamsKey2": _params(2),
    }
    for field in ("UTMCampaign", "UTMContent", "UTMMedium", "UTMSource", "UTMTerm"):
        f[field] = _touch("last", field)
    for field in (
        "TrafficSource",
        "SearchEngine",
        "SearchEngineRoot",
        "AdvEngine",
        "SocialNetwork",
        "ReferalSource",
    ):
        f["last" + field] = _touch("last", field)
    return f


SOURCES = {
    "visits": ("ym:s:", "metrica_visits", "start_ms", "visitID", _visit_fields()),
    "hits": ("ym:pv:", "metrica_hits", "hit_ms", "watchID", _hit_fields()),
}


@dataclasses.dataclass
class LogRequest:
    request_id: int
    counter_id: int
    source: str
    date1: str
    date2: str
    fields: list[str]
    attribution: str
    status: str = "created"
    polls: int = 0
    parts: list[bytes] = dataclasses.field(default_factory=list)

    def to_json(self) -> dict:
        out = {
            "request_id": self.request_id,
            "counter_id": self.counter_id,
            "source": self.source,
            "date1": self.date1,
            "date2": self.date2,
            "fields": self.fields,
            "status": self.status,
            "attribution": self.attribution,
        }
        if self.status in ("processed", "cleaned_by_user"):
            out["size"] = sum(len(p) for p in self.parts)
            if self.status == "processed":
                out["parts"] = [{"part_number": i, "size": len(p)} for i, p in enumerate(self.parts)]
        return out


class MetricaApp(ServiceApp):
    name = "metrica"

    def __init__(
        self,
        store: WorldStore,
        token: str = "sandbox-metrica-token",
        noaccess_token: str = "sandbox-noaccess-token",
        ready_after_polls: int = 1,
        part_rows: int = 50_000,
        max_days: int = 366,
        quota_bytes: int = 10 * 2**30,
        daily_requests: int = 5000,
    ) -> None:
        super().__init__()
        self.store = store
        self.token = token
        self.noaccess_token = noaccess_token
        self.ready_after_polls = ready_after_polls
        self.part_rows = part_rows
        self.max_days = max_days
        self.quota_bytes = quota_bytes
        self.daily_requests = daily_requests
        self.requests: dict[int, LogRequest] = {}
        self.ids = itertools.count(7_000_001)
        self.calls = 0
        self.calls_day = dt.date.today()
        self.state_lock = threading.Lock()
        base = r"/management/v1/counter/(?P<counter>[^/]+)"
        self.route("GET", base + r"/logrequests/evaluate", self.evaluate)
        self.route("POST", base + r"/logrequests", self.create)
        self.route("GET", base + r"/logrequests", self.list)
        self.route("GET", base + r"/logrequest/(?P<rid>[^/]+)", self.status)
        self.route("GET", base + r"/logrequest/(?P<rid>[^/]+)/part/(?P<part>[^/]+)/download", self.download)
        self.route("POST", base + r"/logrequest/(?P<rid>[^/]+)/clean", self.clean)
        self.route("POST", base + r"/logrequest/(?P<rid>[^/]+)/cancel", self.cancel)

    # ------------------------------------------------------------------ errors and auth
    def error_response(
        self, status: int, message: str, error_type: str | None = None, location: str | None = None
    ) -> Response:
        error_type = error_type or {
            400: "invalid_parameter",
            401: "unauthorized",
            403: "access_denied",
            404: "not_found",
            409: "conflict",
            429: "quota_requests_by_uid",
            500: "backend_error",
            503: "backend_error",
            504: "timeout",
        }.get(status, "backend_error")
        err = {"error_type": error_type, "message": message}
        if location:
            err["location"] = location
        return Response.json({"errors": [err], "code": status, "message": message}, status)

    def _check(self, req: Request) -> Response | None:
        auth = req.header("authorization")
        if not auth or not auth.startswith("OAuth ") or not auth[6:].strip():
            return self.error_response(401, "Unauthorized: OAuth token is missing", "unauthorized")
        token = auth[6:].strip()
        if token not in (self.token, self.noaccess_token):
            return self.error_response(403, "Invalid oauth_token", "invalid_token")
        counter = req.params.get("counter", "")
        if not counter.isdigit():
            return self.error_response(
                400, f"Invalid counter id: {counter}", "invalid_parameter", "counterId"
            )
        if token == self.noaccess_token or int(counter) != self.store.cfg.counter_id:
            return self.error_response(403, "Access is denied", "access_denied")
        with self.state_lock:
            today = dt.date.today()  # the quota resets at midnight, like the real per-day limit
            if self.calls_day != today:
                self.calls_day, self.calls = today, 0
            self.calls += 1
            if self.calls > self.daily_requests:
                return self.error_response(429, "Quota exceeded: requests per day", "quota_requests_by_uid")
        return None

    # ------------------------------------------------------------------ parameters
    def _params(self, req: Request) -> tuple[dict, Response | None]:
        out: dict = {}
        for name in ("date1", "date2", "source", "fields"):
            value = req.arg(name)
            if not value:
                return out, self.error_response(400, f"Missing parameter: {name}", "missing_parameter", name)
            out[name] = value
        try:
            d1 = dt.date.fromisoformat(out["date1"])
            d2 = dt.date.fromisoformat(out["date2"])
        except ValueError:
            return out, self.error_response(
                400, "Incorrect date format, expected YYYY-MM-DD", location="date1"
            )
        if d1 > d2:
            return out, self.error_response(400, "date1 must not be later than date2", location="date1")
        if d2 >= self.store.today_msk:
            return out, self.error_response(400, "date2 cannot be today or in the future", location="date2")
        if (d2 - d1).days >= 366:
            return out, self.error_response(400, "Period must not exceed one year", location="date1")
        source = out["source"]
        if source not in SOURCES:
            return out, self.error_response(400, f"Unknown source: {source}", location="source")
        if len(out["fields"]) > 3000:
            return out, self.error_response(400, "fields is longer than 3000 characters", location="fields")
        prefix, *_rest, known = SOURCES[source]
        fields = [f.strip() for f in out["fields"].split(",") if f.strip()]
        for f in fields:
            if not f.startswith(prefix) or f[len(prefix) :] not in known:
                return out, self.error_response(400, f"Unknown field: {f}", location="fields")
        attribution = req.arg("attribution", "LASTSIGN") or "LASTSIGN"
        if attribution.upper() not in _REQUEST_ATTRIBUTION:
            return out, self.error_response(
                400, f"Unknown attribution: {attribution}", location="attribution"
            )
        out.update(d1=d1, d2=d2, field_list=fields, attribution=attribution.upper())
        return out, None

    # ------------------------------------------------------------------ handlers
    def evaluate(self, req: Request) -> Response:
        err = self._check(req)
        if err:
            return err
        p, err = self._params(req)
        if err:
            return err
        days = (p["d2"] - p["d1"]).days + 1
        possible = days <= self.max_days and self._used_bytes() < self.quota_bytes
        return Response.json(
            {"log_request_evaluation": {"possible": possible, "max_possible_day_quantity": self.max_days}}
        )

    def create(self, req: Request) -> Response:
        err = self._check(req)
        if err:
            return err
        p, err = self._params(req)
        if err:
            return err
        if (p["d2"] - p["d1"]).days + 1 > self.max_days:
            return self.error_response(
                400, "Requested period is too big, split it (see evaluate)", location="date1"
            )
        if self._used_bytes() >= self.quota_bytes:
            return self.error_response(
                400,
                "Not enough free space in the log storage, clean processed requests",
                location="counterId",
            )
        lr = LogRequest(
            next(self.ids),
            int(req.params["counter"]),
            p["source"],
            p["date1"],
            p["date2"],
            p["field_list"],
            p["attribution"],
        )
        with self.state_lock:
            self.requests[lr.request_id] = lr
        return Response.json({"log_request": lr.to_json()})

    def list(self, req: Request) -> Response:
        err = self._check(req)
        if err:
            return err
        with self.state_lock:
            return Response.json({"requests": [r.to_json() for r in self.requests.values()]})

    def _get(self, req: Request) -> tuple[LogRequest | None, Response | None]:
        err = self._check(req)
        if err:
            return None, err
        rid = req.params["rid"]
        lr = self.requests.get(int(rid)) if rid.isdigit() else None
        if lr is None:
            return None, self.error_response(400, f"Log request {rid} not found", location="requestId")
        return lr, None

    def status(self, req: Request) -> Response:
        lr, err = self._get(req)
        if err:
            return err
        with self.state_lock:
            if lr.status == "created":
                lr.polls += 1
                if lr.polls > self.ready_after_polls:
                    lr.parts = self._render(lr)
                    lr.status = "processed"
            return Response.json({"log_request": lr.to_json()})

    def download(self, req: Request) -> Response:
        lr, err = self._get(req)
        if err:
            return err
        if lr.status != "processed":
            return self.error_response(
                400, f"Log request is not processed (status {lr.status})", location="requestId"
            )
        part = req.params["part"]
        if not part.isdigit() or int(part) >= len(lr.parts):
            return self.error_response(400, f"Part {part} does not exist", location="partNumber")
        return Response(200, lr.parts[int(part)], "text/tab-separated-values; charset=utf-8")

    def clean(self, req: Request) -> Response:
        lr, err = self._get(req)
        if err:
            return err
        with self.state_lock:
            if lr.status != "processed":
                return self.error_response(
                    400, f"Only processed requests can be cleaned (status {lr.status})", location="requestId"
                )
            lr.status = "cleaned_by_user"
            return Response.json({"log_request": lr.to_json()})

    def cancel(self, req: Request) -> Response:
        lr, err = self._get(req)
        if err:
            return err
        with self.state_lock:
            if lr.status != "created":
                return self.error_response(
                    400, f"Only created requests can be canceled (status {lr.status})", location="requestId"
                )
            lr.status = "canceled"
            return Response.json({"log_request": lr.to_json()})

    def _used_bytes(self) -> int:
        with self.state_lock:
            return sum(
                sum(len(p) for p in r.parts) for r in self.requests.values() if r.status == "processed"
            )

    # ------------------------------------------------------------------ rendering
    def _render(self, lr: LogRequest) -> list[bytes]:
        prefix, table_name, ts_col, key_col, known = SOURCES[lr.source]
        table = self.store.table(table_name)
        lo, hi = date_to_msk_range(dt.date.fromisoformat(lr.date1), dt.date.fromisoformat(lr.date2))
        ts = table[ts_col].cast(pa.int64())
        t = table.filter(pc.and_(pc.greater_equal(ts, lo), pc.less(ts, hi)))
        t = t.sort_by([(ts_col, "ascending"), (key_col, "ascending")])
        ctx = Ctx(self.store.table("touches"), _REQUEST_ATTRIBUTION[lr.attribution])
        cols = [known[f[len(prefix) :]](t, ctx) for f in lr.fields]
        rows = ["\t".join(vals) for vals in zip(*cols, strict=True)] if cols else []
        rows = self._inject_bad(lr, t, rows, key_col, cols)
        header = "\t".join(lr.fields)
        parts = []
        for i in range(0, max(len(rows), 1), self.part_rows):
            chunk = rows[i : i + self.part_rows]
            parts.append(("\n".join([header, *chunk]) + "\n").encode())
        return parts

    def _inject_bad(
        self, lr: LogRequest, t: pa.Table, rows: list[str], key_col: str, cols: list[list[str]]
    ) -> list[str]:
        bad = self.store.malformed("metrica_" + lr.source)
        if not bad:
            return rows
        keys = [str(k) for k in t[key_col].to_pylist()]
        pos = {k: i for i, k in enumerate(keys)}
        key_field = SOURCES[lr.source][0] + key_col
        out = list(rows)
        for b in sorted(bad, key=lambda r: pos.get(r["key"], -1), reverse=True):
            i = pos.get(b["key"])
            if i is None:
                continue
            vals = [c[i] for c in cols]
            if b["kind"] == "non_numeric_id" and key_field in lr.fields:
                vals[lr.fields.index(key_field)] = "abc" + vals[lr.fields.index(key_field)][:6]
            elif len(vals) > 1:
                vals = vals[:-1]  # one tab fewer than the header
            else:
                vals = [vals[0], "extra"]
            out.insert(i + 1, "\t".join(vals))
        return out
