"""The graph YAML: paths, the --data override, strict keys, errors, and dump → load round trips."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from relpredict.errors import ConfigError, DataError
from relpredict.graph import Graph, dump_graph, load_graph
from relpredict.graph.yaml_io import graph_from_dict, graph_to_dict
from relpredict.tables import DuckDBSource, FileSource, SQLiteSource, SType, Table

from .conftest import write

GRAPH = """
    name: tiny
    data: {data}
    tables:
      customers:
        file: customers.csv
        primary_key: customer_id
        stypes: {{segment: categorical}}
      orders:
        file: orders.csv
        null_values: ['\\N']
        primary_key: order_id
        foreign_keys: {{customer_id: customers}}
        time_column: at
        drop: [note]
"""


def data_folder(folder: Path, customers: int = 2) -> Path:
    rows = "\n".join(f"{i},{i % 2}" for i in range(1, customers + 1))
    write(folder / "customers.csv", f"customer_id,segment\n{rows}")
    write(folder / "orders.csv", r"""
        order_id,customer_id,at,note
        1,1,2024-01-01,x
        2,2,\N,y
    """)
    return folder


def test_data_folder_relative_to_the_yaml(tmp_path: Path) -> None:
    data_folder(tmp_path / "data")
    yml = write(tmp_path / "config" / "graph.yaml", GRAPH.format(data="../data"))
    graph = load_graph(yml)
    assert graph.name == "tiny"
    assert graph.table_names == ["customers", "orders"]
    assert graph["customers"].source == FileSource(
        str(tmp_path / "config" / ".." / "data" / "customers.csv"), "csv")
    assert graph["orders"].source.null_values == ("\\N",)
    assert graph.row_count("customers") == 2
    assert list(graph.columns("orders")) == ["order_id", "customer_id", "at"]
    assert graph.stypes("customers")["segment"] is SType.categorical
    assert [(f.code, f.count) for f in graph.validate()] == [("null_time", 1)]


def test_data_defaults_to_the_yaml_folder_and_name_to_its_stem(tmp_path: Path) -> None:
    data_folder(tmp_path)
    yml = write(tmp_path / "shop.yaml", GRAPH.format(data=".").replace("    name: tiny\n", ""))
    graph = load_graph(yml)
    assert graph.name == "shop"
    assert graph["customers"].source.path == str(tmp_path / "." / "customers.csv")
    assert graph.row_count("customers") == 2


def test_data_override(tmp_path: Path) -> None:
    data_folder(tmp_path / "data")
    data_folder(tmp_path / "other", customers=5)
    yml = write(tmp_path / "graph.yaml", GRAPH.format(data="data"))
    assert load_graph(yml).row_count("customers") == 2
    graph = load_graph(yml, data=tmp_path / "other")
    assert graph["customers"].source.path == str(tmp_path / "other" / "customers.csv")
    assert graph.row_count("customers") == 5


def test_data_override_must_exist(tmp_path: Path) -> None:
    yml = write(tmp_path / "graph.yaml", GRAPH.format(data="."))
    with pytest.raises(ConfigError) as err:
        load_graph(yml, data=tmp_path / "nope")
    assert str(err.value) == f"Data folder {tmp_path / 'nope'} does not exist (given with --data)."


def test_missing_data_file_mentions_data_option(tmp_path: Path) -> None:
    yml = write(tmp_path / "graph.yaml", GRAPH.format(data="elsewhere"))
    graph = load_graph(yml)  # metadata only: files are read on first use
    with pytest.raises(DataError) as err:
        graph.validate()
    message = str(err.value)
    assert message.startswith("Table 'customers': file ")
    assert "elsewhere/customers.csv does not exist" in message
    assert "the data folder given with --data" in message


def test_unknown_top_level_key(tmp_path: Path) -> None:
    yml = write(tmp_path / "g.yaml", """
        nmae: x
        tables: {t: {sql: SELECT 1 AS a}}
    """)
    with pytest.raises(ConfigError) as err:
        load_graph(yml)
    assert str(err.value) == (
        f"{yml}: unknown key 'nmae'. Did you mean 'name'? Allowed: name, data, tables.")


def test_unknown_table_key(tmp_path: Path) -> None:
    yml = write(tmp_path / "g.yaml", """
        tables:
          t:
            sql: SELECT 1 AS a
            primary_kye: a
    """)
    with pytest.raises(ConfigError) as err:
        load_graph(yml)
    message = str(err.value)
    assert message.startswith(f"{yml}, table 't': unknown key 'primary_kye'. Did you mean "
                              "'primary_key'")
    assert "Allowed: file, format, null_values, duckdb, sqlite, s3, snowflake, bigquery, sql, primary_key," in message


def test_bad_stype_name(tmp_path: Path) -> None:
    yml = write(tmp_path / "g.yaml", """
        tables:
          t: {sql: SELECT 1 AS a, stypes: {a: number}}
    """)
    with pytest.raises(ConfigError) as err:
        load_graph(yml)
    assert str(err.value) == (
        f"{yml}, table 't', column 'a': unknown semantic type 'number'; use one of numerical, "
        "categorical, multicategorical, text, timestamp, ID.")


@pytest.mark.parametrize(("text", "message"), [
    ("tables: {}", "expected a mapping with a non-empty `tables:` mapping."),
    ("- a\n- b", "expected a mapping with a non-empty `tables:` mapping."),
    ("tables: {t: [1]}", "table 't': expected a mapping of table settings."),
    ("tables: {t: {primary_key: a}}", "table 't': give a `file:`, `duckdb:`, `sqlite:`, `s3:`, `snowflake:`, `bigquery:` or a `sql:` SELECT."),
    ("tables: {t: {file: a.csv, sqlite: {path: b}}}",
     "table 't': give only one of file, duckdb, sqlite, s3, snowflake, bigquery (got file, sqlite)."),
    ("tables: {t: {duckdb: db.duckdb}}",
     "table 't': `duckdb:` needs `path:` (and `table:`, default the table name)."),
    ("tables: {t: {file: a.json}}", "Cannot tell the file type of"),
    ("tables: {t: {file: a.txt, format: json}}", "table 't': give `format: csv` or `format: parquet`"),
])
def test_malformed_graph_files(tmp_path: Path, text: str, message: str) -> None:
    yml = tmp_path / "g.yaml"
    yml.write_text(text)
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")
                       .replace("`", "`").replace(".", r"\.")):
        load_graph(yml)


def test_missing_and_invalid_yaml_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"Graph file .*absent\.yaml does not exist\."):
        load_graph(tmp_path / "absent.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("tables: [unclosed")
    with pytest.raises(ConfigError, match=r"Graph file .*bad\.yaml is not valid YAML"):
        load_graph(bad)


def test_database_and_folder_sources_in_yaml(tmp_path: Path) -> None:
    with duckdb.connect(str(tmp_path / "shop.duckdb")) as con:
        con.execute("CREATE TABLE products AS SELECT range AS product_id FROM range(4)")
        con.execute("CREATE TABLE stock AS SELECT range AS product_id, 7 AS units FROM range(2)")
    with sqlite3.connect(tmp_path / "legacy.sqlite") as lite:
        lite.execute("CREATE TABLE legacy_orders (id INTEGER, product_id INTEGER)")
        lite.execute("INSERT INTO legacy_orders VALUES (1, 0), (2, 3), (3, 3)")
    lite.close()
    (tmp_path / "parts").mkdir()
    pq.write_table(pa.table({"product_id": [0, 1, 2]}), tmp_path / "parts" / "a.parquet")
    yml = write(tmp_path / "g.yaml", """
        tables:
          products: {duckdb: {path: shop.duckdb}, primary_key: product_id}
          stock: {duckdb: {path: shop.duckdb, table: stock}}
          legacy: {sqlite: {path: legacy.sqlite, table: legacy_orders}, primary_key: id,
                   foreign_keys: {product_id: products}}
          views: {file: parts, format: parquet, foreign_keys: {product_id: products}}
    """)
    graph = load_graph(yml)
    assert graph["products"].source == DuckDBSource(str(tmp_path / "shop.duckdb"), "products")
    assert graph["legacy"].source == SQLiteSource(str(tmp_path / "legacy.sqlite"), "legacy_orders")
    assert [graph.row_count(t) for t in graph.table_names] == [4, 2, 3, 3]
    assert graph.validate() == []


def test_dump_then_load_gives_equal_tables(tmp_path: Path) -> None:
    data_folder(tmp_path / "data")
    (tmp_path / "data" / "parts").mkdir()
    pq.write_table(pa.table({"x": [1]}), tmp_path / "data" / "parts" / "p.parquet")
    with sqlite3.connect(tmp_path / "data" / "l.sqlite") as lite:
        lite.execute("CREATE TABLE legacy_orders (id INTEGER)")
    lite.close()
    original = Graph([
        Table.from_file("customers", tmp_path / "data" / "customers.csv", primary_key="customer_id",
                        stypes={"segment": SType.categorical}),
        Table.from_file("orders", tmp_path / "data" / "orders.csv", null_values=["\\N"],
                        primary_key="order_id", foreign_keys={"customer_id": "customers"},
                        time_column="at", drop=["note"], sql="SELECT * FROM source"),
        Table("parts", FileSource(str(tmp_path / "data" / "parts"), "parquet")),
        Table.from_sqlite("legacy", tmp_path / "data" / "l.sqlite", "legacy_orders"),
        Table.from_sql("recent", "SELECT * FROM orders WHERE \"at\" > DATE '2024-01-01'",
                       end_time_column="at"),
    ], name="rt")
    for data in (None, str(tmp_path / "data")):
        text = dump_graph(original, data=data)
        yml = tmp_path / "out" / "rt.yaml"
        yml.parent.mkdir(exist_ok=True)
        yml.write_text(text)
        loaded = load_graph(yml)
        assert loaded.name == "rt"
        assert list(loaded) == list(original)
    doc = yaml.safe_load(text)
    assert doc["data"] == str(tmp_path / "data")
    assert doc["tables"]["orders"] == {
        "file": "orders.csv", "null_values": ["\\N"], "sql": "SELECT * FROM source",
        "primary_key": "order_id", "time_column": "at", "foreign_keys": {"customer_id": "customers"},
        "drop": ["note"]}
    assert doc["tables"]["parts"] == {"file": "parts", "format": "parquet"}
    assert doc["tables"]["legacy"] == {"sqlite": {"path": "l.sqlite", "table": "legacy_orders"}}
    # The reloaded graph reads the same data.
    reloaded = load_graph(yml)
    assert [reloaded.row_count(t) for t in reloaded.table_names] == [2, 2, 1, 0, 0]


def test_graph_from_dict_matches_python_api(tmp_path: Path) -> None:
    data_folder(tmp_path)
    doc = yaml.safe_load(GRAPH.replace("\n    ", "\n").format(data="."))
    graph = graph_from_dict(doc, base=tmp_path)
    assert graph_to_dict(graph, data=str(tmp_path / "."))["tables"]["customers"] == {
        "file": "customers.csv", "primary_key": "customer_id",
        "stypes": {"segment": "categorical"}}


def test_frames_refuse_to_dump() -> None:
    graph = Graph([Table.from_frame("t", pd.DataFrame({"a": [1]}))])
    with pytest.raises(ConfigError) as err:
        dump_graph(graph)
    assert str(err.value) == (
        "Table 't' holds an in-memory frame, which YAML cannot hold; write it to Parquet first.")
