"""The entity's own target history: the query's label at past anchors, without look-ahead.

For a row ``(entity, t)`` the label is evaluated, exactly as the label SQL does (WHERE,
ASSUMING, entity existence), at ``t - D, t - 2D, ..., t - kD`` where ``D`` is the longest
window of the target and ASSUMING. A label at ``a`` reads rows up to ``a + D``, so the label at
``t - iD`` ends by ``t - (i - 1)D <= t``: it is known at ``t``. Every past anchor is checked
against every window, in SQL, so a calendar-month edge case cannot leak either.

All past anchors of all rows go into ONE label query (their distinct set), then join back.

For ranking targets (a list of item keys) numeric history makes no sense; :func:`recent_items`
and :func:`popular_items` give what a ranking model or baseline needs instead.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from relpredict.errors import ConfigError
from relpredict.graph.graph import Graph
from relpredict.labels.labels import default_anchor_time, training_table
from relpredict.labels.sql import ANCHOR, ENTITY, TARGET, Compiler, Params
from relpredict.query.ast import Aggregation, aggregations
from relpredict.query.bound import BoundQuery, TaskType, Window
from relpredict.sql import quote_ident as q

from .scratch import Scratch, interval, prepare_rows

PREFIX = "history."
PAST = "__past"  # the list of past labels themselves (not a feature)
Expr = Callable[[Params], str]  # SQL text; values it needs are added to the Params
CLASSES = 10  # multiclass / multilabel: history shares of the most frequent classes
RECENCY = -1  # recent_class_shares: the key of the order of the classes' latest rows


def history_windows(bq: BoundQuery) -> list[Window]:
    """The windows of the target and ASSUMING (what a past label reads), longest first."""
    aggs = aggregations(bq.target) + aggregations(bq.assuming)
    return sorted({Window.of(a) for a in aggs}, key=lambda w: w.length(), reverse=True)


def has_history(bq: BoundQuery) -> bool:
    """Temporal queries have past labels; ranking targets are left to :func:`recent_items`."""
    return bq.is_temporal and bq.task_type is not TaskType.link_prediction


# ---------------------------------------------------------------------------- classes
def fit_target_classes(bq: BoundQuery, graph: Graph, rows: pa.Table,
                       n: int = CLASSES) -> list[str] | None:
    """The ``n`` most frequent classes of the training labels at ``rows``' anchors (as strings).

    None unless the query is a temporal multiclass or multilabel one.
    """
    if not has_history(bq) or bq.task_type not in (TaskType.multiclass, TaskType.multilabel):
        return None
    anchors = _distinct_anchors(rows)
    if not anchors:
        return []
    labels = training_table(bq, graph, anchors).column(TARGET)
    if bq.task_type is TaskType.multilabel:
        labels = pc.list_flatten(labels)
    counts = pc.value_counts(pc.cast(labels, pa.string())).to_pylist()
    counts = sorted((c for c in counts if c["values"] is not None),
                    key=lambda c: (-c["counts"], c["values"]))
    return [c["values"] for c in counts[:n]]


def _distinct_anchors(rows: pa.Table) -> list[datetime]:
    if ANCHOR not in rows.column_names:
        return []
    return sorted(a for a in pc.unique(rows.column(ANCHOR)).to_pylist() if a is not None)


# ---------------------------------------------------------------------------- history
def target_history(bq: BoundQuery, graph: Graph, rows: pa.Table, k: int = 24,
                   classes: list[str] | None = None) -> pa.Table:
    """``rows``' identity columns followed by float64 ``history.*`` features (same rows, order).

    Numeric and binary targets: ``last``, ``mean_3``, ``mean_12``, ``mean_<k>``, ``count``,
    ``trend`` (mean_3 - mean_12), ``anchors_since_last``; binary adds ``true_rate`` (Trues
    among all k anchors, missing ones count as not True) and ``anchors_since_true``.
    Multiclass / multilabel: ``count``, ``anchors_since_last`` and ``class=<c>.share`` for each
    of ``classes``. Static queries and ranking targets get no history columns.
    """
    return history_and_past(bq, graph, rows, k, classes, past=False)[0]


Levels = Callable[[list[datetime]], dict[datetime, float | None]]


def history_and_past(bq: BoundQuery, graph: Graph, rows: pa.Table, k: int = 24,
                     classes: list[str] | None = None, past: bool = True,
                     levels: Levels | None = None) -> tuple[pa.Table, list[list[Any]] | None]:
    """:func:`target_history` and, with ``past``, each row's k past labels themselves (most
    recent first; None where the entity had no label or the label's window ends after ``t``),
    from one query.

    The past labels are what the baselines of :mod:`relpredict.model.baselines` read: the same
    labels as the history features, so they are as free of look-ahead.

    With ``levels`` (past anchors → the population's level there, see
    :func:`anchor_levels`) the history features are computed over each past label divided by
    the level at its own anchor: in units of its time, so that they stay comparable when the
    target's scale changes. The past labels themselves stay as they are.
    """
    ident = rows.select([c for c in (ENTITY, ANCHOR) if c in rows.column_names])
    if not has_history(bq) or k < 1:
        return ident, ([[None] * max(k, 0) for _ in range(rows.num_rows)] if past else None)
    exprs = _history_exprs(bq, k, classes or [])
    if past:
        exprs[PAST] = lambda p: "list(raw ORDER BY i)"
    table = _over_past(bq, graph, rows, k, exprs, levels)
    lists = None
    if past:
        lists = [lst if lst is not None else [None] * k for lst in table.column(PAST).to_pylist()]
        table = table.drop_columns([PAST])
    return _with_trend(ident, table, k), lists



def _over_past(bq: BoundQuery, graph: Graph, rows: pa.Table, k: int, exprs: dict[str, Expr],
               levels: Levels | None = None) -> pa.Table:
    """``exprs`` aggregated over each row's k past labels, in ``rows``' order."""
    with Scratch(graph.con) as s:
        base = prepare_rows(s, rows, None)
        past = _past_anchors(s, bq, base, k)
        anchors = [r[0] for r in graph.con.execute(
            f"SELECT DISTINCT past FROM {q(past)} WHERE ok ORDER BY 1").fetchall()]
        keys = pc.unique(rows.column(ENTITY).drop_null()).to_pylist()
        labels = s.register(_labels(bq, graph, anchors, rows.schema.field(ENTITY).type, keys), "labels")
        scale = None
        if levels is not None:
            found = levels(anchors) if anchors else {}
            scale = s.register(pa.table({"past": pa.array(list(found), pa.timestamp("us")),
                                         "level": pa.array(list(found.values()), pa.float64())}), "levels")
        hist = _aggregate_past(s, past, labels, exprs, scale)
        names = ", ".join(f"h.{q(n)}" for n in exprs)
        return s.arrow(f"SELECT {names} FROM {q(base)} b LEFT JOIN {q(hist)} h "
                       f"ON h.key = b.key AND h.anchor = b.anchor ORDER BY b.__row")


def _aggregate_past(s: Scratch, past: str, labels: str, exprs: dict[str, Expr], levels: str | None = None) -> str:
    """Per (key, anchor): the history features over its k past labels ``v`` (``i`` = how far back;
    ``raw`` the label itself, ``v`` divided by the level at its anchor when ``levels`` is given).

    A past label whose windows would end after the anchor (``ok`` false) counts as missing.
    """
    p = Params()
    cols = ", ".join((sql(p) if name == PAST else f"CAST({sql(p)} AS DOUBLE)") + f" AS {q(name)}"
                     for name, sql in exprs.items())
    raw = f"CASE WHEN p.ok THEN l.{TARGET} END"
    value, join = raw, ""
    if levels is not None:
        value = f"CAST({raw} AS DOUBLE) / NULLIF(lv.level, 0)"
        join = f" LEFT JOIN {q(levels)} lv ON lv.past = p.past"
    return s.create("history", (
        f"SELECT x.key, x.anchor, {cols} FROM (SELECT p.key, p.anchor, p.i, {raw} AS raw, "
        f"{value} AS v FROM {q(past)} p LEFT JOIN {q(labels)} l "
        f"ON l.{ENTITY} = p.key AND l.{ANCHOR} = p.past{join}) x GROUP BY x.key, x.anchor"), p.values)


def _past_anchors(s: Scratch, bq: BoundQuery, base: str, k: int) -> str:
    """(key, anchor, i, past = anchor - i*D, ok = every window of the label at past ends by anchor)."""
    p = Params()
    windows = history_windows(bq)
    step = windows[0]
    ends = " AND ".join(f"r.past + {interval(p, w.end, w.unit)} <= r.anchor" for w in windows)
    return s.create("past", (
        f"SELECT r.*, ({ends}) AS ok FROM (SELECT x.key, x.anchor, g.i, "
        f"x.anchor - {interval(p, step.end, step.unit, 'g.i')} AS past FROM "
        f"(SELECT DISTINCT key, anchor FROM {q(base)} WHERE key IS NOT NULL AND anchor IS NOT NULL) x "
        f"CROSS JOIN range(1, {p.add(k + 1)}) g(i)) r"), p.values)


def _labels(bq: BoundQuery, graph: Graph, anchors: list[datetime], key_type: pa.DataType,
            keys: list[Any]) -> pa.Table:
    """The query's labels of ``keys`` at ``anchors`` (an empty table of the right shape when
    there are none); only those entities' fact rows are read."""
    if anchors:
        return training_table(bq, graph, anchors, entities=keys).select([ENTITY, ANCHOR, TARGET])
    return pa.table({ENTITY: pa.array([], key_type), ANCHOR: pa.array([], pa.timestamp("us")),
                     TARGET: pa.array([], pa.null())})


def _history_exprs(bq: BoundQuery, k: int, classes: list[str]) -> dict[str, Expr]:
    """Feature name → a function of Params giving the aggregate over the k past labels ``v``."""
    out: dict[str, Expr] = {}
    kind = bq.target_kind
    if kind in ("boolean", "numeric"):
        v = "CAST(v AS DOUBLE)"
        out[PREFIX + "last"] = lambda p: f"max({v}) FILTER (WHERE i = 1)"
        for n in _mean_sizes(k):
            out[f"{PREFIX}mean_{n}"] = functools.partial(_mean_of_last, v, n)
    out[PREFIX + "count"] = lambda p: "count(v)"
    out[PREFIX + "anchors_since_last"] = lambda p: "min(i) FILTER (WHERE v IS NOT NULL)"
    if kind == "boolean":
        out[PREFIX + "true_rate"] = lambda p: f"count(*) FILTER (WHERE v) / {int(k)}"
        out[PREFIX + "anchors_since_true"] = lambda p: "min(i) FILTER (WHERE v)"
    for c in classes if kind in ("category", "list") else []:
        hit = (lambda p, c=c: f"list_contains(CAST(v AS VARCHAR[]), {p.add(c)})") if kind == "list" \
            else (lambda p, c=c: f"CAST(v AS VARCHAR) = {p.add(c)}")
        out[f"{PREFIX}class={c}.share"] = functools.partial(_share_of, hit)
    return out


def _mean_of_last(v: str, n: int, p: Params) -> str:
    return f"avg({v}) FILTER (WHERE i <= {int(n)})"


def _share_of(hit: Expr, p: Params) -> str:
    return f"avg(CAST({hit(p)} AS DOUBLE)) FILTER (WHERE v IS NOT NULL)"


def _mean_sizes(k: int) -> list[int]:
    return sorted({n for n in (3, 12) if n < k} | {k})


def _with_trend(ident: pa.Table, table: pa.Table, k: int) -> pa.Table:
    """Identity columns + history columns, with ``trend`` after the means when both exist."""
    out = ident
    for name in table.column_names:
        out = out.append_column(name, table.column(name).cast(pa.float64()))
    short, long = f"{PREFIX}mean_3", f"{PREFIX}mean_12"
    if short in table.column_names and long in table.column_names:
        out = out.append_column(PREFIX + "trend", pc.subtract(table.column(short),
                                                              table.column(long)))
    return out


# ---------------------------------------------------------------------------- population level
LEVEL_SPANS = (1, 3, 12)


def anchor_levels(bq: BoundQuery, graph: Graph, anchors: list[datetime]) -> dict[datetime, float | None]:
    """Per anchor ``a``: the population's level of the target there, the mean ``|label|`` of
    every entity's non-zero label at ``a`` (None when every label is zero or NULL); for a binary
    target, the share of positive labels (None when there are none).

    Labels of all entities are read, so the level depends on the anchor only, never on which
    entities a batch holds. A label at ``a`` reads rows up to ``a + D``: call this only for
    anchors whose windows end by the time the level is used at.
    """
    out: dict[datetime, float | None] = {a: None for a in anchors}
    if not anchors:
        return out
    binary = bq.task_type is TaskType.binary
    value = f"CAST({TARGET} AS DOUBLE)"
    level, where = (f"avg({value})", "") if binary else (f"avg(abs({value}))", f" AND {value} != 0")
    with Scratch(graph.con) as s:
        labels = s.register(training_table(bq, graph, sorted(set(anchors))).select([ANCHOR, TARGET]), "labels")
        rows = graph.con.execute(f"SELECT {ANCHOR}, round({level}, 9) FROM {q(labels)} "
                                 f"WHERE {TARGET} IS NOT NULL{where} GROUP BY 1").fetchall()
    for anchor, found in rows:
        out[anchor] = float(found) if found is not None and (binary or found > 0) else None
    return out


def past_levels(bq: BoundQuery, graph: Graph, anchors: list[datetime], levels: Levels | None = None,
                n: int = max(LEVEL_SPANS)) -> dict[datetime, list[float | None]]:
    """Per anchor ``t``: the levels (:func:`anchor_levels`) at ``t - D, t - 2D, .. t - nD``, None
    where a past anchor has no level or its windows do not end by ``t`` (no look-ahead)."""
    out: dict[datetime, list[float | None]] = {a: [None] * n for a in anchors}
    if not has_history(bq) or not anchors:
        return out
    with Scratch(graph.con) as s:
        view = s.register(pa.table({"anchor": pa.array(sorted(set(anchors)), pa.timestamp("us"))}), "anchors")
        base = s.create("base", f"SELECT 0 AS key, CAST(anchor AS TIMESTAMP) AS anchor FROM {q(view)}")
        past = _past_anchors(s, bq, base, n)
        pairs = graph.con.execute(f"SELECT anchor, i, past FROM {q(past)} WHERE ok").fetchall()
    found = (levels or (lambda a: anchor_levels(bq, graph, a)))(sorted({p for _, _, p in pairs}))
    for anchor, i, p in pairs:
        out.setdefault(anchor, [None] * n)[i - 1] = found.get(p)
    return out


def population_level(bq: BoundQuery, graph: Graph, anchors: list[datetime],
                     levels: Levels | None = None,
                     past: dict[datetime, list[float | None]] | None = None) -> dict[datetime, float | None]:
    """Per anchor ``t``: the typical size of the target at ``t`` — the level
    (:func:`anchor_levels`) at ``t - D``, else the mean level of ``t - D .. t - 3D``, else of
    ``.. t - 12D`` (None when none). Each of those past anchors has its windows end by ``t``:
    no look-ahead.

    A relative regression model divides by it, so that a change of the target's scale over
    time (inflation, a new points scale) moves its inputs and outputs together. ``levels``
    (a cached :func:`anchor_levels`) saves recomputing the levels of past anchors, ``past``
    (:func:`past_levels`) the lookup of the past anchors.
    """
    found = past if past is not None else past_levels(bq, graph, anchors, levels)
    out: dict[datetime, float | None] = {}
    for anchor in anchors:
        values = found.get(anchor) or []
        out[anchor] = None
        for span in LEVEL_SPANS:
            within = [v for v in values[:span] if v is not None]
            if within:
                out[anchor] = sum(within) / len(within)
                break
    return out


# ---------------------------------------------------------------------------- ranking
def ranked_aggregation(bq: BoundQuery) -> Aggregation:
    if bq.task_type is not TaskType.link_prediction:
        raise ConfigError("recent_items and popular_items need a ranking query "
                          "(LIST_DISTINCT(...) RANK TOP k).")
    return next(a for a in aggregations(bq.target) if a.func == "LIST_DISTINCT")


@dataclass(frozen=True)
class ItemRows:
    """The ranked fact rows as SQL pieces over alias ``f``, anchor row alias ``x``.

    The target's row filter is compiled by the label compiler, so it means exactly what it means
    in the labels; parents it reads are joined only when visible at the anchor.
    """

    fact: str
    fk: str
    time: str
    item: str
    parent_joins: str
    where: str


def item_rows(bq: BoundQuery, graph: Graph, p: Params, filtered: bool = True) -> ItemRows:
    """The ranked rows; with ``filtered=False`` every fact row with an item, the target's row
    filter ignored (what the entity interacted with at all, e.g. rated but not liked)."""
    agg = ranked_aggregation(bq)
    fact = graph[agg.column.table]
    fk = graph.links_between(fact.name, bq.entity_table)[0].column
    where = [f"f.{q(agg.column.column)} IS NOT NULL"]
    comp, parents = Compiler(bq, graph, p), dict[str, str]()
    if agg.filter is not None and filtered:
        where.append(comp.expr(agg.filter, f"fact:{fact.name}", parents))
    joins = comp.parent_joins(fact.name, parents, "f", visible_at_anchor=True, anchor="x")
    return ItemRows(q(fact.name), f"f.{q(fk)}", f"f.{q(fact.time_column or '')}",
                  f"f.{q(agg.column.column)}", joins, " AND ".join(where))


def class_column(bq: BoundQuery, graph: Graph) -> Aggregation | None:
    """The aggregation whose values a multiclass target's classes are, when the target is one
    aggregation over a column of a fact table that links to the entity (``FIRST(t.c, ...)``,
    ``LAST(...)``, ``MODE(...)``); else None."""
    target = bq.target
    if (bq.task_type is not TaskType.multiclass or not bq.is_temporal or not isinstance(target, Aggregation)
            or target.column.column == "*" or target.column.table not in graph):
        return None
    fact = graph[target.column.table]
    if fact.time_column is None or not graph.links_between(fact.name, bq.entity_table):
        return None
    return target


def recent_class_shares(bq: BoundQuery, graph: Graph, rows: pa.Table, classes: list[Any],
                        spans: tuple[int, ...] = (1, 3, 12, 0)) -> dict[int, Any] | None:
    """Per span ``m``, an ``[N, C]`` array: the share of the entity's fact rows (the target's
    row filter applied) with time in ``(t - m D, t]`` (``m = 0``: all rows up to ``t``) whose
    value is each of ``classes`` (as strings); rows are ``rows``' (entity, t), ``D`` the
    target's window. None when the target is not a class column (:func:`class_column`).

    Event-level, unlike the past labels: "the entity's most frequent class lately" counts every
    row, not one label per window. The entry :data:`RECENCY` (``-1``) is the order of the
    classes' latest rows up to ``t``: ``1 / (1 + r)`` for the class whose latest row is the
    ``r``-th most recent of the entity's classes (equal times share a rank), 0 for a class the
    entity has no row of (what a tie between equally frequent classes is broken by).
    """
    agg = class_column(bq, graph)
    if agg is None:
        return None
    fact = graph[agg.column.table]
    fk = graph.links_between(fact.name, bq.entity_table)[0].column
    p = Params()
    comp, parents = Compiler(bq, graph, p), dict[str, str]()
    where = [f"f.{q(agg.column.column)} IS NOT NULL"]
    if agg.filter is not None:
        where.append(comp.expr(agg.filter, f"fact:{fact.name}", parents))
    joins = comp.parent_joins(fact.name, parents, "f", visible_at_anchor=True, anchor="x")
    window = Window.of(agg)
    time = f"f.{q(fact.time_column or '')}"
    counts = ", ".join(
        f"count(*) FILTER (WHERE {time} > x.{ANCHOR} - {interval(p, window.end * m, window.unit)}) AS n{m}"
        if m else "count(*) AS n0" for m in spans) + f", epoch_us(CAST(max({time}) AS TIMESTAMP)) AS latest"
    with Scratch(graph.con) as s:
        base = prepare_rows(s, rows, None)
        table = s.arrow(
            f"SELECT x.__row AS r, CAST(f.{q(agg.column.column)} AS VARCHAR) AS v, {counts} FROM "
            f"(SELECT __row, key AS {ENTITY}, anchor AS {ANCHOR} FROM {q(base)}) x "
            f"JOIN {q(fact.name)} f ON f.{q(fk)} = x.{ENTITY} AND {time} <= x.{ANCHOR}{joins} "
            f"WHERE {' AND '.join(where)} GROUP BY 1, 2", p.values)
    index = {str(c): i for i, c in enumerate(classes)}
    r = np.asarray(table.column("r").to_numpy(zero_copy_only=False), dtype=np.int64)
    c = np.fromiter((index.get(v, -1) for v in table.column("v").to_pylist()), dtype=np.int64, count=len(r))
    out = {}
    known = c >= 0
    for m in spans:
        n = np.asarray(table.column(f"n{m}").to_numpy(zero_copy_only=False), dtype=np.float64)
        total = np.bincount(r, weights=n, minlength=rows.num_rows)
        shares = np.zeros((rows.num_rows, len(classes)))
        np.add.at(shares, (r[known], c[known]), n[known])
        out[m] = shares / np.maximum(total, 1.0)[:, None]
    out[RECENCY] = _recency_order(r[known], c[known], table.column("latest").filter(pa.array(known)),
                                  (rows.num_rows, len(classes)))
    return out


def _recency_order(r: np.ndarray, c: np.ndarray, latest: pa.Array | pa.ChunkedArray,
                   shape: tuple[int, int]) -> np.ndarray:
    """``1 / (1 + dense rank)`` of each (row, class)'s latest time within its row, most recent
    rank 0; 0 where the row has no rows of the class."""
    out = np.zeros(shape)
    if not len(r):
        return out
    t = np.asarray(latest.to_numpy(zero_copy_only=False), np.int64)
    order = np.lexsort((-t, r))  # by row, latest first
    r, c, t = r[order], c[order], t[order]
    new_row = np.r_[True, r[1:] != r[:-1]]
    new_time = new_row | np.r_[True, t[1:] != t[:-1]]
    rank = np.cumsum(new_time) - 1
    rank -= np.maximum.accumulate(np.where(new_row, rank, 0))
    out[r, c] = 1.0 / (1.0 + rank)
    return out


def recent_items(bq: BoundQuery, graph: Graph, rows: pa.Table, n: int = 10) -> pa.Table:
    """``ENTITY, ANCHOR_TIMESTAMP, ITEMS``: the entity's last ``n`` distinct items by ``t``.

    Items come from the fact rows the ranking target aggregates (its row filter applied), most
    recent first (ties by item); only rows with time <= the row's anchor time count.
    """
    ident = rows.select([c for c in (ENTITY, ANCHOR) if c in rows.column_names])
    with Scratch(graph.con) as s:
        base = prepare_rows(s, rows, None)
        p = Params()
        it = item_rows(bq, graph, p)
        hits = (f"SELECT x.{ENTITY}, x.{ANCHOR}, {it.item} AS item, max({it.time}) AS ts "
                f"FROM (SELECT DISTINCT key AS {ENTITY}, anchor AS {ANCHOR} FROM {q(base)}) x "
                f"JOIN {it.fact} f ON {it.fk} = x.{ENTITY} AND {it.time} <= x.{ANCHOR}"
                f"{it.parent_joins} WHERE {it.where} GROUP BY 1, 2, 3")
        top = (f"SELECT {ENTITY}, {ANCHOR}, list(item ORDER BY ts DESC, item) AS items FROM ("
               f"SELECT *, row_number() OVER (PARTITION BY {ENTITY}, {ANCHOR} ORDER BY ts DESC, "
               f"item) AS r FROM ({hits})) WHERE r <= {p.add(n)} GROUP BY 1, 2")
        table = s.arrow(f"SELECT t.items FROM {q(base)} b LEFT JOIN ({top}) t ON "
                        f"t.{ENTITY} = b.key AND t.{ANCHOR} = b.anchor ORDER BY b.__row",
                        p.values)
    items = table.column("items").combine_chunks()
    empty = pa.array([[]] * len(items), items.type)
    return ident.append_column("ITEMS", pc.if_else(pc.is_null(items), empty, items))


def popular_items(bq: BoundQuery, graph: Graph, anchor: datetime | None = None,
                  window: timedelta | None = None, n: int = 100) -> pa.Table:
    """``ITEM, COUNT``: the ``n`` most frequent items of the ranked fact rows in
    ``(anchor - window, anchor]`` (all history when ``window`` is None), most frequent first.

    ``anchor`` defaults to the query's default anchor time (the latest fact time).
    """
    anchor = anchor or default_anchor_time(bq, graph)
    p = Params()
    it = item_rows(bq, graph, p)
    cond = f"{it.time} <= x.{ANCHOR}"
    if window is not None:
        micros = round(window.total_seconds() * 1_000_000)
        cond += f" AND {it.time} > x.{ANCHOR} - to_microseconds(CAST({p.add(micros)} AS BIGINT))"
    sql = (f"SELECT {it.item} AS ITEM, COUNT(*) AS COUNT FROM (SELECT CAST({p.add(anchor)} AS "
           f"TIMESTAMP) AS {ANCHOR}) x JOIN {it.fact} f ON {cond}{it.parent_joins} "
           f"WHERE {it.where} GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT {p.add(n)}")
    return graph.con.sql(sql, params=p.values).to_arrow_table()


__all__ = ["RECENCY", "class_column", "recent_class_shares", "fit_target_classes", "has_history", "anchor_levels", "history_windows", "population_level", "past_levels", "LEVEL_SPANS", "history_and_past", "popular_items",
           "recent_items", "target_history"]
