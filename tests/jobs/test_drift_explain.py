"""Drift checks and explanations with real trained models through real jobs (slow, small).

* A LightGBM churn model trained on the demo store; jobs at a validation anchor on a store drawn
  again from the same population (another seed) flag no major drift, and on a store whose
  population is shifted (mostly premium and VIP customers) flag drift above 0.25.
* The explanations output of a LightGBM model: its contributions over all features plus the bias
  are LightGBM's raw score per entity (its own identity), the top-k rows are well-formed and are
  the largest contributions; a GNN model's explanations are well-formed too.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from relpredict.demo.generator import generate
from relpredict.graph.yaml_io import load_graph
from relpredict.jobs import JobStatus, Workflow
from relpredict.labels.labels import anchor_schedule
from relpredict.model.artifact import save_model
from relpredict.model.explain import booster_contributions
from relpredict.model.fit import TrainOptions, train_model
from relpredict.model.gnn_config import GNNConfig
from relpredict.query.binder import bind
from relpredict.workspace import Workspace
from tests.conftest import QUERIES, Store

pytestmark = pytest.mark.slow  # trains models and runs jobs with worker processes

CHURN = ("PREDICT COUNT(transactions.*, 0, 30, days) = 0 FOR EACH customers.customer_id "
         "WHERE COUNT(transactions.*, -90, 0, days) > 0")
SHIFTED = [0.0, 0.05, 0.35, 0.6]  # budget, regular, premium, vip (the demo's default: 35/40/20/5 %)


@pytest.fixture(autouse=True)
def _loader_seam(monkeypatch: pytest.MonkeyPatch) -> None:
    """Workers use the real model loader (not the double of tests/jobs)."""
    monkeypatch.delenv("RELPREDICT_MODEL_LOADER", raising=False)
    repo = str(Path(__file__).resolve().parents[2])
    monkeypatch.setenv("PYTHONPATH", repo + os.pathsep + os.environ.get("PYTHONPATH", ""))


def test_a_shifted_population_flags_major_drift_and_a_redrawn_one_does_not(tmp_path: Path) -> None:
    store = tmp_path / "demo"
    summary = generate(store, customers=1_500, seed=0)
    graph = load_graph(summary.graph_path)
    opts = TrainOptions(kind="lightgbm", max_eval=2, history_k=4)
    bq = bind(CHURN, graph)
    anchor = anchor_schedule(bq, graph, max_eval=2).val[-1]  # the job sees the validation anchor
    model = train_model(graph, bq, opts)
    ws = Workspace.open(tmp_path / "ws")
    save_model(ws, model, "churn", graph)
    graph.close()
    wf = Workflow.create("churn", "churn", ws)
    found = {}
    for name, shares in (("redrawn", None), ("shifted", SHIFTED)):
        generate(store, customers=1_500, seed=1, segment_shares=shares)  # same files, new rows
        job = wf.run(anchor_time=anchor.isoformat(), output=str(tmp_path / name / "p.parquet"))
        assert job.status() is JobStatus.SUCCEEDED, job.record().error
        found[name] = job.result().summary["drift"]
    redrawn, shifted = found["redrawn"], found["shifted"]
    assert redrawn["available"] and len(redrawn["features"]) == 20
    assert redrawn["max_psi"] <= 0.25 and redrawn["flags"]["major"] == [], redrawn["flags"]
    assert shifted["max_psi"] > 0.25 and shifted["flags"]["major"], shifted["flags"]
    assert shifted["entities"]["previous_job"] is not None  # compared with the redrawn job
    assert 0.0 <= shifted["unseen"]["share"] <= 1.0


def _trained(store: Store, kind: str) -> tuple[Workflow, object, object]:
    graph = load_graph(store.graph_yaml)
    small = GNNConfig(channels=8, fanout=(4, 2), max_epochs=1, batch_size=64, max_steps_per_epoch=2)
    model = train_model(graph, QUERIES["binary"], TrainOptions(kind=kind, gnn=small, max_eval=2, history_k=4))
    save_model(store.ws, model, f"m-{kind}", graph)
    return Workflow.create(kind, f"m-{kind}", store.ws), model, graph


def _explanations(wf: Workflow, out: Path, k: int, exact: bool = False) -> pa.Table:
    job = wf.run(anchor_time="2024-04-01", output=str(out / "p.parquet"), output_types="predictions,explanations",
                 explain_k=k, explain_exact=exact, workers=2, shard_size=25)
    assert job.status() is JobStatus.SUCCEEDED, job.record().error
    return pq.read_table(out / "p_explanations.parquet")


def _well_formed(table: pa.Table, k: int) -> None:
    assert table.column_names == ["ENTITY", "ANCHOR_TIMESTAMP", "RANK", "FEATURE", "VALUE", "CONTRIBUTION"]
    frame = table.to_pandas()
    assert frame.groupby("ENTITY")["RANK"].apply(lambda r: list(r) == list(range(1, k + 1))).all()
    steps = frame.groupby("ENTITY")["CONTRIBUTION"].apply(lambda c: np.all(np.diff(np.abs(c)) <= 1e-12))
    assert steps.all()
    assert not frame.FEATURE.str.match(r"^f_\d+$").any() and frame.FEATURE.str.contains(" ").all()


def test_lightgbm_contributions_sum_to_the_raw_score_and_top_k_rows_are_the_largest(store: Store) -> None:
    from datetime import datetime

    wf, model, graph = _trained(store, "lightgbm")
    table = _explanations(wf, store.out / "lgb", 4)
    _well_formed(table, 4)
    entities = pa.array(sorted(set(table.column("ENTITY").to_pylist())), pa.int64())
    x = model.boosting_features(graph, datetime(2024, 4, 1), entities)
    contrib = booster_contributions(model.booster, x, model.task_type)
    assert contrib.shape == (len(entities), len(model.booster.features) + 1)
    boosters = model.booster.boosters()
    assert len(boosters) == 3  # binary: three bagged boosters, their raw scores averaged
    raw = np.mean([b.predict(x, raw_score=True) for b in boosters], axis=0)
    np.testing.assert_allclose(contrib.sum(1), raw, rtol=1e-9, atol=1e-9)  # every feature + bias
    np.testing.assert_allclose(1 / (1 + np.exp(-raw)), model.booster.predict(x), rtol=1e-9)
    frame = table.to_pandas()
    first = frame[frame.ENTITY == entities[0].as_py()]
    largest = np.sort(np.abs(contrib[0, :-1]))[::-1][:4]
    np.testing.assert_allclose(np.abs(first.CONTRIBUTION.to_numpy()), largest, rtol=1e-9)
    # --explain-exact: LightGBM's own TreeSHAP (pred_contrib), also summing to the raw score
    exact = _explanations(wf, store.out / "lgb-exact", 4, exact=True).to_pandas()
    shap = np.mean([b.predict(x, pred_contrib=True) for b in boosters], axis=0)
    np.testing.assert_allclose(shap.sum(1), raw, rtol=1e-9, atol=1e-9)
    first = exact[exact.ENTITY == entities[0].as_py()]
    np.testing.assert_allclose(np.abs(first.CONTRIBUTION.to_numpy()), np.sort(np.abs(shap[0, :-1]))[::-1][:4],
                               rtol=1e-9)


def test_gnn_explanations_attribute_over_input_groups(store: Store) -> None:
    wf, _, _ = _trained(store, "gnn")
    table = _explanations(wf, store.out / "gnn", 2)
    _well_formed(table, 2)
    assert set(table.column("FEATURE").to_pylist()) <= {
        "customers rows (sampled neighbourhood of the customer)",
        "transactions rows (sampled neighbourhood of the customer)",
        "products rows (sampled neighbourhood of the customer)", "target history of the customer"}
