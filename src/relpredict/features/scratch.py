"""The scratch space of one feature computation: temporary DuckDB tables, dropped on exit.

Also the small SQL pieces every feature module builds on: bound intervals, day differences and
the ``base(__row, key, anchor)`` table of the rows to compute features for.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from relpredict.errors import ConfigError
from relpredict.graph.graph import Graph
from relpredict.labels.sql import ANCHOR, ENTITY, Params
from relpredict.query.bound import UNIT_SECONDS
from relpredict.sql import quote_ident as q

DAY_US = 86_400_000_000.0


@dataclass
class Scratch:
    """Temporary tables and registered Arrow tables of one call.

    ``graph.con`` is shared by every stage, so names are unique per call and everything is
    dropped on exit, also when a query fails.
    """

    con: duckdb.DuckDBPyConnection
    prefix: str = field(default_factory=lambda: f"__feat_{uuid.uuid4().hex[:12]}")
    tables: list[str] = field(default_factory=list)
    views: list[str] = field(default_factory=list)

    def __enter__(self) -> Scratch:
        return self

    def __exit__(self, *exc: object) -> None:
        for name in reversed(self.tables):
            self.con.execute(f"DROP TABLE IF EXISTS {q(name)}")
        for name in self.views:
            self.con.unregister(name)

    def register(self, data: pa.Table, what: str) -> str:
        name = f"{self.prefix}_{what}"
        self.con.register(name, data)
        self.views.append(name)
        return name

    def create(self, what: str, sql: str, params: list[Any] | None = None) -> str:
        """``CREATE TEMP TABLE`` from a SELECT; returns the (unquoted) table name."""
        name = f"{self.prefix}_{what}_{len(self.tables)}"
        self.con.execute(f"CREATE TEMP TABLE {q(name)} AS {sql}", params or [])
        self.tables.append(name)
        return name

    def arrow(self, sql: str, params: list[Any] | None = None) -> pa.Table:
        return self.con.sql(sql, params=params or []).to_arrow_table()


def interval(p: Params, value: float, unit: str, times: str | None = None) -> str:
    """SQL for ``value`` ``unit`` (optionally times an integer SQL expression), bound as params."""
    if unit == "months":
        months = p.add(int(value))
        return f"to_months(CAST({months} * {times or 1} AS INTEGER))"
    micros = p.add(round(value * UNIT_SECONDS[unit] * 1_000_000))
    return f"to_microseconds(CAST({micros} * {times or 1} AS BIGINT))"


def days_between(later: str, earlier: str) -> str:
    """``later - earlier`` in fractional days (NULL when either is NULL)."""
    return f"((epoch_us({later}) - epoch_us({earlier})) / {DAY_US})"


def prepare_rows(s: Scratch, rows: pa.Table, anchor: datetime | None) -> str:
    """Register ``rows`` and build ``base(__row, key, anchor)``; static rows get ``anchor``."""
    if anchor is None and ANCHOR not in rows.column_names:
        raise ConfigError(f"Rows of a temporal query need an {ANCHOR} column (as the label "
                          "tables have).")
    cols = [ENTITY] + ([ANCHOR] if anchor is None else [])
    data = rows.select(cols).append_column("__row", pa.array(np.arange(rows.num_rows)))
    view = s.register(data, "rows")
    if anchor is None:
        return s.create("base", f"SELECT __row, {ENTITY} AS key, CAST({ANCHOR} AS TIMESTAMP) "
                                f"AS anchor FROM {q(view)}")
    return s.create("base", f"SELECT __row, {ENTITY} AS key, CAST($1 AS TIMESTAMP) AS anchor "
                            f"FROM {q(view)}", [anchor])


def reference_time(graph: Graph) -> datetime:
    """The "anchor" of a static query: the latest time in the graph, so every row counts."""
    highs = [graph.time_range(t.name)[1] for t in graph if t.time_column]
    known = [h for h in highs if h is not None]
    return max(known) if known else datetime(1970, 1, 1)
