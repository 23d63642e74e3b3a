"""Graph inference: keys from names and uniqueness, links from names and value overlap, times."""

from __future__ import annotations

from pathlib import Path

import pytest

from relpredict.errors import ConfigError
from relpredict.graph.infer import infer_graph
from tests.conftest import F1, needs_f1

from .conftest import write


def test_infer_small_folder(shop: Path) -> None:
    graph, guesses = infer_graph(shop)
    assert graph.name == "shop"
    assert graph.table_names == ["customers", "orders", "products", "tickets"]
    assert {t.name: t.primary_key for t in graph} == {
        "customers": "customer_id", "orders": "order_id", "products": "product_id",
        "tickets": "ticket_id"}
    assert [str(link) for link in graph.links] == [
        "orders.customer_id → customers", "orders.product_id → products"]
    # tickets.customer_id is named like a customer key, but 3 of its 4 values are no customer.
    assert graph["tickets"].foreign_keys == {}
    # birthday is a date, but not a time-like name: customers stay static.
    assert {t.name: t.time_column for t in graph} == {
        "customers": None, "orders": "ordered_at", "products": None, "tickets": "opened_at"}
    assert graph.validate() == []
    assert graph.columns("orders")["ordered_at"] == "TIMESTAMP"
    whats = [(g.table, g.what) for g in guesses]
    assert whats == [
        ("customers", "primary key customer_id"), ("orders", "primary key order_id"),
        ("products", "primary key product_id"), ("tickets", "primary key ticket_id"),
        ("orders", "link customer_id → customers.customer_id"),
        ("orders", "link product_id → products.product_id"),
        ("orders", "time column ordered_at"), ("tickets", "time column opened_at")]
    link = next(g for g in guesses if g.what.startswith("link customer_id"))
    assert link.evidence == "name matches; 100.0% of its distinct values are keys of customers"


def test_overlap_threshold_is_ninety_percent(tmp_path: Path) -> None:
    keys = "\n".join(str(i) for i in range(1, 11))
    write(tmp_path / "users.csv", f"user_id\n{keys}")
    # 9 of 10 distinct values are users: linked. 8 of 10: not linked.
    write(tmp_path / "logins.csv", "login_id,user_id\n" + "\n".join(
        f"{i},{u}" for i, u in enumerate([1, 2, 3, 4, 5, 6, 7, 8, 9, 99, 1, 1], start=1)))
    write(tmp_path / "visits.csv", "visit_id,user_id\n" + "\n".join(
        f"{i},{u}" for i, u in enumerate([1, 2, 3, 4, 5, 6, 7, 8, 98, 99], start=1)))
    graph, _ = infer_graph(tmp_path)
    assert graph["logins"].foreign_keys == {"user_id": "users"}
    assert graph["visits"].foreign_keys == {}


def test_non_unique_key_candidate_is_not_a_primary_key(tmp_path: Path) -> None:
    write(tmp_path / "items.csv", "item_id,name\n1,a\n1,b\n2,c")
    write(tmp_path / "tags.csv", "id,tag_id,label\n1,5,x\n2,,y")  # tag_id has a NULL
    graph, guesses = infer_graph(tmp_path)
    assert graph["items"].primary_key is None
    assert graph["tags"].primary_key == "id"
    assert [g.what for g in guesses] == ["primary key id"]


def test_backslash_n_csv_gets_the_null_marker(tmp_path: Path) -> None:
    write(tmp_path / "a.csv", "a_id,v\n1,\\N\n2,3")
    write(tmp_path / "b.csv", "b_id,v\n1,2")
    graph, _ = infer_graph(tmp_path)
    assert graph["a"].source.null_values == ("\\N",)
    assert graph["b"].source.null_values == ()
    assert graph.columns("a")["v"] == "BIGINT"


def test_time_column_preference(tmp_path: Path) -> None:
    write(tmp_path / "events.csv", """
        event_id,updated_at,created,timestamp,birth_date
        1,2024-01-02 00:00:00,2024-01-01 00:00:00,2024-01-01 01:00:00,2000-01-01
    """)
    graph, guesses = infer_graph(tmp_path)
    assert graph["events"].time_column == "timestamp"
    assert guesses[-1].evidence == (
        "the most time-like name; other time columns: birth_date, created, updated_at")


def test_infer_refuses_a_folder_without_data(tmp_path: Path) -> None:
    write(tmp_path / "notes.txt", "hello")
    with pytest.raises(ConfigError, match=r"is not a folder holding \.csv or \.parquet files"):
        infer_graph(tmp_path)
    with pytest.raises(ConfigError, match=r"is not a folder holding"):
        infer_graph(tmp_path / "missing")


@needs_f1
def test_infer_f1_finds_thirteen_links() -> None:
    graph, _ = infer_graph(F1)
    assert len(graph) == 9
    assert len(graph.links) == 13
    assert {str(link) for link in graph.links} == {
        "races.circuitId → circuits",
        "results.raceId → races", "results.driverId → drivers",
        "results.constructorId → constructors",
        "driver_standings.raceId → races", "driver_standings.driverId → drivers",
        "constructor_results.raceId → races", "constructor_results.constructorId → constructors",
        "constructor_standings.raceId → races",
        "constructor_standings.constructorId → constructors",
        "qualifying.raceId → races", "qualifying.driverId → drivers",
        "qualifying.constructorId → constructors"}
