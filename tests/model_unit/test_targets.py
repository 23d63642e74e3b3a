"""TargetCodec (``relpredict.model.targets``) on hand-made labels: fitted constants, encodings,
clamps and the artifact round trip, each against numbers worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pytest

from relpredict.model.targets import MAX_CLASSES, TargetCodec
from relpredict.query.bound import TaskType


def col(values: list[object]) -> pa.ChunkedArray:
    return pa.chunked_array([pa.array(values)])


def test_binary_prior_and_encoding() -> None:
    codec = TargetCodec.fit(TaskType.binary, col([True, True, True, False]))
    assert codec.prior == 0.75 and codec.out_dim == 1
    y = codec.encode(col([True, False, None]))
    assert y.dtype == np.float32 and y.tolist() == [1.0, 0.0, 0.0]


def test_binary_without_labels_keeps_an_even_prior() -> None:
    assert TargetCodec.fit(TaskType.binary, col([])).prior == 0.5


def test_regression_constants() -> None:
    """y = 1, 2, 3, 4, 100: mean 22, variance (21² + 20² + 19² + 18² + 78²) / 5 = 1522, the 2 %
    and 98 % quantiles 1 + 0.08 · 1 = 1.08 and 4 + 0.92 · 96 = 92.32, the scale floor 0.1 · 22."""
    codec = TargetCodec.fit(TaskType.regression, col([1.0, 2.0, 3.0, 4.0, 100.0]))
    assert codec.mean == 22.0
    assert codec.std == pytest.approx(math.sqrt(1522))
    assert (codec.low, codec.high) == (pytest.approx(1.08), pytest.approx(92.32))
    assert codec.relative and codec.floor == pytest.approx(2.2)
    assert codec.encode(col([2.5, 7.0])).tolist() == [2.5, 7.0]


def test_a_constant_regression_target_gets_the_smallest_std() -> None:
    codec = TargetCodec.fit(TaskType.regression, col([5.0, 5.0]))
    assert codec.std == 1e-6 and codec.floor == 0.5


def test_clamp_applies_to_an_absolute_codec_only() -> None:
    codec = TargetCodec(TaskType.regression, low=0.0, high=10.0)
    assert codec.clamp(np.array([-5.0, 3.0, 12.0])).tolist() == [0.0, 3.0, 10.0]
    relative = TargetCodec(TaskType.regression, low=0.0, high=10.0, relative=True)
    assert relative.clamp(np.array([-5.0, 12.0])).tolist() == [-5.0, 12.0]


def test_fit_relative_and_its_clamp() -> None:
    """z = 0, 1, ..., 100: mean 50, variance (101² - 1) / 12 = 850, 1 % / 99 % quantiles 1, 99."""
    codec = TargetCodec(TaskType.regression, relative=True)
    codec.fit_relative(np.arange(101))
    assert codec.mean == 50.0 and codec.std == pytest.approx(math.sqrt(850))
    assert (codec.zlow, codec.zhigh) == (pytest.approx(1.0), pytest.approx(99.0))
    assert codec.clamp_relative(np.array([-3.0, 40.0, 250.0])).tolist() == pytest.approx([1.0, 40.0, 99.0])


def test_multiclass_classes_most_frequent_first_ties_by_value() -> None:
    codec = TargetCodec.fit(TaskType.multiclass, col(["b", "a", "b", "c", "a", "b", "d", None]))
    assert codec.classes == ["b", "a", "c", "d"] and codec.out_dim == 4
    y = codec.encode(col(["a", "d", "zzz", None]))
    assert y.dtype == np.int64 and y.tolist() == [1, 3, -1, -1]


def test_at_most_max_classes_are_kept() -> None:
    values = [f"v{i:03d}" for i in range(MAX_CLASSES + 50)] + ["v149"]
    codec = TargetCodec.fit(TaskType.multiclass, col(values))
    assert len(codec.classes) == MAX_CLASSES and codec.classes[0] == "v149"
    assert codec.classes[1:3] == ["v000", "v001"]


def test_multilabel_classes_and_indicator_rows() -> None:
    codec = TargetCodec.fit(TaskType.multilabel, col([["a", "b"], ["b"], None, []]))
    assert codec.classes == ["b", "a"]
    y = codec.encode(col([["a", "b"], ["b", "unseen"], None, []]))
    assert y.dtype == np.float32 and y.tolist() == [[1, 1], [1, 0], [0, 0], [0, 0]]


def test_link_prediction_keeps_the_items_and_has_no_encoding() -> None:
    codec = TargetCodec.fit(TaskType.link_prediction, col([[1], [2]]), items=[7, 3, 5])
    assert codec.items == [7, 3, 5] and codec.out_dim == 1
    with pytest.raises(ValueError, match="link_prediction"):
        codec.encode(col([[1]]))


def test_round_trip_through_a_dict_keeps_infinite_bounds() -> None:
    codec = TargetCodec(TaskType.regression, mean=1.5, std=2.0, relative=True, floor=0.3,
                        zlow=-1.0)
    doc = codec.to_dict()
    assert doc["low"] is None and doc["high"] is None and doc["zhigh"] is None  # JSON has no inf
    assert TargetCodec.from_dict(doc) == codec
    classes = TargetCodec(TaskType.multiclass, classes=["x", "y"], low=0.0, high=4.0)
    assert TargetCodec.from_dict(classes.to_dict()) == classes
