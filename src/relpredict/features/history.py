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

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import pyarrow as pa
import pyarrow.compute as pc

from relpredict.errors import ConfigError
from relpredict.graph.graph import Graph
from relpredict.labels.labels import default_anchor_time, training_table
from relpredict.labels.sql import ANCHOR, ENTITY, TARGET, Params, _Compiler
from relpredict.query.ast import Aggregation, aggregations
from relpredict.query.bound import BoundQuery, TaskType, Window
from relpredict.sql import quote_ident as q

from .aggregates import Scratch, interval, prepare_rows

PREFIX = "history."
Expr = Callable[[Params], str]  # SQL text; values it needs are added to the Params
CLASSES = 10  # multiclass / multilabel: history shares of the most frequent classes


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
    ident = rows.select([c for c in (ENTITY, ANCHOR) if c in rows.column_names])
    if not has_history(bq) or k < 1:
        return ident
    with Scratch(graph.con) as s:
        base = prepare_rows(s, rows, None)
        past = _past_anchors(s, bq, base, k)
        anchors = [r[0] for r in graph.con.execute(
            f"SELECT DISTINCT past FROM {q(past)} WHERE ok ORDER BY 1").fetchall()]
        keys = pc.unique(rows.column(ENTITY).drop_null()).to_pylist()
        labels = s.register(_labels(bq, graph, anchors, rows.schema.field(ENTITY).type, keys), "labels")
        exprs = _history_exprs(bq, k, classes or [])
        hist = _aggregate_past(s, past, labels, exprs)
        names = ", ".join(f"h.{q(n)}" for n in exprs)
        table = s.arrow(f"SELECT {names} FROM {q(base)} b LEFT JOIN {q(hist)} h "
                        f"ON h.key = b.key AND h.anchor = b.anchor ORDER BY b.__row")
    return _with_trend(ident, table, k)


def _aggregate_past(s: Scratch, past: str, labels: str, exprs: dict[str, Expr]) -> str:
    """Per (key, anchor): the history features over its k past labels ``v`` (``i`` = how far back).

    A past label whose windows would end after the anchor (``ok`` false) counts as missing.
    """
    p = Params()
    cols = ", ".join(f"CAST({sql(p)} AS DOUBLE) AS {q(name)}" for name, sql in exprs.items())
    return s.create("history", (
        f"SELECT x.key, x.anchor, {cols} FROM (SELECT p.key, p.anchor, p.i, "
        f"CASE WHEN p.ok THEN l.{TARGET} END AS v FROM {q(past)} p LEFT JOIN {q(labels)} l "
        f"ON l.{ENTITY} = p.key AND l.{ANCHOR} = p.past) x GROUP BY x.key, x.anchor"), p.values)


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
            keys: list) -> pa.Table:
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
            out[f"{PREFIX}mean_{n}"] = lambda p, n=n: f"avg({v}) FILTER (WHERE i <= {int(n)})"
    out[PREFIX + "count"] = lambda p: "count(v)"
    out[PREFIX + "anchors_since_last"] = lambda p: "min(i) FILTER (WHERE v IS NOT NULL)"
    if kind == "boolean":
        out[PREFIX + "true_rate"] = lambda p: f"count(*) FILTER (WHERE v) / {int(k)}"
        out[PREFIX + "anchors_since_true"] = lambda p: "min(i) FILTER (WHERE v)"
    for c in classes if kind in ("category", "list") else []:
        hit = (lambda p, c=c: f"list_contains(CAST(v AS VARCHAR[]), {p.add(c)})") if kind == "list" \
            else (lambda p, c=c: f"CAST(v AS VARCHAR) = {p.add(c)}")
        out[f"{PREFIX}class={c}.share"] = \
            lambda p, hit=hit: f"avg(CAST({hit(p)} AS DOUBLE)) FILTER (WHERE v IS NOT NULL)"
    return out


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


# ---------------------------------------------------------------------------- ranking
def _ranked(bq: BoundQuery) -> Aggregation:
    if bq.task_type is not TaskType.link_prediction:
        raise ConfigError("recent_items and popular_items need a ranking query "
                          "(LIST_DISTINCT(...) RANK TOP k).")
    return next(a for a in aggregations(bq.target) if a.func == "LIST_DISTINCT")


@dataclass(frozen=True)
class _Items:
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


def _items(bq: BoundQuery, graph: Graph, p: Params) -> _Items:
    agg = _ranked(bq)
    fact = graph[agg.column.table]
    fk = graph.links_between(fact.name, bq.entity_table)[0].column
    where = [f"f.{q(agg.column.column)} IS NOT NULL"]
    comp, parents = _Compiler(bq, graph, p), {}
    if agg.filter is not None:
        where.append(comp.expr(agg.filter, f"fact:{fact.name}", parents))
    joins = comp.parent_joins(fact.name, parents, "f", visible_at_anchor=True, anchor="x")
    return _Items(q(fact.name), f"f.{q(fk)}", f"f.{q(fact.time_column or '')}",
                  f"f.{q(agg.column.column)}", joins, " AND ".join(where))


def recent_items(bq: BoundQuery, graph: Graph, rows: pa.Table, n: int = 10) -> pa.Table:
    """``ENTITY, ANCHOR_TIMESTAMP, ITEMS``: the entity's last ``n`` distinct items by ``t``.

    Items come from the fact rows the ranking target aggregates (its row filter applied), most
    recent first (ties by item); only rows with time <= the row's anchor time count.
    """
    ident = rows.select([c for c in (ENTITY, ANCHOR) if c in rows.column_names])
    with Scratch(graph.con) as s:
        base = prepare_rows(s, rows, None)
        p = Params()
        it = _items(bq, graph, p)
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
    it = _items(bq, graph, p)
    cond = f"{it.time} <= x.{ANCHOR}"
    if window is not None:
        micros = round(window.total_seconds() * 1_000_000)
        cond += f" AND {it.time} > x.{ANCHOR} - to_microseconds(CAST({p.add(micros)} AS BIGINT))"
    sql = (f"SELECT {it.item} AS ITEM, COUNT(*) AS COUNT FROM (SELECT CAST({p.add(anchor)} AS "
           f"TIMESTAMP) AS {ANCHOR}) x JOIN {it.fact} f ON {cond}{it.parent_joins} "
           f"WHERE {it.where} GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT {p.add(n)}")
    return graph.con.sql(sql, params=p.values).to_arrow_table()


__all__ = ["fit_target_classes", "has_history", "history_windows", "popular_items",
           "recent_items", "target_history"]
