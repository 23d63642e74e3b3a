"""anchor_schedule on a small fixture; every expected anchor list is computed by hand.

Data: customers created 2024-01-01; transactions from 2024-01-01 to 2024-12-31 (the last fact
time, ``hi``). The first timestamp of the data (``lo``) is 2024-01-01. With a 30-day target,
the last usable anchor is hi - 30 days = 2024-12-01. 2024 is a leap year (Feb has 29 days).
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import pytest

from relpredict.errors import ConfigError
from relpredict.graph.graph import Graph
from relpredict.labels.labels import Schedule, anchor_schedule, training_table
from relpredict.query.binder import bind
from relpredict.tables.table import Table

COUNT30 = "PREDICT COUNT(transactions.*, 0, 30, days) > 0 FOR EACH customers.customer_id"
COUNT1M = "PREDICT COUNT(transactions.*, 0, 1, months) > 0 FOR EACH customers.customer_id"


def d(month: int, day: int, year: int = 2024) -> datetime:
    return datetime(year, month, day)


def store(tx_times: list[datetime]) -> Graph:
    customers = pd.DataFrame({"customer_id": [1, 2], "created_at": [d(1, 1), d(1, 1)]})
    tx = pd.DataFrame({"transaction_id": range(len(tx_times)),
                       "customer_id": [1 + i % 2 for i in range(len(tx_times))],
                       "ts": tx_times})
    return Graph([
        Table.from_frame("customers", customers, primary_key="customer_id",
                         time_column="created_at"),
        Table.from_frame("transactions", tx, primary_key="transaction_id",
                         foreign_keys={"customer_id": "customers"}, time_column="ts"),
    ])


@pytest.fixture(scope="module")
def g() -> Graph:
    return store([d(1, 1), d(3, 15), d(6, 1), d(9, 9), d(12, 31)])


def test_defaults_last_window_is_test_and_the_one_before_val(g: Graph) -> None:
    s = anchor_schedule(bind(COUNT30, g), g)
    assert s.test == [d(12, 1)]
    assert s.val == [d(11, 1)]
    # Backward from 11-01 - 30 days = 10-02 in 30-day steps while >= 2024-01-01.
    assert s.train == [d(1, 6), d(2, 5), d(3, 6), d(4, 5), d(5, 5), d(6, 4), d(7, 4), d(8, 3),
                       d(9, 2), d(10, 2)]
    assert isinstance(s, Schedule)
    assert [name for name, _ in s.items()] == ["train", "val", "test"]


def test_explicit_val_and_test_starts(g: Graph) -> None:
    s = anchor_schedule(bind(COUNT30, g), g, val_start=d(6, 1), test_start=d(9, 1))
    # test: 09-01, 10-01, 10-31, 11-30 (12-30 > 12-01).
    assert s.test == [d(9, 1), d(10, 1), d(10, 31), d(11, 30)]
    # val: windows end by 09-01, so anchors <= 08-02: 06-01, 07-01, 07-31.
    assert s.val == [d(6, 1), d(7, 1), d(7, 31)]
    # train: 05-02, 04-02, 03-03, 02-02, 01-03 (12-04-2023 is before the data).
    assert s.train == [d(1, 3), d(2, 2), d(3, 3), d(4, 2), d(5, 2)]


def test_max_eval_caps_val_and_test(g: Graph) -> None:
    s = anchor_schedule(bind(COUNT30, g), g, val_start=d(6, 1), test_start=d(9, 1), max_eval=2)
    assert s.test == [d(9, 1), d(10, 1)]
    assert s.val == [d(6, 1), d(7, 1)]
    assert s.train == [d(1, 3), d(2, 2), d(3, 3), d(4, 2), d(5, 2)]
    s = anchor_schedule(bind(COUNT30, g), g, val_start=d(6, 1), test_start=d(9, 1), max_eval=1)
    assert (s.val, s.test) == ([d(6, 1)], [d(9, 1)])


def test_months_step_by_calendar_month(g: Graph) -> None:
    s = anchor_schedule(bind(COUNT1M, g), g, val_start=d(7, 31), test_start=d(10, 31))
    # last usable anchor: 12-31 - 1 month = 11-30.
    assert s.test == [d(10, 31), d(11, 30)]
    # val windows end by 10-31: anchors <= 09-30.
    assert s.val == [d(7, 31), d(8, 31), d(9, 30)]
    # train from 07-31 - 1 month = 06-30, one month at a time (Feb 29 in 2024).
    assert s.train == [d(1, 29), d(2, 29), d(3, 30), d(4, 30), d(5, 30), d(6, 30)]


def test_months_defaults(g: Graph) -> None:
    s = anchor_schedule(bind(COUNT1M, g), g)
    assert s.test == [d(11, 30)]
    assert s.val == [d(10, 30)]
    assert s.train == [d(1, 29), d(2, 29), d(3, 30), d(4, 30), d(5, 30), d(6, 30), d(7, 30),
                       d(8, 30), d(9, 30)]


def test_horizon_is_the_longest_target_window(g: Graph) -> None:
    query = ("PREDICT COUNT(transactions.*, 0, 7, days) > 0 "
             "AND COUNT(transactions.*, 0, 60, days) > 1 FOR EACH customers.customer_id")
    s = anchor_schedule(bind(query, g), g)
    # hi - 60 days = 11-01; val 09-02; train from 07-04 back: 07-04, 05-05, 03-06, 01-06.
    assert s.test == [d(11, 1)]
    assert s.val == [d(9, 2)]
    assert s.train == [d(1, 6), d(3, 6), d(5, 5), d(7, 4)]


def test_schedule_anchors_produce_labels(g: Graph) -> None:
    bq = bind(COUNT30, g)
    s = anchor_schedule(bq, g)
    table = training_table(bq, g, s.train)
    assert sorted(set(table.column("ANCHOR_TIMESTAMP").to_pylist())) == s.train
    assert table.num_rows == 2 * len(s.train)


def test_data_too_short_is_an_error() -> None:
    short = store([d(1, 1), d(2, 15)])  # hi - 30 days = 01-16; val 12-17-2023 is before the data
    with pytest.raises(ConfigError, match="shorter"):
        anchor_schedule(bind(COUNT30, short), short)


def test_val_start_too_early_is_an_error(g: Graph) -> None:
    with pytest.raises(ConfigError):
        anchor_schedule(bind(COUNT30, g), g, val_start=d(1, 20), test_start=d(6, 1))


def test_static_query_has_no_schedule(g: Graph) -> None:
    bq = bind("PREDICT customers.customer_id IS NULL FOR EACH customers.customer_id", g)
    assert not bq.is_temporal
    with pytest.raises(ConfigError, match="static"):
        anchor_schedule(bq, g)
