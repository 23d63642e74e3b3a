"""kumoai's ``Table``, ``Edge`` and ``Graph`` over relpredict's :class:`~relpredict.graph.Graph`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from relpredict.errors import ConfigError, GraphValidationError
from relpredict.graph.graph import Graph as RPGraph
from relpredict.kumoai._session import session
from relpredict.kumoai.connector import SourceTable
from relpredict.tables.stypes import SType
from relpredict.tables.table import Table as RPTable

__all__ = ["Column", "Edge", "Graph", "Table"]


@dataclass
class Column:
    """A column of a :class:`Table`; setting ``stype`` overrides the inferred semantic type."""

    name: str
    stype: str | None = None
    dtype: str | None = None


class Table:
    """A source table with its keys, time columns and semantic types (kumoai ``Table``)."""

    def __init__(self, source_table: SourceTable, columns: list[Column] | list[str] | None = None,
                 primary_key: str | None = None, time_column: str | None = None,
                 end_time_column: str | None = None) -> None:
        self.source_table = source_table
        self.primary_key = primary_key
        self.time_column = time_column
        self.end_time_column = end_time_column
        have = {c.name: c for c in source_table.columns}
        wanted = [c if isinstance(c, Column) else Column(str(c)) for c in (columns or [])]
        for col in wanted:
            if col.name not in have:
                raise ConfigError(f"Table {source_table.name!r} has no column {col.name!r}; its columns: "
                                  f"{', '.join(have)}.")
        self._columns = {c.name: Column(c.name, dtype=have[c.name].dtype) for c in wanted} if wanted else {
            n: Column(n, dtype=c.dtype) for n, c in have.items()}
        for col in wanted:
            self._columns[col.name].stype = col.stype

    @classmethod
    def from_source_table(cls, source_table: SourceTable, column_names: list[str] | None = None,
                          primary_key: str | None = None, time_column: str | None = None,
                          end_time_column: str | None = None) -> Table:
        return cls(source_table, column_names, primary_key, time_column, end_time_column)

    def __repr__(self) -> str:
        return (f"Table(source={self.source_table.name!r}, primary_key={self.primary_key!r}, "
                f"time_column={self.time_column!r}, columns={list(self._columns)})")

    @property
    def columns(self) -> list[Column]:
        return list(self._columns.values())

    def has_column(self, name: str) -> bool:
        return name in self._columns

    def column(self, name: str) -> Column:
        if name not in self._columns:
            raise ConfigError(f"Table {self.source_table.name!r} has no column {name!r}.")
        return self._columns[name]

    __getitem__ = column

    def infer_metadata(self, inplace: bool = True) -> Table:
        """Guess a missing primary key and time column as ``relpredict graph infer`` does (a
        key-like name with unique values; the most time-like timestamp column)."""
        from relpredict.graph.infer import guess_primary_key, guess_time_column

        graph = RPGraph([self.source_table.table()], sources=session().sources)
        try:
            if self.primary_key is None:
                self.primary_key = guess_primary_key(graph, self.source_table.name, [])
            if self.time_column is None:
                self.time_column = guess_time_column(graph, self.source_table.name, [])
        finally:
            graph.close()
        return self

    @property
    def metadata(self) -> pd.DataFrame:
        rows = [{"name": c.name, "dtype": c.dtype, "stype": c.stype,
                 "is_primary": c.name == self.primary_key, "is_time_column": c.name == self.time_column,
                 "is_end_time_column": c.name == self.end_time_column} for c in self.columns]
        return pd.DataFrame(rows)

    def validate(self, verbose: bool = True) -> Table:
        for name in (self.primary_key, self.time_column, self.end_time_column):
            if name is not None:
                self.column(name)
        return self

    def to_relpredict(self, name: str, foreign_keys: dict[str, str]) -> RPTable:
        """This table as graph table ``name`` with ``foreign_keys`` (column → target table)."""
        source = self.source_table.table(name)
        all_columns = [c.name for c in self.source_table.columns]
        dropped = tuple(c for c in all_columns if c not in self._columns)
        stypes = {c.name: SType.parse(c.stype, where=f"table {name!r}, column {c.name!r}")
                  for c in self.columns if c.stype}
        return source.with_(primary_key=self.primary_key, time_column=self.time_column,
                            end_time_column=self.end_time_column, foreign_keys=foreign_keys,
                            stypes=stypes, drop=dropped)


@dataclass(frozen=True)
class Edge:
    """``src_table.fkey`` references the primary key of ``dst_table``."""

    src_table: str
    fkey: str
    dst_table: str


class Graph:
    """Tables by name and the edges between them (kumoai ``Graph``)."""

    def __init__(self, tables: dict[str, Table] | None = None,
                 edges: list[Edge] | list[dict[str, str]] | None = None) -> None:
        self.tables: dict[str, Table] = dict(tables or {})
        self.edges: list[Edge] = []
        for edge in edges or []:
            e = edge if isinstance(edge, Edge) else Edge(**edge)
            self.link(e.src_table, e.fkey, e.dst_table)
        self._built: tuple[Any, RPGraph] | None = None

    def __repr__(self) -> str:
        return f"Graph(tables={list(self.tables)}, edges={self.edges})"

    def add_table(self, name: str, table: Table) -> Graph:
        self.tables[name] = table
        return self

    def table(self, name: str) -> Table:
        if name not in self.tables:
            raise ConfigError(f"The graph has no table {name!r}; tables: {', '.join(self.tables)}.")
        return self.tables[name]

    def link(self, src_table: str, fkey: str, dst_table: str) -> Graph:
        """Link ``src_table.fkey`` to ``dst_table``'s primary key. Written either way round, as
        Kumo's examples do: when ``fkey`` is ``src_table``'s primary key and ``dst_table`` has it,
        the foreign key is ``dst_table``'s."""
        src, dst = self.table(src_table), self.table(dst_table)
        if src.primary_key == fkey and dst.primary_key != fkey and dst.has_column(fkey):
            src_table, dst_table = dst_table, src_table
        elif not src.has_column(fkey):
            raise ConfigError(f"Edge {src_table}.{fkey} -> {dst_table}: {src_table!r} has no column {fkey!r}.")
        self.edges.append(Edge(src_table, fkey, dst_table))
        return self

    def _state(self) -> Any:
        return (tuple(self.edges), tuple((n, repr(t), tuple((c.name, c.stype) for c in t.columns))
                                        for n, t in self.tables.items()))

    def to_relpredict(self) -> RPGraph:
        """The relpredict graph (built again when tables or edges changed)."""
        state = self._state()
        if self._built is None or self._built[0] != state:
            fks: dict[str, dict[str, str]] = {n: {} for n in self.tables}
            for e in self.edges:
                fks[e.src_table][e.fkey] = e.dst_table
            graph = RPGraph([t.to_relpredict(n, fks[n]) for n, t in self.tables.items()], name="kumo_graph",
                            sources=session().sources)
            self._built = (state, graph)
        return self._built[1]

    def validate(self, verbose: bool = True) -> Graph:
        """Check keys, links and time columns against the data; raise on an error."""
        try:
            findings = self.to_relpredict().check()
        except GraphValidationError:
            raise
        if verbose:
            for f in findings:
                print(f"{f.severity}: {f.message}")
        return self
