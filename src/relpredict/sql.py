"""Quoting for SQL text that relpredict writes itself.

Values never go into SQL text: they are bound as parameters. Identifiers (table and column names)
cannot be bound, so they are quoted here; a literal is only used where an engine accepts no
parameter (``ATTACH``), and is quoted here too.
"""

from __future__ import annotations


def quote_ident(name: str) -> str:
    """Quote an identifier for DuckDB / standard SQL: ``a"b`` → ``"a""b"``."""
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    """Quote a string literal for DuckDB / standard SQL: ``it's`` → ``'it''s'``."""
    return "'" + value.replace("'", "''") + "'"
