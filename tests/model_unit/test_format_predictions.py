"""``format_predictions``: scores → the output columns of PQL.md, per task type (no training).

The model is a stand-in holding only what the formatting reads: the task type, the query's TOP k
and the codec's classes or items.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from relpredict.model.output import MAX_RETURNED_CLASSES, format_predictions
from relpredict.query.bound import TaskType

ROWS = pa.table({"ENTITY": pa.array([7, 8], pa.int64())})


def model(task: TaskType, classes: list[Any] | None = None, items: list[Any] | None = None,
          top_k: int | None = None) -> Any:
    return SimpleNamespace(task_type=task, top_k=top_k,
                           codec=SimpleNamespace(classes=classes or [], items=items or []))


def test_binary_probabilities_and_the_threshold() -> None:
    out = format_predictions(model(TaskType.binary), ROWS, np.array([0.2, 0.7]), threshold=0.25)
    assert out.column_names == ["ENTITY", "TARGET_PRED", "False_PROB", "True_PROB"]
    assert out.column("TARGET_PRED").to_pylist() == [False, True]
    assert out.column("True_PROB").to_pylist() == pytest.approx([0.2, 0.7])
    assert out.column("False_PROB").to_pylist() == pytest.approx([0.8, 0.3])
    default = format_predictions(model(TaskType.binary), ROWS, np.array([0.5, 0.49]))
    assert default.column("TARGET_PRED").to_pylist() == [True, False]


def test_regression_is_one_float_column() -> None:
    out = format_predictions(model(TaskType.regression), ROWS, np.array([1, 2.5]))
    assert out.column_names == ["ENTITY", "TARGET_PRED"]
    assert out.schema.field("TARGET_PRED").type == pa.float64()
    assert out.column("TARGET_PRED").to_pylist() == [1.0, 2.5]


def test_multiclass_ranks_classes_and_marks_the_argmax() -> None:
    pred = np.array([[0.1, 0.6, 0.3], [0.5, 0.2, 0.3]])
    out = format_predictions(model(TaskType.multiclass, classes=["a", "b", "c"]), ROWS, pred,
                             num_classes=2)
    assert out.column_names == ["ENTITY", "CLASS", "SCORE", "PREDICTED"]
    assert out.to_pylist() == [
        {"ENTITY": 7, "CLASS": "b", "SCORE": 0.6, "PREDICTED": True},
        {"ENTITY": 7, "CLASS": "c", "SCORE": 0.3, "PREDICTED": False},
        {"ENTITY": 8, "CLASS": "a", "SCORE": 0.5, "PREDICTED": True},
        {"ENTITY": 8, "CLASS": "c", "SCORE": 0.3, "PREDICTED": False},
    ]


def test_multilabel_marks_every_score_of_one_half_or_more() -> None:
    pred = np.array([[0.9, 0.5, 0.1], [0.2, 0.3, 0.4]])
    out = format_predictions(model(TaskType.multilabel, classes=[10, 11, 12]), ROWS, pred)
    assert out.num_rows == 6  # all three classes: fewer than the cap
    assert [(r["CLASS"], r["PREDICTED"]) for r in out.to_pylist()] == [
        (10, True), (11, True), (12, False), (12, False), (11, False), (10, False)]


def test_classes_returned_are_capped() -> None:
    n = MAX_RETURNED_CLASSES + 5
    pred = np.tile(np.linspace(0, 1, n), (2, 1))
    out = format_predictions(model(TaskType.multiclass, classes=list(range(n))), ROWS, pred)
    assert out.num_rows == 2 * MAX_RETURNED_CLASSES
    assert out.column("CLASS").to_pylist()[0] == n - 1  # best first


def test_link_prediction_returns_the_top_k_items_without_predicted() -> None:
    pred = np.array([[0.1, 0.9, 0.5, 0.7], [0.4, 0.3, 0.2, 0.1]])
    m = model(TaskType.link_prediction, items=[100, 101, 102, 103], top_k=3)
    out = format_predictions(m, ROWS, pred)
    assert out.column_names == ["ENTITY", "CLASS", "SCORE"]
    assert out.column("CLASS").to_pylist() == [101, 103, 102, 100, 101, 102]
    fewer = format_predictions(m, ROWS, pred, top_k=1)
    assert fewer.column("CLASS").to_pylist() == [101, 100]
    more = format_predictions(m, ROWS, pred, top_k=50)  # never more than there are items
    assert more.num_rows == 8


def test_ties_keep_the_label_order_and_no_rows_give_an_empty_table() -> None:
    m = model(TaskType.link_prediction, items=["x", "y", "z"], top_k=2)
    out = format_predictions(m, ROWS.slice(0, 1), np.array([[0.5, 0.5, 0.5]]))
    assert out.column("CLASS").to_pylist() == ["x", "y"]
    empty = format_predictions(m, ROWS.slice(0, 0), np.zeros((0, 3)))
    assert empty.num_rows == 0
    assert empty.column_names == ["ENTITY", "CLASS", "SCORE"]
