"""Canonical text of a predictive query: the inverse of the parser.

One line, keywords in upper case, every aggregation with its unit, numbers of a window printed
as integers when integral, strings re-escaped, names double-quoted only when they must be, and
parentheses only where precedence needs them. ``parse(to_pql(tree)) == tree`` for every tree
the parser can produce, and ``to_pql`` is idempotent on its own output.
"""

from __future__ import annotations

import math
from datetime import datetime

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
    Not,
    Query,
    Value,
    chain,
)
from relpredict.query.tokens import is_plain_name

__all__ = ["to_pql"]

# Binding strength, loosest first; an operand is printed bare when it binds at least as tightly
# as its parent needs, else in parentheses.
_OR, _AND, _NOT, _COMPARISON, _ATOM = range(5)


def to_pql(node: AnyNode) -> str:
    """Print a query (or any expression node) as canonical PQL text."""
    if isinstance(node, Query):
        return _query(node)
    return _expr(node)


def _query(query: Query) -> str:
    parts = ["PREDICT", _expr(query.target)]
    if query.rank_top is not None:
        parts.append(f"RANK TOP {query.rank_top}")
    if query.classify:
        parts.append("CLASSIFY")
        if query.classify_top is not None:
            parts.append(f"TOP {query.classify_top}")
    if query.forecast is not None:
        parts.append(f"FORECAST {query.forecast} TIMEFRAMES")
    if query.entity_keys is None:
        parts += ["FOR EACH", _column(query.entity)]
    elif len(query.entity_keys) == 1:
        parts += ["FOR", _column(query.entity), "=", _literal(query.entity_keys[0].value)]
    else:
        keys = ", ".join(_literal(v.value) for v in query.entity_keys)
        parts += ["FOR", _column(query.entity), f"IN ({keys})"]
    if query.where is not None:
        parts += ["WHERE", _expr(query.where)]
    if query.assuming is not None:
        parts += ["ASSUMING", _expr(query.assuming)]
    return " ".join(parts)


def _strength(expr: Expr) -> int:
    if isinstance(expr, BoolOp):
        return _OR if expr.op == "OR" else _AND
    if isinstance(expr, Not):
        return _NOT
    if isinstance(expr, Comparison | InList | IsNull):
        return _COMPARISON
    return _ATOM


def _wrap(expr: Expr, needed: int) -> str:
    """``expr`` as text, in parentheses when it binds more loosely than ``needed``."""
    text = _expr(expr)
    return text if _strength(expr) >= needed else f"({text})"


def _expr(expr: Expr) -> str:
    if isinstance(expr, Literal):
        return _literal(expr.value)
    if isinstance(expr, ColumnRef):
        return _column(expr)
    if isinstance(expr, Aggregation):
        return _aggregation(expr)
    if isinstance(expr, BoolOp):
        # Chains nest to the left, so a same-operator right operand needs parentheses.
        strength = _strength(expr)
        first, *rest = chain(expr)
        return f" {expr.op} ".join([_wrap(first, strength), *(_wrap(r, strength + 1) for r in rest)])
    if isinstance(expr, Not):
        return f"NOT {_wrap(expr.expr, _NOT)}"
    return _predicate(expr)


def _predicate(expr: Comparison | InList | IsNull) -> str:
    """A comparison; its operands are atoms, so anything else goes in parentheses."""
    if isinstance(expr, Comparison):
        return f"{_wrap(expr.left, _ATOM)} {expr.op} {_wrap(expr.right, _ATOM)}"
    if isinstance(expr, InList):
        values = ", ".join(_literal(v.value) for v in expr.values)
        op = "NOT IN" if expr.negated else "IN"
        return f"{_wrap(expr.expr, _ATOM)} {op} ({values})"
    op = "IS NOT NULL" if expr.negated else "IS NULL"
    return f"{_wrap(expr.expr, _ATOM)} {op}"


def _aggregation(agg: Aggregation) -> str:
    column = _column(agg.column)
    if agg.filter is not None:
        column += f" WHERE {_expr(agg.filter)}"
    start = "-INF" if agg.start is None else _window_number(agg.start)
    return f"{agg.func}({column}, {start}, {_window_number(agg.end)}, {agg.unit})"


def _window_number(value: float) -> str:
    """Window bounds are stored as floats; ``30.0`` prints as ``30``."""
    if math.isinf(value) and value < 0:
        return "-INF"
    if float(value).is_integer():
        return str(int(value))
    return _number(value)


def _number(value: float) -> str:
    if not math.isfinite(value):
        raise ValueError(f"PQL has no syntax for the number {value!r}.")
    return repr(float(value))


def _literal(value: Value) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _number(value)
    if isinstance(value, datetime):
        return _date(value)
    return "'" + value.replace("'", "''") + "'"


def _date(value: datetime) -> str:
    """An unquoted date: ``2024-01-01``, or with its time when it has one."""
    if value.tzinfo is None and value == datetime(value.year, value.month, value.day):
        return value.date().isoformat()
    if value.tzinfo is not None:
        raise ValueError(f"PQL has no syntax for a date with a time zone: {value!r}.")
    return value.isoformat()


def _column(ref: ColumnRef) -> str:
    column = "*" if ref.is_star else _name(ref.column)
    return f"{_name(ref.table)}.{column}"


def _name(name: str) -> str:
    """A name as written, or double-quoted when it is not a plain identifier."""
    return name if is_plain_name(name) else '"' + name.replace('"', '""') + '"'
