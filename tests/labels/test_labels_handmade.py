"""Label tables on a tiny hand-made graph: every expected table is computed by hand.

The fixture's anchor is T = 2024-03-01 00:00. A target window ``(0, 30] days`` covers
``T < time <= T + 30 days`` = ``(2024-03-01 00:00, 2024-03-31 00:00]``.

customers (created_at; the entity table)::

    id  status    age   created_at
    1   ACTIVE    30    2024-01-01
    2   ACTIVE    45    2024-01-01
    3   INACTIVE  60    2024-01-01
    4   ACTIVE    NULL  2024-01-01
    5   NEW       25    2024-03-15      created after T: absent at T
    6   ACTIVE    38    2024-01-01

products (static dimension): 10 → x, 11 → y, 12 → x

transactions (customer, product, amount, ts)::

    101  c1  p10  100.0   T                  exactly at the anchor: out of (0, e], in (-k, 0]
    102  c1  p11    5.0   T + 1 day          exactly at T + start for start = 1 day
    103  c1  p12   20.0   T + 30 days        exactly at T + end: inside (0, 30]
    104  c1  p10 1000.0   T + 30 days + 1 s  just outside (0, 30] days, inside (0, 1] months
    201  c2  p10    7.0   T - 10 days
    202  c2  p10   50.0   T + 10 days
    203  c2  p10   40.0   T + 20 days
    301  c3  p12    3.0   T - 100 days
    401  c4  p10    9.0   T - 90 days        exactly at T - 90 days: out of (-90, 0]
    402  c4  p11   12.5   T + 15 days
    501  c5  p12   30.0   2024-03-20
    601  c6  p11    8.0   T + 1 s            just inside (0, e]

orders (customer, amount, ts)::

    1  c1   50.0  T               2  c1   5.0  T + 9 days     3  c1  15.0  T + 19 days
    4  c2   11.0  T + 30 days     5  c3 100.0  T - 20 days    6  c2   1.0  2024-04-30

users (string key) / visits: u-a, u-b; visits of u-a at T + 1 day and T + 8 days.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd
import pyarrow as pa
import pytest

from relpredict.errors import ConfigError
from relpredict.graph.graph import Graph
from relpredict.labels.labels import (
    default_anchor_time,
    prediction_table,
    training_table,
)
from relpredict.labels.sql import prediction_sql, training_sql
from relpredict.query.binder import bind
from relpredict.query.bound import TaskType
from relpredict.tables.table import Table

T = datetime(2024, 3, 1)
FEB1 = datetime(2024, 2, 1)
DAY = timedelta(days=1)
SEC = timedelta(seconds=1)


@pytest.fixture(scope="module")
def g() -> Graph:
    customers = pd.DataFrame({
        "customer_id": [1, 2, 3, 4, 5, 6],
        "status": ["ACTIVE", "ACTIVE", "INACTIVE", "ACTIVE", "NEW", "ACTIVE"],
        "age": pd.array([30, 45, 60, None, 25, 38], dtype="Int64"),
        "created_at": [datetime(2024, 1, 1)] * 4 + [datetime(2024, 3, 15), datetime(2024, 1, 1)],
    })
    products = pd.DataFrame({"product_id": [10, 11, 12], "category": ["x", "y", "x"]})
    transactions = pd.DataFrame(
        [(101, 1, 10, 100.0, T), (102, 1, 11, 5.0, T + DAY), (103, 1, 12, 20.0, T + 30 * DAY),
         (104, 1, 10, 1000.0, T + 30 * DAY + SEC),
         (201, 2, 10, 7.0, T - 10 * DAY), (202, 2, 10, 50.0, T + 10 * DAY),
         (203, 2, 10, 40.0, T + 20 * DAY),
         (301, 3, 12, 3.0, T - 100 * DAY),
         (401, 4, 10, 9.0, T - 90 * DAY), (402, 4, 11, 12.5, T + 15 * DAY),
         (501, 5, 12, 30.0, datetime(2024, 3, 20)),
         (601, 6, 11, 8.0, T + SEC)],
        columns=["transaction_id", "customer_id", "product_id", "amount", "ts"])
    orders = pd.DataFrame(
        [(1, 1, 50.0, T), (2, 1, 5.0, T + 9 * DAY), (3, 1, 15.0, T + 19 * DAY),
         (4, 2, 11.0, T + 30 * DAY), (5, 3, 100.0, T - 20 * DAY), (6, 2, 1.0, datetime(2024, 4, 30))],
        columns=["order_id", "customer_id", "amount", "ordered_at"])
    users = pd.DataFrame({"user_id": ["u-a", "u-b"], "age": [41, 17]})
    visits = pd.DataFrame({"visit_id": [1, 2], "user_id": ["u-a", "u-a"],
                           "at": [T + DAY, T + 8 * DAY]})
    return Graph([
        Table.from_frame("customers", customers, primary_key="customer_id",
                         time_column="created_at"),
        Table.from_frame("products", products, primary_key="product_id"),
        Table.from_frame("transactions", transactions, primary_key="transaction_id",
                         foreign_keys={"customer_id": "customers", "product_id": "products"},
                         time_column="ts"),
        Table.from_frame("orders", orders, primary_key="order_id",
                         foreign_keys={"customer_id": "customers"}, time_column="ordered_at"),
        Table.from_frame("users", users, primary_key="user_id"),
        Table.from_frame("visits", visits, primary_key="visit_id",
                         foreign_keys={"user_id": "users"}, time_column="at"),
    ])


def rows(g: Graph, query: str, anchors: list[datetime] | None = None) -> list[tuple]:
    """The training table as a list of row tuples (temporal queries default to anchor T)."""
    bq = bind(query, g)
    if bq.is_temporal and anchors is None:
        anchors = [T]
    table = training_table(bq, g, anchors if bq.is_temporal else None)
    return [tuple(r.values()) for r in table.to_pylist()]


def target(agg: str) -> str:
    return f"PREDICT {agg} FOR EACH customers.customer_id"


# ---------------------------------------------------------------------------- aggregations
def test_count_star_window_edges_and_empty_zero(g: Graph) -> None:
    # c1: 102, 103 (101 at T out, 104 at T+30d+1s out); c3 empty → 0; c5 absent; c6: 601 at T+1s.
    assert rows(g, target("COUNT(transactions.*, 0, 30, days)")) == [
        (1, T, 2), (2, T, 2), (3, T, 0), (4, T, 1), (6, T, 1)]


def test_count_column(g: Graph) -> None:
    assert rows(g, target("COUNT(transactions.amount, 0, 30, days)")) == [
        (1, T, 2), (2, T, 2), (3, T, 0), (4, T, 1), (6, T, 1)]


def test_sum(g: Graph) -> None:
    assert rows(g, target("SUM(transactions.amount, 0, 30, days)")) == [
        (1, T, 25.0), (2, T, 90.0), (3, T, 0.0), (4, T, 12.5), (6, T, 8.0)]


def test_avg_empty_is_dropped(g: Graph) -> None:
    assert rows(g, target("AVG(transactions.amount, 0, 30, days)")) == [
        (1, T, 12.5), (2, T, 45.0), (4, T, 12.5), (6, T, 8.0)]


def test_min(g: Graph) -> None:
    assert rows(g, target("MIN(transactions.amount, 0, 30, days)")) == [
        (1, T, 5.0), (2, T, 40.0), (4, T, 12.5), (6, T, 8.0)]


def test_max(g: Graph) -> None:
    # 1000.0 (T + 30 days + 1 s) must not leak in; 100.0 (at T) must not either.
    assert rows(g, target("MAX(transactions.amount, 0, 30, days)")) == [
        (1, T, 20.0), (2, T, 50.0), (4, T, 12.5), (6, T, 8.0)]


def test_count_distinct(g: Graph) -> None:
    assert rows(g, target("COUNT_DISTINCT(transactions.product_id, 0, 30, days)")) == [
        (1, T, 2), (2, T, 1), (3, T, 0), (4, T, 1), (6, T, 1)]


def test_first_and_last_follow_time_not_value(g: Graph) -> None:
    assert rows(g, target("FIRST(transactions.amount, 0, 30, days)")) == [
        (1, T, 5.0), (2, T, 50.0), (4, T, 12.5), (6, T, 8.0)]
    assert rows(g, target("LAST(transactions.amount, 0, 30, days)")) == [
        (1, T, 20.0), (2, T, 40.0), (4, T, 12.5), (6, T, 8.0)]


def test_list_distinct_rank_drops_empty_lists(g: Graph) -> None:
    query = target("LIST_DISTINCT(transactions.product_id, 0, 30, days) RANK TOP 2")
    bq = bind(query, g)
    assert bq.task_type is TaskType.link_prediction
    assert (bq.item_table, bq.item_key) == ("products", "product_id")
    assert rows(g, query) == [
        (1, T, [11, 12]), (2, T, [10]), (4, T, [11]), (6, T, [11])]


def test_list_distinct_classify_keeps_empty_lists(g: Graph) -> None:
    # PQL.md drops empty lists for ranking only; a multilabel example with no label is kept.
    query = target("LIST_DISTINCT(transactions.product_id, 0, 30, days) CLASSIFY")
    assert bind(query, g).task_type is TaskType.multilabel
    assert rows(g, query) == [
        (1, T, [11, 12]), (2, T, [10]), (3, T, []), (4, T, [11]), (6, T, [11])]


def test_window_start_excluded(g: Graph) -> None:
    # (1, 30] days: 102 at exactly T + 1 day is out; 601 at T + 1 s is out.
    assert rows(g, target("SUM(transactions.amount, 1, 30, days)")) == [
        (1, T, 20.0), (2, T, 90.0), (3, T, 0.0), (4, T, 12.5), (6, T, 0.0)]
    assert rows(g, target("COUNT(transactions.*, 1, 30, days)")) == [
        (1, T, 1), (2, T, 2), (3, T, 0), (4, T, 1), (6, T, 0)]


# ---------------------------------------------------------------------------- row filters
def test_filter_inside_aggregation(g: Graph) -> None:
    # orders > 10 in (T, T+30d]: c1 → 3 (15.0; 1 at T is out, 2 is 5.0); c2 → 4 at T+30d (11.0).
    assert rows(g, target("COUNT(orders.* WHERE orders.amount > 10, 0, 30, days)")) == [
        (1, T, 1), (2, T, 1), (3, T, 0), (4, T, 0), (6, T, 0)]


def test_filter_on_linked_dimension(g: Graph) -> None:
    # category x = products 10 and 12: c1 → 103 (p12, 20.0); c2 → 202 + 203; c4, c6 bought p11.
    assert rows(g, target(
        "SUM(transactions.amount WHERE products.category = 'x', 0, 30, days)")) == [
        (1, T, 20.0), (2, T, 90.0), (3, T, 0.0), (4, T, 0.0), (6, T, 0.0)]
    assert rows(g, target(
        "COUNT(transactions.* WHERE products.category = 'y' AND transactions.amount < 10, "
        "0, 30, days)")) == [(1, T, 1), (2, T, 0), (3, T, 0), (4, T, 0), (6, T, 1)]


# ---------------------------------------------------------------------------- WHERE
def test_where_backward_window_counts_row_at_anchor(g: Graph) -> None:
    # (-90, 0]: c1 has 101 at exactly T (in); c2 has 201; c3's 301 is at T-100d; c4's 401 is at
    # exactly T-90d (out); c6's only row is after T (invisible).
    assert rows(g, target("COUNT(transactions.*, 0, 30, days)")
                + " WHERE COUNT(transactions.*, -90, 0, days) > 0") == [(1, T, 2), (2, T, 2)]
    # (-1, 0] days: only the row at exactly T.
    assert rows(g, target("COUNT(transactions.*, 0, 30, days)")
                + " WHERE COUNT(transactions.*, -1, 0, days) > 0") == [(1, T, 2)]


def test_where_minus_infinity(g: Graph) -> None:
    # Everything up to T: c1, c2, c3, c4 have history; c6's first row is at T + 1 s.
    assert rows(g, target("COUNT(transactions.*, 0, 30, days)")
                + " WHERE COUNT(transactions.*, -INF, 0, days) > 0") == [
        (1, T, 2), (2, T, 2), (3, T, 0), (4, T, 1)]
    assert rows(g, target("COUNT(transactions.*, 0, 30, days)")
                + " WHERE COUNT(transactions.*, -INF, 0, days) = 0") == [(6, T, 1)]


def test_where_backward_sum_value(g: Graph) -> None:
    # Past spend up to and including T: c1 100 (at T), c2 7, c3 3, c4 9, c6 0.
    assert rows(g, target("SUM(transactions.amount, 0, 30, days)")
                + " WHERE SUM(transactions.amount, -INF, 0, days) >= 9") == [
        (1, T, 25.0), (4, T, 12.5)]


def test_where_static_column(g: Graph) -> None:
    assert rows(g, target("COUNT(transactions.*, 0, 30, days)")
                + " WHERE customers.status = 'ACTIVE'") == [
        (1, T, 2), (2, T, 2), (4, T, 1), (6, T, 1)]


def test_where_combined_static_and_window(g: Graph) -> None:
    assert rows(g, target("COUNT(orders.*, 0, 30, days) > 0")
                + " WHERE customers.status = 'ACTIVE' AND COUNT(transactions.*, -90, 0) > 0") == [
        (1, T, True), (2, T, True)]


# ---------------------------------------------------------------------------- ASSUMING
def test_assuming_drops_examples_where_it_fails(g: Graph) -> None:
    # ASSUMING a transaction in (T, T + 7 days]: c1 (102 at T+1d) and c6 (601 at T+1s).
    query = (target("SUM(transactions.amount, 0, 30, days)")
             + " ASSUMING COUNT(transactions.*, 0, 7, days) > 0")
    assert rows(g, query) == [(1, T, 25.0), (6, T, 8.0)]
    # Prediction ignores ASSUMING: every customer that exists at T.
    pred = prediction_table(bind(query, g), g, T)
    assert pred.column_names == ["ENTITY", "ANCHOR_TIMESTAMP"]
    assert [tuple(r.values()) for r in pred.to_pylist()] == [
        (1, T), (2, T), (3, T), (4, T), (6, T)]


def test_prediction_table_applies_where(g: Graph) -> None:
    query = (target("COUNT(transactions.*, 0, 30, days) > 0")
             + " WHERE COUNT(transactions.*, -90, 0, days) > 0")
    pred = prediction_table(bind(query, g), g, T)
    assert [tuple(r.values()) for r in pred.to_pylist()] == [(1, T), (2, T)]
    # At 2024-03-20 the window is (2023-12-21, 2024-03-20]: c4 has 402, c6 has 601, and c5
    # exists (created 03-15) with its row 501 at exactly the anchor; c3's 301 is too old.
    at = datetime(2024, 3, 20)
    pred = prediction_table(bind(query, g), g, at)
    assert [tuple(r.values()) for r in pred.to_pylist()] == [
        (1, at), (2, at), (4, at), (5, at), (6, at)]


# ---------------------------------------------------------------------------- entities
def test_entity_created_after_anchor_is_absent(g: Graph) -> None:
    # c5 is created on 03-15: absent at T, present at 03-15 (created_at <= anchor).
    at = datetime(2024, 3, 15)
    assert rows(g, target("COUNT(transactions.*, 0, 10, days)"), [at]) == [
        (1, at, 0), (2, at, 1), (3, at, 0), (4, at, 1), (5, at, 1), (6, at, 0)]
    assert 5 not in [r[0] for r in rows(g, target("COUNT(transactions.*, 0, 30, days)"))]


def test_string_entity_key_keeps_its_type(g: Graph) -> None:
    bq = bind("PREDICT COUNT(visits.*, 0, 7, days) FOR EACH users.user_id", g)
    table = training_table(bq, g, [T])
    assert table.schema.field("ENTITY").type == pa.string()
    assert [tuple(r.values()) for r in table.to_pylist()] == [("u-a", T, 1), ("u-b", T, 0)]
    pred = prediction_table(bq, g, T)
    assert pred.schema.field("ENTITY").type == pa.string()


def test_integer_entity_key_keeps_its_type(g: Graph) -> None:
    table = training_table(bind(target("COUNT(transactions.*, 0, 30, days)"), g), g, [T])
    assert table.schema.field("ENTITY").type == pa.int64()
    assert table.column_names == ["ENTITY", "ANCHOR_TIMESTAMP", "TARGET"]


# ---------------------------------------------------------------------------- booleans
def test_boolean_target(g: Graph) -> None:
    query = target("COUNT(transactions.*, 0, 30, days) > 0")
    assert bind(query, g).task_type is TaskType.binary
    assert rows(g, query) == [
        (1, T, True), (2, T, True), (3, T, False), (4, T, True), (6, T, True)]


def test_boolean_target_null_comparison_dropped(g: Graph) -> None:
    # c3 has no rows in the window: MAX is NULL, NULL > 30 is NULL → dropped.
    assert rows(g, target("MAX(transactions.amount, 0, 30, days) > 30")) == [
        (1, T, False), (2, T, True), (4, T, False), (6, T, False)]
    # MIN(...) <= 8: c1 5.0, c2 40.0, c4 12.5, c6 8.0 (equal counts).
    assert rows(g, target("MIN(transactions.amount, 0, 30, days) <= 8")) == [
        (1, T, True), (2, T, False), (4, T, False), (6, T, True)]


def test_boolean_combination_with_null_side(g: Graph) -> None:
    # NULL OR TRUE is TRUE (kept); NULL OR FALSE is NULL (dropped). c3: AVG NULL, COUNT 0.
    query = target("AVG(transactions.amount, 0, 30, days) > 40 "
                   "OR COUNT(orders.*, 0, 30, days) = 0")
    # c1: 12.5>40 F, orders 2 → F. c2: 45>40 T. c3: NULL, orders 0 → T. c4: F, 0 → T. c6: F, 0 → T.
    assert rows(g, query) == [
        (1, T, False), (2, T, True), (3, T, True), (4, T, True), (6, T, True)]
    query = target("AVG(transactions.amount, 0, 30, days) > 40 "
                   "OR COUNT(orders.*, 0, 30, days) > 0")
    # c3: NULL OR FALSE (its order is before T) → NULL → dropped.
    assert rows(g, query) == [
        (1, T, True), (2, T, True), (4, T, False), (6, T, False)]


# ---------------------------------------------------------------------------- static queries
def test_static_numeric_target_has_no_anchor(g: Graph) -> None:
    bq = bind("PREDICT customers.age FOR EACH customers.customer_id", g)
    assert not bq.is_temporal
    assert bq.task_type is TaskType.regression
    table = training_table(bq, g)
    assert table.column_names == ["ENTITY", "TARGET"]
    # Static: every entity (c5 too, no anchor); c4's NULL age is dropped.
    assert [tuple(r.values()) for r in table.to_pylist()] == [
        (1, 30), (2, 45), (3, 60), (5, 25), (6, 38)]
    pred = prediction_table(bq, g)
    assert pred.column_names == ["ENTITY"]
    assert pred.column("ENTITY").to_pylist() == [1, 2, 3, 4, 5, 6]
    assert default_anchor_time(bq, g) is None


def test_static_users_age(g: Graph) -> None:
    assert rows(g, "PREDICT users.age FOR EACH users.user_id") == [("u-a", 41), ("u-b", 17)]


def test_static_boolean_null_dropped(g: Graph) -> None:
    assert rows(g, "PREDICT customers.age > 40 FOR EACH customers.customer_id") == [
        (1, False), (2, True), (3, True), (5, False), (6, False)]


@pytest.mark.parametrize(("condition", "expected"), [
    ("customers.status IN ('ACTIVE', 'NEW')",
     [(1, True), (2, True), (3, False), (4, True), (5, True), (6, True)]),
    ("customers.status NOT IN ('ACTIVE', 'NEW')",
     [(1, False), (2, False), (3, True), (4, False), (5, False), (6, False)]),
    ("customers.age IS NULL",
     [(1, False), (2, False), (3, False), (4, True), (5, False), (6, False)]),
    ("customers.age IS NOT NULL",
     [(1, True), (2, True), (3, True), (4, False), (5, True), (6, True)]),
    ("customers.status STARTS WITH 'IN'",
     [(1, False), (2, False), (3, True), (4, False), (5, False), (6, False)]),
    ("customers.status ENDS WITH 'W'",
     [(1, False), (2, False), (3, False), (4, False), (5, True), (6, False)]),
    ("customers.status LIKE '%CTIV%'",
     [(1, True), (2, True), (3, True), (4, True), (5, False), (6, True)]),
    ("NOT customers.status = 'ACTIVE'",
     [(1, False), (2, False), (3, True), (4, False), (5, True), (6, False)]),
    # c4: age NULL → (NULL > 40 OR FALSE) is NULL → dropped; c3: INACTIVE but 60 > 40.
    ("customers.age > 40 OR customers.status = 'NEW'",
     [(1, False), (2, True), (3, True), (5, True), (6, False)]),
    # c4: NULL OR TRUE → TRUE (kept).
    ("customers.age > 40 OR customers.status = 'ACTIVE'",
     [(1, True), (2, True), (3, True), (4, True), (5, False), (6, True)]),
    ("(customers.age > 40 OR customers.status = 'NEW') AND NOT customers.status = 'INACTIVE'",
     [(1, False), (2, True), (3, False), (5, True), (6, False)]),
])
def test_static_boolean_operators(g: Graph, condition: str, expected: list[tuple]) -> None:
    assert rows(g, f"PREDICT {condition} FOR EACH customers.customer_id") == expected


def test_operators_in_where_of_temporal_query(g: Graph) -> None:
    query = (target("COUNT(transactions.*, 0, 30, days)")
             + " WHERE customers.status IN ('INACTIVE', 'NEW') OR customers.age IS NULL")
    assert rows(g, query) == [(3, T, 0), (4, T, 1)]
    query = (target("COUNT(transactions.*, 0, 30, days)")
             + " WHERE NOT customers.status STARTS WITH 'ACT'")
    assert rows(g, query) == [(3, T, 0)]


def test_static_where(g: Graph) -> None:
    assert rows(g, "PREDICT customers.age FOR EACH customers.customer_id "
                   "WHERE customers.status = 'ACTIVE'") == [(1, 30), (2, 45), (6, 38)]


# ---------------------------------------------------------------------------- anchors and units
def test_multiple_anchors_ordered_by_anchor_then_entity(g: Graph) -> None:
    # At 02-01 the window is (02-01, 03-02]: c1 101 (03-01) + 102 (03-02, at the end); c2 201;
    # c6 601 (03-01 00:00:01); c4's 402 (03-16) is out.
    assert rows(g, target("COUNT(transactions.*, 0, 30, days)"), [T, FEB1]) == [
        (1, FEB1, 2), (2, FEB1, 1), (3, FEB1, 0), (4, FEB1, 0), (6, FEB1, 1),
        (1, T, 2), (2, T, 2), (3, T, 0), (4, T, 1), (6, T, 1)]


def test_unit_hours(g: Graph) -> None:
    # (T, T + 24 h]: 102 at exactly T + 24 h (in) and 601 at T + 1 s.
    assert rows(g, target("COUNT(transactions.*, 0, 24, hours)")) == [
        (1, T, 1), (2, T, 0), (3, T, 0), (4, T, 0), (6, T, 1)]
    # (T + 1 h, T + 24 h]: 601 is out now.
    assert rows(g, target("COUNT(transactions.*, 1, 24, hours)")) == [
        (1, T, 1), (2, T, 0), (3, T, 0), (4, T, 0), (6, T, 0)]


def test_unit_weeks(g: Graph) -> None:
    # (T, T + 14 days] = (03-01, 03-15]: 102, 202 (03-11), 601; 402 (03-16) out.
    assert rows(g, target("COUNT(transactions.*, 0, 2, weeks)")) == [
        (1, T, 1), (2, T, 1), (3, T, 0), (4, T, 0), (6, T, 1)]


def test_unit_months_are_calendar_months(g: Graph) -> None:
    # (03-01, 04-01]: 104 at 03-31 00:00:01 is inside one calendar month (not inside 30 days).
    assert rows(g, target("COUNT(transactions.*, 0, 1, months)")) == [
        (1, T, 3), (2, T, 2), (3, T, 0), (4, T, 1), (6, T, 1)]
    assert rows(g, target("MAX(transactions.amount, 0, 1, months)")) == [
        (1, T, 1000.0), (2, T, 50.0), (4, T, 12.5), (6, T, 8.0)]


def test_unit_seconds_and_minutes(g: Graph) -> None:
    assert rows(g, target("COUNT(transactions.*, 0, 1, seconds)")) == [
        (1, T, 0), (2, T, 0), (3, T, 0), (4, T, 0), (6, T, 1)]
    assert rows(g, target("COUNT(transactions.*, 0, 1440, minutes)")) == [
        (1, T, 1), (2, T, 0), (3, T, 0), (4, T, 0), (6, T, 1)]


def test_default_anchor_time_is_latest_fact_time(g: Graph) -> None:
    tx = bind(target("COUNT(transactions.*, 0, 30, days) > 0"), g)
    assert default_anchor_time(tx, g) == T + 30 * DAY + SEC  # transaction 104
    orders = bind(target("COUNT(orders.*, 0, 30, days) > 0"), g)
    assert default_anchor_time(orders, g) == datetime(2024, 4, 30)
    both = bind(target("COUNT(transactions.*, 0, 30, days) > 0 "
                       "OR COUNT(orders.*, 0, 7, days) > 0"), g)
    assert both.fact_tables == ("transactions", "orders")
    assert default_anchor_time(both, g) == datetime(2024, 4, 30)
    # WHERE's tables do not count: the target's fact table decides.
    where = bind(target("COUNT(transactions.*, 0, 30, days) > 0")
                 + " WHERE COUNT(orders.*, -30, 0, days) > 0", g)
    assert default_anchor_time(where, g) == T + 30 * DAY + SEC
    # prediction_table without an anchor uses it.
    pred = prediction_table(tx, g)
    assert set(pred.column("ANCHOR_TIMESTAMP").to_pylist()) == {T + 30 * DAY + SEC}
    assert pred.column("ENTITY").to_pylist() == [1, 2, 3, 4, 5, 6]


def test_temporal_query_needs_anchors(g: Graph) -> None:
    with pytest.raises(ConfigError):
        training_table(bind(target("COUNT(transactions.*, 0, 30, days)"), g), g, [])


# ---------------------------------------------------------------------------- parameters
INJECTION = "x'; DROP TABLE customers; --"


def test_values_are_bound_as_parameters(g: Graph) -> None:
    query = (target("COUNT(transactions.*, 0, 30, days)")
             + " WHERE customers.status = 'x''; DROP TABLE customers; --'")
    bq = bind(query, g)
    for sql in (training_sql(bq, g, [T]), prediction_sql(bq, g, T)):
        assert INJECTION in sql.params
        assert "DROP" not in sql.sql and INJECTION not in sql.sql
    assert rows(g, query) == []
    assert prediction_table(bq, g, T).num_rows == 0
    assert g.con.execute("SELECT COUNT(*) FROM customers").fetchall() == [(6,)]
    # Numbers, windows and anchors are parameters too.
    sql = training_sql(bind(target("SUM(transactions.amount WHERE transactions.amount > 12345,"
                                   " 0, 987, days)"), g), g, [T])
    assert "12345" not in sql.sql and "987" not in sql.sql
    assert 12345 in sql.params and [T] in sql.params


def test_injection_in_row_filter(g: Graph) -> None:
    query = target("COUNT(transactions.* WHERE products.category = 'x''; DROP TABLE products; --',"
                   " 0, 30, days)")
    assert rows(g, query) == [(1, T, 0), (2, T, 0), (3, T, 0), (4, T, 0), (6, T, 0)]
    assert g.con.execute("SELECT COUNT(*) FROM products").fetchall() == [(3,)]


# ---------------------------------------------------------------------------- ties and NULLs
def test_first_last_ties_by_primary_key_and_nulls_skipped() -> None:
    # c1: rows 3 (c) and 1 (a) at T + 1 day tie → the lower key (1, a) is first; 2 (b) is last.
    # c2: 5 (z, 5.0) at T + 1 day, 4 (NULL, NULL) at T + 3 days → LAST skips the NULL.
    tx = pd.DataFrame({"tid": [3, 1, 2, 4, 5], "cid": [1, 1, 1, 2, 2],
                       "kind": ["c", "a", "b", None, "z"], "amt": [1.0, 2.0, 3.0, None, 5.0],
                       "ts": [T + DAY, T + DAY, T + 2 * DAY, T + 3 * DAY, T + DAY]})
    small = Graph([Table.from_frame("c", pd.DataFrame({"cid": [1, 2]}), primary_key="cid"),
                   Table.from_frame("tx", tx, primary_key="tid", foreign_keys={"cid": "c"},
                                    time_column="ts")])

    def labels(agg: str) -> list[tuple]:
        return rows(small, f"PREDICT {agg} FOR EACH c.cid")

    assert bind("PREDICT FIRST(tx.kind, 0, 30) FOR EACH c.cid", small).task_type is \
        TaskType.multiclass
    assert labels("FIRST(tx.kind, 0, 30)") == [(1, T, "a"), (2, T, "z")]
    assert labels("LAST(tx.kind, 0, 30)") == [(1, T, "b"), (2, T, "z")]
    assert labels("LAST(tx.amt, 0, 30)") == [(1, T, 3.0), (2, T, 5.0)]
    assert labels("AVG(tx.amt, 0, 30)") == [(1, T, 2.0), (2, T, 5.0)]
    assert labels("COUNT(tx.amt, 0, 30)") == [(1, T, 3), (2, T, 1)]
    assert labels("COUNT(tx.*, 0, 30)") == [(1, T, 3), (2, T, 2)]
    assert labels("COUNT_DISTINCT(tx.kind, 0, 30)") == [(1, T, 3), (2, T, 1)]
    assert labels("LIST_DISTINCT(tx.kind, 0, 30) CLASSIFY") == [
        (1, T, ["a", "b", "c"]), (2, T, ["z"])]
    small.close()


# ---------------------------------------------------------------------------- entity subsets
@pytest.mark.parametrize("query", [
    target("COUNT(transactions.*, 0, 30, days)"),
    "PREDICT COUNT(transactions.*, 0, 30, days) > 0 FOR EACH customers.customer_id "
    "WHERE COUNT(transactions.*, -INF, 0, days) > 0",
    "PREDICT COUNT(visits.*, 0, 7, days) FOR EACH users.user_id",
])
def test_labels_of_some_entities_equal_the_full_table_filtered(g: Graph, query: str) -> None:
    bq = bind(query, g)
    anchors = [T - 10 * DAY, T, T + 5 * DAY]
    full = training_table(bq, g, anchors).to_pylist()
    keys = sorted({r["ENTITY"] for r in full})[::2]
    some = training_table(bq, g, anchors, entities=keys).to_pylist()
    assert some == [r for r in full if r["ENTITY"] in keys]
    assert training_table(bq, g, anchors, entities=[]).num_rows == 0
