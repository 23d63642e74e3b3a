"""Aggregate features on the tiny store of conftest.py; every expected value is worked out by hand."""

from __future__ import annotations

import json
import math
from datetime import datetime

import pyarrow as pa
import pytest

from relpredict.errors import ConfigError
from relpredict.features import FeatureSpec, aggregate_features, fit_feature_spec
from relpredict.graph.graph import Graph
from relpredict.query.binder import bind

from .conftest import T

FEB1 = datetime(2024, 2, 1)
APR1 = datetime(2024, 4, 1)
SPEND = "PREDICT SUM(transactions.amount, 0, 30, days) FOR EACH customers.customer_id"
ROWS = [(1, T), (2, T), (1, FEB1), (3, T), (3, APR1), (1, T)]  # a duplicate on purpose


def rows_of(pairs: list[tuple[int, datetime]]) -> pa.Table:
    return pa.table({"ENTITY": pa.array([e for e, _ in pairs], pa.int64()),
                     "ANCHOR_TIMESTAMP": pa.array([t for _, t in pairs], pa.timestamp("us"))})


def features(g: Graph, query: str = SPEND, pairs: list = ROWS) -> list[dict]:
    bq = bind(query, g)
    rows = rows_of([p for p in pairs if p[1] <= T])  # fit on rows known by T
    spec = fit_feature_spec(bq, g, rows)
    return aggregate_features(bq, g, rows_of(pairs), spec).to_pylist()


def close(got: float | None, want: float | None) -> bool:
    if want is None:
        return got is None or math.isnan(got)
    return got is not None and math.isclose(got, want, rel_tol=1e-12, abs_tol=1e-12)


def check(row: dict, expected: dict) -> None:
    bad = {k: (row[k], v) for k, v in expected.items() if not close(row[k], v)}
    assert not bad, bad


def test_rows_keep_their_order_and_identity(g: Graph) -> None:
    out = features(g)
    assert [(r["ENTITY"], r["ANCHOR_TIMESTAMP"]) for r in out] == ROWS
    assert out[0] == out[5]


def test_entity_columns(g: Graph) -> None:
    out = features(g)
    # segment vocabulary (customers created by T): basic 1, gold 1 → tie by value.
    check(out[0], {"customers.age": 30, "customers.segment.code": 1,
                   "customers.birth.age_days": 10_958,  # 1994-03-01 → 2024-03-01
                   "customers.created_at.age_days": 60})  # 31 (Jan) + 29 (Feb)
    check(out[1], {"customers.segment.code": 0})
    # c3 is created on 2024-03-10: absent at T, so nothing of its row is known.
    check(out[3], {"customers.age": None, "customers.segment.code": None,
                   "customers.created_at.age_days": None})
    # At 04-01 it exists; its birth date (2030) is after the anchor: not known yet.
    check(out[4], {"customers.age": 60, "customers.created_at.age_days": 22,
                   "customers.birth.age_days": None})


def test_fact_counts_recency_and_last_k_means(g: Graph) -> None:
    c1, c2, c1_feb = features(g)[:3]
    # c1 at T: rows 1-5 (row 5 is exactly at T; row 6 is later). Row 4's amount is NULL.
    check(c1, {"transactions.count": 5, "transactions.days_since_last": 0,
               "transactions.amount.mean_last1": 50, "transactions.amount.mean_last3": 40,
               "transactions.amount.mean_last10": 27.5})
    # c2: rows 7 and 8 at the same time; 8 has the larger key, so it is the last one.
    check(c2, {"transactions.count": 2, "transactions.days_since_last": 2,
               "transactions.amount.mean_last1": 7, "transactions.amount.mean_last3": 6})
    check(c1_feb, {"transactions.count": 2, "transactions.days_since_last": 12,
                   "transactions.amount.mean_last1": 20, "transactions.amount.mean_last3": 15})


def test_window_sums_and_means(g: Graph) -> None:
    c1, _, c1_feb, c3 = features(g)[:4]
    # (T - 30 d, T] = (01-31, 03-01]: rows 3, 4 (NULL), 5. 120 d and all: rows 1-5.
    check(c1, {"transactions.amount.sum_30d": 80, "transactions.amount.mean_30d": 40,
               "transactions.amount.sum_120d": 110, "transactions.amount.mean_120d": 27.5,
               "transactions.amount.sum_360d": 110, "transactions.amount.sum_all": 110,
               "transactions.amount.mean_all": 27.5})
    check(c1_feb, {"transactions.amount.sum_30d": 30, "transactions.amount.mean_30d": 15})
    # No rows at all: counts and sums are 0, means and recency unknown.
    check(c3, {"transactions.count": 0, "transactions.amount.sum_all": 0,
               "transactions.amount.mean_all": None, "transactions.days_since_last": None})


def test_categorical_shares_of_the_last_rows(g: Graph) -> None:
    c1, c2 = features(g)[:2]
    # vocabulary by T: web 4, app 2, store 1.
    check(c1, {"transactions.channel=web.share_last10": 0.6,
               "transactions.channel=app.share_last10": 0.2,
               "transactions.channel=store.share_last10": 0.2})
    check(c2, {"transactions.channel=web.share_last10": 0.5,
               "transactions.channel=store.share_last10": 0.0})


def test_one_hop_to_the_parent_of_the_last_fact_row(g: Graph) -> None:
    c1, c2, c1_feb = features(g)[:3]
    hop = "transactions.product_id>transactions"
    # c1's last row by T is row 5 → product 12, bought once by T (row 5, 50).
    check(c1, {f"{hop}.count": 1, f"{hop}.amount.mean_last10": 50,
               f"{hop}.amount.mean_120d": 50})
    # c2's last row is 8 → product 11: rows 2 (20), 4 (NULL), 8 (7).
    check(c2, {f"{hop}.count": 3, f"{hop}.amount.mean_last10": 13.5})
    # c1 on 02-01: last row 2 → product 11, by then only row 2.
    check(c1_feb, {f"{hop}.count": 1, f"{hop}.amount.mean_last10": 20})


def test_one_hop_through_the_entity_foreign_key(g: Graph) -> None:
    c1, _, _, c3 = features(g)[:4]
    # c1's favourite product 10: rows 1 (10), 3 (30), 7 (5) by T.
    check(c1, {"customers.fav_product>transactions.count": 3,
               "customers.fav_product>transactions.amount.mean_last10": 15,
               "customers.fav_product>transactions.amount.mean_120d": 15})
    check(c3, {"customers.fav_product>transactions.count": None})  # c3 unknown at T


def test_static_query_uses_every_row(g: Graph) -> None:
    bq = bind("PREDICT customers.age FOR EACH customers.customer_id", g)
    rows = pa.table({"ENTITY": pa.array([1, 3], pa.int64())})
    spec = fit_feature_spec(bq, g, rows)
    assert spec.windows == [(30.0, "days"), (120.0, "days"), (365.0, "days")]
    out = aggregate_features(bq, g, rows, spec).to_pylist()
    assert out[0]["ENTITY"] == 1 and "ANCHOR_TIMESTAMP" not in out[0]
    # Reference time: the latest time in the graph, c3's creation on 03-10.
    check(out[0], {"transactions.count": 6, "transactions.amount.sum_all": 1110,
                   "transactions.days_since_last": 5, "transactions.amount.sum_30d": 1080})
    check(out[1], {"customers.created_at.age_days": 0, "customers.birth.age_days": None})


def test_features_are_float64(g: Graph) -> None:
    bq = bind(SPEND, g)
    rows = rows_of(ROWS[:2])
    out = aggregate_features(bq, g, rows, fit_feature_spec(bq, g, rows))
    assert out.schema.field("ENTITY").type == pa.int64()
    assert all(out.schema.field(c).type == pa.float64() for c in out.column_names[2:])


def test_spec_json_round_trip(g: Graph) -> None:
    bq = bind(SPEND, g)
    spec = fit_feature_spec(bq, g, rows_of(ROWS[:3]))
    text = json.dumps(spec.to_dict())
    again = FeatureSpec.from_dict(json.loads(text))
    assert again == spec
    assert spec.window_names() == ["30d", "120d", "360d"]
    assert spec.routes[0].categorical == {"channel": ["web", "app", "store"]}
    assert spec.categorical == {"segment": ["basic", "gold"]}


def test_spec_vocabulary_ignores_data_after_the_last_anchor(g: Graph) -> None:
    bq = bind(SPEND, g)
    spec = fit_feature_spec(bq, g, rows_of([(1, FEB1)]))
    # By 02-01: rows 1 (web) and 2 (app) only; c3 (created 03-10) not yet a customer.
    assert spec.routes[0].categorical == {"channel": ["app", "web"]}


def test_temporal_rows_need_an_anchor_column(g: Graph) -> None:
    bq = bind(SPEND, g)
    spec = fit_feature_spec(bq, g, rows_of(ROWS[:1]))
    with pytest.raises(ConfigError, match="ANCHOR_TIMESTAMP"):
        aggregate_features(bq, g, pa.table({"ENTITY": [1]}), spec)


def test_no_scratch_tables_are_left_behind(g: Graph) -> None:
    features(g)
    names = [r[0] for r in g.con.execute(
        "SELECT table_name FROM information_schema.tables").fetchall()]
    assert not [n for n in names if n.startswith("__feat_")]


def test_parent_stats_reused_across_batches_at_one_anchor_are_exact(g: Graph) -> None:
    """Batches at one anchor share the parents' stats (computed once per graph and anchor)."""
    import relpredict.features.aggregates as agg

    agg._PARENT_CACHE.clear()
    hop = "transactions.product_id>transactions"
    direct = {(r["ENTITY"], r["ANCHOR_TIMESTAMP"]): r for r in features(g)}  # 3 anchors: no cache
    first = features(g, pairs=[(1, T)])
    cached = len(agg._PARENT_CACHE)
    assert cached >= 1
    second = features(g, pairs=[(2, T), (1, T)])  # served from the cache
    assert len(agg._PARENT_CACHE) == cached
    check(first[0], {f"{hop}.count": 1, f"{hop}.amount.mean_last10": 50, f"{hop}.amount.mean_120d": 50})
    check(second[0], {f"{hop}.count": 3, f"{hop}.amount.mean_last10": 13.5})
    for row in [*first, *second]:
        want = direct[(row["ENTITY"], row["ANCHOR_TIMESTAMP"])]
        assert all(close(row[k], want[k]) for k in row if k.startswith(hop)), row
