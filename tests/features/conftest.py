"""A tiny store whose feature values are computed by hand in the tests.

T = 2024-03-01 00:00 (2024 is a leap year: Feb 28 → Mar 1 is 2 days).

customers (created_at; fav_product → products)::

    id  segment  age  birth       created_at   fav_product
    1   gold     30   1994-03-01  2024-01-01   10
    2   basic    45   1979-03-01  2024-01-01   11
    3   basic    60   2030-01-01  2024-03-10   12     created after T; a birth "in the future"

products (static): 10, 11, 12

transactions (id, customer, product, amount, channel, ts)::

    1  c1  p10    10  web    2024-01-05
    2  c1  p11    20  app    2024-01-20
    3  c1  p10    30  web    2024-02-10
    4  c1  p11  NULL  web    2024-02-25
    5  c1  p12    50  store  2024-03-01  (= T: known at T)
    6  c1  p10  1000  app    2024-03-05  (after T)
    7  c2  p10     5  web    2024-02-28
    8  c2  p11     7  app    2024-02-28  (same time as 7, larger key: the later one)
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import pandas as pd
import pytest

from relpredict.graph.graph import Graph
from relpredict.tables.table import Table

T = datetime(2024, 3, 1)


def store_graph(customers: pd.DataFrame, transactions: pd.DataFrame) -> Graph:
    """customers / products / transactions with the fixture's keys and time columns."""
    products = pd.DataFrame({"product_id": [10, 11, 12], "price": [1.0, 2.0, 3.0]})
    return Graph([
        Table.from_frame("customers", customers, primary_key="customer_id",
                         foreign_keys={"fav_product": "products"}, time_column="created_at"),
        Table.from_frame("products", products, primary_key="product_id"),
        Table.from_frame("transactions", transactions, primary_key="tx_id",
                         foreign_keys={"customer_id": "customers", "product_id": "products"},
                         time_column="ts"),
    ])


def tiny_frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    customers = pd.DataFrame({
        "customer_id": [1, 2, 3],
        "segment": ["gold", "basic", "basic"],
        "age": [30, 45, 60],
        "birth": pd.to_datetime(["1994-03-01", "1979-03-01", "2030-01-01"]),
        "created_at": pd.to_datetime(["2024-01-01", "2024-01-01", "2024-03-10"]),
        "fav_product": [10, 11, 12],
    })
    tx = pd.DataFrame(
        [(1, 1, 10, 10.0, "web", "2024-01-05"), (2, 1, 11, 20.0, "app", "2024-01-20"),
         (3, 1, 10, 30.0, "web", "2024-02-10"), (4, 1, 11, None, "web", "2024-02-25"),
         (5, 1, 12, 50.0, "store", "2024-03-01"), (6, 1, 10, 1000.0, "app", "2024-03-05"),
         (7, 2, 10, 5.0, "web", "2024-02-28"), (8, 2, 11, 7.0, "app", "2024-02-28")],
        columns=["tx_id", "customer_id", "product_id", "amount", "channel", "ts"])
    tx["ts"] = pd.to_datetime(tx["ts"])
    return customers, tx


@pytest.fixture
def tiny() -> Callable[[], Graph]:
    """A factory: each call builds a fresh graph of the fixture data."""
    return lambda: store_graph(*tiny_frames())


@pytest.fixture
def g() -> Graph:
    graph = store_graph(*tiny_frames())
    yield graph
    graph.close()
