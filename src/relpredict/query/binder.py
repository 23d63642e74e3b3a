"""Binding: check a parsed query against a graph and derive its task.

Names are resolved first: exactly as stored, else case-insensitively when only one name matches
(Kumo's docs write ``TRANSACTIONS.PRICE`` for ``transactions.price``); the bound query carries the
names as stored. An unknown name lists the nearest that exist, an ambiguous one its candidates.
Aggregated tables must have a
time column and a foreign key to the entity table, types must fit their operators, windows must
point the right way (target and ASSUMING forward, WHERE backward), and the task type follows
the table in PQL.md. Every error underlines the offending part of the query.
"""

from __future__ import annotations

from dataclasses import fields, replace
from datetime import datetime
from typing import Any, NoReturn, cast

from relpredict.errors import QueryBindError
from relpredict.graph.graph import Graph, did_you_mean
from relpredict.query.ast import (
    Aggregation,
    AnyNode,
    BoolOp,
    ColumnRef,
    Comparison,
    Expr,
    InList,
    IsNull,
    Literal,
    Node,
    Not,
    Query,
    aggregations,
    chain,
    column_refs,
)
from relpredict.query.bound import BoundQuery, TaskType, Window, as_timedelta
from relpredict.query.parser import parse
from relpredict.query.printer import to_pql
from relpredict.tables.stypes import (
    SType,
    is_integer_dtype,
    is_numeric_dtype,
    is_string_dtype,
    is_temporal_dtype,
)

# Value kinds of expressions. "null" is the NULL literal, compatible with everything.
# "code" is a categorical column stored as numbers (F1's statusId): a category that compares
# with numbers.
BOOLEAN, NUMERIC, CATEGORY, CODE, TEXT, TIMESTAMP, ID, LIST, NULL = (
    "boolean", "numeric", "category", "code", "text", "timestamp", "id", "list", "null")
STYPE_KIND = {SType.numerical: NUMERIC, SType.categorical: CATEGORY, SType.text: TEXT,
              SType.timestamp: TIMESTAMP, SType.ID: ID, SType.multicategorical: LIST}
STRINGY = (CATEGORY, TEXT, ID)
ORDER_OPS = ("<", "<=", ">", ">=")
STRING_OPS = ("LIKE", "STARTS WITH", "ENDS WITH")


def bind(query: str | Query, graph: Graph) -> BoundQuery:
    """Parse (if given text) and bind a query to ``graph``; raise QueryBindError if it does not fit."""
    text = query if isinstance(query, str) else to_pql(query)
    tree = parse(query) if isinstance(query, str) else query
    return _Binder(text, tree, graph).bind()


class _Binder:
    def __init__(self, text: str, query: Query, graph: Graph) -> None:
        self.text, self.graph = text, graph
        self.query = cast(Query, self._resolve(query))
        self.entity_table = ""

    def error(self, message: str, node: AnyNode) -> NoReturn:
        raise QueryBindError(message, query=self.text, line=node.line or None,
                             col=node.col or None, length=node.length)

    # ----------------------------------------------------------------- names
    def _resolve(self, node: Node) -> Node:
        """``node`` with every table and column name spelled as stored in the graph."""
        if isinstance(node, ColumnRef):
            table = self._resolve_table(node)
            column = node.column if node.is_star else self._resolve_column(table, node)
            if (table, column) == (node.table, node.column):
                return node
            return replace(node, table=table, column=column)
        if isinstance(node, BoolOp):
            return self._resolve_chain(node)
        changes: dict[str, Any] = {}
        for f in fields(node):
            value = getattr(node, f.name)
            if isinstance(value, Node):
                new: object = self._resolve(value)
            elif isinstance(value, tuple) and value and isinstance(value[0], Node):
                new = tuple(self._resolve(v) for v in value)
            else:
                continue
            if new is not value:
                changes[f.name] = new
        return replace(node, **changes) if changes else node

    def _resolve_chain(self, node: BoolOp) -> Node:
        """A chain ``a OP b OP c ...`` resolved without recursion down its left spine."""
        spine = [node]
        while isinstance(spine[-1].left, BoolOp) and spine[-1].left.op == node.op:
            spine.append(spine[-1].left)
        left = self._resolve(spine[-1].left)
        for link in reversed(spine):
            right = self._resolve(link.right)
            if left is not link.left or right is not link.right:
                link = replace(link, left=cast(Expr, left), right=cast(Expr, right))
            left = link
        return left

    def _match(self, name: str, names: list[str], what: str, ref: ColumnRef) -> str | None:
        """``name`` as stored: exact, else the one case-insensitive match (None: no match)."""
        if name in names:
            return name
        hits = [n for n in names if n.lower() == name.lower()]
        if len(hits) > 1:
            listed = ", ".join(repr(h) for h in hits)
            self.error(f"{what} is ambiguous: it matches {listed}, which differ only in "
                       "case. Write the name exactly as stored.", ref)
        return hits[0] if hits else None

    def _resolve_table(self, ref: ColumnRef) -> str:
        names = self.graph.table_names
        table = self._match(ref.table, names, f"Table {ref.table!r}", ref)
        if table is None:
            self.error(f"Unknown table {ref.table!r}.{did_you_mean(ref.table, names)} "
                       f"Tables: {', '.join(names)}.", ref)
        return table

    def _resolve_column(self, table: str, ref: ColumnRef) -> str:
        columns = list(self.graph.columns(table))
        column = self._match(ref.column, columns, f"Column {ref.column!r} in table {table!r}", ref)
        if column is None:
            self.error(f"Unknown column {ref.column!r} in table {table!r}."
                       f"{did_you_mean(ref.column, columns)} Columns: {', '.join(columns)}.", ref)
        return column

    # ----------------------------------------------------------------- the query
    def bind(self) -> BoundQuery:
        q = self.query
        key = self._entity(q.entity)
        keys = self._entity_keys(q, key)
        kind = self._expr(q.target, "target")
        if not column_refs(q.target):
            self.error("The target is a constant: it reads no table, so there is nothing to learn. "
                       "Predict a column or an aggregation, e.g. COUNT(orders.*, 0, 30, days) > 0.",
                       q.target)
        temporal = bool(aggregations(q.target))
        self._condition(q.where, "where", temporal)
        self._condition(q.assuming, "assuming", temporal)
        task, item = self._task_type(kind)
        self._forecast(q, task, temporal, kind)
        facts = tuple(dict.fromkeys(a.column.table for a in aggregations(q.target)))
        ranked = task is TaskType.link_prediction
        return BoundQuery(
            text=to_pql(q), query=q, task_type=task, entity_table=self.entity_table,
            entity_key=key, entity_time=self.graph[self.entity_table].time_column,
            target=q.target, where=q.where, assuming=q.assuming, fact_tables=facts,
            horizon=self._horizon(), target_kind=kind, rank_top=q.rank_top if ranked else None,
            item_table=item[0] if item else None, item_key=item[1] if item else None,
            entity_keys=keys,
            num_classes=None if ranked else (q.classify_top or q.rank_top), forecast=q.forecast,
        )

    def _forecast(self, q: Query, task: TaskType, temporal: bool, kind: str) -> None:
        """``FORECAST N TIMEFRAMES`` needs a number over a time window (regression)."""
        if q.forecast is None:
            return
        if not temporal:
            self.error("FORECAST N TIMEFRAMES repeats the target's time window N times, but this "
                       "target has no window: forecast an aggregation over one, e.g. "
                       "SUM(orders.amount, 0, 7, days) FORECAST 4 TIMEFRAMES.", q.target)
        if task is not TaskType.regression or not isinstance(q.target, Aggregation):
            self.error(f"FORECAST N TIMEFRAMES forecasts a number per time window, but this target "
                       f"is {'a condition' if kind == BOOLEAN else kind} ({task.value.replace('_', ' ')}): "
                       "forecast a numeric aggregation, e.g. SUM(orders.amount, 0, 7, days) or "
                       "COUNT(orders.*, 0, 7, days), without a comparison.", q.target)

    def _entity(self, ref: ColumnRef) -> str:
        table = self._table(ref)
        pk = self.graph[table].primary_key
        if pk is None:
            self.error(f"Table {table!r} has no primary key, so it cannot be the entity of FOR EACH. "
                       "Declare `primary_key:` for it in the graph.", ref)
        if ref.column != pk:
            clause = "FOR EACH" if self.query.entity_keys is None else "FOR"
            self.error(f"{clause} needs the primary key of {table!r}: write {table}.{pk}, "
                       f"not {table}.{ref.column}.", ref)
        self.entity_table = table
        return pk

    def _entity_keys(self, q: Query, key: str) -> tuple[Any, ...] | None:
        """The keys of ``FOR t.pk = v`` / ``IN (...)``, typed against the key column, deduplicated."""
        if q.entity_keys is None:
            return None
        dtype = self.graph.columns(self.entity_table)[key]
        name = f"{self.entity_table}.{key}"
        out: list[Any] = []
        for lit in q.entity_keys:
            value = lit.value
            if value is None:
                self.error(f"A key of {name} cannot be NULL; list existing keys, e.g. "
                           f"FOR {name} IN (1, 2).", lit)
            if is_integer_dtype(dtype):
                if isinstance(value, float) and value.is_integer():
                    value = int(value)
                if isinstance(value, bool) or not isinstance(value, int):
                    self.error(f"{name} is a whole number ({dtype}), so its keys are written as "
                               f"numbers: {to_pql(lit)} is {_literal_kind(lit)}. Write e.g. "
                               f"FOR {name} = 42.", lit)
            elif is_numeric_dtype(dtype):
                if isinstance(value, bool) or not isinstance(value, int | float):
                    self.error(f"{name} is a number ({dtype}), so its keys are written as numbers: "
                               f"{to_pql(lit)} is {_literal_kind(lit)}.", lit)
            elif is_string_dtype(dtype):
                if not isinstance(value, str):
                    self.error(f"{name} is text ({dtype}), so its keys are quoted: write "
                               f"'{to_pql(lit)}', not {to_pql(lit)}.", lit)
            elif is_temporal_dtype(dtype):
                if not isinstance(value, str | datetime):
                    self.error(f"{name} is a time ({dtype}); write its keys as dates, "
                               f"e.g. 2024-01-31.", lit)
            if value not in out:
                out.append(value)
        return tuple(out)

    def _condition(self, expr: Expr | None, ctx: str, temporal: bool) -> None:
        if expr is None:
            return
        if not temporal and aggregations(expr):
            self.error(f"A static query (its target has no time window) has no anchor time, so its "
                       f"{ctx.upper()} cannot aggregate over time. Use columns only, or make the "
                       "target temporal.", aggregations(expr)[0])
        if ctx == "assuming" and not aggregations(expr):
            self.error("ASSUMING states a condition on the future: it needs an aggregation with a "
                       "forward window, e.g. ASSUMING COUNT(notifications.*, 0, 7, days) > 0.", expr)
        kind = self._expr(expr, ctx)
        if kind not in (BOOLEAN, NULL):
            self.error(f"{ctx.upper()} needs a condition (true or false), but this is a {kind} "
                       "value; compare it, e.g. `> 0`.", expr)

    def _horizon(self) -> Window | None:
        windows = [Window.of(a) for a in aggregations(self.query.target)]
        if not windows:
            return None
        return max(windows, key=lambda w: as_timedelta(w.end, w.unit))

    # ----------------------------------------------------------------- task type
    def _task_type(self, kind: str) -> tuple[TaskType, tuple[str, str] | None]:
        q, target = self.query, self.query.target
        if q.rank_top is not None:
            return self._ranked(target, kind)
        if kind == LIST:
            if q.classify:
                return TaskType.multilabel, None
            self.error("This target is a list: add RANK TOP k to rank items, or CLASSIFY for "
                       "multilabel classification.", target)
        if q.classify and kind not in (CATEGORY, CODE):
            self.error(f"CLASSIFY applies to a list or categorical target, not a {kind} one.", target)
        if kind == BOOLEAN:
            return TaskType.binary, None
        if kind == NUMERIC:
            return TaskType.regression, None
        if kind in (CATEGORY, CODE):
            return TaskType.multiclass, None
        what = {ID: "an ID (a key identifies rows; predict something about them instead)",
                TIMESTAMP: "a timestamp", TEXT: "free text", NULL: "NULL"}.get(kind, kind)
        self.error(f"The target is {what}, which cannot be predicted. Predict a number, a category, "
                   "a condition or a list.", target)

    def _ranked(self, target: Expr, kind: str) -> tuple[TaskType, tuple[str, str] | None]:
        """``RANK TOP k``: link prediction over the rows a foreign key points to, or the k best
        classes of a categorical list (multilabel) or a categorical value (multiclass)."""
        if isinstance(target, Aggregation) and target.func == "LIST_DISTINCT":
            fact, col = target.column.table, target.column.column
            item = self.graph[fact].foreign_keys.get(col)
            if item is not None and item in self.graph:
                return TaskType.link_prediction, (item, self.graph[item].primary_key or col)
        if kind == LIST:
            return TaskType.multilabel, None
        if kind in (CATEGORY, CODE):
            return TaskType.multiclass, None
        self.error(f"RANK TOP k ranks the items of LIST_DISTINCT(table.foreign_key, ...) or the "
                   f"classes of a categorical target; this target is {kind}. Drop RANK TOP k, or "
                   "rank a list, e.g. LIST_DISTINCT(transactions.product_id, 0, 30, days) RANK "
                   "TOP 10.", target)

    # ----------------------------------------------------------------- expressions
    def _expr(self, expr: Expr, ctx: str) -> str:
        if isinstance(expr, Literal):
            return _literal_kind(expr)
        if isinstance(expr, ColumnRef):
            return self._column(expr, ctx)
        if isinstance(expr, Aggregation):
            return self._aggregation(expr, ctx)
        if isinstance(expr, Comparison):
            return self._comparison(expr, ctx)
        if isinstance(expr, InList):
            return self._in_list(expr, ctx)
        if isinstance(expr, IsNull):
            self._expr(expr.expr, ctx)
            return BOOLEAN
        if isinstance(expr, Not):
            self._boolean(expr.expr, ctx, "NOT")
            return BOOLEAN
        if isinstance(expr, BoolOp):
            for operand in chain(expr):
                self._boolean(operand, ctx, expr.op)
            return BOOLEAN
        self.error(f"Unsupported expression {type(expr).__name__}.", expr)  # pragma: no cover

    def _boolean(self, expr: Expr, ctx: str, op: str) -> None:
        kind = self._expr(expr, ctx)
        if kind not in (BOOLEAN, NULL):
            self.error(f"{op} combines conditions, but this is a {kind} value; compare it first "
                       "(e.g. `> 0`).", expr)

    def _table(self, ref: ColumnRef) -> str:
        if ref.table not in self.graph:  # resolved up front; a hand-built tree may still differ
            return self._resolve_table(ref)
        return ref.table

    def _column(self, ref: ColumnRef, ctx: str) -> str:
        table = self._table(ref)
        home = ctx.split(":", 1)[1] if ctx.startswith("filter:") else self.entity_table
        if table != home and self.graph[home].foreign_keys.get(_fk_to(self.graph, home, table)) is None:
            where = f"the filter of {home!r}" if ctx.startswith("filter:") else "the entity row"
            self.error(f"Column {table}.{ref.column} is not reachable from {where}: only {home!r} "
                       f"and tables it points to by a foreign key can be used here. Aggregate "
                       f"{table!r} over a time window instead, e.g. COUNT({table}.*, -30, 0, days).", ref)
        columns = self.graph.columns(table)
        if ref.column not in columns:
            self.error(f"Unknown column {ref.column!r} in table {table!r}."
                       f"{did_you_mean(ref.column, columns)} Columns: {', '.join(columns)}.", ref)
        return self._column_kind(table, ref.column)

    def _column_kind(self, table: str, column: str) -> str:
        dtype = self.graph.columns(table)[column]
        if dtype == "BOOLEAN":
            return BOOLEAN
        kind = STYPE_KIND[self.graph.stypes(table)[column]]
        return CODE if kind == CATEGORY and is_numeric_dtype(dtype) else kind

    def _aggregation(self, agg: Aggregation, ctx: str) -> str:
        if ctx.startswith("filter:"):
            self.error("An aggregation cannot appear inside another aggregation's row filter.", agg)
        fact = self._table(agg.column)
        self._fact_links(fact, agg)
        self._window(agg, ctx)
        if agg.filter is not None:
            self._condition_in_filter(agg.filter, fact)
        if agg.column.is_star:
            return NUMERIC
        return self._aggregate_kind(agg, self._column(agg.column, f"filter:{fact}"))

    def _fact_links(self, fact: str, agg: Aggregation) -> None:
        table = self.graph[fact]
        if table.time_column is None:
            self.error(f"Table {fact!r} has no time column, so it has no rows 'within a time window'. "
                       f"Declare its `time_column:` in the graph, or use a column of a table with one.",
                       agg.column)
        links = self.graph.links_between(fact, self.entity_table)
        if fact == self.entity_table:
            self.error(f"{agg.func} aggregates rows linked to the entity; {fact!r} is the entity table "
                       "itself. Aggregate a table that points to it.", agg.column)
        if not links:
            self.error(f"Table {fact!r} is not linked to the entity table {self.entity_table!r}: "
                       f"{fact!r} has no foreign key to {self.entity_table!r}. Add one in the graph "
                       f"(foreign_keys: {{<column>: {self.entity_table}}}) or aggregate a linked table.",
                       agg.column)
        if len(links) > 1:
            cols = ", ".join(link.column for link in links)
            self.error(f"Table {fact!r} links to {self.entity_table!r} through several foreign keys "
                       f"({cols}); relpredict cannot tell which one to follow.", agg.column)

    def _window(self, agg: Aggregation, ctx: str) -> None:
        if agg.start is not None and agg.start >= agg.end:
            self.error(f"A window's start must be before its end: ({_num(agg.start)}, {_num(agg.end)}] "
                       "is empty.", agg)
        if ctx == "where" and agg.end > 0:
            self.error(f"WHERE is evaluated with data known at the anchor time, so its windows must "
                       f"end at or before 0 (this one ends at {_num(agg.end)}). To condition on the "
                       "future, use ASSUMING.", agg)
        if ctx in ("target", "assuming") and (agg.start is None or agg.start < 0):
            start = "-INF" if agg.start is None else _num(agg.start)
            hint = "use it in WHERE" if ctx == "target" else "move it to WHERE"
            article = "An" if ctx == "assuming" else "A"
            self.error(f"{article} {ctx.upper()} window looks forward: it must start at 0 or later "
                       f"(this one starts at {start}). For past data, {hint}.", agg)

    def _condition_in_filter(self, expr: Expr, fact: str) -> None:
        kind = self._expr(expr, f"filter:{fact}")
        if kind not in (BOOLEAN, NULL):
            self.error(f"The row filter needs a condition, but this is a {kind} value.", expr)

    def _aggregate_kind(self, agg: Aggregation, kind: str) -> str:
        name = f"{agg.column.table}.{agg.column.column}"
        if agg.func in ("COUNT", "COUNT_DISTINCT"):
            return NUMERIC
        if agg.func in ("SUM", "AVG") and kind != NUMERIC:
            self.error(f"{agg.func} needs a numerical column, but {name} is {kind}. Use COUNT, "
                       "COUNT_DISTINCT, FIRST or LAST, or override its semantic type.", agg.column)
        if agg.func in ("MIN", "MAX") and kind not in (NUMERIC, TIMESTAMP):
            self.error(f"{agg.func} needs a numerical or timestamp column, but {name} is {kind}.",
                       agg.column)
        if agg.func == "LIST_DISTINCT":
            return LIST
        return kind

    def _comparison(self, cmp: Comparison, ctx: str) -> str:
        left, right = self._expr(cmp.left, ctx), self._expr(cmp.right, ctx)
        if cmp.op in ORDER_OPS and not _ordered(left, right):
            self.error(f"{cmp.op} compares numbers or times, not {left} with {right}.", cmp)
        if cmp.op in STRING_OPS and not (left in (*STRINGY, NULL) and right in (*STRINGY, NULL)):
            self.error(f"{cmp.op} compares text, not {left} with {right}.", cmp)
        if cmp.op == "CONTAINS" and left not in (*STRINGY, LIST, NULL):
            self.error(f"CONTAINS needs text or a list on its left, not {left}.", cmp)
        if cmp.op == "CONTAINS" and left in STRINGY and right not in (*STRINGY, NULL):
            self.error(f"CONTAINS looks for text in text, not {right} in {left}.", cmp)
        if cmp.op in ("=", "!=") and not _comparable(left, right):
            self.error(f"{cmp.op} compares values of one kind, not {left} with {right}.", cmp)
        for kind, other in ((left, cmp.right), (right, cmp.left)):
            if kind == TIMESTAMP and isinstance(other, Literal) and isinstance(other.value, str):
                _check_time_text(self, other)
        return BOOLEAN

    def _in_list(self, node: InList, ctx: str) -> str:
        kind = self._expr(node.expr, ctx)
        for value in node.values:
            if not _comparable(kind, _literal_kind(value)):
                self.error(f"IN compares values of one kind: {to_pql(value)} is "
                           f"{_literal_kind(value)}, the left side is {kind}.", value)
        return BOOLEAN


def _check_time_text(binder: _Binder, lit: Literal) -> None:
    """A string compared with a timestamp must read as one ('2024-01-31', '2024-01-31 10:00')."""
    text = str(lit.value).strip()
    try:
        datetime.fromisoformat(text.replace(" ", "T", 1) if " " in text else text)
    except ValueError:
        binder.error(f"{to_pql(lit)} is compared with a timestamp but is not a date or time: write "
                     "an ISO date or datetime such as '2024-01-31' or '2024-01-31 10:00:00' "
                     "(relative times like 'yesterday' are not supported).", lit)


def _fk_to(graph: Graph, table: str, parent: str) -> str:
    """The foreign-key column of ``table`` pointing to ``parent`` ('' when there is none)."""
    for column, dst in graph[table].foreign_keys.items():
        if dst == parent:
            return column
    return ""


def _literal_kind(lit: Literal) -> str:
    value = lit.value
    if value is None:
        return NULL
    if isinstance(value, bool):
        return BOOLEAN
    if isinstance(value, (int, float)):
        return NUMERIC
    if isinstance(value, datetime):
        return TIMESTAMP
    return CATEGORY


def _ordered(left: str, right: str) -> bool:
    return _comparable(left, right) and {left, right} - {NULL} <= {NUMERIC, TIMESTAMP, CATEGORY, CODE}


def _comparable(left: str, right: str) -> bool:
    if NULL in (left, right) or left == right:
        return True
    groups = ({NUMERIC, CODE}, set(STRINGY), {BOOLEAN}, {TIMESTAMP, *STRINGY}, {ID, NUMERIC})
    return any(left in g and right in g for g in groups)


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


__all__ = ["BoundQuery", "TaskType", "bind"]
