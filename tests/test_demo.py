"""The demo store: deterministic, referentially sound, and carrying learnable signal."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow.parquet as pq
import pytest
import yaml

from relpredict.demo.generator import END, START, DemoSummary, generate
from relpredict.errors import ConfigError

TABLES = ["customers", "products", "transactions", "returns"]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> DemoSummary:
    """One small store shared by the read-only checks (2,000 customers, ~20k purchases)."""
    return generate(tmp_path_factory.mktemp("store"), customers=2_000, seed=0)


@pytest.fixture(scope="module")
def con(store: DemoSummary) -> duckdb.DuckDBPyConnection:
    """DuckDB views over the Parquet files, as a user would query them."""
    db = duckdb.connect()
    for name in TABLES:
        path = str(store.files[name])
        db.execute(f"CREATE VIEW {name} AS SELECT * FROM read_parquet('{path}')")
    return db


def _one(con: duckdb.DuckDBPyConnection, sql: str) -> Any:
    row = con.execute(sql).fetchone()
    assert row is not None
    return row[0]


def test_same_seed_same_tables_and_bytes(tmp_path: Path) -> None:
    a = generate(tmp_path / "a", customers=300, seed=7)
    b = generate(tmp_path / "b", customers=300, seed=7)
    for name in TABLES:
        assert pq.read_table(a.files[name]).equals(pq.read_table(b.files[name])), name
        assert a.files[name].read_bytes() == b.files[name].read_bytes(), name
    assert a.graph_path.read_text() == b.graph_path.read_text()


def test_different_seed_differs(tmp_path: Path) -> None:
    a = generate(tmp_path / "a", customers=300, seed=1)
    b = generate(tmp_path / "b", customers=300, seed=2)
    assert not pq.read_table(a.files["transactions"]).equals(pq.read_table(b.files["transactions"]))


def test_rerun_overwrites_and_leaves_no_temp_files(tmp_path: Path) -> None:
    generate(tmp_path, customers=500, seed=0)
    summary = generate(tmp_path, customers=200, seed=0)
    assert pq.read_metadata(summary.files["customers"]).num_rows == 200
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["graph.yaml"] + [f"{t}.parquet" for t in TABLES])


@pytest.mark.parametrize("bad", [9, 0, -5])
def test_too_few_customers_is_a_config_error(tmp_path: Path, bad: int) -> None:
    with pytest.raises(ConfigError, match="--customers"):
        generate(tmp_path / "x", customers=bad)
    assert not (tmp_path / "x").exists()


def test_progress_is_reported_per_stage(tmp_path: Path) -> None:
    messages: list[str] = []
    generate(tmp_path, customers=50, progress=messages.append)
    assert any(m.startswith("transactions") for m in messages)
    assert any("graph.yaml" in m for m in messages)


def test_summary_matches_files(store: DemoSummary) -> None:
    assert store.start == START and store.end == END
    for name in TABLES:
        assert pq.read_metadata(store.files[name]).num_rows == store.rows[name]
    assert store.rows["customers"] == 2_000
    assert 200 <= store.rows["products"] <= 20_000


def test_about_ten_transactions_per_customer(tmp_path: Path, store: DemoSummary) -> None:
    assert 8 <= store.rows["transactions"] / 2_000 <= 12
    small = generate(tmp_path, customers=500, seed=3)
    assert 8 <= small.rows["transactions"] / 500 <= 12


def test_schema_types(con: duckdb.DuckDBPyConnection) -> None:
    types = {(r[0], r[1]): r[2] for table in TABLES
             for r in con.execute(f"SELECT '{table}', column_name, column_type "
                                  f"FROM (DESCRIBE {table})").fetchall()}
    assert types[("customers", "customer_id")] == "BIGINT"
    assert types[("customers", "signup_time")] == "TIMESTAMP"
    assert types[("customers", "region")] == "VARCHAR"
    assert types[("customers", "age")] == "BIGINT"
    assert types[("products", "price")] == "DOUBLE"
    assert types[("transactions", "quantity")] == "BIGINT"
    assert types[("transactions", "timestamp")] == "TIMESTAMP"
    assert types[("transactions", "channel")] == "VARCHAR"


@pytest.mark.parametrize("table,key", [("customers", "customer_id"), ("products", "product_id"),
                                       ("transactions", "transaction_id"),
                                       ("returns", "return_id")])
def test_primary_keys_unique(con: duckdb.DuckDBPyConnection, table: str, key: str) -> None:
    assert _one(con, f"SELECT COUNT(*) - COUNT(DISTINCT {key}) FROM {table}") == 0
    assert _one(con, f"SELECT COUNT(*) FROM {table} WHERE {key} IS NULL") == 0


@pytest.mark.parametrize("child,fk,parent", [("transactions", "customer_id", "customers"),
                                             ("transactions", "product_id", "products"),
                                             ("returns", "transaction_id", "transactions")])
def test_foreign_keys_valid(con: duckdb.DuckDBPyConnection, child: str, fk: str,
                            parent: str) -> None:
    orphans = _one(con, f"SELECT COUNT(*) FROM {child} c ANTI JOIN {parent} p USING ({fk})")
    assert orphans == 0


def test_times_in_range_and_after_signup(con: duckdb.DuckDBPyConnection) -> None:
    for table, col in [("customers", "signup_time"), ("transactions", "timestamp"),
                       ("returns", "timestamp")]:
        lo, hi = con.execute(f"SELECT MIN({col}), MAX({col}) FROM {table}").fetchone()
        assert START <= lo and hi < END, table
    early = _one(con, "SELECT COUNT(*) FROM transactions t JOIN customers c USING (customer_id) "
                      "WHERE t.timestamp < c.signup_time")
    assert early == 0
    before_sale = _one(con, "SELECT COUNT(*) FROM returns r JOIN transactions t "
                            "USING (transaction_id) WHERE r.timestamp <= t.timestamp")
    assert before_sale == 0


def test_recent_buyers_buy_again_more(con: duckdb.DuckDBPyConnection) -> None:
    """Churn is learnable: recency predicts whether a customer buys in the next 30 days."""
    anchor = datetime(2024, 6, 1)
    rates = dict(con.execute("""
        WITH known AS (SELECT customer_id FROM customers WHERE signup_time < $a - INTERVAL 90 DAY),
        flags AS (
            SELECT k.customer_id,
                   COUNT(*) FILTER (t.timestamp >= $a - INTERVAL 90 DAY AND t.timestamp < $a) > 0
                       AS recent,
                   COUNT(*) FILTER (t.timestamp >= $a AND t.timestamp < $a + INTERVAL 30 DAY) > 0
                       AS buys
            FROM known k LEFT JOIN transactions t USING (customer_id) GROUP BY 1)
        SELECT recent, AVG(buys::INT) FROM flags GROUP BY 1""", {"a": anchor}).fetchall())
    assert rates[True] > 2 * rates[False] and rates[True] > 0.2


def test_repeat_purchases_beat_random_choice(con: duckdb.DuckDBPyConnection) -> None:
    """Next products are learnable: customers re-buy what they bought before."""
    tx = con.execute("SELECT customer_id, product_id FROM transactions "
                     "ORDER BY timestamp, transaction_id").fetchnumpy()
    actual = _repeat_share(tx["customer_id"], tx["product_id"])
    shuffled = np.random.default_rng(0).permutation(tx["product_id"])
    baseline = _repeat_share(tx["customer_id"], shuffled)
    assert actual > 0.4 and actual > 1.5 * baseline


def _repeat_share(customer: np.ndarray, product: np.ndarray) -> float:
    """Share of purchases whose (customer, product) pair occurred earlier in the sequence."""
    pair = customer.astype(np.int64) * 1_000_000 + product.astype(np.int64)
    _, first = np.unique(pair, return_index=True)
    return 1.0 - len(first) / len(pair)


def test_holiday_season_is_busier(con: duckdb.DuckDBPyConnection) -> None:
    for year in (2023, 2024):
        season, overall = con.execute("""
            SELECT COUNT(*) FILTER (month(timestamp) >= 11) / 61.0, COUNT(*) / 365.0
            FROM transactions WHERE year(timestamp) = $y""", {"y": year}).fetchone()
        assert season > 1.2 * overall, year


def test_weekends_are_busier(con: duckdb.DuckDBPyConnection) -> None:
    weekend, weekday = con.execute("""
        SELECT COUNT(*) FILTER (isodow(timestamp) >= 6) / 2.0,
               COUNT(*) FILTER (isodow(timestamp) < 6) / 5.0 FROM transactions""").fetchone()
    assert weekend > 1.15 * weekday


def test_premium_segments_spend_more(con: duckdb.DuckDBPyConnection) -> None:
    spend = dict(con.execute("SELECT segment, AVG(price * quantity) FROM transactions "
                             "JOIN customers USING (customer_id) GROUP BY 1").fetchall())
    assert spend["premium"] > 1.3 * spend["budget"]


def test_graph_yaml_names_tables_and_keys(store: DemoSummary) -> None:
    text = store.graph_path.read_text()
    assert text.startswith("# relpredict graph: synthetic online store")
    graph = yaml.safe_load(text)
    assert graph["name"] == "demo_store" and graph["data"] == "."
    tables = graph["tables"]
    assert set(tables) == set(TABLES)
    for spec in tables.values():
        assert (store.out_dir / spec["file"]).is_file()
        columns = pq.read_schema(store.out_dir / spec["file"]).names
        assert spec["primary_key"] in columns
        for fk, parent in spec.get("foreign_keys", {}).items():
            assert fk in columns and parent in tables
        if "time_column" in spec:
            assert spec["time_column"] in columns
    assert "time_column" not in tables["products"]
    assert tables["transactions"]["foreign_keys"] == {"customer_id": "customers",
                                                      "product_id": "products"}
