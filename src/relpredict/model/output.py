"""Scores → the output tables of PQL.md, per task type: pure formatting, no model state.

``TrainedModel.predict`` (and a job's baseline backtest) hand their raw scores here: binary
``TARGET_PRED, False_PROB, True_PROB``; regression ``TARGET_PRED``; multiclass / multilabel /
link prediction ``k`` rows per entity, best first, ``CLASS, SCORE`` (+ ``PREDICTED``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from relpredict.query.bound import TaskType

if TYPE_CHECKING:
    from relpredict.model.predictor import TrainedModel

__all__ = ["MAX_RETURNED_CLASSES", "format_predictions"]

MAX_RETURNED_CLASSES = 10


def format_predictions(model: TrainedModel, rows: pa.Table, pred: np.ndarray, *, threshold: float = 0.5,
                       num_classes: int | None = None, top_k: int | None = None) -> pa.Table:
    """Scores → the output columns of PQL.md for the model's task type."""
    task = model.task_type
    if task is TaskType.binary:
        prob = np.asarray(pred, dtype=np.float64)
        return (rows.append_column("TARGET_PRED", pa.array(prob >= threshold))
                .append_column("False_PROB", pa.array(1.0 - prob))
                .append_column("True_PROB", pa.array(prob)))
    if task is TaskType.regression:
        return rows.append_column("TARGET_PRED", pa.array(np.asarray(pred, dtype=np.float64)))
    if task is TaskType.link_prediction:
        k = min(top_k or model.top_k, pred.shape[1])
        return _ranked(rows, pred, model.codec.items, k, None)
    k = min(num_classes or min(len(model.codec.classes), MAX_RETURNED_CLASSES), pred.shape[1])
    chosen = (pred >= 0.5) if task is TaskType.multilabel else None
    if task is TaskType.multiclass:
        chosen = np.zeros_like(pred, dtype=bool)
        chosen[np.arange(len(pred)), pred.argmax(1)] = True
    return _ranked(rows, pred, model.codec.classes, k, chosen)


def _ranked(rows: pa.Table, pred: np.ndarray, labels: list[Any], k: int, chosen: np.ndarray | None) -> pa.Table:
    """``k`` rows per entity, best first: ``CLASS, SCORE`` (+ ``PREDICTED``)."""
    n = rows.num_rows
    if n == 0 or k == 0:
        top = np.zeros((n, 0), dtype=np.int64)
    else:
        top = np.argsort(-pred, axis=1, kind="stable")[:, :k]
    repeat = np.repeat(np.arange(n), top.shape[1])
    out = rows.take(pa.array(repeat, pa.int64()))
    flat = top.reshape(-1)
    out = out.append_column("CLASS", pa.array([labels[i] for i in flat]))
    out = out.append_column("SCORE", pa.array(pred[repeat, flat].astype(np.float64)))
    if chosen is not None:
        out = out.append_column("PREDICTED", pa.array(chosen[repeat, flat]))
    return out
