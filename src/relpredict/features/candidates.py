"""Item candidates and pair features for ranking targets (``LIST_DISTINCT(t.fk, ...) RANK TOP k``).

For each row ``(entity, t)`` the candidates are the items that three sources propose, each
reading only fact rows with time <= ``t`` (the ranked rows, with the target's own row filter,
exactly as :func:`relpredict.features.history.recent_items` reads them):

- **own**: the entity's last :data:`OWN` distinct items, with how often and how recently it had
  each one (over 1, 4 and 12 target windows and all time);
- **popular**: the :data:`POPULAR` items most entities had in the last window and in the last 4
  windows, with their share of the active entities over 1, 4 and 12 windows and their trend;
- **co-occurring**: items that other entities had together with the entity's recent items
  (over the last 12 windows, cosine-normalised counts), the :data:`COOC` best per row.

Besides, each pair gets the entity's share of its rows that were this item, time-decayed
counts (half-lives of 1 and 4 windows, roughly), the item's repeat rate (the share of its
recent entities that had it more than once), the item-column features of :class:`ItemColumns`
and the item's popularity among the entities that share the entity's value of a categorical
entity column (its segment, its country), over the last 4 windows, and its lift over the item's
popularity among all entities.

Sums of floats are rounded to 9 decimals: DuckDB adds in parallel, in no fixed order, and the
same rows must give the same features in every run and every shard. Every candidate gets every feature (own, popularity, co-occurrence, entity activity), so a
ranker learns from the data whether entities keep their items (a team's drivers) or never take
the same one twice (a rating). Popularity and co-occurrence are properties of the anchor
alone: they are computed over all entities (co-occurrence over a fixed hash-sample of them,
``sample`` per mille, chosen when the model is trained), never over the rows of one batch, so
a job's output does not depend on how it is sharded.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Any

import duckdb
import pyarrow as pa

from relpredict.errors import ConfigError
from relpredict.graph.graph import Graph
from relpredict.labels.sql import ANCHOR, ENTITY, Params
from relpredict.query.bound import BoundQuery, Window
from relpredict.sql import quote_ident as q
from relpredict.tables.stypes import SType

from .fit import feature_columns
from .history import item_rows, ranked_aggregation
from .scratch import Scratch, interval, prepare_rows

OWN, POPULAR, COOC, BASKET, SEEDS = 50, 50, 50, 20, 10
CACHE_ANCHORS, CACHE_ENTRIES = 4, 16
ANCHOR_TABLES = ("pop", "repeat", "cooc", "counts", "any_pop")
_ANCHOR_CACHE: dict[tuple[Any, ...], tuple[weakref.ref[duckdb.DuckDBPyConnection], dict[str, pa.Table]]] = {}
MULTIPLES = (1, 4, 12)
FEATURES = [
    "own.count_1", "own.count_4", "own.count_12", "own.count_all", "own.days_since", "own.rank",
    "pop.share_1", "pop.share_4", "pop.share_12", "pop.rank_1", "pop.rank_4", "pop.trend",
    "cooc.score", "cooc.rank", "entity.items", "entity.rows_1", "entity.rows_12", "entity.rows_all",
    "entity.repeat", "own.share_all", "own.share_12", "own.decay_1", "own.decay_4", "item.repeat",
    "any.count_all", "any.days_since", "any.share_1", "any.share_4",
]
"""``any.*``: the same as ``own.count_all``, ``own.days_since``, ``pop.share_1`` and
``pop.share_4`` over every fact row with an item, the target's row filter ignored (for
``LIST_DISTINCT(ratings.item_id WHERE ratings.rating >= 4, ...)``: the items the entity rated at
all, and how many entities rated the item), so a ranker can tell "had it, but not as the target
counts" from "never had it". Without a row filter they equal their filtered twins."""


@dataclass(frozen=True)
class Sample:
    """Which entities co-occurrence counts read: those with ``hash(key) % 1000 < per_mille``."""

    per_mille: int = 1000


@dataclass(frozen=True)
class ItemColumns:
    """Columns that pair features read (chosen when the model is trained). Of the item table:
    for a numeric column ``c`` the item's value ``item.c``, the mean over the entity's own past
    items ``own.mean.c`` and their distance ``pair.diff.c``; for a categorical column the share
    of the entity's past rows whose item had the candidate's value, ``own.share.c``. Of the
    entity table (``context``), for a categorical column ``c``: the share of the recent entities
    with the entity's value of ``c`` that had the item, ``ctx.share.c``, and its ratio to the
    item's share among all recent entities, ``ctx.lift.c``."""

    numeric: tuple[str, ...] = ()
    categorical: tuple[str, ...] = ()
    context: tuple[str, ...] = ()

    def features(self) -> list[str]:
        return ([f for c in self.numeric for f in (f"item.{c}", f"own.mean.{c}", f"pair.diff.{c}")]
                + [f"own.share.{c}" for c in self.categorical]
                + [f for c in self.context for f in (f"ctx.share.{c}", f"ctx.lift.{c}")])


MAX_NUMERIC, MAX_CATEGORICAL, MAX_CONTEXT, MAX_VALUES = 4, 3, 3, 200


def item_columns(bq: BoundQuery, graph: Graph) -> ItemColumns:
    """The item table's numeric columns, and the categorical columns of the item and of the
    entity table with at most :data:`MAX_VALUES` values (a near-unique name says nothing an ID
    does not)."""
    table = bq.item_table or ""
    numeric = tuple(feature_columns(graph, table, SType.numerical)[:MAX_NUMERIC])
    return ItemColumns(numeric, _groupings(graph, table)[:MAX_CATEGORICAL],
                       _groupings(graph, bq.entity_table)[:MAX_CONTEXT])


def _groupings(graph: Graph, table: str) -> tuple[str, ...]:
    """The categorical feature columns of ``table`` with 2 to :data:`MAX_VALUES` values, fewer
    than half as many as rows."""
    out = []
    for col in feature_columns(graph, table, SType.categorical):
        distinct, total = graph.con.execute(
            f"SELECT count(DISTINCT {q(col)}), count(*) FROM {q(table)}").fetchall()[0]
        if 1 < distinct <= MAX_VALUES and distinct < 0.5 * max(total, 1):
            out.append(col)
    return tuple(out)


class _Query:
    """One statement's parameters: the ranked rows' SQL pieces and window lengths, bound once
    each (DuckDB wants exactly the parameters a statement uses)."""

    def __init__(self, bq: BoundQuery, graph: Graph, filtered: bool = True) -> None:
        self.p = Params()
        self.it = item_rows(bq, graph, self.p, filtered)
        self.bq = bq
        self._win: dict[int, str] = {}

    def win(self, multiple: int) -> str:
        if multiple not in self._win:
            w = _horizon(self.bq)
            self._win[multiple] = interval(self.p, w.end * multiple, w.unit)
        return self._win[multiple]

    def facts(self, cond: str, join: str = "") -> str:
        """``JOIN`` the ranked fact rows (alias ``f``) to ``x`` on ``cond``, with the target's
        filter (and ``join``, more joins before it)."""
        it = self.it
        return f"JOIN {it.fact} f ON {cond}{it.parent_joins}{join} WHERE {it.where}"


def _horizon(bq: BoundQuery) -> Window:
    """The target window of a RANK TOP k query (every such query has one)."""
    if bq.horizon is None:
        raise ConfigError(f"{bq.text!r} has no target window: candidates need one.")
    return bq.horizon


def candidate_pairs(bq: BoundQuery, graph: Graph, rows: pa.Table, sample: Sample = Sample(),
                    columns: ItemColumns = ItemColumns()) -> pa.Table:
    """``__row`` (position in ``rows``), ``ITEM``, the :data:`FEATURES` and the item-column
    features (``columns.features()``) of every candidate, ordered by row then item."""
    with Scratch(graph.con) as s:
        base = prepare_rows(s, rows, None)
        # the entity's own items, by row
        w_us = float(_horizon(bq).length().total_seconds() * 1_000_000)
        a = _Query(bq, graph)
        it = a.it
        own = s.create("own", (
            f"SELECT x.__row, {it.item} AS item, count(*) AS c_all, "
            + ", ".join(f"count(*) FILTER (WHERE {it.time} > x.{ANCHOR} - {a.win(m)}) AS c{m}" for m in MULTIPLES)
            + "".join(f", round(sum(exp(-(epoch_us(x.{ANCHOR}) - epoch_us({it.time})) / {w_us * m})), 9) AS d{m}"
                      for m in (1, 4))
            + f", max({it.time}) AS last_ts, any_value(x.{ANCHOR}) AS anchor FROM "
            f"(SELECT __row, key AS {ENTITY}, anchor AS {ANCHOR} FROM {q(base)}) x "
            + a.facts(f"{it.fk} = x.{ENTITY} AND {it.time} <= x.{ANCHOR}") + " GROUP BY 1, 2"), a.p.values)
        filtered = ranked_aggregation(bq).filter is not None
        if filtered:
            u = _Query(bq, graph, filtered=False)
            any_own = s.create("any_own", (
                f"SELECT x.__row, {u.it.item} AS item, count(*) AS c_all, max({u.it.time}) AS last_ts FROM "
                f"(SELECT __row, key AS {ENTITY}, anchor AS {ANCHOR} FROM {q(base)}) x "
                + u.facts(f"{u.it.fk} = x.{ENTITY} AND {u.it.time} <= x.{ANCHOR}") + " GROUP BY 1, 2"), u.p.values)
        own_ranked = s.create("own_ranked", (
            f"SELECT * FROM (SELECT *, row_number() OVER (PARTITION BY __row ORDER BY last_ts DESC, item) "
            f"AS rnk FROM {q(own)}) WHERE rnk <= {OWN}"))
        entity = s.create("entity", (
            f"SELECT __row, count(*) AS items, sum(c1) AS rows_1, sum(c12) AS rows_12, sum(c_all) AS rows_all, "
            f"avg(CASE WHEN c_all > 1 THEN 1.0 ELSE 0.0 END) AS rep FROM {q(own)} GROUP BY 1"))
        at = _anchor_tables(s, bq, graph, base, sample, columns.context)
        pop, repeat, cooc, counts, any_pop = (at[n] for n in ANCHOR_TABLES)
        scored = s.create("cooc_rows", (
            f"SELECT * FROM (SELECT *, row_number() OVER (PARTITION BY __row ORDER BY score DESC, item) AS rnk "
            f"FROM (SELECT o.__row, c.j AS item, round(sum(c.n / sqrt(ci.n * cj.n)), 9) AS score FROM {q(own_ranked)} o "
            f"JOIN {q(cooc)} c ON c.anchor = o.anchor AND c.i = o.item "
            f"JOIN {q(counts)} ci ON ci.anchor = c.anchor AND ci.item = c.i "
            f"JOIN {q(counts)} cj ON cj.anchor = c.anchor AND cj.item = c.j "
            f"WHERE o.rnk <= {SEEDS} GROUP BY 1, 2)) WHERE rnk <= {COOC}"))
        # candidates and their features
        cands = s.create("cands", (
            f"SELECT DISTINCT __row, item FROM (SELECT __row, item FROM {q(own_ranked)} UNION ALL "
            f"SELECT b.__row, pr.item FROM {q(base)} b JOIN {q(pop)} pr ON pr.anchor = b.anchor "
            f"WHERE pr.r1 <= {POPULAR} OR pr.r4 <= {POPULAR} UNION ALL "
            f"SELECT __row, item FROM {q(scored)})"))
        extra_cols, extra_joins = _item_features(s, bq, graph, base, columns)
        context_cols, context_joins = _context_features(bq, graph, columns, at)
        days = "(epoch_us(b.anchor) - epoch_us(o.last_ts)) / 86400000000.0"
        ao = "ao" if filtered else "o"
        any_cols = (f"coalesce({ao}.c_all, 0) AS \"any.count_all\", "
                    f"(epoch_us(b.anchor) - epoch_us({ao}.last_ts)) / 86400000000.0 AS \"any.days_since\", "
                    f"coalesce(ap.s1, 0) AS \"any.share_1\", coalesce(ap.s4, 0) AS \"any.share_4\"")
        any_joins = (f"LEFT JOIN {q(any_own)} ao ON ao.__row = c.__row AND ao.item = c.item " if filtered else "")
        return s.arrow(
            f"SELECT c.__row, c.item AS ITEM, "
            f"coalesce(o.c1, 0) AS \"own.count_1\", coalesce(o.c4, 0) AS \"own.count_4\", "
            f"coalesce(o.c12, 0) AS \"own.count_12\", coalesce(o.c_all, 0) AS \"own.count_all\", "
            f"{days} AS \"own.days_since\", r.rnk AS \"own.rank\", "
            f"coalesce(pr.s1, 0) AS \"pop.share_1\", coalesce(pr.s4, 0) AS \"pop.share_4\", "
            f"coalesce(pr.s12, 0) AS \"pop.share_12\", pr.r1 AS \"pop.rank_1\", pr.r4 AS \"pop.rank_4\", "
            f"pr.s1 / nullif(pr.s4, 0) AS \"pop.trend\", coalesce(cs.score, 0) AS \"cooc.score\", "
            f"cs.rnk AS \"cooc.rank\", coalesce(e.items, 0) AS \"entity.items\", "
            f"coalesce(e.rows_1, 0) AS \"entity.rows_1\", coalesce(e.rows_12, 0) AS \"entity.rows_12\", "
            f"coalesce(e.rows_all, 0) AS \"entity.rows_all\", e.rep AS \"entity.repeat\", "
            f"coalesce(o.c_all, 0) / greatest(e.rows_all, 1) AS \"own.share_all\", "
            f"coalesce(o.c12, 0) / greatest(e.rows_12, 1) AS \"own.share_12\", "
            f"coalesce(o.d1, 0) AS \"own.decay_1\", coalesce(o.d4, 0) AS \"own.decay_4\", "
            f"ir.rep AS \"item.repeat\", {any_cols}{extra_cols}{context_cols} "
            f"FROM {q(cands)} c JOIN {q(base)} b ON b.__row = c.__row{extra_joins}{context_joins} "
            f"LEFT JOIN {q(own)} o ON o.__row = c.__row AND o.item = c.item "
            f"LEFT JOIN {q(own_ranked)} r ON r.__row = c.__row AND r.item = c.item "
            f"LEFT JOIN {q(pop)} pr ON pr.anchor = b.anchor AND pr.item = c.item "
            f"LEFT JOIN {q(scored)} cs ON cs.__row = c.__row AND cs.item = c.item "
            f"LEFT JOIN {q(entity)} e ON e.__row = c.__row "
            f"LEFT JOIN {q(repeat)} ir ON ir.anchor = b.anchor AND ir.item = c.item {any_joins}"
            f"LEFT JOIN {q(any_pop)} ap ON ap.anchor = b.anchor AND ap.item = c.item ORDER BY c.__row, c.item")


def _anchor_tables(s: Scratch, bq: BoundQuery, graph: Graph, base: str, sample: Sample,
                   context: tuple[str, ...]) -> dict[str, str]:
    """Popularity, item repeat rates, co-occurrence, basket counts and the popularity within
    each ``context`` column's groups at the anchors of ``base``: :data:`ANCHOR_TABLES`, then
    ``ctx0``, ``ctx1``, ...

    They depend on the anchor alone, so with few anchors (a batch job has one) each anchor's
    tables are computed once per graph connection and reused by every later batch.
    """
    found = [r[0] for r in s.con.execute(f"SELECT DISTINCT anchor FROM {q(base)} ORDER BY 1").fetchall()]
    if not found or len(found) > CACHE_ANCHORS:
        return _compute_anchor_tables(s, bq, graph, f"(SELECT DISTINCT anchor AS {ANCHOR} FROM {q(base)})",
                                      sample, context)
    parts: list[dict[str, pa.Table]] = []
    for anchor in found:
        key = (id(s.con), bq.text, sample.per_mille, context, anchor)
        hit = _ANCHOR_CACHE.get(key)
        if hit is None or hit[0]() is not s.con:
            with Scratch(s.con) as inner:
                view = inner.register(pa.table({ANCHOR: pa.array([anchor], pa.timestamp("us"))}), "anchor")
                names = _compute_anchor_tables(inner, bq, graph, f"(SELECT CAST({ANCHOR} AS TIMESTAMP) AS "
                                                                 f"{ANCHOR} FROM {q(view)})", sample, context)
                tables = {n: inner.arrow(f"SELECT * FROM {q(t)}") for n, t in names.items()}
            if len(_ANCHOR_CACHE) >= CACHE_ENTRIES:
                _ANCHOR_CACHE.pop(next(iter(_ANCHOR_CACHE)))
            hit = _ANCHOR_CACHE[key] = (weakref.ref(s.con), tables)
        parts.append(hit[1])
    out = {}
    for name in parts[0]:
        view = s.register(pa.concat_tables([p[name] for p in parts]), f"a_{name}")
        out[name] = s.create(name, f"SELECT * FROM {q(view)}")
    return out


def _compute_anchor_tables(s: Scratch, bq: BoundQuery, graph: Graph, anchors: str, sample: Sample,
                           context: tuple[str, ...]) -> dict[str, str]:
    """:func:`_anchor_tables` computed for the anchors of the SQL relation ``anchors``."""
    # popularity, by anchor: distinct entities per item, and active entities, per window
    b = _Query(bq, graph)
    it = b.it
    pop_counts = s.create("pop", (
        f"SELECT x.{ANCHOR} AS anchor, {it.item} AS item, "
        + ", ".join(f"count(DISTINCT {it.fk}) FILTER (WHERE {it.time} > x.{ANCHOR} - {b.win(m)}) AS p{m}"
                    for m in MULTIPLES)
        + f" FROM {anchors} x " + b.facts(f"{it.time} <= x.{ANCHOR} AND {it.time} > x.{ANCHOR} - {b.win(12)}")
        + " GROUP BY 1, 2"), b.p.values)
    c = _Query(bq, graph)
    it = c.it
    active = s.create("active", (
        f"SELECT x.{ANCHOR} AS anchor, "
        + ", ".join(f"count(DISTINCT {it.fk}) FILTER (WHERE {it.time} > x.{ANCHOR} - {c.win(m)}) AS n{m}"
                    for m in MULTIPLES)
        + f" FROM {anchors} x " + c.facts(f"{it.time} <= x.{ANCHOR} AND {it.time} > x.{ANCHOR} - {c.win(12)}")
        + " GROUP BY 1"), c.p.values)
    pop = s.create("pop_ranked", (
        "SELECT c.anchor, c.item, " + ", ".join(f"c.p{m} / greatest(a.n{m}, 1) AS s{m}" for m in MULTIPLES)
        + ", row_number() OVER (PARTITION BY c.anchor ORDER BY c.p1 DESC, c.p4 DESC, c.item) AS r1, "
        "row_number() OVER (PARTITION BY c.anchor ORDER BY c.p4 DESC, c.p12 DESC, c.item) AS r4 "
        f"FROM {q(pop_counts)} c JOIN {q(active)} a USING (anchor)"))
    r = _Query(bq, graph)
    it = r.it
    repeat = s.create("item_repeat", (
        f"SELECT anchor, item, avg(CASE WHEN n >= 2 THEN 1.0 ELSE 0.0 END) AS rep FROM (SELECT "
        f"x.{ANCHOR} AS anchor, {it.fk} AS e, {it.item} AS item, count(*) AS n FROM {anchors} x "
        + r.facts(f"{it.time} <= x.{ANCHOR} AND {it.time} > x.{ANCHOR} - {r.win(12)}")
        + " GROUP BY 1, 2, 3) GROUP BY 1, 2"), r.p.values)
    # co-occurrence, by anchor, over the sampled entities' recent baskets
    d = _Query(bq, graph)
    it = d.it
    basket = s.create("basket", (
        f"SELECT * FROM (SELECT anchor, e, item, row_number() OVER (PARTITION BY anchor, e ORDER BY ts DESC, "
        f"item) AS rnk FROM (SELECT x.{ANCHOR} AS anchor, {it.fk} AS e, {it.item} AS item, "
        f"max({it.time}) AS ts FROM {anchors} x "
        + d.facts(f"{it.time} <= x.{ANCHOR} AND {it.time} > x.{ANCHOR} - {d.win(12)}")
        + f" AND hash({it.fk}) % 1000 < {int(sample.per_mille)} GROUP BY 1, 2, 3)) "
        f"WHERE rnk <= {BASKET}"), d.p.values)
    counts = s.create("basket_counts", f"SELECT anchor, item, count(*) AS n FROM {q(basket)} GROUP BY 1, 2")
    cooc = s.create("cooc", (
        f"SELECT a.anchor, a.item AS i, b.item AS j, count(*) AS n FROM {q(basket)} a JOIN {q(basket)} b "
        "ON a.anchor = b.anchor AND a.e = b.e AND a.item != b.item GROUP BY 1, 2, 3"))
    any_pop = _shares(s, bq, graph, anchors) if ranked_aggregation(bq).filter is not None else pop
    out = dict(zip(ANCHOR_TABLES, (pop, repeat, cooc, counts, any_pop), strict=True))
    for n, col in enumerate(context):
        out[f"ctx{n}"] = _context_shares(s, bq, graph, anchors, col, n)
    return out


def _context_shares(s: Scratch, bq: BoundQuery, graph: Graph, anchors: str, col: str, n: int) -> str:
    """``anchor, v, item, share``: among the entities with value ``v`` of the entity column
    ``col`` that had a ranked row in the last 4 windows, the share that had ``item`` (entities
    visible at the anchor only; a missing value is a group of its own)."""
    table = graph[bq.entity_table]
    join = f" JOIN {q(table.name)} e ON e.{q(table.primary_key or '')} = "
    seen = f" AND e.{q(table.time_column)} <= x.{ANCHOR}" if table.time_column else ""

    def entities(name: str, item: bool) -> str:  # distinct entities per anchor, value (and item)
        a = _Query(bq, graph)
        it = a.it
        inside = f"{it.time} <= x.{ANCHOR} AND {it.time} > x.{ANCHOR} - {a.win(4)}"
        return s.create(name, (
            f"SELECT x.{ANCHOR} AS anchor, e.{q(col)} AS v{f', {it.item} AS item' if item else ''}, "
            f"count(DISTINCT {it.fk}) AS n FROM {anchors} x " + a.facts(inside, join + it.fk) + seen
            + f" GROUP BY {'1, 2, 3' if item else '1, 2'}"), a.p.values)

    counts, active = entities(f"ctx_counts{n}", True), entities(f"ctx_active{n}", False)
    return s.create(f"ctx{n}", (
        f"SELECT c.anchor, c.v, c.item, c.n / greatest(a.n, 1) AS share FROM {q(counts)} c "
        f"JOIN {q(active)} a ON a.anchor = c.anchor AND a.v IS NOT DISTINCT FROM c.v"))


def _context_features(bq: BoundQuery, graph: Graph, columns: ItemColumns, at: dict[str, str]) -> tuple[str, str]:
    """SELECT columns and joins (over candidates ``c``, rows ``b``, popularity ``pr``) of the
    entity-column context features."""
    if not columns.context:
        return "", ""
    table = graph[bq.entity_table]
    joins = f" LEFT JOIN {q(table.name)} ent ON ent.{q(table.primary_key or '')} = b.key"
    cols = []
    for n, col in enumerate(columns.context):
        joins += (f" LEFT JOIN {q(at[f'ctx{n}'])} cx{n} ON cx{n}.anchor = b.anchor AND cx{n}.item = c.item "
                  f"AND cx{n}.v IS NOT DISTINCT FROM ent.{q(col)}")
        cols += [f"coalesce(cx{n}.share, 0) AS {q('ctx.share.' + col)}",
                 f"coalesce(cx{n}.share, 0) / nullif(pr.s4, 0) AS {q('ctx.lift.' + col)}"]
    return ", " + ", ".join(cols), joins


def _shares(s: Scratch, bq: BoundQuery, graph: Graph, anchors: str) -> str:
    """``anchor, item, s1, s4``: the share of the entities with any fact row of the item (the
    target's row filter ignored) among those with any, over the last 1 and 4 windows."""
    u = _Query(bq, graph, filtered=False)
    it = u.it
    inside = f"{it.time} <= x.{ANCHOR} AND {it.time} > x.{ANCHOR} - {u.win(4)}"
    per_window = ", ".join(f"count(DISTINCT {it.fk}) FILTER (WHERE {it.time} > x.{ANCHOR} - {u.win(m)}) AS p{m}"
                           for m in (1, 4))
    counts = s.create("any_pop_counts", (f"SELECT x.{ANCHOR} AS anchor, {it.item} AS item, {per_window} FROM "
                                         f"{anchors} x " + u.facts(inside) + " GROUP BY 1, 2"), u.p.values)
    v = _Query(bq, graph, filtered=False)
    it = v.it
    active = s.create("any_active", (
        f"SELECT x.{ANCHOR} AS anchor, " + ", ".join(
            f"count(DISTINCT {it.fk}) FILTER (WHERE {it.time} > x.{ANCHOR} - {v.win(m)}) AS n{m}" for m in (1, 4))
        + f" FROM {anchors} x " + v.facts(f"{it.time} <= x.{ANCHOR} AND {it.time} > x.{ANCHOR} - {v.win(4)}")
        + " GROUP BY 1"), v.p.values)
    return s.create("any_pop", (
        "SELECT c.anchor, c.item, c.p1 / greatest(a.n1, 1) AS s1, c.p4 / greatest(a.n4, 1) AS s4 "
        f"FROM {q(counts)} c JOIN {q(active)} a USING (anchor)"))


def _item_features(s: Scratch, bq: BoundQuery, graph: Graph, base: str, columns: ItemColumns) -> tuple[str, str]:
    """SELECT columns and joins (over candidates ``c``) of the item-column features."""
    if not columns.numeric and not columns.categorical:
        return "", ""
    table, pk = bq.item_table or "", graph[bq.item_table or ""].primary_key or ""
    a = _Query(bq, graph)
    it = a.it
    item_join = f" LEFT JOIN {q(table)} i ON i.{q(pk)} = {it.item}"
    rows = (f"(SELECT __row, key AS {ENTITY}, anchor AS {ANCHOR} FROM {q(base)}) x "
            + a.facts(f"{it.fk} = x.{ENTITY} AND {it.time} <= x.{ANCHOR}", item_join))
    means = ", ".join(f"avg(i.{q(c)}) AS {q('m_' + c)}" for c in columns.numeric)
    cols, joins = [], f" LEFT JOIN {q(table)} ci ON ci.{q(pk)} = c.item"
    if columns.numeric:
        own = s.create("own_means", (
            f"SELECT x.__row, {means} FROM {rows} GROUP BY 1"), a.p.values)
        joins += f" LEFT JOIN {q(own)} om ON om.__row = c.__row"
        for c in columns.numeric:
            cols += [f"CAST(ci.{q(c)} AS DOUBLE) AS {q('item.' + c)}",
                     f"CAST(om.{q('m_' + c)} AS DOUBLE) AS {q('own.mean.' + c)}",
                     f"abs(CAST(ci.{q(c)} AS DOUBLE) - om.{q('m_' + c)}) AS {q('pair.diff.' + c)}"]
    for n, c in enumerate(columns.categorical):
        b = _Query(bq, graph)
        it = b.it
        rows_b = (f"(SELECT __row, key AS {ENTITY}, anchor AS {ANCHOR} FROM {q(base)}) x "
                  + b.facts(f"{it.fk} = x.{ENTITY} AND {it.time} <= x.{ANCHOR}", item_join))
        share = s.create(f"own_share{n}", (
            f"SELECT __row, v, n / sum(n) OVER (PARTITION BY __row) AS share FROM (SELECT x.__row, "
            f"i.{q(c)} AS v, count(*) AS n FROM "
            f"{rows_b} GROUP BY 1, 2)"), b.p.values)
        joins += f" LEFT JOIN {q(share)} os{n} ON os{n}.__row = c.__row AND os{n}.v = ci.{q(c)}"
        cols.append(f"coalesce(os{n}.share, 0) AS {q('own.share.' + c)}")
    return ", " + ", ".join(cols), joins


__all__ = ["FEATURES", "ItemColumns", "Sample", "candidate_pairs", "item_columns"]
