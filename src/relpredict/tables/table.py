"""Table metadata: where a table's rows come from and what its columns mean.

A ``Table`` is plain data. It names its source (a file, a database table, an in-memory frame,
or SQL over other tables), its keys, its time columns and semantic-type overrides; loading it
into DuckDB is the job of :mod:`relpredict.tables.load`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from relpredict.errors import ConfigError
from relpredict.tables.stypes import SType

FILE_FORMATS = ("csv", "parquet")


@dataclass(frozen=True)
class FileSource:
    """CSV or Parquet file(s): one path, a glob, or a folder of files of one format."""

    path: str
    format: str  # "csv" or "parquet"
    null_values: tuple[str, ...] = ()  # CSV only: strings read as NULL besides the empty one

    def describe(self) -> str:
        return f"{self.format} {self.path}"


@dataclass(frozen=True)
class DuckDBSource:
    """A table of a DuckDB database file, attached read-only."""

    path: str
    table: str

    def describe(self) -> str:
        return f"duckdb {self.path}:{self.table}"


@dataclass(frozen=True)
class SQLiteSource:
    """A table of a SQLite database file, streamed into DuckDB as Arrow batches."""

    path: str
    table: str

    def describe(self) -> str:
        return f"sqlite {self.path}:{self.table}"


@dataclass(frozen=True, eq=False)
class FrameSource:
    """A pandas DataFrame or a pyarrow Table held by the Python process."""

    data: Any

    def describe(self) -> str:
        return f"in-memory {type(self.data).__name__}"


CONNECTOR_KINDS = ("s3", "snowflake", "bigquery")


@dataclass(frozen=True)
class ConnectorSource:
    """Rows read through a workspace connector: S3 objects, a Snowflake or a BigQuery table or
    query. Plain data: the connector is named, never held (its secrets are references, read only
    when the rows are fetched), and fetching is the graph's source reader's job
    (:mod:`relpredict.tables.remote`).

    Args:
        kind: ``s3``, ``snowflake`` or ``bigquery``.
        connector: the connector's name in the workspace (S3 only: ``None`` uses the standard AWS
            chain and endpoint variables).
        path: S3 only: ``s3://bucket/key``, a prefix (``s3://bucket/orders/``) or a glob
            (``s3://bucket/orders/*.parquet``).
        table: Snowflake ``[[DATABASE.]SCHEMA.]TABLE`` / BigQuery ``[DATASET.]TABLE``.
        query: a ``SELECT`` run in the warehouse instead of reading a whole table.
        format: S3 only: ``csv`` or ``parquet`` (default: from the path's extension).
        null_values: S3 CSV only: strings read as NULL besides the empty one.
    """

    kind: str
    connector: str | None
    path: str | None = None
    table: str | None = None
    query: str | None = None
    format: str | None = None
    null_values: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in CONNECTOR_KINDS:
            raise ConfigError(f"Unknown source kind {self.kind!r}: use one of {', '.join(CONNECTOR_KINDS)}.")
        if self.kind == "s3":
            if not (self.path or "").lower().startswith("s3://") or len(self.path or "") <= 5:
                raise ConfigError(f"An S3 source needs `path: s3://BUCKET/KEY` (an object, a prefix "
                                  f"ending in / or a glob), not {self.path!r}.")
            if self.format not in (None, *FILE_FORMATS):
                raise ConfigError(f"An S3 source's format is csv or parquet, not {self.format!r}.")
            return
        if not self.connector:
            raise ConfigError(f"A {self.kind} source needs `connector:`, the name of a {self.kind} "
                              "connector of the workspace (relpredict connector add NAME --kind "
                              f"{self.kind} ...).")
        if bool(self.table) == bool(self.query):
            raise ConfigError(f"A {self.kind} source needs exactly one of `table:` or `query:` "
                              f"(connector {self.connector!r}).")
        if self.query:
            check_warehouse_select(self.query, self.kind)

    @property
    def location(self) -> str:
        """What is read: the S3 path, the table, or the query text."""
        return str(self.path or self.table or self.query)

    def describe(self) -> str:
        via = f" through connector {self.connector!r}" if self.connector else ""
        what = "query" if self.query else ("table" if self.table else "objects")
        shown = self.location if len(self.location) <= 80 else self.location[:77] + "..."
        return f"{self.kind} {what} {shown}{via}"


Source = FileSource | DuckDBSource | SQLiteSource | FrameSource | ConnectorSource


@dataclass(frozen=True)
class Table:
    """One table of a graph.

    Args:
        name: the table's name in queries (``orders`` in ``COUNT(orders.*, 0, 30)``).
        source: where its rows come from; ``None`` when ``sql`` alone defines the table.
        sql: a DuckDB ``SELECT``. With a ``source`` it reshapes it and names it ``source``
            (``SELECT s.*, r.date FROM source s JOIN races r USING (raceId)``); without one it is
            a view over other tables of the graph.
        primary_key: the column that identifies a row, if any (at most one).
        foreign_keys: column → name of the table whose primary key it references.
        time_column: when a row became known; rows later than an anchor time are invisible then.
        end_time_column: when a row stopped being valid, if it can.
        stypes: semantic-type overrides per column; the rest are inferred from the data.
        drop: columns to leave out of the table.
    """

    name: str
    source: Source | None = None
    sql: str | None = None
    primary_key: str | None = None
    foreign_keys: Mapping[str, str] = field(default_factory=dict)
    time_column: str | None = None
    end_time_column: str | None = None
    stypes: Mapping[str, SType] = field(default_factory=dict)
    drop: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.name or not isinstance(self.name, str):
            raise ConfigError("A table needs a non-empty name.")
        if self.source is None and not self.sql:
            raise ConfigError(
                f"Table {self.name!r} has neither a source nor SQL; give it a file, a database "
                "table, a DataFrame or a SELECT over other tables."
            )
        if self.sql is not None:
            check_single_select(self.sql, self.name)
        object.__setattr__(self, "foreign_keys", dict(self.foreign_keys))
        object.__setattr__(self, "stypes", {k: SType(v) for k, v in self.stypes.items()})
        object.__setattr__(self, "drop", tuple(self.drop))

    # Constructors that read like the sources they name.
    @classmethod
    def from_file(cls, name: str, path: str | Path, **meta: Any) -> Table:
        """A CSV or Parquet file (or glob / folder); the format comes from the extension."""
        null_values = tuple(meta.pop("null_values", ()))
        return cls(name, FileSource(str(path), file_format(path), null_values), **meta)

    @classmethod
    def from_frame(cls, name: str, data: Any, **meta: Any) -> Table:
        """A pandas DataFrame or pyarrow Table."""
        return cls(name, FrameSource(data), **meta)

    @classmethod
    def from_duckdb(cls, name: str, path: str | Path, table: str | None = None, **meta: Any) -> Table:
        return cls(name, DuckDBSource(str(path), table or name), **meta)

    @classmethod
    def from_sqlite(cls, name: str, path: str | Path, table: str | None = None, **meta: Any) -> Table:
        return cls(name, SQLiteSource(str(path), table or name), **meta)

    @classmethod
    def from_s3(cls, name: str, path: str, connector: str | None = None, format: str | None = None,
                **meta: Any) -> Table:
        """Parquet or CSV objects on S3 (``s3://b/orders.parquet``, a prefix ``s3://b/orders/`` or
        a glob ``s3://b/orders/*.parquet``) read through the S3 connector ``connector`` (default:
        the standard AWS chain)."""
        null_values = tuple(meta.pop("null_values", ()))
        return cls(name, ConnectorSource("s3", connector, path=path, format=format,
                                         null_values=null_values), **meta)

    @classmethod
    def from_snowflake(cls, name: str, connector: str, table: str | None = None,
                       query: str | None = None, **meta: Any) -> Table:
        """A Snowflake table (``[[DATABASE.]SCHEMA.]TABLE``) or the rows of a ``SELECT``."""
        return cls(name, ConnectorSource("snowflake", connector, table=table, query=query), **meta)

    @classmethod
    def from_bigquery(cls, name: str, connector: str, table: str | None = None,
                      query: str | None = None, **meta: Any) -> Table:
        """A BigQuery table (``[DATASET.]TABLE``) or the rows of a ``SELECT``."""
        return cls(name, ConnectorSource("bigquery", connector, table=table, query=query), **meta)

    @classmethod
    def from_sql(cls, name: str, sql: str, **meta: Any) -> Table:
        """A view defined by a DuckDB SELECT over other tables of the graph."""
        return cls(name, None, sql=sql, **meta)

    def with_(self, **changes: Any) -> Table:
        """A copy with some fields changed (tables are immutable)."""
        return replace(self, **changes)

    @property
    def is_temporal(self) -> bool:
        return self.time_column is not None

    @property
    def key_columns(self) -> list[str]:
        keys = [self.primary_key] if self.primary_key else []
        return keys + [c for c in self.foreign_keys if c not in keys]


def check_single_select(sql: str, table: str) -> None:
    """A table's ``sql:`` must be exactly one SELECT: no second statement (``; COPY ... TO``,
    ``ATTACH``, ``INSTALL``) may run each time the graph loads."""
    import duckdb

    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ConfigError(f"Table {table!r}: its `sql:` does not parse: {first}. Fix the SELECT.") from None
    if len(statements) != 1 or statements[0].type != duckdb.StatementType.SELECT:
        kinds = ", ".join(s.type.name for s in statements) or "nothing"
        raise ConfigError(f"Table {table!r}: its `sql:` must be exactly one SELECT statement, but it holds "
                          f"{len(statements)} ({kinds}). Keep only the SELECT; anything else would run "
                          "every time the graph loads.")


def check_warehouse_select(query: str, kind: str) -> None:
    """A source's ``query:`` runs in the warehouse each time the graph loads: it must be one
    SELECT (a ``WITH ... SELECT`` or a ``UNION`` counts), never a second statement or a write."""
    import sqlglot
    from sqlglot import exp

    try:
        statements = [s for s in sqlglot.parse(query, read=kind) if s is not None]
    except sqlglot.errors.SqlglotError as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ConfigError(f"The {kind} source's `query:` does not parse: {first.rstrip('.')}. Fix the SELECT.") from None
    if len(statements) != 1 or not isinstance(statements[0], exp.Query):
        raise ConfigError(f"The {kind} source's `query:` must be exactly one SELECT, but it holds "
                          f"{len(statements)} statement(s) ({', '.join(type(s).__name__ for s in statements) or 'nothing'}). "
                          "Keep only the SELECT; anything else would run in the warehouse every time the graph loads.")


def file_format(path: str | Path) -> str:
    """``csv`` or ``parquet`` from a path's extension (``.csv.gz`` and ``.pq`` count)."""
    name = str(path).lower()
    for suffix, fmt in ((".csv", "csv"), (".csv.gz", "csv"), (".tsv", "csv"),
                        (".parquet", "parquet"), (".pq", "parquet")):
        if name.endswith(suffix):
            return fmt
    raise ConfigError(
        f"Cannot tell the file type of {str(path)!r}: name it .csv or .parquet, or give "
        "`format: csv|parquet` in the graph YAML."
    )
