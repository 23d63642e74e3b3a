"""``FORECAST N TIMEFRAMES`` labels on a tiny hand-made graph, every expected row computed by hand.

T = 2024-03-01 00:00; the query's window is (0, 10] days, so timeframe h of an anchor t covers
``(t + 10(h-1) days, t + 10h days]``.

customers: 1 and 2 created 2024-01-01, 3 created T - 15 days (so absent at T - 20 days).

transactions (customer, amount, ts)::

    1  c1    3.0  T                   at the anchor: outside (T, T + 10d]
    2  c1    5.0  T + 1 day
    3  c1    7.0  T + 10 days         the window's end: inside
    4  c1  100.0  T + 10 days + 1 s   just after: timeframe 2 of anchor T
    5  c2    2.0  T - 5 days          before T
    6  c2    4.0  T + 3 days
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd
import pytest

from relpredict.graph.graph import Graph
from relpredict.labels.labels import (
    MAX_TRAINED_TIMEFRAMES,
    forecast_steps,
    forecast_table,
    training_table,
)
from relpredict.query.binder import bind
from relpredict.query.bound import Window, timeframe
from relpredict.tables.table import Table

T = datetime(2024, 3, 1)
DAY = timedelta(days=1)
QUERY = ("PREDICT SUM(transactions.amount, 0, 10, days) FORECAST 3 TIMEFRAMES "
         "FOR EACH customers.customer_id")


@pytest.fixture(scope="module")
def g() -> Graph:
    customers = pd.DataFrame({"customer_id": [1, 2, 3],
                              "created_at": [datetime(2024, 1, 1)] * 2 + [T - 15 * DAY]})
    transactions = pd.DataFrame(
        [(1, 1, 3.0, T), (2, 1, 5.0, T + DAY), (3, 1, 7.0, T + 10 * DAY),
         (4, 1, 100.0, T + 10 * DAY + timedelta(seconds=1)), (5, 2, 2.0, T - 5 * DAY),
         (6, 2, 4.0, T + 3 * DAY)],
        columns=["transaction_id", "customer_id", "amount", "ts"])
    graph = Graph([
        Table.from_frame("customers", customers, primary_key="customer_id", time_column="created_at"),
        Table.from_frame("transactions", transactions, primary_key="transaction_id",
                         foreign_keys={"customer_id": "customers"}, time_column="ts"),
    ])
    yield graph
    graph.close()


def test_forecast_binds_as_regression_with_timeframe_one_as_its_target(g: Graph) -> None:
    bq = bind(QUERY, g)
    assert bq.forecast == 3 and bq.task_type.value == "regression"
    assert bq.horizon == Window(0, 10, "days")
    assert bq.text == QUERY  # the canonical text keeps FORECAST 3 TIMEFRAMES
    assert bind(bq.text, g).forecast == 3


def test_timeframe_h_moves_the_window_h_minus_1_lengths_ahead(g: Graph) -> None:
    bq = bind(QUERY, g)
    assert timeframe(bq, 1).horizon == Window(0, 10, "days") and timeframe(bq, 1).forecast is None
    second = timeframe(bq, 2)
    assert second.horizon == Window(10, 20, "days")
    assert second.text == "PREDICT SUM(transactions.amount, 10, 20, days) FOR EACH customers.customer_id"
    # timeframe 2 at T: (T + 10d, T + 20d] holds only transaction 4 of c1
    got = [tuple(r.values()) for r in training_table(second, g, [T]).to_pylist()]
    assert got == [(1, T, 100.0), (2, T, 0.0), (3, T, 0.0)]
    moved = timeframe(bind("PREDICT SUM(transactions.amount, 7, 14, days) FORECAST 3 TIMEFRAMES "
                           "FOR EACH customers.customer_id", g), 3)
    assert moved.horizon == Window(21, 28, "days")  # length 7: (7 + 14, 14 + 14]


def test_each_timeframe_is_labelled_at_its_own_anchor_with_the_same_calendar_window(g: Graph) -> None:
    """Timeframe h's example reads features at T - 10(h-1) days and is labelled with the window
    (T, T + 10d] (c1: 5 + 7 = 12, c2: 4, c3: 0); c3 did not exist 20 days before T."""
    bq = bind(QUERY, g)
    table = forecast_table(bq, g, [T], [1, 2, 3], lo=datetime(2024, 1, 1))
    assert table.column_names == ["ENTITY", "ANCHOR_TIMESTAMP", "TIMEFRAME", "TARGET"]
    got = [tuple(r.values()) for r in table.to_pylist()]
    assert got == [
        (1, T, 1, 12.0), (2, T, 1, 4.0), (3, T, 1, 0.0),
        (1, T - 10 * DAY, 2, 12.0), (2, T - 10 * DAY, 2, 4.0), (3, T - 10 * DAY, 2, 0.0),
        (1, T - 20 * DAY, 3, 12.0), (2, T - 20 * DAY, 3, 4.0)]
    for _, anchor, h, _ in got:  # no look-ahead: each label window starts at or after its anchor
        assert anchor + 10 * (h - 1) * DAY == T >= anchor


def test_anchors_moved_before_the_data_start_are_left_out(g: Graph) -> None:
    bq = bind(QUERY, g)
    table = forecast_table(bq, g, [T], [1, 2, 3], lo=T - 15 * DAY)
    assert sorted(set(table.column("TIMEFRAME").to_pylist())) == [1, 2]


def test_trained_timeframes_reach_as_far_as_the_data_and_at_most_twelve(g: Graph) -> None:
    # anchors may move back from T to 2024-01-01 (60 days): timeframes 1..7 of 10 days
    start = datetime(2024, 1, 1)
    assert forecast_steps(bind(QUERY, g), [T], start) == [1, 2, 3]
    many = bind(QUERY.replace("FORECAST 3", "FORECAST 50"), g)
    assert forecast_steps(many, [T - 20 * DAY, T], start) == [1, 2, 3, 4, 5, 6, 7]
    daily = bind(QUERY.replace("0, 10, days", "0, 1, days").replace("FORECAST 3", "FORECAST 10000"), g)
    steps = forecast_steps(daily, [T], start)  # 60 days back: timeframes 1..61, 12 of them
    assert len(steps) == MAX_TRAINED_TIMEFRAMES and steps[0] == 1 and steps[-1] == 61
    assert steps == sorted(set(steps))
