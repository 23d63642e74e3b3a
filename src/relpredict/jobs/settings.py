"""Job settings: validated before any work starts, each bad value with its own message. Pure.

The user's values arrive as :class:`RawSettings` (what the CLI or the Python API received);
:func:`validate_settings` checks them against the model's task (:class:`TaskInfo`) and the data's
time range (:class:`DataRange`) and returns :class:`JobSettings` plus warnings for the job record.
Every field is checked on its own, so all bad fields are told at once: one
:class:`~relpredict.errors.SettingsError` maps each field of :data:`FIELDS` to its message (the
CLI prints the first; the REST API and the web form show each next to its field).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from relpredict.errors import ConfigError, QueryError, SettingsError
from relpredict.query.bound import TaskType
from relpredict.sinks.naming import (
    DEFAULT_PARTITION_BYTES,
    OUTPUT_TYPES,
    AnyDestination,
    Destination,
    destination_from_json,
    parse_destination,
)

MB = 1024 * 1024
MAX_WORKERS = 4
MAX_CLASSES = 10
MAX_TOP_K = 1000
DEFAULT_SAMPLE_CAP_BYTES = 1024 * MB
MAX_SHARD_SIZE = 20_000
LATEST_ANCHOR = datetime(2200, 1, 1)  # anchor + a 100-year window stays within pandas' time range
_ISO_EXAMPLE = "e.g. 2024-02-27 or 2024-02-27T13:00:00Z"

__all__ = ["FIELDS", "DataRange", "JobSettings", "RawSettings", "TaskInfo", "auto_shard_size",
           "METADATA_FIELDS", "parse_anchor_time", "parse_dask_address", "parse_metadata_fields",
           "validate_settings"]

FIELDS = ("anchor_time", "threshold", "num_classes", "top_k", "output_types", "metadata_fields",
          "destination", "workers", "entity_filter", "entities", "explain_k", "webhook",
          "on_finish", "timeout", "sample_cap_mb", "shard_size", "dask", "max_errors")
"""The keys of :attr:`SettingsError.errors`, in order: the job dialog's fields (the CLI's options).
``destination`` covers the output, its file type, partition size and connector together."""

T = TypeVar("T")


@dataclass(frozen=True)
class TaskInfo:
    """What the model predicts, as far as settings care."""

    task_type: TaskType
    is_temporal: bool
    rank_top: int | None = None
    num_classes: int | None = None


DEFAULT_THRESHOLD = 0.5  # binary / multilabel: the probability from which a class is predicted


@dataclass(frozen=True)
class DataRange:
    """``start``: first timestamp of any table; ``end``: latest of the target's fact tables."""

    start: datetime | None
    end: datetime | None
    fact_tables: tuple[str, ...] = ()


@dataclass(frozen=True)
class RawSettings:
    """Settings as given; ``None`` means "use the default"."""

    anchor_time: str | datetime | None = None
    threshold: float | None = None
    num_classes: int | None = None
    top_k: int | None = None
    output_types: str | Sequence[str] = "predictions"
    output: str | None = None
    file_type: str | None = None
    partition_bytes: int = DEFAULT_PARTITION_BYTES
    workers: int = 1
    entity_filter: str | None = None
    sample_cap_bytes: int = DEFAULT_SAMPLE_CAP_BYTES
    shard_size: int | None = None  # None: see auto_shard_size
    connector: str | None = None  # workspace connector of an s3:// output (endpoint, credentials)
    overwrite: bool = False  # replace an existing local file no relpredict job wrote
    max_errors: int | None = None  # entities that may fail to score (None: 0.1 % of them)
    explain_k: int | None = None  # explanations output: inputs per entity (default 5)
    explain_exact: bool = False  # explanations: LightGBM's exact TreeSHAP instead of path contributions
    webhook: str | None = None  # POST a JSON summary here when the job ends (or env:VAR naming it)
    on_finish: str | None = None  # a shell command run when the job ends
    timeout_seconds: float | None = None  # cancel the job after this long
    dask: str | None = None  # a Dask scheduler (tcp://HOST:PORT) or "local"; None: local workers
    entities: str | None = None  # predict only these: a CSV / Parquet file of keys, or a graph table
    metadata_fields: str | Sequence[str] | None = None  # e.g. "JOB_TIMESTAMP,MODEL_VERSION"


@dataclass(frozen=True)
class PredictOptions:
    """The per-task settings a shard hands to the model's ``predict`` (``None``: all classes /
    the query's TOP k)."""

    threshold: float = DEFAULT_THRESHOLD
    num_classes: int | None = None
    top_k: int | None = None


@dataclass(frozen=True)
class JobSettings:
    """Validated settings of one job (stored as JSON on its record; never holds secrets)."""

    anchor_time: datetime | None
    output_types: tuple[str, ...]
    destination: AnyDestination
    workers: int
    threshold: float | None = None
    num_classes: int | None = None
    top_k: int | None = None
    entity_filter: str | None = None
    sample_cap_bytes: int = DEFAULT_SAMPLE_CAP_BYTES
    shard_size: int | None = None
    anchor_given: bool = field(default=False)
    max_errors: int | None = None  # None: 0.1 % of the job's entities (jobs.partial.error_limit)
    explain_k: int = 5
    explain_exact: bool = False
    webhook: str | None = None  # a URL without credentials, or env:VAR (resolved when sending)
    on_finish: str | None = None
    timeout_seconds: float | None = None
    dask: str | None = None  # the Dask scheduler's address (never credentials), "local" or None
    entities: str | None = None  # the entity list: a file's absolute path or a table of the graph
    metadata_fields: tuple[str, ...] = ()  # columns appended to every output (jobs.metadata)

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["anchor_time"] = self.anchor_time.isoformat() if self.anchor_time else None
        out["output_types"] = list(self.output_types)
        out["metadata_fields"] = list(self.metadata_fields)
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> JobSettings:
        values = dict(data)
        values["anchor_time"] = datetime.fromisoformat(data["anchor_time"]) if data["anchor_time"] else None
        values["output_types"] = tuple(data["output_types"])
        values["metadata_fields"] = tuple(data.get("metadata_fields", ()))  # older records: none
        values["destination"] = destination_from_json(data["destination"])
        return cls(**values)

    def predict_options(self) -> PredictOptions:
        """What each shard passes to the model's ``predict`` for these settings."""
        threshold = DEFAULT_THRESHOLD if self.threshold is None else self.threshold
        return PredictOptions(threshold, self.num_classes, self.top_k)

    def shard_size_for(self, n_entities: int) -> int:
        """The shard size given, or :func:`auto_shard_size` for this many entities."""
        return self.shard_size or auto_shard_size(n_entities, self.workers)


def auto_shard_size(n_entities: int, workers: int) -> int:
    """One shard per worker, at most 20,000 entities: as few model calls as possible (a model call
    has a fixed cost: the real model spends ~0.7 s per call whatever its size), while a shard
    stays small enough that a resume after a kill loses little.

    Depends only on the entity count and the worker count, both fixed for a job, so every run of a
    job (a resume too) plans the same shards.
    """
    per_shard = -(-n_entities // max(1, workers))
    return max(1, min(MAX_SHARD_SIZE, per_shard))


def parse_anchor_time(value: str | datetime) -> datetime:
    """An ISO 8601 date or datetime as a naive UTC datetime (the data's times are naive UTC).

    ``2024-02-27`` is midnight; ``Z`` and offsets such as ``+02:00`` are converted to UTC.
    """
    if isinstance(value, datetime):
        return _naive_utc(value)
    text = str(value).strip()
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"The anchor time {value!r} is not an ISO 8601 date or datetime "
                          f"({_ISO_EXAMPLE}).") from None
    return _naive_utc(parsed)


def _naive_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        return value
    return value.astimezone(UTC).replace(tzinfo=None)


def validate_settings(raw: RawSettings, task: TaskInfo, data: DataRange, default_output: str,
                      check_filter: Callable[[str], object] | None = None,
                      check_entities: Callable[[str], str] | None = None,
                      ) -> tuple[JobSettings, list[str]]:
    """Check every setting on its own; return the validated settings and warnings for the record.

    ``check_filter`` is called with a syntactically valid entity filter (the caller binds it to
    the graph); what it raises is that field's error. Any bad field: one :class:`SettingsError`.
    """
    warnings: list[str] = []
    errors: dict[str, str] = {}

    def checked(name: str, check: Callable[[], T]) -> T:
        try:
            return check()
        except (ConfigError, QueryError) as err:
            errors[name] = str(err)
            return None  # type: ignore[return-value]  # never used: errors are raised below

    values: dict[str, Any] = {
        "anchor_time": checked("anchor_time", lambda: _anchor(raw.anchor_time, task, data, warnings)),
        "threshold": checked("threshold", lambda: _threshold(raw.threshold, task)),
        "num_classes": checked("num_classes", lambda: _num_classes(raw.num_classes, task)),
        "top_k": checked("top_k", lambda: _top_k(raw.top_k, task)),
        "output_types": checked("output_types", lambda: parse_output_types(raw.output_types)),
        "metadata_fields": checked("metadata_fields", lambda: parse_metadata_fields(raw.metadata_fields, task)),
        "destination": checked("destination", lambda: _destination(raw, default_output)),
        "workers": checked("workers", lambda: _workers(raw.workers)),
        "entity_filter": checked("entity_filter", lambda: _entity_filter(raw.entity_filter, check_filter)),
        "max_errors": checked("max_errors", lambda: _max_errors(raw.max_errors)),
        "entities": checked("entities", lambda: _entities(raw.entities, check_entities)),
        "explain_k": checked("explain_k", lambda: _explain_k(raw.explain_k, raw.output_types)),
        "explain_exact": checked("explain_k", lambda: _flag(raw.explain_exact, "explain_exact")),
        "webhook": checked("webhook", lambda: _webhook(raw.webhook)),
        "on_finish": checked("on_finish", lambda: _on_finish(raw.on_finish)),
        "timeout_seconds": checked("timeout", lambda: _timeout(raw.timeout_seconds)),
        "sample_cap_bytes": checked("sample_cap_mb", lambda: _positive(raw.sample_cap_bytes, "The sample cap", "bytes")),
        "shard_size": checked("shard_size", lambda: None if raw.shard_size is None
                            else _positive(raw.shard_size, "The shard size", "entities")),
        "dask": checked("dask", lambda: _dask(raw.dask)),
    }
    if errors:
        raise SettingsError({name: errors[name] for name in FIELDS if name in errors})
    return JobSettings(anchor_given=not _blank(raw.anchor_time), **values), warnings


def _anchor(value: str | datetime | None, task: TaskInfo, data: DataRange,
            warnings: list[str]) -> datetime | None:
    if not task.is_temporal:
        if not _blank(value):
            raise ConfigError("The model's query is static (it has no time window), so a job has no "
                              "anchor time: leave the anchor time blank.")
        return None
    if value is None or _blank(value):
        if data.end is None:
            raise ConfigError(f"Cannot default the anchor time: the target's tables "
                              f"({', '.join(data.fact_tables)}) have no rows with a time. Give one.")
        return data.end
    anchor = parse_anchor_time(value)
    if anchor >= LATEST_ANCHOR:
        raise ConfigError(f"The anchor time {anchor} is too far in the future: relpredict computes times "
                          f"before {LATEST_ANCHOR.date()} only"
                          + (f" (the latest data is {data.end})" if data.end else "")
                          + ". Choose an anchor time near the data.")
    if data.start is not None and anchor < data.start:
        raise ConfigError(f"The anchor time {anchor} is before the data starts ({data.start}): no "
                          f"history exists then. Choose an anchor time on or after {data.start}.")
    if data.end is not None and anchor > data.end:
        warnings.append(f"The anchor time {anchor} is after the latest data ({data.end} in "
                        f"{', '.join(data.fact_tables)}): predictions use the history up to "
                        f"{data.end} as if nothing happened since.")
    return anchor


def _blank(value: str | datetime | None) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _max_errors(value: int | None) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(f"The most entities that may fail to score (--max-errors) must be a whole "
                          f"number 0 or more, not {value!r} (0: any failing entity fails the job).")
    return value


def parse_output_types(value: str | Sequence[str]) -> tuple[str, ...]:
    """``"predictions,embeddings"`` (or a list) → the output types, in the canonical order."""
    items = value.split(",") if isinstance(value, str) else list(value)
    given = [str(v).strip().lower() for v in items]
    names = {v for v in given if v}
    if not names:
        raise ConfigError("No output type given: choose predictions, embeddings and/or explanations "
                          "(--output-types predictions,embeddings).")
    if "" in given:
        raise ConfigError(f"The output types {','.join(given)!r} have an empty entry (two commas, or a "
                          "comma at an end): write predictions, embeddings or predictions,embeddings.")
    doubled = sorted({v for v in given if given.count(v) > 1})
    if doubled:
        raise ConfigError(f"The output type {', '.join(repr(d) for d in doubled)} is given twice: name "
                          "each output type once (predictions,embeddings).")
    unknown = sorted(names - set(OUTPUT_TYPES))
    if unknown:
        raise ConfigError(f"Unknown output type {', '.join(repr(u) for u in unknown)}: choose "
                          "predictions, embeddings and/or explanations (comma-separated).")
    return tuple(t for t in OUTPUT_TYPES if t in names)


METADATA_FIELDS = ("JOB_TIMESTAMP", "ANCHOR_TIMESTAMP", "MODEL_VERSION", "JOB_ID")
"""The metadata columns a job can append to its outputs (``--metadata-fields``), in their order."""


def parse_metadata_fields(value: str | Sequence[str] | None, task: TaskInfo) -> tuple[str, ...]:
    """``"JOB_TIMESTAMP,MODEL_VERSION"`` (or a list; any case) → the names, in
    :data:`METADATA_FIELDS` order. Blank is none."""
    items = value.split(",") if isinstance(value, str) else list(value or [])
    texts = [str(v).strip() for v in items]
    given = [t.upper() for t in texts]
    if not any(given):
        return ()
    valid = ", ".join(METADATA_FIELDS)
    if "" in given:
        raise ConfigError(f"The metadata fields {','.join(texts)!r} have an empty entry (two commas, or "
                          f"a comma at an end): name each field once, from {valid}.")
    doubled = sorted({v for v in given if given.count(v) > 1})
    if doubled:
        raise ConfigError(f"The metadata field {', '.join(doubled)} is given twice: name each field once.")
    unknown = [t for t, v in zip(texts, given, strict=True) if v not in METADATA_FIELDS]
    if unknown:
        raise ConfigError(f"Unknown metadata field {', '.join(repr(u) for u in unknown)}: choose from "
                          f"{valid} (comma-separated).")
    if "ANCHOR_TIMESTAMP" in given and not task.is_temporal:
        raise ConfigError("The metadata field ANCHOR_TIMESTAMP does not apply: the model's query is "
                          "static (it has no time window), so its outputs have no anchor time. "
                          "Leave it out.")
    return tuple(name for name in METADATA_FIELDS if name in given)


def _destination(raw: RawSettings, default_output: str) -> AnyDestination:
    dest = parse_destination(raw.output or default_output, raw.file_type, raw.partition_bytes,
                             raw.connector)
    if not isinstance(dest, Destination) or dest.scheme != "local":
        return dest  # a URL: nothing to make absolute
    return replace(dest, path=str(Path(dest.path).expanduser().absolute()))


_DASK_SCHEMES = ("tcp", "tls", "ws", "wss")


def parse_dask_address(value: str | None) -> str | None:
    """``local``, a Dask scheduler address ``tcp://HOST:PORT`` (or ``HOST:PORT``, read as tcp), or
    ``None`` for local worker processes. An address with a user name or password is refused: the
    address is kept on the job's record, and Dask's TLS settings carry credentials, not the URL."""
    if value is None or not str(value).strip():
        return None
    text = str(value).strip()
    if text.lower() == "local":
        return "local"
    scheme, sep, rest = text.partition("://")
    if not sep:
        scheme, rest = "tcp", text
    scheme = scheme.lower()
    if scheme not in _DASK_SCHEMES:
        raise ConfigError(f"The Dask scheduler {scheme}:// is not a Dask address: give "
                          "tcp://HOST:PORT (e.g. tcp://10.0.0.5:8786) or local.")
    if "@" in rest:
        raise ConfigError("The Dask scheduler address holds a user name or password: give only "
                          "tcp://HOST:PORT; configure TLS credentials in Dask's own settings.")
    host, colon, port = rest.rstrip("/").rpartition(":")
    if not colon or not host or not port.isdigit() or not 1 <= int(port) <= 65535 or "/" in rest.rstrip("/"):
        raise ConfigError(f"The Dask scheduler {text!r} needs a host and a port 1-65535: give "
                          "tcp://HOST:PORT, e.g. tcp://10.0.0.5:8786, or local.")
    return f"{scheme}://{host}:{int(port)}"


def _dask(value: str | None) -> str | None:
    """The address, once Dask distributed is known to be installed (told before any job exists)."""
    address = parse_dask_address(value)
    if address is not None and not _installed("distributed"):
        raise ConfigError("--dask needs Dask distributed: pip install 'relpredict[dask]' (or run the "
                          "job without --dask, on local worker processes).")
    return address


def _installed(module: str) -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a module set to None in sys.modules, or a broken one
        return False


MAX_EXPLAIN_K = 100


def _explain_k(value: int | None, output_types: str | Sequence[str]) -> int:
    if value is None:
        return 5
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_EXPLAIN_K:
        raise ConfigError(f"The number of inputs explained per entity must be 1 to {MAX_EXPLAIN_K}, "
                          f"not {value!r}.")
    return value


def _flag(value: bool, name: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"The setting {name} is true or false, not {value!r}.")
    return value


def _webhook(value: str | None) -> str | None:
    """An http(s) URL without a user name or password, or ``env:VAR``: a URL that holds a token
    (Slack's, say) belongs in an environment variable, since the job's record keeps this text."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if text.startswith("env:"):
        if not text[4:].replace("_", "").isalnum():
            raise ConfigError(f"The webhook {text!r} must name an environment variable: env:NAME.")
        return text
    from urllib.parse import urlsplit

    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError("The webhook must be an http:// or https:// URL (or env:VAR naming one), "
                          "e.g. https://hooks.example.com/relpredict.")
    if parts.username or parts.password:
        raise ConfigError("The webhook URL holds a user name or password, which the job's record "
                          "would keep: put the URL in an environment variable and give --webhook env:VAR.")
    return text


def _on_finish(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    if "\x00" in value:
        raise ConfigError("The --on-finish command contains a NUL character: give a plain shell command.")
    return value.strip()


def _timeout(value: float | None) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) \
            or value <= 0:
        raise ConfigError(f"The job timeout must be a positive number of seconds, not {value!r}.")
    return float(value)


def _workers(value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_WORKERS:
        raise ConfigError(f"The number of parallel workers must be 1 to {MAX_WORKERS}, not {value!r}.")
    return value


def _positive(value: int, what: str, unit: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ConfigError(f"{what} must be a positive number of {unit}, not {value!r}.")
    return value


def _entities(value: str | None, check: Callable[[str], str] | None) -> str | None:
    """The entity list (``--entities``): blank is none; ``check`` (the caller reads it against the
    graph, :mod:`relpredict.jobs.entities`) returns its canonical source."""
    if value is None or not str(value).strip():
        return None
    text = str(value).strip()
    return check(text) if check is not None else text


def _entity_filter(value: str | None, check: Callable[[str], object] | None) -> str | None:
    if value is None or not value.strip():
        return None
    from relpredict.query.parser import parse_expression

    parse_expression(value.strip())  # a syntax error points into the filter's own text
    if check is not None:
        check(value.strip())
    return value.strip()


# Threshold / number of classes / items per entity: each only for the tasks it fits.
_THRESHOLD_TASKS = (TaskType.binary, TaskType.multilabel)
_CLASS_TASKS = (TaskType.multiclass, TaskType.multilabel)


def _not_for(setting: str, task: TaskInfo, fits: str) -> ConfigError:
    return ConfigError(f"{setting} does not apply to this model's task, "
                       f"{task.task_type.value.replace('_', ' ')}: it is for {fits}. Leave it out.")


def _threshold(value: float | None, task: TaskInfo) -> float | None:
    if value is None:
        return 0.5 if task.task_type in _THRESHOLD_TASKS else None
    if task.task_type not in _THRESHOLD_TASKS:
        raise _not_for("The threshold", task, "binary (and multilabel) classification")
    if not isinstance(value, int | float) or math.isnan(value) or not 0.0 <= value <= 1.0:
        raise ConfigError(f"The threshold must be between 0 and 1, not {value!r}.")
    return float(value)


def _num_classes(value: int | None, task: TaskInfo) -> int | None:
    if task.task_type not in _CLASS_TASKS:
        if value is not None:
            raise _not_for("The number of classes", task, "multiclass and multilabel classification")
        return None
    limit = min(MAX_CLASSES, task.num_classes or MAX_CLASSES)
    if value is None:
        return limit
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= limit:
        known = f"; the model knows {task.num_classes} classes" if task.num_classes else ""
        raise ConfigError(f"The number of classes to return must be 1 to {limit}{known}, not {value!r}.")
    return value


def _top_k(value: int | None, task: TaskInfo) -> int | None:
    if task.task_type is not TaskType.link_prediction:
        if value is not None:
            raise _not_for("The number of items per entity (top k)", task, "link prediction")
        return None
    if value is None:
        return task.rank_top
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_TOP_K:
        raise ConfigError(f"The number of items per entity must be 1 to {MAX_TOP_K}, not {value!r}.")
    return value
