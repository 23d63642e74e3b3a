"""What ``query check`` reports about a bound query on its graph: sizes and label balance."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from relpredict.graph.graph import Graph
from relpredict.labels.labels import (
    default_anchor_time,
    prediction_table,
    step_offset,
    training_table,
)
from relpredict.query.ast import Aggregation, aggregations
from relpredict.query.bound import BoundQuery, TaskType
from relpredict.query.printer import to_pql


@dataclass(frozen=True)
class QueryReport:
    task_type: str
    entity: str
    target: str
    windows: list[str]
    default_anchor: datetime | None
    entities_at_default: int
    label_anchor: datetime | None  # latest anchor whose target window is fully observed
    labels: int
    distribution: dict[str, float]


def report(bq: BoundQuery, graph: Graph) -> QueryReport:
    anchor = default_anchor_time(bq, graph)
    entities = prediction_table(bq, graph, anchor).num_rows
    label_anchor = None
    if bq.is_temporal and anchor is not None and bq.horizon is not None:
        label_anchor = (pd.Timestamp(anchor) - step_offset(bq.horizon)).to_pydatetime()
    labels = training_table(bq, graph, [label_anchor] if label_anchor else None)
    windows = [f"{to_pql(a)}: ({_w(a.start)}, {_w(a.end)}] {a.unit}" for a in _all_aggs(bq)]
    return QueryReport(bq.task_type.value, f"{bq.entity_table}.{bq.entity_key}", to_pql(bq.target),
                       windows, anchor, entities, label_anchor, labels.num_rows,
                       distribution(bq.task_type, labels))


def _all_aggs(bq: BoundQuery) -> list[Aggregation]:
    return aggregations(bq.target) + aggregations(bq.where) + aggregations(bq.assuming)


def _w(value: float | None) -> str:
    if value is None:
        return "-INF"
    return str(int(value)) if float(value).is_integer() else str(value)


def distribution(task: TaskType, labels: pa.Table) -> dict[str, float]:
    """Label balance (classification) or summary statistics (regression) of a label table."""
    if labels.num_rows == 0:
        return {}
    y = labels.column("TARGET")
    if task is TaskType.binary:
        positive = pc.sum(pc.cast(y, pa.int64())).as_py() or 0
        return {"true": positive / labels.num_rows, "false": 1 - positive / labels.num_rows}
    if task is TaskType.regression:
        q = pc.quantile(pc.cast(y, pa.float64()), q=[0.5]).to_pylist()[0]
        return {"mean": pc.mean(y).as_py(), "std": pc.stddev(y).as_py(), "min": pc.min(y).as_py(),
                "median": q, "max": pc.max(y).as_py()}
    if task is TaskType.multiclass:
        counts = pc.value_counts(y).to_pylist()
        counts.sort(key=lambda d: -d["counts"])
        return {str(d["values"]): d["counts"] / labels.num_rows for d in counts[:10]}
    sizes = pc.list_value_length(y)
    return {"mean list length": pc.mean(sizes).as_py(), "max list length": pc.max(sizes).as_py()}
