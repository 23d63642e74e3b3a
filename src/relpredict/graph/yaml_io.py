"""The graph YAML file: the same graph the Python API builds, written down for review.

::

    name: demo_store
    data: .                     # folder the file paths are relative to (default: the YAML's
                                # folder; `--data DIR` overrides it)
    tables:
      transactions:
        file: transactions.parquet    # or csv; a glob or a folder of files works too
        primary_key: transaction_id
        foreign_keys: {customer_id: customers, product_id: products}
        time_column: timestamp
        stypes: {channel: categorical}
      results:
        file: results.csv
        null_values: ['\\N']
        sql: SELECT s.*, r.date FROM source s JOIN races r USING (raceId)
        drop: [positionText]
      legacy:
        sqlite: {path: shop.sqlite, table: legacy_orders}   # or duckdb: {path, table}
      orders:                           # through workspace connectors (relpredict connector add)
        s3: {connector: lake, path: s3://bucket/orders/*.parquet}   # an object, a prefix or a glob
      accounts:
        snowflake: {connector: wh, table: ACCOUNTS}   # or query: SELECT ...
      visits:
        bigquery: {connector: bq, table: web.visits}  # or query: SELECT ...
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from relpredict.errors import ConfigError
from relpredict.graph.graph import Graph, resolve_path
from relpredict.suggest import did_you_mean
from relpredict.tables.stypes import SType
from relpredict.tables.table import (
    CONNECTOR_KINDS,
    ConnectorSource,
    DuckDBSource,
    FileSource,
    FrameSource,
    SQLiteSource,
    Table,
)

SOURCE_KINDS = ("file", "duckdb", "sqlite", *CONNECTOR_KINDS)
CONNECTOR_KEYS = {"s3": ("connector", "path", "format", "null_values"),
                  "snowflake": ("connector", "table", "query"),
                  "bigquery": ("connector", "table", "query")}
TABLE_KEYS = ("file", "format", "null_values", "duckdb", "sqlite", *CONNECTOR_KINDS, "sql", "primary_key",
              "foreign_keys", "time_column", "end_time_column", "stypes", "drop")
TOP_KEYS = ("name", "data", "tables")


class _UniqueKeyLoader(yaml.SafeLoader):
    """The safe loader, refusing a key given twice in one mapping (a table defined twice, two
    ``tables:``), which plain YAML loading would silently resolve to the last one."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, Any] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"the key {key!r} is given twice (line {seen[key].start_mark.line + 1} "
                    f"and line {key_node.start_mark.line + 1}): each table, and each setting, once",
                    key_node.start_mark)
            seen[key] = key_node
        return super().construct_mapping(node, deep=deep)


def load_graph(path: str | Path, data: str | Path | None = None) -> Graph:
    """Read a graph YAML file; ``data`` overrides the folder its file paths are relative to."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"Graph file {path} does not exist.")
    try:
        doc = yaml.load(path.read_text(), Loader=_UniqueKeyLoader)  # a SafeLoader
    except yaml.YAMLError as err:
        raise ConfigError(f"Graph file {path} is not valid YAML: {err}") from err
    return graph_from_dict(doc, base=path.parent, data=data, where=str(path))


def graph_from_dict(doc: Any, *, base: Path, data: str | Path | None = None, where: str = "graph") -> Graph:
    if not isinstance(doc, dict) or not isinstance(doc.get("tables"), dict) or not doc["tables"]:
        raise ConfigError(f"{where}: expected a mapping with a non-empty `tables:` mapping.")
    _check_keys(doc, TOP_KEYS, where)
    folder = Path(data) if data is not None else resolve_path(doc.get("data") or ".", base)
    if data is not None and not folder.is_dir():
        raise ConfigError(f"Data folder {folder} does not exist (given with --data).")
    tables = [_table(name, spec or {}, folder, f"{where}, table {name!r}")
              for name, spec in doc["tables"].items()]
    return Graph(tables, name=str(doc.get("name") or Path(where).stem))


def _check_keys(spec: dict[str, Any], allowed: tuple[str, ...], where: str) -> None:
    for key in spec:
        if key not in allowed:
            raise ConfigError(
                f"{where}: unknown key {key!r}.{did_you_mean(str(key), allowed)} "
                f"Allowed: {', '.join(allowed)}."
            )


def _table(name: str, spec: dict[str, Any], folder: Path, where: str) -> Table:
    if not isinstance(spec, dict):
        raise ConfigError(f"{where}: expected a mapping of table settings.")
    _check_keys(spec, TABLE_KEYS, where)
    stypes = {col: SType.parse(v, where=f"{where}, column {col!r}")
              for col, v in (spec.get("stypes") or {}).items()}
    return Table(
        name, _source(name, spec, folder, where), sql=spec.get("sql"),
        primary_key=spec.get("primary_key"), foreign_keys=dict(spec.get("foreign_keys") or {}),
        time_column=spec.get("time_column"), end_time_column=spec.get("end_time_column"),
        stypes=stypes, drop=tuple(spec.get("drop") or ()),
    )


def _source(name: str, spec: dict[str, Any], folder: Path, where: str) -> Any:
    kinds = [k for k in SOURCE_KINDS if k in spec]
    if len(kinds) > 1:
        raise ConfigError(f"{where}: give only one of {', '.join(SOURCE_KINDS)} (got {', '.join(kinds)}).")
    if not kinds:
        if not spec.get("sql"):
            raise ConfigError(f"{where}: give a `file:`, `duckdb:`, `sqlite:`, `s3:`, `snowflake:`, "
                              "`bigquery:` or a `sql:` SELECT.")
        return None
    if "file" in spec:
        return _file_source(spec, folder, where)
    kind = kinds[0]
    if kind in CONNECTOR_KINDS:
        return _connector_source(kind, spec[kind], where)
    sub = spec[kind]
    if not isinstance(sub, dict) or "path" not in sub:
        raise ConfigError(f"{where}: `{kind}:` needs `path:` (and `table:`, default the table name).")
    table = sub.get("table") or name
    cls = DuckDBSource if kind == "duckdb" else SQLiteSource
    return cls(str(resolve_path(sub["path"], folder)), str(table))


def _connector_source(kind: str, sub: Any, where: str) -> ConnectorSource:
    example = {"s3": "{connector: lake, path: s3://bucket/orders/*.parquet}",
               "snowflake": "{connector: wh, table: ORDERS}", "bigquery": "{connector: bq, table: sales.orders}"}
    if not isinstance(sub, dict):
        raise ConfigError(f"{where}: `{kind}:` needs a mapping, e.g. {kind}: {example[kind]}.")
    _check_keys(sub, CONNECTOR_KEYS[kind], f"{where}, {kind}")
    values = {k: (None if sub.get(k) is None else str(sub[k])) for k in ("connector", "path", "table", "query", "format")}
    try:
        return ConnectorSource(kind, values["connector"], path=values["path"], table=values["table"],
                               query=values["query"], format=values["format"],
                               null_values=tuple(str(v) for v in sub.get("null_values") or ()))
    except ConfigError as err:
        raise ConfigError(f"{where}: {err} E.g. {kind}: {example[kind]}.") from None


def _file_source(spec: dict[str, Any], folder: Path, where: str) -> FileSource:
    from relpredict.tables.table import file_format

    path = resolve_path(spec["file"], folder)
    fmt = spec.get("format") or (file_format(path) if not path.is_dir() else None)
    if fmt not in ("csv", "parquet"):
        raise ConfigError(f"{where}: give `format: csv` or `format: parquet` for {path}.")
    return FileSource(str(path), fmt, tuple(str(v) for v in spec.get("null_values") or ()))


def graph_to_dict(graph: Graph, data: str | None = None) -> dict[str, Any]:
    """The YAML mapping of a graph (in-memory frames cannot be written down and are refused)."""
    doc: dict[str, Any] = {"name": graph.name}
    if data is not None:
        doc["data"] = data
    doc["tables"] = {t.name: _table_dict(t, data) for t in graph}
    return doc


def _table_dict(table: Table, data: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    src = table.source
    if isinstance(src, FrameSource):
        raise ConfigError(f"Table {table.name!r} holds an in-memory frame, which YAML cannot hold; "
                          "write it to Parquet first.")
    if isinstance(src, FileSource):
        out["file"] = _relative(src.path, data)
        if _implied_format(src.path) != src.format:  # a folder, or an unusual extension
            out["format"] = src.format
        if src.null_values:
            out["null_values"] = list(src.null_values)
    elif isinstance(src, (DuckDBSource, SQLiteSource)):
        kind = "duckdb" if isinstance(src, DuckDBSource) else "sqlite"
        out[kind] = {"path": _relative(src.path, data), "table": src.table}
    elif isinstance(src, ConnectorSource):
        fields = {"connector": src.connector, "path": src.path, "table": src.table, "query": src.query,
                  "format": src.format, "null_values": list(src.null_values) or None}
        out[src.kind] = {k: v for k, v in fields.items() if v is not None}
    for key in ("sql", "primary_key", "time_column", "end_time_column"):
        if getattr(table, key):
            out[key] = getattr(table, key)
    if table.foreign_keys:
        out["foreign_keys"] = dict(table.foreign_keys)
    if table.stypes:
        out["stypes"] = {k: v.value for k, v in table.stypes.items()}
    if table.drop:
        out["drop"] = list(table.drop)
    return out


def _implied_format(path: str) -> str | None:
    from relpredict.tables.table import file_format

    try:
        return None if Path(path).is_dir() else file_format(path)
    except ConfigError:
        return None


def _relative(path: str, data: str | None) -> str:
    if data is None:
        return path
    try:
        return str(Path(path).relative_to(Path(data)))
    except ValueError:
        return path


def dump_graph(graph: Graph, data: str | None = None) -> str:
    return yaml.safe_dump(graph_to_dict(graph, data), sort_keys=False, allow_unicode=True)
