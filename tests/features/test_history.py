"""Target history and ranking helpers on the tiny store of conftest.py, values worked out by hand.

Past anchors of T = 03-01 with a 30-day step: 01-31, 01-01, 12-02 (c1 and c2 exist from 01-01).
Label windows: at 01-31 → (01-31, 03-01] (ends exactly at T), at 01-01 → (01-01, 01-31].
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from relpredict.errors import ConfigError
from relpredict.features import (
    build_features,
    fit_feature_spec,
    fit_target_classes,
    popular_items,
    recent_items,
    target_history,
)
from relpredict.features.history import history_windows, past_levels, population_level
from relpredict.graph.graph import Graph
from relpredict.query.binder import bind

from .conftest import T
from .test_aggregates import FEB1, SPEND, check, rows_of

CUSTOMERS = "FOR EACH customers.customer_id"
ROWS = rows_of([(1, T), (2, T), (1, FEB1), (3, T)])


def history(g: Graph, query: str, k: int = 24, classes: list[str] | None = None) -> list[dict]:
    return target_history(bind(query, g), g, ROWS, k=k, classes=classes).to_pylist()


def test_regression_history(g: Graph) -> None:
    c1, c2, c1_feb, c3 = history(g, SPEND)
    # c1: 01-31 → rows 3, 4 (NULL), 5 = 80; 01-01 → rows 1, 2 = 30; 12-02: not a customer yet.
    check(c1, {"history.last": 80, "history.mean_3": 55, "history.mean_12": 55,
               "history.mean_24": 55, "history.count": 2, "history.anchors_since_last": 1,
               "history.trend": 0})
    # c2: 01-31 → rows 7, 8 = 12; 01-01 → nothing: SUM of an empty window is 0.
    check(c2, {"history.last": 12, "history.mean_3": 6, "history.count": 2})
    # c1 at 02-01: 01-02 → (01-02, 02-01]: rows 1, 2 = 30; 12-03: not a customer.
    check(c1_feb, {"history.last": 30, "history.count": 1})
    check(c3, {"history.last": None, "history.count": 0, "history.anchors_since_last": None})
    assert list(c1)[:2] == ["ENTITY", "ANCHOR_TIMESTAMP"]


def test_binary_history(g: Graph) -> None:
    c1, c2 = history(g, f"PREDICT COUNT(transactions.*, 0, 30, days) > 0 {CUSTOMERS}")[:2]
    check(c1, {"history.last": 1, "history.true_rate": 2 / 24, "history.anchors_since_true": 1})
    check(c2, {"history.last": 1, "history.mean_3": 0.5, "history.true_rate": 1 / 24})


def test_short_history(g: Graph) -> None:
    c1 = history(g, SPEND, k=2)[0]
    assert [c for c in c1 if c.startswith("history.mean")] == ["history.mean_2"]
    assert "history.trend" not in c1


def test_where_applies_to_past_labels(g: Graph) -> None:
    query = f"{SPEND} WHERE COUNT(transactions.*, -30, 0, days) > 0"
    c1, c2 = history(g, query)[:2]
    # c1: at 01-31 active in (01-01, 01-31] → 80; at 01-01 nothing in (12-02, 01-01] → dropped.
    check(c1, {"history.last": 80, "history.count": 1})
    check(c2, {"history.count": 0})


def test_assuming_sets_the_step_so_no_past_label_reads_past_t(g: Graph) -> None:
    query = f"{SPEND} ASSUMING COUNT(transactions.*, 0, 60, days) > 0"
    assert history_windows(bind(query, g))[0].end == 60
    # Step 60 days: the label at 01-01 reads up to 03-01 (its ASSUMING window). A 30-day step
    # would put a label at 01-31 whose ASSUMING window reaches row 6 on 03-05, after T.
    c1 = history(g, query)[0]
    check(c1, {"history.last": 30, "history.count": 1})


def test_multiclass_history(g: Graph) -> None:
    query = f"PREDICT FIRST(transactions.channel, 0, 30, days) {CUSTOMERS}"
    bq = bind(query, g)
    # Labels at 02-01 and T: c1 web (row 3) and app (row 6); c2 web (row 7, before row 8).
    classes = fit_target_classes(bq, g, ROWS)
    assert classes == ["web", "app"]
    c1, c2 = history(g, query, classes=classes)[:2]
    check(c1, {"history.class=web.share": 1.0, "history.class=app.share": 0.0,
               "history.count": 2})
    check(c2, {"history.class=web.share": 1.0, "history.count": 1})
    assert "history.last" not in c1


def test_multilabel_history(g: Graph) -> None:
    query = f"PREDICT LIST_DISTINCT(transactions.channel, 0, 30, days) CLASSIFY {CUSTOMERS}"
    c1 = history(g, query, classes=["web", "app", "store"])[0]
    # 01-31 → {store, web}; 01-01 → {app, web}.
    check(c1, {"history.class=web.share": 1.0, "history.class=app.share": 0.5,
               "history.class=store.share": 0.5})


RANK = f"PREDICT LIST_DISTINCT(transactions.product_id, 0, 30, days) RANK TOP 2 {CUSTOMERS}"


def test_ranking_and_static_queries_have_no_numeric_history(g: Graph) -> None:
    assert list(history(g, RANK)[0]) == ["ENTITY", "ANCHOR_TIMESTAMP"]
    static = bind(f"PREDICT customers.age {CUSTOMERS}", g)
    out = target_history(static, g, ROWS.select(["ENTITY"]))
    assert out.column_names == ["ENTITY"]


def test_recent_items_most_recent_first(g: Graph) -> None:
    out = recent_items(bind(RANK, g), g, ROWS, n=2).column("ITEMS").to_pylist()
    # c1 by T: 12 (03-01), 11 (02-25), 10 (02-10); c2: 10 and 11 at the same time → by item;
    # c1 by 02-01: 11 (01-20), 10 (01-05); c3: nothing.
    assert out == [[12, 11], [10, 11], [11, 10], []]


def test_recent_items_apply_the_target_filter(g: Graph) -> None:
    query = ("PREDICT LIST_DISTINCT(transactions.product_id WHERE transactions.channel = 'web', "
             f"0, 30, days) RANK TOP 2 {CUSTOMERS}")
    out = recent_items(bind(query, g), g, ROWS, n=5).column("ITEMS").to_pylist()
    assert out[0] == [11, 10]  # web rows of c1 by T: 1 (p10), 3 (p10), 4 (p11)


def test_popular_items(g: Graph) -> None:
    bq = bind(RANK, g)
    out = popular_items(bq, g, T)
    assert out.to_pydict() == {"ITEM": [10, 11, 12], "COUNT": [3, 3, 1]}
    # (02-20, 03-01]: rows 4 (p11), 5 (p12), 7 (p10), 8 (p11).
    out = popular_items(bq, g, T, window=timedelta(days=10), n=2)
    assert out.to_pydict() == {"ITEM": [11, 10], "COUNT": [2, 1]}
    # Default anchor: the last fact time (03-05), every row.
    assert popular_items(bq, g).column("COUNT").to_pylist() == [4, 3, 1]


def test_popular_items_needs_a_ranking_query(g: Graph) -> None:
    with pytest.raises(ConfigError, match="RANK TOP"):
        popular_items(bind(SPEND, g), g, T)


def test_build_features_puts_history_first(g: Graph) -> None:
    bq = bind(SPEND, g)
    spec = fit_feature_spec(bq, g, ROWS)
    out = build_features(bq, g, ROWS, spec)
    names = out.column_names
    assert names[:3] == ["ENTITY", "ANCHOR_TIMESTAMP", "history.last"]
    assert "transactions.count" in names and len(names) == len(set(names))
    assert out.num_rows == ROWS.num_rows


def test_history_at_many_anchors_is_one_label_query(g: Graph, monkeypatch) -> None:
    import relpredict.features.history as h

    calls: list[list[datetime]] = []
    real = h.training_table

    def spy(bq, graph, anchors=None, entities=None):  # type: ignore[no-untyped-def]
        calls.append(anchors)
        return real(bq, graph, anchors, entities)

    monkeypatch.setattr(h, "training_table", spy)
    history(g, SPEND)
    assert len(calls) == 1
    # 24 past anchors of T and 24 of 02-01, none shared.
    assert len(calls[0]) == 48


def test_population_levels_of_past_anchors_by_hand(g: Graph) -> None:
    """The level at a past anchor is the mean |label| of every entity's non-zero label there.

    At T's past anchors: 01-31 → c1 80, c2 12: level 46; 01-01 → c1 30 (c2's 0 is left out):
    level 30; 12-02 → no customer yet: none. The level T's rows are divided by is 46 (t - D),
    and at FEB1 (past anchor 01-02 → c1 30, c2 0): 30."""
    bq = bind(SPEND, g)
    past = past_levels(bq, g, [T, FEB1], n=3)
    assert past[T] == pytest.approx([46.0, 30.0, None])
    assert past[FEB1] == [pytest.approx(30.0), None, None]
    assert population_level(bq, g, [T, FEB1]) == {T: pytest.approx(46.0), FEB1: pytest.approx(30.0)}


def test_binary_population_levels_are_positive_shares_by_hand(g: Graph) -> None:
    """A binary target's level is the share of positive labels, zeros counted: at 01-31 c1 and
    c2 both buy (1.0); at 01-01 only c1 does (0.5); at 12-02 there is no customer yet."""
    bq = bind("PREDICT COUNT(transactions.*, 0, 30, days) > 0 " + CUSTOMERS, g)
    assert past_levels(bq, g, [T], n=3)[T] == pytest.approx([1.0, 0.5, None])
