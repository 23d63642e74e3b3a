"""Aggregates on other graph shapes: a timed parent of the entity, two links to the entity table.

T = 2024-03-01. customers (static, no time column) → stores (opened_at); visits → stores;
transfers(sender → customers, receiver → customers)::

    customers: 1 (store 100), 2 (store 200)
    stores:    100 opened 2023-01-01, 200 opened 2024-06-01 (after T: unknown at T)
    visits:    1 s100 02-01 spend 10 | 2 s100 02-15 spend 20 | 3 s100 04-01 spend 999 (after T)
               4 s200 02-20 spend 5
    transfers: 1 1→2 50 02-10 | 2 2→1 30 02-20 | 3 1→2 70 03-10 (after T)
    logins:    1 c1 02-01 (the target's table: a query cannot aggregate transfers, it would not
               know which of its two links to follow)
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import pyarrow as pa
import pytest

from relpredict.features import aggregate_features, build_features, fit_feature_spec
from relpredict.graph.graph import Graph
from relpredict.query.binder import bind
from relpredict.tables.table import Table

from .conftest import T
from .test_aggregates import check, rows_of


@pytest.fixture
def bank() -> Graph:
    d = pd.to_datetime
    graph = Graph([
        Table.from_frame("customers", pd.DataFrame({"customer_id": [1, 2], "store_id": [100, 200]}),
                         primary_key="customer_id", foreign_keys={"store_id": "stores"}),
        Table.from_frame("stores", pd.DataFrame({
            "store_id": [100, 200], "opened_at": d(["2023-01-01", "2024-06-01"])}),
            primary_key="store_id", time_column="opened_at"),
        Table.from_frame("visits", pd.DataFrame({
            "visit_id": [1, 2, 3, 4], "store_id": [100, 100, 100, 200],
            "spend": [10.0, 20.0, 999.0, 5.0],
            "ts": d(["2024-02-01", "2024-02-15", "2024-04-01", "2024-02-20"])}),
            primary_key="visit_id", foreign_keys={"store_id": "stores"}, time_column="ts"),
        Table.from_frame("transfers", pd.DataFrame({
            "transfer_id": [1, 2, 3], "sender": [1, 2, 1], "receiver": [2, 1, 2],
            "amount": [50.0, 30.0, 70.0], "ts": d(["2024-02-10", "2024-02-20", "2024-03-10"])}),
            primary_key="transfer_id", foreign_keys={"sender": "customers", "receiver": "customers"},
            time_column="ts"),
        Table.from_frame("logins", pd.DataFrame({
            "login_id": [1], "customer_id": [1], "ts": d(["2024-02-01"])}),
            primary_key="login_id", foreign_keys={"customer_id": "customers"}, time_column="ts"),
    ])
    yield graph
    graph.close()


def features(g: Graph) -> list[dict]:
    bq = bind("PREDICT COUNT(logins.*, 0, 30, days) > 0 FOR EACH customers.customer_id", g)
    rows = rows_of([(1, T), (2, T), (1, datetime(2024, 7, 1))])
    return aggregate_features(bq, g, rows, fit_feature_spec(bq, g, rows)).to_pylist()


def test_timed_parent_of_the_entity_counts_only_once_it_exists(bank: Graph) -> None:
    c1, c2, c1_jul = features(bank)
    check(c1, {"customers.store_id>visits.count": 2,
               "customers.store_id>visits.spend.mean_last10": 15,
               "customers.store_id>visits.spend.mean_120d": 15})
    check(c2, {"customers.store_id>visits.count": None})  # store 200 opens after T
    check(c1_jul, {"customers.store_id>visits.count": 3})


def test_two_links_to_the_entity_are_two_routes(bank: Graph) -> None:
    c1, c2, _ = features(bank)
    check(c1, {"transfers[sender].count": 1, "transfers[sender].amount.mean_last1": 50,
               "transfers[receiver].count": 1, "transfers[receiver].amount.mean_last1": 30})
    check(c2, {"transfers[sender].count": 1, "transfers[receiver].amount.sum_all": 50})
    # c1's last transfer sent by T went to customer 2: customer 2's own transfers by T.
    hop = "transfers[sender].receiver>"
    check(c1, {f"{hop}transfers[sender].count": 1,
               f"{hop}transfers[receiver].amount.mean_last10": 50})


def test_string_keys() -> None:
    d = pd.to_datetime
    graph = Graph([
        Table.from_frame("users", pd.DataFrame({"user_id": ["u-a", "u-b"]}), primary_key="user_id"),
        Table.from_frame("visits", pd.DataFrame({
            "visit_id": [1, 2, 3], "user_id": ["u-a", "u-a", "u-b"], "pages": [3.0, 5.0, 7.0],
            "ts": d(["2024-01-10", "2024-02-10", "2024-03-10"])}),
            primary_key="visit_id", foreign_keys={"user_id": "users"}, time_column="ts"),
    ])
    bq = bind("PREDICT SUM(visits.pages, 0, 30, days) FOR EACH users.user_id", graph)
    rows = pa.table({"ENTITY": ["u-b", "u-a"],
                     "ANCHOR_TIMESTAMP": pa.array([T, T], pa.timestamp("us"))})
    out = build_features(bq, graph, rows, fit_feature_spec(bq, graph, rows)).to_pylist()
    graph.close()
    assert [r["ENTITY"] for r in out] == ["u-b", "u-a"]
    # u-a at T: labels at 01-31 → (01-31, 03-01]: 5; at 01-01 → (01-01, 01-31]: 3; before: 0
    # (users has no time column, so a user exists at every past anchor; an empty SUM is 0).
    check(out[1], {"visits.count": 2, "visits.pages.mean_last3": 4, "history.last": 5,
                   "history.mean_3": 8 / 3, "history.count": 24})
    check(out[0], {"visits.count": 0, "history.last": 0})
