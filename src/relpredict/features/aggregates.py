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
import weakref
from dataclasses import asdict, dataclass, field
from typing import Any

import duckdb
import pyarrow as pa

from relpredict.graph.graph import Graph
from relpredict.labels.sql import ANCHOR, ENTITY, Params
from relpredict.query.bound import BoundQuery
from relpredict.sql import quote_ident as q

from .scratch import Scratch, days_between, interval, prepare_rows, reference_time
from .spec import FeatureSpec, RouteSpec, window_name

PARENT_WINDOW = 1  # index into the windows: the 4x-horizon window for parent aggregates


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
        cols: list[str] = []
        joins: list[str] = []
        names: set[str] = set()
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
_PARENT_CACHE: dict[tuple[Any, ...], tuple[weakref.ref[duckdb.DuckDBPyConnection], pa.Table]] = {}
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


__all__ = ["FeatureSpec", "RouteSpec", "aggregate_features", "window_name"]
