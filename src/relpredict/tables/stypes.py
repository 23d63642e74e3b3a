"""Semantic types of columns and their inference from data.

The semantic type (stype) says how a model reads a column, which the storage type alone does not:
an integer may be a count (numerical), a code (categorical) or a key (ID).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from relpredict.errors import ConfigError


class SType(str, Enum):
    """How a column is read by queries and models."""

    numerical = "numerical"  # a quantity: normalised, aggregated with SUM/AVG/MIN/MAX
    categorical = "categorical"  # one value out of a set: embedded, counted, compared with =
    multicategorical = "multicategorical"  # a set of values (a list, or text with separators)
    text = "text"  # free text: hashed n-grams
    timestamp = "timestamp"  # a point in time
    ID = "ID"  # a key: never a feature by itself, only a link

    @classmethod
    def parse(cls, value: str, *, where: str) -> SType:
        """Read a stype name from user input; ``where`` names the place for the error."""
        for member in cls:
            if member.value.lower() == str(value).lower():
                return member
        names = ", ".join(m.value for m in cls)
        raise ConfigError(f"{where}: unknown semantic type {value!r}; use one of {names}.")


@dataclass(frozen=True)
class ColumnProfile:
    """What inference needs to know of one column, computed in one DuckDB pass."""

    name: str
    dtype: str  # DuckDB type name, e.g. BIGINT, VARCHAR, TIMESTAMP, VARCHAR[]
    rows: int
    distinct: int
    avg_length: float | None  # strings only: mean number of characters
    avg_words: float | None  # strings only: mean number of whitespace-separated words
    separator_share: float | None  # strings only: share of values holding '|' or ';'


NUMERIC_PREFIXES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT",
                    "UINTEGER", "UBIGINT", "UHUGEINT", "FLOAT", "DOUBLE", "DECIMAL", "REAL")
INTEGER_PREFIXES = NUMERIC_PREFIXES[:10]


def is_numeric_dtype(dtype: str) -> bool:
    return dtype.upper().startswith(NUMERIC_PREFIXES)


def is_integer_dtype(dtype: str) -> bool:
    return dtype.upper().startswith(INTEGER_PREFIXES)


def is_temporal_dtype(dtype: str) -> bool:
    return dtype.upper().startswith(("TIMESTAMP", "DATE"))


def is_string_dtype(dtype: str) -> bool:
    return dtype.upper() in ("VARCHAR", "STRING", "TEXT")


def looks_like_id(name: str) -> bool:
    """``id``, ``customer_id``, ``driverId``, ``userID``: names that hold keys."""
    lower = name.lower()
    return lower == "id" or lower.endswith("_id") or name.endswith(("Id", "ID"))


def infer_stype(profile: ColumnProfile) -> SType:
    """Guess a column's semantic type from its name, storage type and values.

    Keys are recognised by name (the graph marks its declared keys as ID in any case); lists are
    multicategorical; long or many-word strings are text; short strings holding separators in most
    rows are multicategorical; other strings and booleans are categorical.
    """
    dtype = profile.dtype.upper()
    if dtype.endswith("[]"):
        return SType.multicategorical
    if is_temporal_dtype(dtype):
        return SType.timestamp
    if dtype == "BOOLEAN":
        return SType.categorical
    if looks_like_id(profile.name) and (is_integer_dtype(dtype) or is_string_dtype(dtype)):
        # An undeclared key-like column is a key only when nearly unique; a code with few
        # values (F1's statusId) is a category.
        return SType.ID if profile.distinct > 0.5 * profile.rows else SType.categorical
    if is_numeric_dtype(dtype):
        return SType.numerical
    if is_string_dtype(dtype):
        return _string_stype(profile)
    return SType.categorical


def _string_stype(profile: ColumnProfile) -> SType:
    if (profile.avg_words or 0) >= 4 or (profile.avg_length or 0) >= 40:
        return SType.text
    if (profile.separator_share or 0) >= 0.5:
        return SType.multicategorical
    return SType.categorical
