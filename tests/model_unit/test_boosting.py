"""The LightGBM wrapper (``relpredict.model.boosting``): the many-class folding arithmetic, the
objectives, the artifact round trip, and boosters fitted in milliseconds on constant features,
whose predictions are the training prior (binary), median (L1 regression) or class shares."""

from __future__ import annotations

import numpy as np
import pytest

from relpredict.model.boosting import (
    MAX_TRAINED_CLASSES,
    Booster,
    _class_map,
    _objective,
    _other_share,
)
from relpredict.model.targets import TargetCodec
from relpredict.query.bound import TaskType

X = np.zeros((40, 2))  # no feature can split: each booster predicts its starting score


def test_class_map_folds_every_class_not_kept_into_the_last() -> None:
    assert _class_map(5, np.array([3, 0])) == [1, 2, 2, 0, 2]


def test_other_share_spreads_the_folded_class_by_smoothed_frequency() -> None:
    """Folded classes 1, 2, 4 with counts 0, 5, 1: smoothed 1, 6, 2 of 9."""
    share = _other_share(np.array([10.0, 0.0, 5.0, 7.0, 1.0]), [1, 2, 2, 0, 2])
    assert share == pytest.approx([1.0, 1 / 9, 6 / 9, 1.0, 2 / 9])


def test_objectives() -> None:
    assert _objective(TaskType.binary, 1) == {"objective": "binary", "metric": "auc"}
    assert _objective(TaskType.regression, 1) == {"objective": "l1", "metric": "l1"}
    assert _objective(TaskType.multiclass, 4)["num_class"] == 4
    with pytest.raises(ValueError, match="link_prediction"):
        _objective(TaskType.link_prediction, 1)


def test_binary_predicts_the_positive_rate() -> None:
    y = np.array([1.0] * 10 + [0.0] * 30)
    booster = Booster.fit(TargetCodec(TaskType.binary), ["a", "b"], X, y, X[:8], y[:8], seed=0)
    assert booster.predict(X[:3]) == pytest.approx([0.25] * 3)


def test_l1_regression_predicts_the_median() -> None:
    y = np.array([1.0, 2.0, 3.0, 4.0, 100.0] * 8)
    booster = Booster.fit(TargetCodec(TaskType.regression), ["a", "b"], X, y, X[:5], y[:5], seed=0)
    assert booster.predict(X[:2]) == pytest.approx([3.0, 3.0])


def test_many_classes_train_on_the_frequent_ones_and_spread_the_rest() -> None:
    """30 classes: class 0 seen 22 times, the others twice (80 rows). Kept: 0 and 1..22; folded:
    23..29, each 1/7 of the "other" class. Shares: 22/80 for class 0, 2/80 for every other."""
    classes = [f"c{i}" for i in range(30)]
    y = np.concatenate([np.repeat(np.arange(30), 2), np.zeros(20, np.int64)])
    x = np.zeros((len(y), 2))
    booster = Booster.fit(TargetCodec(TaskType.multiclass, classes=classes), ["a", "b"], x, y,
                          x[:10], y[:10], seed=0)
    assert len(set(booster.class_map)) == MAX_TRAINED_CLASSES
    assert booster.class_map[:23] == list(range(23)) and set(booster.class_map[23:]) == {23}
    assert booster.other_share[23:] == pytest.approx([1 / 7] * 7)
    p = booster.predict(x[:1])[0]
    assert p.shape == (30,) and p.sum() == pytest.approx(1.0)
    assert p[0] == pytest.approx(22 / 80) and p[1:] == pytest.approx([2 / 80] * 29)


def test_round_trip_through_a_dict_predicts_the_same() -> None:
    y = np.array([1.0] * 10 + [0.0] * 30)
    booster = Booster.fit(TargetCodec(TaskType.binary), ["a", "b"], X, y, X[:8], y[:8], seed=0)
    again = Booster.from_dict(booster.to_dict())
    assert again.features == ["a", "b"] and again.best_iterations == booster.best_iterations
    assert again.predict(X[:2]) == pytest.approx(booster.predict(X[:2]))
