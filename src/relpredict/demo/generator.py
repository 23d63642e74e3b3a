"""Synthetic online store: Parquet tables plus a ``graph.yaml`` that describes them.

The data is made for trying relpredict end to end, so its history must carry signal a model can
learn, not noise:

- churn: every customer has a lifetime after which they stop buying; it is shorter for
  low-frequency customers and for the ``budget`` segment, both visible in the history;
- spend: a customer's price tier (tied to segment) decides which products they pick;
- next products: each customer re-buys a small personal set of favourites and shops in one or
  two preferred categories, on top of a Zipf-like global popularity;
- seasonality: more orders at weekends and in November/December.

Everything is vectorised numpy (no loop per customer or per row), drawn from one seeded
generator, so the same seed gives the same tables; files are written under a temporary name and
moved into place with ``os.replace`` so readers never see a half-written file.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from relpredict.errors import ConfigError

__all__ = ["DemoSummary", "generate", "START", "END", "MIN_CUSTOMERS"]

START = datetime(2023, 1, 1)
END = datetime(2025, 1, 1)  # exclusive: the data covers 2023-01-01 .. 2024-12-31
MIN_CUSTOMERS = 10
TX_PER_CUSTOMER = 10.0

_DAY_US = 86_400_000_000
_SPAN_DAYS = (END - START).days
_START_US = int(np.datetime64(START, "us").astype(np.int64))

REGIONS = ["us-east", "us-west", "eu", "uk", "apac", "latam"]
REGION_P = [0.27, 0.2, 0.22, 0.1, 0.14, 0.07]
SEGMENTS = ["budget", "regular", "premium", "vip"]
SEGMENT_P = [0.35, 0.4, 0.2, 0.05]
SEGMENT_TIER = np.array([0, 1, 2, 2])  # price tier each segment prefers
SEGMENT_LIFETIME_DAYS = np.array([110.0, 220.0, 380.0, 600.0])  # mean lifetime at median rate
ACQUISITION = ["organic", "search", "social", "referral", "email"]
ACQUISITION_P = [0.3, 0.3, 0.2, 0.1, 0.1]
ACQUISITION_LIFETIME = np.array([1.0, 0.9, 0.7, 1.4, 1.1])
CATEGORIES = ["electronics", "apparel", "home", "beauty", "sports", "toys", "books", "grocery",
              "garden", "automotive", "pets", "jewelry"]
CATEGORY_P = np.array([0.1, 0.16, 0.11, 0.09, 0.08, 0.07, 0.08, 0.12, 0.05, 0.05, 0.06, 0.03])
CATEGORY_PRICE = np.array([180.0, 40, 60, 25, 55, 30, 15, 8, 45, 70, 20, 120])
CATEGORY_QTY = np.array([0.05, 0.3, 0.2, 0.5, 0.2, 0.3, 0.3, 1.2, 0.4, 0.1, 0.8, 0.05])
CATEGORY_RETURN = np.array([0.08, 0.15, 0.06, 0.04, 0.07, 0.05, 0.02, 0.01, 0.04, 0.05, 0.02,
                            0.09])
CHANNELS = ["web", "app", "store"]
CHANNEL_P = [0.5, 0.35, 0.15]
REASONS = ["wrong size", "damaged", "not as described", "changed mind", "late delivery"]
REASON_P = [0.3, 0.2, 0.2, 0.22, 0.08]
BRAND_HEADS = ["Acme", "Nord", "Blue", "Terra", "Nova", "Peak", "Urban", "Sol", "Iron", "Luma",
               "Vita", "Orbit"]
BRAND_TAILS = ["works", "line", "craft", "co", "labs", "wear", "home", "gear"]
TIERS = 3


@dataclass(frozen=True)
class DemoSummary:
    """What :func:`generate` wrote: enough for the CLI to report and for tests to find files."""

    out_dir: Path
    graph_path: Path
    files: dict[str, Path]  # table name -> Parquet file
    rows: dict[str, int]  # table name -> row count
    start: datetime  # earliest possible timestamp (inclusive)
    end: datetime  # latest possible timestamp (exclusive)
    seed: int
    seconds: float


@dataclass(frozen=True)
class _Catalog:
    """Products sorted by (category, price tier) with cumulative popularity, for fast sampling.

    Sampling a product from bucket ``b`` is one inverse-CDF lookup in ``cum``, restricted to
    ``cum[lo[b]] .. cum[hi[b]]``; the same works for the whole catalogue.
    """

    order: np.ndarray  # positions into the product arrays, sorted by bucket
    cum: np.ndarray  # cumulative popularity along ``order``, with a leading 0
    lo: np.ndarray  # per bucket: first index into ``order``
    hi: np.ndarray  # per bucket: one past the last index


@dataclass(frozen=True)
class _People:
    """Latent and observable customer attributes kept between stages."""

    signup: np.ndarray  # fractional days since START
    churn: np.ndarray  # fractional days since START when buying stops (clipped to the span)
    rate: np.ndarray  # relative activity (heavy-tailed)
    segment: np.ndarray
    tier: np.ndarray
    cats: np.ndarray  # (n, 2) preferred categories
    second_cat_p: np.ndarray  # chance a category pick uses the second preferred category
    fav_p: np.ndarray  # chance a purchase is one of the favourites
    fav_off: np.ndarray  # favourites of customer i are favs[fav_off[i]:fav_off[i + 1]]
    favs: np.ndarray
    channel: np.ndarray  # preferred channel index


def generate(out_dir: str | Path, customers: int, seed: int = 0,
             progress: Callable[[str], None] | None = None,
             segment_shares: Sequence[float] | None = None) -> DemoSummary:
    """Write the demo store (Parquet tables and ``graph.yaml``) into ``out_dir``.

    Args:
        out_dir: target folder, created if absent; existing demo files are replaced atomically.
        customers: number of customers (at least 10); transactions are about 10 per customer.
        seed: seed of the one random generator; the same seed gives identical tables.
        progress: called with a short message at each stage, e.g. to drive a CLI spinner.
        segment_shares: the shares of the budget, regular, premium and vip segments (default
            35 / 40 / 20 / 5 %); other shares make a shifted population, e.g. to try drift checks.
    """
    began = time.perf_counter()
    _check_customers(customers)
    note = progress or (lambda _msg: None)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    tables = _build_tables(rng, customers, note, _segment_shares(segment_shares))
    files = {name: _write_parquet(table, out / f"{name}.parquet", note)
             for name, table in tables.items()}
    note("writing graph.yaml")
    graph_path = out / "graph.yaml"
    _write_text(graph_path, graph_yaml(seed))
    return DemoSummary(out_dir=out, graph_path=graph_path, files=files,
                       rows={name: t.num_rows for name, t in tables.items()},
                       start=START, end=END, seed=seed, seconds=time.perf_counter() - began)


def _check_customers(customers: int) -> None:
    """Fewer than ten customers cannot hold the churn and repeat-purchase patterns."""
    if isinstance(customers, bool) or not isinstance(customers, int | np.integer):
        raise ConfigError(f"--customers must be a whole number, got {customers!r}.")
    if customers < MIN_CUSTOMERS:
        raise ConfigError(f"--customers must be at least {MIN_CUSTOMERS}, got {customers}; "
                          "a smaller store has too little history to learn from.")


def _segment_shares(shares: Sequence[float] | None) -> list[float]:
    if shares is None:
        return list(SEGMENT_P)
    values = [float(s) for s in shares]
    if len(values) != len(SEGMENTS) or min(values) < 0 or sum(values) <= 0:
        raise ConfigError(f"segment_shares needs {len(SEGMENTS)} non-negative shares ({', '.join(SEGMENTS)}), "
                          f"not {list(shares)!r}.")
    return [v / sum(values) for v in values]


def _build_tables(rng: np.random.Generator, customers: int,
                  note: Callable[[str], None], segment_p: list[float]) -> dict[str, pa.Table]:
    """Draw every table in a fixed order, so the random stream (and thus the data) is stable."""
    n_products = product_count(customers)
    note(f"products: drawing {n_products:,} products")
    prod_cat, prod_price, products = _products(rng, n_products)
    catalog = _catalog(rng, prod_cat, prod_price)
    note(f"customers: drawing {customers:,} customers")
    people, customers_t = _customers(rng, customers, catalog, segment_p)
    note(f"transactions: drawing about {int(customers * TX_PER_CUSTOMER):,} purchases")
    tx, transactions = _transactions(rng, people, catalog, prod_cat, prod_price)
    note("returns: drawing returns")
    returns = _returns(rng, tx, prod_cat)
    return {"customers": customers_t, "products": products, "transactions": transactions,
            "returns": returns}


def product_count(customers: int) -> int:
    """A few thousand products for a large store, growing mildly with the customer base."""
    return int(min(20_000, max(200, customers // 20)))


# -- products ------------------------------------------------------------------------------------

def _products(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray, pa.Table]:
    """Products with category, brand and a log-normal price around the category's level."""
    cat = rng.choice(len(CATEGORIES), size=n, p=CATEGORY_P)
    cat[: len(CATEGORIES) * TIERS] = np.arange(len(CATEGORIES) * TIERS) % len(CATEGORIES)
    price = np.floor(CATEGORY_PRICE[cat] * rng.lognormal(0.0, 0.6, size=n)) + 0.99
    brands = np.array([h + t for h in BRAND_HEADS for t in BRAND_TAILS])
    per_cat = len(brands) // len(CATEGORIES)
    brand = (cat * per_cat + rng.integers(0, per_cat, size=n)) % len(brands)
    table = pa.table({
        "product_id": pa.array(np.arange(1, n + 1, dtype=np.int64)),
        "category": _labels(CATEGORIES, cat),
        "brand": _labels(list(brands), brand),
        "price": pa.array(price),
    })
    return cat, price, table


def _catalog(rng: np.random.Generator, cat: np.ndarray, price: np.ndarray) -> _Catalog:
    """Zipf-like popularity plus buckets of (category, price tercile within the category)."""
    n = len(cat)
    popularity = 1.0 / np.arange(1, n + 1) ** 1.05
    popularity = popularity[rng.permutation(n)]
    order = np.lexsort((price, cat))
    sorted_cat = cat[order]
    first = np.searchsorted(sorted_cat, sorted_cat, side="left")
    count = np.bincount(sorted_cat, minlength=len(CATEGORIES))[sorted_cat]
    tier = (TIERS * (np.arange(n) - first)) // count
    bucket = sorted_cat * TIERS + tier
    buckets = np.arange(len(CATEGORIES) * TIERS)
    lo = np.searchsorted(bucket, buckets, side="left")
    hi = np.searchsorted(bucket, buckets, side="right")
    cum = np.concatenate([[0.0], np.cumsum(popularity[order])])
    return _Catalog(order=order, cum=cum, lo=lo, hi=hi)


def _pick(rng: np.random.Generator, catalog: _Catalog, bucket: np.ndarray | None,
          size: int) -> np.ndarray:
    """Draw product positions by popularity, within ``bucket`` per draw (or overall if None)."""
    if bucket is None:
        lo = np.zeros(size, dtype=np.int64)
        hi = np.full(size, len(catalog.order), dtype=np.int64)
    else:
        lo, hi = catalog.lo[bucket], catalog.hi[bucket]
    base, top = catalog.cum[lo], catalog.cum[hi]
    k = np.searchsorted(catalog.cum, base + rng.random(size) * (top - base), side="right") - 1
    out: np.ndarray = catalog.order[np.clip(k, lo, hi - 1)]
    return out


# -- customers -----------------------------------------------------------------------------------

def _customers(rng: np.random.Generator, n: int, catalog: _Catalog,
               segment_p: list[float]) -> tuple[_People, pa.Table]:
    """Customers: observable profile plus latent rate, lifetime, tastes and favourites."""
    segment = rng.choice(len(SEGMENTS), size=n, p=segment_p)
    acquisition = rng.choice(len(ACQUISITION), size=n, p=ACQUISITION_P)
    signup = _SPAN_DAYS * rng.random(n) ** 1.3
    rate = np.minimum(rng.lognormal(0.0, 1.0, size=n), 40.0)
    mean_life = SEGMENT_LIFETIME_DAYS[segment] * ACQUISITION_LIFETIME[acquisition] * rate ** 0.5
    churn = np.minimum(signup + 30.0 + rng.exponential(mean_life), _SPAN_DAYS)
    tier = np.clip(SEGMENT_TIER[segment] + rng.choice([-1, 0, 1], size=n, p=[0.15, 0.7, 0.15]),
                   0, TIERS - 1)
    cats = _preferred_categories(rng, n)
    fav_off, favs = _favourites(rng, cats, tier, catalog)
    people = _People(signup=signup, churn=churn, rate=rate, segment=segment, tier=tier,
                     cats=cats, second_cat_p=rng.random(n) * 0.5,
                     fav_p=0.15 + 0.6 * rng.beta(2.0, 2.5, size=n), fav_off=fav_off,
                     favs=favs, channel=rng.choice(len(CHANNELS), size=n, p=CHANNEL_P))
    table = pa.table({
        "customer_id": pa.array(np.arange(1, n + 1, dtype=np.int64)),
        "signup_time": _timestamps(signup),
        "region": _labels(REGIONS, rng.choice(len(REGIONS), size=n, p=REGION_P)),
        "age": pa.array(np.clip(np.round(rng.normal(38, 12, size=n)), 18, 85).astype(np.int64)),
        "segment": _labels(SEGMENTS, segment),
        "acquisition_channel": _labels(ACQUISITION, acquisition),
    })
    return people, table


def _preferred_categories(rng: np.random.Generator, n: int) -> np.ndarray:
    """Two distinct favourite categories per customer, the first drawn by category share."""
    first = rng.choice(len(CATEGORIES), size=n, p=CATEGORY_P)
    second = (first + rng.integers(1, len(CATEGORIES), size=n)) % len(CATEGORIES)
    return np.stack([first, second], axis=1)


def _favourites(rng: np.random.Generator, cats: np.ndarray, tier: np.ndarray,
                catalog: _Catalog) -> tuple[np.ndarray, np.ndarray]:
    """2-8 favourite products per customer from their categories and price tier (flat + offsets)."""
    n = len(tier)
    k = np.minimum(2 + rng.poisson(2.0, size=n), 8)
    off = np.concatenate([[0], np.cumsum(k)])
    owner = np.repeat(np.arange(n), k)
    use_second = rng.random(len(owner)) < 0.3
    cat = np.where(use_second, cats[owner, 1], cats[owner, 0])
    favs = _pick(rng, catalog, cat * TIERS + tier[owner], len(owner))
    return off, favs


# -- transactions --------------------------------------------------------------------------------

def day_weights() -> np.ndarray:
    """Relative order volume per day of the span: weekends and Nov/Dec are busier (mean 1)."""
    days = np.datetime64(START, "D") + np.arange(_SPAN_DAYS)
    weekday = (days.astype(np.int64) + 3) % 7  # Monday = 0
    day_of_year = (days - days.astype("datetime64[Y]")).astype(np.int64)
    weekly = np.where(weekday >= 5, 1.35, 1.0)
    yearly = 1.0 + 0.8 * np.exp(-(((day_of_year - 338.0) / 22.0) ** 2))
    weights = weekly * yearly
    out: np.ndarray = weights / weights.mean()
    return out


def _transactions(
    rng: np.random.Generator, people: _People, catalog: _Catalog, prod_cat: np.ndarray,
    prod_price: np.ndarray,
) -> tuple[dict[str, np.ndarray], pa.Table]:
    """Purchases: a Poisson count per customer over their active span, then time and product."""
    weights = day_weights()
    cum = np.concatenate([[0.0], np.cumsum(weights)])
    exposure = _cum_at(cum, weights, people.churn) - _cum_at(cum, weights, people.signup)
    scale = TX_PER_CUSTOMER * len(people.rate) / max(float(np.sum(people.rate * exposure)), 1e-9)
    counts = rng.poisson(people.rate * exposure * scale)
    owner = np.repeat(np.arange(len(counts)), counts)
    when = _seasonal_times(rng, cum, weights, people.signup[owner], people.churn[owner])
    product = _choose_products(rng, people, catalog, owner)
    sort = np.lexsort((owner, when))
    owner, when, product = owner[sort], when[sort], product[sort]
    quantity = 1 + np.minimum(rng.poisson(CATEGORY_QTY[prod_cat[product]]), 5)
    price = np.round(prod_price[product] * rng.lognormal(0.0, 0.04, size=len(product)), 2)
    chan = np.where(rng.random(len(owner)) < 0.75, people.channel[owner],
                    rng.choice(len(CHANNELS), size=len(owner), p=CHANNEL_P))
    tx = {"when": when, "product": product, "price": price, "quantity": quantity}
    table = pa.table({
        "transaction_id": pa.array(np.arange(1, len(owner) + 1, dtype=np.int64)),
        "customer_id": pa.array(owner.astype(np.int64) + 1),
        "product_id": pa.array(product.astype(np.int64) + 1),
        "price": pa.array(price),
        "quantity": pa.array(quantity.astype(np.int64)),
        "timestamp": _timestamps(when),
        "channel": _labels(CHANNELS, chan),
    })
    return tx, table


def _cum_at(cum: np.ndarray, weights: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Cumulative day weight at fractional day ``t`` (piecewise-linear within a day)."""
    day = np.clip(np.floor(t).astype(np.int64), 0, len(weights) - 1)
    out: np.ndarray = cum[day] + (t - day) * weights[day]
    return out


def _seasonal_times(rng: np.random.Generator, cum: np.ndarray, weights: np.ndarray,
                    lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Inverse-CDF draw of a time in [lo, hi] with density proportional to the day weight."""
    a, b = _cum_at(cum, weights, lo), _cum_at(cum, weights, hi)
    target = a + rng.random(len(lo)) * (b - a)
    day = np.clip(np.searchsorted(cum, target, side="right") - 1, 0, len(weights) - 1)
    t = day + (target - cum[day]) / weights[day]
    out: np.ndarray = np.clip(t, lo, hi)
    return out


def _choose_products(rng: np.random.Generator, people: _People, catalog: _Catalog,
                     owner: np.ndarray) -> np.ndarray:
    """Each purchase is a favourite, a popular product of a preferred category, or any product."""
    n = len(owner)
    u = rng.random(n)
    fav_p = people.fav_p[owner]
    is_fav = u < fav_p
    is_cat = ~is_fav & (u < fav_p + 0.4 * (1.0 - fav_p))
    k = people.fav_off[owner + 1] - people.fav_off[owner]
    fav = people.favs[people.fav_off[owner] + (k * rng.random(n) ** 1.7).astype(np.int64)]
    second = rng.random(n) < people.second_cat_p[owner]
    cat = np.where(second, people.cats[owner, 1], people.cats[owner, 0])
    in_cat = _pick(rng, catalog, cat * TIERS + people.tier[owner], n)
    anywhere = _pick(rng, catalog, None, n)
    return np.where(is_fav, fav, np.where(is_cat, in_cat, anywhere))


def _returns(rng: np.random.Generator, tx: dict[str, np.ndarray], prod_cat: np.ndarray) -> pa.Table:
    """Some purchases come back a few days later; apparel and electronics most often."""
    chance = CATEGORY_RETURN[prod_cat[tx["product"]]]
    idx = np.flatnonzero(rng.random(len(chance)) < chance)
    when = tx["when"][idx] + 1.0 + rng.exponential(6.0, size=len(idx))
    keep = when < _SPAN_DAYS
    idx, when = idx[keep], when[keep]
    sort = np.lexsort((idx, when))
    idx, when = idx[sort], when[sort]
    refund = np.round(tx["price"][idx] * tx["quantity"][idx], 2)
    return pa.table({
        "return_id": pa.array(np.arange(1, len(idx) + 1, dtype=np.int64)),
        "transaction_id": pa.array(idx.astype(np.int64) + 1),
        "timestamp": _timestamps(when),
        "reason": _labels(REASONS, rng.choice(len(REASONS), size=len(idx), p=REASON_P)),
        "refund": pa.array(refund),
    })


# -- output --------------------------------------------------------------------------------------

def _labels(names: list[str], codes: np.ndarray) -> pa.Array:
    """Plain strings (not dictionary type) so every reader sees VARCHAR."""
    return pa.array(names, pa.string()).take(pa.array(codes.astype(np.int64)))


def _timestamps(days: np.ndarray) -> pa.Array:
    """Fractional days since START -> TIMESTAMP at whole seconds (no time zone)."""
    micros = _START_US + np.floor(days * 86_400).astype(np.int64) * 1_000_000
    return pa.array(micros.astype("datetime64[us]"), pa.timestamp("us"))


def _write_parquet(table: pa.Table, path: Path, note: Callable[[str], None]) -> Path:
    """Write under a temporary name, then move into place so readers never see a partial file."""
    note(f"writing {path.name} ({table.num_rows:,} rows)")
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        pq.write_table(table, tmp, compression="zstd")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def graph_yaml(seed: int) -> str:
    """The graph description; ``data: .`` means the folder that holds this file."""
    return f"""\
# relpredict graph: synthetic online store (relpredict demo-data, seed {seed})
name: demo_store
data: .
tables:
  customers:
    file: customers.parquet
    primary_key: customer_id
    time_column: signup_time
  products:
    file: products.parquet
    primary_key: product_id
  transactions:
    file: transactions.parquet
    primary_key: transaction_id
    foreign_keys: {{customer_id: customers, product_id: products}}
    time_column: timestamp
  returns:
    file: returns.parquet
    primary_key: return_id
    foreign_keys: {{transaction_id: transactions}}
    time_column: timestamp
"""
