"""Semantic types: inferred from loaded data, keys and time columns marked, overrides first."""

from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd
import pyarrow as pa
import pytest

from relpredict.errors import ConfigError
from relpredict.graph import Graph
from relpredict.tables import SType, Table
from relpredict.tables.stypes import ColumnProfile, infer_stype, looks_like_id

N = 20
LONG = "A review that goes on about the product for quite a while, well past forty characters."


@pytest.fixture(scope="module")
def stypes() -> dict[str, SType]:
    start = datetime(2024, 1, 1)
    data = pa.table({
        "review_id": list(range(N)),                                   # declared primary key
        "user_id": [i % 4 for i in range(N)],                          # declared foreign key
        "session_id": [f"s{i}" for i in range(N)],                     # unique, named like a key
        "statusId": [1 + i % 3 for i in range(N)],                     # a code with 3 values
        "rating": [float(i % 5) for i in range(N)],
        "quantity": [i for i in range(N)],
        "color": [["red", "green", "blue"][i % 3] for i in range(N)],
        "verified": [i % 2 == 0 for i in range(N)],
        "body": [LONG] * N,
        "title": ["great fun for all ages"] * N,                       # 5 short words: text
        "tags": [["a", "b"][: i % 3] for i in range(N)],
        "genres": ["drama|comedy" if i % 4 else "drama" for i in range(N)],
        "posted": [start + timedelta(days=i) for i in range(N)],
        "seen": [(start + timedelta(hours=i)).isoformat() for i in range(N)],
        "score_override": [i for i in range(N)],
    })
    graph = Graph([
        Table.from_frame("users", pa.table({"user_id": [0, 1, 2, 3]}), primary_key="user_id"),
        Table.from_frame("reviews", data, primary_key="review_id",
                         foreign_keys={"user_id": "users"}, time_column="seen",
                         stypes={"score_override": "categorical", "session_id": "text"}),
    ])
    assert graph.validate() == []
    return graph.stypes("reviews")


@pytest.mark.parametrize(("column", "stype"), [
    ("review_id", SType.ID),
    ("user_id", SType.ID),
    ("statusId", SType.categorical),
    ("rating", SType.numerical),
    ("quantity", SType.numerical),
    ("color", SType.categorical),
    ("verified", SType.categorical),
    ("body", SType.text),
    ("title", SType.text),
    ("tags", SType.multicategorical),
    ("genres", SType.multicategorical),
    ("posted", SType.timestamp),
    ("seen", SType.timestamp),
    ("score_override", SType.categorical),
    ("session_id", SType.text),
])
def test_inferred_stype(stypes: dict[str, SType], column: str, stype: SType) -> None:
    assert stypes[column] is stype


def test_every_column_gets_a_stype(stypes: dict[str, SType]) -> None:
    assert len(stypes) == 15


def test_undeclared_unique_id_column_is_an_id() -> None:
    df = pd.DataFrame({"event_id": range(10), "device_id": [f"d{i}" for i in range(10)],
                       "shopId": [1, 1, 1, 1, 1, 2, 2, 2, 2, 2], "id": range(10)})
    graph = Graph([Table.from_frame("events", df)])
    assert graph.stypes("events") == {
        "event_id": SType.ID, "device_id": SType.ID, "shopId": SType.categorical, "id": SType.ID}


def test_override_wins_over_declared_key_and_time_column() -> None:
    data = pa.table({"k": [1, 2], "t": ["2024-01-01", "2024-01-02"]})
    graph = Graph([Table.from_frame("x", data, primary_key="k", time_column="t",
                                    stypes={"k": SType.numerical, "t": "categorical"})])
    assert graph.stypes("x") == {"k": SType.numerical, "t": SType.categorical}


def test_separator_share_threshold() -> None:
    half = ["a|b", "c;d", "e", "f"]      # 50 % hold a separator
    less = ["a|b", "c", "e", "f"]        # 25 %
    graph = Graph([Table.from_frame("t", pa.table({"half": half, "less": less}))])
    assert graph.stypes("t") == {"half": SType.multicategorical, "less": SType.categorical}


def test_separator_share_counts_values_not_nulls() -> None:
    sparse = ["a|b", None, None, None, "c|d", None]
    graph = Graph([Table.from_frame("t", pa.table({"sparse": sparse}))])
    assert graph.profile("t")[0].separator_share == 1.0
    assert graph.stypes("t") == {"sparse": SType.multicategorical}


def test_profile_statistics() -> None:
    graph = Graph([Table.from_frame("t", pa.table({"s": ["a b", "cd|e", None, "a b"],
                                                   "n": [1, 2, 3, 4]}))])
    s, n = graph.profile("t")
    assert (s.name, s.dtype, s.rows, s.distinct) == ("s", "VARCHAR", 4, 2)
    assert s.avg_length == pytest.approx((3 + 4 + 3) / 3)
    assert s.avg_words == pytest.approx((2 + 1 + 2) / 3)
    assert s.separator_share == pytest.approx(1 / 3)
    assert (n.dtype, n.distinct, n.avg_length, n.avg_words, n.separator_share) == (
        "BIGINT", 4, None, None, None)


def profile(name: str, dtype: str, rows: int = 10, distinct: int = 10, length: float | None = None,
            words: float | None = None, sep: float | None = None) -> ColumnProfile:
    return ColumnProfile(name, dtype, rows, distinct, length, words, sep)


@pytest.mark.parametrize(("prof", "stype"), [
    (profile("x", "INTEGER[]"), SType.multicategorical),
    (profile("x", "DATE"), SType.timestamp),
    (profile("x", "TIMESTAMP WITH TIME ZONE"), SType.timestamp),
    (profile("x", "BOOLEAN"), SType.categorical),
    (profile("customer_id", "BIGINT", 10, 10), SType.ID),
    (profile("customer_id", "BIGINT", 10, 5), SType.categorical),   # not more than half distinct
    (profile("customer_id", "BIGINT", 10, 6), SType.ID),
    (profile("customer_id", "DOUBLE", 10, 10), SType.numerical),    # keys are integers or strings
    (profile("userID", "VARCHAR", 10, 10, 3, 1, 0), SType.ID),
    (profile("x", "DECIMAL(8,2)"), SType.numerical),
    (profile("x", "VARCHAR", length=39.9, words=3.9, sep=0.49), SType.categorical),
    (profile("x", "VARCHAR", length=40, words=1), SType.text),
    (profile("x", "VARCHAR", length=10, words=4), SType.text),
    (profile("x", "VARCHAR", length=10, words=1, sep=0.5), SType.multicategorical),
    (profile("x", "BLOB"), SType.categorical),
])
def test_infer_stype_rules(prof: ColumnProfile, stype: SType) -> None:
    assert infer_stype(prof) is stype


def test_looks_like_id() -> None:
    assert [looks_like_id(n) for n in ("id", "ID", "customer_id", "driverId", "userID", "idea",
                                       "paid", "valid", "Identity")] == [
        True, True, True, True, True, False, False, False, False]


def test_stype_parse() -> None:
    assert SType.parse("Categorical", where="here") is SType.categorical
    assert SType.parse("id", where="here") is SType.ID
    with pytest.raises(ConfigError) as err:
        SType.parse("number", where="graph.yaml, table 't', column 'c'")
    assert str(err.value) == (
        "graph.yaml, table 't', column 'c': unknown semantic type 'number'; use one of numerical, "
        "categorical, multicategorical, text, timestamp, ID.")
