"""Where each output of a job goes: destination parsing and Kumo's output naming, pure.

A destination is what the user gives (``--output PATH --file-type csv|parquet``): a local path or an
``s3://bucket/key`` URL (a :class:`Destination`, files), or a table of a named connector (a
:class:`TableDestination`)::

    out/preds.parquet                           local file
    s3://bucket/prefix/preds.csv                S3 object (connector optional: --connector NAME)
    s3://bucket/prefix/{{PARTITION}}.parquet    S3 part files
    snowflake://CONNECTOR/TABLE                 Snowflake table (SCHEMA.TABLE also accepted)
    bigquery://CONNECTOR/DATASET.TABLE          BigQuery table (TABLE: the connector's dataset)

With one output type the output goes exactly there; with both, each goes to its own place named by
Kumo's convention::

    out/preds.parquet              → out/preds_predictions.parquet, out/preds_embeddings.parquet
    out/{{PARTITION}}.parquet      → out_predictions/part_000.parquet, …  (suffix on the folder)
    snowflake://wh/SCORES          → tables SCORES_predictions, SCORES_embeddings

A file name of ``{{PARTITION}}`` asks for partitioned output: files ``part_000``, ``part_001``, …
of about ``partition_bytes`` each. S3 paths follow exactly the local rules. Table and schema names
must match ``[A-Za-z_][A-Za-z0-9_$]*`` (at most 255 characters per part), so a name can never carry
SQL (``x; DROP TABLE y`` is refused). Nothing here touches a file system or a server.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import PurePath, PurePosixPath
from typing import Any

from relpredict.errors import ConfigError

PARTITION = "{{PARTITION}}"
FILE_TYPES = ("csv", "parquet")
OUTPUT_TYPES = ("predictions", "embeddings", "explanations")
DEFAULT_PARTITION_BYTES = 256 * 1024 * 1024
TABLE_KINDS = ("snowflake", "bigquery")
_LATER = {"gs": "Google Cloud Storage"}
_TABLE_PART = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]{0,254}$")
_CONNECTOR = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$")
_SUPPORTED = "a local path, s3://bucket/key, snowflake://CONNECTOR/TABLE or bigquery://CONNECTOR/TABLE"

__all__ = ["DEFAULT_PARTITION_BYTES", "AnyDestination", "Destination", "FILE_TYPES", "OUTPUT_TYPES",
           "PARTITION", "TABLE_KINDS", "TableDestination", "check_table_name", "destination_from_json",
           "destination_text", "errors_destination", "job_destinations", "output_destinations",
           "parse_destination", "part_name", "suffixed"]


def _split(path: str) -> tuple[str, PurePath]:
    """``s3://b/k`` → (``s3://``, ``b/k`` as a POSIX path); a local path → ("", the path).

    Path arithmetic on the rest keeps the ``//`` of the scheme intact.
    """
    if path[:5].lower() == "s3://":
        return path[:5], PurePosixPath(path[5:])
    return "", PurePath(path)


@dataclass(frozen=True)
class Destination:
    """A validated file destination: a local path or an ``s3://`` URL.

    Attributes:
        path: the file to write, or for partitioned output ``folder/{{PARTITION}}.<ext>``.
        file_type: ``csv`` or ``parquet``.
        partition_bytes: target size of one part file (partitioned output only).
        connector: for S3, the workspace connector with the endpoint / credentials (``None``: the
            standard AWS chain and ``AWS_ENDPOINT_URL``).
    """

    path: str
    file_type: str
    partition_bytes: int = DEFAULT_PARTITION_BYTES
    connector: str | None = None

    @property
    def scheme(self) -> str:
        """``s3`` for an S3 URL, ``local`` for a path."""
        return "s3" if _split(self.path)[0] else "local"

    @property
    def partitioned(self) -> bool:
        """True when the file name is ``{{PARTITION}}``: the output is a folder of part files."""
        return _split(self.path)[1].stem == PARTITION

    @property
    def folder(self) -> str:
        """The folder the output file(s) go into."""
        prefix, rest = _split(self.path)
        return prefix + str(rest.parent)

    @property
    def extension(self) -> str:
        return "." + self.file_type

    def file_for_part(self, index: int) -> str:
        """The path of part ``index`` (partitioned) or the output file itself."""
        if not self.partitioned:
            return self.path
        prefix, rest = _split(self.path)
        return prefix + str(rest.parent / (part_name(index) + self.extension))

    def manifest_path(self) -> str:
        """Where the job's manifest goes: beside the output, ``<base>.manifest.json``.

        ``out/preds.parquet`` → ``out/preds.manifest.json``; ``out/{{PARTITION}}.parquet`` →
        ``out.manifest.json`` (beside the folder, so it names every part inside it).
        """
        prefix, rest = _split(self.path)
        base = rest.parent if self.partitioned else rest.with_suffix("")
        return prefix + str(base.with_name(base.name + ".manifest.json"))


@dataclass(frozen=True)
class TableDestination:
    """A table of a named connector: ``snowflake://CONNECTOR/[SCHEMA.]TABLE`` or ``bigquery://…``.

    Attributes:
        kind: ``snowflake`` or ``bigquery``.
        connector: the workspace connector with the account / project and the secret references.
        table: ``TABLE`` or ``SCHEMA.TABLE`` (``DATASET.TABLE``), each part validated.
    """

    kind: str
    connector: str
    table: str

    @property
    def parts(self) -> tuple[str, ...]:
        """The table name's parts: ``("TABLE",)`` or ``("SCHEMA", "TABLE")``."""
        return tuple(self.table.split("."))

    @property
    def name(self) -> str:
        """The table's own name (last part)."""
        return self.parts[-1]

    @property
    def namespace(self) -> str | None:
        """The schema (Snowflake) or dataset (BigQuery) given, else ``None`` (the connector's)."""
        return self.parts[0] if len(self.parts) == 2 else None

    @property
    def file_type(self) -> str:
        """Rows are staged and bulk-loaded as Parquet (what size estimates use)."""
        return "parquet"

    @property
    def partitioned(self) -> bool:
        return False

    @property
    def scheme(self) -> str:
        return self.kind

    @property
    def url(self) -> str:
        return f"{self.kind}://{self.connector}/{self.table}"


AnyDestination = Destination | TableDestination


def as_files(dest: AnyDestination) -> Destination:
    """``dest`` as files (local or S3); a table destination is a ConfigError."""
    if isinstance(dest, TableDestination):
        raise ConfigError(f"The destination {dest.url} is a table; this writer writes files.")
    return dest


def as_table(dest: AnyDestination) -> TableDestination:
    """``dest`` as a warehouse table; a file destination is a ConfigError."""
    if not isinstance(dest, TableDestination):
        raise ConfigError(f"The destination {dest.path} is a file; this writer writes tables.")
    return dest


def destination_from_json(data: dict[str, Any]) -> AnyDestination:
    """The destination a job record stored (``dataclasses.asdict`` of either kind)."""
    if "table" in data:
        return TableDestination(**data)
    return Destination(**data)


def check_table_name(name: str, what: str = "table") -> str:
    """Refuse a table / schema / dataset name that is not a plain identifier; return it."""
    if not _TABLE_PART.match(name or ""):
        raise ConfigError(f"The {what} name {name!r} is not allowed: use letters, digits, '_' and '$', "
                          "starting with a letter or '_' (at most 255 characters). Quotes, spaces, "
                          "';' and other characters are refused so a name can never carry SQL.")
    return name


def part_name(index: int) -> str:
    """``part_000``, ``part_001``, …: zero-padded so a plain sort lists the parts in order."""
    if index < 0:
        raise ValueError(f"a part index is >= 0, not {index}")
    return f"part_{index:03d}"


def parse_destination(path: str, file_type: str | None = None,
                      partition_bytes: int = DEFAULT_PARTITION_BYTES,
                      connector: str | None = None) -> AnyDestination:
    """Check a destination and its file type; infer the type from the extension when omitted.

    ``connector`` names a workspace connector for an ``s3://`` destination (its endpoint and
    credentials); a table URL names its connector itself.

    Raises ``ConfigError`` naming the bad value: an empty path, an unknown scheme, an S3 URL without
    a bucket or key, a bad table or connector name, an unknown or conflicting file type,
    ``{{PARTITION}}`` anywhere but as the whole file name, or a partition size that is not positive.
    """
    text = (path or "").strip()
    if not text:
        raise ConfigError("The destination path is empty: give --output PATH, e.g. out/preds.parquet.")
    if any(ord(ch) < 32 or ch == "\x7f" for ch in text):
        raise ConfigError(f"The destination {text!r} holds a control character (a NUL byte, a newline, "
                          "a tab): no file or table can be named so. Remove it.")
    scheme = _scheme(text)
    connector = (connector or "").strip() or None
    if scheme in TABLE_KINDS:
        return _parse_table(text, scheme, file_type, connector)
    if connector is not None and scheme != "s3":
        raise ConfigError(f"A connector ({connector}) applies to s3://, snowflake:// and bigquery:// "
                          f"destinations, not to the local path {text}: leave --connector out.")
    if scheme == "file":
        text = text[len("file://"):]
    if scheme == "s3":
        text = "s3://" + text[5:]
        _check_s3(text)
    _check_partition_placement(text)
    kind = _file_type(text, file_type)
    if partition_bytes <= 0:
        raise ConfigError(f"The partition size must be positive, not {partition_bytes} bytes.")
    ext = _split(text)[1].suffix
    if not ext:
        text = text + "." + kind
    return Destination(text, kind, partition_bytes, connector)


def _scheme(text: str) -> str:
    scheme = text.split("://", 1)[0].lower() if "://" in text else ""
    if not scheme or scheme in ("file", "s3") or scheme in TABLE_KINDS:
        return scheme
    if scheme in _LATER:
        raise ConfigError(f"{_LATER[scheme]} destinations ({text}) are not supported yet: give "
                          f"{_SUPPORTED}.")
    raise ConfigError(f"Unknown destination scheme {scheme!r} in {text}: give {_SUPPORTED}.")


def _check_s3(text: str) -> None:
    bucket, _, key = text[5:].partition("/")
    if not bucket or not key.strip("/"):
        raise ConfigError(f"The S3 destination {text} needs a bucket and an object name, e.g. "
                          "s3://my-bucket/predictions/churn.parquet.")
    if PurePosixPath(key).stem == PARTITION and "/" not in key.strip("/"):
        raise ConfigError(f"Partitioned S3 output needs a folder inside the bucket for its parts, "
                          f"e.g. s3://{bucket}/churn/{PARTITION}.parquet, not {text}.")
    if "//" in key:
        raise ConfigError(f"The S3 destination {text} has an empty folder name ('//'): remove it.")


def _parse_table(text: str, kind: str, file_type: str | None,
                 connector: str | None) -> TableDestination:
    rest = text.split("://", 1)[1]
    name, _, table = rest.partition("/")
    example = f"{kind}://CONNECTOR/TABLE or {kind}://CONNECTOR/{_NAMESPACE[kind]}.TABLE"
    if not name or not table:
        raise ConfigError(f"The destination {text} needs a connector and a table: give {example}.")
    if not _CONNECTOR.match(name):
        raise ConfigError(f"The connector name {name!r} in {text} must start with a letter or digit "
                          "and use only letters, digits, '_' and '-'.")
    if connector is not None and connector != name:
        raise ConfigError(f"The destination {text} names the connector {name!r}, but --connector "
                          f"gives {connector!r}: leave --connector out for table destinations.")
    if file_type is not None and file_type.strip() and file_type.strip().lower() != "parquet":
        raise ConfigError(f"A file type ({file_type}) does not apply to the table destination {text}: "
                          "leave --file-type out.")
    parts = table.split(".")
    if len(parts) > 2:
        raise ConfigError(f"The table {table!r} in {text} has {len(parts)} parts: give {example} "
                          f"(the database / project comes from the connector).")
    whats = ("table",) if len(parts) == 1 else (_NAMESPACE[kind].lower(), "table")
    for part, what in zip(parts, whats):
        check_table_name(part, what)
        if kind == "bigquery" and "$" in part:
            raise ConfigError(f"The {what} name {part!r} in {text} has a '$', which BigQuery reads as a "
                              "partition decorator (table$20240101): use letters, digits and '_'.")
    return TableDestination(kind, name, table)


_NAMESPACE = {"snowflake": "SCHEMA", "bigquery": "DATASET"}


def _check_partition_placement(text: str) -> None:
    if PARTITION in text and _split(text)[1].stem != PARTITION:
        raise ConfigError(f"{PARTITION} must be the whole file name of the destination, e.g. "
                          f"out/{PARTITION}.parquet, not {text}.")
    if "{{" in text.replace(PARTITION, "") or "}}" in text.replace(PARTITION, ""):
        raise ConfigError(f"The destination {text} has a placeholder other than {PARTITION}, the only "
                          "one supported.")


def _file_type(text: str, file_type: str | None) -> str:
    ext = _split(text)[1].suffix.lower().lstrip(".")
    if file_type is None or not file_type.strip():
        if ext in FILE_TYPES:
            return ext
        if not ext:
            return "parquet"
        raise ConfigError(f"Cannot tell the file type of {text} from '.{ext}': give --file-type csv "
                          "or --file-type parquet, or end the path in .csv or .parquet.")
    kind = file_type.strip().lower()
    if kind not in FILE_TYPES:
        raise ConfigError(f"Unknown file type {file_type!r}: choose csv or parquet.")
    if ext and ext != kind:
        raise ConfigError(f"The file type {kind} does not match the destination {text} (.{ext}): "
                          f"end the path in .{kind} or choose --file-type {ext}.")
    return kind


def output_destinations(dest: AnyDestination, output_types: tuple[str, ...],
                        ) -> dict[str, AnyDestination]:
    """One destination per output type (Kumo's naming; see the module docstring)."""
    if len(output_types) == 1:
        return {output_types[0]: dest}
    return {kind: suffixed(dest, "_" + kind) for kind in output_types}


def errors_destination(dest: AnyDestination) -> AnyDestination:
    """Where a job's errors output (``ENTITY, ERROR``) goes: beside the outputs, ``_errors``
    (``out/preds.parquet`` → ``out/preds_errors.parquet``, ``snowflake://wh/SCORES`` →
    ``SCORES_errors``, ``out/{{PARTITION}}.parquet`` → ``out_errors/part_000.parquet``)."""
    return suffixed(dest, "_errors")


def job_destinations(dest: AnyDestination, output_types: tuple[str, ...]) -> dict[str, AnyDestination]:
    """Every place a job may write: each output type's, and the errors output's (``errors``)."""
    return {**output_destinations(dest, output_types), "errors": errors_destination(dest)}


def suffixed(dest: AnyDestination, suffix: str) -> AnyDestination:
    """``dest`` with ``suffix`` after its name: the file's stem, the part folder's name or the
    table's name (``out/preds.parquet`` → ``out/preds_x.parquet``, ``out/{{PARTITION}}.parquet`` →
    ``out_x/{{PARTITION}}.parquet``, ``snowflake://wh/S.SCORES`` → ``S.SCORES_x``)."""
    if isinstance(dest, TableDestination):
        return replace(dest, table=dest.table + suffix)
    prefix, path = _split(dest.path)
    if dest.partitioned:
        folder = path.parent
        new = folder.with_name(folder.name + suffix) / path.name
    else:
        new = path.with_name(path.stem + suffix + path.suffix)
    return replace(dest, path=prefix + str(new))


def destination_text(dest: AnyDestination) -> str:
    """What ``--output`` would say for ``dest`` (``parse_destination`` reads it back)."""
    if isinstance(dest, TableDestination):
        return f"{dest.kind}://{dest.connector}/{dest.table}"
    return dest.path
