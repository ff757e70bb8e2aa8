"""Yandex Direct Reports API v5 (``POST /json/v5/reports``) over a generated world.

Offline mode (the default ``processingMode: auto``): the first request answers 201, then 202 for
``ready_after_polls`` more identical requests (each with a ``retryIn`` header), then 200 with the TSV
report. ``processingMode: online`` answers 200 at once. Reports are identified by ``ReportName``;
re-using a name with different parameters is an error, as in the real API.
"""

from __future__ import annotations

import datetime as dt
import itertools
import threading

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from simulator.sandbox.http import Request, Response, ServiceApp
from simulator.sandbox.store import WorldStore
from simulator.world.reference import VAT_RATE

DIMENSIONS = ("Date", "CampaignId", "CampaignName", "CampaignType", "AdNetworkType", "Device")
METRICS = ("Impressions", "Clicks", "Cost", "Ctr", "AvgCpc")
REPORT_TYPES = ("CAMPAIGN_PERFORMANCE_REPORT", "CUSTOM_REPORT", "ACCOUNT_PERFORMANCE_REPORT")
DATE_RANGES = {
    "CUSTOM_DATE": None,
    "YESTERDAY": 1,
    "LAST_3_DAYS": 3,
    "LAST_5_DAYS": 5,
    "LAST_7_DAYS": 7,
    "LAST_14_DAYS": 14,
    "LAST_30_DAYS": 30,
    "LAST_90_DAYS": 90,
    "ALL_TIME": 10_000,
}


class DirectApp(ServiceApp):
    name = "direct"

    def __init__(
        self,
        store: WorldStore,
        token: str = "sandbox-direct-token",
        ready_after_polls: int = 1,
        retry_in: int = 1,
    ) -> None:
        super().__init__()
        self.store = store
        self.token = token
        self.ready_after_polls = ready_after_polls
        self.retry_in = retry_in
        self.reports: dict[str, dict] = {}
        self.request_ids = itertools.count(8_695_244_274_068_600_001)
        self.state_lock = threading.Lock()
        self.route("POST", r"/json/v5/reports", self.reports_handler)

    def error_response(self, status: int, message: str, code: int = 1000, detail: str = "") -> Response:
        rid = str(next(self.request_ids))
        body = {
            "error": {
                "request_id": rid,
                "error_code": str(code),
                "error_string": message,
                "error_detail": detail or message,
            }
        }
        return Response.json(body, status, headers=[("RequestId", rid)])

    def reports_handler(self, req: Request) -> Response:
        auth = req.header("authorization") or ""
        if not auth.startswith("Bearer ") or auth[7:].strip() != self.token:
            return self.error_response(400, "Authorization error", 53, "Invalid OAuth token")
        login = req.header("client-login")
        if login is not None and login != self.store.cfg.direct_client_login:
            return self.error_response(400, "No rights", 54, f"No rights to access client {login}")
        try:
            params = orjson.loads(req.body)["params"]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            return self.error_response(
                400, "Invalid request", 8000, 'Request body must be JSON {"params": {...}}'
            )
        spec, err = self._validate(params)
        if err:
            return self.error_response(400, "Invalid request parameters", 4000, err)
        name = params["ReportName"]
        signature = orjson.dumps(params, option=orjson.OPT_SORT_KEYS) + orjson.dumps(
            {
                k: req.header(k)
                for k in ("returnmoneyinmicros", "skipreportheader", "skipcolumnheader", "skipreportsummary")
            },
            option=orjson.OPT_SORT_KEYS,
        )
        mode = (req.header("processingmode") or "auto").lower()
        with self.state_lock:
            rep = self.reports.get(name)
            if rep is not None and rep["signature"] != signature:
                return self.error_response(
                    400,
                    "Invalid request parameters",
                    4000,
                    "A report with this ReportName and different parameters already exists",
                )
            if mode != "online" and self.ready_after_polls > 0:
                if rep is None:
                    self.reports[name] = {"signature": signature, "polls": 0}
                    return self._pending(201)
                if rep["polls"] < self.ready_after_polls:
                    rep["polls"] += 1
                    return self._pending(202)
        return self._render(spec, params, req)

    def _pending(self, status: int) -> Response:
        rid = str(next(self.request_ids))
        queued = sum(1 for r in self.reports.values() if r["polls"] < self.ready_after_polls)
        return Response(
            status,
            b"",
            "text/plain; charset=utf-8",
            [("RequestId", rid), ("retryIn", str(self.retry_in)), ("reportsInQueue", str(queued))],
        )

    def _validate(self, p: dict) -> tuple[dict, str | None]:
        for key in ("ReportName", "ReportType", "DateRangeType", "FieldNames", "Format", "IncludeVAT"):
            if key not in p:
                return {}, f"Missing required parameter {key}"
        if p["Format"] != "TSV":
            return {}, "Format must be TSV"
        if p["ReportType"] not in REPORT_TYPES:
            return {}, f"ReportType {p['ReportType']} is not supported by the sandbox"
        if p["DateRangeType"] not in DATE_RANGES:
            return {}, f"Unknown DateRangeType {p['DateRangeType']}"
        fields = p["FieldNames"]
        unknown = [f for f in fields if f not in DIMENSIONS + METRICS]
        if unknown:
            return {}, f"Unknown FieldNames: {', '.join(unknown)}"
        last = self.store.today_msk - dt.timedelta(days=1)
        if p["DateRangeType"] == "CUSTOM_DATE":
            sc = p.get("SelectionCriteria") or {}
            try:
                d1, d2 = dt.date.fromisoformat(sc["DateFrom"]), dt.date.fromisoformat(sc["DateTo"])
            except (KeyError, ValueError):
                return {}, "SelectionCriteria.DateFrom and DateTo (YYYY-MM-DD) are required for CUSTOM_DATE"
            if d1 > d2:
                return {}, "DateFrom is later than DateTo"
        else:
            n = DATE_RANGES[p["DateRangeType"]]
            d2 = last
            d1 = last - dt.timedelta(days=n - 1)
        campaign_ids = None
        for flt in (p.get("SelectionCriteria") or {}).get("Filter", []) or []:
            if flt.get("Field") != "CampaignId" or flt.get("Operator") not in ("IN", "EQUALS"):
                return {}, "Only CampaignId IN/EQUALS filters are supported by the sandbox"
            campaign_ids = [int(v) for v in flt.get("Values", [])]
        return {"d1": d1, "d2": d2, "fields": fields, "campaign_ids": campaign_ids}, None

    def _render(self, spec: dict, params: dict, req: Request) -> Response:
        stats = self.store.table("ad_stats")
        camps = self.store.table("campaigns")
        names = dict(zip(camps["campaign_id"].to_pylist(), camps["campaign_name"].to_pylist(), strict=True))
        t = stats.filter(pc.equal(stats["network"], "yandex_direct"))
        t = t.filter(
            pc.and_(
                pc.greater_equal(t["date"], pa.scalar(spec["d1"], pa.date32())),
                pc.less_equal(t["date"], pa.scalar(spec["d2"], pa.date32())),
            )
        )
        if spec["campaign_ids"] is not None:
            t = t.filter(pc.is_in(t["campaign_id"], pa.array(spec["campaign_ids"], pa.int64())))
        fields = spec["fields"]
        dims = [f for f in fields if f in DIMENSIONS]
        vat = 1 + VAT_RATE if params.get("IncludeVAT") == "YES" else 1.0
        micros = (req.header("returnmoneyinmicros") or "true").lower() != "false"
        groups: dict[tuple, list[float]] = {}
        for r in t.to_pylist():
            key_vals = {
                "Date": r["date"].isoformat(),
                "CampaignId": r["campaign_id"],
                "CampaignName": names.get(r["campaign_id"], ""),
                "CampaignType": "TEXT_CAMPAIGN",
                "AdNetworkType": r["ad_network_type"],
                "Device": r["device"],
            }
            key = tuple(key_vals[d] for d in dims)
            acc = groups.setdefault(key, [0, 0, 0.0])
            acc[0] += r["impressions"]
            acc[1] += r["clicks"]
            acc[2] += r["cost"]
        order = (params.get("OrderBy") or [{}])[0]
        keys = sorted(groups, reverse=order.get("SortOrder") == "DESCENDING")
        limit = ((params.get("Page") or {}).get("Limit")) or 1_000_000
        lines = []
        if (req.header("skipreportheader") or "").lower() != "true":
            lines.append(f'"{params["ReportName"]} ({spec["d1"]} - {spec["d2"]})"')
        if (req.header("skipcolumnheader") or "").lower() != "true":
            lines.append("\t".join(fields))
        rows = 0
        for key in keys[:limit]:
            imp, clicks, cost = groups[key]
            cost *= vat
            dv = dict(zip(dims, key, strict=True))
            vals = {
                "Impressions": str(imp),
                "Clicks": str(clicks),
                "Cost": _money(cost, micros),
                "Ctr": f"{clicks / imp * 100:.2f}" if imp else "--",
                "AvgCpc": _money(cost / clicks, micros) if clicks else "--",
            }
            lines.append("\t".join(str(dv[f]) if f in dv else vals[f] for f in fields))
            rows += 1
        for b in self.store.malformed("direct_stats"):
            if spec["d1"] <= b["day"] <= spec["d2"] and "Cost" in fields:
                vals = {
                    "Date": b["day"].isoformat(),
                    "CampaignId": b["key"],
                    "CampaignName": names.get(int(b["key"]), ""),
                    "CampaignType": "TEXT_CAMPAIGN",
                    "AdNetworkType": "SEARCH",
                    "Device": "DESKTOP",
                    "Impressions": "1",
                    "Clicks": "1",
                    "Cost": "abc",
                    "Ctr": "100.00",
                    "AvgCpc": "abc",
                }
                lines.append("\t".join(vals[f] for f in fields))
                rows += 1
        if (req.header("skipreportsummary") or "").lower() != "true":
            lines.append(f"Total rows: {rows}")
        rid = str(next(self.request_ids))
        return Response(
            200,
            ("\n".join(lines) + "\n").encode(),
            "text/tab-separated-values; charset=utf-8",
            [("RequestId", rid)],
        )


def _money(value: float, micros: bool) -> str:
    return str(int(round(value * 1_000_000))) if micros else f"{value:.2f}"
