"""The names, ids, types and SQL the BigQuery sink uses, built by pure functions tested as strings.

Nothing here talks to BigQuery (:mod:`relpredict.sinks.bigquery` holds the client code). Values
never go into SQL text (the manifest look-up binds the job id as ``@job``); identifiers cannot be
bound, so every project, dataset, table and column name is validated by a pattern stricter than
BigQuery's own (no spaces, quotes, ``;``, ``$`` or non-ASCII letters), which also excludes the
backquote that quotes them: ``x; DROP TABLE y`` or a partition decorator ``table$20240101`` is
refused before any request.

Load jobs get deterministic ids, ``relpredict_<job id>_<output>_<first shard>[_<last shard>][_r<n>]``
(:func:`load_job_id`), also set as the label ``relpredict_load`` (:func:`label_value`), so that a
resumed job finds the loads an earlier run made.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from relpredict.errors import ConfigError

__all__ = ["LABEL", "MANIFEST_TABLE", "TableRef", "check_column_name", "check_columns",
           "check_dataset_name", "check_project_name", "check_table_name", "column_type",
           "column_types", "label_value", "load_job_id", "manifest_load_id", "manifest_query_sql",
           "signature", "table_ref"]

MANIFEST_TABLE = "relpredict_manifests"
LABEL = "relpredict_load"

# BigQuery's own rules, a little stricter (no spaces or non-ASCII letters in table names) so a
# name can never carry SQL or a partition decorator (``table$20240101``).
_PROJECT = re.compile(r"^(?:[a-z][a-z0-9.-]{0,62}:)?[a-z0-9][a-z0-9-]{0,62}$")
_DATASET = re.compile(r"^[A-Za-z0-9_]{1,1024}$")
_TABLE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_-]{0,1023}$")
_COLUMN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,299}$")
_JOB_ID_CHARS = re.compile(r"[^A-Za-z0-9_-]")


# ----------------------------------------------------------------------------------- names
def _check(pattern: re.Pattern[str], what: str, name: str, rule: str) -> str:
    if not isinstance(name, str) or not pattern.match(name):
        raise ConfigError(f"The BigQuery {what} name {name!r} is not allowed: {rule}. Other characters "
                          "(quotes, spaces, ';', '$', '.') are refused so a name can never carry SQL.")
    return name


def check_project_name(name: str) -> str:
    """A project id: lowercase letters, digits and '-' (optionally ``domain.com:project``)."""
    return _check(_PROJECT, "project", name, "use lowercase letters, digits and '-'")


def check_dataset_name(name: str) -> str:
    """A dataset name: letters, digits and '_' (BigQuery's rule)."""
    return _check(_DATASET, "dataset", name, "use letters, digits and '_'")


def check_table_name(name: str) -> str:
    """A table name: letters, digits, '_' and '-' (no partition decorator ``$``, no spaces)."""
    return _check(_TABLE, "table", name, "use letters, digits, '_' and '-'")


def check_column_name(name: str) -> str:
    """A column name: letters, digits and '_', starting with a letter or '_' (BigQuery's rule)."""
    return _check(_COLUMN, "column", name, "use letters, digits and '_', starting with a letter or '_'")


def load_job_id(job_id: str, output: str, shard: int, attempt: int = 0, last: int | None = None,
                ) -> str:
    """The deterministic id of one load: ``relpredict_<job>_<output>_<shard>[_<last>][_r<n>]``.

    ``last`` is the last shard of a load group of several shards. Characters BigQuery refuses in
    job ids are replaced by ``_``; the id stays under 1024.
    """
    shards = f"{shard:05d}" + (f"_{last:05d}" if last is not None and last != shard else "")
    raw = f"relpredict_{job_id}_{output}_{shards}" + (f"_r{attempt}" if attempt else "")
    return _JOB_ID_CHARS.sub("_", raw)[:1024]


def manifest_load_id(job_id: str) -> str:
    """The deterministic id of the load that appends the job's manifest row."""
    return _JOB_ID_CHARS.sub("_", f"relpredict_{job_id}_manifest")[:1024]


def label_value(load_id: str) -> str:
    """A label value for ``load_id``: lowercase, at most 63 characters (a digest when longer)."""
    value = load_id.lower()
    return value if len(value) <= 63 else "h" + hashlib.sha256(value.encode()).hexdigest()[:62]


# ----------------------------------------------------------------------------------- types
def column_type(name: str, t: pa.DataType) -> tuple[str, str]:
    """(BigQuery type, mode) of one Arrow type; lists become REPEATED of their element's type."""
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
        inner, mode = column_type(name, t.value_type)
        if mode == "REPEATED":
            raise ConfigError(f"The column {name} is a list of lists ({t}), which BigQuery cannot hold.")
        return inner, "REPEATED"
    checks: list[tuple[Callable[[pa.DataType], bool], str]] = [
        (pa.types.is_boolean, "BOOL"), (pa.types.is_integer, "INT64"),
        (pa.types.is_floating, "FLOAT64"), (pa.types.is_string, "STRING"),
        (pa.types.is_large_string, "STRING"), (pa.types.is_binary, "BYTES"),
        (pa.types.is_large_binary, "BYTES"), (pa.types.is_date, "DATE"),
        (pa.types.is_time, "TIME"), (pa.types.is_decimal, "BIGNUMERIC"),
        (pa.types.is_null, "STRING"),  # a column with no value yet (e.g. no class): text
    ]
    if pa.types.is_timestamp(t):
        return ("TIMESTAMP" if t.tz else "DATETIME"), "NULLABLE"
    for test, bq_type in checks:
        if test(t):
            return bq_type, "NULLABLE"
    raise ConfigError(f"The column {name} has the type {t}, which relpredict cannot write to BigQuery.")


def column_types(schema: pa.Schema) -> list[tuple[str, str, str]]:
    """(name, BigQuery type, mode) of each column of an output's Arrow schema (names checked)."""
    return [(f.name, *column_type(check_column_name(f.name), f.type)) for f in schema]


def signature(fields: Iterable[Any]) -> dict[str, tuple[str, str]]:
    """Column → (type, mode) with BigQuery's legacy type names folded onto the standard ones."""
    legacy = {"INTEGER": "INT64", "FLOAT": "FLOAT64", "BOOLEAN": "BOOL"}
    return {f.name.upper(): (legacy.get(f.field_type, f.field_type),
                             "REPEATED" if f.mode == "REPEATED" else "NULLABLE") for f in fields}


# ----------------------------------------------------------------------------------- tables
@dataclass(frozen=True)
class TableRef:
    """One output's table, fully qualified."""

    project: str
    dataset: str
    table: str

    @property
    def ref(self) -> str:
        return f"{self.project}.{self.dataset}.{self.table}"

    @property
    def quoted(self) -> str:
        """Backquoted for SQL: every part was checked by a pattern that excludes the backquote."""
        return f"`{self.ref}`"


def table_ref(table: str, project: str, dataset: str | None, connector: str) -> TableRef:
    """``TABLE`` or ``DATASET.TABLE`` of a destination in ``project`` (dataset: the connector's)."""
    parts = table.split(".")
    if len(parts) > 2:
        raise ConfigError(f"The BigQuery table {table!r} has too many parts: give TABLE or "
                          "DATASET.TABLE (the project is the connector's).")
    dataset = parts[0] if len(parts) == 2 else dataset
    if dataset is None:
        raise ConfigError(f"The BigQuery table {table!r} names no dataset and connector "
                          f"{connector!r} has none: give bigquery://{connector}/"
                          f"DATASET.{parts[-1]} or set the connector's dataset.")
    return TableRef(project, check_dataset_name(dataset), check_table_name(parts[-1]))


def manifest_query_sql(target: TableRef) -> str:
    """The first manifest row of the job bound as ``@job`` (a STRING parameter)."""
    return f"SELECT manifest FROM {target.quoted} WHERE job_id = @job ORDER BY written_at LIMIT 1"


def check_columns(target: TableRef, have: dict[str, tuple[str, str]],
                   want: dict[str, tuple[str, str]]) -> None:
    """An existing table must hold exactly the output's columns, with the same types."""
    missing = [c for c in want if c not in have]
    extra = [c for c in have if c not in want]
    differ = [f"{c} is {' '.join(have[c])} not {' '.join(want[c])}" for c in want
              if c in have and have[c] != want[c]]
    if missing or extra or differ:
        what = "; ".join(filter(None, [
            f"missing {', '.join(missing)}" if missing else "",
            f"has {', '.join(extra)} the output lacks" if extra else "", *differ]))
        raise ConfigError(f"The BigQuery table {target.ref} exists with other columns ({what}): "
                          "appending would fail. Write to a new table, or fix the table's columns.")
