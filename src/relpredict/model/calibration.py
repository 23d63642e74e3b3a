"""Probability calibration of binary models on validation data (Platt scaling).

Platt scaling fits ``p = sigmoid(a · logit(p_raw) + b)`` by maximum likelihood. Two parameters
cannot overfit a few hundred validation rows the way isotonic regression can, and the map is
monotone, so AUROC is unchanged; only the probabilities (and the expected calibration error)
move.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

EPS = 1e-6


def logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=np.float64), EPS, 1 - EPS)
    return np.asarray(np.log(p / (1 - p)), np.float64)


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.asarray(z, dtype=np.float64)))


@dataclass(frozen=True)
class Platt:
    """``p = sigmoid(a · logit(p_raw) + b)``; the identity is ``a=1, b=0``."""

    a: float = 1.0
    b: float = 0.0

    def __call__(self, prob: np.ndarray) -> np.ndarray:
        return sigmoid(self.a * logit(prob) + self.b)

    @classmethod
    def fit(cls, y: np.ndarray, prob: np.ndarray) -> Platt:
        """Fit on labels ``y`` (0/1) and raw probabilities; identity when one class is missing."""
        y = np.asarray(y, dtype=np.float64)
        if len(y) == 0 or y.min() == y.max():
            return cls()
        z = logit(prob)
        # Platt's smoothed targets keep the fit finite when the classes separate perfectly.
        pos, neg = y.sum(), len(y) - y.sum()
        t = np.where(y > 0, (pos + 1) / (pos + 2), 1 / (neg + 2))

        def loss(ab: np.ndarray) -> tuple[float, np.ndarray]:
            p = np.clip(sigmoid(ab[0] * z + ab[1]), 1e-12, 1 - 1e-12)
            nll = -np.sum(t * np.log(p) + (1 - t) * np.log(1 - p))
            grad = p - t
            return float(nll), np.array([np.sum(grad * z), np.sum(grad)])

        from scipy.optimize import minimize  # training only: scoring never imports SciPy

        res = minimize(loss, np.array([1.0, 0.0]), jac=True, method="L-BFGS-B")
        return cls(float(res.x[0]), float(res.x[1]))

    def to_dict(self) -> dict[str, float]:
        return {"a": self.a, "b": self.b}

    @classmethod
    def from_dict(cls, d: dict[str, float]) -> Platt:
        return cls(float(d["a"]), float(d["b"]))
