"""Platt scaling (``relpredict.model.calibration``) on hand-made scores: no training involved."""

from __future__ import annotations

import numpy as np
import pytest

from relpredict.model.calibration import EPS, Platt, logit, sigmoid
from relpredict.model.metrics import auroc, ece


def test_logit_and_sigmoid_are_inverse_and_clip_the_ends() -> None:
    p = np.array([0.01, 0.25, 0.5, 0.75, 0.99])
    assert sigmoid(logit(p)) == pytest.approx(p)
    assert logit(np.array([0.5]))[0] == 0.0
    assert np.isfinite(logit(np.array([0.0, 1.0]))).all()
    assert logit(np.array([1.0]))[0] == pytest.approx(np.log((1 - EPS) / EPS))


def test_the_default_is_the_identity() -> None:
    p = np.array([0.1, 0.4, 0.9])
    assert Platt()(p) == pytest.approx(p)


@pytest.mark.parametrize("y", [[], [1, 1, 1], [0, 0]])
def test_one_class_or_none_fits_the_identity(y: list[int]) -> None:
    assert Platt.fit(np.array(y), np.full(len(y), 0.3)) == Platt()


def test_fit_recovers_a_known_distortion() -> None:
    """Labels drawn from sigmoid(z); the model reports sigmoid(z / 2 - 1): Platt undoes it."""
    rng = np.random.default_rng(0)
    z = rng.normal(0, 2, 20_000)
    y = (rng.uniform(size=z.size) < sigmoid(z)).astype(int)
    raw = sigmoid(z / 2 - 1)
    platt = Platt.fit(y, raw)
    assert platt.a == pytest.approx(2.0, abs=0.1)
    assert platt.b == pytest.approx(2.0, abs=0.1)
    assert ece(y, platt(raw)) < ece(y, raw) / 4


def test_the_map_is_monotone_so_auroc_is_unchanged() -> None:
    rng = np.random.default_rng(1)
    raw = rng.uniform(0.05, 0.95, 500)
    y = (rng.uniform(size=500) < raw ** 2).astype(int)
    platt = Platt.fit(y, raw)
    assert platt.a > 0
    assert auroc(y, platt(raw)) == pytest.approx(auroc(y, raw))


def test_perfectly_separated_classes_give_a_finite_fit() -> None:
    y = np.array([0, 0, 0, 1, 1, 1])
    platt = Platt.fit(y, np.array([0.1, 0.2, 0.3, 0.7, 0.8, 0.9]))
    assert np.isfinite([platt.a, platt.b]).all()
    out = platt(np.array([0.1, 0.9]))
    assert 0 < out[0] < 0.5 < out[1] < 1


def test_round_trip_through_a_dict() -> None:
    platt = Platt(1.5, -0.25)
    assert platt.to_dict() == {"a": 1.5, "b": -0.25}
    assert Platt.from_dict(platt.to_dict()) == platt
