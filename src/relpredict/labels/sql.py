"""Label SQL: a bound query → one DuckDB SELECT with bound parameters.

Pure: builds text and a parameter list; runs nothing. The query's own values (literals, window
sizes, anchor times) are always parameters, never pasted into the text; identifiers are quoted.

Shape of a temporal label query::

    WITH anchors AS (...),                      -- one row per anchor time ($1)
         ents AS (...),                         -- entity × anchor, entity exists at the anchor
         agg0 AS (...), agg1 AS (...)           -- one per aggregation: fact rows in its window
    SELECT ENTITY, ANCHOR_TIMESTAMP, TARGET
    FROM ents JOIN entity row LEFT JOIN parents LEFT JOIN agg0 ...
    WHERE <where> AND <assuming> AND TARGET IS NOT NULL

Window ``(start, end]`` is ``anchor + start < time <= anchor + end``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from relpredict.errors import QueryBindError
from relpredict.graph.graph import Graph
from relpredict.query.ast import (
    Aggregation,
    BoolOp,
    ColumnRef,
    Comparison,
    Expr,
    InList,
    IsNull,
    Literal,
    Not,
    chain,
)
from relpredict.query.bound import UNIT_SECONDS, BoundQuery, TaskType
from relpredict.sql import quote_ident as q

ENTITY, ANCHOR, TARGET = "ENTITY", "ANCHOR_TIMESTAMP", "TARGET"
TIMEFRAME = "TIMEFRAME"  # the timeframe of a FORECAST N TIMEFRAMES example, 1 to N
EMPTY_IS_ZERO = ("COUNT", "COUNT_DISTINCT", "SUM")


@dataclass
class Params:
    """Collects bound values; ``add`` returns the placeholder to put in the text."""

    values: list[Any] = field(default_factory=list)

    def add(self, value: Any) -> str:
        self.values.append(value)
        return f"${len(self.values)}"


@dataclass(frozen=True)
class LabelSQL:
    sql: str
    params: list[Any]


class Compiler:
    """Compiles one bound query; keeps the aggregation CTEs and parent joins it needs."""

    def __init__(self, bq: BoundQuery, graph: Graph, params: Params) -> None:
        self.bq, self.graph, self.p = bq, graph, params
        self.aggs: dict[int, str] = {}  # id(node) → CTE name
        self.ctes: list[str] = []
        self.parents: dict[str, str] = {}  # parent table → alias (entity context)
        self.keys: str | None = None  # SQL of the entity keys to label, when limited

    # ----------------------------------------------------------------- expressions
    def expr(self, node: Expr, ctx: str = "entity", fact_parents: dict[str, str] | None = None) -> str:
        if isinstance(node, Literal):
            return "NULL" if node.value is None else self.p.add(node.value)
        if isinstance(node, ColumnRef):
            return self.column(node, ctx, fact_parents)
        if isinstance(node, Aggregation):
            return self.aggregation_ref(node)
        if isinstance(node, Comparison):
            return self.comparison(node, ctx, fact_parents)
        if isinstance(node, InList):
            values = ", ".join(self.expr(v, ctx, fact_parents) for v in node.values)
            neg = "NOT " if node.negated else ""
            return f"({self.expr(node.expr, ctx, fact_parents)} {neg}IN ({values}))"
        if isinstance(node, IsNull):
            return f"({self.expr(node.expr, ctx, fact_parents)} IS {'NOT ' if node.negated else ''}NULL)"
        if isinstance(node, Not):
            return f"(NOT {self.expr(node.expr, ctx, fact_parents)})"
        if isinstance(node, BoolOp):
            parts = [self.expr(x, ctx, fact_parents) for x in chain(node)]
            return "(" + f" {node.op} ".join(parts) + ")"
        raise TypeError(f"cannot compile {type(node).__name__}")  # pragma: no cover

    def column(self, ref: ColumnRef, ctx: str, fact_parents: dict[str, str] | None) -> str:
        if ctx == "entity":
            if ref.table == self.bq.entity_table:
                return f"e.{q(ref.column)}"
            alias = self.parents.setdefault(ref.table, f"p{len(self.parents)}")
            return f"{alias}.{q(ref.column)}"
        fact = ctx.split(":", 1)[1]
        if ref.table == fact:
            return f"f.{q(ref.column)}"
        assert fact_parents is not None
        alias = fact_parents.setdefault(ref.table, f"fp{len(fact_parents)}")
        return f"{alias}.{q(ref.column)}"

    def comparison(self, node: Comparison, ctx: str, fact_parents: dict[str, str] | None) -> str:
        left, right = self.expr(node.left, ctx, fact_parents), self.expr(node.right, ctx, fact_parents)
        if node.op == "STARTS WITH":
            return f"starts_with(CAST({left} AS VARCHAR), {right})"
        if node.op == "ENDS WITH":
            return f"ends_with(CAST({left} AS VARCHAR), {right})"
        if node.op == "CONTAINS":
            if self._is_list(node.left):
                return f"list_contains({left}, {right})"
            return f"contains(CAST({left} AS VARCHAR), {right})"
        return f"({left} {node.op} {right})"

    def _is_list(self, node: Expr) -> bool:
        if isinstance(node, Aggregation):
            return node.func == "LIST_DISTINCT"
        if isinstance(node, ColumnRef) and not node.is_star:
            return self.graph.columns(node.table).get(node.column, "").endswith("[]")
        return False

    # ----------------------------------------------------------------- aggregations
    def aggregation_ref(self, agg: Aggregation) -> str:
        name = self.aggs.get(id(agg))
        if name is None:
            name = f"agg{len(self.aggs)}"
            self.aggs[id(agg)] = name
            self.ctes.append(f"{name} AS ({self.aggregation_cte(agg)})")
        if agg.func in EMPTY_IS_ZERO:
            return f"COALESCE({name}.v, 0)"
        if agg.func == "LIST_DISTINCT":
            return f"COALESCE({name}.v, [])"
        return f"{name}.v"

    def aggregation_cte(self, agg: Aggregation) -> str:
        """Fact rows in the window of each anchor, grouped by (entity, anchor).

        Anchors are joined to fact rows on the time range first (a range join over few anchors),
        and only then grouped by the foreign key; the outer query keeps the entities that exist.
        """
        fact = self.graph[agg.column.table]
        fk = self.graph.links_between(fact.name, self.bq.entity_table)[0].column
        time = f"f.{q(fact.time_column or '')}"
        fact_parents: dict[str, str] = {}
        conds = [f"{time} <= a.{ANCHOR} + {self.offset(agg.end, agg.unit)}"]
        if agg.start is not None:
            conds.insert(0, f"{time} > a.{ANCHOR} + {self.offset(agg.start, agg.unit)}")
        where = [f"f.{q(fk)} IS NOT NULL" if self.keys is None else f"f.{q(fk)} IN {self.keys}"]
        if agg.filter is not None:
            where.append(self.expr(agg.filter, f"fact:{fact.name}", fact_parents))
        joins = self.parent_joins(fact.name, fact_parents, "f", visible_at_anchor=agg.end <= 0, anchor="a")
        return (f"SELECT f.{q(fk)} AS {ENTITY}, a.{ANCHOR}, {self.aggregate(agg, fact.primary_key, time)} AS v "
                f"FROM anchors a JOIN {q(fact.name)} f ON {' AND '.join(conds)}{joins} "
                f"WHERE {' AND '.join(where)} GROUP BY f.{q(fk)}, a.{ANCHOR}")

    def aggregate(self, agg: Aggregation, pk: str | None, time: str) -> str:
        if agg.column.is_star:
            return "COUNT(*)"
        col = f"f.{q(agg.column.column)}"
        tie, tie_desc = (f", f.{q(pk)}", f", f.{q(pk)} DESC") if pk else ("", "")
        notnull = f"FILTER (WHERE {col} IS NOT NULL)"
        return {
            "COUNT": f"COUNT({col})",
            "COUNT_DISTINCT": f"COUNT(DISTINCT {col})",
            "SUM": f"SUM({col})", "AVG": f"AVG({col})", "MIN": f"MIN({col})", "MAX": f"MAX({col})",
            "FIRST": f"first({col} ORDER BY {time}{tie}) {notnull}",
            "LAST": f"first({col} ORDER BY {time} DESC{tie_desc}) {notnull}",
            "LIST_DISTINCT": f"list_sort(list(DISTINCT {col}) {notnull})",
        }[agg.func]

    def offset(self, value: float, unit: str) -> str:
        """An interval of ``value`` ``unit`` as SQL with the number bound as a parameter."""
        if unit == "months":
            if not float(value).is_integer():
                raise QueryBindError(f"A window in months must be a whole number, not {value}.")
            return f"to_months(CAST({self.p.add(int(value))} AS INTEGER))"
        micros = round(value * UNIT_SECONDS[unit] * 1_000_000)
        return f"to_microseconds(CAST({self.p.add(micros)} AS BIGINT))"

    def parent_joins(self, table: str, parents: dict[str, str], alias: str, visible_at_anchor: bool,
                     anchor: str = "x") -> str:
        """LEFT JOINs of the tables that ``table`` points to and the query reads columns of."""
        out = []
        for parent, palias in parents.items():
            fk = next(c for c, d in self.graph[table].foreign_keys.items() if d == parent)
            pk = self.graph[parent].primary_key or ""
            cond = f"{palias}.{q(pk)} = {alias}.{q(fk)}"
            ptime = self.graph[parent].time_column
            if visible_at_anchor and ptime and self.bq.is_temporal:
                cond += f" AND {palias}.{q(ptime)} <= {anchor}.{ANCHOR}"
            out.append(f" LEFT JOIN {q(parent)} {palias} ON {cond}")
        return "".join(out)


def training_sql(bq: BoundQuery, graph: Graph, anchors: list[Any] | None,
                 entities: list[Any] | None = None) -> LabelSQL:
    """Labels: one row per (entity, anchor) that exists, passes WHERE and ASSUMING, has a target.

    ``entities`` (optional) limits the labels to those keys: their fact rows only are aggregated,
    so labels of a small batch cost what its own rows cost.
    """
    return _select(bq, graph, anchors, with_target=True, entities=entities)


def prediction_sql(bq: BoundQuery, graph: Graph, anchor: Any | None) -> LabelSQL:
    """Entities to predict at one anchor time (exist then and pass WHERE); no target, no ASSUMING.

    A query written ``FOR t.pk = v`` / ``FOR t.pk IN (...)`` predicts for those keys only
    (``bq.entity_keys``); training labels (:func:`training_sql`) ignore the list.
    """
    keys = list(bq.entity_keys) if bq.entity_keys is not None else None
    return _select(bq, graph, [anchor] if bq.is_temporal else None, with_target=False, entities=keys)


def _select(bq: BoundQuery, graph: Graph, anchors: list[Any] | None, with_target: bool,
            entities: list[Any] | None = None) -> LabelSQL:
    params = Params()
    c = Compiler(bq, graph, params)
    temporal = bq.is_temporal
    anchor_param = params.add(list(anchors or [])) if temporal else None
    if entities is not None:
        c.keys = f"(SELECT unnest({params.add(list(entities))}))"
    conds = []
    target = c.expr(bq.target) if with_target else None
    if bq.where is not None:
        conds.append(c.expr(bq.where))
    if with_target and bq.assuming is not None:
        conds.append(c.expr(bq.assuming))
    if target is not None:
        conds.append(f"({target}) IS NOT NULL")
        if bq.task_type is TaskType.link_prediction:
            conds.append(f"len({target}) > 0")
    key, etable = q(bq.entity_key), q(bq.entity_table)
    conds_e = [f"e.{q(bq.entity_time)} <= a.{ANCHOR}"] if bq.entity_time and temporal else []
    if c.keys is not None:
        conds_e.append(f"e.{key} IN {c.keys}")
        if not temporal:
            conds.append(f"e.{key} IN {c.keys}")
    exists = f" WHERE {' AND '.join(conds_e)}" if conds_e else ""
    if temporal:
        ctes = [f"anchors AS (SELECT DISTINCT CAST(unnest({anchor_param}) AS TIMESTAMP) AS {ANCHOR})",
                f"ents AS (SELECT e.{key} AS {ENTITY}, a.{ANCHOR} FROM {etable} e CROSS JOIN anchors a{exists})",
                *c.ctes]
        base = f"FROM ents x JOIN {etable} e ON e.{key} = x.{ENTITY}"
        cols = [f"x.{ENTITY} AS {ENTITY}", f"x.{ANCHOR} AS {ANCHOR}"]
    else:
        ctes, base = [], f"FROM {etable} e"
        cols = [f"e.{key} AS {ENTITY}"]
    if target is not None:
        cols.append(f"{target} AS {TARGET}")
    joins = c.parent_joins(bq.entity_table, c.parents, "e", visible_at_anchor=True)
    agg_joins = "".join(
        f" LEFT JOIN {name} ON {name}.{ENTITY} = x.{ENTITY} AND {name}.{ANCHOR} = x.{ANCHOR}"
        for name in c.aggs.values())
    where = f" WHERE {' AND '.join(conds)}" if conds else ""
    order = f" ORDER BY {ANCHOR}, {ENTITY}" if temporal else f" ORDER BY {ENTITY}"
    with_ = f"WITH {', '.join(ctes)} " if ctes else ""
    sql = f"{with_}SELECT {', '.join(cols)} {base}{joins}{agg_joins}{where}{order}"
    return LabelSQL(sql, params.values)
