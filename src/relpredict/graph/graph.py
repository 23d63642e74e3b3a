"""A graph of tables: tables are nodes, foreign keys (FK → PK) are the links between them.

``Graph`` holds table metadata and, once loaded, a DuckDB connection in which every table is a
view of the same name. Later stages (labels, features, models) query that connection.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import duckdb
import sqlglot
from sqlglot import exp

from relpredict.errors import ConfigError, GraphError, GraphValidationError
from relpredict.graph.validate import Finding, validate_graph
from relpredict.sql import quote_ident
from relpredict.suggest import did_you_mean, near_names  # noqa: F401  (re-exported: older imports)
from relpredict.tables import load
from relpredict.tables.remote import SourceReader
from relpredict.tables.stypes import ColumnProfile, SType, infer_stype, is_string_dtype
from relpredict.tables.table import Table

MissingKeyPolicy = Literal["warn", "error"]


@dataclass(frozen=True)
class Link:
    """A foreign key: ``src.column`` references the primary key of ``dst``."""

    src: str
    column: str
    dst: str

    def __str__(self) -> str:
        return f"{self.src}.{self.column} → {self.dst}"


class Graph:
    """Tables and their links.

    Build one in Python (``Graph([Table.from_file(...), ...])``) or from YAML
    (:func:`relpredict.graph.yaml_io.load_graph`). Data is read lazily: the first call that needs
    it (``con``, ``columns``, ``validate``, ...) loads every table into an in-memory DuckDB.
    """

    def __init__(self, tables: Iterable[Table] = (), *, name: str = "graph",
                 sources: SourceReader | None = None) -> None:
        self.name = name
        # Fetches tables read through connectors (S3, Snowflake, BigQuery); None: the default
        # workspace's connectors, no cache. Jobs and training set their own (see tables.remote).
        self.sources = sources
        self._tables: dict[str, Table] = {}
        for table in tables:
            self.add(table)

    # -- metadata ------------------------------------------------------------------------
    def add(self, table: Table) -> Graph:
        """Add a table (before the graph is loaded); names must be unique."""
        if table.name in self._tables:
            raise ConfigError(f"The graph already has a table named {table.name!r}; rename one.")
        if "con" in self.__dict__:
            raise GraphError("Add tables before the graph's data is loaded.")
        self._tables[table.name] = table
        return self

    def __getitem__(self, name: str) -> Table:
        try:
            return self._tables[name]
        except KeyError:
            raise GraphError(
                f"Unknown table {name!r}.{did_you_mean(name, self._tables)} "
                f"Tables: {', '.join(self._tables)}."
            ) from None

    def __contains__(self, name: object) -> bool:
        return name in self._tables

    def __iter__(self) -> Iterator[Table]:
        return iter(self._tables.values())

    def __len__(self) -> int:
        return len(self._tables)

    @property
    def table_names(self) -> list[str]:
        return list(self._tables)

    @property
    def links(self) -> list[Link]:
        """Every foreign key whose target table is in the graph."""
        return [
            Link(t.name, col, dst)
            for t in self for col, dst in t.foreign_keys.items() if dst in self._tables
        ]

    def links_between(self, a: str, b: str) -> list[Link]:
        """Links from ``a`` to ``b`` (``a`` holds the foreign key)."""
        return [link for link in self.links if link.src == a and link.dst == b]

    # -- data ----------------------------------------------------------------------------
    @cached_property
    def con(self) -> duckdb.DuckDBPyConnection:
        """An in-memory DuckDB connection with every table registered under its name.

        Read results with ``fetchall()``: in DuckDB 2.x a ``fetchone()`` that does not reach the
        end leaves the result open, and the next ``sql()`` or ``register()`` on the connection
        fails with "unfinished result".
        """
        con = duckdb.connect(":memory:")
        for table in self._load_order():
            load.register(con, table, self.sources)
        return con

    def _load_order(self) -> list[Table]:
        """Tables ordered so that SQL-defined tables come after the tables they read."""
        deps = {t.name: _sql_references(t) & set(self._tables) - {t.name} for t in self}
        ordered: list[Table] = []
        done: set[str] = set()
        while len(done) < len(self._tables):
            ready = [n for n in self._tables if n not in done and deps[n] <= done]
            if not ready:
                cycle = ", ".join(n for n in self._tables if n not in done)
                raise GraphError(f"The SQL of these tables reads each other in a cycle: {cycle}.")
            for n in ready:
                ordered.append(self._tables[n])
                done.add(n)
        return ordered

    def sql(self, query: str, params: list[Any] | None = None) -> duckdb.DuckDBPyRelation:
        """Run SQL over the graph's tables (values bound as parameters)."""
        return self.con.sql(query, params=params)

    @cached_property
    def _columns(self) -> dict[str, dict[str, str]]:
        rows = self.con.execute(
            "SELECT table_name, column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'main' ORDER BY table_name, ordinal_position"
        ).fetchall()
        out: dict[str, dict[str, str]] = {name: {} for name in self._tables}
        for table, column, dtype in rows:
            if table in out:
                out[table][column] = dtype
        return out

    def columns(self, table: str) -> dict[str, str]:
        """Column name → DuckDB type of a table as loaded."""
        self[table]
        return dict(self._columns[table])

    def row_count(self, table: str) -> int:
        return int(self.con.execute(f"SELECT COUNT(*) FROM {quote_ident(self[table].name)}").fetchall()[0][0])

    def time_range(self, table: str) -> tuple[datetime | None, datetime | None]:
        """Earliest and latest value of the table's time column (``None, None`` if it has none)."""
        col = self[table].time_column
        if col is None or col not in self.columns(table):
            return None, None
        q = f"SELECT MIN({quote_ident(col)}), MAX({quote_ident(col)}) FROM {quote_ident(table)}"
        lo, hi = self.con.execute(q).fetchall()[0]
        return lo, hi

    @cached_property
    def _stypes(self) -> dict[str, dict[str, SType]]:
        return {t.name: self._infer_stypes(t) for t in self}

    def stypes(self, table: str) -> dict[str, SType]:
        """Column → semantic type: overrides first, then keys (ID), time (timestamp), inferred."""
        self[table]
        return dict(self._stypes[table])

    def _infer_stypes(self, table: Table) -> dict[str, SType]:
        out: dict[str, SType] = {}
        for profile in self.profile(table.name):
            if profile.name in table.stypes:
                out[profile.name] = table.stypes[profile.name]
            elif profile.name in table.key_columns:
                out[profile.name] = SType.ID
            elif profile.name in (table.time_column, table.end_time_column):
                out[profile.name] = SType.timestamp
            else:
                out[profile.name] = infer_stype(profile)
        return out

    def profile(self, table: str, sample_rows: int = 100_000) -> list[ColumnProfile]:
        """Per-column statistics for type inference, from a sample of the table."""
        cols = self.columns(table)
        sample = f"(SELECT * FROM {quote_ident(table)} LIMIT {int(sample_rows)})"
        parts = ["COUNT(*)"]
        for col, dtype in cols.items():
            q = quote_ident(col)
            parts.append(f"approx_count_distinct({q})")
            if is_string_dtype(dtype):
                parts += [f"AVG(length({q}))", f"AVG(len(string_split(trim({q}), ' ')))",
                          f"AVG(CASE WHEN {q} LIKE '%|%' OR {q} LIKE '%;%' THEN 1.0 WHEN {q} IS NOT NULL THEN 0.0 END)"]
        row = self.con.execute(f"SELECT {', '.join(parts)} FROM {sample}").fetchall()[0]
        return _profiles(cols, row)

    def validate(self, missing_keys: MissingKeyPolicy = "warn") -> list[Finding]:
        """Every problem found in the metadata and the data (see :mod:`relpredict.graph.validate`)."""
        return validate_graph(self, missing_keys=missing_keys)

    def check(self, missing_keys: MissingKeyPolicy = "warn") -> list[Finding]:
        """Validate; raise :class:`GraphValidationError` if any finding is an error."""
        findings = self.validate(missing_keys=missing_keys)
        if any(f.severity == "error" for f in findings):
            raise GraphValidationError(findings)
        return findings

    def close(self) -> None:
        if "con" in self.__dict__:
            self.__dict__.pop("con").close()

    def __repr__(self) -> str:
        return f"Graph({self.name!r}, tables={self.table_names})"


def _profiles(cols: dict[str, str], row: tuple[Any, ...]) -> list[ColumnProfile]:
    rows, values, out = int(row[0]), list(row[1:]), []
    for col, dtype in cols.items():
        distinct = int(values.pop(0) or 0)
        stats = [values.pop(0) for _ in range(3)] if is_string_dtype(dtype) else [None] * 3
        out.append(ColumnProfile(col, dtype, rows, distinct, *stats))
    return out


def _sql_references(table: Table) -> set[str]:
    if not table.sql:
        return set()
    try:
        tree = sqlglot.parse_one(table.sql, read="duckdb")
    except sqlglot.errors.ParseError:
        return set()  # load.register reports the parse error with the table's name
    return {t.name for t in tree.find_all(exp.Table)}


def resolve_path(path: str | Path, base: Path) -> Path:
    p = Path(path).expanduser()
    return p if p.is_absolute() else base / p

