"""The gradient-boosting model: LightGBM on the automatic features of :mod:`relpredict.features`.

One booster per task (one per class for multilabel), early-stopped on validation, deterministic
for a given seed (``deterministic=True``, fixed thread count). Boosters are kept as LightGBM's
own text format, so an artifact stores them as strings.
"""

from __future__ import annotations

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


@dataclass
class Booster:
    """Fitted LightGBM model(s) and the feature names they expect, in order."""

    task: TaskType
    features: list[str]
    models: list[str] = field(default_factory=list)
    best_iterations: list[int] = field(default_factory=list)
    _loaded: list[lgb.Booster] | None = field(default=None, repr=False)

    @classmethod
    def fit(cls, codec: TargetCodec, features: list[str], x_train: np.ndarray, y_train: np.ndarray,
            x_val: np.ndarray, y_val: np.ndarray, seed: int) -> Booster:
        """Fit on encoded targets (``TargetCodec.encode``); multilabel gets one model per class."""
        out = cls(codec.task, list(features))
        if codec.task is TaskType.multilabel:
            for c in range(y_train.shape[1]):
                out._add(_objective(TaskType.binary, 0), x_train, y_train[:, c], x_val, y_val[:, c], seed)
        else:
            keep_t = y_train >= 0 if codec.task is TaskType.multiclass else slice(None)
            keep_v = y_val >= 0 if codec.task is TaskType.multiclass else slice(None)
            out._add(_objective(codec.task, codec.out_dim), x_train[keep_t], y_train[keep_t],
                     x_val[keep_v], y_val[keep_v], seed)
        return out

    def _add(self, params: dict[str, Any], x: np.ndarray, y: np.ndarray, xv: np.ndarray,
             yv: np.ndarray, seed: int) -> None:
        params = {**PARAMS, **params, "seed": seed}
        train = lgb.Dataset(x, y, feature_name=self.features, free_raw_data=False)
        valid = lgb.Dataset(xv, yv, reference=train)
        callbacks = [lgb.early_stopping(EARLY_STOP, verbose=False)] if len(yv) else []
        booster = lgb.train(params, train, num_boost_round=ROUNDS, valid_sets=[valid] if len(yv) else None,
                            callbacks=callbacks)
        best = booster.best_iteration or booster.current_iteration()
        self.models.append(booster.model_to_string(num_iteration=best))
        self.best_iterations.append(int(best))
        self._loaded = None

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Probabilities (binary ``[N]``, multiclass / multilabel ``[N, C]``) or values ``[N]``."""
        boosters = self._boosters()
        if self.task is TaskType.multilabel:
            return np.stack([b.predict(x) for b in boosters], axis=1) if boosters else np.zeros((len(x), 0))
        return np.asarray(boosters[0].predict(x), dtype=np.float64)

    def importance(self, top: int = 15) -> list[tuple[str, float]]:
        """The features with the highest total gain, best first."""
        gain = sum(b.feature_importance("gain") for b in self._boosters())
        order = np.argsort(-gain)[:top]
        return [(self.features[i], float(gain[i])) for i in order]

    def _boosters(self) -> list[lgb.Booster]:
        if self._loaded is None:
            self._loaded = [lgb.Booster(model_str=m) for m in self.models]
        return self._loaded

    def to_dict(self) -> dict[str, Any]:
        return {"task": self.task.value, "features": self.features, "models": self.models,
                "best_iterations": self.best_iterations}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Booster:
        return cls(TaskType(d["task"]), list(d["features"]), list(d["models"]), list(d["best_iterations"]))


def _objective(task: TaskType, classes: int) -> dict[str, Any]:
    if task is TaskType.binary:
        return {"objective": "binary", "metric": "auc"}
    if task is TaskType.regression:
        return {"objective": "l1", "metric": "l1"}
    if task is TaskType.multiclass:
        return {"objective": "multiclass", "num_class": classes, "metric": "multi_logloss"}
    raise ValueError(f"LightGBM does not train {task.value} here")
