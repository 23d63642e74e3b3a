"""Baselines inside every model: the heuristics themselves (hand-computed values), the many-class
booster, the ranking rules, and on a small demo store: every task type lists its baselines with
validation and test metrics in ``models show``, ``auto`` never does worse on validation than its
best baseline, and the baselines and the ranker's pair features ignore rows after the anchor."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from typer.testing import CliRunner

from relpredict.cli.main import app
from relpredict.features.candidates import candidate_pairs, item_columns
from relpredict.features.history import history_and_past, recent_class_shares
from relpredict.graph.yaml_io import load_graph
from relpredict.labels.labels import prediction_table
from relpredict.model import baselines
from relpredict.model.artifact import save_model
from relpredict.model.boosting import Booster
from relpredict.model.fit import TrainOptions, train_model
from relpredict.model.gnn_config import GNNConfig
from relpredict.model.metrics import SELECTION
from relpredict.model.ranker import FILL, Pairs, rule_scores
from relpredict.model.targets import TargetCodec
from relpredict.query.binder import bind
from relpredict.query.bound import TaskType
from relpredict.workspace import Workspace
from tests.model.test_train import QUERIES, _rewrite_future


# ----------------------------------------------------------------------------------- the rules
def test_regression_baselines_by_hand() -> None:
    codec = TargetCodec(TaskType.regression)
    past = [[4.0, None, 2.0, 9.0], [None, None, None, None], [1.0, 3.0, 8.0, 0.0]]
    const = {"median": 5.0}
    last = baselines.Baseline(TaskType.regression, "last", 1, const).predict(codec, past)
    mean3 = baselines.Baseline(TaskType.regression, "mean", 3, const).predict(codec, past)
    median4 = baselines.Baseline(TaskType.regression, "median", 4, const).predict(codec, past)
    np.testing.assert_allclose(last, [4.0, 5.0, 1.0])  # no past label: the training median
    np.testing.assert_allclose(mean3, [3.0, 5.0, 4.0])
    np.testing.assert_allclose(median4, [4.0, 5.0, 2.0])


def test_binary_baselines_by_hand() -> None:
    codec = TargetCodec(TaskType.binary, prior=0.25)
    past = [[True, False, False], [None, None, None], [False, False, True]]
    rate = baselines.Baseline(TaskType.binary, "rate", 3).predict(codec, past)
    np.testing.assert_allclose(rate, [1 / 3, 0.25, 1 / 3])
    recency = baselines.Baseline(TaskType.binary, "recency", 3).predict(codec, past)
    assert recency[0] > recency[2] > recency[1]  # positive last window > three windows ago > never


def test_multiclass_baselines_by_hand() -> None:
    codec = TargetCodec(TaskType.multiclass, classes=["a", "b", "c"])
    const = {"prior": [5.0, 3.0, 1.0]}
    past = [["c", "b", "b"], [None, None, None], ["a", "c", "c"]]
    frequent = baselines.Baseline(TaskType.multiclass, "frequent", 3, const).predict(codec, past)
    last = baselines.Baseline(TaskType.multiclass, "last_class", 1, const).predict(codec, past)
    mode = baselines.Baseline(TaskType.multiclass, "mode", 0, const).predict(codec, past)
    assert frequent.argmax(1).tolist() == [1, 0, 2]  # most frequent; none: the training mode
    assert last.argmax(1).tolist() == [2, 0, 0]
    assert mode.argmax(1).tolist() == [0, 0, 0]
    np.testing.assert_allclose(frequent.sum(1), 1.0)


def test_choose_takes_the_best_on_validation() -> None:
    codec = TargetCodec(TaskType.regression)
    past = [[10.0, 0.0, 0.0], [0.0, 10.0, 10.0]]
    y = np.array([10.0, 0.0])  # the last window is right, the means are not
    options = baselines.candidates(codec, np.array([1.0, 2.0, 3.0]), 3)
    best, scores = baselines.choose(codec, options, past, y)
    assert best is not None and best.name == "last window's value"
    assert scores["last window's value"] == 0.0 and scores["training median"] == 5.0


@pytest.mark.slow  # trains a 60-class LightGBM (~25 s); tests/model_unit/test_boosting.py checks the folding fast
def test_many_classes_fold_rare_ones_into_other_and_predict_real_classes() -> None:
    rng = np.random.default_rng(0)
    n, classes = 3000, 60
    y = np.minimum(rng.zipf(1.6, n) - 1, classes - 1)  # a long tail of rare classes
    x = np.column_stack([y + rng.normal(0, 2.0, n), rng.normal(size=n)])
    codec = TargetCodec(TaskType.multiclass, classes=list(range(classes)))
    booster = Booster.fit(codec, ["signal", "noise"], x[:2400], y[:2400], x[2400:], y[2400:], seed=0)
    assert booster.class_map and max(booster.class_map) == 23  # 23 kept + other
    prob = booster.predict(x[2400:])
    assert prob.shape == (600, classes)
    np.testing.assert_allclose(prob.sum(1), 1.0, atol=1e-9)
    assert (prob > 0).all()  # a folded class keeps a share of "other"
    assert (prob.argmax(1) == y[2400:]).mean() > 0.3
    again = Booster.from_dict(json.loads(json.dumps(booster.to_dict())))
    np.testing.assert_allclose(again.predict(x[2400:]), prob)


def test_ranking_rules_by_hand() -> None:
    from relpredict.features.candidates import FEATURES

    x = np.zeros((4, len(FEATURES)))
    col = {f: i for i, f in enumerate(FEATURES)}
    x[:, col["own.rank"]] = [1, np.nan, 2, np.nan]
    x[:, col["own.count_all"]] = [1, 0, 3, 0]
    x[:, col["own.count_12"]] = [1, 0, 3, 0]
    x[:, col["pop.share_1"]] = [0.1, 0.5, 0.2, 0.3]
    pairs = Pairs(np.array([0, 0, 0, 0]), np.array([0, 1, 2, 3]), x, n_rows=1, n_items=5)
    order = lambda rule: np.argsort(-rule_scores(rule, pairs)[0], kind="stable").tolist()  # noqa: E731
    assert order("own_recent")[:4] == [0, 2, 1, 3]  # own by recency, then popular
    assert order("own_frequent")[:4] == [2, 0, 1, 3]  # own by count, then popular
    assert order("popular_new")[:2] == [1, 3]  # own items last
    assert rule_scores("popular", pairs)[0, 4] == FILL  # no candidate: below every candidate


# ----------------------------------------------------------------------------------- trained
SMALL = GNNConfig(channels=16, fanout=(8, 4), max_epochs=2, patience=1, batch_size=128, max_steps_per_epoch=8)
ANCHOR = datetime(2024, 9, 1)


@pytest.mark.slow
@pytest.mark.parametrize("task", list(QUERIES), ids=lambda t: t.value)
def test_models_show_lists_every_baseline_with_validation_and_test(graph, store: Path, tmp_path: Path,
                                                                   task: TaskType) -> None:
    model = train_model(graph, QUERIES[task], TrainOptions(kind="lightgbm", seed=0, max_eval=3, history_k=6))
    rows = model.metrics["candidates"]
    base = [r for r in rows if r["kind"] == "baseline"]
    assert len(base) >= (1 if task is TaskType.multilabel else 3)
    assert all("val" in r and "test" in r for r in base)
    assert model.metrics["best_baseline"]["name"] in {r["name"] for r in base}
    ws = Workspace.open(tmp_path / "ws")
    save_model(ws, model, "m", graph)
    result = CliRunner().invoke(app, ["models", "show", "m", "--home", str(ws.home)], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "Candidates" in result.output and "Margin over the best baseline" in result.output
    for r in base:
        assert r["name"] in result.output
    shown = json.loads(CliRunner().invoke(app, ["models", "show", "m", "--json", "--home", str(ws.home)]).output)
    assert [r["name"] for r in shown["metrics"]["candidates"]] == [r["name"] for r in rows]


@pytest.mark.slow
@pytest.mark.parametrize("task", [TaskType.binary, TaskType.regression, TaskType.link_prediction],
                         ids=lambda t: t.value)
def test_auto_is_never_worse_than_its_best_baseline_on_validation(graph, task: TaskType) -> None:
    model = train_model(graph, QUERIES[task], TrainOptions(kind="auto", seed=0, gnn=SMALL, max_eval=3,
                                                           history_k=6))
    chosen = next(r for r in model.metrics["candidates"] if r["kind"] == "chosen")
    best = model.metrics["best_baseline"]
    higher = SELECTION[task][1]
    assert (chosen["val"] >= best["val"] - 1e-9) if higher else (chosen["val"] <= best["val"] + 1e-9)
    assert not model.info.get("warnings")


def _with_anchor(rows: pa.Table) -> pa.Table:
    rows = rows.select(["ENTITY"])
    return rows.append_column("ANCHOR_TIMESTAMP", pa.array([ANCHOR] * rows.num_rows, pa.timestamp("us")))


@pytest.mark.slow
def test_baselines_and_ranker_features_ignore_rows_after_the_anchor(graph, store: Path, tmp_path: Path) -> None:
    _rewrite_future(store, tmp_path / "changed", ANCHOR)
    changed = load_graph(tmp_path / "changed" / "graph.yaml")
    for task in (TaskType.binary, TaskType.regression):
        bq = bind(QUERIES[task], graph)
        rows = prediction_table(bq, graph, ANCHOR).slice(0, 80)
        rows = _with_anchor(rows)
        a = history_and_past(bq, graph, rows, k=6)[1]
        b = history_and_past(bind(QUERIES[task], changed), changed, rows, k=6)[1]
        assert a == b
    bq = bind(QUERIES[TaskType.link_prediction], graph)
    rows = prediction_table(bq, graph, ANCHOR).slice(0, 80)
    rows = _with_anchor(rows)
    columns = item_columns(bq, graph)  # the item-column and entity-context features too
    assert columns.categorical and columns.context
    a = candidate_pairs(bq, graph, rows, columns=columns)
    b = candidate_pairs(bind(QUERIES[TaskType.link_prediction], changed), changed, rows, columns=columns)
    assert a.num_rows > 0 and f"ctx.share.{columns.context[0]}" in a.column_names and a.equals(b)
    model = train_model(graph, QUERIES[TaskType.link_prediction], TrainOptions(kind="lightgbm", seed=0,
                                                                               max_eval=3))
    model.baseline_weight = 0.5  # the ranker and its baseline both in the prediction
    ents = rows.column("ENTITY")
    pa_, pb = model.predict(graph, ANCHOR, ents), model.predict(changed, ANCHOR, ents)
    assert pa_.equals(pb)


@pytest.mark.slow
def test_filtered_ranking_and_row_class_features_ignore_rows_after_the_anchor(graph, store: Path,
                                                                             tmp_path: Path) -> None:
    """The any.* pair features of a ranking target with a row filter and the class shares of
    the entity's rows (the row-level multiclass baseline) read nothing after the anchor."""
    _rewrite_future(store, tmp_path / "changed", ANCHOR)
    changed = load_graph(tmp_path / "changed" / "graph.yaml")
    ranked = ("PREDICT LIST_DISTINCT(transactions.product_id WHERE transactions.price > 20, 0, 30, days) "
              "RANK TOP 5 FOR EACH customers.customer_id")
    rows = _with_anchor(prediction_table(bind(ranked, graph), graph, ANCHOR).slice(0, 80))
    a = candidate_pairs(bind(ranked, graph), graph, rows)
    b = candidate_pairs(bind(ranked, changed), changed, rows)
    assert a.num_rows > 0 and pc.sum(a.column("any.count_all")).as_py() > 0 and a.equals(b)
    channel = QUERIES[TaskType.multiclass]
    classes = ["web", "app", "store"]
    x = recent_class_shares(bind(channel, graph), graph, rows, classes)
    y = recent_class_shares(bind(channel, changed), changed, rows, classes)
    assert x is not None and y is not None and x[0].sum() > 0
    for m in x:
        np.testing.assert_array_equal(x[m], y[m])


def test_candidate_features_do_not_depend_on_the_batch(graph) -> None:
    """A row's candidates and features are the same alone, in halves, or among other anchors
    (the anchor-level tables come from the per-anchor cache or are computed with the batch)."""
    bq = bind(QUERIES[TaskType.link_prediction], graph)
    rows = _with_anchor(prediction_table(bq, graph, ANCHOR).slice(0, 60))
    columns = item_columns(bq, graph)
    whole = candidate_pairs(bq, graph, rows, columns=columns).to_pandas()
    halves = [candidate_pairs(bq, graph, rows.slice(0, 25), columns=columns).to_pandas(),
              candidate_pairs(bq, graph, rows.slice(25), columns=columns).to_pandas()]
    halves[1]["__row"] += 25
    import pandas as pd

    pd.testing.assert_frame_equal(pd.concat(halves, ignore_index=True), whole)
    others = [datetime(2024, m, 1) for m in (3, 4, 5, 6, 7)]  # more anchors than the cache takes
    mixed = pa.concat_tables([rows] + [rows.set_column(1, "ANCHOR_TIMESTAMP", pa.array([a] * rows.num_rows,
                                                                                       pa.timestamp("us")))
                                       for a in others])
    first = candidate_pairs(bq, graph, mixed, columns=columns).to_pandas()
    first = first[first["__row"] < rows.num_rows].reset_index(drop=True)
    pd.testing.assert_frame_equal(first, whole)
