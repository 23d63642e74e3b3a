"""What a finished job reports: the sample it keeps, the score histogram, and the backtest.

All three are fed batch by batch while the outputs are published, so nothing here holds the whole
output: the sample stops at its cap, the histogram keeps counts, and the backtest keeps only the
rows of entities that have a realised label.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from relpredict.query.bound import TaskType

HISTOGRAM_BINS = 20

__all__ = ["Backtest", "Histogram", "SampleWriter", "backtest_metric", "histogram_edges"]


class SampleWriter:
    """Keeps the first ``cap_bytes`` of an output (Arrow's in-memory size) as one Parquet file.

    The whole output when it is smaller than the cap; otherwise its first rows, cut inside the
    batch that crosses the cap. Written under a temporary name and renamed on :meth:`close`.
    """

    def __init__(self, path: Path, schema: pa.Schema, cap_bytes: int) -> None:
        self.path, self.cap = path, cap_bytes
        self.tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        path.parent.mkdir(parents=True, exist_ok=True)
        self.writer = pq.ParquetWriter(self.tmp, schema)
        self.bytes = self.rows = 0
        self.complete = True

    def add(self, batch: pa.RecordBatch) -> None:
        if not self.complete or batch.num_rows == 0:
            return
        room, size = self.cap - self.bytes, batch.nbytes
        if size > room:
            per_row = size / batch.num_rows
            batch = batch.slice(0, int(room // per_row))
            size = int(batch.num_rows * per_row)
            self.complete = False
        if batch.num_rows:
            self.writer.write_batch(batch)
            self.rows += batch.num_rows
            self.bytes += size

    def abort(self) -> None:
        """Drop the sample (a publish that was abandoned): nothing is left of it."""
        try:
            self.writer.close()
        finally:
            self.tmp.unlink(missing_ok=True)

    def close(self) -> dict[str, Any]:
        self.writer.close()
        os.replace(self.tmp, self.path)
        return {"path": str(self.path), "rows": self.rows, "bytes": self.bytes,
                "complete": self.complete, "cap_bytes": self.cap}


def histogram_edges(task_type: TaskType, lo: float | None, hi: float | None) -> list[float] | None:
    """Bin edges of the score histogram: probabilities on [0, 1], anything else on its range."""
    if task_type is TaskType.binary:
        return [float(v) for v in np.round(np.linspace(0.0, 1.0, HISTOGRAM_BINS + 1), 12)]
    if lo is None or hi is None:
        return None
    if lo == hi:
        lo, hi = lo - 0.5, hi + 0.5
    return [float(v) for v in np.round(np.linspace(lo, hi, HISTOGRAM_BINS + 1), 12)]


@dataclass
class Histogram:
    """Counts of a score column over fixed edges, accumulated batch by batch."""

    column: str
    edges: list[float]
    counts: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.counts = np.zeros(len(self.edges) - 1, dtype=np.int64)

    def add(self, batch: pa.RecordBatch) -> None:
        values = pc.cast(batch.column(self.column), pa.float64()).to_numpy(zero_copy_only=False)
        values = values[np.isfinite(values)]
        self.counts += np.histogram(np.clip(values, self.edges[0], self.edges[-1]), self.edges)[0]

    def to_json(self) -> dict[str, Any]:
        return {"column": self.column, "edges": self.edges, "counts": self.counts.tolist()}


@dataclass
class Backtest:
    """Collects the prediction rows of labelled entities while the output streams by."""

    task_type: TaskType
    labels: pa.Table  # ENTITY, [ANCHOR_TIMESTAMP,] TARGET
    k: int | None = None
    parts: list[pa.RecordBatch] = field(default_factory=list)

    def add(self, batch: pa.RecordBatch) -> None:
        if "TIMEFRAME" in batch.schema.names:  # a forecast: timeframe 1 is the anchor's window
            batch = batch.filter(pc.equal(batch.column("TIMEFRAME"), 1))
        keep = pc.is_in(batch.column("ENTITY"), value_set=self.labels.column("ENTITY"))
        filtered = batch.filter(keep)
        if filtered.num_rows:
            self.parts.append(filtered)

    def result(self, anchor: datetime, window_end: datetime) -> dict[str, Any]:
        preds = pa.Table.from_batches(self.parts) if self.parts else None
        name, value, n = backtest_metric(self.task_type, preds, self.labels, self.k)
        return {"metric": name, "value": value, "entities": n, "anchor_time": anchor.isoformat(),
                "window_end": window_end.isoformat()}


def backtest_metric(task_type: TaskType, preds: pa.Table | None, labels: pa.Table,
                    k: int | None) -> tuple[str, float | None, int]:
    """The realised metric of predictions against labels: (name, value, labelled entities scored).

    Binary: AUROC of ``True_PROB``; regression: MAE of ``TARGET_PRED``; multiclass: accuracy of
    the best class; multilabel and link prediction: MAP@k of the ranked ``CLASS`` rows.
    """
    from relpredict.model.metrics import accuracy, auroc, mae, map_at_k

    name = {TaskType.binary: "auroc", TaskType.regression: "mae", TaskType.multiclass: "accuracy"
            }.get(task_type, "map@k")
    if preds is None or preds.num_rows == 0:
        return name, None, 0
    truth = labels.select(["ENTITY", "TARGET"]).to_pandas()
    frame = preds.to_pandas()
    if task_type in (TaskType.binary, TaskType.regression):
        column = "True_PROB" if task_type is TaskType.binary else "TARGET_PRED"
        joined = frame[["ENTITY", column]].merge(truth, on="ENTITY")
        metric = auroc if task_type is TaskType.binary else mae
        return name, _finite(metric(joined["TARGET"].to_numpy(), joined[column].to_numpy())), len(joined)
    ranked = frame.groupby("ENTITY", sort=False)["CLASS"].agg(list).rename("RANKED").reset_index()
    joined = ranked.merge(truth, on="ENTITY")
    if task_type is TaskType.multiclass:
        best = joined["RANKED"].map(lambda r: r[0]).to_numpy()
        return name, _finite(accuracy(joined["TARGET"].to_numpy(), best)), len(joined)
    value = map_at_k([list(t) for t in joined["TARGET"]], list(joined["RANKED"]), k or 1)
    return name, _finite(value), len(joined)


def _finite(value: float) -> float | None:
    return None if value is None or pd.isna(value) else float(value)
