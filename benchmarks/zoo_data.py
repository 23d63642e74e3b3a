"""Synthetic movie-style ratings for the query zoo: items are never repeated by a user.

Tables (Parquet) plus a ``graph.yaml`` in the demo generator's format:

- ``users(user_id, signup_time, country, age)``
- ``movies(item_id, genre, release_time, runtime)``, the items: 40 % of the catalogue is out at
  the start, the rest is released over the two years (``--item-table items`` names the table
  ``items``, a name torch's ``ModuleDict`` reserves, which the GNN handles).
- ``ratings(rating_id, user_id, item_id, rating, genre, timestamp)``: the item's genre is copied
  onto the rating (as event logs often carry it), so ``FIRST(ratings.genre, ...)`` is a multiclass
  target.

What carries signal:

- each user rates an item at most once, so "the items you had" never come back;
- users belong to hidden taste clusters (a few preferred genres and a per-cluster affinity for
  single items), so what similar users rated predicts what a user rates next, beyond popularity;
- popularity drifts: new releases peak and decay at their own pace, and every item's appeal
  follows a monthly random walk;
- activity: heavy-tailed rates and a lifetime after which a user stops rating; ratings are higher
  for items the user's cluster likes.

Deterministic by seed (one numpy generator, fixed order of draws).

    .venv/bin/python benchmarks/zoo_data.py OUT --users 2500 --seed 0
"""

from __future__ import annotations

import argparse
from datetime import datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

START = datetime(2023, 1, 1)
SPAN_DAYS = 730  # 2023-01-01 .. 2024-12-31
MONTHS = 25  # popularity is drawn per 30-day step over the span (and a little beyond)
GENRES = ["drama", "comedy", "action", "thriller", "romance", "scifi", "horror", "documentary",
          "animation", "crime", "fantasy", "family"]
GENRE_P = np.array([0.16, 0.14, 0.11, 0.09, 0.08, 0.07, 0.06, 0.06, 0.06, 0.06, 0.06, 0.05])
COUNTRIES = ["us", "uk", "de", "fr", "br", "in", "jp"]
COUNTRY_P = [0.35, 0.12, 0.12, 0.1, 0.11, 0.12, 0.08]
CLUSTERS = 10
RATINGS_PER_USER = 45.0
MAX_PER_USER = 250

_DAY_US = 86_400_000_000
_START_US = int(np.datetime64(START, "us").astype(np.int64))


def generate(out_dir: str | Path, users: int = 2500, items: int | None = None, seed: int = 0,
             item_table: str = "movies") -> dict[str, int]:
    """Write users / items / ratings Parquet files and ``graph.yaml`` into ``out_dir``; row counts."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    n_items = int(items if items is not None else min(600, max(300, users // 5)))
    rng = np.random.default_rng(seed)

    # items: genre, release day (fractional days since START), base appeal, lifecycle
    genre = rng.choice(len(GENRES), size=n_items, p=GENRE_P)
    catalogue = rng.random(n_items) < 0.4
    release = np.where(catalogue, -60.0 * rng.random(n_items), SPAN_DAYS * rng.random(n_items))
    base = rng.lognormal(0.0, 1.0, size=n_items)
    decay = rng.uniform(45.0, 365.0, size=n_items)
    walk = np.cumsum(rng.normal(0.0, 0.25, size=(n_items, MONTHS)), axis=1)
    mid = 30.0 * np.arange(MONTHS) + 15.0  # middle day of each 30-day step
    age = mid[None, :] - release[:, None]
    life = np.where(catalogue[:, None], 0.6, 0.25 + np.exp(-np.maximum(age, 0.0) / decay[:, None]))
    pop = base[:, None] * life * np.exp(walk)  # [items, months]; unreleased items masked per rating
    quality = rng.normal(0.0, 0.5, size=n_items)

    # taste clusters: preferred genres and item affinities
    genre_pref = rng.dirichlet(np.full(len(GENRES), 0.35), size=CLUSTERS)  # [clusters, genres]
    aff_z = rng.normal(0.0, 1.0, size=(CLUSTERS, n_items))
    affinity = np.exp(1.2 * aff_z) * (0.05 + genre_pref[:, genre])  # [clusters, items]
    weights = affinity[:, None, :] * pop.T[None, :, :]  # [clusters, months, items]

    # users: signup, activity, lifetime, cluster, rating bias
    signup = np.where(rng.random(users) < 0.3, 0.0, SPAN_DAYS * 0.9 * rng.random(users) ** 1.2)
    rate = np.minimum(rng.lognormal(0.0, 0.8, size=users), 8.0)
    lifetime = 30.0 + rng.exponential(250.0 * rate ** 0.4)
    stop = np.minimum(signup + lifetime, SPAN_DAYS - 1e-3)
    cluster = rng.integers(0, CLUSTERS, size=users)
    bias = rng.normal(0.0, 0.5, size=users)
    mean_rate = float(np.mean(rate * (stop - signup)))
    counts = np.minimum(rng.poisson(RATINGS_PER_USER * rate * (stop - signup) / mean_rate), MAX_PER_USER)
    counts = np.minimum(counts, n_items // 2)

    owner_l, item_l, when_l = [], [], []
    for u in range(users):
        n = int(counts[u])
        if n == 0:
            continue
        when = np.sort(signup[u] + (stop[u] - signup[u]) * rng.random(n))
        month = np.minimum((when // 30).astype(np.int64), MONTHS - 1)
        w = weights[cluster[u], month].copy()  # [n, items]
        chosen = np.empty(n, dtype=np.int64)
        taken = np.zeros(n_items, dtype=bool)
        draws = rng.random(n)
        for j in range(n):
            row = np.where(taken | (release >= when[j]), 0.0, w[j])
            cum = np.cumsum(row)
            if cum[-1] <= 0:
                chosen[j] = -1
                continue
            pick = int(np.searchsorted(cum, draws[j] * cum[-1], side="right"))
            pick = min(pick, n_items - 1)
            chosen[j] = pick
            taken[pick] = True
        keep = chosen >= 0
        owner_l.append(np.full(int(keep.sum()), u))
        item_l.append(chosen[keep])
        when_l.append(when[keep])
    owner = np.concatenate(owner_l)
    item = np.concatenate(item_l)
    when = np.concatenate(when_l)
    order = np.lexsort((owner, when))
    owner, item, when = owner[order], item[order], when[order]
    score = (3.3 + bias[owner] + 0.45 * aff_z[cluster[owner], item] + quality[item]
             + rng.normal(0.0, 0.7, size=len(owner)))
    rating = np.clip(np.round(score), 1, 5).astype(np.float64)

    tables = {
        "users": pa.table({
            "user_id": pa.array(np.arange(1, users + 1, dtype=np.int64)),
            "signup_time": _timestamps(signup),
            "country": _labels(COUNTRIES, rng.choice(len(COUNTRIES), size=users, p=COUNTRY_P)),
            "age": pa.array(np.clip(np.round(rng.normal(34, 11, size=users)), 16, 80).astype(np.int64)),
        }),
        item_table: pa.table({
            "item_id": pa.array(np.arange(1, n_items + 1, dtype=np.int64)),
            "genre": _labels(GENRES, genre),
            "release_time": _timestamps(release),
            "runtime": pa.array(np.round(rng.normal(105, 18, size=n_items)).astype(np.int64)),
        }),
        "ratings": pa.table({
            "rating_id": pa.array(np.arange(1, len(owner) + 1, dtype=np.int64)),
            "user_id": pa.array(owner.astype(np.int64) + 1),
            "item_id": pa.array(item.astype(np.int64) + 1),
            "rating": pa.array(rating),
            "genre": _labels(GENRES, genre[item]),
            "timestamp": _timestamps(when),
        }),
    }
    for name, table in tables.items():
        pq.write_table(table, out / f"{name}.parquet", compression="zstd")
    (out / "graph.yaml").write_text(graph_yaml(seed, item_table), encoding="utf-8")
    return {name: t.num_rows for name, t in tables.items()}


def _labels(names: list[str], codes: np.ndarray) -> pa.Array:
    return pa.array(names, pa.string()).take(pa.array(np.asarray(codes, dtype=np.int64)))


def _timestamps(days: np.ndarray) -> pa.Array:
    micros = _START_US + np.floor(np.asarray(days) * 86_400).astype(np.int64) * 1_000_000
    return pa.array(micros.astype("datetime64[us]"), pa.timestamp("us"))


def graph_yaml(seed: int, item_table: str = "movies") -> str:
    return f"""\
# relpredict graph: synthetic ratings for the query zoo (benchmarks/zoo_data.py, seed {seed})
name: zoo_ratings
data: .
tables:
  users:
    file: users.parquet
    primary_key: user_id
    time_column: signup_time
  {item_table}:
    file: {item_table}.parquet
    primary_key: item_id
    time_column: release_time
  ratings:
    file: ratings.parquet
    primary_key: rating_id
    foreign_keys: {{user_id: users, item_id: {item_table}}}
    time_column: timestamp
    stypes: {{rating: numerical, genre: categorical}}
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("--users", type=int, default=2500)
    parser.add_argument("--items", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--item-table", default="movies", help="name of the items table")
    args = parser.parse_args()
    print(generate(args.out, users=args.users, items=args.items, seed=args.seed, item_table=args.item_table))


if __name__ == "__main__":
    main()
