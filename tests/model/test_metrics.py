"""Metrics against brute force and hand-computed values; Platt scaling on known parameters."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from relpredict.model.calibration import Platt, sigmoid
from relpredict.model.metrics import auroc, average_precision, ece, mae, map_at_k, multilabel_f1


def pairwise_auroc(y: list[bool], s: list[float]) -> float:
    """P(score of a positive > score of a negative), ties counting one half."""
    pos = [a for a, t in zip(s, y) if t]
    neg = [a for a, t in zip(s, y) if not t]
    wins = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.integers(0, 5)), min_size=2, max_size=30))
def test_auroc_matches_pairwise_count(rows: list[tuple[bool, int]]) -> None:
    y = [r[0] for r in rows]
    s = [float(r[1]) for r in rows]
    if all(y) or not any(y):
        assert np.isnan(auroc(np.array(y), np.array(s)))
    else:
        assert auroc(np.array(y), np.array(s)) == pytest.approx(pairwise_auroc(y, s))


def test_hand_computed_values() -> None:
    assert average_precision(np.array([1, 0, 1]), np.array([0.9, 0.8, 0.7])) == pytest.approx((1 + 2 / 3) / 2)
    # bins: [0.1, 0.2] → bin 1 and 2; [0.85, 0.95] → bin 8 and 9
    assert ece(np.array([0, 0, 1, 1]), np.array([0.15, 0.25, 0.85, 0.95])) == pytest.approx(
        (0.15 + 0.25 + 0.15 + 0.05) / 4)
    assert mae(np.array([1.0, 2.0]), np.array([2.0, 4.0])) == 1.5
    # entity 1: hits at ranks 1 and 3 of 2 items → (1 + 2/3) / 2; entity 2: none; entity 3 skipped
    assert map_at_k([[1, 2], [5], []], [[1, 9, 2], [6, 7], [1]], k=3) == pytest.approx((1 + 2 / 3) / 4)
    assert multilabel_f1(np.array([[1, 0], [1, 1]]), np.array([[1, 1], [0, 1]])) == pytest.approx(2 * 2 / 6)


def test_platt_recovers_parameters_and_keeps_order() -> None:
    rng = np.random.default_rng(0)
    z = rng.normal(0, 2, 20_000)
    y = rng.random(z.size) < sigmoid(0.5 * z - 1.0)
    fitted = Platt.fit(y, sigmoid(z))
    assert fitted.a == pytest.approx(0.5, abs=0.05) and fitted.b == pytest.approx(-1.0, abs=0.08)
    raw = sigmoid(z)
    assert ece(y, fitted(raw)) < ece(y, raw) / 3
    assert auroc(y, fitted(raw)) == pytest.approx(auroc(y, raw))
    assert Platt.from_dict(fitted.to_dict()) == fitted
    assert Platt.fit(np.ones(5), np.full(5, 0.3)) == Platt()
