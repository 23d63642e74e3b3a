"""Before a job runs: load its model and graph, validate its settings, apply the entity filter.

Everything a user can get wrong is checked here, before a job is recorded: the workflow, the
model, every setting, and the entity filter (bound against the graph together with the query's
own WHERE, so it is evaluated at the anchor time with data known then).
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from relpredict.errors import ConfigError, NotFoundError, SettingsError
from relpredict.graph.graph import Graph
from relpredict.jobs import store
from relpredict.jobs.destcheck import check_local_destination
from relpredict.jobs.entities import check_entities, entity_keys
from relpredict.jobs.lease import check_free
from relpredict.jobs.protocols import ExplainingModel, JobModel
from relpredict.jobs.settings import (
    DataRange,
    JobSettings,
    RawSettings,
    TaskInfo,
    validate_settings,
)
from relpredict.jobs.shards import DEFAULT_LOADER, LOADER_ENV, resolve_loader
from relpredict.jobs.sources import job_graph
from relpredict.labels.labels import data_start, fact_time_range, prediction_table
from relpredict.model.schema import check_schema
from relpredict.query.ast import BoolOp
from relpredict.query.binder import bind
from relpredict.query.bound import BoundQuery
from relpredict.query.parser import parse, parse_expression
from relpredict.query.printer import to_pql
from relpredict.workspace import Workspace

__all__ = ["Prepared", "default_loader", "filtered_query", "job_dir", "load_workflow_model",
           "prepare", "prediction_entities"]


@dataclass
class Prepared:
    """A job's model, graph and entity query, loaded once and reused by an in-process run."""

    model: JobModel
    graph: Graph
    bound: BoundQuery  # the model's query with the entity filter added to its WHERE
    loader: str
    load_seconds: float

    def close(self) -> None:
        """Close the graph's database connection (when the job runs elsewhere)."""
        close = getattr(self.graph, "close", None)
        if close is not None:
            close()


def default_loader() -> str:
    """The model loader: ``$RELPREDICT_MODEL_LOADER`` (a seam for tests) or the artifact loader."""
    return os.environ.get(LOADER_ENV) or DEFAULT_LOADER


def job_dir(ws: Workspace, job_id: str) -> Path:
    """The job's folder in the workspace: entity list, sample, summary, manifest copy, log."""
    return ws.artifacts / "jobs" / job_id


def load_workflow_model(ws: Workspace, model_ref: str, loader: str) -> JobModel:
    """Load a model by reference (``NAME`` or ``NAME@VERSION``); the loader names unknown ones."""
    return resolve_loader(loader)(ws, model_ref)


def filtered_query(query_text: str, entity_filter: str | None, graph: Graph) -> BoundQuery:
    """The query with ``entity_filter`` ANDed to its WHERE, printed anew and bound to the graph."""
    query = parse(query_text)
    if entity_filter:
        extra = parse_expression(entity_filter)
        where = extra if query.where is None else BoolOp("AND", query.where, extra)
        query = replace(query, where=where)
    return bind(to_pql(query), graph)


def task_info(model: JobModel, bq: BoundQuery) -> TaskInfo:
    classes = model.classes
    return TaskInfo(model.task_type, model.is_temporal, bq.rank_top, len(classes) if classes else None)


def data_range(bq: BoundQuery, graph: Graph) -> DataRange:
    return DataRange(data_start(graph), fact_time_range(bq, graph)[1], bq.fact_tables)


def prepare(ws: Workspace, workflow: str, raw: RawSettings, job_id: str,
            loader: str | None = None, output_roots: Sequence[str | Path] | None = None,
            ) -> tuple[Prepared, JobSettings, list[str]]:
    """Load the workflow's model and graph and validate ``raw``; nothing is written.

    A local destination is checked too (:mod:`relpredict.jobs.destcheck`); ``output_roots``
    (given by a server) confines it to those folders and the job's own.
    """
    record = store.get_workflow(ws, workflow)
    loader = loader or default_loader()
    start = time.perf_counter()
    model = load_workflow_model(ws, record.model, loader)
    graph = job_graph(ws, model, job_id)  # connector tables fetched once, for the whole job
    checked_schema(model, graph)
    base = model.bound_query(graph)
    seconds = time.perf_counter() - start
    default_output = job_dir(ws, job_id) / "output" / f"{workflow}.parquet"
    filtered: list[BoundQuery] = []
    listed: list[str] = []  # warnings of the entity list
    prepared = Prepared(model, graph, base, loader, seconds)
    try:
        settings, warnings = validate_settings(
            raw, task_info(model, base), data_range(base, graph), str(default_output),
            check_filter=lambda text: filtered.append(filtered_query(model.query_text, text, graph)),
            check_entities=lambda source: _entity_list(source, graph, base, listed))
        warnings.extend(listed)
        check_explainable(model, settings)
        check_connector(ws, settings.destination)
        check_local_destination(settings.destination, settings.output_types, graph,
                                job_folder=job_dir(ws, job_id), workspace_home=ws.home,
                                overwrite=raw.overwrite, output_roots=output_roots)
        check_free(ws, settings)  # told by check and dry-run too; create_job takes the lease
    except BaseException:
        prepared.close()
        raise
    prepared.bound = filtered[0] if filtered else base
    return prepared, settings, warnings


def checked_schema(model: Any, graph: Graph) -> Graph:
    """``graph``, once it has every column and type ``model`` was trained on (before any binding
    or scoring: :func:`relpredict.model.schema.check_schema`); closed when it has not."""
    try:
        check_schema(getattr(model, "info", None), graph, model.ref)
    except BaseException:
        graph.close()
        raise
    return graph


def check_connector(ws: Workspace, destination: Any) -> None:
    """The destination's connector exists and is of its kind: told before any job is recorded,
    not when the job's sink first opens it (a :class:`SettingsError` of the destination)."""
    name = getattr(destination, "connector", None)
    if not name:
        return
    from relpredict.connectors import get_connector

    kind = getattr(destination, "kind", None) or getattr(destination, "scheme", None)
    try:
        connector = get_connector(ws, name)
    except NotFoundError as err:  # a missing connector is a bad setting of this job
        raise SettingsError({"destination": str(err)}) from None
    if kind in (None, "file", "local"):
        raise SettingsError({"destination": f"--connector {name} applies to S3, Snowflake and "
                             "BigQuery outputs, not to a local file: drop it or give an s3:// output."})
    if connector.kind != kind:
        raise SettingsError({"destination": f"The connector {name!r} is of kind {connector.kind}, but "
                             f"this destination needs one of kind {kind}: give a {kind} connector."})


def check_explainable(model: JobModel, settings: JobSettings) -> None:
    """The explanations output only for a model that can explain (a ranker cannot), told with
    the settings rather than by the first shard."""
    if "explanations" not in settings.output_types:
        return
    if isinstance(model, ExplainingModel):
        from relpredict.model.explain import cannot_explain

        reason = cannot_explain(model)
    else:
        reason = (f"The model {model.ref} cannot explain its predictions: leave out the explanations "
                  "output type.")
    if reason:
        raise SettingsError({"output_types": reason})


def _entity_list(source: str, graph: Graph, bq: BoundQuery, warnings: list[str]) -> str:
    canonical, found = check_entities(source, graph, bq)
    warnings.extend(found)
    return canonical


def prediction_entities(prepared: Prepared, settings: JobSettings) -> pa.Array:
    """The keys of the entities to predict at the anchor time, in key order (only those of the
    job's entity list, ``--entities``, when it has one)."""
    table = prediction_table(prepared.bound, prepared.graph, settings.anchor_time)
    listed = ""
    if settings.entities:
        keys = entity_keys(settings.entities, prepared.graph, prepared.bound)
        table = table.filter(pc.is_in(table.column("ENTITY"), value_set=keys))
        listed = f", is in the entity list {settings.entities}"
    if table.num_rows == 0:
        at = f" at the anchor time {settings.anchor_time}" if settings.anchor_time else ""
        raise ConfigError(f"No entity of {prepared.bound.entity_table} exists{at}{listed} and passes "
                          "the query's WHERE and the entity filter: there is nothing to predict. "
                          "Choose another anchor time or a wider filter.")
    return table.column("ENTITY").combine_chunks()
