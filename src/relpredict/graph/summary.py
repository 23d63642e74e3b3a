"""What ``graph inspect`` shows: one plain record per table, built from the loaded graph."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from relpredict.graph.graph import Graph
from relpredict.tables.stypes import SType


@dataclass(frozen=True)
class TableSummary:
    name: str
    rows: int
    columns: int
    primary_key: str | None
    foreign_keys: dict[str, str]
    time_column: str | None
    time_min: datetime | None
    time_max: datetime | None
    stypes: dict[str, SType]


def summarize(graph: Graph) -> list[TableSummary]:
    out = []
    for t in graph:
        lo, hi = graph.time_range(t.name)
        out.append(TableSummary(
            t.name, graph.row_count(t.name), len(graph.columns(t.name)), t.primary_key,
            dict(t.foreign_keys), t.time_column, lo, hi, graph.stypes(t.name)))
    return out
