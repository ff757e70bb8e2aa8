"""Content catalogue: films, and series split into seasons and episodes.

The catalogue is generated for a long fixed horizon (titles released up to ~4 months after the
start date, licence changes included) and then viewed "as of" a moment, so extending a world only
reveals more of the same catalogue instead of producing a different one.
"""

from __future__ import annotations

import bisect
import dataclasses

import numpy as np

from simulator.config import DAY_MS, WorldConfig
from simulator.rng import np_rng
from simulator.world.reference import GENRE_COMPLETION, GENRES

_ADJ = (
    "Тихий",
    "Последний",
    "Северный",
    "Ночной",
    "Красный",
    "Забытый",
    "Большой",
    "Чужой",
    "Лунный",
    "Стальной",
    "Тёмный",
    "Золотой",
    "Дикий",
    "Белый",
    "Дальний",
    "Первый",
    "Вечный",
    "Горячий",
    "Железный",
    "Новый",
)
_NOUN = (
    "город",
    "берег",
    "поезд",
    "след",
    "дом",
    "ветер",
    "океан",
    "маршрут",
    "сезон",
    "шторм",
    "лес",
    "остров",
    "код",
    "мост",
    "сигнал",
    "рубеж",
    "день",
    "вальс",
    "экипаж",
    "пульс",
)
# A few awkward names on purpose: quotes and backslashes must survive every wire format.
_SPECIAL = ("Д'Артаньян и кот", 'Ocean\'s "Seven"', "Путь \\ Дом")


@dataclasses.dataclass
class Catalogue:
    """Columnar catalogue (all items, including not yet released ones)."""

    content_id: np.ndarray
    content_type: list[str]
    parent_id: list[int | None]
    series_id: list[int | None]
    season_number: list[int | None]
    episode_number: list[int | None]
    title: list[str]
    genres: list[list[str]]
    duration_sec: list[int | None]
    credits_start_sec: list[int | None]
    release_year: list[int]
    is_original: list[bool]
    is_free: list[bool]
    production_cost: list[float | None]
    licence_cost: list[float | None]
    licence_start_ms: list[int | None]
    licence_end_ms: list[int | None]
    age_rating: list[str]
    created_ms: np.ndarray  # when the item appears in the catalogue (and becomes watchable)
    update_ms: list[int | None]  # a later metadata change (licence extended), if any
    completion: np.ndarray  # base completion propensity (truth only)

    def licence_end_at(self, i: int, t_ms: int) -> int | None:
        """Licence end as known at ``t_ms`` (an update may extend it by a year)."""
        end = self.licence_end_ms[i]
        upd = self.update_ms[i]
        if end is not None and upd is not None and upd <= t_ms:
            return end + 365 * DAY_MS
        return end

    def watchable(self, i: int, t_ms: int) -> bool:
        if self.created_ms[i] > t_ms:
            return False
        end = self.licence_end_at(i, t_ms)
        return end is None or t_ms < end

    def __len__(self) -> int:
        return len(self.content_id)


def build_catalogue(cfg: WorldConfig) -> Catalogue:
    """Generate the catalogue; depends only on (seed, titles, start_date)."""
    rng = np_rng(cfg.seed, "catalogue")
    start = cfg.start_ms
    cols: dict[str, list] = {f.name: [] for f in dataclasses.fields(Catalogue)}
    next_id = 1001

    def add(**row: object) -> int:
        nonlocal next_id
        cid = next_id
        next_id += 1
        row["content_id"] = cid
        for k, v in row.items():
            cols[k].append(v)
        return cid

    names_used: dict[str, int] = {}
    for t in range(cfg.titles):
        is_series = rng.random() < 0.45
        if t < len(_SPECIAL):
            name = _SPECIAL[t]
        else:
            name = f"{_ADJ[rng.integers(len(_ADJ))]} {_NOUN[rng.integers(len(_NOUN))]}"
        names_used[name] = names_used.get(name, 0) + 1
        if names_used[name] > 1:
            name = f"{name} {names_used[name]}"  # sequels
        n_genres = int(rng.integers(1, 4))
        genres = [GENRES[g] for g in rng.choice(len(GENRES), size=n_genres, replace=False)]
        is_original = bool(rng.random() < 0.1)
        release_year = (
            int(2026 - min(40, rng.geometric(0.18) - 1)) if not is_original else int(rng.integers(2024, 2027))
        )
        # 85 % already in the catalogue at the start, the rest released over the next 4 months.
        if rng.random() < 0.85:
            created = start - int(rng.integers(1, 3 * 365)) * DAY_MS - int(rng.integers(0, DAY_MS))
        else:
            created = start + int(rng.integers(0, 120)) * DAY_MS + int(rng.integers(6, 18)) * 3_600_000
        lic_start = lic_end = None
        prod_cost = lic_cost = None
        if is_original:
            prod_cost = round(float(rng.uniform(2e7, 3e8)), 2)
        else:
            lic_cost = round(float(rng.uniform(1e6, 6e7)), 2)
            lic_start = min(created, start - 30 * DAY_MS) if created < start else created
            # Most licences run for years; some expire inside a typical simulated window.
            lic_end = (
                start + int(rng.integers(5, 60)) * DAY_MS
                if rng.random() < 0.1
                else lic_start + 3 * 365 * DAY_MS
            )
        update = (
            start + int(rng.integers(0, 90)) * DAY_MS + int(rng.integers(0, DAY_MS))
            if rng.random() < 0.2
            else None
        )
        age = ("0+", "6+", "12+", "16+", "18+")[int(rng.integers(5))]
        base_completion = float(np.mean([GENRE_COMPLETION[g] for g in genres]))
        common = dict(
            genres=genres,
            release_year=release_year,
            is_original=is_original,
            age_rating=age,
            update_ms=update,
        )
        if not is_series:
            dur = int(rng.integers(75 * 60, 135 * 60))
            credits = dur - int(dur * rng.uniform(0.02, 0.07))
            add(
                content_type="film",
                parent_id=None,
                series_id=None,
                season_number=None,
                episode_number=None,
                title=name,
                duration_sec=dur,
                credits_start_sec=credits,
                is_free=bool(rng.random() < 0.08),
                production_cost=prod_cost,
                licence_cost=lic_cost,
                licence_start_ms=lic_start,
                licence_end_ms=lic_end,
                created_ms=created,
                completion=base_completion * (1.05 - dur / 30000),
                **common,
            )
            continue
        sid = add(
            content_type="series",
            parent_id=None,
            series_id=None,
            season_number=None,
            episode_number=None,
            title=name,
            duration_sec=None,
            credits_start_sec=None,
            is_free=False,
            production_cost=prod_cost,
            licence_cost=lic_cost,
            licence_start_ms=lic_start,
            licence_end_ms=lic_end,
            created_ms=created,
            completion=base_completion,
            **common,
        )
        n_seasons = int(rng.integers(1, 5))
        ep_len = int(rng.integers(20 * 60, 60 * 60))
        # An ongoing series releases its last season weekly from its creation date on.
        weekly = bool(created >= start - 60 * DAY_MS and rng.random() < 0.5)
        for s in range(1, n_seasons + 1):
            season_created = created if not weekly or s < n_seasons else created
            ssid = add(
                content_type="season",
                parent_id=sid,
                series_id=sid,
                season_number=s,
                episode_number=None,
                title=f"{name}. Сезон {s}",
                duration_sec=None,
                credits_start_sec=None,
                is_free=False,
                production_cost=None,
                licence_cost=None,
                licence_start_ms=None,
                licence_end_ms=None,
                created_ms=season_created,
                completion=base_completion,
                **{**common, "update_ms": None},
            )
            for e in range(1, int(rng.integers(6, 11)) + 1):
                dur = int(ep_len + rng.integers(-120, 121))
                credits = dur - int(dur * rng.uniform(0.03, 0.08))
                ep_created = (
                    season_created + (e - 1) * 7 * DAY_MS if weekly and s == n_seasons else season_created
                )
                add(
                    content_type="episode",
                    parent_id=ssid,
                    series_id=sid,
                    season_number=s,
                    episode_number=e,
                    title=f"{name}. Сезон {s}. Серия {e}",
                    duration_sec=dur,
                    credits_start_sec=credits,
                    is_free=False,
                    production_cost=None,
                    licence_cost=None,
                    licence_start_ms=None,
                    licence_end_ms=None,
                    created_ms=ep_created,
                    completion=base_completion * (1.1 - dur / 30000),
                    **{**common, "update_ms": None},
                )
    cols["content_id"] = np.asarray(cols["content_id"], dtype=np.int64)
    cols["created_ms"] = np.asarray(cols["created_ms"], dtype=np.int64)
    cols["completion"] = np.clip(np.asarray(cols["completion"], dtype=np.float64), 0.05, 0.95)
    return Catalogue(**cols)


@dataclasses.dataclass
class Watchables:
    """Titles a viewer can pick on one day: films and series (episodes are reached through series)."""

    title_idx: np.ndarray  # catalogue row of the film/series
    weights: np.ndarray  # popularity (Zipf) within the available set
    genre_of: list[list[str]]


class CatalogueIndex:
    """Per-day lookup helpers over a ``Catalogue`` used by the behaviour simulation."""

    def __init__(self, cat: Catalogue, cfg: WorldConfig) -> None:
        self.cat = cat
        self.cfg = cfg
        rng = np_rng(cfg.seed, "popularity")
        self.popularity = rng.zipf(1.6, size=len(cat)).astype(np.float64) ** 0.5
        self.top_idx = [i for i, t in enumerate(cat.content_type) if t in ("film", "series")]
        self.episodes: dict[int, list[int]] = {}  # series row -> episode rows in order
        row_of = {int(c): i for i, c in enumerate(cat.content_id)}
        self.row_of = row_of
        for i, t in enumerate(cat.content_type):
            if t == "episode":
                self.episodes.setdefault(row_of[cat.series_id[i]], []).append(i)
        self._day_cache: dict[int, Watchables] = {}
        self._cum_cache: dict[tuple[int, str | None], tuple[list[int], list[float]]] = {}
        self._free_cache: dict[int, list[int]] = {}

    def watchables(self, day: int) -> Watchables:
        """Films and series watchable during the whole of simulated day ``day``."""
        cached = self._day_cache.get(day)
        if cached is not None:
            return cached
        t = self.cfg.start_ms + day * DAY_MS
        idx = [i for i in self.top_idx if self.cat.watchable(i, t) and self.cat.watchable(i, t + DAY_MS - 1)]
        idx_arr = np.asarray(idx, dtype=np.int64)
        w = self.popularity[idx_arr]
        out = Watchables(idx_arr, w / w.sum(), [self.cat.genres[i] for i in idx])
        self._day_cache[day] = out
        return out

    def pick_title(self, day: int, genre: str | None, u: float) -> int:
        """Catalogue row of a film/series by popularity, optionally within one genre."""
        key = (day, genre)
        cum = self._cum_cache.get(key)
        if cum is None:
            w = self.watchables(day)
            mask = (
                np.ones(len(w.title_idx), dtype=bool)
                if genre is None
                else np.array([genre in g for g in w.genre_of], dtype=bool)
            )
            if not mask.any():
                mask[:] = True
            rows = w.title_idx[mask]
            cw = np.cumsum(w.weights[mask])
            cum = (rows.tolist(), (cw / cw[-1]).tolist())
            self._cum_cache[key] = cum
        rows, cw = cum
        return rows[min(bisect.bisect_right(cw, u), len(rows) - 1)]

    def free_films(self, day: int) -> list[int]:
        rows = self._free_cache.get(day)
        if rows is None:
            w = self.watchables(day)
            rows = [int(i) for i in w.title_idx if self.cat.is_free[i]]
            self._free_cache[day] = rows
        return rows

    def next_episode(self, series_row: int, last_episode_row: int | None, t_ms: int) -> int | None:
        """The episode after ``last_episode_row`` (or the first one) if it is already released."""
        eps = self.episodes.get(series_row, [])
        pos = 0 if last_episode_row is None else eps.index(last_episode_row) + 1
        if pos >= len(eps) or self.cat.created_ms[eps[pos]] > t_ms:
            return None
        return eps[pos]
