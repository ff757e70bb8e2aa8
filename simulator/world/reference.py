"""Fixed reference data and behaviour parameters of the synthetic platform.

The numbers are chosen so that analytics has something real to find: channels differ in
registration, trial and conversion rates and in retention; content differs in completion;
originals lower churn ("churn-savers"); heavy buffering raises it; annual plans churn less.
"""

from __future__ import annotations

import dataclasses

MSK_OFFSET_MS = 3 * 3_600_000  # Europe/Moscow is UTC+3 all year (no DST since 2014)
VAT_RATE = 0.22  # Russian VAT from 2026-01-01; Direct costs "IncludeVAT: YES" add it on top


@dataclasses.dataclass(frozen=True)
class Channel:
    """True acquisition channel and how people arriving through it behave."""

    name: str
    share: float  # share of arrivals
    p_register: float
    p_trial: float  # chance a new registrant starts a trial right away
    p_convert: float  # base chance a trial turns into a paid subscription
    churn_mult: float  # multiplier on the monthly voluntary-churn hazard
    activity: float  # multiplier on how often people come back
    web_share: float  # share of arrivals landing on the web (rest install the app)


CHANNELS: tuple[Channel, ...] = (
    Channel("yandex_direct", 0.22, 0.24, 0.70, 0.55, 1.00, 1.00, 0.70),
    Channel("vk_ads", 0.15, 0.18, 0.62, 0.42, 1.35, 0.85, 0.45),
    Channel("other_paid", 0.08, 0.14, 0.55, 0.35, 1.50, 0.75, 0.50),
    Channel("organic_search", 0.20, 0.28, 0.72, 0.60, 0.85, 1.10, 0.80),
    Channel("direct", 0.12, 0.35, 0.75, 0.66, 0.70, 1.25, 0.65),
    Channel("referral", 0.08, 0.31, 0.70, 0.58, 0.80, 1.05, 0.75),
    Channel("social", 0.10, 0.17, 0.58, 0.40, 1.25, 0.90, 0.50),
    Channel("email", 0.05, 0.41, 0.78, 0.62, 0.75, 1.15, 0.85),
)
CHANNEL_NAMES = tuple(c.name for c in CHANNELS)
CHANNEL_INDEX = {c.name: i for i, c in enumerate(CHANNELS)}
PAID_CHANNELS = ("yandex_direct", "vk_ads", "other_paid")

# Ad networks behind the paid channels.
NETWORKS = {
    "yandex_direct": dict(
        network="yandex_direct",
        utm_source="yandex",
        utm_medium="cpc",
        id_base=104_690_000,
        publisher="Yandex.Direct",
        cpc=(28.0, 46.0),
        ctr=(0.035, 0.07),
        adv_engine="ya_direct",
    ),
    "vk_ads": dict(
        network="vk_ads",
        utm_source="vk",
        utm_medium="cpc",
        id_base=61_240_000,
        publisher="VK Ads",
        cpc=(14.0, 26.0),
        ctr=(0.006, 0.015),
        adv_engine="vkontakte",
    ),
    "other_paid": dict(
        network="mytarget",
        utm_source="mytarget",
        utm_medium="cpm",
        id_base=8_730_000,
        publisher="myTarget",
        cpc=(9.0, 19.0),
        ctr=(0.004, 0.011),
        adv_engine="mytarget",
    ),
}
CAMPAIGN_THEMES = ("brand", "films", "series", "originals", "retarget", "kids", "sport")
AD_PHRASES = (
    "смотреть фильмы онлайн",
    "онлайн кинотеатр",
    "сериалы бесплатно",
    "новинки кино",
    "кинотеатр подписка",
    "смотреть сериал",
    "фильмы в hd",
)

SEARCH_ENGINES = (
    ("yandex", "yandex_search", "https://yandex.ru/search/?text=%D0%BA%D0%B8%D0%BD%D0%BE"),
    ("google", "google_search", "https://www.google.com/"),
)
SOCIAL_NETWORKS = (
    ("vkontakte", "https://vk.com/"),
    ("telegram", "https://t.me/"),
    ("odnoklassniki", "https://ok.ru/"),
    ("dzen", "https://dzen.ru/"),
)
REFERRAL_SITES = ("kinopoisk.ru", "kino-teatr.ru", "pikabu.ru", "habr.com", "film.ru", "afisha.ru")
EMAIL_NEWSLETTERS = ("weekly_digest", "new_releases", "winback", "trial_reminder")

SITE = "https://kino.example"
APP_PACKAGE = "ru.kinoexample.app"


@dataclasses.dataclass(frozen=True)
class City:
    name_en: str
    name_ru: str
    region_ru: str
    region_id: int  # Yandex geo id
    weight: float
    ip_prefix: str


CITIES: tuple[City, ...] = (
    City("Moscow", "Москва", "Москва", 213, 0.30, "95.165"),
    City("Saint Petersburg", "Санкт-Петербург", "Санкт-Петербург", 2, 0.14, "188.242"),
    City("Novosibirsk", "Новосибирск", "Новосибирская область", 65, 0.05, "46.146"),
    City("Yekaterinburg", "Екатеринбург", "Свердловская область", 54, 0.05, "85.113"),
    City("Kazan", "Казань", "Республика Татарстан", 43, 0.05, "95.26"),
    City("Nizhny Novgorod", "Нижний Новгород", "Нижегородская область", 47, 0.04, "91.227"),
    City("Krasnodar", "Краснодар", "Краснодарский край", 35, 0.05, "92.38"),
    City("Samara", "Самара", "Самарская область", 51, 0.04, "94.180"),
    City("Rostov-on-Don", "Ростов-на-Дону", "Ростовская область", 39, 0.04, "176.15"),
    City("Ufa", "Уфа", "Республика Башкортостан", 172, 0.03, "95.105"),
    City("Voronezh", "Воронеж", "Воронежская область", 193, 0.03, "80.82"),
    City("Perm", "Пермь", "Пермский край", 50, 0.03, "81.30"),
    City("Krasnoyarsk", "Красноярск", "Красноярский край", 62, 0.03, "94.19"),
    City("Chelyabinsk", "Челябинск", "Челябинская область", 56, 0.03, "5.164"),
    City("Tver", "Тверь", "Тверская область", 14, 0.02, "62.118"),
    City("", "", "", 0, 0.07, "176.59"),  # Metrica could not resolve the city
)


@dataclasses.dataclass(frozen=True)
class Plan:
    plan_id: str
    name: str
    price: str  # RUB, 2 decimals, as YooKassa sends amounts
    period_months: int
    trial_days: int
    churn_mult: float


PLANS: tuple[Plan, ...] = (
    Plan("monthly", "Подписка Кино: месяц", "399.00", 1, 7, 1.0),
    Plan("annual", "Подписка Кино: год", "3990.00", 12, 7, 0.35),
    Plan("premium_monthly", "Подписка Кино Премиум: месяц", "599.00", 1, 0, 0.9),
)
PLAN_INDEX = {p.plan_id: i for i, p in enumerate(PLANS)}
PLAN_WEIGHTS = (0.70, 0.15, 0.15)
TRIAL_PRICE = "1.00"  # card-binding charge that starts a trial

CANCEL_REASONS = ("too_expensive", "not_enough_content", "technical_issues", "switched_service", "other")
DECLINE_REASONS = (
    ("insufficient_funds", 0.62),
    ("card_expired", 0.12),
    ("payment_method_restricted", 0.08),
    ("general_decline", 0.12),
    ("issuer_unavailable", 0.06),
)
RETRY_DELAYS_DAYS = (1, 3, 5)

GENRES = (
    "drama",
    "comedy",
    "thriller",
    "action",
    "documentary",
    "animation",
    "horror",
    "fantasy",
    "crime",
    "romance",
    "family",
    "sci-fi",
)
# Completion propensity by genre (share of started views that reach the credits).
GENRE_COMPLETION = {
    "drama": 0.52,
    "comedy": 0.64,
    "thriller": 0.58,
    "action": 0.55,
    "documentary": 0.33,
    "animation": 0.70,
    "horror": 0.45,
    "fantasy": 0.50,
    "crime": 0.57,
    "romance": 0.48,
    "family": 0.66,
    "sci-fi": 0.49,
}

# Metrica goal ids configured on the counter.
GOAL_REGISTRATION = 312457001
GOAL_TRIAL_START = 312457002
GOAL_PAYMENT = 312457003

BROWSERS = (
    ("chrome", 0.42),
    ("yandex_browser", 0.30),
    ("safari", 0.12),
    ("firefox", 0.06),
    ("edge", 0.05),
    ("opera", 0.05),
)
ANDROID_MODELS = (
    ("Samsung", "Galaxy A54"),
    ("Xiaomi", "Redmi Note 12"),
    ("Samsung", "Galaxy S23"),
    ("Huawei", "nova 11"),
    ("realme", "C55"),
    ("Xiaomi", "POCO X5"),
    ("HONOR", "X8a"),
)
IOS_MODELS = (
    ("Apple", "iPhone 13"),
    ("Apple", "iPhone 14"),
    ("Apple", "iPhone 15 Pro"),
    ("Apple", "iPhone 12"),
    ("Apple", "iPad Air"),
)
OPERATORS = (("MTS", "01"), ("MegaFon", "02"), ("Beeline", "99"), ("Tele2", "20"))
TV_MODELS = ("Samsung Tizen", "LG webOS", "Android TV", "Yandex TV", "Salute TV")
APP_VERSIONS = (("5.11.2", "51102"), ("5.12.0", "51200"), ("5.12.1", "51201"))

APP_SCREENS = ("home", "catalog", "search", "title", "profile", "subscription")
