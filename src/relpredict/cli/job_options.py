"""The job settings as command-line options, shared by ``job run``, ``workflow schedule`` and
``workflow backtest``: :func:`job_settings_options` adds every option to a command and hands it
the :class:`~relpredict.jobs.RawSettings` they make, as ``raw``."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, TypeVar

import typer

MB = 1024 * 1024
F = TypeVar("F", bound=Callable[..., Any])

__all__ = ["job_settings_options"]

# name: (type, option); the name is the function parameter's (see _raw for the few renamed)
OPTIONS: dict[str, tuple[Any, Any]] = {
    "anchor_time": (str | None, typer.Option(None, "--anchor-time", help="ISO 8601 date or datetime, e.g. 2024-02-27 or 2024-02-27T13:00:00Z. Default: the latest time of the target's fact table.")),
    "threshold": (float | None, typer.Option(None, "--threshold", help="Binary classification: TARGET_PRED = True_PROB >= threshold (default 0.5).")),
    "num_classes": (int | None, typer.Option(None, "--num-classes", help="Multiclass / multilabel: classes returned per entity (default all, at most 10).")),
    "top_k": (int | None, typer.Option(None, "--top-k", help="Link prediction: items per entity, 1-1000 (default the query's TOP k).")),
    "output_types": (str, typer.Option("predictions", "--output-types", help="predictions, embeddings and/or explanations, comma-separated (e.g. predictions,explanations).")),
    "metadata_fields": (str | None, typer.Option(None, "--metadata-fields", help="Columns appended to every output, comma-separated: JOB_TIMESTAMP (when the job was created, UTC), MODEL_VERSION (NAME@VERSION), JOB_ID; ANCHOR_TIMESTAMP is accepted (a temporal query's outputs have it already). One value for the whole job, kept on its record: the same in every shard and after a resume.")),
    "explain_k": (int | None, typer.Option(None, "--explain-k", help="Explanations: the inputs per entity with the largest contributions, 1-100 (default 5).")),
    "explain_exact": (bool, typer.Option(False, "--explain-exact", help="Explanations of LightGBM and blend models: LightGBM's exact TreeSHAP contributions (pred_contrib, many times slower) instead of path contributions.")),
    "output": (str | None, typer.Option(None, "--output", "-o", help="Destination: a file or s3://bucket/key (a file name of {{PARTITION}} writes part_000, part_001, ...), or a table snowflake://CONNECTOR/TABLE or bigquery://CONNECTOR/DATASET.TABLE (default: a file in the workspace).")),
    "connector": (str | None, typer.Option(None, "--connector", help="Workspace connector with the endpoint and credentials of an s3:// output (default: the standard AWS chain).")),
    "file_type": (str | None, typer.Option(None, "--file-type", help="csv or parquet (default: from the extension).")),
    "partition_size_mb": (int, typer.Option(256, "--partition-size-mb", help="Target size of one part file.")),
    "workers": (int, typer.Option(1, "--workers", "-w", help="Parallel worker processes, 1 to 4 (with --dask local: the LocalCluster's workers).")),
    "dask": (str | None, typer.Option(None, "--dask", help="Run the shards as tasks on a Dask cluster: its scheduler tcp://HOST:PORT, or local for a LocalCluster of --workers processes on 127.0.0.1 (needs relpredict[dask]).")),
    "entity_filter": (str | None, typer.Option(None, "--filter", help="Extra WHERE on the entities, evaluated at the anchor time, e.g. \"customers.status = 'ACTIVE'\".")),
    "entities": (str | None, typer.Option(None, "--entities", help="Predict only these entities: a CSV or Parquet file of keys (one column, or the column named like the entity key), or a table of the graph.")),
    "sample_cap_mb": (int, typer.Option(1024, "--sample-cap-mb", help="Keep at most this much of each output in the workspace.")),
    "shard_size": (int | None, typer.Option(None, "--shard-size", help="Entities per shard, the unit of work and of resume (default: one shard per worker, at most 20,000 entities).")),
    "max_errors": (int | None, typer.Option(None, "--max-errors", help="Entities that may fail to score (each goes to the errors output, ENTITY, ERROR) before the job fails; the job then ends succeeded_with_errors (default: 0.1 % of the entities).")),
    "overwrite": (bool, typer.Option(False, "--overwrite", help="Replace an existing local output file that no relpredict job wrote (one a job wrote is replaced anyway).")),
    "webhook": (str | None, typer.Option(None, "--webhook", help="POST a JSON notice (job id, status, outputs, counts, drift flags) here when the job ends, retried with backoff; env:VAR reads the URL from an environment variable (for URLs holding a token).")),
    "on_finish": (str | None, typer.Option(None, "--on-finish", help="Shell command run when the job ends, with RELPREDICT_JOB_ID, RELPREDICT_JOB_STATUS and RELPREDICT_JOB_NOTICE (a JSON file) set.")),
    "timeout": (float | None, typer.Option(None, "--timeout", help="Cancel the job after this many seconds (finished shards are kept; resume runs the rest).")),
}


def _raw(values: dict[str, Any]) -> Any:
    from relpredict.jobs import RawSettings

    v = dict(values)
    partition = v.pop("partition_size_mb", 256)
    cap = v.pop("sample_cap_mb", 1024)
    timeout = v.pop("timeout", None)
    return RawSettings(**v, partition_bytes=partition * MB, sample_cap_bytes=cap * MB,
                       timeout_seconds=timeout)


def job_settings_options(exclude: tuple[str, ...] = ()) -> Callable[[F], F]:
    """Give a command every job setting option (but ``exclude``) after its own parameters; the
    command receives them as one keyword argument ``raw`` (a RawSettings)."""

    def wrap(func: F) -> F:
        sig = inspect.signature(func)  # annotations as text: typer resolves them
        own = [p for p in sig.parameters.values() if p.name != "raw"]
        names = [n for n in OPTIONS if n not in exclude]
        added = [inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY, default=OPTIONS[n][1],
                                   annotation=OPTIONS[n][0]) for n in names]

        @functools.wraps(func)
        def command(*args: Any, **kwargs: Any) -> Any:
            values = {n: kwargs.pop(n) for n in names if n in kwargs}
            return func(*args, **kwargs, raw=_raw(values))

        command.__annotations__ = {k: v for k, v in func.__annotations__.items() if k != "raw"}
        positional = [p for p in own if p.kind is not inspect.Parameter.KEYWORD_ONLY]
        keyword = [p for p in own if p.kind is inspect.Parameter.KEYWORD_ONLY]
        command.__signature__ = sig.replace(parameters=[*positional, *keyword, *added])  # type: ignore[attr-defined]
        return command  # type: ignore[return-value]

    return wrap
