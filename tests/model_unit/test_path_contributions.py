"""Path contributions of LightGBM boosters (the explanations output): they sum with the bias to
LightGBM's raw score for every row (missing values, a categorical feature, multiclass), and on a
one-split stump they are the hand-computed change of the expected value."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np

from relpredict.model.explain import leaf_tables, path_contributions

PARAMS = {"verbose": -1, "num_leaves": 15, "min_data_in_leaf": 5, "seed": 0, "num_threads": 1}


def _data(n: int = 600) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(n, 5))
    x[:, 3] = rng.integers(0, 6, n)  # categorical
    x[rng.random((n, 5)) < 0.1] = np.nan  # missing values everywhere
    score = np.nan_to_num(x[:, 0]) * 2 - np.nan_to_num(x[:, 1]) + (np.nan_to_num(x[:, 3]) == 2)
    return x, score


def test_contributions_sum_to_the_raw_score_binary_regression_and_multiclass() -> None:
    x, score = _data()
    for params, y in (({"objective": "binary"}, (score > 0).astype(int)),
                      ({"objective": "l1"}, score),
                      ({"objective": "multiclass", "num_class": 3}, np.digitize(score, [-1, 1]))):
        booster = lgb.train({**PARAMS, **params}, lgb.Dataset(x, y, categorical_feature=[3]), 25)
        contrib = path_contributions(booster, x)
        raw = booster.predict(x, raw_score=True).reshape(len(x), -1)
        assert contrib.shape == (len(x), raw.shape[1], 6)
        np.testing.assert_allclose(contrib.sum(2), raw, rtol=1e-9, atol=1e-9)
        exact = booster.predict(x, pred_contrib=True).reshape(len(x), raw.shape[1], 6)
        np.testing.assert_allclose(contrib[..., -1], exact[..., -1], rtol=1e-9, atol=1e-12)  # same bias


def test_a_stump_credits_its_split_feature_with_the_change_of_expected_value() -> None:
    x = np.array([[0.0, 5.0]] * 30 + [[1.0, 5.0]] * 10)
    y = np.array([1.0] * 30 + [5.0] * 10)
    booster = lgb.train({**PARAMS, "objective": "l2", "num_leaves": 2, "learning_rate": 1.0,
                         "boost_from_average": False, "min_data_in_leaf": 1}, lgb.Dataset(x, y), 1)
    (table,) = leaf_tables(booster)
    left, right = booster.predict(np.array([[0.0, 5.0], [1.0, 5.0]]))  # the two leaves' values
    mean = (30 * left + 10 * right) / 40
    contrib = path_contributions(booster, np.array([[0.0, 5.0], [1.0, 5.0]]))[:, 0]
    np.testing.assert_allclose(contrib, [[left - mean, 0.0, mean], [right - mean, 0.0, mean]], atol=1e-12)
    assert table.shape == (2, 3)
