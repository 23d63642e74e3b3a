"""Loading every kind of source into DuckDB: rows, columns and types as read."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from relpredict.errors import ConfigError, DataError, GraphError
from relpredict.graph import Graph
from relpredict.tables import FileSource, Table
from relpredict.tables.table import file_format

from .conftest import scalar, write


def test_csv_folder_with_backslash_n_nulls_and_short_rows(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    write(folder / "people.csv", r"""
        id,name,age,city
        1,Ann,34,Oslo
        2,\N,41,Bergen
        3,Cem,\N,
        4,Dee
    """)
    graph = Graph([Table.from_file("people", folder / "people.csv", null_values=["\\N"])])
    assert graph.row_count("people") == 4
    assert graph.columns("people") == {
        "id": "BIGINT", "name": "VARCHAR", "age": "BIGINT", "city": "VARCHAR"}
    rows = graph.sql("SELECT id, name, age, city FROM people ORDER BY id").fetchall()
    assert rows == [(1, "Ann", 34, "Oslo"), (2, None, 41, "Bergen"),
                    (3, "Cem", None, None), (4, "Dee", None, None)]


def test_csv_without_null_marker_reads_backslash_n_as_text(tmp_path: Path) -> None:
    path = write(tmp_path / "t.csv", r"""
        id,name
        1,\N
        2,Bob
    """)
    graph = Graph([Table.from_file("t", path)])
    assert graph.sql("SELECT name FROM t ORDER BY id").fetchall() == [("\\N",), ("Bob",)]


def test_csv_folder_source_reads_every_csv_file(tmp_path: Path) -> None:
    write(tmp_path / "parts" / "a.csv", "id,v\n1,x\n2,y")
    write(tmp_path / "parts" / "b.csv", "id,v\n3,z")
    write(tmp_path / "parts" / "ignored.txt", "not,a,table")
    graph = Graph([Table("t", FileSource(str(tmp_path / "parts"), "csv"))])
    assert graph.sql("SELECT id, v FROM t ORDER BY id").fetchall() == [(1, "x"), (2, "y"), (3, "z")]


@pytest.fixture
def parquet_parts(tmp_path: Path) -> Path:
    folder = tmp_path / "events"
    folder.mkdir()
    pq.write_table(pa.table({"event_id": [1, 2], "kind": ["view", "buy"]}), folder / "p1.parquet")
    pq.write_table(pa.table({"event_id": [3, 4, 5], "kind": ["view", "view", "buy"]}),
                   folder / "p2.parquet")
    return folder


def test_parquet_single_file(parquet_parts: Path) -> None:
    graph = Graph([Table.from_file("events", parquet_parts / "p2.parquet")])
    assert graph.row_count("events") == 3
    assert graph.columns("events") == {"event_id": "BIGINT", "kind": "VARCHAR"}


def test_parquet_glob(parquet_parts: Path) -> None:
    graph = Graph([Table.from_file("events", parquet_parts / "p*.parquet")])
    assert graph.row_count("events") == 5
    assert scalar(graph, "SELECT SUM(event_id) FROM events") == 15


def test_parquet_folder(parquet_parts: Path) -> None:
    write(parquet_parts / "notes.csv", "a\n1")  # another format in the folder is ignored
    graph = Graph([Table("events", FileSource(str(parquet_parts), "parquet"))])
    assert graph.row_count("events") == 5
    assert graph.columns("events") == {"event_id": "BIGINT", "kind": "VARCHAR"}


def test_empty_folder_and_missing_file_are_data_errors(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    graph = Graph([Table("t", FileSource(str(tmp_path / "empty"), "parquet"))])
    with pytest.raises(DataError, match=r"folder .*empty holds no \.parquet files"):
        graph.con  # noqa: B018
    graph = Graph([Table.from_file("t", tmp_path / "nope.csv")])
    with pytest.raises(DataError) as err:
        graph.con  # noqa: B018
    assert str(err.value) == (
        f"Table 't': file {tmp_path / 'nope.csv'} does not exist. Check the path, or the data "
        "folder given with --data.")


def test_file_format_from_extension() -> None:
    assert [file_format(p) for p in ("a.CSV", "a.csv.gz", "a.tsv", "a.parquet", "a.pq")] == [
        "csv", "csv", "csv", "parquet", "parquet"]
    with pytest.raises(ConfigError, match=r"Cannot tell the file type of 'a\.json'"):
        file_format("a.json")


def test_duckdb_database_file(tmp_path: Path) -> None:
    path = tmp_path / "shop.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE TABLE items (item_id INTEGER, label VARCHAR, price DECIMAL(8,2))")
        con.execute("INSERT INTO items VALUES (1, 'a', 1.50), (2, 'b', 2.25), (3, NULL, 9.99)")
        con.execute("CREATE TABLE stock AS SELECT item_id, item_id * 10 AS units FROM items")
    graph = Graph([
        Table.from_duckdb("items", path, primary_key="item_id"),
        Table.from_duckdb("inventory", path, "stock", foreign_keys={"item_id": "items"}),
    ])
    assert graph.row_count("items") == 3
    assert graph.row_count("inventory") == 3
    assert graph.columns("items") == {
        "item_id": "INTEGER", "label": "VARCHAR", "price": "DECIMAL(8,2)"}
    assert scalar(graph, "SELECT SUM(units) FROM inventory") == 60
    assert graph.validate() == []


def test_duckdb_file_errors(tmp_path: Path) -> None:
    path = tmp_path / "db.duckdb"
    duckdb.connect(str(path)).close()
    with pytest.raises(DataError, match=r"Table 'x': DuckDB file .*db\.duckdb has no table 'x'"):
        Graph([Table.from_duckdb("x", path)]).con  # noqa: B018
    with pytest.raises(DataError, match=r"DuckDB file .*missing\.duckdb does not exist"):
        Graph([Table.from_duckdb("x", tmp_path / "missing.duckdb")]).con  # noqa: B018


def test_sqlite_file_types(tmp_path: Path) -> None:
    path = tmp_path / "legacy.sqlite"
    with sqlite3.connect(path) as lite:
        lite.execute("CREATE TABLE legacy_orders (id INTEGER PRIMARY KEY, amount REAL, note TEXT)")
        lite.executemany("INSERT INTO legacy_orders VALUES (?, ?, ?)",
                         [(1, 9.5, "first"), (2, None, "second"), (3, 3.0, None)])
    lite.close()
    graph = Graph([Table.from_sqlite("legacy", path, "legacy_orders", primary_key="id")])
    assert graph.columns("legacy") == {"id": "BIGINT", "amount": "DOUBLE", "note": "VARCHAR"}
    assert graph.sql("SELECT * FROM legacy ORDER BY id").fetchall() == [
        (1, 9.5, "first"), (2, None, "second"), (3, 3.0, None)]


def test_sqlite_errors(tmp_path: Path) -> None:
    path = tmp_path / "bad.sqlite"
    with sqlite3.connect(path) as lite:
        lite.execute("CREATE TABLE t (n INTEGER)")
        lite.execute("INSERT INTO t VALUES ('not a number')")
    lite.close()
    with pytest.raises(DataError, match="a SQLite value does not match its declared column type"):
        Graph([Table.from_sqlite("t", path)]).con  # noqa: B018
    with pytest.raises(DataError, match=r"Table 'u': SQLite file .*bad\.sqlite has no table 'u'"):
        Graph([Table.from_sqlite("u", path)]).con  # noqa: B018


def test_pandas_dataframe() -> None:
    df = pd.DataFrame({"user_id": [1, 2, 3], "score": [0.5, 1.5, 2.5], "tag": ["a", "b", None]})
    graph = Graph([Table.from_frame("users", df, primary_key="user_id")])
    assert graph.row_count("users") == 3
    assert graph.columns("users") == {"user_id": "BIGINT", "score": "DOUBLE", "tag": "VARCHAR"}
    assert scalar(graph, "SELECT COUNT(tag) FROM users") == 2


def test_pyarrow_table() -> None:
    data = pa.table({"k": pa.array([1, 2], pa.int32()), "ok": [True, None],
                     "tags": [["x", "y"], []]})
    graph = Graph([Table.from_frame("t", data)])
    assert graph.columns("t") == {"k": "INTEGER", "ok": "BOOLEAN", "tags": "VARCHAR[]"}
    assert graph.row_count("t") == 2


def test_frame_of_another_type_is_refused() -> None:
    graph = Graph([Table.from_frame("t", [{"a": 1}])])
    with pytest.raises(ConfigError, match="must be a pandas DataFrame or a pyarrow Table, not list"):
        graph.con  # noqa: B018


def test_sql_table_over_other_tables_loads_after_them() -> None:
    orders = pa.table({"order_id": [1, 2, 3, 4], "customer_id": [7, 7, 8, 9]})
    graph = Graph([
        # Listed first, but reads `orders`: the graph loads it afterwards.
        Table.from_sql("per_customer", "SELECT customer_id, COUNT(*) AS n FROM orders GROUP BY 1",
                       primary_key="customer_id"),
        Table.from_frame("orders", orders, primary_key="order_id"),
    ])
    assert graph.table_names == ["per_customer", "orders"]
    assert graph.columns("per_customer") == {"customer_id": "BIGINT", "n": "BIGINT"}
    assert graph.sql("SELECT * FROM per_customer ORDER BY 1").fetchall() == [(7, 2), (8, 1), (9, 1)]


def test_sql_cycle_and_broken_sql() -> None:
    graph = Graph([Table.from_sql("a", "SELECT * FROM b"), Table.from_sql("b", "SELECT * FROM a")])
    with pytest.raises(GraphError, match=r"reads each other in a cycle: a, b\."):
        graph.con  # noqa: B018
    graph = Graph([Table.from_sql("a", "SELECT * FROM nowhere")])
    with pytest.raises(DataError, match=r"Table 'a': its SQL does not run in DuckDB: .*nowhere"):
        graph.con  # noqa: B018


def test_file_reshaped_by_sql_over_source_with_drop(tmp_path: Path) -> None:
    path = write(tmp_path / "users.csv", """
        id,name,secret,signup
        1,ann,s1,2024-01-02 03:04:05
        2,bob,s2,2024-02-03 04:05:06
        3,cem,s3,2024-03-04 05:06:07
    """)
    table = Table.from_file(
        "users", path, primary_key="id", time_column="signup", drop=["secret"],
        sql="SELECT s.*, upper(s.name) AS shout FROM source AS s WHERE s.id < 3")
    graph = Graph([table])
    assert graph.columns("users") == {
        "id": "BIGINT", "name": "VARCHAR", "signup": "TIMESTAMP", "shout": "VARCHAR"}
    assert graph.sql("SELECT id, shout FROM users ORDER BY id").fetchall() == [(1, "ANN"), (2, "BOB")]


def test_time_column_strings_cast_to_timestamp() -> None:
    data = pa.table({"id": [1, 2, 3],
                     "at": ["2024-01-05 10:30:00", "2024-01-06", None],
                     "until": ["2024-02-01", "2024-03-01T12:00:00", "2024-04-01"]})
    graph = Graph([Table.from_frame("t", data, time_column="at", end_time_column="until")])
    assert graph.columns("t") == {"id": "BIGINT", "at": "TIMESTAMP", "until": "TIMESTAMP"}
    # The layer beneath keeps the strings as read.
    assert scalar(graph, 'SELECT typeof("at") FROM "__pre__t" LIMIT 1') == "VARCHAR"
    assert graph.sql('SELECT "at", "until" FROM t ORDER BY id').fetchall() == [
        (datetime(2024, 1, 5, 10, 30), datetime(2024, 2, 1)),
        (datetime(2024, 1, 6), datetime(2024, 3, 1, 12)),
        (None, datetime(2024, 4, 1)),
    ]
    assert graph.time_range("t") == (datetime(2024, 1, 5, 10, 30), datetime(2024, 1, 6))


def test_csv_dates_and_tz_aware_times_become_naive_timestamps(tmp_path: Path) -> None:
    path = write(tmp_path / "d.csv", "id,day\n1,2024-05-06\n2,2024-05-07")
    graph = Graph([
        Table.from_file("d", path, time_column="day"),
        Table.from_frame("z", pa.table({"t": pa.array([datetime(2024, 1, 1, 12)],
                                                      pa.timestamp("us", tz="Europe/Oslo"))}),
                         time_column="t"),
    ])
    assert scalar(graph, 'SELECT typeof("day") FROM "__pre__d" LIMIT 1') == "DATE"
    assert graph.columns("d")["day"] == "TIMESTAMP"
    assert graph.time_range("d") == (datetime(2024, 5, 6), datetime(2024, 5, 7))
    assert graph.columns("z") == {"t": "TIMESTAMP"}
    # 12:00 UTC stays 12:00 (UTC) whatever the zone it is displayed in.
    assert scalar(graph, "SELECT t FROM z") == datetime(2024, 1, 1, 12)


def test_graph_metadata_api() -> None:
    customers = Table.from_frame("customers", pa.table({"id": [1]}), primary_key="id")
    orders = Table.from_frame("orders", pa.table({"oid": [1], "cid": [1], "x": [1]}),
                              primary_key="oid", foreign_keys={"cid": "customers", "x": "elsewhere"})
    graph = Graph([customers, orders], name="g")
    assert len(graph) == 2 and "orders" in graph and "nope" not in graph
    assert [str(link) for link in graph.links] == ["orders.cid → customers"]
    assert graph.links_between("orders", "customers")[0].column == "cid"
    assert graph.links_between("customers", "orders") == []
    assert orders.key_columns == ["oid", "cid", "x"]
    with pytest.raises(ConfigError, match="already has a table named 'orders'"):
        graph.add(orders)
    with pytest.raises(GraphError, match=r"Unknown table 'order'\. Did you mean 'orders'\? "
                                         r"Tables: customers, orders\."):
        graph["order"]
    graph.con  # noqa: B018
    with pytest.raises(GraphError, match="before the graph's data is loaded"):
        graph.add(Table.from_sql("late", "SELECT 1"))
    graph.close()


def test_table_needs_a_name_and_a_source() -> None:
    with pytest.raises(ConfigError, match="needs a non-empty name"):
        Table("")
    with pytest.raises(ConfigError, match="Table 't' has neither a source nor SQL"):
        Table("t")
    assert Table.from_sql("t", "SELECT 1").with_(primary_key="x").primary_key == "x"


def test_sql_works_after_single_row_helpers() -> None:
    """row_count / time_range / profile read one row; the connection must stay usable after."""
    graph = Graph([Table.from_frame("t", pa.table({"id": [1, 2], "at": ["2024-01-01", "2024-01-02"]}),
                                    time_column="at")])
    assert graph.row_count("t") == 2
    assert graph.sql("SELECT COUNT(*) FROM t").fetchall() == [(2,)]
    assert graph.time_range("t") == (datetime(2024, 1, 1), datetime(2024, 1, 2))
    assert graph.sql("SELECT MAX(id) FROM t").fetchall() == [(2,)]
    graph.profile("t")
    assert graph.sql("SELECT MIN(id) FROM t").fetchall() == [(1,)]


def test_record_batch_reader_can_be_scanned_many_times() -> None:
    # A reader yields its batches once; the graph must keep the rows for every later query.
    data = pa.table({"id": [1, 2, 3], "x": [0.5, 1.5, 2.5]})
    reader = pa.RecordBatchReader.from_batches(data.schema, data.to_batches())
    graph = Graph([Table.from_frame("t", reader, primary_key="id")])
    assert graph.row_count("t") == 3
    assert graph.validate() == []
    assert graph.row_count("t") == 3
