"""The SQL the Snowflake sink sends, built by pure functions and tested as exact strings.

Values never go into this text (the one value the sink needs, a table's name in an
``INFORMATION_SCHEMA`` look-up, is a bind parameter). Identifiers cannot be bound, so every one is
validated *and* quoted:

* **Database, schema, table and stage names** must be plain identifiers
  (``[A-Za-z_][A-Za-z0-9_$]*``, :func:`relpredict.sinks.naming.check_table_name`): ``x; DROP
  TABLE y`` is refused before any SQL is built. They are then upper-cased and quoted, which is
  exactly how Snowflake resolves the same name written unquoted: ``snowflake://wh/scores`` writes
  ``"SCORES"``, which ``SELECT * FROM scores`` finds.
* **Column names** come from the output's Arrow schema and keep their case (``"True_PROB"``), as
  ``write_pandas`` does; they are quoted with ``"`` doubled, and control characters are refused.

The load itself is ``PUT`` of local Parquet files to a temporary stage, then
``COPY INTO … MATCH_BY_COLUMN_NAME = CASE_INSENSITIVE`` (Snowflake's bulk path, as ``write_pandas``
uses): never row-by-row ``INSERT``. ``FORCE = TRUE`` because Snowflake remembers, per table, which
staged files it loaded in the last 64 days and silently skips them: a re-run that publishes
byte-identical files after its ``DELETE`` would otherwise load nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from relpredict.errors import ConfigError
from relpredict.sinks.naming import check_table_name

__all__ = ["COPY_OPTIONS", "FILE_FORMAT", "TableRef", "begin_sql", "columns_sql", "commit_sql",
           "context_sql", "copy_sql", "create_stage_sql", "create_table_sql", "delete_sql",
           "object_name", "put_sql", "quote_column", "rollback_sql", "snowflake_type", "stage_name"]

FILE_FORMAT = "FILE_FORMAT = (TYPE = PARQUET USE_LOGICAL_TYPE = TRUE)"
COPY_OPTIONS = "MATCH_BY_COLUMN_NAME = CASE_INSENSITIVE ON_ERROR = ABORT_STATEMENT FORCE = TRUE"
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_PATH_REFUSED = re.compile(r"['\\\x00-\x1f\x7f]")
_STAGE_CHARS = re.compile(r"[^A-Za-z0-9_]")


# ----------------------------------------------------------------------------------- names
def object_name(name: str, what: str = "table") -> str:
    """A database / schema / table name, validated, as Snowflake resolves it unquoted (upper case)."""
    return check_table_name(name, what).upper()


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def quote_column(name: str) -> str:
    """A column name quoted with its case kept; empty names and control characters are refused."""
    if not name or _CONTROL.search(name) or len(name) > 255:
        raise ConfigError(f"The column name {name!r} cannot be written to Snowflake: use 1 to 255 "
                          "printable characters.")
    return _quote(name)


@dataclass(frozen=True)
class TableRef:
    """A fully qualified object: database, schema and name, each already upper-cased and valid."""

    database: str
    schema: str
    name: str

    @classmethod
    def of(cls, database: str, schema: str, name: str) -> TableRef:
        """Validate and normalise each part (see the module docstring)."""
        return cls(object_name(database, "database"), object_name(schema, "schema"), object_name(name))

    @property
    def sql(self) -> str:
        """``"DB"."SCHEMA"."NAME"``."""
        return ".".join(_quote(p) for p in (self.database, self.schema, self.name))

    @property
    def dotted(self) -> str:
        """``DB.SCHEMA.NAME`` for messages and manifests."""
        return f"{self.database}.{self.schema}.{self.name}"


def stage_name(job_id: str, output: str) -> str:
    """The temporary stage of one output of one job: ``RELPREDICT_<JOB>_<OUTPUT>``, a plain name."""
    return object_name(_STAGE_CHARS.sub("_", f"RELPREDICT_{job_id}_{output}")[:255], "stage")


# ----------------------------------------------------------------------------------- types
_SIMPLE: list[tuple[Callable[[pa.DataType], bool], str]] = [
    (pa.types.is_boolean, "BOOLEAN"), (pa.types.is_integer, "NUMBER(38,0)"),
    (pa.types.is_floating, "FLOAT"), (pa.types.is_string, "VARCHAR"),
    (pa.types.is_large_string, "VARCHAR"), (pa.types.is_binary, "BINARY"),
    (pa.types.is_large_binary, "BINARY"), (pa.types.is_date, "DATE"),
    (pa.types.is_null, "VARCHAR"),  # a column with no value yet (e.g. no class): text
]


def _is_list(t: pa.DataType) -> bool:
    return bool(pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t))


def snowflake_type(field: pa.Field) -> str:
    """The column type for an Arrow field.

    Keys keep their type (integers ``NUMBER(38,0)``, strings ``VARCHAR``); floats are ``FLOAT``,
    booleans ``BOOLEAN``; a timestamp without a zone is ``TIMESTAMP_NTZ``, with one
    ``TIMESTAMP_TZ``; lists (``EMBEDDINGS``) are ``ARRAY`` (``VECTOR`` cannot be bulk-loaded from
    Parquet).
    """
    t = field.type
    if _is_list(t):
        return "ARRAY"
    if pa.types.is_timestamp(t):
        return "TIMESTAMP_TZ" if t.tz else "TIMESTAMP_NTZ"
    if pa.types.is_decimal(t) and t.precision <= 38:
        return f"NUMBER({t.precision},{t.scale})"
    for test, name in _SIMPLE:
        if test(t):
            return name
    raise ConfigError(f"The column {field.name} has the type {t}, which relpredict cannot write to "
                      "Snowflake.")


# ----------------------------------------------------------------------------------- statements
def context_sql() -> str:
    """The session's database and schema (what an unqualified destination means)."""
    return "SELECT CURRENT_DATABASE(), CURRENT_SCHEMA()"


def columns_sql(table: TableRef) -> str:
    """The columns of ``table``, in order; binds (schema, table name)."""
    return (f"SELECT COLUMN_NAME, DATA_TYPE FROM {_quote(table.database)}.INFORMATION_SCHEMA.COLUMNS "
            "WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s ORDER BY ORDINAL_POSITION")


def create_table_sql(table: TableRef, schema: pa.Schema) -> str:
    """``CREATE TABLE IF NOT EXISTS`` with a column per field (see :func:`snowflake_type`).

    DDL: Snowflake commits any open transaction before it, so the sink runs it *before* ``BEGIN``.
    """
    if not len(schema):
        raise ConfigError(f"The output for {table.dotted} has no columns.")
    columns = ", ".join(f"{quote_column(f.name)} {snowflake_type(f)}" for f in schema)
    return f"CREATE TABLE IF NOT EXISTS {table.sql} ({columns})"


def create_stage_sql(stage: TableRef) -> str:
    """A temporary stage (dropped with the session), emptied if a retry in this session made it."""
    return f"CREATE OR REPLACE TEMPORARY STAGE {stage.sql}"


def put_sql(folder: Path, stage: TableRef, parallel: int = 4) -> str:
    """Upload every ``*.parquet`` file of ``folder`` (already compressed: no gzip on top)."""
    text = folder.resolve().as_posix()
    if _PATH_REFUSED.search(text):
        raise ConfigError(f"The staging folder {text!r} holds a quote, a backslash or a control "
                          "character, which a PUT command cannot carry: move the workspace "
                          "(--home or RELPREDICT_HOME) to a plainer path.")
    return (f"PUT 'file://{text}/*.parquet' @{stage.sql} AUTO_COMPRESS = FALSE OVERWRITE = TRUE "
            f"PARALLEL = {int(parallel)}")


def begin_sql() -> str:
    return "BEGIN"


def delete_sql(table: TableRef) -> str:
    """Remove the old rows (inside the transaction: they come back on ROLLBACK)."""
    return f"DELETE FROM {table.sql}"


def copy_sql(table: TableRef, stage: TableRef) -> str:
    """Bulk-load the staged Parquet files into ``table`` by column name (see the module docstring)."""
    return f"COPY INTO {table.sql} FROM @{stage.sql} {FILE_FORMAT} {COPY_OPTIONS}"


def commit_sql() -> str:
    return "COMMIT"


def rollback_sql() -> str:
    return "ROLLBACK"
