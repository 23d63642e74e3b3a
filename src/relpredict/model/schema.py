"""The data's schema as a model was trained on it, and the check that today's data still has it.

Training stores every table's columns and DuckDB types in the artifact (``info.schema``). Before
a job scores anything, :func:`check_schema` compares them with the graph as it is now: a column
that is gone, or whose type changed kind (a number that became text, a time that became a
number), is refused with a message naming the table, the column, the old and the new type. A
change within one kind (INTEGER → BIGINT, FLOAT → DOUBLE, TIMESTAMP → TIMESTAMP_NS) and a new
column are fine: the model reads the same values. Artifacts saved before the schema was stored
are not checked.
"""

from __future__ import annotations

import re
from typing import Any

from relpredict.errors import DataError
from relpredict.graph.graph import Graph

__all__ = ["SchemaChangedError", "check_schema", "graph_schema", "schema_changes", "type_kind"]

Schema = dict[str, dict[str, str]]

_KINDS = (
    ("integer", re.compile(r"^(U?(TINY|SMALL|BIG|HUGE)?INT(EGER)?|U?INT(8|16|32|64|128)|LONG|SHORT)$")),
    ("number", re.compile(r"^(FLOAT4?|FLOAT8|REAL|DOUBLE( PRECISION)?|DECIMAL.*|NUMERIC.*)$")),
    ("time", re.compile(r"^(TIMESTAMP.*|DATETIME|DATE)$")),
    ("text", re.compile(r"^(VARCHAR.*|TEXT|STRING|CHAR.*|BPCHAR|UUID|ENUM.*)$")),
    ("boolean", re.compile(r"^(BOOL(EAN)?|LOGICAL)$")),
)


class SchemaChangedError(DataError):
    """The data a model reads no longer has the columns or types it was trained on."""


def type_kind(duckdb_type: str) -> str:
    """``integer``, ``number``, ``time``, ``text``, ``boolean``, or the type itself (lists, ...)."""
    text = duckdb_type.strip().upper()
    for kind, pattern in _KINDS:
        if pattern.match(text):
            return kind
    return text


def graph_schema(graph: Graph) -> Schema:
    """Every table's columns and DuckDB types, as stored in an artifact."""
    return {name: dict(graph.columns(name)) for name in graph.table_names}


def schema_changes(stored: Schema, graph: Graph) -> list[str]:
    """What changed since training, one sentence per table or column (none: the same schema)."""
    changes: list[str] = []
    for table, columns in stored.items():
        if table not in graph:
            changes.append(f"the table {table} is gone")
            continue
        now = graph.columns(table)
        for column, old in columns.items():
            new = now.get(column)
            if new is None:
                changes.append(f"column {table}.{column} ({old}) is gone")
            elif type_kind(new) != type_kind(old):
                changes.append(f"column {table}.{column} was {old} and is now {new}")
    return changes


def check_schema(info: dict[str, Any] | None, graph: Graph, model_ref: str) -> None:
    """Raise :class:`SchemaChangedError` when ``graph`` lost a column or a type the model was
    trained on (``info`` is the model's ``info``; nothing stored: nothing to check)."""
    stored = (info or {}).get("schema")
    if not stored:
        return
    changes = schema_changes(stored, graph)
    if changes:
        shown = "; ".join(changes[:5]) + (f"; and {len(changes) - 5} more" if len(changes) > 5 else "")
        raise SchemaChangedError(
            f"The data changed since model {model_ref} was trained: {shown}. The model would read "
            "wrong or missing values: restore the columns as they were, or retrain the model on the "
            "data as it is now (`relpredict train`).")
