"""Connector sources as plain data: YAML in and out, what is refused, the cache's names (no server)."""

from __future__ import annotations

from pathlib import Path

import pytest

from relpredict.errors import ConfigError, DataError
from relpredict.graph.yaml_io import dump_graph, graph_from_dict
from relpredict.sinks.sources import SourceCache, _wanted, cache_key
from relpredict.tables.table import ConnectorSource, Table
from relpredict.workspace import Workspace

TABLES = {
    "orders": {"s3": {"connector": "lake", "path": "s3://b/orders/*.parquet"}, "primary_key": "id"},
    "items": {"s3": {"path": "s3://b/items.csv", "null_values": ["NA"]}},
    "accounts": {"snowflake": {"connector": "wh", "table": "SALES.ACCOUNTS"}},
    "visits": {"bigquery": {"connector": "bq", "query": "SELECT * FROM web.visits WHERE v > 1"}},
}


def test_yaml_sources_read_and_write_back() -> None:
    graph = graph_from_dict({"tables": TABLES}, base=Path("."))
    assert graph["orders"].source == ConnectorSource("s3", "lake", path="s3://b/orders/*.parquet")
    assert graph["items"].source == ConnectorSource("s3", None, path="s3://b/items.csv", null_values=("NA",))
    assert graph["accounts"].source == Table.from_snowflake("a", "wh", table="SALES.ACCOUNTS").source
    assert graph["visits"].source == Table.from_bigquery("v", "bq", query=TABLES["visits"]["bigquery"]["query"]).source
    again = graph_from_dict(__import__("yaml").safe_load(dump_graph(graph)), base=Path("."))
    assert [t.source for t in again] == [t.source for t in graph]


@pytest.mark.parametrize(("spec", "message"), [
    ({"s3": {"connector": "lake"}}, r"An S3 source needs `path: s3://BUCKET/KEY`"),
    ({"s3": {"path": "s3://b/x.txt", "format": "json"}}, r"format is csv or parquet, not 'json'"),
    ({"s3": {"path": "s3://b/x.csv", "tabel": "x"}}, r"unknown key 'tabel'"),
    ({"snowflake": {"table": "T"}}, r"A snowflake source needs `connector:`"),
    ({"bigquery": {"connector": "bq"}}, r"exactly one of `table:` or `query:`"),
    ({"bigquery": {"connector": "bq", "table": "a.b", "query": "SELECT 1"}}, r"exactly one of"),
    ({"snowflake": {"connector": "wh", "query": "SELECT 1; DROP TABLE T"}}, r"exactly one SELECT.*\(Select, Drop\)"),
    ({"snowflake": "T"}, r"`snowflake:` needs a mapping, e.g. snowflake: \{connector: wh, table: ORDERS\}"),
    ({"file": "x.csv", "s3": {"path": "s3://b/x.csv"}}, r"give only one of .* \(got file, s3\)"),
])
def test_bad_source_settings_are_refused_with_an_example(spec: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        graph_from_dict({"tables": {"t": spec}}, base=Path("."), where="g.yaml")


def test_cache_names_depend_on_what_is_read_and_through_what() -> None:
    a = ConnectorSource("s3", "lake", path="s3://b/o/*.parquet")
    assert cache_key(a) == cache_key(ConnectorSource("s3", "lake", path="s3://b/o/*.parquet"))
    assert len({cache_key(a), cache_key(ConnectorSource("s3", "lake2", path="s3://b/o/*.parquet")),
                cache_key(ConnectorSource("s3", "lake", path="s3://b/o/")),
                cache_key(ConnectorSource("snowflake", "lake", table="O"))}) == 4


def test_prefix_listing_skips_markers_and_staging() -> None:
    assert _wanted("o/part-0.parquet", "o/", None)
    assert not _wanted("o/_SUCCESS", "o/", None)
    assert not _wanted("o/.relpredict-staging/j/x.parquet", "o/", None)
    assert _wanted("o/2024/a.parquet", "o/", "o/*.parquet")  # a glob's * spans folders, as S3 keys do
    assert not _wanted("o/a.csv", "o/", "o/*.parquet")


def test_a_shard_worker_never_fetches_a_missing_copy(tmp_path: Path) -> None:
    ws = Workspace.open(tmp_path / "ws")
    reader = SourceCache(ws, tmp_path / "job" / "sources", fetch=False)
    source = ConnectorSource("snowflake", "wh", table="T")
    with pytest.raises(DataError, match=r"^Table 'accounts': the job's copy of snowflake table T through "
                                        r"connector 'wh' is missing"):
        with reader.local_copy("accounts", source):
            pass


@pytest.mark.parametrize(("output", "refused"), [
    ("s3://b/orders/out.parquet", True),  # inside a folder a glob reads
    ("s3://b/orders/sub/{{PARTITION}}.parquet", True),
    ("s3://b/items.csv", True),  # the very object the graph reads
    ("s3://b/lake/x/p.parquet", True),  # inside a prefix read without its slash
    ("s3://b/scores/orders.parquet", False),
    ("s3://b/items.parquet", False),
    ("s3://other/orders/out.parquet", False),
])
def test_an_s3_output_never_lands_in_what_the_graph_reads(output: str, refused: bool) -> None:
    from relpredict.errors import SettingsError
    from relpredict.graph.graph import Graph
    from relpredict.jobs.destcheck import check_s3_destination
    from relpredict.sinks import parse_destination

    graph = Graph([Table.from_s3("orders", "s3://b/orders/*.parquet"), Table.from_s3("items", "s3://b/items.csv"),
                   Table.from_s3("lake", "s3://b/lake")])
    check = lambda: check_s3_destination(parse_destination(output), ("predictions",), graph)  # noqa: E731
    if not refused:
        check()
        return
    with pytest.raises(SettingsError, match=r"would write inside what the graph reads"):
        check()
