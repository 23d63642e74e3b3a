"""The gradient-boosting model: LightGBM on the automatic features of :mod:`relpredict.features`.

Binary and regression average the raw scores of :data:`BAGS` boosters that differ only in their
bagging and feature-fraction seed (less variance for the same features); multiclass trains one
booster, multilabel one per class. Each is early-stopped on validation and deterministic for a
given seed (``deterministic=True``, fixed thread count). Boosters are kept as LightGBM's
own text format, so an artifact stores them as strings.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import lightgbm as lgb
import numpy as np

from relpredict.model.targets import TargetCodec
from relpredict.query.bound import TaskType

PARAMS: dict[str, Any] = {
    "learning_rate": 0.03, "num_leaves": 15, "min_data_in_leaf": 20, "feature_fraction": 0.7,
    "bagging_fraction": 0.8, "bagging_freq": 1, "lambda_l2": 1.0, "verbosity": -1,
    "deterministic": True, "force_row_wise": True, "num_threads": 2,
}
ROUNDS, EARLY_STOP = 2000, 100
BAGS = 3  # binary and regression: boosters of different bagging seeds, their raw scores averaged
MAX_TRAINED_CLASSES = 24  # multiclass: the 23 most frequent classes + "other"
MANY_CLASSES = {"learning_rate": 0.08, "rounds": 600, "early_stop": 30}  # trees per round = classes


def _class_map(classes: int, trained: np.ndarray) -> list[int]:
    """Codec class → trained class: the kept classes get 0..len-1, every other class the last."""
    cmap = np.full(classes, len(trained), dtype=np.int64)
    cmap[trained] = np.arange(len(trained))
    return cmap.tolist()


def _other_share(counts: np.ndarray, class_map: list[int]) -> list[float]:
    """A kept class's share of its trained class is 1; a folded class gets its frequency among
    the folded ones (+1 smoothing, so an unseen class keeps a small probability)."""
    cmap = np.asarray(class_map)
    other = cmap == cmap.max()
    share = np.ones(len(cmap))
    smoothed = counts[other] + 1.0
    share[other] = smoothed / smoothed.sum()
    return share.tolist()


@dataclass
class Booster:
    """Fitted LightGBM model(s) and the feature names they expect, in order."""

    task: TaskType
    features: list[str]
    models: list[str] = field(default_factory=list)
    best_iterations: list[int] = field(default_factory=list)
    class_map: list[int] = field(default_factory=list)  # codec class → trained class (many classes)
    other_share: list[float] = field(default_factory=list)  # a class's share of its trained class
    _loaded: list[lgb.Booster] | None = field(default=None, repr=False)

    @classmethod
    def fit(cls, codec: TargetCodec, features: list[str], x_train: np.ndarray, y_train: np.ndarray,
            x_val: np.ndarray, y_val: np.ndarray, seed: int, *, weight_train: np.ndarray | None = None,
            weight_val: np.ndarray | None = None) -> Booster:
        """Fit on encoded targets (``TargetCodec.encode``); multilabel gets one model per class.

        Multiclass with more than :data:`MAX_TRAINED_CLASSES` classes trains on the most frequent
        ones plus one "other" class (the rest); :meth:`predict` spreads the other class's
        probability over the rare classes by their training frequency, so predictions still
        name real classes and training costs a fixed number of trees per round.
        """
        out = cls(codec.task, list(features))
        if codec.task is TaskType.multilabel:
            for c in range(y_train.shape[1]):
                out._add(_objective(TaskType.binary, 0), x_train, y_train[:, c], x_val, y_val[:, c], seed)
        elif codec.task is TaskType.multiclass:
            keep_t, keep_v = y_train >= 0, y_val >= 0
            yt, yv = y_train[keep_t], y_val[keep_v]
            counts = np.bincount(yt, minlength=codec.out_dim).astype(np.float64)
            if codec.out_dim > MAX_TRAINED_CLASSES:
                trained = np.argsort(-counts, kind="stable")[:MAX_TRAINED_CLASSES - 1]
                out.class_map = _class_map(codec.out_dim, trained)
                out.other_share = _other_share(counts, out.class_map)
                yt, yv = np.asarray(out.class_map)[yt], np.asarray(out.class_map)[yv]
            classes = MAX_TRAINED_CLASSES if out.class_map else codec.out_dim
            params = {**_objective(codec.task, classes), **(MANY_CLASSES if classes > 10 else {})}
            out._add(params, x_train[keep_t], yt, x_val[keep_v], yv, seed)
        else:
            for bag in range(BAGS):
                out._add(_objective(codec.task, codec.out_dim), x_train, y_train, x_val, y_val,
                         seed + 7919 * bag, weight_train, weight_val)
        return out

    def _add(self, params: dict[str, Any], x: np.ndarray, y: np.ndarray, xv: np.ndarray,
             yv: np.ndarray, seed: int, w: np.ndarray | None = None, wv: np.ndarray | None = None) -> None:
        params = {**PARAMS, **params, "seed": seed}
        rounds, patience = params.pop("rounds", ROUNDS), params.pop("early_stop", EARLY_STOP)
        # LightGBM refuses feature names holding JSON's " , : [ ] { }; it sees f0, f1, ... (as the
        # ranker does) and ``features`` keeps the readable names for importance and explanations.
        train = lgb.Dataset(x, y, weight=w, feature_name=[f"f{i}" for i in range(len(self.features))],
                            free_raw_data=False)
        valid = lgb.Dataset(xv, yv, weight=wv, reference=train)
        callbacks: list[Callable[..., Any]] = [lgb.early_stopping(patience, verbose=False)] if len(yv) else []
        booster = lgb.train(params, train, num_boost_round=rounds, valid_sets=[valid] if len(yv) else None,
                            callbacks=callbacks)
        best = booster.best_iteration or booster.current_iteration()
        self.models.append(booster.model_to_string(num_iteration=best))
        self.best_iterations.append(int(best))
        self._loaded = None

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Probabilities (binary ``[N]``, multiclass / multilabel ``[N, C]``) or values ``[N]``."""
        boosters = self.boosters()
        if self.task is TaskType.multilabel:
            return np.stack([b.predict(x) for b in boosters], axis=1) if boosters else np.zeros((len(x), 0))
        if self.task in (TaskType.binary, TaskType.regression):
            raw: np.ndarray = np.mean([np.asarray(b.predict(x, raw_score=True), np.float64) for b in boosters], axis=0)
            return 1.0 / (1.0 + np.exp(-raw)) if self.task is TaskType.binary else raw
        out = np.asarray(boosters[0].predict(x), dtype=np.float64)
        if self.class_map:  # trained classes + "other" → every class of the codec
            cmap = np.asarray(self.class_map)
            out = out[:, cmap] * np.asarray(self.other_share)[None, :]
        return out

    def importance(self, top: int = 15) -> list[tuple[str, float]]:
        """The features with the highest total gain, best first."""
        gain = np.sum([b.feature_importance("gain") for b in self.boosters()], axis=0)
        order = np.argsort(-gain)[:top]
        return [(self.features[i], float(gain[i])) for i in order]

    def boosters(self) -> list[lgb.Booster]:
        if self._loaded is None:
            self._loaded = [lgb.Booster(model_str=m) for m in self.models]
        return self._loaded

    def to_dict(self) -> dict[str, Any]:
        return {"task": self.task.value, "features": self.features, "models": self.models,
                "best_iterations": self.best_iterations, "class_map": self.class_map,
                "other_share": self.other_share}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Booster:
        return cls(TaskType(d["task"]), list(d["features"]), list(d["models"]), list(d["best_iterations"]),
                   [int(c) for c in d.get("class_map", [])], [float(v) for v in d.get("other_share", [])])


def _objective(task: TaskType, classes: int) -> dict[str, Any]:
    if task is TaskType.binary:
        return {"objective": "binary", "metric": "auc"}
    if task is TaskType.regression:
        return {"objective": "l1", "metric": "l1"}
    if task is TaskType.multiclass:
        return {"objective": "multiclass", "num_class": classes, "metric": "multi_logloss"}
    raise ValueError(f"LightGBM does not train {task.value} here")
