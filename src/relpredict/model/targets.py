"""Targets ↔ model outputs, per task type: encoding labels for training, decoding scores.

A :class:`TargetCodec` is fitted on the training labels and stored in the model artifact:
class lists for classification, the normalisation and clamp range for regression, the item keys
for link prediction. Decoding turns raw scores into the output columns of PQL.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from relpredict.query.bound import TaskType

MAX_CLASSES = 100


def _py(values: pa.ChunkedArray | pa.Array) -> list[Any]:
    out: list[Any] = values.to_pylist()
    return out


@dataclass
class TargetCodec:
    """What a model needs to know about its target.

    Attributes:
        task: the task type.
        classes: class values (multiclass, multilabel), most frequent first.
        items: item keys in node order (link prediction).
        mean, std: regression normalisation (of the learners' relative target ``z``).
        low, high: regression clamp range (training 2 % and 98 % quantiles); not applied to a
            relative codec, whose predictions may leave the training range when the scale moves.
        relative: regression learners predict ``z = (y - base) / scale`` (see
            :meth:`relpredict.model.predictor.TrainedModel.regression_frame`).
        floor: the smallest ``scale``.
        zlow, zhigh: clamp range of ``z`` (training 1 % and 99 % quantiles).
        prior: binary positive rate in training.
    """

    task: TaskType
    classes: list[Any] = field(default_factory=list)
    items: list[Any] = field(default_factory=list)
    mean: float = 0.0
    std: float = 1.0
    low: float = -np.inf
    high: float = np.inf
    prior: float = 0.5
    relative: bool = False
    floor: float = 1.0
    zlow: float = -np.inf
    zhigh: float = np.inf

    @classmethod
    def fit(cls, task: TaskType, target: pa.ChunkedArray, items: list[Any] | None = None) -> TargetCodec:
        codec = cls(task)
        values = _py(target)
        if task is TaskType.binary:
            codec.prior = float(np.mean([bool(v) for v in values])) if values else 0.5
        elif task is TaskType.regression:
            y = np.asarray(values, dtype=np.float64)
            codec.mean, codec.std = float(y.mean()), float(max(y.std(), 1e-6))
            codec.low, codec.high = (float(v) for v in np.quantile(y, [0.02, 0.98]))
            codec.relative = True
            codec.floor = max(0.1 * float(np.mean(np.abs(y))), 1e-6) if len(y) else 1.0
        elif task is TaskType.multiclass:
            codec.classes = _top([v for v in values if v is not None])
        elif task is TaskType.multilabel:
            codec.classes = _top([x for v in values for x in (v or [])])
        elif task is TaskType.link_prediction:
            codec.items = list(items or [])
        return codec

    @property
    def out_dim(self) -> int:
        if self.task in (TaskType.multiclass, TaskType.multilabel):
            return len(self.classes)
        return 1

    def encode(self, target: pa.ChunkedArray) -> np.ndarray:
        """Training targets: binary/regression ``[N]`` float, multiclass ``[N]`` int (−1 unknown),
        multilabel ``[N, C]`` 0/1; link prediction is handled with item positions instead."""
        values = _py(target)
        if self.task is TaskType.binary:
            return np.asarray([float(bool(v)) for v in values], dtype=np.float32)
        if self.task is TaskType.regression:
            return np.asarray(values, dtype=np.float64)
        index = {c: i for i, c in enumerate(self.classes)}
        if self.task is TaskType.multiclass:
            return np.asarray([index.get(v, -1) for v in values], dtype=np.int64)
        if self.task is TaskType.multilabel:
            out = np.zeros((len(values), len(self.classes)), dtype=np.float32)
            for row, labels in enumerate(values):
                for label in labels or []:
                    if label in index:
                        out[row, index[label]] = 1.0
            return out
        raise ValueError(f"encode does not apply to {self.task.value}")

    def clamp(self, pred: np.ndarray) -> np.ndarray:
        """Regression values clamped to the training range (not for a relative codec)."""
        return pred if self.relative else np.clip(pred, self.low, self.high)

    def clamp_relative(self, z: np.ndarray) -> np.ndarray:
        return np.asarray(np.clip(z, self.zlow, self.zhigh), np.float64)

    def fit_relative(self, z: np.ndarray) -> None:
        """The normalisation and clamp range of the relative target ``z`` (training rows)."""
        z = np.asarray(z, np.float64)
        self.mean, self.std = float(z.mean()), float(max(z.std(), 1e-6))
        self.zlow, self.zhigh = (float(v) for v in np.quantile(z, [0.01, 0.99]))

    def to_dict(self) -> dict[str, Any]:
        return {"task": self.task.value, "classes": self.classes, "items": self.items,
                "mean": self.mean, "std": self.std, "low": _num(self.low), "high": _num(self.high),
                "prior": self.prior, "relative": self.relative, "floor": self.floor,
                "zlow": _num(self.zlow), "zhigh": _num(self.zhigh)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TargetCodec:
        return cls(TaskType(d["task"]), list(d["classes"]), list(d["items"]), float(d["mean"]),
                   float(d["std"]), _inf(d["low"], -np.inf), _inf(d["high"], np.inf), float(d["prior"]),
                   bool(d.get("relative", False)), float(d.get("floor", 1.0)),
                   _inf(d.get("zlow"), -np.inf), _inf(d.get("zhigh"), np.inf))


def _top(values: list[Any]) -> list[Any]:
    """Distinct values, most frequent first (ties by value), at most MAX_CLASSES."""
    counts: dict[Any, int] = {}
    for v in values:
        counts[v] = counts.get(v, 0) + 1
    return [v for v, _ in sorted(counts.items(), key=lambda kv: (-kv[1], str(kv[0])))][:MAX_CLASSES]


def _num(x: float) -> float | None:
    return None if not np.isfinite(x) else float(x)


def _inf(x: float | None, default: float) -> float:
    return default if x is None else float(x)
