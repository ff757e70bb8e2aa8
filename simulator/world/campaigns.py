"""Ad campaigns of the paid channels and the dictionary of traffic sources ("touches").

A touch is everything Metrica knows about where a visit came from (traffic source, search engine,
social network, UTM tags, Direct ids). Visits store touch ids; the sandbox expands them into the
``ym:s:<attribution>...`` fields. Both tables depend only on the seed and campaign count, never on
the simulated window, so they are identical in a world and its extension.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from simulator.config import DAY_MS, WorldConfig
from simulator.rng import key_hash, np_rng
from simulator.world.reference import (
    AD_PHRASES,
    CAMPAIGN_THEMES,
    EMAIL_NEWSLETTERS,
    NETWORKS,
    PAID_CHANNELS,
    REFERRAL_SITES,
    SEARCH_ENGINES,
    SITE,
    SOCIAL_NETWORKS,
    VAT_RATE,
)

TOUCH_FIELDS = (
    "TrafficSource",
    "AdvEngine",
    "ReferalSource",
    "SearchEngineRoot",
    "SearchEngine",
    "SocialNetwork",
    "SocialNetworkProfile",
    "DirectClickOrder",
    "DirectBannerGroup",
    "DirectClickBanner",
    "DirectClickOrderName",
    "DirectPhraseOrCond",
    "DirectPlatformType",
    "DirectPlatform",
    "DirectConditionType",
    "CurrencyID",
    "UTMCampaign",
    "UTMContent",
    "UTMMedium",
    "UTMSource",
    "UTMTerm",
    "RecommendationSystem",
    "Messenger",
)


@dataclasses.dataclass
class Campaign:
    campaign_id: int
    channel: str
    network: str
    name: str
    utm_source: str
    utm_medium: str
    utm_campaign: str
    start_day: int  # relative to the configured start date (negative = running before it)
    end_day: int | None
    cpc: float
    ctr: float
    ads: list[tuple[int, int, str, str]]  # (ad_id, ad_group_id, utm_content, phrase)
    touch_ids: list[int]  # one touch per ad


@dataclasses.dataclass
class Touches:
    """Columnar touch dictionary; row index == touch id."""

    rows: list[dict[str, str]]
    channel: list[str]
    campaign_id: list[int]
    referer: list[str]
    landing_query: list[str]
    kind: list[str]  # direct | internal | organic | social | referral | email | ad

    DIRECT = 0
    INTERNAL = 1

    def add(
        self, kind: str, channel: str, referer: str = "", query: str = "", campaign_id: int = 0, **fields: str
    ) -> int:
        row = {f: "" for f in TOUCH_FIELDS}
        row.update(fields)
        self.rows.append(row)
        self.channel.append(channel)
        self.campaign_id.append(campaign_id)
        self.referer.append(referer)
        self.landing_query.append(query)
        self.kind.append(kind)
        return len(self.rows) - 1


@dataclasses.dataclass
class Marketing:
    campaigns: list[Campaign]
    touches: Touches
    organic_touches: list[int]
    social_touches: list[int]
    referral_touches: list[int]
    email_touches: list[int]

    def active_campaigns(self, channel: str, day: int) -> list[Campaign]:
        return [
            c
            for c in self.campaigns
            if c.channel == channel and c.start_day <= day and (c.end_day is None or day < c.end_day)
        ]


def build_marketing(cfg: WorldConfig) -> Marketing:
    rng = np_rng(cfg.seed, "campaigns")
    touches = Touches([], [], [], [], [], [])
    touches.add("direct", "direct", TrafficSource="direct")
    touches.add("internal", "direct", TrafficSource="internal")
    organic = [
        touches.add(
            "organic",
            "organic_search",
            referer=ref,
            TrafficSource="organic",
            SearchEngineRoot=root,
            SearchEngine=engine,
        )
        for root, engine, ref in SEARCH_ENGINES
    ]
    social = [
        touches.add(
            "social",
            "social",
            referer=ref,
            TrafficSource="social",
            SocialNetwork=name,
            SocialNetworkProfile=f"kinoexample_{name}",
        )
        for name, ref in SOCIAL_NETWORKS
    ]
    referral = [
        touches.add(
            "referral",
            "referral",
            referer=f"https://{site}/article/{k}",
            TrafficSource="referral",
            ReferalSource=site,
        )
        for k, site in enumerate(REFERRAL_SITES)
    ]
    email = [
        touches.add(
            "email",
            "email",
            query=f"utm_source=email&utm_medium=email&utm_campaign={n}",
            TrafficSource="email",
            UTMSource="email",
            UTMMedium="email",
            UTMCampaign=n,
        )
        for n in EMAIL_NEWSLETTERS
    ]
    campaigns: list[Campaign] = []
    for channel in PAID_CHANNELS:
        net = NETWORKS[channel]
        for k in range(cfg.campaigns_per_channel):
            theme = CAMPAIGN_THEMES[k % len(CAMPAIGN_THEMES)]
            cid = int(net["id_base"] + k * 1117 + int(rng.integers(0, 1000)))
            # Campaign 0 runs all the time so a paid arrival always has a campaign; others come and go.
            start_day = -60 if k == 0 else int(rng.integers(-20, 45))
            end_day = None if k == 0 or rng.random() < 0.6 else start_day + int(rng.integers(10, 50))
            suffix = "" if k < len(CAMPAIGN_THEMES) else f"_{k}"
            utm_campaign = f"kino_{theme}{suffix}_{net['utm_source']}"
            name = f"Кино | {theme}{suffix} | {net['network']}"
            lo, hi = net["cpc"]
            clo, chi = net["ctr"]
            ads = []
            tids = []
            for a in range(3):
                ad_id = int(15_000_000_000 + key_hash(cfg.seed, "ad", cid, a) % 900_000_000)
                group_id = int(5_200_000_000 + key_hash(cfg.seed, "adgroup", cid, a % 2) % 90_000_000)
                phrase = AD_PHRASES[int(rng.integers(len(AD_PHRASES)))] if channel == "yandex_direct" else ""
                content = f"ad{a + 1}_{theme}"
                ads.append((ad_id, group_id, content, phrase))
                query = (
                    f"utm_source={net['utm_source']}&utm_medium={net['utm_medium']}&utm_campaign={utm_campaign}"
                    f"&utm_content={content}"
                )
                fields = dict(
                    TrafficSource="ad",
                    AdvEngine=net["adv_engine"],
                    UTMSource=net["utm_source"],
                    UTMMedium=net["utm_medium"],
                    UTMCampaign=utm_campaign,
                    UTMContent=content,
                    CurrencyID="643",
                )
                referer = (
                    "https://vk.com/"
                    if channel == "vk_ads"
                    else ("https://ok.ru/" if channel == "other_paid" else "")
                )
                if channel == "yandex_direct":
                    query += "&utm_term=" + phrase.replace(" ", "+")
                    fields.update(
                        UTMTerm=phrase,
                        DirectClickOrder=str(cid),
                        DirectBannerGroup=str(group_id),
                        DirectClickBanner=str(ad_id),
                        DirectClickOrderName=name,
                        DirectPhraseOrCond=phrase,
                        DirectPlatformType="desktop",
                        DirectPlatform="yandex.ru",
                        DirectConditionType="phrase",
                    )
                    referer = "https://yandex.ru/search/ads?text=" + phrase.replace(" ", "+")
                tids.append(
                    touches.add("ad", channel, referer=referer, query=query, campaign_id=cid, **fields)
                )
            campaigns.append(
                Campaign(
                    cid,
                    channel,
                    net["network"],
                    name,
                    net["utm_source"],
                    net["utm_medium"],
                    utm_campaign,
                    start_day,
                    end_day,
                    float(rng.uniform(lo, hi)),
                    float(rng.uniform(clo, chi)),
                    ads,
                    tids,
                )
            )
    return Marketing(campaigns, touches, organic, social, referral, email)


def landing_url(touches: Touches, touch_id: int, yclid: int = 0) -> str:
    query = touches.landing_query[touch_id]
    if yclid:
        query = f"{query}&yclid={yclid}" if query else f"yclid={yclid}"
    return f"{SITE}/?{query}" if query else f"{SITE}/"


AD_NETWORK_TYPES = ("SEARCH", "AD_NETWORK")
DEVICES = ("DESKTOP", "MOBILE", "TABLET")


def ad_daily_stats(cfg: WorldConfig, mk: Marketing, clicks_from_arrivals: dict[tuple[int, int], int]) -> dict:
    """Daily impressions/clicks/cost per campaign (split by network type and device for Direct).

    ``clicks_from_arrivals`` maps (campaign_id, day) to the number of people who arrived through
    it; clicks are that count plus clicks that never turned into a counted visit, so every paid
    arrival is backed by a click and cost-per-arrival is realistic. Each (campaign, day) draws from
    its own stream, so days before an extension's old horizon keep their numbers.
    """
    out: dict[str, list] = {
        k: []
        for k in (
            "date_ms",
            "campaign_id",
            "network",
            "ad_network_type",
            "device",
            "impressions",
            "clicks",
            "cost",
        )
    }
    for camp in mk.campaigns:
        for day in range(cfg.first_day, cfg.days):
            if day < camp.start_day or (camp.end_day is not None and day >= camp.end_day):
                continue
            rng = np_rng(cfg.seed, "adstats", camp.campaign_id, day + 1_000_000)
            arrivals = clicks_from_arrivals.get((camp.campaign_id, day), 0)
            lost = int(rng.poisson(max(1.0, arrivals * 0.35)))
            clicks_total = arrivals + lost
            splits = (
                [(nt, dv) for nt in AD_NETWORK_TYPES for dv in DEVICES]
                if camp.network == "yandex_direct"
                else [("AD_NETWORK", "ALL")]
            )
            weights = rng.dirichlet(np.ones(len(splits)) * 2.0)
            parts = rng.multinomial(clicks_total, weights)
            for (nt, dv), clicks in zip(splits, parts, strict=True):
                ctr = camp.ctr * (2.5 if nt == "SEARCH" else 0.6)
                impressions = int(clicks / ctr) + int(rng.integers(0, 40))
                cost = round(float(clicks) * camp.cpc * float(rng.uniform(0.85, 1.15)), 2)
                if impressions == 0 and clicks == 0:
                    continue
                out["date_ms"].append(cfg.start_ms + day * DAY_MS)
                out["campaign_id"].append(camp.campaign_id)
                out["network"].append(camp.network)
                out["ad_network_type"].append(nt)
                out["device"].append(dv)
                out["impressions"].append(impressions)
                out["clicks"].append(int(clicks))
                out["cost"].append(cost)
    return out


def with_vat(cost: float) -> float:
    return round(cost * (1 + VAT_RATE), 2)
