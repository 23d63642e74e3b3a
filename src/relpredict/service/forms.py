"""The job dialog's values (and the REST API's job body) as the CLI's :class:`RawSettings`.

A form names a destination by its parts (kind, path or connector and table) where the CLI takes one
``--output`` string; this module joins the parts into that string and leaves every check of the
result to the jobs' settings validation, so the browser and the CLI get the same messages. Only a
missing part of a destination is reported here, under the part's own field.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from relpredict.errors import SettingsError
from relpredict.jobs import RawSettings
from relpredict.jobs.settings import MB

__all__ = ["DESTINATION_KINDS", "DestinationForm", "JobForm", "raw_settings"]

DESTINATION_KINDS = ("local", "s3", "snowflake", "bigquery")
_TABLE_HINT = {"snowflake": "[SCHEMA.]TABLE, e.g. ANALYTICS.CHURN_SCORES",
               "bigquery": "[DATASET.]TABLE, e.g. analytics.churn_scores"}


@dataclass(frozen=True)
class DestinationForm:
    """Where outputs go: ``local`` / ``s3`` take a path (and a file type), tables a connector."""

    kind: str = "local"
    path: str | None = None
    file_type: str | None = None
    connector: str | None = None
    table: str | None = None
    overwrite: bool = False


@dataclass(frozen=True)
class JobForm:
    """Every job setting, as the dialog sends it (blank = the CLI's default)."""

    anchor_time: str | None = None
    threshold: float | None = None
    num_classes: int | None = None
    top_k: int | None = None
    output_types: tuple[str, ...] = ("predictions",)
    metadata_fields: tuple[str, ...] = ()  # e.g. ("JOB_TIMESTAMP", "MODEL_VERSION")
    destination: DestinationForm = DestinationForm()
    workers: int = 1
    entity_filter: str | None = None
    entities: str | None = None  # a CSV / Parquet file of keys, or a table of the graph
    partition_size_mb: int | None = None
    sample_cap_mb: int | None = None
    shard_size: int | None = None
    max_errors: int | None = None  # None: 0.1 % of the entities
    dask: str | None = None  # a Dask scheduler's address, or "local"
    explain_k: int | None = None
    explain_exact: bool = False
    webhook: str | None = None
    on_finish: str | None = None
    timeout_seconds: float | None = None


def _blank(value: str | None) -> str | None:
    return value.strip() if value and value.strip() else None


def _output(dest: DestinationForm) -> tuple[str | None, str | None]:
    """The ``--output`` string and the connector of a destination, or SettingsError for a gap."""
    kind = dest.kind
    if kind not in DESTINATION_KINDS:
        raise SettingsError({"destination.kind": f"Unknown destination {kind!r}: choose "
                             f"{', '.join(DESTINATION_KINDS)}."})
    _check_kind_fits_path(kind, _blank(dest.path))
    if kind == "local":
        return _blank(dest.path), _blank(dest.connector)
    if kind == "s3":
        return _s3(dest), _blank(dest.connector)
    return _table(dest), None


def _check_kind_fits_path(kind: str, path: str | None) -> None:
    """A path whose scheme names another kind (``kind: local`` with ``s3://…``) is refused."""
    if path is None or "://" not in path:
        return
    scheme = path.split("://", 1)[0].lower()
    fits = {"local": ("file",), "s3": ("s3",)}.get(kind, ())
    if scheme in fits:
        return
    if kind in ("snowflake", "bigquery"):
        message = (f"A {kind} destination takes a connector and a table, not a path ({path}): "
                   "leave the path out, or choose the kind the path is for.")
    else:
        wanted = "a local path" if kind == "local" else "an s3:// URL"
        message = (f"The destination kind is {kind}, but the path {path} is a {scheme}:// URL: "
                   f"choose the kind that fits the URL, or give {wanted}.")
    raise SettingsError({"destination.path": message})


def _s3(dest: DestinationForm) -> str:
    path = _blank(dest.path)
    if path is None:
        raise SettingsError({"destination.path": "An S3 destination needs a URL, e.g. "
                             "s3://bucket/prefix/{{PARTITION}}.parquet."})
    return path if "://" in path else "s3://" + path.lstrip("/")


def _table(dest: DestinationForm) -> str:
    name = {"snowflake": "Snowflake", "bigquery": "BigQuery"}[dest.kind]
    errors = {}
    if _blank(dest.connector) is None:
        errors["destination.connector"] = (f"A {name} destination needs a connector: add one with "
                                           f"`relpredict connector add NAME --kind {dest.kind}`.")
    if _blank(dest.table) is None:
        errors["destination.table"] = f"A {name} destination needs a table: {_TABLE_HINT[dest.kind]}."
    if errors:
        raise SettingsError(errors)
    return f"{dest.kind}://{_blank(dest.connector)}/{_blank(dest.table)}"


def raw_settings(form: JobForm) -> RawSettings:
    """The RawSettings the CLI would build from the same values."""
    output, connector = _output(form.destination)
    values: dict[str, Any] = {
        "anchor_time": _blank(form.anchor_time), "threshold": form.threshold,
        "num_classes": form.num_classes, "top_k": form.top_k,
        "output_types": list(form.output_types), "output": output,
        "metadata_fields": list(form.metadata_fields),
        "file_type": _blank(form.destination.file_type) if form.destination.kind in ("local", "s3") else None,
        "workers": form.workers, "entity_filter": _blank(form.entity_filter),
        "entities": _blank(form.entities),
        "shard_size": form.shard_size, "overwrite": bool(form.destination.overwrite),
        "dask": _blank(form.dask), "max_errors": form.max_errors,
        "explain_k": form.explain_k, "explain_exact": bool(form.explain_exact), "webhook": _blank(form.webhook),
        "on_finish": _blank(form.on_finish), "timeout_seconds": form.timeout_seconds,
    }
    if form.partition_size_mb is not None:
        values["partition_bytes"] = form.partition_size_mb * MB
    if form.sample_cap_mb is not None:
        values["sample_cap_bytes"] = form.sample_cap_mb * MB
    if connector:
        values["connector"] = connector
    return RawSettings(**values)
