"""``job run --dry-run``: validate, count the entities, time a sample of shards, write nothing.

The estimate scores up to ``SAMPLE_SHARDS`` shards (each cut to ``SAMPLE_ENTITIES`` entities,
spread over the entity list) in this process with the loaded model, then scales: run time =
model load + entities x seconds per entity / workers; output size = entities x bytes per entity
of the sample written in the job's file type (into memory).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from relpredict.jobs.prepare import prediction_entities, prepare
from relpredict.jobs.protocols import JobModel
from relpredict.jobs.settings import JobSettings, RawSettings
from relpredict.jobs.shards import Shard, own_slice, plan_shards, predict_tables
from relpredict.sinks import SinkSpec
from relpredict.sinks.formats import open_writer
from relpredict.workspace import Workspace

SAMPLE_SHARDS = 2
SAMPLE_ENTITIES = 2_000

__all__ = ["DryRun", "dry_run", "estimate_seconds"]


@dataclass(frozen=True)
class DryRun:
    """What a job would do, without writing anything."""

    entities: int
    shards: int
    estimated_seconds: float
    estimated_bytes: dict[str, int]
    sampled_entities: int
    warnings: tuple[str, ...]
    settings: dict[str, Any]


def estimate_seconds(entities: int, seconds_per_entity: float, workers: int, startup: float) -> float:
    """Run time of the whole job from the sampled rate: startup plus the parallel share."""
    return startup + entities * seconds_per_entity / max(1, workers)


def _sample_shards(entities: pa.Array, settings: JobSettings, spec: SinkSpec, model: JobModel,
                   home: str) -> list[Shard]:
    ranges = plan_shards(len(entities), settings.shard_size_for(len(entities)))
    step = max(1, len(ranges) // SAMPLE_SHARDS)
    picked = ranges[::step][:SAMPLE_SHARDS]
    return [Shard("dry-run", i, own_slice(entities, lo, min(hi, lo + SAMPLE_ENTITIES)),
                  settings.anchor_time, model.ref, "", home, spec, settings.predict_options())
            for i, (lo, hi) in enumerate(picked)]


def _encoded_bytes(table: pa.Table, file_type: str) -> int:
    buffer = pa.BufferOutputStream()
    writer = open_writer(buffer, file_type, table.schema)
    for batch in table.to_batches():
        writer.write(batch)
    writer.close()
    return int(buffer.tell())


def dry_run(ws: Workspace, workflow: str, raw: RawSettings, loader: str | None = None,
            output_roots: Sequence[str | Path] | None = None) -> DryRun:
    """Validate ``raw`` for ``workflow`` and estimate the job (see the module docstring)."""
    prepared, settings, warnings = prepare(ws, workflow, raw, "dry-run", loader, output_roots)
    entities = prediction_entities(prepared, settings)
    spec = SinkSpec("dry-run", settings.destination, settings.output_types)
    shards = _sample_shards(entities, settings, spec, prepared.model, str(ws.home))
    start = time.perf_counter()
    sizes = {o: 0 for o in settings.output_types}
    for shard in shards:
        for output, table in predict_tables(prepared.model, prepared.graph, shard).items():
            sizes[output] += _encoded_bytes(table, settings.destination.file_type)
    seconds = time.perf_counter() - start
    sampled = sum(len(s.entities) for s in shards)
    n = len(entities)
    return DryRun(
        entities=n, shards=len(plan_shards(n, settings.shard_size_for(n))),
        estimated_seconds=estimate_seconds(n, seconds / sampled, settings.workers, prepared.load_seconds),
        estimated_bytes={o: int(b / sampled * n) for o, b in sizes.items()},
        sampled_entities=sampled, warnings=tuple(warnings), settings=settings.to_json())
