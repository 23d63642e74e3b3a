"""Pair features of ranking candidates on the tiny store (see conftest.py), computed by hand."""

from __future__ import annotations

import pandas as pd

from relpredict.features.candidates import ItemColumns, Sample, candidate_pairs
from relpredict.graph.graph import Graph
from relpredict.query.binder import bind

from .conftest import T, store_graph, tiny_frames
from .test_aggregates import rows_of

WEB = ("PREDICT LIST_DISTINCT(transactions.product_id WHERE transactions.channel = 'web', 0, 30, days) "
       "RANK TOP 2 FOR EACH customers.customer_id")


def _pairs(g: Graph, query: str) -> dict[tuple[int, int], dict]:
    out = candidate_pairs(bind(query, g), g, rows_of([(1, T), (2, T)])).to_pylist()
    return {(r["__row"], r["ITEM"]): r for r in out}


def test_any_features_count_rows_the_target_filter_leaves_out(g: Graph) -> None:
    pairs = _pairs(g, WEB)
    # Only web items are candidates (p12 was bought in the store only): 10 and 11 for both rows.
    assert sorted(pairs) == [(0, 10), (0, 11), (1, 10), (1, 11)]
    c1_11, c2_11 = pairs[(0, 11)], pairs[(1, 11)]
    # c1 had p11 by web once (row 4, 02-25) and by app once (row 2): counted 1 vs 2.
    assert (c1_11["own.count_all"], c1_11["any.count_all"]) == (1, 2)
    assert c1_11["any.days_since"] == 5.0  # 02-25 → 03-01 in a leap year
    # c2 bought p11 by app only (row 8): not an own item, but one it had.
    assert (c2_11["own.count_all"], c2_11["any.count_all"]) == (0, 1)
    assert c2_11["own.days_since"] is None and c2_11["any.days_since"] == 2.0
    # In (01-31, 03-01]: web rows 3 (c1 p10), 4 (c1 p11), 7 (c2 p10): p11 by 1 of 2 web buyers;
    # any rows: p11 by c1 (row 4) and c2 (row 8), of 2 active customers.
    assert (c1_11["pop.share_1"], c1_11["any.share_1"]) == (0.5, 1.0)
    assert (pairs[(0, 10)]["pop.share_1"], pairs[(0, 10)]["any.share_1"]) == (1.0, 1.0)


def test_any_features_equal_their_filtered_twins_without_a_filter(g: Graph) -> None:
    query = WEB.replace(" WHERE transactions.channel = 'web'", "")
    for r in _pairs(g, query).values():
        assert r["any.count_all"] == r["own.count_all"]
        assert r["any.days_since"] == r["own.days_since"]
        assert (r["any.share_1"], r["any.share_4"]) == (r["pop.share_1"], r["pop.share_4"])


def test_minus_own_rules_leave_out_items_had_in_rows_the_target_does_not_count(g: Graph) -> None:
    from relpredict.model.ranker import pairs_of, rule_scores

    pairs = pairs_of(bind(WEB, g), g, rows_of([(2, T)]), [10, 11, 12], Sample())
    # c2's web item is p10 and it bought p11 by app: "popular minus own" proposes neither.
    scores = rule_scores("popular_new", pairs)[0]
    assert scores[0] == scores[1] == -1.0


def test_recent_class_shares_count_every_row_of_the_span(g: Graph) -> None:
    from relpredict.features.history import RECENCY, recent_class_shares

    query = "PREDICT FIRST(transactions.channel, 0, 30, days) FOR EACH customers.customer_id"
    classes = ["web", "app", "store"]
    out = recent_class_shares(bind(query, g), g, rows_of([(1, T), (2, T), (3, T)]), classes, spans=(1, 0))
    # c1 by T: web 01-05, app 01-20, web 02-10, web 02-25, store 03-01 (row 6 is after T);
    # in (01-31, 03-01]: web 02-10, web 02-25, store 03-01. c2: web and app on 02-28. c3: none.
    assert out[1].round(4).tolist() == [[0.6667, 0.0, 0.3333], [0.5, 0.5, 0.0], [0.0, 0.0, 0.0]]
    assert out[0].tolist() == [[0.6, 0.2, 0.2], [0.5, 0.5, 0.0], [0.0, 0.0, 0.0]]
    # the order of the classes' latest rows: c1 store 03-01, web 02-25, app 01-20; c2's web and
    # app rows share a time (one rank); c3 has none
    assert out[RECENCY].round(4).tolist() == [[0.5, 0.3333, 1.0], [1.0, 1.0, 0.0], [0.0, 0.0, 0.0]]
    spend = "PREDICT SUM(transactions.amount, 0, 30, days) FOR EACH customers.customer_id"
    assert recent_class_shares(bind(spend, g), g, rows_of([(1, T)]), classes) is None


def test_recent_rows_baseline_predicts_the_most_frequent_class_of_the_rows() -> None:
    import numpy as np

    from relpredict.model.baselines import Baseline, History
    from relpredict.model.targets import TargetCodec
    from relpredict.query.bound import TaskType

    codec = TargetCodec(TaskType.multiclass, classes=["web", "app", "store"])
    b = Baseline(TaskType.multiclass, "recent_rows", 1, {"prior": [1.0, 5.0, 1.0]})
    shares = {1: np.array([[0.6667, 0.0, 0.3333], [0.5, 0.5, 0.0], [0.0, 0.0, 0.0]])}
    pred = b.predict(codec, History([[None], [None], [None]], shares))
    assert pred.argmax(1).tolist() == [0, 1, 1]  # a tie and no rows: the prior decides ("app")
    np.testing.assert_allclose(pred.sum(1), 1.0)
    assert b.name == "most frequent class of the entity's rows in the last window"


def test_recent_rows_baseline_can_break_ties_by_the_latest_row() -> None:
    import numpy as np

    from relpredict.features.history import RECENCY
    from relpredict.model.baselines import Baseline, History
    from relpredict.model.targets import TargetCodec
    from relpredict.query.bound import TaskType

    codec = TargetCodec(TaskType.multiclass, classes=["web", "app", "store"])
    b = Baseline(TaskType.multiclass, "recent_rows", 0, {"prior": [1.0, 5.0, 1.0], "ties": "latest"})
    shares = {0: np.array([[0.4, 0.2, 0.4], [0.5, 0.5, 0.0], [0.6, 0.2, 0.2], [0.0, 0.0, 0.0]]),
              RECENCY: np.array([[0.5, 0.3333, 1.0], [1.0, 1.0, 0.0], [0.5, 1.0, 0.3333], [0.0, 0.0, 0.0]])}
    pred = b.predict(codec, History([[None]] * 4, shares))
    # a tie web / store, store's row the latest; web / app at one time: the prior; no tie; no rows
    assert pred.argmax(1).tolist() == [2, 1, 0, 1]
    np.testing.assert_allclose(pred.sum(1), 1.0)
    assert b.name.endswith("ties to the class of the latest row")
    assert Baseline.from_dict(b.to_dict()).name == b.name


def test_context_features_are_the_items_share_among_entities_of_the_same_value() -> None:
    """ctx.share.segment: among the customers of the row's segment with a transaction in the last
    4 windows (120 days) up to T, the share that bought the item; ctx.lift: over pop.share_4.
    c3 ("basic") is created after T: its segment is not read, so its transaction before T counts
    in no segment's share."""
    customers, tx = tiny_frames()
    tx.loc[len(tx)] = [9, 3, 12, 1.0, "web", pd.Timestamp("2024-02-20")]
    g = store_graph(customers, tx)
    query = WEB.replace(" WHERE transactions.channel = 'web'", "")
    out = candidate_pairs(bind(query, g), g, rows_of([(1, T), (2, T)]), Sample(),
                          ItemColumns(context=("segment",))).to_pylist()
    pairs = {(r["__row"], r["ITEM"]): r for r in out}
    g.close()
    # gold: c1 bought 10, 11, 12 in (2023-11-02, T]; basic: c2 bought 10 and 11 (c3 unseen)
    assert {i: pairs[(0, i)]["ctx.share.segment"] for i in (10, 11, 12)} == {10: 1.0, 11: 1.0, 12: 1.0}
    assert {i: pairs[(1, i)]["ctx.share.segment"] for i in (10, 11, 12)} == {10: 1.0, 11: 1.0, 12: 0.0}
    # pop.share_4 reads fact rows alone (their times are <= T): p12 by c1 and c3 of 3 customers
    assert pairs[(1, 12)]["pop.share_4"] == 2 / 3
    assert (pairs[(0, 12)]["ctx.lift.segment"], pairs[(1, 12)]["ctx.lift.segment"]) == (1.5, 0.0)
    assert pairs[(0, 10)]["ctx.lift.segment"] == 1.0 / (2 / 3)  # p10: c1 and c2 of the 3
