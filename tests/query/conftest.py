"""A small graph holding every table the PQL.md examples name, plus the awkward cases.

Shape of the graph (``→`` is a foreign key; ``[t]`` marks the time column)::

    customers [signup]      ── region_id → regions (static dimension)
    orders [created_at]     ── customer_id → customers, user_id → users
    transactions [t_dat]    ── customer_id → customers, user_id → users, article_id → articles
    articles (static)       ── article_id pk; colour, tags (list), in_stock (bool)
    users [joined]          ── age, location, gender, is_premium (bool), interests (list), bio (text)
    purchases [purchased_at]── user_id → users; type (categorical), amount
    notifications [sent_at] ── user_id → users
    addresses (static)      ── user_id → users: linked, but no time column
    transfers [sent_at]     ── sender_id → users AND receiver_id → users: ambiguous
    weather [day]           ── no primary key, linked to nothing
    drivers / results [date] / qualifying [date]   ── the rel-f1 trio

Each fact table mixes types so that the binder's type rules can be exercised: ``orders.note`` is
free text, ``orders.channel`` categorical, ``results.statusId`` a categorical code stored as an
integer (as in F1).
"""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd
import pytest

from relpredict.graph.graph import Graph
from relpredict.tables.table import Table

LONG_TEXT = [
    "I like hiking in the mountains with my dog on sunny weekends",
    "Collector of vintage vinyl records and old jazz magazines from Paris",
    "Software engineer who bakes sourdough bread every single Sunday morning",
    "Marathon runner, amateur photographer and occasional birdwatcher by the lake",
]


def _days(*offsets: int) -> pd.Series:
    return pd.Series(pd.Timestamp("2024-01-01") + pd.to_timedelta(list(offsets), unit="D"))


def make_graph() -> Graph:
    customers = pd.DataFrame({
        "customer_id": [1, 2, 3, 4],
        "status": ["ACTIVE", "ACTIVE", "CHURNED", "ACTIVE"],
        "region_id": [10, 20, 10, 20],
        "signup": _days(0, 1, 2, 3),
    })
    regions = pd.DataFrame({
        "region_id": [10, 20],
        "region_name": ["EU", "US"],
        "population": [450.0, 330.0],
    })
    users = pd.DataFrame({
        "user_id": [1, 2, 3, 4],
        "age": [25, 41, 37, 52],
        "location": ["US", "DE", "US", "FR"],
        "gender": ["male", "female", "female", "male"],
        "is_premium": [True, False, False, True],
        "interests": [["golf", "tech"], ["music"], ["tech", "food"], []],
        "bio": LONG_TEXT,
        "joined": _days(0, 0, 5, 9),
    })
    orders = pd.DataFrame({
        "order_id": range(1, 9),
        "customer_id": [1, 1, 2, 3, 4, 4, 2, 1],
        "user_id": [1, 2, 2, 3, 4, 1, 3, 4],
        "amount": [10.0, 25.5, 7.0, 99.0, 12.0, 3.5, 40.0, 18.0],
        "channel": ["web", "app", "web", "store", "app", "web", "web", "app"],
        "note": LONG_TEXT * 2,
        "created_at": _days(5, 10, 12, 20, 31, 33, 40, 41),
    })
    articles = pd.DataFrame({
        "article_id": [100, 101, 102],
        "colour": ["red", "blue", "red"],
        "tags": [["summer", "sale"], ["winter"], []],
        "in_stock": [True, False, True],
    })
    transactions = pd.DataFrame({
        "transaction_id": range(1, 9),
        "customer_id": [1, 2, 2, 3, 4, 1, 1, 3],
        "user_id": [4, 3, 2, 1, 1, 2, 3, 4],
        "article_id": [100, 101, 102, 100, 100, 101, 102, 101],
        "price": [9.5, 12.0, 30.0, 5.0, 11.0, 8.0, 15.0, 22.0],
        "t_dat": _days(3, 4, 8, 15, 16, 30, 31, 44),
    })
    purchases = pd.DataFrame({
        "purchase_id": range(1, 7),
        "user_id": [1, 2, 3, 4, 1, 2],
        "type": ["book", "game", "book", "music", "game", "book"],
        "amount": [5.0, 60.0, 12.0, 1.0, 45.0, 8.0],
        "purchased_at": _days(2, 6, 9, 14, 22, 35),
    })
    notifications = pd.DataFrame({
        "notification_id": range(1, 6),
        "user_id": [1, 2, 3, 4, 1],
        "sent_at": _days(1, 7, 9, 12, 25),
    })
    addresses = pd.DataFrame({
        "address_id": [1, 2, 3],
        "user_id": [1, 2, 4],
        "city": ["Boston", "Berlin", "Paris"],
    })
    transfers = pd.DataFrame({
        "transfer_id": [1, 2, 3],
        "sender_id": [1, 2, 3],
        "receiver_id": [2, 3, 1],
        "amount": [5.0, 10.0, 2.5],
        "sent_at": _days(3, 4, 5),
    })
    weather = pd.DataFrame({
        "day": _days(0, 1, 2),
        "temperature": [3.5, 4.0, -1.0],
    })
    drivers = pd.DataFrame({
        "driverId": [1, 2, 3],
        "forename": ["Lewis", "Max", "Charles"],
        "nationality": ["British", "Dutch", "Monegasque"],
    })
    results = pd.DataFrame({
        "resultId": range(1, 9),
        "driverId": [1, 2, 3, 1, 2, 3, 1, 2],
        "statusId": [1, 1, 2, 1, 3, 1, 1, 2],  # few values: a categorical code, not a key
        "positionOrder": [1, 2, 3, 2, 1, 3, 1, 2],
        "date": _days(0, 0, 0, 14, 14, 14, 28, 28),
    })
    qualifying = pd.DataFrame({
        "qualifyId": range(1, 7),
        "driverId": [1, 2, 3, 1, 2, 3],
        "position": [2, 1, 3, 1, 3, 2],
        "date": _days(-1, -1, -1, 13, 13, 13),
    })
    return Graph([
        Table.from_frame("customers", customers, primary_key="customer_id",
                         foreign_keys={"region_id": "regions"}, time_column="signup"),
        Table.from_frame("regions", regions, primary_key="region_id"),
        Table.from_frame("users", users, primary_key="user_id", time_column="joined"),
        Table.from_frame("orders", orders, primary_key="order_id",
                         foreign_keys={"customer_id": "customers", "user_id": "users"},
                         time_column="created_at"),
        Table.from_frame("articles", articles, primary_key="article_id"),
        Table.from_frame("transactions", transactions, primary_key="transaction_id",
                         foreign_keys={"customer_id": "customers", "user_id": "users",
                                       "article_id": "articles"},
                         time_column="t_dat"),
        Table.from_frame("purchases", purchases, primary_key="purchase_id",
                         foreign_keys={"user_id": "users"}, time_column="purchased_at"),
        Table.from_frame("notifications", notifications, primary_key="notification_id",
                         foreign_keys={"user_id": "users"}, time_column="sent_at"),
        Table.from_frame("addresses", addresses, primary_key="address_id",
                         foreign_keys={"user_id": "users"}),
        Table.from_frame("transfers", transfers, primary_key="transfer_id",
                         foreign_keys={"sender_id": "users", "receiver_id": "users"},
                         time_column="sent_at"),
        Table.from_frame("weather", weather, time_column="day"),
        Table.from_frame("drivers", drivers, primary_key="driverId"),
        Table.from_frame("results", results, primary_key="resultId",
                         foreign_keys={"driverId": "drivers"}, time_column="date"),
        Table.from_frame("qualifying", qualifying, primary_key="qualifyId",
                         foreign_keys={"driverId": "drivers"}, time_column="date"),
    ], name="pql-examples")


@pytest.fixture(scope="session")
def graph() -> Iterator[Graph]:
    """The PQL.md example graph, loaded once (binding only reads its metadata)."""
    g = make_graph()
    yield g
    g.close()
