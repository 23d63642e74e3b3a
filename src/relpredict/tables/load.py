"""Loading tables into DuckDB, the embedded engine every later stage queries.

Each table is registered in three layers, so validation can look beneath the final shape:

- ``__raw__<name>``: the source as read (a view over files, an attached database or a frame;
  CSV and SQLite are copied into DuckDB tables once, so they are parsed once);
- ``__pre__<name>``: the table's own SQL applied to it and dropped columns left out;
- ``<name>``: time columns cast to TIMESTAMP (values that do not parse become NULL there, and
  validation counts them in ``__pre__``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa
import sqlglot
from sqlglot import exp

from relpredict.errors import ConfigError, DataError
from relpredict.sql import quote_ident, quote_literal
from relpredict.tables.remote import SourceReader, default_reader
from relpredict.tables.table import (
    ConnectorSource,
    DuckDBSource,
    FileSource,
    FrameSource,
    SQLiteSource,
    Table,
)

SQLITE_BATCH_ROWS = 65_536


def raw_name(table: str) -> str:
    return f"__raw__{table}"


def pre_name(table: str) -> str:
    return f"__pre__{table}"


def register(con: duckdb.DuckDBPyConnection, table: Table, sources: SourceReader | None = None) -> None:
    """Register ``table`` (all three layers) in ``con``; its SQL may use tables already there.
    ``sources`` fetches a table read through a connector (default: :func:`default_reader`)."""
    if table.source is not None:
        _register_source(con, table, sources)
    body = _shaped_sql(table)
    try:
        con.execute(f"CREATE OR REPLACE VIEW {quote_ident(pre_name(table.name))} AS {body}")
    except duckdb.Error as err:
        raise DataError(
            f"Table {table.name!r}: its SQL does not run in DuckDB: {_first_line(err)}. "
            "Fix the `sql:` of this table (other tables are named by their graph names; its own "
            "source is named `source`)."
        ) from err
    con.execute(
        f"CREATE OR REPLACE VIEW {quote_ident(table.name)} AS {_final_sql(con, table)}"
    )


def _register_source(con: duckdb.DuckDBPyConnection, table: Table, sources: SourceReader | None) -> None:
    source = table.source
    name = raw_name(table.name)
    if isinstance(source, FileSource):
        _register_file(con, name, source, table.name)
    elif isinstance(source, ConnectorSource):
        # Copied into DuckDB (not a view over the copy): the reader may drop its files afterwards.
        with (sources or default_reader()).local_copy(table.name, source) as local:
            _register_file(con, name, local, table.name, copy=True)
    elif isinstance(source, FrameSource):
        con.register(name, _as_arrow(source.data, table.name))
    elif isinstance(source, DuckDBSource):
        _register_duckdb(con, name, source, table.name)
    elif isinstance(source, SQLiteSource):
        _register_sqlite(con, name, source, table.name)
    else:  # pragma: no cover - Source is a closed union
        raise ConfigError(f"Table {table.name!r}: unsupported source {source!r}.")


def _file_paths(source: FileSource, table: str) -> list[str]:
    path = Path(source.path)
    if path.is_dir():
        files = sorted(str(p) for p in path.iterdir() if p.suffix.lower() == f".{source.format}")
        if not files:
            raise DataError(
                f"Table {table!r}: folder {source.path} holds no .{source.format} files."
            )
        return files
    if any(ch in source.path for ch in "*?["):
        return [source.path]
    if not path.exists():
        raise DataError(
            f"Table {table!r}: file {source.path} does not exist. Check the path, or the data "
            "folder given with --data."
        )
    return [str(path)]


def _check_csv_has_rows(paths: list[str], table: str) -> None:
    """An empty CSV, or one holding only its header line, is told as such (DuckDB would read the
    header as a row of data with made-up column names)."""
    import glob
    import gzip

    files = [f for p in paths for f in (sorted(glob.glob(p)) if any(c in p for c in "*?[") else [p])]
    for file in files:
        opener = gzip.open if file.lower().endswith(".gz") else open
        try:
            with opener(file, "rt", errors="replace") as fh:
                lines = [line for line in (fh.readline() for _ in range(2)) if line.strip()]
        except OSError:
            continue  # DuckDB's read tells the error
        if not lines:
            raise DataError(f"Table {table!r}: the CSV file {file} is empty. Give it a header line and "
                            "rows, or leave the table out.")
        if len(lines) == 1:
            raise DataError(f"Table {table!r}: the CSV file {file} holds only a header line "
                            f"({lines[0].strip()[:80]}) and no rows. Add its rows, or leave the table out.")


def _register_file(con: duckdb.DuckDBPyConnection, name: str, source: FileSource, table: str,
                   copy: bool = False) -> None:
    paths = _file_paths(source, table)
    try:
        if source.format == "parquet":
            rel = con.sql("SELECT * FROM read_parquet($1)", params=[paths])
            if not copy:
                rel.to_view(name, replace=True)
                return
            con.execute(f"DROP TABLE IF EXISTS {quote_ident(name)}")
            rel.to_table(name)
            return
        _check_csv_has_rows(paths, table)
        nulls = ["", *source.null_values]
        # null_padding: short rows (fewer trailing fields) read as NULLs there, as pandas does.
        rel = con.sql("SELECT * FROM read_csv($1, nullstr = $2, null_padding = true, sample_size = -1)", params=[paths, nulls])
        con.execute(f"DROP TABLE IF EXISTS {quote_ident(name)}")
        rel.to_table(name)
    except duckdb.Error as err:
        raise DataError(
            f"Table {table!r}: cannot read {source.describe()}: {_first_line(err)}"
        ) from err


def _register_duckdb(con: duckdb.DuckDBPyConnection, name: str, source: DuckDBSource, table: str) -> None:
    if not Path(source.path).exists():
        raise DataError(f"Table {table!r}: DuckDB file {source.path} does not exist.")
    alias = "__db_" + str(abs(hash(str(Path(source.path).resolve()))))
    attached = {row[0] for row in con.execute("SELECT database_name FROM duckdb_databases()").fetchall()}
    if alias not in attached:
        con.execute(f"ATTACH {quote_literal(source.path)} AS {quote_ident(alias)} (READ_ONLY)")
    try:
        con.execute(
            f"CREATE OR REPLACE VIEW {quote_ident(name)} AS "
            f"SELECT * FROM {quote_ident(alias)}.{quote_ident(source.table)}"
        )
    except duckdb.Error as err:
        raise DataError(
            f"Table {table!r}: DuckDB file {source.path} has no table {source.table!r}: "
            f"{_first_line(err)}"
        ) from err


SQLITE_TYPES = {"INT": pa.int64(), "REAL": pa.float64(), "FLOA": pa.float64(), "DOUB": pa.float64(),
                "NUM": pa.float64(), "DEC": pa.float64(), "BOOL": pa.bool_(), "BLOB": pa.binary()}


def _sqlite_type(declared: str) -> pa.DataType:
    upper = (declared or "").upper()
    for prefix, dtype in SQLITE_TYPES.items():
        if prefix in upper:
            return dtype
    return pa.string()


def _register_sqlite(con: duckdb.DuckDBPyConnection, name: str, source: SQLiteSource, table: str) -> None:
    """Stream a SQLite table into DuckDB in Arrow batches (DuckDB's sqlite extension would
    need a download, which this project never does at run time)."""
    if not Path(source.path).exists():
        raise DataError(f"Table {table!r}: SQLite file {source.path} does not exist.")
    # DuckDB pulls the batches from one of its own threads, hence check_same_thread=False (the
    # connection is still used by one thread at a time).
    lite = sqlite3.connect(f"file:{source.path}?mode=ro", uri=True, check_same_thread=False)
    try:
        info = lite.execute(f"PRAGMA table_info({quote_ident(source.table)})").fetchall()
        if not info:
            raise DataError(f"Table {table!r}: SQLite file {source.path} has no table {source.table!r}.")
        schema = pa.schema([(row[1], _sqlite_type(row[2])) for row in info])
        cursor = lite.execute(f"SELECT * FROM {quote_ident(source.table)}")
        problems: list[DataError] = []
        reader = pa.RecordBatchReader.from_batches(schema, _sqlite_batches(cursor, schema, table, problems))
        con.execute(f"DROP TABLE IF EXISTS {quote_ident(name)}")
        con.register("__sqlite_stream", reader)
        try:
            con.execute(f"CREATE TABLE {quote_ident(name)} AS SELECT * FROM __sqlite_stream")
        except duckdb.Error as err:
            # DuckDB wraps an error raised while it reads the stream; give the user ours.
            if problems:
                raise problems[0] from err
            raise DataError(f"Table {table!r}: cannot read {source.describe()}: {_first_line(err)}") from err
        finally:
            con.unregister("__sqlite_stream")
    finally:
        lite.close()


def _sqlite_batches(cursor: sqlite3.Cursor, schema: pa.Schema, table: str,
                    problems: list[DataError]) -> Iterator[pa.RecordBatch]:
    while rows := cursor.fetchmany(SQLITE_BATCH_ROWS):
        columns = list(zip(*rows))
        try:
            arrays = [pa.array(col, type=field.type) for col, field in zip(columns, schema)]
        except (pa.ArrowInvalid, pa.ArrowTypeError) as err:
            problems.append(DataError(
                f"Table {table!r}: a SQLite value does not match its declared column type: {err}"))
            raise problems[-1] from err
        yield pa.RecordBatch.from_arrays(arrays, schema=schema)


def _as_arrow(data: Any, table: str) -> Any:
    if isinstance(data, pa.RecordBatchReader):
        # A reader can be scanned once; the graph scans its tables many times.
        return data.read_all()
    if isinstance(data, (pa.Table, pd.DataFrame)):
        return data
    raise ConfigError(
        f"Table {table!r}: in-memory data must be a pandas DataFrame or a pyarrow Table, "
        f"not {type(data).__name__}."
    )


def _shaped_sql(table: Table) -> str:
    """The table's SQL (its source renamed), minus dropped columns."""
    if table.sql:
        inner = _rename_source(table.sql, raw_name(table.name), table.name) if table.source else table.sql
    else:
        inner = f"SELECT * FROM {quote_ident(raw_name(table.name))}"
    if not table.drop:
        return inner
    dropped = ", ".join(quote_ident(c) for c in table.drop)
    return f"SELECT * EXCLUDE ({dropped}) FROM ({inner})"


def _rename_source(sql: str, raw: str, table: str) -> str:
    try:
        tree = sqlglot.parse_one(sql, read="duckdb")
    except sqlglot.errors.ParseError as err:
        raise DataError(f"Table {table!r}: cannot parse its SQL: {_first_line(err)}") from err

    def swap(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Table) and node.name == "source" and not node.args.get("db"):
            alias = node.alias or "source"
            return exp.Table(this=exp.to_identifier(raw, quoted=True), alias=exp.TableAlias(this=exp.to_identifier(alias)))
        return node

    return tree.transform(swap).sql(dialect="duckdb")


def _final_sql(con: duckdb.DuckDBPyConnection, table: Table) -> str:
    """Cast time columns to TIMESTAMP; everything else passes through."""
    types = dict(con.execute(f"SELECT column_name, column_type FROM (DESCRIBE {quote_ident(pre_name(table.name))})").fetchall())
    casts = []
    for col in (table.time_column, table.end_time_column):
        if col and col in types and types[col] != "TIMESTAMP":
            casts.append(f"{time_cast(quote_ident(col), types[col])} AS {quote_ident(col)}")
    source = quote_ident(pre_name(table.name))
    if not casts:
        return f"SELECT * FROM {source}"
    return f"SELECT * REPLACE ({', '.join(casts)}) FROM {source}"


def time_cast(column_sql: str, dtype: str) -> str:
    """SQL turning a column of type ``dtype`` into a naive UTC TIMESTAMP (NULL when unparseable)."""
    upper = dtype.upper()
    if upper.startswith("TIMESTAMP WITH TIME ZONE"):
        return f"CAST(timezone('UTC', {column_sql}) AS TIMESTAMP)"
    if upper.startswith(("TIMESTAMP", "DATE")):
        return f"CAST({column_sql} AS TIMESTAMP)"
    return f"TRY_CAST({column_sql} AS TIMESTAMP)"


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0].rstrip(".") if text else type(err).__name__
