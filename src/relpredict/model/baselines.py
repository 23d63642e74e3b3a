"""Baselines: the obvious predictions that need no training, and that every model must beat.

Each baseline reads only the query's own past labels at the example's anchor (``t - D, ...,
t - kD``, from :func:`relpredict.features.history.history_and_past`, so no look-ahead) and a few
constants of the training labels (the median, the mode, the positive rate). Training evaluates
every candidate of the task type on validation, keeps the best one as a :class:`Baseline` in the
model, offers it to ``auto`` beside the learners, and reports each candidate's validation and
test metric (``models show``).

Candidates per task type:

- binary: the rate of positive past windows over the last 3 / 12 / k windows, the last window,
  the recency of the last positive window;
- regression: the last window's value, the mean and the median of the last 3 / 12 / k windows,
  the training median;
- multiclass: the last class, the most frequent class of the last 3 / 12 / k windows, the
  training mode; for a target that is a column's value (``FIRST(t.c, ...)``), the most frequent
  value of the entity's own rows over the last 1 / 3 / 12 windows and all time, ties to the
  shorter spans' rows or to the class of the latest row;
- multilabel: each class's share of the last 3 / 12 / k windows.

- link prediction (over the item candidates of :mod:`relpredict.model.ranker`): the entity's
  own items by recency or by count then the popular ones, the popular items of the last window
  or the last 4, the same minus what the entity already has, the items that co-occur with the
  entity's recent items.

An entity without past labels gets the training constant. A ranking baseline reads the
candidate pairs (:class:`relpredict.model.ranker.Pairs`) instead of past labels.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from relpredict.features.history import RECENCY
from relpredict.model import metrics, ranker
from relpredict.model.targets import TargetCodec
from relpredict.query.bound import TaskType

Past = Sequence[Sequence[Any]]  # per example, its past labels most recent first (None = missing)
SPANS = (3, 12)
ROW_SPANS = (1, 3, 12, 0)  # recent_rows: windows of the target's length (0: all the entity's rows)


class History(Sequence[Sequence[Any]]):
    """The past labels (a :data:`Past`) and, for a target that is a class column
    (:func:`relpredict.features.history.class_column`), the class shares of the entity's recent
    fact rows by span (:func:`relpredict.features.history.recent_class_shares`)."""

    def __init__(self, labels: Past, shares: dict[int, np.ndarray] | None = None) -> None:
        self.labels, self.shares = labels, shares

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: Any) -> Any:
        return self.labels[i]


@dataclass
class Baseline:
    """One heuristic predictor: ``rule`` with ``span`` past windows and its training constants."""

    task: TaskType
    rule: str
    span: int = 1
    constants: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        ties = ", ties to the class of the latest row" if self.constants.get("ties") == "latest" else ""
        return describe(self.rule, self.span) + ties

    def predict(self, codec: TargetCodec, past: Past | ranker.Pairs) -> np.ndarray:
        """Predictions shaped as the learners': binary ``[N]`` scores in [0, 1], regression
        ``[N]`` values, multiclass / multilabel ``[N, C]`` in the codec's class order."""
        return RULES[(self.task, self.rule)](self, codec, past)

    def to_dict(self) -> dict[str, Any]:
        return {"task": self.task.value, "rule": self.rule, "span": self.span, "constants": self.constants}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Baseline:
        return cls(TaskType(d["task"]), str(d["rule"]), int(d["span"]), dict(d["constants"]))


def describe(rule: str, span: int) -> str:
    """A readable name, e.g. ``mean of the last 3 windows``."""
    if rule in ranker.RULES:
        return ranker.RULES[rule][0]
    windows = "window" if span == 1 else f"{span} windows"
    return {
        "rate": f"positive rate of the last {windows}",
        "last": "last window's value",
        "recency": "recency of the last positive window",
        "mean": f"mean of the last {windows}",
        "median": f"median of the last {windows}",
        "constant": "training median",
        "last_class": "last window's class",
        "frequent": f"most frequent class of the last {windows}",
        "mode": "training mode",
        "share": f"class shares of the last {windows}",
        "recent_rows": (f"most frequent class of the entity's rows in the last {windows}" if span
                        else "most frequent class of all the entity's rows"),
    }[rule]


# -- the rules ------------------------------------------------------------------------------
def _numbers(past: Past, span: int) -> np.ndarray:
    """``[N, span]`` float64 of the first ``span`` past labels (NaN where missing)."""
    out = np.full((len(past), span), np.nan)
    for r, values in enumerate(past):
        for i, v in enumerate(values[:span]):
            if v is not None:
                out[r, i] = float(v)
    return out


def _nan_reduce(x: np.ndarray, fn: Callable[..., np.ndarray], fallback: float) -> np.ndarray:
    """``fn`` over each row's present values; a row with none gets ``fallback``."""
    with warnings.catch_warnings():  # numpy warns of an all-NaN row: it becomes the fallback
        warnings.simplefilter("ignore", RuntimeWarning)
        value = fn(x, axis=1) if x.shape[1] else np.full(len(x), np.nan)
    return np.where(np.isnan(value), fallback, value)


def _binary_rate(b: Baseline, codec: TargetCodec, past: Past) -> np.ndarray:
    return _nan_reduce(_numbers(past, b.span), np.nanmean, codec.prior)


def _binary_recency(b: Baseline, codec: TargetCodec, past: Past) -> np.ndarray:
    x = _numbers(past, b.span)
    hit = np.nan_to_num(x) > 0
    first = np.where(hit.any(1), hit.argmax(1) + 1, 0)
    rate = _nan_reduce(x, np.nanmean, codec.prior)
    return np.where(first > 0, 1.0 / np.maximum(first, 1), 0.0) * 0.999 + 0.001 * rate


def _regression(fn: Callable[..., np.ndarray]) -> Callable[[Baseline, TargetCodec, Past], np.ndarray]:
    def rule(b: Baseline, codec: TargetCodec, past: Past) -> np.ndarray:
        return _nan_reduce(_numbers(past, b.span), fn, float(b.constants["median"]))
    return rule


def _constant(b: Baseline, codec: TargetCodec, past: Past) -> np.ndarray:
    return np.full(len(past), float(b.constants["median"]))


def _class_counts(codec: TargetCodec, past: Past, span: int, weights: np.ndarray | None = None) -> np.ndarray:
    index = {str(c): i for i, c in enumerate(codec.classes)}
    out = np.zeros((len(past), len(codec.classes)))
    w = weights if weights is not None else np.ones(span)
    for r, values in enumerate(past):
        for i, v in enumerate(values[:span]):
            for label in (v if isinstance(v, (list, tuple)) else [v]):
                c = index.get(str(label)) if label is not None else None
                if c is not None:
                    out[r, c] += w[i]
    return out


def _prior(b: Baseline, codec: TargetCodec) -> np.ndarray:
    prior = np.asarray(b.constants.get("prior") or [1.0] * len(codec.classes), dtype=np.float64)
    out: np.ndarray = prior / max(prior.sum(), 1e-12)
    return out


def _frequent(b: Baseline, codec: TargetCodec, past: Past) -> np.ndarray:
    """Class shares of the last ``span`` windows, a little of the prior to break ties and to
    speak for entities without past labels (more recent windows weigh slightly more)."""
    weights = 1.0 + 0.01 / np.arange(1, b.span + 1)
    counts = _class_counts(codec, past, b.span, weights)
    prior = _prior(b, codec)
    total = counts.sum(1, keepdims=True)
    out: np.ndarray = (counts + 0.01 * prior) / (total + 0.01)
    return out


def _last_class(b: Baseline, codec: TargetCodec, past: Past) -> np.ndarray:
    latest = [[next((v for v in values if v is not None), None)] for values in past]
    counts = _class_counts(codec, latest, 1)
    prior = _prior(b, codec)
    out: np.ndarray = (0.9 * counts + 0.1 * prior) / (0.9 * counts.sum(1, keepdims=True) + 0.1)
    return out


def _recent_rows(b: Baseline, codec: TargetCodec, past: Past) -> np.ndarray:
    """Class shares of the entity's fact rows over the span (every row, not one label per
    window); ties go to the class of the shorter spans' rows, or with the constant ``ties:
    latest`` to the tied class whose latest row is the most recent, then to the prior, which
    also speaks for entities without rows. Without the shares (an input that carries none) the
    past labels' shares stand in."""
    shares = past.shares if isinstance(past, History) and past.shares else None
    if shares is None or b.span not in shares:
        return _frequent(Baseline(b.task, "frequent", 12, b.constants), codec, past)
    x, prior = shares[b.span].copy(), _prior(b, codec)
    if b.constants.get("ties") == "latest" and RECENCY in shares:
        return _with_winner(x, prior, _tie_winner(x, shares[RECENCY], prior))
    for i, shorter in enumerate(sorted((m for m in shares if 0 < m < (b.span or np.inf)), reverse=True)):
        x += 1e-3 ** (i + 1) * shares[shorter]  # ties go to the class of the more recent rows
    out: np.ndarray = (x + 1e-4 * prior) / (x.sum(1, keepdims=True) + 1e-4)
    return out


def _tie_winner(x: np.ndarray, order: np.ndarray, prior: np.ndarray) -> np.ndarray:
    """Per row, the class of the largest share ``x``; among equal shares the one of the largest
    ``order`` (the most recent), then of the largest prior."""
    top = x >= x.max(1, keepdims=True) - 1e-12
    key = np.where(top, order + 1e-6 * prior[None, :], -np.inf)
    out: np.ndarray = key.argmax(1)
    return out


def _with_winner(x: np.ndarray, prior: np.ndarray, winner: np.ndarray) -> np.ndarray:
    """Shares with a little of the prior (entities without rows get the prior), the
    ``winner`` lifted just above every other class so that it is the argmax."""
    out = (x + 1e-4 * prior) / (x.sum(1, keepdims=True) + 1e-4)
    rows = np.arange(len(out))
    out[rows, winner] = out.max(1) + 1e-6
    result: np.ndarray = out / out.sum(1, keepdims=True)
    return result


def _mode(b: Baseline, codec: TargetCodec, past: Past) -> np.ndarray:
    return np.tile(_prior(b, codec), (len(past), 1))


def _share(b: Baseline, codec: TargetCodec, past: Past) -> np.ndarray:
    counts = _class_counts(codec, past, b.span)
    seen = np.asarray([sum(v is not None for v in values[:b.span]) for values in past], dtype=np.float64)
    prior = _prior(b, codec) * float(b.constants.get("labels_per_row", 1.0))
    return np.where(seen[:, None] > 0, counts / np.maximum(seen[:, None], 1), prior)


def _link(b: Baseline, codec: TargetCodec, pairs: Any) -> np.ndarray:
    return ranker.rule_scores(b.rule, pairs)


RULES: dict[tuple[TaskType, str], Callable[[Baseline, TargetCodec, Any], np.ndarray]] = {
    **{(TaskType.link_prediction, rule): _link for rule in ranker.RULES},
    (TaskType.binary, "rate"): _binary_rate,
    (TaskType.binary, "last"): _binary_rate,
    (TaskType.binary, "recency"): _binary_recency,
    (TaskType.regression, "last"): _regression(np.nanmean),
    (TaskType.regression, "mean"): _regression(np.nanmean),
    (TaskType.regression, "median"): _regression(np.nanmedian),
    (TaskType.regression, "constant"): _constant,
    (TaskType.multiclass, "last_class"): _last_class,
    (TaskType.multiclass, "frequent"): _frequent,
    (TaskType.multiclass, "mode"): _mode,
    (TaskType.multiclass, "recent_rows"): _recent_rows,
    (TaskType.multilabel, "share"): _share,
}


# -- candidates and the choice on validation ------------------------------------------------
def candidates(codec: TargetCodec, train_y: np.ndarray, k: int, class_rows: bool = False) -> list[Baseline]:
    """Every baseline of the task type, with its constants fitted on the encoded training
    targets ``train_y``; ``k`` is the number of past windows the model reads; ``class_rows``:
    the inputs carry the class shares of recent fact rows (:class:`History`)."""
    task = codec.task
    spans = sorted({s for s in SPANS if s < k} | {k}) if k > 0 else []
    if task is TaskType.binary:
        return ([Baseline(task, "last", 1)] + [Baseline(task, "rate", s) for s in spans]
                + [Baseline(task, "recency", k)] if k > 0 else [])
    if task is TaskType.regression:
        const: dict[str, Any] = {"median": float(np.median(train_y)) if len(train_y) else 0.0}
        out = [Baseline(task, "constant", 0, const)]
        if k > 0:
            out += [Baseline(task, "last", 1, const)]
            out += [Baseline(task, rule, s, const) for rule in ("mean", "median") for s in spans]
        return out
    if task is TaskType.multiclass:
        y = train_y[train_y >= 0]
        prior = np.bincount(y, minlength=len(codec.classes)).astype(float).tolist() if len(y) else None
        const = {"prior": prior}
        out = [Baseline(task, "mode", 0, const)]
        if k > 0:
            out += [Baseline(task, "last_class", 1, const)] + [Baseline(task, "frequent", s, const) for s in spans]
        if class_rows:
            out += [Baseline(task, "recent_rows", s, const) for s in ROW_SPANS]
            out += [Baseline(task, "recent_rows", s, {**const, "ties": "latest"}) for s in ROW_SPANS]
        return out
    if task is TaskType.link_prediction:
        return [Baseline(task, rule, 1) for rule in ranker.RULES]
    if task is TaskType.multilabel and k > 0:
        prior = train_y.mean(0).tolist() if len(train_y) else None
        return [Baseline(task, "share", s, {"prior": prior, "labels_per_row": 1.0}) for s in spans]
    return []


def evaluate(task: TaskType, y: Any, pred: np.ndarray, top_k: int = 10) -> float:
    """The selection metric of the task type (the one ``auto`` chooses by); for link
    prediction ``y`` holds each row's true item positions."""
    if task is TaskType.link_prediction:
        return ranker.map_at(pred, y, top_k)
    if task is TaskType.binary:
        return metrics.auroc(y, pred)
    if task is TaskType.regression:
        return metrics.mae(y, pred)
    if task is TaskType.multiclass:
        keep = y >= 0
        return metrics.accuracy(y, pred.argmax(1)) if keep.all() else \
            float(np.mean(np.where(keep, pred.argmax(1) == y, False)))
    return metrics.multilabel_f1(y, pred >= 0.5)


def choose(codec: TargetCodec, options: list[Baseline], past: Any, y: Any,
           top_k: int = 10) -> tuple[Baseline | None, dict[str, float]]:
    """The baseline with the best validation metric, and every candidate's metric by name."""
    best, best_score, scores = None, None, {}
    for b in options:
        score = evaluate(codec.task, y, b.predict(codec, past), top_k)
        scores[b.name] = score
        if metrics.better(codec.task, score, best_score):
            best, best_score = b, score
    return best, scores
