"""Shards: self-contained units of a job's work, and the function that runs one anywhere.

A :class:`Shard` carries everything needed to score its entities and stage the result: the job
id, its number, the entity keys, the anchor time, the model reference and the import string of the
loader, the workspace home, the destination and the prediction options. It is plain picklable
data, so :func:`run_shard` runs the same in a local worker process or on a Dask worker; the result
goes straight to the destination's staging area, never back through the coordinator.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib
import math
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, cast

import pyarrow as pa
import pyarrow.compute as pc

from relpredict.errors import ConfigError, RelpredictError
from relpredict.graph.graph import Graph
from relpredict.jobs.drift import shard_drift
from relpredict.jobs.partial import ERRORS, errors_table, score_isolating
from relpredict.jobs.protocols import ExplainingModel, JobModel
from relpredict.jobs.settings import PredictOptions
from relpredict.jobs.sources import job_graph
from relpredict.query.bound import TaskType
from relpredict.sinks import SinkSpec, open_sink
from relpredict.workspace import Workspace

DEFAULT_LOADER = "relpredict.model.artifact:load_model"
LOADER_ENV = "RELPREDICT_MODEL_LOADER"

__all__ = ["DEFAULT_LOADER", "LOADER_ENV", "Shard", "expected_columns", "own_slice",
           "plan_shards", "predict_tables", "resolve_loader", "run_shard", "score_column"]


@dataclass(frozen=True)
class Shard:
    """One unit of work (see the module docstring)."""

    job_id: str
    number: int
    entities: pa.Array
    anchor_time: datetime | None
    model_ref: str
    loader: str
    home: str
    sink: SinkSpec
    options: PredictOptions = PredictOptions()
    explain_k: int = 5  # inputs per entity of the explanations output
    explain_exact: bool = False  # LightGBM's exact TreeSHAP instead of path contributions
    max_errors: int = 0  # entities that may fail to score before the job fails (jobs.partial)


# ----------------------------------------------------------------------------------- planning
def plan_shards(n_entities: int, shard_size: int) -> list[tuple[int, int]]:
    """``[start, stop)`` row ranges of the entity list, ``shard_size`` each (the last may be short)."""
    if shard_size <= 0:
        raise ValueError(f"shard_size must be positive, not {shard_size}")
    return [(lo, min(lo + shard_size, n_entities)) for lo in range(0, n_entities, shard_size)]


def own_slice(entities: pa.Array, start: int, stop: int) -> pa.Array:
    """Rows ``[start, stop)`` as an array with its own buffers.

    A plain slice pickles its parent's whole buffer, which would send every worker the full entity
    list once per shard.
    """
    return pa.concat_arrays([entities.slice(start, stop - start)])


# ----------------------------------------------------------------------------------- model
def resolve_loader(spec: str) -> Callable[[Workspace, str], JobModel]:
    """Import ``module:function``; the function loads a model by reference in a workspace."""
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise ConfigError(f"The model loader {spec!r} must be written module:function "
                          f"(e.g. {DEFAULT_LOADER}); check {LOADER_ENV}.")
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise ConfigError(f"The model loader module {module_name!r} cannot be imported ({err}); "
                          f"check {LOADER_ENV} or install the model extra.") from err
    loader = getattr(module, attr, None)
    if not callable(loader):
        raise ConfigError(f"The model loader {spec!r} names no function {attr!r} in {module_name}.")
    return cast(Callable[[Workspace, str], JobModel], loader)


_CONTEXT: dict[tuple[str, ...], tuple[JobModel, Graph]] = {}


def _context(shard: Shard) -> tuple[JobModel, Graph]:
    """The model and its graph for a shard, loaded once per process and reused by later shards."""
    key = (shard.loader, shard.home, shard.model_ref, shard.job_id)  # a job's graph reads its own copies
    if key not in _CONTEXT:
        _CONTEXT.clear()  # one model per process: free the previous one first
        ws = Workspace.open(shard.home)
        model = resolve_loader(shard.loader)(ws, shard.model_ref)
        limit_torch_threads()
        # Connector tables come from the copies the job fetched at setup, never from the source.
        _CONTEXT[key] = (model, job_graph(ws, model, shard.job_id, fetch=False))
    return _CONTEXT[key]


def limit_torch_threads() -> None:
    """A worker's share of the cores as torch's intra-op threads (``RELPREDICT_WORKER_THREADS``,
    set by a local worker; one on a Dask worker): N workers on N cores, not N x N threads."""
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(max(1, int(os.environ.get("RELPREDICT_WORKER_THREADS", "1"))))


# ----------------------------------------------------------------------------------- outputs
def expected_columns(task_type: TaskType, is_temporal: bool, output: str,
                     forecast: bool = False) -> list[str]:
    """The columns of an output, in Kumo's order (docs/PQL-extensions.md, "Output columns");
    a forecast's predictions have ``TIMEFRAME`` after the anchor time."""
    if output == "embeddings":
        rest = ["EMBEDDINGS"]
    elif output == "explanations":
        rest = ["RANK", "FEATURE", "VALUE", "CONTRIBUTION"]
    elif task_type is TaskType.binary:
        rest = ["TARGET_PRED", "False_PROB", "True_PROB"]
    elif task_type is TaskType.regression:
        rest = ["TARGET_PRED"]
    elif task_type is TaskType.link_prediction:
        rest = ["CLASS", "SCORE"]
    else:
        rest = ["CLASS", "SCORE", "PREDICTED"]
    steps = ["TIMEFRAME"] if forecast and output == "predictions" else []
    return ["ENTITY", *(["ANCHOR_TIMESTAMP"] if is_temporal else []), *steps, *rest]


def score_column(task_type: TaskType, output: str) -> str | None:
    """The column whose distribution the summary shows (none for embeddings)."""
    if output in ("embeddings", "explanations"):
        return None
    return {TaskType.binary: "True_PROB", TaskType.regression: "TARGET_PRED"}.get(task_type, "SCORE")


def predict_tables(model: JobModel, graph: Graph, shard: Shard) -> dict[str, pa.Table]:
    """Score one shard's entities: one table per output type, checked against PQL.md's columns."""
    out: dict[str, pa.Table] = {}
    for output in shard.sink.output_types:
        if output == "predictions":
            o = shard.options
            table = model.predict(graph, shard.anchor_time, shard.entities, threshold=o.threshold,
                                  num_classes=o.num_classes, top_k=o.top_k)
        elif output == "explanations":
            table = _explainer(model).explain(graph, shard.anchor_time, shard.entities, shard.explain_k,
                                              exact=shard.explain_exact)
        else:
            table = model.embed(graph, shard.anchor_time, shard.entities)
        _check_output(model, output, table, shard)
        out[output] = table
    return out


def _explainer(model: JobModel) -> ExplainingModel:
    if not isinstance(model, ExplainingModel):
        raise ConfigError(f"The model {model.ref} cannot explain its predictions; leave out the "
                          "explanations output.")
    return model


def _check_output(model: JobModel, output: str, table: pa.Table, shard: Shard) -> None:
    forecast = getattr(model, "forecast", None) is not None
    want = expected_columns(model.task_type, model.is_temporal, output, forecast)
    if table.column_names != want:
        raise RelpredictError(f"The model {shard.model_ref} returned the columns {table.column_names} "
                              f"for {output}; PQL.md says {want}. This is a bug in the model.")
    single = output == "embeddings" or output != "explanations" and model.task_type in (TaskType.binary, TaskType.regression)
    single = single and not (forecast and output == "predictions")  # a forecast: N rows each
    if single and not table.column("ENTITY").equals(pa.chunked_array([shard.entities])):
        raise RelpredictError(f"The model {shard.model_ref} returned {output} for other entities "
                              f"than the {len(shard.entities)} of shard {shard.number}, or in "
                              "another order. This is a bug in the model.")


def _score_range(table: pa.Table, column: str | None) -> list[float] | None:
    if column is None or table.num_rows == 0:
        return None
    bounds = pc.min_max(pc.cast(table.column(column), pa.float64()))
    lo, hi = bounds["min"].as_py(), bounds["max"].as_py()
    if lo is None or not (math.isfinite(lo) and math.isfinite(hi)):
        return None
    return [lo, hi]


class NonFiniteScore(ValueError):
    """The model scored an entity NaN or infinite: that entity's prediction failed."""


def score_shard(model: JobModel, graph: Graph, shard: Shard) -> tuple[dict[str, pa.Table], list[tuple[Any, str]]]:
    """The shard's tables, scored in bulk; the entities that fail on their own (an exception, or a
    NaN / infinite score) are left out and returned as ``(entity, message)`` up to
    ``shard.max_errors`` (:func:`relpredict.jobs.partial.score_isolating`)."""
    def score(entities: pa.Array) -> dict[str, pa.Table]:
        part = replace(shard, entities=entities)
        tables = predict_tables(model, graph, part)
        for output, table in tables.items():
            _check_finite(table, score_column(model.task_type, output))
        return tables

    return score_isolating(score, shard.entities, shard.max_errors,
                           lambda err: f"{type(err).__name__}: {err}", f"shard {shard.number}")


def _check_finite(table: pa.Table, column: str | None) -> None:
    if column is None or column not in table.column_names or table.num_rows == 0:
        return
    values = pc.cast(table.column(column), pa.float64())
    finite = pc.is_finite(values)
    if pc.all(pc.or_kleene(finite, pc.is_null(values))).as_py() is False:
        bad = pc.filter(values, pc.invert(pc.fill_null(finite, True)))[0].as_py()
        raise NonFiniteScore(f"the model returned {column} = {bad}, not a finite number")


def run_shard(shard: Shard, context: tuple[Any, Any] | None = None) -> dict[str, Any]:
    """Score a shard and stage its outputs, then mark it done; returns the done marker's info.

    ``context`` is the model and its graph (default: loaded from the shard's workspace, once
    per process). Safe to run again for the same shard (a retry or a resume): the staged files
    are replaced whole and the marker is written last.
    """
    start = time.perf_counter()
    model, graph = context or _context(shard)
    tables, errors = score_shard(model, graph, shard)
    sink = open_sink(shard.sink)
    for output, table in tables.items():
        sink.write_shard(shard.number, output, table)
    if errors:
        sink.write_shard(shard.number, ERRORS, errors_table(errors, shard.entities.type))
    info = {
        "shard": shard.number,
        "entities": len(shard.entities),
        "errors": len(errors),
        "rows": {o: t.num_rows for o, t in tables.items()},
        "score_range": {o: _score_range(t, score_column(model.task_type, o)) for o, t in tables.items()},
        "seconds": round(time.perf_counter() - start, 6),
        "drift": shard_drift(model, graph, shard, tables),
    }
    sink.mark_done(shard.number, info)
    release_memory()
    return info


def release_memory() -> None:
    """Hand the shard's freed buffers back to the system (Arrow's pool and glibc's heap keep
    them otherwise), so that a worker's memory between shards is what it holds, not its peak."""
    pa.default_memory_pool().release_unused()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)
