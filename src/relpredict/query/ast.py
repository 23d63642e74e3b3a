"""The syntax tree of a predictive query: small frozen dataclasses, one per construct.

Every node remembers where it starts in the text (``line``, ``col``, 1-based) and how many
characters of that line it covers (``length``), so that the binder can underline the exact
place of a semantic error. Positions are excluded from equality: two trees are equal when they
mean the same query, which is what makes ``parse(to_pql(tree)) == tree`` a useful check.

Parentheses leave no node behind; the printer puts them back where precedence needs them.

::

    Query
    ├── target: Expr
    ├── entity: ColumnRef
    ├── entity_keys: tuple[Literal, ...] | None   (FOR t.pk = v / FOR t.pk IN (...))
    ├── forecast: int | None                      (FORECAST N TIMEFRAMES)
    ├── where / assuming: Expr | None
    Expr = Literal | ColumnRef | Aggregation | Comparison | InList | IsNull | Not | BoolOp
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal as TypingLiteral
from typing import TypeAlias

AGGREGATIONS = (
    "SUM",
    "AVG",
    "MIN",
    "MAX",
    "COUNT",
    "COUNT_DISTINCT",
    "FIRST",
    "LAST",
    "LIST_DISTINCT",
)
"""Aggregation function names, canonical (upper case)."""

TIME_UNITS = ("seconds", "minutes", "hours", "days", "weeks", "months")
"""Window units, canonical (plural, lower case). ``days`` is the default."""

COMPARISON_OPS = ("=", "!=", "<", "<=", ">", ">=", "LIKE", "STARTS WITH", "ENDS WITH", "CONTAINS")
"""Binary comparison operators as stored in ``Comparison.op`` (``<>`` is stored as ``!=``)."""

Value: TypeAlias = int | float | str | bool | datetime | None
"""A literal's Python value; ``None`` is SQL NULL, a ``datetime`` an unquoted date (``2024-01-01``)."""


@dataclass(frozen=True)
class Node:
    """Base of all nodes: the position of the node's first character in the query text."""

    line: int = field(default=0, compare=False, kw_only=True, repr=False)
    col: int = field(default=0, compare=False, kw_only=True, repr=False)
    length: int = field(default=1, compare=False, kw_only=True, repr=False)


@dataclass(frozen=True, eq=False)
class Literal(Node):
    """A constant: number, string, date, TRUE/FALSE, or NULL (``None``).

    Equality also compares the Python type, so ``TRUE`` != ``1`` and ``1.0`` != ``1``, which
    Python's ``==`` on the bare values would not tell apart.
    """

    value: Value

    def _key(self) -> tuple[type, Value]:
        return (type(self.value), self.value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Literal) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())


@dataclass(frozen=True)
class ColumnRef(Node):
    """``table.column`` as written (case kept). ``column == "*"`` means ``table.*`` (COUNT only)."""

    table: str
    column: str

    @property
    def is_star(self) -> bool:
        """True for ``table.*``, which counts rows rather than reading a column."""
        return self.column == "*"


@dataclass(frozen=True)
class Aggregation(Node):
    """``FUNC(table.column [WHERE filter], start, end, unit)`` over a time window.

    ``func`` is one of ``AGGREGATIONS``; ``column`` may be ``table.*`` only for COUNT;
    ``filter`` is a row condition with no aggregations inside. The window covers rows with
    ``t + start < time <= t + end``; ``start`` is ``None`` for ``-INF``. ``unit`` is one of
    ``TIME_UNITS``. The parser leaves sign rules (target forward, WHERE backward) to the binder.
    """

    func: str
    column: ColumnRef
    filter: Expr | None
    start: float | None
    end: float
    unit: str = "days"


@dataclass(frozen=True)
class Comparison(Node):
    """``left op right`` with ``op`` in ``COMPARISON_OPS``."""

    op: str
    left: Expr
    right: Expr


@dataclass(frozen=True)
class InList(Node):
    """``expr [NOT] IN (v1, v2, ...)``; ``values`` holds at least one literal."""

    expr: Expr
    values: tuple[Literal, ...]
    negated: bool = False


@dataclass(frozen=True)
class IsNull(Node):
    """``expr IS NULL`` or, when ``negated``, ``expr IS NOT NULL``."""

    expr: Expr
    negated: bool = False


@dataclass(frozen=True)
class Not(Node):
    """``NOT expr``."""

    expr: Expr


@dataclass(frozen=True)
class BoolOp(Node):
    """``left AND right`` or ``left OR right``; chains nest to the left (``(a AND b) AND c``)."""

    op: TypingLiteral["AND", "OR"]
    left: Expr
    right: Expr


Expr: TypeAlias = Literal | ColumnRef | Aggregation | Comparison | InList | IsNull | Not | BoolOp
"""Any expression: a target, a WHERE or ASSUMING condition, or a row filter."""


def chain(expr: BoolOp) -> list[Expr]:
    """The operands of ``a OP b OP c ...`` (a left-nested chain of one operator), in order.

    Walked without recursion, so a generated filter of thousands of OR-ed conditions is fine:
    every walker of expressions (printer, binder, SQL) goes through a chain with this.
    """
    right: list[Expr] = []
    node: Expr = expr
    while isinstance(node, BoolOp) and node.op == expr.op:
        right.append(node.right)
        node = node.left
    return [node, *reversed(right)]


@dataclass(frozen=True)
class Query(Node):
    """A whole predictive query; its position is that of the ``PREDICT`` keyword.

    ``target`` is what to predict; ``rank_top`` is ``k`` of ``RANK TOP k`` or ``TOP k`` (else
    ``None``); ``classify`` is True for ``CLASSIFY``; ``entity`` is ``FOR EACH table.primary_key``
    (or the key of ``FOR table.primary_key = v`` / ``IN (...)``); ``where`` filters entities with
    data known at the anchor time (or ``None``); ``assuming`` is a forward-looking condition (or
    ``None``). ``entity_keys`` holds the listed keys of ``FOR t.pk = v`` / ``FOR t.pk IN (...)``
    (``None`` for ``FOR EACH``); ``classify_top`` is ``k`` of ``CLASSIFY TOP k``; ``forecast``
    is ``N`` of ``FORECAST N TIMEFRAMES`` (``None``: one target window).
    """

    target: Expr
    rank_top: int | None
    classify: bool
    entity: ColumnRef
    where: Expr | None = None
    assuming: Expr | None = None
    entity_keys: tuple[Literal, ...] | None = None
    classify_top: int | None = None
    forecast: int | None = None


AnyNode: TypeAlias = Query | Expr


def children(node: AnyNode) -> tuple[AnyNode, ...]:
    """The direct sub-nodes of ``node``, in source order."""
    if isinstance(node, Query):
        keys = node.entity_keys or ()
        parts: tuple[AnyNode | None, ...] = (node.target, node.entity, *keys, node.where,
                                             node.assuming)
    elif isinstance(node, Aggregation):
        parts = (node.column, node.filter)
    elif isinstance(node, Comparison | BoolOp):
        parts = (node.left, node.right)
    elif isinstance(node, InList):
        parts = (node.expr, *node.values)
    elif isinstance(node, IsNull | Not):
        parts = (node.expr,)
    else:
        parts = ()
    return tuple(p for p in parts if p is not None)


def walk(node: AnyNode) -> Iterator[AnyNode]:
    """Yield ``node`` and every node below it, depth first, in source order."""
    yield node
    for child in children(node):
        yield from walk(child)


def aggregations(node: AnyNode | None) -> list[Aggregation]:
    """Every aggregation in ``node`` (none when ``node`` is None), in source order."""
    if node is None:
        return []
    return [n for n in walk(node) if isinstance(n, Aggregation)]


def column_refs(node: AnyNode | None) -> list[ColumnRef]:
    """Every column reference in ``node``, including those inside aggregations."""
    if node is None:
        return []
    return [n for n in walk(node) if isinstance(n, ColumnRef)]
