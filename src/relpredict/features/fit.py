"""Fitting a feature spec: which columns of the graph become features, with which vocabularies.

Everything is read from data known by the last anchor time of the training rows, so a spec
fitted on training rows knows nothing of the validation or test period. Computing the features
of a fitted spec is :mod:`relpredict.features.aggregates`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from relpredict.graph.graph import Graph
from relpredict.labels.sql import ANCHOR, Params
from relpredict.query.bound import BoundQuery
from relpredict.sql import quote_ident as q
from relpredict.tables.stypes import SType, is_numeric_dtype, is_temporal_dtype

from .history import fit_target_classes
from .spec import FeatureSpec, RouteSpec

VOCAB_SIZE = 50  # entity categorical columns: codes of the most frequent values
FACT_TOP = 5  # fact categorical columns: shares of the most frequent values
FACT_MAX_DISTINCT = 20  # ... for columns with at most this many values,
FACT_MIN_COVER = 0.5  # ... or whose top values cover at least this share of rows
WINDOW_MULTIPLES = (1, 4, 12)
STATIC_WINDOWS = [(30.0, "days"), (120.0, "days"), (365.0, "days")]


def fit_feature_spec(bq: BoundQuery, graph: Graph, rows: pa.Table, *,
                     history_k: int = 24) -> FeatureSpec:
    """Choose the feature columns and vocabularies from the graph and the training ``rows``.

    Vocabularies are fitted on data known by the last anchor time of ``rows``, so a spec fitted
    on training rows knows nothing of the validation or test period.
    """
    until = max_anchor(rows) if bq.is_temporal else None
    entity = graph[bq.entity_table]
    numerical, categorical, timestamps = _entity_columns(graph, bq.entity_table, until)
    parents = {c: d for c, d in entity.foreign_keys.items() if d in graph and c != bq.entity_key}
    routes = [_route(graph, link.src, link.column, until, full=True)
              for link in _routes_to(graph, bq.entity_table)]
    hop_tables = {*parents.values(), *(p for r in routes for p in r.parents.values())}
    parent_routes = {p: [_route(graph, link.src, link.column, until, full=False)
                         for link in _routes_to(graph, p)] for p in sorted(hop_tables)}
    return FeatureSpec(
        entity_table=bq.entity_table, entity_key=bq.entity_key, entity_time=entity.time_column,
        temporal=bq.is_temporal, windows=_windows(bq), numerical=numerical,
        categorical=categorical, timestamps=timestamps, entity_parents=parents, routes=routes,
        parent_routes={p: r for p, r in parent_routes.items() if r},
        target_classes=fit_target_classes(bq, graph, rows), history_k=history_k)


def max_anchor(rows: pa.Table) -> datetime | None:
    if ANCHOR not in rows.column_names or rows.num_rows == 0:
        return None
    latest: datetime | None = pc.max(rows.column(ANCHOR)).as_py()
    return latest


def _windows(bq: BoundQuery) -> list[tuple[float, str]]:
    if bq.horizon is None:
        return list(STATIC_WINDOWS)
    return [(float(bq.horizon.end * m), bq.horizon.unit) for m in WINDOW_MULTIPLES]


def _routes_to(graph: Graph, table: str) -> list[Any]:
    """Links into ``table`` from tables with a time column (the facts about its rows)."""
    return [link for link in graph.links if link.dst == table and graph[link.src].time_column]


def feature_columns(graph: Graph, table: str, stype: SType) -> list[str]:
    """Columns of ``table`` of one semantic type, keys and time columns left out."""
    t = graph[table]
    skip = {*t.key_columns, t.time_column, t.end_time_column}
    dtypes = graph.columns(table)
    out = [c for c, st in graph.stypes(table).items() if st is stype and c not in skip]
    if stype is SType.numerical:
        out = [c for c in out if is_numeric_dtype(dtypes[c])]
    if stype is SType.timestamp:
        out = [c for c in out if is_temporal_dtype(dtypes[c])]
    return out


def _entity_columns(graph: Graph, table: str, until: datetime | None,
                    ) -> tuple[list[str], dict[str, list[str]], list[str]]:
    """Numerical, categorical (with vocabularies) and timestamp columns of the entity table.

    A categorical column whose values are nearly all different (names, free-form codes) only
    restates the entity's identity, which does not carry over to unseen entities: left out.
    """
    categorical = {}
    for col in feature_columns(graph, table, SType.categorical):
        counts = _value_counts(graph, table, col, until, VOCAB_SIZE)
        if counts.values and not (counts.distinct > VOCAB_SIZE
                                  and counts.distinct > 0.5 * counts.total):
            categorical[col] = counts.values
    return (feature_columns(graph, table, SType.numerical), categorical,
            feature_columns(graph, table, SType.timestamp))


def _route(graph: Graph, table: str, fk: str, until: datetime | None, full: bool) -> RouteSpec:
    """The fact route ``table.fk``; ``full`` adds categorical shares and one-hop parents."""
    t = graph[table]
    several = len(graph.links_between(table, graph[table].foreign_keys[fk])) > 1
    name = f"{table}[{fk}]" if several or table == t.foreign_keys[fk] else table
    categorical, parents = {}, {}
    if full:
        for col in feature_columns(graph, table, SType.categorical):
            counts = _value_counts(graph, table, col, until, FACT_TOP)
            covered = sum(counts.counts) >= FACT_MIN_COVER * max(counts.total, 1)
            if counts.values and (counts.distinct <= FACT_MAX_DISTINCT or covered):
                categorical[col] = counts.values
        parents = {c: d for c, d in t.foreign_keys.items() if c != fk and d in graph}
    return RouteSpec(name=name, table=table, fk=fk, time=t.time_column or "", pk=t.primary_key,
                     numerical=feature_columns(graph, table, SType.numerical),
                     categorical=categorical, parents=parents)


@dataclass(frozen=True)
class ValueCounts:
    values: list[str]  # the most frequent values, most frequent first (ties by value)
    counts: list[int]
    distinct: int  # distinct non-null values
    total: int  # non-null rows


def _value_counts(graph: Graph, table: str, col: str, until: datetime | None,
                  n: int) -> ValueCounts:
    """The ``n`` most frequent values of a column among rows known by ``until``."""
    p = Params()
    time = graph[table].time_column
    known = f" AND {q(time)} <= CAST({p.add(until)} AS TIMESTAMP)" if time and until else ""
    sql = (f"SELECT v, c, COUNT(*) OVER () AS d, SUM(c) OVER () AS t FROM ("
           f"SELECT CAST({q(col)} AS VARCHAR) AS v, COUNT(*) AS c FROM {q(table)} "
           f"WHERE {q(col)} IS NOT NULL{known} GROUP BY 1) ORDER BY c DESC, v LIMIT {p.add(n)}")
    found = graph.con.execute(sql, p.values).fetchall()
    if not found:
        return ValueCounts([], [], 0, 0)
    return ValueCounts([r[0] for r in found], [int(r[1]) for r in found], int(found[0][2]),
                       int(found[0][3]))
