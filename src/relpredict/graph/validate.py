"""Validation of a graph: metadata that does not fit the data, and data that breaks its keys.

Every finding names the table, the column, how many rows, a few examples and what to do.
Nothing is dropped or repaired silently: a finding is either an error (the graph cannot be used
as declared) or a warning (it can, and the message says what will happen to the rows).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from relpredict.sql import quote_ident
from relpredict.suggest import did_you_mean
from relpredict.tables import load
from relpredict.tables.stypes import (
    is_integer_dtype,
    is_numeric_dtype,
    is_string_dtype,
    is_temporal_dtype,
)

if TYPE_CHECKING:
    from relpredict.graph.graph import Graph
    from relpredict.tables.table import Table

Severity = Literal["error", "warning"]
EXAMPLES = 5


@dataclass(frozen=True)
class Finding:
    """One problem found by validation."""

    severity: Severity
    code: str  # stable identifier, e.g. "duplicate_primary_key"
    table: str
    column: str | None
    message: str
    count: int | None = None
    examples: tuple[Any, ...] = ()


def validate_graph(graph: Graph, missing_keys: Literal["warn", "error"] = "warn") -> list[Finding]:
    """All findings for ``graph``: structure first; data checks only where the structure holds."""
    findings = _structure(graph)
    for table in graph:
        column_findings = _unknown_columns(graph, table)
        findings += column_findings
        if column_findings:
            continue
        findings += _primary_key(graph, table)
        findings += _time_columns(graph, table)
    for table in graph:
        for column, dst in table.foreign_keys.items():
            if _link_checkable(graph, table, column, dst):
                findings += _foreign_key(graph, table, column, dst, missing_keys)
    return findings


def _structure(graph: Graph) -> list[Finding]:
    out = []
    for table in graph:
        for column, dst in table.foreign_keys.items():
            if dst not in graph:
                out.append(Finding(
                    "error", "unknown_table", table.name, column,
                    f"Table {table.name!r}, foreign key {column!r} points to table {dst!r}, which "
                    f"is not in the graph.{did_you_mean(dst, graph.table_names)} Add that table or "
                    "fix the name."))
            elif graph[dst].primary_key is None:
                out.append(Finding(
                    "error", "link_without_primary_key", table.name, column,
                    f"Table {table.name!r}, foreign key {column!r} points to table {dst!r}, which "
                    f"has no primary key. Declare `primary_key:` on {dst!r}."))
    return out


def _unknown_columns(graph: Graph, table: Table) -> list[Finding]:
    columns = graph.columns(table.name)
    named = [("primary key", table.primary_key), ("time column", table.time_column),
             ("end-time column", table.end_time_column)]
    named += [("foreign key", c) for c in table.foreign_keys]
    named += [("semantic type override", c) for c in table.stypes]
    out = []
    for role, col in named:
        if col is not None and col not in columns:
            out.append(Finding(
                "error", "unknown_column", table.name, col,
                f"Table {table.name!r}: {role} {col!r} is not a column of the table."
                f"{did_you_mean(col, columns)} Columns: {', '.join(columns)}."))
    return out


def _q(graph: Graph, sql: str) -> list[tuple[Any, ...]]:
    return graph.con.execute(sql).fetchall()


def _primary_key(graph: Graph, table: Table) -> list[Finding]:
    pk = table.primary_key
    if pk is None:
        return []
    t, c = quote_ident(table.name), quote_ident(pk)
    out = []
    nulls = _q(graph, f"SELECT COUNT(*) FROM {t} WHERE {c} IS NULL")[0][0]
    if nulls:
        out.append(Finding(
            "error", "null_primary_key", table.name, pk,
            f"Table {table.name!r}: primary key {pk!r} is NULL in {nulls:,} row(s). Every row "
            "needs a key: fill them in, filter those rows out in the table's `sql:`, or choose "
            "another key column.", nulls))
    dups = _q(graph, f"SELECT {c}, COUNT(*) AS n FROM {t} WHERE {c} IS NOT NULL GROUP BY 1 "
                     f"HAVING n > 1 ORDER BY n DESC, 1 LIMIT {EXAMPLES}")
    if dups:
        total = _q(graph, f"SELECT COUNT(*) FROM (SELECT {c} FROM {t} WHERE {c} IS NOT NULL "
                          f"GROUP BY 1 HAVING COUNT(*) > 1)")[0][0]
        examples = tuple(row[0] for row in dups)
        out.append(Finding(
            "error", "duplicate_primary_key", table.name, pk,
            f"Table {table.name!r}: primary key {pk!r} has {total:,} duplicated value(s), e.g. "
            f"{_fmt(examples)}. A primary key must be unique: deduplicate the rows or choose "
            "another key column.", total, examples))
    return out


def _time_columns(graph: Graph, table: Table) -> list[Finding]:
    out = []
    for role, col in (("time column", table.time_column), ("end-time column", table.end_time_column)):
        if col is not None:
            out += _time_column(graph, table, role, col)
    return out


def _time_column(graph: Graph, table: Table, role: str, col: str) -> list[Finding]:
    rows = graph.row_count(table.name)
    if rows == 0:
        return [Finding(
            "error", "time_column_on_empty_table", table.name, col,
            f"Table {table.name!r} has a {role} {col!r} but no rows, so no time range can be "
            "derived from it. Load its data (check the file or the table's `sql:`) or remove the "
            f"{role}.", 0)]
    # The type before the TIMESTAMP cast of the final layer (which turns numbers into NULLs).
    dtype = _pre_types(graph, table)[col]
    if is_numeric_dtype(dtype) or not (is_temporal_dtype(dtype) or is_string_dtype(dtype)):
        return [Finding(
            "error", "time_column_type", table.name, col,
            f"Table {table.name!r}: {role} {col!r} has type {dtype}, not a date or timestamp. "
            "Convert it in the table's `sql:` (e.g. to_timestamp(col) for epoch seconds).")]
    return _unparseable_times(graph, table, role, col) + _null_times(graph, table, role, col)


def _pre_types(graph: Graph, table: Table) -> dict[str, str]:
    pre = quote_ident(load.pre_name(table.name))
    return dict(graph.con.execute(f"SELECT column_name, column_type FROM (DESCRIBE {pre})").fetchall())


def _unparseable_times(graph: Graph, table: Table, role: str, col: str) -> list[Finding]:
    pre, c = quote_ident(load.pre_name(table.name)), quote_ident(col)
    pre_dtype = _pre_types(graph, table)[col]
    if not is_string_dtype(pre_dtype):
        return []
    cast = load.time_cast(c, pre_dtype)
    bad = _q(graph, f"SELECT {c} FROM {pre} WHERE {c} IS NOT NULL AND {cast} IS NULL LIMIT {EXAMPLES}")
    if not bad:
        return []
    total = _q(graph, f"SELECT COUNT(*) FROM {pre} WHERE {c} IS NOT NULL AND {cast} IS NULL")[0][0]
    examples = tuple(row[0] for row in bad)
    return [Finding(
        "error", "unparseable_time", table.name, col,
        f"Table {table.name!r}: {role} {col!r} has {total:,} value(s) that are not dates or "
        f"timestamps, e.g. {_fmt(examples)}. Use ISO 8601 (2024-02-27 or 2024-02-27 13:00:00), or "
        "parse them in the table's `sql:` with strptime().", total, examples)]


def _null_times(graph: Graph, table: Table, role: str, col: str) -> list[Finding]:
    c, pre = quote_ident(col), quote_ident(load.pre_name(table.name))
    nulls = _q(graph, f"SELECT COUNT(*) FROM {pre} WHERE {c} IS NULL")[0][0]
    if not nulls or role != "time column":
        return []
    return [Finding(
        "warning", "null_time", table.name, col,
        f"Table {table.name!r}: time column {col!r} is NULL in {nulls:,} row(s); those rows are "
        "never visible at any anchor time. Give them a time, or filter them out in `sql:` to "
        "silence this warning.", nulls)]


def _link_checkable(graph: Graph, table: Table, column: str, dst: str) -> bool:
    return (dst in graph and graph[dst].primary_key is not None
            and column in graph.columns(table.name)
            and graph[dst].primary_key in graph.columns(dst))


def _type_family(dtype: str) -> str:
    if is_integer_dtype(dtype):
        return "integer"
    if is_numeric_dtype(dtype):
        return "decimal"
    if is_string_dtype(dtype):
        return "string"
    return dtype.upper()


def _foreign_key(graph: Graph, table: Table, column: str, dst: str, policy: str) -> list[Finding]:
    pk = graph[dst].primary_key
    assert pk is not None  # guaranteed by _link_checkable
    fk_type, pk_type = graph.columns(table.name)[column], graph.columns(dst)[pk]
    if _type_family(fk_type) != _type_family(pk_type):
        return [Finding(
            "error", "key_type_mismatch", table.name, column,
            f"Table {table.name!r}: foreign key {column!r} has type {fk_type} but the primary key "
            f"{dst}.{pk} it points to has type {pk_type}. Cast one of them in the table's `sql:` "
            "so both have the same type.")]
    return _missing_keys(graph, table, column, dst, pk, policy)


def _missing_keys(graph: Graph, table: Table, column: str, dst: str, pk: str, policy: str) -> list[Finding]:
    t, c = quote_ident(table.name), quote_ident(column)
    d, p = quote_ident(dst), quote_ident(pk)
    missing = f"SELECT f.{c} AS v FROM {t} f ANTI JOIN {d} k ON f.{c} = k.{p} WHERE f.{c} IS NOT NULL"
    total, distinct = _q(graph, f"SELECT COUNT(*), COUNT(DISTINCT v) FROM ({missing})")[0]
    if not total:
        return []
    examples = tuple(r[0] for r in _q(graph, f"SELECT DISTINCT v FROM ({missing}) ORDER BY v LIMIT {EXAMPLES}"))
    severity: Severity = "error" if policy == "error" else "warning"
    consequence = ("" if severity == "error" else
                   " Those rows are kept but link to nothing (they count for the table, not for "
                   f"any {dst!r} row).")
    return [Finding(
        severity, "missing_foreign_key", table.name, column,
        f"Table {table.name!r}: foreign key {column!r} has {total:,} row(s) ({distinct:,} distinct "
        f"value(s)) not found in {dst}.{pk}, e.g. {_fmt(examples)}.{consequence} Add the missing "
        f"{dst!r} rows or filter these rows out in the table's `sql:`.", total, examples)]


def _fmt(values: tuple[Any, ...]) -> str:
    return ", ".join(repr(v) for v in values)
