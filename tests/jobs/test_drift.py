"""Drift references and PSI (:mod:`relpredict.model.drift`) against hand-computed values, and the
readable feature names of explanations. Pure functions: fast."""

from __future__ import annotations

import math

import numpy as np
import pytest

from relpredict.features.spec import FeatureSpec
from relpredict.model import drift
from relpredict.model.explain import readable_feature, top_k


def test_psi_of_a_fixed_distribution_equals_the_hand_computed_value() -> None:
    expected = [0.25, 0.25, 0.25, 0.25]
    actual = [10, 20, 30, 40]  # counts: shares 0.1, 0.2, 0.3, 0.4
    by_hand = sum((a - 0.25) * math.log(a / 0.25) for a in (0.1, 0.2, 0.3, 0.4))
    assert by_hand == pytest.approx(0.2282, abs=1e-4)
    assert drift.psi(expected, actual) == pytest.approx(by_hand, rel=1e-12)
    assert drift.psi(expected, [1, 1, 1, 1]) == 0.0
    # An empty bin counts as a share of 1e-4: (1e-4 - 0.5) ln(1e-4 / 0.5) + (0.5 - 0.5) ln 1 ...
    empty = (1e-4 - 0.5) * math.log(1e-4 / 0.5) + (1.0 - 0.5) * math.log(1.0 / 0.5)
    assert drift.psi([0.5, 0.5], [0, 7]) == pytest.approx(empty, rel=1e-12)


def test_flags_follow_the_customary_thresholds() -> None:
    assert [drift.flag(v) for v in (0.0, 0.1, 0.1001, 0.25, 0.2501, None)] == \
        ["ok", "ok", "moderate", "moderate", "major", "n/a"]


def test_numeric_reference_bins_deciles_with_a_missing_bin() -> None:
    ref = drift.numeric_reference(np.arange(100.0))
    assert ref["edges"] == pytest.approx([9.9, 19.8, 29.7, 39.6, 49.5, 59.4, 69.3, 79.2, 89.1])
    assert ref["shares"] == pytest.approx([0.1] * 10 + [0.0])
    counts = drift.bin_counts(ref, [0.0, 9.9, 10.0, 95.0, np.nan, np.inf])
    assert counts.tolist() == [2, 1, 0, 0, 0, 0, 0, 0, 0, 2, 1]  # (a, b]: 9.9 falls in the first
    assert drift.bin_labels(ref)[0] == "≤ 9.9" and drift.bin_labels(ref)[-1] == "(missing)"


def test_a_discrete_reference_has_no_empty_bin() -> None:
    values = np.array([0.0] * 50 + [1.0] * 30 + [5.0] * 20)
    ref = drift.numeric_reference(values)
    assert 0.0 not in ref["shares"][:-1]
    assert ref["shares"][:-1] == pytest.approx([0.5, 0.3, 0.2])


def test_categorical_reference_keeps_the_top_values_and_the_rest() -> None:
    ref = drift.categorical_reference(["a"] * 5 + ["b"] * 3 + ["c"] * 2, top=2)
    assert ref["values"] == ["a", "b"] and ref["shares"] == pytest.approx([0.5, 0.3, 0.2])
    assert drift.bin_counts(ref, ["a", "c", "zz"]).tolist() == [1, 0, 2]


def _spec(entity: str) -> FeatureSpec:
    return FeatureSpec(entity_table=entity, entity_key="id", entity_time=None, temporal=True,
                       windows=[(30.0, "days")], last_k=[1, 3])


@pytest.mark.parametrize(("name", "text"), [
    ("results.positionOrder.mean_last3", "results.positionOrder mean of last 3 (results of the driver)"),
    ("results.points.sum_30d", "results.points sum over the last 30d (results of the driver)"),
    ("results.count", "number of results rows (results of the driver)"),
    ("results.days_since_last", "days since the last results row (results of the driver)"),
    ("results.status=Finished.share_last3",
     "share of results.status = Finished among the last 3 (results of the driver)"),
    ("drivers.nationality.code", "drivers.nationality category (the driver)"),
    ("drivers.dob.age_days", "drivers.dob age in days (the driver)"),
    ("history.mean_3", "past target mean 3 (history of the driver)"),
    ("results.raceId>results.points.mean_all",
     "results.points mean of all (results of the raceId of the driver's results)"),
])
def test_feature_names_read_as_text(name: str, text: str) -> None:
    assert readable_feature(name, _spec("drivers")) == text


def test_top_k_orders_by_absolute_contribution_without_the_bias() -> None:
    contrib = np.array([[0.1, -0.5, 0.3, 9.0], [0.0, 0.0, -0.2, -9.0]])  # last column: bias
    assert top_k(contrib, 2).tolist() == [[1, 2], [2, 0]]
    assert top_k(contrib, 5).tolist() == [[1, 2, 0], [2, 0, 1]]
