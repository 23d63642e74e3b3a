"""No feature of a row (entity, t) may change when data after t changes.

Random stores: for a cut-off ``t0`` and rows anchored at or before it, every feature (history
and aggregates, with one fitted spec) must be the same on the full data, on the data with every
row after ``t0`` deleted, and on the data with every row after ``t0`` rewritten (other values,
other times after ``t0``, extra rows).
"""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from relpredict.features import build_features, fit_feature_spec
from relpredict.query.binder import bind

from .conftest import store_graph

START = datetime(2024, 1, 1)
QUERIES = [
    "PREDICT SUM(transactions.amount, 0, 10, days) FOR EACH customers.customer_id",
    "PREDICT COUNT(transactions.* WHERE transactions.channel = 'a', 0, 10, days) > 0 "
    "FOR EACH customers.customer_id ASSUMING COUNT(transactions.*, 0, 20, days) > 0",
    "PREDICT FIRST(transactions.channel, 0, 10, days) FOR EACH customers.customer_id "
    "WHERE COUNT(transactions.*, -10, 0, days) > 0",
]

# Times in 6-hour ticks from START. Facts cluster around the cut-off (where a leak would show):
# ±3 days often, else from 25 days before to 5 days after it.
CUT = 30 * 4
near = st.one_of(st.integers(-12, 12), st.integers(-100, 20))
tx_row = st.tuples(st.integers(1, 4), st.integers(10, 12), st.one_of(st.none(), st.integers(0, 50)),
                   st.sampled_from(["a", "b", "c"]), near.map(lambda d: CUT + d))


@st.composite
def stores(draw: st.DrawFn) -> dict:
    return {
        "created": draw(st.lists(st.one_of(st.integers(0, 40), near.map(lambda d: CUT + d)),
                                 min_size=4, max_size=4)),
        "segments": draw(st.lists(st.sampled_from(["x", "y"]), min_size=4, max_size=4)),
        "favs": draw(st.lists(st.integers(10, 12), min_size=4, max_size=4)),
        "tx": draw(st.lists(tx_row, min_size=4, max_size=30)),
        "cut": CUT,
        "anchor_back": draw(st.lists(st.integers(0, 12 * 4), min_size=1, max_size=3)),
        "query": draw(st.sampled_from(QUERIES)),
        "seed": draw(st.integers(0, 2**16)),
    }


def tick(n: int) -> datetime:
    return START + timedelta(hours=6 * n)


def frames(s: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    customers = pd.DataFrame({
        "customer_id": [1, 2, 3, 4], "segment": s["segments"], "age": [20.0, 30.0, 40.0, 50.0],
        "birth": [tick(c) - timedelta(days=9000) for c in s["created"]],
        "created_at": [tick(c) for c in s["created"]], "fav_product": s["favs"]})
    tx = pd.DataFrame([(i, c, p, None if a is None else float(a), ch, tick(t))
                       for i, (c, p, a, ch, t) in enumerate(s["tx"])],
                      columns=["tx_id", "customer_id", "product_id", "amount", "channel", "ts"])
    return customers, tx.astype({"tx_id": "int64", "customer_id": "int64",
                                 "product_id": "int64", "amount": "float64", "ts": "datetime64[us]"})


def deleted(customers: pd.DataFrame, tx: pd.DataFrame, cut: datetime) -> tuple:
    return customers[customers["created_at"] <= cut], tx[tx["ts"] <= cut]


def rewritten(customers: pd.DataFrame, tx: pd.DataFrame, cut: datetime, seed: int) -> tuple:
    """Every row after ``cut`` gets other values and another time after ``cut``; extra rows too."""
    rng = np.random.default_rng(seed)
    customers, tx = customers.copy(), tx.copy()
    late = customers["created_at"] > cut
    customers.loc[late, "segment"] = "z"
    customers.loc[late, "age"] = 99.0
    customers.loc[late, "fav_product"] = rng.integers(10, 13, late.sum())
    customers.loc[late, "created_at"] = [cut + timedelta(hours=int(h))
                                         for h in rng.integers(1, 500, late.sum())]
    late = tx["ts"] > cut
    tx.loc[late, "amount"] = rng.random(late.sum()) * 1e3
    tx.loc[late, "channel"] = rng.choice(["a", "b", "zz"], late.sum())
    tx.loc[late, "product_id"] = rng.integers(10, 13, late.sum())
    tx.loc[late, "ts"] = [cut + timedelta(minutes=int(m)) for m in rng.integers(1, 50_000, late.sum())]
    extra = pd.DataFrame({"tx_id": np.arange(1000, 1010), "customer_id": rng.integers(1, 5, 10),
                          "product_id": rng.integers(10, 13, 10), "amount": rng.random(10) * 1e6,
                          "channel": rng.choice(["a", "b", "c"], 10),
                          "ts": [cut + timedelta(seconds=int(s)) for s in rng.integers(1, 10**7, 10)]})
    return customers, pd.concat([tx, extra], ignore_index=True).astype({"ts": "datetime64[us]"})


def compute(customers: pd.DataFrame, tx: pd.DataFrame, query: str, rows: pa.Table,
            spec=None) -> tuple[pd.DataFrame, object]:
    graph = store_graph(customers, tx)
    try:
        bq = bind(query, graph)
        spec = spec or fit_feature_spec(bq, graph, rows)
        return build_features(bq, graph, rows, spec).to_pandas(), spec
    finally:
        graph.close()


def same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    assert list(a.columns) == list(b.columns)
    x, y = a.iloc[:, 2:].to_numpy(float), b.iloc[:, 2:].to_numpy(float)
    bad = ~np.isclose(x, y, rtol=1e-9, atol=1e-9, equal_nan=True)
    assert not bad.any(), [a.columns[2 + j] for j in np.nonzero(bad.any(axis=0))[0]]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stores())
def test_rows_after_the_anchor_never_change_a_feature(s: dict) -> None:
    cut = tick(s["cut"])
    anchors = sorted({cut - timedelta(hours=6 * b) for b in s["anchor_back"]})
    rows = pa.table({"ENTITY": pa.array([e for e in range(1, 5) for _ in anchors], pa.int64()),
                     "ANCHOR_TIMESTAMP": pa.array(anchors * 4, pa.timestamp("us"))})
    customers, tx = frames(s)
    full, spec = compute(customers, tx, s["query"], rows)
    cut_only, _ = compute(*deleted(customers, tx, cut), s["query"], rows, spec)
    changed, _ = compute(*rewritten(customers, tx, cut, s["seed"]), s["query"], rows, spec)
    same(full, cut_only)
    same(full, changed)
