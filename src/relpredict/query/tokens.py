"""Tokenizer for the predictive query language (PQL).

The parser never looks at raw text: it reads ``Token`` objects that remember where they came
from (1-based line and column, and length), so that every syntax error can underline the exact
text at fault. Keywords are case-insensitive; identifiers keep their case as written (the binder
matches them to the stored names, exactly or else case-insensitively when that is unambiguous).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import NoReturn

from relpredict.errors import QuerySyntaxError

KEYWORDS = frozenset(
    "PREDICT FOR EACH WHERE ASSUMING RANK TOP CLASSIFY AND OR NOT IN IS NULL LIKE STARTS "
    "WITH ENDS CONTAINS TRUE FALSE INF FORECAST".split()
)
"""Reserved words (``TIMEFRAMES`` after ``FORECAST N`` is read as a plain word)."""

SYMBOLS = ("!=", "<>", "<=", ">=", "=", "<", ">", "(", ")", ",", ".", "*", "-")
"""Operators and punctuation, longest first so that ``<=`` wins over ``<``."""

DIGITS = "0123456789"

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?)?")
"""An unquoted ISO date or date-time literal: ``2024-01-01``, ``2024-01-01T13:00:00``."""


class TokenKind(StrEnum):
    """What a token is; the parser dispatches on this and on ``Token.value``."""

    KEYWORD = "keyword"  # value is the keyword in upper case
    IDENT = "identifier"  # value is the name as written
    QUOTED_IDENT = "quoted identifier"  # value is the text without quotes, "" unescaped: a
    # name before "." (``"my table".x``), else a string literal (``= "bank transfer"``)
    NUMBER = "number"  # value is the digits as written
    DATE = "date"  # value is the ISO text as written (``2024-01-01``, ``2024-01-01T13:00``)
    STRING = "string"  # value is the text without quotes, '' unescaped
    SYMBOL = "symbol"  # value is the operator or punctuation
    EOF = "end of query"  # value is empty; placed just after the last character


@dataclass(frozen=True)
class Token:
    """One lexical unit with its place in the source (``line``/``col`` 1-based)."""

    kind: TokenKind
    text: str  # the exact source text
    value: str  # the meaning (see TokenKind)
    line: int
    col: int

    @property
    def length(self) -> int:
        """Characters to underline; at least one so the end of the query can be pointed at."""
        return max(1, len(self.text))

    def is_keyword(self, *words: str) -> bool:
        """True when this token is one of the given keywords (upper case)."""
        return self.kind is TokenKind.KEYWORD and self.value in words

    def is_symbol(self, *symbols: str) -> bool:
        """True when this token is one of the given operators or punctuation marks."""
        return self.kind is TokenKind.SYMBOL and self.value in symbols


def is_name_start(char: str) -> bool:
    """Whether ``char`` may begin an unquoted identifier (letters, any script, or ``_``)."""
    return char.isalpha() or char == "_"


def is_name_char(char: str) -> bool:
    """Whether ``char`` may continue an unquoted identifier."""
    return char.isalnum() or char == "_"


def is_plain_name(name: str) -> bool:
    """Whether ``name`` reads back as one identifier without double quotes."""
    return bool(name) and is_name_start(name[0]) and all(is_name_char(c) for c in name)


def tokenize(text: str) -> list[Token]:
    """Split ``text`` into tokens, ending with one EOF token.

    Raises ``QuerySyntaxError`` (with position) on an unterminated string or quoted identifier,
    a malformed number, or a character the language does not use.
    """
    return _Lexer(text).run()


class _Lexer:
    """Single pass over the text; tracks line and column as it goes."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.line = 1
        self.line_start = 0
        self.tokens: list[Token] = []

    @property
    def col(self) -> int:
        return self.pos - self.line_start + 1

    def run(self) -> list[Token]:
        while self._skip_blank():
            self._read_token()
        self.tokens.append(Token(TokenKind.EOF, "", "", self.line, self.col))
        return self.tokens

    def _skip_blank(self) -> bool:
        """Skip whitespace and ``--`` comments; return whether any text is left."""
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if char == "\n":
                self.pos += 1
                self.line, self.line_start = self.line + 1, self.pos
            elif char.isspace():
                self.pos += 1
            elif self.text.startswith("--", self.pos):
                end = self.text.find("\n", self.pos)
                self.pos = len(self.text) if end < 0 else end
            else:
                return True
        return False

    def _read_token(self) -> None:
        char = self.text[self.pos]
        date = _DATE.match(self.text, self.pos) if char in DIGITS else None
        if date and date.end() < len(self.text) and is_name_char(self.text[date.end()]):
            end = date.end()
            while end < len(self.text) and (is_name_char(self.text[end]) or self.text[end] in ":."):
                end += 1
            bad = self.text[self.pos : end]
            self._fail(f"Invalid date {bad!r}; write YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS], "
                       "e.g. 2024-01-31T13:00:00.", len(bad))
        if date:
            self._emit(TokenKind.DATE, date.end(), date.group())
        elif char in DIGITS:
            self._read_number()
        elif is_name_start(char):
            self._read_word()
        elif char in "'\"":
            self._read_quoted(char)
        else:
            self._read_symbol()

    def _emit(self, kind: TokenKind, end: int, value: str) -> None:
        raw = self.text[self.pos : end]
        self.tokens.append(Token(kind, raw, value, self.line, self.col))
        self.pos = end

    def _scan(self, start: int, accept: str) -> int:
        """Index of the first character at or after ``start`` not in ``accept``."""
        while start < len(self.text) and self.text[start] in accept:
            start += 1
        return start

    def _read_number(self) -> None:
        """Digits, an optional fraction and an optional exponent: ``30``, ``2.5``, ``1e-07``.

        A keyword may follow without a space (``> 2FOR EACH``, as Kumo accepts); any other word
        glued to a number (``30days``) is an error.
        """
        end = self._scan(self.pos, DIGITS)
        if self._peek_is(end, ".") and self._peek_is(end + 1, DIGITS):
            end = self._scan(end + 1, DIGITS)
        if self._peek_is(end, "eE"):
            digits_at = end + 2 if self._peek_is(end + 1, "+-") else end + 1
            if self._peek_is(digits_at, DIGITS):
                end = self._scan(digits_at, DIGITS)
        if end < len(self.text) and is_name_char(self.text[end]) and not self._keyword_at(end):
            self._fail_number(end)
        self._emit(TokenKind.NUMBER, end, self.text[self.pos : end])

    def _keyword_at(self, start: int) -> bool:
        """Whether the word starting at ``start`` is a keyword."""
        end = start
        while end < len(self.text) and is_name_char(self.text[end]):
            end += 1
        word = self.text[start:end]
        return is_name_start(word[0]) and word.upper() in KEYWORDS

    def _peek_is(self, index: int, chars: str) -> bool:
        return index < len(self.text) and self.text[index] in chars

    def _fail_number(self, end: int) -> NoReturn:
        while end < len(self.text) and is_name_char(self.text[end]):
            end += 1
        bad = self.text[self.pos : end]
        self._fail(
            f"Invalid number '{bad}'; separate a number from the next word with a space or comma.",
            len(bad),
        )

    def _read_word(self) -> None:
        end = self.pos
        while end < len(self.text) and is_name_char(self.text[end]):
            end += 1
        word = self.text[self.pos : end]
        if word.upper() in KEYWORDS:
            self._emit(TokenKind.KEYWORD, end, word.upper())
        else:
            self._emit(TokenKind.IDENT, end, word)

    def _read_quoted(self, quote: str) -> None:
        """A 'string' or a "quoted identifier" (a name before ``.``, else a string, as in Kumo);
        a doubled quote stands for one quote. An empty "" is refused by the parser where it would
        be a name."""
        end, parts = self.pos + 1, []
        while True:
            close = self._find_close(end, quote)
            parts.append(self.text[end:close])
            if not self.text.startswith(quote * 2, close):
                break
            parts.append(quote)
            end = close + 2
        value = "".join(parts)
        kind = TokenKind.STRING if quote == "'" else TokenKind.QUOTED_IDENT
        self._emit(kind, close + 1, value)

    def _find_close(self, start: int, quote: str) -> int:
        """Index of the closing quote on the same line, or a syntax error at the opening one."""
        line_end = self.text.find("\n", start)
        line_end = len(self.text) if line_end < 0 else line_end
        close = self.text.find(quote, start, line_end)
        if close < 0:
            what = "string" if quote == "'" else "quoted identifier or string"
            self._fail(
                f"Unterminated {what}; close it with {quote} on the same line.",
                line_end - self.pos,
            )
        return close

    def _read_symbol(self) -> None:
        for symbol in SYMBOLS:
            if self.text.startswith(symbol, self.pos):
                self._emit(TokenKind.SYMBOL, self.pos + len(symbol), symbol)
                return
        char = self.text[self.pos]
        hint = "; use ' for strings" if char == "`" else ""
        self._fail(f"Unexpected character {char!r}{hint}.", 1)

    def _fail(self, message: str, length: int) -> NoReturn:
        raise QuerySyntaxError(
            message, query=self.text, line=self.line, col=self.col, length=length
        )
