"""Look-ahead-free aggregate features of (entity, anchor time) rows, computed in DuckDB.

For a row ``(entity, t)`` nothing later than ``t`` is read: entity rows count only once they
exist, fact rows only with ``time <= t``, parents only through fact rows seen by ``t``.

How it stays fast: every fact table is numbered once per call, per key, in time order (ties by
primary key), with running sums and counts. The state of a key at time ``t`` is then one
``ASOF`` lookup (the last row with ``time <= t``); a window ``(t - w, t]`` is the difference of two
lookups, and "the last k rows" is the difference to row ``n - k``. Rows added after ``t`` sort
after every row seen at ``t``, so they cannot change a running total up to ``t``: the
look-ahead guarantee holds by construction, not by a filter that could be forgotten.
"""

from __future__ import annotations

import json
import uuid
import weakref
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from relpredict.errors import ConfigError
from relpredict.graph.graph import Graph
from relpredict.labels.sql import ANCHOR, ENTITY, Params
from relpredict.query.bound import UNIT_SECONDS, BoundQuery
from relpredict.sql import quote_ident as q
from relpredict.tables.stypes import SType, is_numeric_dtype, is_temporal_dtype

from .spec import FeatureSpec, RouteSpec, window_name

VOCAB_SIZE = 50  # entity categorical columns: codes of the most frequent values
FACT_TOP = 5  # fact categorical columns: shares of the most frequent values
FACT_MAX_DISTINCT = 20  # ... for columns with at most this many values,
FACT_MIN_COVER = 0.5  # ... or whose top values cover at least this share of rows
WINDOW_MULTIPLES = (1, 4, 12)
STATIC_WINDOWS = [(30.0, "days"), (120.0, "days"), (365.0, "days")]
PARENT_WINDOW = 1  # index into the windows: the 4x-horizon window for parent aggregates
DAY_US = 86_400_000_000.0


# ---------------------------------------------------------------------------- scratch space
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
    highs = [h for h in highs if h is not None]
    return max(highs) if highs else datetime(1970, 1, 1)


# ---------------------------------------------------------------------------- fitting
def fit_feature_spec(bq: BoundQuery, graph: Graph, rows: pa.Table, *,
                     history_k: int = 24) -> FeatureSpec:
    """Choose the feature columns and vocabularies from the graph and the training ``rows``.

    Vocabularies are fitted on data known by the last anchor time of ``rows``, so a spec fitted
    on training rows knows nothing of the validation or test period.
    """
    from .history import fit_target_classes  # history imports this module

    until = _max_anchor(rows) if bq.is_temporal else None
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


def _max_anchor(rows: pa.Table) -> datetime | None:
    if ANCHOR not in rows.column_names or rows.num_rows == 0:
        return None
    return pc.max(rows.column(ANCHOR)).as_py()


def _windows(bq: BoundQuery) -> list[tuple[float, str]]:
    if bq.horizon is None:
        return list(STATIC_WINDOWS)
    return [(float(bq.horizon.end * m), bq.horizon.unit) for m in WINDOW_MULTIPLES]


def _routes_to(graph: Graph, table: str) -> list[Any]:
    """Links into ``table`` from tables with a time column (the facts about its rows)."""
    return [link for link in graph.links if link.dst == table and graph[link.src].time_column]


def _feature_columns(graph: Graph, table: str, stype: SType) -> list[str]:
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
    for col in _feature_columns(graph, table, SType.categorical):
        counts = _value_counts(graph, table, col, until, VOCAB_SIZE)
        if counts.values and not (counts.distinct > VOCAB_SIZE
                                  and counts.distinct > 0.5 * counts.total):
            categorical[col] = counts.values
    return (_feature_columns(graph, table, SType.numerical), categorical,
            _feature_columns(graph, table, SType.timestamp))


def _route(graph: Graph, table: str, fk: str, until: datetime | None, full: bool) -> RouteSpec:
    """The fact route ``table.fk``; ``full`` adds categorical shares and one-hop parents."""
    t = graph[table]
    several = len(graph.links_between(table, graph[table].foreign_keys[fk])) > 1
    name = f"{table}[{fk}]" if several or table == t.foreign_keys[fk] else table
    categorical, parents = {}, {}
    if full:
        for col in _feature_columns(graph, table, SType.categorical):
            counts = _value_counts(graph, table, col, until, FACT_TOP)
            covered = sum(counts.counts) >= FACT_MIN_COVER * max(counts.total, 1)
            if counts.values and (counts.distinct <= FACT_MAX_DISTINCT or covered):
                categorical[col] = counts.values
        parents = {c: d for c, d in t.foreign_keys.items() if c != fk and d in graph}
    return RouteSpec(name=name, table=table, fk=fk, time=t.time_column or "", pk=t.primary_key,
                     numerical=_feature_columns(graph, table, SType.numerical),
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


# ---------------------------------------------------------------------------- computing
def aggregate_features(bq: BoundQuery, graph: Graph, rows: pa.Table,
                       spec: FeatureSpec) -> pa.Table:
    """``rows``' ``ENTITY`` (and ``ANCHOR_TIMESTAMP``) followed by float64 aggregate features.

    Same rows, same order. Static queries aggregate everything up to the latest time in the
    graph; temporal ones only what is known at each row's anchor time.
    """
    with Scratch(graph.con) as s:
        anchor = None if spec.temporal else reference_time(graph)
        base = prepare_rows(s, rows, anchor)
        pairs = _pairs(s, base, spec)
        joins = _Joins()
        ent = _entity_stats(s, graph, spec, pairs)
        alias = joins.add(ent.table, "b.key", ent.features)
        for j, (col, parent) in enumerate(spec.entity_parents.items()):
            joins.hop(parent, f"{alias}.__p{j}", f"{spec.entity_table}.{col}>")
        for route in spec.routes:
            st = _route_stats(s, route, pairs, spec, full=True)
            alias = joins.add(st.table, "b.key", st.features)
            for j, (col, parent) in enumerate(route.parents.items()):
                joins.hop(parent, f"{alias}.__p{j}", f"{route.name}.{col}>")
        _parent_stats(s, spec, pairs, joins)
        table = s.arrow(joins.select(base))
    return _with_identity(rows, table)


def _with_identity(rows: pa.Table, features: pa.Table) -> pa.Table:
    """The identity columns of ``rows`` (types kept) followed by the feature columns."""
    ident = [c for c in (ENTITY, ANCHOR) if c in rows.column_names]
    out = rows.select(ident)
    for name in features.column_names:
        out = out.append_column(name, features.column(name).cast(pa.float64()))
    return out


def _pairs(s: Scratch, base: str, spec: FeatureSpec) -> str:
    """Distinct (key, anchor) with the start of every window: ``w{i} = anchor - window i``."""
    p = Params()
    starts = ", ".join(f"anchor - {interval(p, v, u)} AS w{i}"
                       for i, (v, u) in enumerate(spec.windows))
    return s.create("pairs", f"SELECT key, anchor, {starts} FROM (SELECT DISTINCT key, anchor "
                             f"FROM {q(base)} WHERE key IS NOT NULL AND anchor IS NOT NULL)",
                    p.values)


@dataclass
class Stats:
    """A temp table keyed by (key, anchor): feature name → its column name in the table."""

    table: str
    features: dict[str, str]


@dataclass
class _Joins:
    """The final SELECT: base rows joined to every stats table, hops through parent ids."""

    parts: list[tuple[str, str, str, dict[str, str]]] = field(default_factory=list)
    hops: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # parent → (id, prefix)

    def add(self, table: str, key: str, features: dict[str, str], prefix: str = "") -> str:
        alias = f"j{len(self.parts)}"
        self.parts.append((alias, table, key, {prefix + k: v for k, v in features.items()}))
        return alias

    def hop(self, parent: str, id_column: str, prefix: str) -> None:
        self.hops.setdefault(parent, []).append((id_column, prefix))

    def select(self, base: str) -> str:
        """One row per base row, in the base rows' order; feature names quoted as given."""
        cols, joins, names = [], [], set()
        for alias, table, key, features in self.parts:
            joins.append(f" LEFT JOIN {q(table)} {alias} ON {alias}.key = {key} "
                         f"AND {alias}.anchor = b.anchor")
            cols += [f"{alias}.{q(col)} AS {q(name)}" for name, col in features.items()]
            if names & features.keys():
                raise AssertionError(f"duplicate feature names: {names & features.keys()}")
            names |= features.keys()
        return (f"SELECT {', '.join(cols) or '1 AS __none'} FROM {q(base)} b{''.join(joins)} "
                "ORDER BY b.__row")


def _entity_stats(s: Scratch, graph: Graph, spec: FeatureSpec, pairs: str) -> Stats:
    """Entity columns at the anchor (the row only once it exists); ids of its parents."""
    p = Params()
    features = _entity_exprs(spec, p)
    cols = [f"CAST({sql} AS DOUBLE) AS f{n}" for n, sql in enumerate(features.values())]
    joins = []
    for j, (fk, parent) in enumerate(spec.entity_parents.items()):
        pid, ptime = f"e.{q(fk)}", graph[parent].time_column
        if ptime:  # a timed parent counts only once it exists, like the entity itself
            pk = graph[parent].primary_key or ""
            joins.append(f" LEFT JOIN {q(parent)} pr{j} ON pr{j}.{q(pk)} = {pid}")
            pid = f"CASE WHEN pr{j}.{q(ptime)} <= x.anchor THEN {pid} END"
        cols.append(f"{pid} AS __p{j}")
    exists = f" AND e.{q(spec.entity_time)} <= x.anchor" if spec.entity_time else ""
    sql = (f"SELECT x.key, x.anchor{''.join(', ' + c for c in cols)} FROM {q(pairs)} x "
           f"LEFT JOIN {q(spec.entity_table)} e ON e.{q(spec.entity_key)} = x.key{exists}"
           f"{''.join(joins)}")
    return Stats(s.create("entity", sql, p.values), {n: f"f{i}" for i, n in enumerate(features)})


def _entity_exprs(spec: FeatureSpec, p: Params) -> dict[str, str]:
    """Feature name → SQL over the entity row ``e`` and the anchor ``x.anchor``.

    A timestamp after the anchor (a planned end date, say) is a fact not known yet: NULL.
    """
    E, out = spec.entity_table, {}
    for c in spec.numerical:
        out[f"{E}.{c}"] = f"e.{q(c)}"
    for c, vocab in spec.categorical.items():
        code = f"COALESCE(list_position({p.add(vocab)}, CAST(e.{q(c)} AS VARCHAR)) - 1, -1)"
        out[f"{E}.{c}.code"] = f"CASE WHEN e.{q(c)} IS NOT NULL THEN {code} END"
    for c in [*spec.timestamps, *([spec.entity_time] if spec.entity_time else [])]:
        ts = f"CAST(e.{q(c)} AS TIMESTAMP)"
        out[f"{E}.{c}.age_days"] = f"CASE WHEN {ts} <= x.anchor THEN {days_between('x.anchor', ts)} END"
    return out


# ---------------------------------------------------------------------------- fact routes
def _sequence(s: Scratch, route: RouteSpec, full: bool, keys: str) -> tuple[str, str]:
    """Fact rows per key in time order with running sums: (all rows, last row of each time).

    Only the keys in ``keys`` are numbered: the running sums are per key, so leaving the other
    keys out changes nothing, and a batch of entities costs what its own fact rows cost, not the
    whole table.
    """
    p = Params()
    cols = [f"f.{q(route.fk)} AS k", f"f.{q(route.time)} AS ts", "row_number() OVER w AS j"]
    for i, c in enumerate(route.numerical):
        x = f"CAST(f.{q(c)} AS DOUBLE)"
        cols += [f"{x} AS v{i}", f"SUM({x}) OVER w AS s{i}", f"COUNT({x}) OVER w AS c{i}"]
    for i, (c, values) in enumerate(route.categorical.items() if full else ()):
        cols += [f"COUNT(*) FILTER (WHERE CAST(f.{q(c)} AS VARCHAR) = {p.add(v)}) OVER w AS h{i}_{m}"
                 for m, v in enumerate(values)]
    for i, c in enumerate(route.parents if full else ()):
        cols.append(f"f.{q(c)} AS p{i}")
    order = f"f.{q(route.time)}" + (f", f.{q(route.pk)}" if route.pk else "")
    seq = s.create("seq", (
        f"SELECT {', '.join(cols)} FROM {q(route.table)} f "
        f"WHERE f.{q(route.fk)} IN (SELECT DISTINCT key FROM {q(keys)}) AND f.{q(route.time)} IS NOT NULL "
        f"WINDOW w AS (PARTITION BY f.{q(route.fk)} ORDER BY {order} ROWS UNBOUNDED PRECEDING)"),
        p.values)
    last = s.create("last", f"SELECT * FROM {q(seq)} "
                            "QUALIFY j = max(j) OVER (PARTITION BY k, ts)")
    return seq, last


def _route_stats(s: Scratch, route: RouteSpec, keys: str, spec: FeatureSpec,
                 full: bool) -> Stats:
    """Aggregates of ``route``'s fact rows at each (key, anchor) of ``keys``.

    ``full``: count, recency, last-k means, window means and sums, categorical shares and the
    parent ids of the last row. Otherwise (parents of the entity): count, the mean of the last
    ``max(last_k)`` rows and the mean over the 4x-horizon window.
    """
    if not full:
        return _parent_route_stats(s, route, keys, spec)
    seq, last = _sequence(s, route, full, keys)
    exprs = _RouteExprs(route, spec, full)
    joins = [f" ASOF LEFT JOIN {q(last)} a ON x.key = a.k AND x.anchor >= a.ts"]
    joins += [f" ASOF LEFT JOIN {q(last)} w{i} ON x.key = w{i}.k AND x.w{i} >= w{i}.ts"
              for i in exprs.windows]
    joins += [f" LEFT JOIN {q(seq)} b{k} ON b{k}.k = x.key AND b{k}.j = a.j - {int(k)}"
              for k in exprs.lags]
    extra = [f"a.p{i} AS __p{i}" for i in range(len(route.parents) if full else 0)]
    cols = [f"CAST({sql} AS DOUBLE) AS f{n}" for n, sql in enumerate(exprs.features.values())]
    sql = (f"SELECT x.key, x.anchor, {', '.join(cols + extra)} FROM {q(keys)} x{''.join(joins)}")
    table = s.create("stats", sql)
    return Stats(table, {name: f"f{n}" for n, name in enumerate(exprs.features)})


def _parent_route_stats(s: Scratch, route: RouteSpec, keys: str, spec: FeatureSpec) -> Stats:
    """The parent aggregates of :func:`_route_stats` (``full`` false) as one grouped query.

    A parent such as a product is reached from almost every batch, so numbering all its fact
    rows per call (what :func:`_sequence` does) would cost the whole fact table each time. The
    same values come from one hash join and a grouped aggregate: the count of rows up to the
    anchor, the mean of the non-NULL values among the last ``k`` rows (``max_by`` over
    (time, primary key) keeps rows whose value is NULL by wrapping the value in a struct) and
    the mean over the parent window. Names and order are those of :class:`_RouteExprs`.
    """
    n, k = route.name, max(spec.last_k)
    wname = spec.window_names()[PARENT_WINDOW]
    tie = f", 'p': f.{q(route.pk)}" if route.pk else ""
    order = "{'t': f." + q(route.time) + tie + "}"
    cols = {f"{n}.count": f"COUNT(f.{q(route.time)})"}
    for c in route.numerical:
        v = f"CAST(f.{q(c)} AS DOUBLE)"
        cols[f"{n}.{c}.mean_last{k}"] = (f"list_avg(list_transform(max_by({{'v': {v}}}, {order}, {int(k)}), "
                                         "lambda e: e.v))")
        cols[f"{n}.{c}.mean_{wname}"] = f"avg({v}) FILTER (WHERE f.{q(route.time)} > x.w{PARENT_WINDOW})"
    select = ", ".join(f"CAST({sql} AS DOUBLE) AS f{i}" for i, sql in enumerate(cols.values()))
    table = s.create("stats", (
        f"SELECT x.key, x.anchor, {select} FROM {q(keys)} x LEFT JOIN {q(route.table)} f "
        f"ON f.{q(route.fk)} = x.key AND f.{q(route.time)} <= x.anchor GROUP BY x.key, x.anchor"))
    return Stats(table, {name: f"f{i}" for i, name in enumerate(cols)})


class _RouteExprs:
    """The feature expressions of one route, and which lookups (windows, lags) they need."""

    def __init__(self, route: RouteSpec, spec: FeatureSpec, full: bool) -> None:
        self.features: dict[str, str] = {}
        self.windows: set[int] = set()
        self.lags: set[int] = set()
        n = route.name
        self.features[f"{n}.count"] = "COALESCE(a.j, 0)"
        if full:
            self.features[f"{n}.days_since_last"] = days_between("x.anchor", "a.ts")
        wins = list(enumerate(spec.window_names())) if full else \
            [(PARENT_WINDOW, spec.window_names()[PARENT_WINDOW])]
        lags = spec.last_k if full else [max(spec.last_k)]
        for i, c in enumerate(route.numerical):
            self._numerical(f"{n}.{c}", i, lags, wins, full)
        for i, (c, values) in enumerate(route.categorical.items() if full else ()):
            k = max(spec.last_k)
            self.lags.add(k)
            for m, v in enumerate(values):
                self.features[f"{n}.{c}={v}.share_last{k}"] = (
                    f"(a.h{i}_{m} - COALESCE(b{k}.h{i}_{m}, 0)) / NULLIF(LEAST(a.j, {k}), 0)")

    def _numerical(self, name: str, i: int, lags: list[int], wins: list[tuple[int, str]],
                   full: bool) -> None:
        f = self.features
        for k in lags:
            if k == 1:
                f[f"{name}.mean_last1"] = f"a.v{i}"
                continue
            self.lags.add(k)
            f[f"{name}.mean_last{k}"] = (f"(a.s{i} - COALESCE(b{k}.s{i}, 0)) / "
                                         f"NULLIF(a.c{i} - COALESCE(b{k}.c{i}, 0), 0)")
        for w, wname in wins:
            self.windows.add(w)
            f[f"{name}.mean_{wname}"] = (f"(a.s{i} - COALESCE(w{w}.s{i}, 0)) / "
                                         f"NULLIF(a.c{i} - COALESCE(w{w}.c{i}, 0), 0)")
            if full:
                f[f"{name}.sum_{wname}"] = f"COALESCE(a.s{i}, 0) - COALESCE(w{w}.s{i}, 0)"
        if full:
            f[f"{name}.mean_all"] = f"a.s{i} / NULLIF(a.c{i}, 0)"
            f[f"{name}.sum_all"] = f"COALESCE(a.s{i}, 0)"


def _parent_stats(s: Scratch, spec: FeatureSpec, pairs: str, joins: _Joins) -> None:
    """Aggregates of each parent reached by a hop, at distinct (parent id, anchor) only."""
    for parent, sources in list(joins.hops.items()):
        routes = spec.parent_routes.get(parent, [])
        if not routes:
            continue
        ids = " UNION ".join(_hop_ids(joins, src) for src, _ in sources)
        keys = s.create("pkeys", f"SELECT DISTINCT i.key, i.anchor, {_window_cols(spec)} "
                                 f"FROM ({ids}) i JOIN (SELECT DISTINCT anchor, "
                                 f"{_window_cols(spec)} FROM {q(pairs)}) w USING (anchor) "
                                 "WHERE i.key IS NOT NULL")
        for route in routes:
            st = _cached_parent_stats(s, route, keys, spec) or _route_stats(s, route, keys, spec, full=False)
            for src, prefix in sources:
                joins.add(st.table, src, st.features, prefix)


# Parent aggregates at one anchor time, for every parent of a route: (connection, route, anchor,
# settings) → (weak reference to the connection, stats table). A batch prediction job scores many
# batches at one anchor, and each batch reaches nearly all parents (every product, say), so the
# first batch computes them once and the others reuse them. Values depend only on (parent,
# anchor), so reuse is exact; the weak reference keeps a new graph from matching a dead one's id.
_PARENT_CACHE: dict[tuple, tuple[weakref.ref, pa.Table]] = {}
CACHE_ANCHORS, CACHE_ENTRIES = 2, 32


def _cached_parent_stats(s: Scratch, route: RouteSpec, keys: str, spec: FeatureSpec) -> Stats | None:
    """Parent stats from the cache (see ``_PARENT_CACHE``) when ``keys`` has few anchors."""
    anchors = [r[0] for r in s.con.execute(f"SELECT DISTINCT anchor FROM {q(keys)}").fetchall()]
    if not anchors or len(anchors) > CACHE_ANCHORS:
        return None
    parts, names = [], _parent_feature_names(route, spec)
    for anchor in anchors:
        ck = (id(s.con), json.dumps(asdict(route), sort_keys=True), anchor, tuple(spec.last_k),
              json.dumps(spec.windows))
        hit = _PARENT_CACHE.get(ck)
        if hit is None or hit[0]() is not s.con:
            hit = (weakref.ref(s.con), _all_parent_stats(s, route, keys, spec, anchor))
            if len(_PARENT_CACHE) >= CACHE_ENTRIES:
                _PARENT_CACHE.pop(next(iter(_PARENT_CACHE)))
            _PARENT_CACHE[ck] = hit
        parts.append(hit[1])
    cached = s.register(pa.concat_tables(parts), "pcache")
    missing = s.create("pmiss", f"SELECT k.* FROM {q(keys)} k ANTI JOIN {q(cached)} c "
                                "ON c.key = k.key AND c.anchor = k.anchor")
    extra = _parent_route_stats(s, route, missing, spec)  # keys without fact rows: counts of 0
    table = s.create("pstats", f"SELECT * FROM {q(cached)} UNION ALL SELECT * FROM {q(extra.table)}")
    return Stats(table, {name: f"f{i}" for i, name in enumerate(names)})


def _all_parent_stats(s: Scratch, route: RouteSpec, keys: str, spec: FeatureSpec, anchor: Any) -> pa.Table:
    """Stats of every parent that has fact rows on ``route``, at ``anchor``."""
    wcols = _window_cols(spec)
    every = s.create("pall", (
        f"SELECT p.key, w.anchor, {', '.join(f'w.{c.strip()}' for c in wcols.split(','))} FROM "
        f"(SELECT DISTINCT f.{q(route.fk)} AS key FROM {q(route.table)} f WHERE f.{q(route.fk)} IS NOT NULL) p "
        f"CROSS JOIN (SELECT DISTINCT anchor, {wcols} FROM {q(keys)} WHERE anchor = $1) w"), [anchor])
    return s.arrow(f"SELECT * FROM {q(_parent_route_stats(s, route, every, spec).table)}")


def _parent_feature_names(route: RouteSpec, spec: FeatureSpec) -> list[str]:
    """The feature names of :func:`_parent_route_stats`, in its column order."""
    wname = spec.window_names()[PARENT_WINDOW]
    names = [f"{route.name}.count"]
    for c in route.numerical:
        names += [f"{route.name}.{c}.mean_last{max(spec.last_k)}", f"{route.name}.{c}.mean_{wname}"]
    return names


def _hop_ids(joins: _Joins, id_column: str) -> str:
    """SELECT (parent id, anchor) from the stats table that holds ``id_column``."""
    alias, column = id_column.split(".", 1)
    table = next(t for a, t, _, _ in joins.parts if a == alias)
    return f"SELECT {column} AS key, anchor FROM {q(table)}"


def _window_cols(spec: FeatureSpec) -> str:
    return ", ".join(f"w{i}" for i in range(len(spec.windows)))


__all__ = ["FeatureSpec", "RouteSpec", "aggregate_features", "fit_feature_spec", "window_name"]
