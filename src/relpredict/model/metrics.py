"""Evaluation metrics, in numpy: the ones RelBench reports plus calibration error.

Pure functions over arrays; each returns a float (NaN where the metric is undefined, e.g. AUROC
with one class only), so a metrics dict always has the same keys.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from relpredict.query.bound import TaskType


def average_ranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks, ties sharing their average rank (``scipy.stats.rankdata``'s default,
    without importing SciPy at scoring time)."""
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    ends = np.cumsum(counts)
    return ((ends - counts + 1 + ends) / 2.0)[inverse.reshape(-1)]


def auroc(y: np.ndarray, score: np.ndarray) -> float:
    """Area under the ROC curve (Mann–Whitney U with average ranks for ties)."""
    y = np.asarray(y, dtype=bool)
    pos, neg = int(y.sum()), int((~y).sum())
    if pos == 0 or neg == 0:
        return float("nan")
    ranks = average_ranks(np.asarray(score, dtype=np.float64))
    return float((ranks[y].sum() - pos * (pos + 1) / 2) / (pos * neg))


def average_precision(y: np.ndarray, score: np.ndarray) -> float:
    """Area under the precision–recall curve (step-wise, as scikit-learn computes it)."""
    y = np.asarray(y, dtype=bool)
    if not y.any():
        return float("nan")
    order = np.argsort(-np.asarray(score, dtype=np.float64), kind="stable")
    hits = np.cumsum(y[order])
    precision = hits / np.arange(1, len(y) + 1)
    return float(precision[y[order]].sum() / y.sum())


def log_loss(y: np.ndarray, prob: np.ndarray) -> float:
    p = np.clip(np.asarray(prob, dtype=np.float64), 1e-12, 1 - 1e-12)
    y = np.asarray(y, dtype=np.float64)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def ece(y: np.ndarray, prob: np.ndarray, bins: int = 10) -> float:
    """Expected calibration error: |mean prob − positive rate| per equal-width bin, weighted."""
    y, prob = np.asarray(y, dtype=np.float64), np.asarray(prob, dtype=np.float64)
    if len(y) == 0:
        return float("nan")
    which = np.clip((prob * bins).astype(int), 0, bins - 1)
    total = 0.0
    for b in range(bins):
        mask = which == b
        if mask.any():
            total += mask.sum() * abs(prob[mask].mean() - y[mask].mean())
    return float(total / len(y))


def reliability(y: np.ndarray, prob: np.ndarray, bins: int = 10) -> list[dict[str, float]]:
    """The reliability diagram's points: per equal-width probability bin with rows, its mean
    predicted probability, observed positive rate and row count (the bins of :func:`ece`)."""
    y, prob = np.asarray(y, dtype=np.float64), np.asarray(prob, dtype=np.float64)
    which = np.clip((prob * bins).astype(int), 0, bins - 1)
    return [{"lo": b / bins, "hi": (b + 1) / bins, "predicted": float(prob[which == b].mean()),
             "observed": float(y[which == b].mean()), "count": int((which == b).sum())}
            for b in range(bins) if (which == b).any()]


def mae(y: np.ndarray, pred: np.ndarray) -> float:
    return float(np.mean(np.abs(np.asarray(y, np.float64) - np.asarray(pred, np.float64))))


def rmse(y: np.ndarray, pred: np.ndarray) -> float:
    return float(np.sqrt(np.mean((np.asarray(y, np.float64) - np.asarray(pred, np.float64)) ** 2)))


def r2(y: np.ndarray, pred: np.ndarray) -> float:
    y, pred = np.asarray(y, np.float64), np.asarray(pred, np.float64)
    ss = float(((y - y.mean()) ** 2).sum())
    return float("nan") if ss == 0 else 1.0 - float(((y - pred) ** 2).sum()) / ss


def accuracy(y: np.ndarray, pred: np.ndarray) -> float:
    return float(np.mean(np.asarray(y) == np.asarray(pred))) if len(y) else float("nan")


def map_at_k(truth: Sequence[Sequence[Any]], ranked: Sequence[Sequence[Any]], k: int) -> float:
    """Mean average precision at k over entities (RelBench's link-prediction metric).

    ``truth[i]``: the items entity i really had; ``ranked[i]``: the predicted items, best first.
    """
    scores = []
    for actual, pred in zip(truth, ranked):
        actual_set = set(actual)
        if not actual_set:
            continue
        hits, total = 0, 0.0
        for rank, item in enumerate(list(pred)[:k], start=1):
            if item in actual_set:
                hits += 1
                total += hits / rank
        scores.append(total / min(len(actual_set), k))
    return float(np.mean(scores)) if scores else float("nan")


def multilabel_f1(truth: np.ndarray, pred: np.ndarray) -> float:
    """Micro-averaged F1 of 0/1 matrices ``[N, C]``."""
    truth, pred = np.asarray(truth, bool), np.asarray(pred, bool)
    tp = float((truth & pred).sum())
    denom = float(truth.sum() + pred.sum())
    return float("nan") if denom == 0 else 2 * tp / denom


#: The metric that picks the best epoch / model per task type, and whether higher is better.
SELECTION = {
    TaskType.binary: ("auroc", True),
    TaskType.regression: ("mae", False),
    TaskType.multiclass: ("accuracy", True),
    TaskType.multilabel: ("f1", True),
    TaskType.link_prediction: ("map@k", True),
}


def better(task: TaskType, new: float, old: float | None) -> bool:
    """Whether ``new`` beats ``old`` on the task's selection metric (NaN never wins)."""
    if np.isnan(new):
        return False
    if old is None or np.isnan(old):
        return True
    return new > old if SELECTION[task][1] else new < old
