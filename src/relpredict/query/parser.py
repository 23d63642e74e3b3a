"""Recursive-descent parser for the predictive query language (PQL).

Grammar (keywords case-insensitive; precedence OR < AND < NOT < comparison)::

    query       := PREDICT expr [[RANK] TOP int | CLASSIFY [TOP int]]
                   [FORECAST int TIMEFRAMES] entities [WHERE expr] [ASSUMING expr]
    entities    := FOR EACH column | FOR column = literal | FOR column IN (literal, ...)
    expr        := and (OR and)*
    and         := not (AND not)*
    not         := NOT not | comparison
    comparison  := operand [[NOT] cmp_op operand | [IS] [NOT] IN (literal, ...) | IS [NOT] NULL]
    cmp_op      := = | != | <> | < | <= | > | >= | LIKE | STARTS WITH | ENDS WITH | CONTAINS
    operand     := literal | aggregation | column | ( expr )
    aggregation := AGG ( column [WHERE expr] , start , end [, unit] )
    start       := number | -INF | -INFINITY
    column      := name . name | name . *
    literal     := [-] number | 'string' | "string" | date | TRUE | FALSE | NULL
    date        := YYYY-MM-DD[THH:MM[:SS[.ffffff]]]   (unquoted)

``NOT`` before a word operator (``NOT LIKE``, ``NOT CONTAINS``, ``NOT STARTS WITH``) is
``NOT (a LIKE b)``; ``IS IN`` is ``IN``. A double-quoted text is a name before ``.`` and a string
anywhere else (Kumo writes ``transactions.type = "bank transfer"``).

Each ``_parse_*`` method reads one rule. Every error goes through ``raise_error``, which builds a
``QuerySyntaxError`` that underlines the offending token and says what was expected.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable
from datetime import datetime
from typing import NoReturn

from relpredict.errors import QuerySyntaxError
from relpredict.query.ast import (
    AGGREGATIONS,
    TIME_UNITS,
    Aggregation,
    BoolOp,
    ColumnRef,
    Comparison,
    Expr,
    InList,
    IsNull,
    Literal,
    Not,
    Query,
    aggregations,
)
from relpredict.query.printer import to_pql
from relpredict.query.tokens import Token, TokenKind, tokenize

__all__ = ["parse", "parse_expression"]

_SYMBOL_OPS = {"=": "=", "!=": "!=", "<>": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_WORD_OPS = {"LIKE": "LIKE", "CONTAINS": "CONTAINS", "STARTS": "STARTS WITH", "ENDS": "ENDS WITH"}
_UNITS = {unit: unit for unit in TIME_UNITS} | {unit[:-1]: unit for unit in TIME_UNITS}
_NAME_KINDS = (TokenKind.IDENT, TokenKind.QUOTED_IDENT, TokenKind.KEYWORD)
MAX_CONDITIONS = 10_000
"""The most AND / OR operators one query or filter may hold (a chain of them is walked without
recursion; beyond this a long value list belongs in ``IN (...)``)."""
MAX_WINDOW = {"seconds": 3_155_760_000, "minutes": 52_596_000, "hours": 876_600, "days": 36_525,
              "weeks": 5_218, "months": 1_200}
"""The farthest a window bound may reach from the anchor time, per unit: 100 years."""
MAX_NESTING = 100
MAX_TOP = 1000
"""The largest k of ``RANK TOP k`` / ``CLASSIFY TOP k`` (a job's ``--top-k`` has the same limit)."""
"""The deepest nesting of parentheses and NOTs an expression may have."""
_EXAMPLE = "PREDICT COUNT(orders.*, 0, 30, days) > 0 FOR EACH customers.customer_id"
_NO_DOT = "Expecting table.column; '{name}' needs its table, e.g. users.{name}."
MAX_TIMEFRAMES = 10_000
"""The most consecutive target windows ``FORECAST N TIMEFRAMES`` may ask for."""
_FORECAST = ("FORECAST N TIMEFRAMES comes right after the target (and RANK / CLASSIFY), before "
             "FOR: PREDICT SUM(orders.amount, 0, 7, days) FORECAST 4 TIMEFRAMES FOR EACH "
             "customers.customer_id.")
_VALUES = "numbers, 'strings', \"strings\", dates (2024-01-01), TRUE, FALSE, NULL"


def parse(text: str) -> Query:
    """Parse a whole predictive query; raise ``QuerySyntaxError`` (with position) if malformed."""
    return _Parser(text).parse_query()


def parse_expression(text: str) -> Expr:
    """Parse a lone condition or target expression, e.g. for a saved WHERE clause."""
    return _Parser(text).parse_lone_expression()


class _Parser:
    """Holds the token list and a cursor; one instance parses one text."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.lines = text.split("\n")
        self.tokens = tokenize(text)
        self.index = 0
        self.depth = 0  # parentheses and NOTs open at the cursor
        self.conditions = 0  # AND / OR operators so far

    # ----------------------------------------------------------------- cursor helpers

    @property
    def current(self) -> Token:
        return self.tokens[self.index]

    @property
    def previous(self) -> Token:
        return self.tokens[max(0, self.index - 1)]

    def _peek(self, ahead: int = 1) -> Token:
        return self.tokens[min(self.index + ahead, len(self.tokens) - 1)]

    def _advance(self) -> Token:
        token = self.current
        if token.kind is not TokenKind.EOF:
            self.index += 1
        return token

    def _match_keyword(self, *words: str) -> Token | None:
        """Consume and return the current token if it is one of ``words``."""
        return self._advance() if self.current.is_keyword(*words) else None

    def _match_symbol(self, *symbols: str) -> Token | None:
        return self._advance() if self.current.is_symbol(*symbols) else None

    def _expect_keyword(self, word: str, message: str) -> Token:
        return self._match_keyword(word) or self.raise_error(message)

    def _expect_symbol(self, symbol: str, message: str) -> Token:
        return self._match_symbol(symbol) or self.raise_error(message)

    def raise_error(self, message: str, token: Token | None = None) -> NoReturn:
        """Raise a ``QuerySyntaxError`` underlining ``token`` (default: the current one)."""
        token = token or self.current
        if token.is_keyword("FORECAST") and not message.startswith("FORECAST"):
            message = _FORECAST
        self.error_at(message, token.line, token.col, token.length)

    def error_at(self, message: str, line: int, col: int, length: int) -> NoReturn:
        raise QuerySyntaxError(message, query=self.text, line=line, col=col, length=length)

    def _span(self, start: Token) -> dict[str, int]:
        """Position fields for a node that began at ``start`` and ends at the last token read."""
        end = self.previous
        if end.line == start.line:
            length = end.col + end.length - start.col
        else:
            length = len(self.lines[start.line - 1]) - start.col + 1
        return {"line": start.line, "col": start.col, "length": max(1, length)}

    # ----------------------------------------------------------------- query clauses

    def parse_query(self) -> Query:
        start = self._parse_predict()
        target = self._parse_expr(f"Expecting the target after PREDICT, e.g. {_EXAMPLE}.")
        rank_top, classify, classify_top = self._parse_task_modifier()
        forecast = self._parse_forecast()
        entity, keys = self._parse_entity()
        where = self._parse_optional_clause("WHERE")
        assuming = self._parse_optional_clause("ASSUMING")
        self._parse_end(after_assuming=assuming is not None)
        pos = self._span(start)
        return Query(target, rank_top, classify, entity, where, assuming, keys, classify_top,
                     forecast, **pos)

    def _at_end(self) -> bool:
        return self.current.kind is TokenKind.EOF

    def parse_lone_expression(self) -> Expr:
        if self._at_end():
            self.raise_error("Empty expression; write a condition, e.g. users.age > 40.")
        expr = self._parse_expr("Expecting a condition, e.g. users.age > 40.")
        if not self._at_end():
            self.raise_error(f"Unexpected text after the expression: {self.current.text!r}.")
        return expr

    def _parse_predict(self) -> Token:
        if self.current.kind is TokenKind.EOF:
            self.raise_error(f"Empty query; write e.g. {_EXAMPLE}.")
        return self._expect_keyword("PREDICT", f"A query must start with PREDICT, e.g. {_EXAMPLE}.")

    def _parse_task_modifier(self) -> tuple[int | None, bool, int | None]:
        """``RANK TOP k`` (or ``TOP k``), ``CLASSIFY [TOP k]`` after the target, or neither.

        Returns ``(rank_top, classify, classify_top)``.
        """
        if self._match_keyword("CLASSIFY"):
            if self.current.is_keyword("RANK"):
                self.raise_error("Use either CLASSIFY or RANK TOP k, not both.")
            top = self._parse_top_k() if self._match_keyword("TOP") else None
            return None, True, top
        if self._match_keyword("RANK"):
            self._expect_keyword("TOP", "RANK needs TOP k, e.g. RANK TOP 10.")
        elif not self._match_keyword("TOP"):
            return None, False, None
        k = self._parse_top_k()
        if self.current.is_keyword("CLASSIFY"):
            self.raise_error("Use either RANK TOP k or CLASSIFY, not both; to return k classes "
                             "write CLASSIFY TOP k.")
        return k, False, None

    def _parse_forecast(self) -> int | None:
        """``FORECAST N TIMEFRAMES`` (N consecutive target windows), or nothing."""
        if not self._match_keyword("FORECAST"):
            return None
        token = self.current
        example = "e.g. FORECAST 4 TIMEFRAMES"
        if token.kind is not TokenKind.NUMBER or not token.value.isdigit() or int(token.value) < 1:
            self.raise_error(f"FORECAST needs a positive whole number of timeframes, {example}.")
        if int(token.value) > MAX_TIMEFRAMES:
            self.raise_error(f"FORECAST {token.value} TIMEFRAMES is beyond {MAX_TIMEFRAMES:,}, the most "
                             "timeframes a forecast may have: give a smaller number.")
        self._advance()
        word = self.current
        if word.kind is not TokenKind.IDENT or word.value.upper() not in ("TIMEFRAMES", "TIMEFRAME"):
            self.raise_error(f"FORECAST {token.value} needs the word TIMEFRAMES after it, {example}.")
        self._advance()
        return int(token.value)

    def _parse_top_k(self) -> int:
        token = self.current
        if token.kind is not TokenKind.NUMBER or not token.value.isdigit() or int(token.value) < 1:
            self.raise_error("TOP needs a positive whole number, e.g. RANK TOP 10.")
        if int(token.value) > MAX_TOP:
            self.raise_error(f"TOP {token.value} is beyond {MAX_TOP:,}, the most items or classes a "
                             "query may return per entity: give a smaller k.")
        self._advance()
        return int(token.value)

    def _parse_entity(self) -> tuple[ColumnRef, tuple[Literal, ...] | None]:
        """``FOR EACH table.primary_key``, or a key list: ``FOR t.pk = v``, ``FOR t.pk IN (...)``."""
        self._expect_keyword("FOR", "Expecting FOR EACH after the target.")
        each = self.current.is_keyword("EACH") and not self._peek().is_symbol(".")
        if each:
            self._advance()
        token = self.current
        if not each and not (token.kind in _NAME_KINDS and self._peek().is_symbol(".")):
            self.raise_error("Expecting EACH after FOR (FOR EACH table.primary_key), or a key "
                             "list (FOR users.user_id = 1, FOR users.user_id IN (1, 2)).")
        if token.kind not in _NAME_KINDS or (
            token.kind is TokenKind.KEYWORD and not self._peek().is_symbol(".")
        ):
            self.raise_error("Expecting the entity after FOR EACH, e.g. FOR EACH users.user_id.")
        column = self._parse_column(
            star="The entity must be one column, the table's primary key, "
            "e.g. FOR EACH users.user_id; table.* is only allowed in COUNT(...).",
            no_dot="Expecting . and the primary key after '{name}': FOR EACH {name}.<primary key>.",
        )
        if each:
            if self.current.is_symbol("=") or self.current.is_keyword("IN"):
                self.raise_error("FOR EACH predicts for every entity; to list keys drop EACH: "
                                 f"FOR {_text(column)} = 1 or FOR {_text(column)} IN (1, 2).")
            return column, None
        return column, self._parse_entity_keys(column, token)

    def _parse_entity_keys(self, column: ColumnRef, start: Token) -> tuple[Literal, ...]:
        """The ``= v`` or ``IN (v1, ...)`` after ``FOR table.primary_key``."""
        if self._match_symbol("="):
            if not self._literal_starts():
                self.raise_error(f"Expecting a key after FOR {_text(column)} =, e.g. = 1 or = 'a'.")
            return (self._parse_list_value(),)
        if self._match_keyword("IN"):
            return self._parse_values()
        self.raise_error("Expecting EACH after FOR (FOR EACH table.primary_key), or a key list "
                         f"(FOR {_text(column)} = 1, FOR {_text(column)} IN (1, 2)).", start)

    def _parse_optional_clause(self, keyword: str) -> Expr | None:
        if not self._match_keyword(keyword):
            return None
        return self._parse_expr(f"Expecting a condition after {keyword}.")

    def _parse_end(self, after_assuming: bool) -> None:
        token = self.current
        if token.kind is TokenKind.EOF:
            return
        if token.is_keyword("WHERE") and after_assuming:
            self.raise_error("WHERE must come before ASSUMING.")
        if token.is_keyword("WHERE", "ASSUMING"):
            self.raise_error(
                f"A query has at most one {token.value} clause; join conditions with AND."
            )
        self.raise_error(
            f"Unexpected text after the query: {token.text!r}. A query ends after FOR EACH "
            "and its optional WHERE and ASSUMING conditions."
        )

    # ----------------------------------------------------------------- boolean expressions

    def _parse_expr(self, missing: str) -> Expr:
        """An expression, or ``missing`` as the error when none starts here."""
        self._require_expr_start(missing)
        return self._parse_or()

    def _require_expr_start(self, message: str) -> None:
        token = self.current
        starts = (
            token.kind
            in (TokenKind.IDENT, TokenKind.QUOTED_IDENT, TokenKind.NUMBER, TokenKind.STRING,
                TokenKind.DATE)
            or token.is_keyword("NOT", "TRUE", "FALSE", "NULL")
            or token.is_symbol("(", "-")
            or (token.kind is TokenKind.KEYWORD and self._peek().is_symbol("."))
        )
        if not starts:
            self.raise_error(message)

    def _parse_or(self) -> Expr:
        start = self.current
        expr = self._parse_and()
        while self._match_keyword("OR"):
            self._count_condition()
            right = self._parse_operand_of("OR", self._parse_and)
            expr = BoolOp("OR", expr, right, **self._span(start))
        return expr

    def _parse_and(self) -> Expr:
        start = self.current
        expr = self._parse_not()
        while self._match_keyword("AND"):
            self._count_condition()
            right = self._parse_operand_of("AND", self._parse_not)
            expr = BoolOp("AND", expr, right, **self._span(start))
        return expr

    def _count_condition(self) -> None:
        self.conditions += 1
        if self.conditions >= MAX_CONDITIONS:
            self.raise_error(f"The query combines more than {MAX_CONDITIONS:,} conditions with AND / OR, "
                             "the most relpredict takes: for a long list of values write "
                             "table.column IN (v1, v2, ...) instead.", self.previous)

    def _nest(self, token: Token) -> None:
        self.depth += 1
        if self.depth > MAX_NESTING:
            self.raise_error(f"The expression nests more than {MAX_NESTING} levels deep (parentheses "
                             "or NOT): simplify it, e.g. drop redundant parentheses.", token)

    def _parse_operand_of(self, op: str, parse_next: Callable[[], Expr]) -> Expr:
        self._require_expr_start(f"Expecting a condition after {op}.")
        return parse_next()

    def _parse_not(self) -> Expr:
        start = self.current
        if not (start.is_keyword("NOT") and not self._peek().is_symbol(".")):
            return self._parse_comparison()
        self._nest(self._advance())
        expr = self._parse_operand_of("NOT", self._parse_not)
        self.depth -= 1
        return Not(expr, **self._span(start))

    # ----------------------------------------------------------------- comparisons

    def _parse_comparison(self) -> Expr:
        start = self.current
        left = self._parse_operand()
        expr = self._parse_comparison_tail(left, start)
        if expr is not left and self._comparison_op() is not None:
            self.raise_error("Comparisons cannot be chained; join them with AND.")
        return expr

    def _parse_comparison_tail(self, left: Expr, start: Token) -> Expr:
        if self.current.is_keyword("IS"):
            if self._peek().is_keyword("IN") or (
                self._peek().is_keyword("NOT") and self._peek(2).is_keyword("IN")
            ):
                self._advance()  # IS IN (...) means IN (...)
                return self._parse_in_list(left, start)
            return self._parse_is_null(left, start)
        if self.current.is_keyword("IN") or (
            self.current.is_keyword("NOT") and self._peek().is_keyword("IN")
        ):
            return self._parse_in_list(left, start)
        if self.current.is_keyword("NOT") and self._peek().value in _WORD_OPS and (
            self._peek().kind is TokenKind.KEYWORD
        ):
            self._advance()  # a NOT b LIKE c: the negation of the comparison
            negated = self._parse_comparison_tail(left, start)
            return Not(negated, **self._span(start))
        if self.current.is_keyword("NOT") and self._peek().is_keyword("NULL"):
            self.raise_error("Write IS NOT NULL (or IS NULL) to test for a missing value.")
        if self.current.is_keyword("NOT") and self._peek().kind is TokenKind.SYMBOL and (
            self._peek().value in _SYMBOL_OPS
        ):
            self.raise_error(f"NOT goes before the whole comparison: write NOT a "
                             f"{self._peek().value} b (or use != for 'not equal').")
        op = self._comparison_op()
        if op is None:
            return left
        op_token = self._advance()
        if op_token.is_keyword("STARTS", "ENDS"):
            self._expect_keyword("WITH", f"Expecting WITH after {op_token.value}.")
        self._require_expr_start(f"Expecting a value after {op}.")
        right = self._parse_operand()
        return Comparison(op, left, right, **self._span(start))

    def _comparison_op(self) -> str | None:
        """The canonical operator at the cursor, without consuming it, or None."""
        token = self.current
        if token.kind is TokenKind.SYMBOL:
            return _SYMBOL_OPS.get(token.value)
        if token.kind is TokenKind.KEYWORD:
            return _WORD_OPS.get(token.value)
        return None

    def _parse_is_null(self, left: Expr, start: Token) -> IsNull:
        self._advance()
        negated = self._match_keyword("NOT") is not None
        self._expect_keyword("NULL", "Expecting NULL or NOT NULL after IS.")
        return IsNull(left, negated, **self._span(start))

    def _parse_in_list(self, left: Expr, start: Token) -> InList:
        negated = self._match_keyword("NOT") is not None
        self._advance()
        values = self._parse_values()
        return InList(left, values, negated, **self._span(start))

    def _parse_values(self) -> tuple[Literal, ...]:
        """``(v1, v2, ...)`` after IN: at least one constant."""
        self._expect_symbol("(", "Expecting ( after IN, e.g. IN ('a', 'b').")
        if self.current.is_symbol(")"):
            self.raise_error("IN needs at least one value, e.g. IN ('a', 'b').")
        values = [self._parse_list_value()]
        while self._match_symbol(","):
            values.append(self._parse_list_value())
        self._expect_symbol(")", "Expecting , or ) in the IN list.")
        return tuple(values)

    def _parse_list_value(self) -> Literal:
        value = self._parse_literal()
        if value is None:
            self.raise_error(f"An IN list holds only constants: {_VALUES}.")
        return value

    def _literal_starts(self) -> bool:
        """Whether a constant starts at the cursor (nothing is consumed)."""
        token = self.current
        return (
            token.kind in (TokenKind.STRING, TokenKind.NUMBER, TokenKind.DATE)
            or token.is_symbol("-")
            or (token.kind is TokenKind.QUOTED_IDENT and not self._peek().is_symbol("."))
            or (token.is_keyword("TRUE", "FALSE", "NULL") and not self._peek().is_symbol("."))
        )

    # ----------------------------------------------------------------- operands

    def _parse_operand(self) -> Expr:
        """A literal, an aggregation, a column, or a parenthesised expression."""
        literal = self._parse_literal()
        if literal is not None:
            return literal
        if self.current.is_symbol("("):
            return self._parse_parenthesised()
        if self.current.kind is TokenKind.IDENT and self._peek().is_symbol("("):
            return self._parse_aggregation()
        if self.current.kind in _NAME_KINDS and self._peek().is_symbol("."):
            return self._parse_column(star="table.* is only allowed inside COUNT(...).")
        if self.current.kind in (TokenKind.IDENT, TokenKind.QUOTED_IDENT):
            name = self.current.text
            self.raise_error(
                f"Expecting table.column; '{name}' needs its table, e.g. users.{name}."
            )
        self.raise_error("Expecting a value, a table.column or an aggregation.")

    def _parse_parenthesised(self) -> Expr:
        opening = self._advance()
        self._nest(opening)
        expr = self._parse_expr("Expecting an expression after (.")
        self.depth -= 1
        where = f"line {opening.line}, col {opening.col}"
        self._expect_symbol(")", f"Expecting ) to close the ( at {where}.")
        return expr

    def _parse_literal(self) -> Literal | None:
        """A constant at the cursor, consumed; None (nothing consumed) if there is none."""
        start = self.current
        if start.kind is TokenKind.STRING or (
            start.kind is TokenKind.QUOTED_IDENT and not self._peek().is_symbol(".")
        ):
            value: int | float | str | bool | datetime | None = start.value
        elif start.kind is TokenKind.DATE:
            value = self._date(start)
        elif start.is_keyword("TRUE", "FALSE", "NULL") and not self._peek().is_symbol("."):
            value = {"TRUE": True, "FALSE": False, "NULL": None}[start.value]
        elif start.kind is TokenKind.NUMBER or start.is_symbol("-"):
            value = self._parse_signed_number("Expecting a number after -.")
            return Literal(value, **self._span(start))
        else:
            return None
        self._advance()
        return Literal(value, **self._span(start))

    def _date(self, token: Token) -> datetime:
        try:
            return datetime.fromisoformat(token.value)
        except ValueError:
            self.raise_error(f"Invalid date {token.text}; write a real date as YYYY-MM-DD, "
                             "e.g. 2024-01-31, optionally with a time: 2024-01-31T13:00:00.")

    def _parse_signed_number(self, message: str) -> int | float:
        negative = self._match_symbol("-") is not None
        token = self.current
        if token.kind is not TokenKind.NUMBER:
            self.raise_error(message)
        self._advance()
        is_int = token.value.isdigit()
        number = int(token.value) if is_int else float(token.value)
        if not math.isfinite(number) or (isinstance(number, int) and number.bit_length() > 126):
            self.raise_error(f"The number {token.text} is too large: numbers in a query have at most "
                             "38 digits (whole) or stay below 1.8e308 (decimal).", token)
        return -number if negative else number

    def _parse_column(self, star: str, no_dot: str = _NO_DOT) -> ColumnRef:
        """``table.column`` or ``table.*``; ``star`` is the error for ``*`` (empty: allowed)."""
        start = self._advance()
        if not self._match_symbol("."):
            self.raise_error(no_dot.format(name=start.text), start)
        if start.kind is TokenKind.QUOTED_IDENT and not start.value:
            self.raise_error('Empty quoted identifier ""; a name needs at least one character.',
                             start)
        column = self.current
        if column.is_symbol("*"):
            if star:
                self.raise_error(star)
        elif column.kind not in _NAME_KINDS:
            self.raise_error(f"Expecting a column name after '{start.text}.'.")
        elif column.kind is TokenKind.QUOTED_IDENT and not column.value:
            self.raise_error('Empty quoted identifier ""; a name needs at least one character.')
        self._advance()
        name = "*" if column.is_symbol("*") else _name(column)
        return ColumnRef(_name(start), name, **self._span(start))

    # ----------------------------------------------------------------- aggregations

    def _parse_aggregation(self) -> Aggregation:
        """``AGG(table.column [WHERE filter], start, end[, unit])``."""
        start = self._advance()
        func = self._aggregation_name(start)
        self._advance()  # the "(" checked by the caller
        column = self._parse_aggregated_column(func)
        row_filter = self._parse_row_filter(func)
        if self.current.is_symbol(")") and func == "LIST_DISTINCT":
            self._advance()
            self.error_at(
                f"LIST_DISTINCT without a time window (static link prediction) is not supported "
                f"yet: its labels would be the very links the model reads. Give it a window "
                f"ahead of the anchor time instead, e.g. LIST_DISTINCT({_text(column)}, 0, 30, "
                f"days) RANK TOP 10.",
                **self._span(start),
            )
        self._expect_symbol(
            ",",
            f"Expecting , and a time window after the column: "
            f"{func}({_text(column)}, start, end[, unit]), e.g. 0, 30, days.",
        )
        window_start = self._parse_window_start()
        self._expect_symbol(",", f"Expecting a time window end (a number) in {func}(...).")
        window_end = self._parse_window_end(func)
        unit = self._parse_unit() if self._match_symbol(",") else "days"
        self._expect_symbol(")", f"Expecting ) to close {func}(...).")
        for bound in (window_start, window_end):
            if bound is not None and not abs(bound) <= MAX_WINDOW[unit]:
                self.error_at(
                    f"The window bound {bound:g} {unit} in {func}(...) is beyond "
                    f"{MAX_WINDOW[unit]:,} {unit} (100 years), the longest window relpredict "
                    "takes: give a shorter window (a window start of -INF reaches all history).",
                    **self._span(start))
        return Aggregation(
            func, column, row_filter, window_start, window_end, unit, **self._span(start)
        )

    def _aggregation_name(self, token: Token) -> str:
        func = token.value.upper()
        if func in AGGREGATIONS:
            return func
        close = difflib.get_close_matches(func, AGGREGATIONS, n=1)
        hint = (
            f"did you mean {close[0]}?" if close else "use one of " + ", ".join(AGGREGATIONS) + "."
        )
        self.raise_error(f"Unknown aggregation '{token.text}'; {hint}", token)

    def _parse_aggregated_column(self, func: str) -> ColumnRef:
        example = "orders.*" if func == "COUNT" else "orders.amount"
        if self.current.kind is TokenKind.IDENT and self._peek().is_symbol("("):
            inner = self.current.text
            self.raise_error(
                f"Aggregations cannot be nested: {func}(...) aggregates a table.column, not "
                f"{inner}(...), and this is not supported. Aggregate the column directly, e.g. "
                f"{func}({example}, 0, 30), or predict {inner}(...) itself and compare it, "
                f"e.g. {inner.upper()}(orders.amount, 0, 30) > 100."
            )
        if self.current.kind not in _NAME_KINDS:
            self.raise_error(
                f"Expecting table.column in {func}(...), e.g. {func}({example}, 0, 30)."
            )
        star = (
            ""
            if func == "COUNT"
            else f"table.* is only allowed in COUNT; {func} needs a column, e.g. {func}({example}, 0, 30)."
        )
        return self._parse_column(star=star)

    def _parse_row_filter(self, func: str) -> Expr | None:
        if not self._match_keyword("WHERE"):
            return None
        row_filter = self._parse_expr(f"Expecting a row condition after WHERE in {func}(...).")
        nested = aggregations(row_filter)
        if nested:
            inner = nested[0]
            self.error_at(
                f"An aggregation cannot be nested in the row condition of {func}(...): the "
                f"condition reads one row at a time. Use the row's own columns (or those of "
                f"tables it points to), and put conditions on aggregations in the query's "
                f"WHERE, e.g. WHERE {to_pql(inner)} > 0.",
                inner.line,
                inner.col,
                inner.length,
            )
        return row_filter

    def _parse_window_start(self) -> float | None:
        message = "A window start must be a number or -INF."
        if self.current.is_symbol("-") and (
            self._peek().is_keyword("INF")
            or (self._peek().kind is TokenKind.IDENT and self._peek().value.upper() == "INFINITY")
        ):
            self._advance()
            self._advance()
            return None
        if self.current.kind is not TokenKind.NUMBER and not self.current.is_symbol("-"):
            self.raise_error(message)
        return float(self._parse_signed_number(message))

    def _parse_window_end(self, func: str) -> float:
        message = f"Expecting a time window end (a number) in {func}(...)."
        if self.current.kind is not TokenKind.NUMBER and not self.current.is_symbol("-"):
            self.raise_error(message)
        return float(self._parse_signed_number(message))

    def _parse_unit(self) -> str:
        token = self.current
        if token.kind is not TokenKind.IDENT:
            self.raise_error(
                f"Expecting a time unit after the window end: {', '.join(TIME_UNITS)}."
            )
        unit = _UNITS.get(token.value.lower()) if token.kind is TokenKind.IDENT else None
        if unit is None:
            self.raise_error(
                f"Unknown time unit '{token.text}'; use one of {', '.join(TIME_UNITS)}."
            )
        self._advance()
        return unit


def _name(token: Token) -> str:
    """The identifier a name token stands for (a keyword keeps its spelling as written)."""
    return token.text if token.kind is TokenKind.KEYWORD else token.value


def _text(column: ColumnRef) -> str:
    return f"{column.table}.{column.column}"
