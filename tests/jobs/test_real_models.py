"""Jobs with real trained models (GNN and LightGBM) through the real loader, end to end.

The rest of tests/jobs drives the runner with a model test double; here the workflow binds a model
trained by :func:`relpredict.model.fit.train_model` and saved in the workspace, and the job's
workers load it with :func:`relpredict.model.artifact.load_model` in their own processes. The
job's output must equal what the model predicts in this process, for any number of workers.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from relpredict.graph.yaml_io import load_graph
from relpredict.jobs import JobStatus, Workflow
from relpredict.model.artifact import save_model
from relpredict.model.fit import TrainOptions, train_model
from relpredict.model.gnn_config import GNNConfig
from tests.conftest import QUERIES, Store

pytestmark = pytest.mark.slow  # trains real models, then runs jobs with workers

SMALL = GNNConfig(channels=8, fanout=(4, 2), max_epochs=1, batch_size=64, max_steps_per_epoch=2)
APRIL = datetime(2024, 4, 1)


@pytest.fixture(autouse=True)
def _loader_seam(monkeypatch: pytest.MonkeyPatch) -> None:
    """Override the double: workers use the real loader (the default)."""
    monkeypatch.delenv("RELPREDICT_MODEL_LOADER", raising=False)
    repo = str(Path(__file__).resolve().parents[2])
    monkeypatch.setenv("PYTHONPATH", repo + os.pathsep + os.environ.get("PYTHONPATH", ""))


def _workflow(store: Store, kind: str, model_kind: str) -> tuple[Workflow, object]:
    graph = load_graph(store.graph_yaml)
    model = train_model(graph, QUERIES[kind], TrainOptions(kind=model_kind, gnn=SMALL, max_eval=2, history_k=4))
    name = f"{kind}-{model_kind}"
    save_model(store.ws, model, name, graph)
    return Workflow.create(name, name, store.ws), (model, graph)


@pytest.mark.parametrize(("kind", "model_kind"), [("binary", "auto"), ("link", "gnn"), ("regression", "lightgbm")])
def test_job_output_equals_the_model_for_1_and_2_workers(store: Store, kind: str, model_kind: str) -> None:
    wf, (model, graph) = _workflow(store, kind, model_kind)
    outputs = {}
    for workers in (1, 2):
        out = store.out / f"w{workers}" / "p.parquet"
        job = wf.run(workers=workers, output=str(out), output_types="predictions,embeddings",
                     shard_size=20, anchor_time=APRIL.isoformat())
        assert job.status() is JobStatus.SUCCEEDED, job.record().error
        outputs[workers] = (pq.read_table(out.with_name("p_predictions.parquet")),
                            pq.read_table(out.with_name("p_embeddings.parquet")))
    preds, emb = outputs[1]
    entities = pa.array(sorted(set(emb.column("ENTITY").to_pylist())), pa.int64())
    direct = model.predict(graph, APRIL, entities)
    assert preds.column_names == direct.column_names
    assert preds.column("ENTITY").to_pylist() == direct.column("ENTITY").to_pylist()
    for col in preds.column_names:
        if pa.types.is_floating(preds.schema.field(col).type):
            np.testing.assert_allclose(preds.column(col).to_numpy(), direct.column(col).to_numpy(), atol=1e-6)
            np.testing.assert_allclose(outputs[2][0].column(col).to_numpy(), preds.column(col).to_numpy(), atol=1e-6)
        elif col != "ANCHOR_TIMESTAMP":
            assert preds.column(col).to_pylist() == direct.column(col).to_pylist() == outputs[2][0].column(col).to_pylist()
    vectors = np.asarray(emb.column("EMBEDDINGS").to_pylist())
    assert not np.isnan(vectors).any()  # Parquet embeddings hold no NaN (GNN and LightGBM)
    np.testing.assert_allclose(vectors, np.asarray(outputs[2][1].column("EMBEDDINGS").to_pylist()), atol=1e-6)
    summary = job.result().summary
    assert summary is not None


FORECAST = ("PREDICT SUM(transactions.price, 0, 14, days) FORECAST 4 TIMEFRAMES "
            "FOR EACH customers.customer_id")


def _csv_embeddings(path: Path) -> list[list[float]]:
    """Every row's EMBEDDINGS parsed as JSON (a float list; NaN is not JSON and fails here)."""
    import json

    import pyarrow.csv as pacsv

    table = pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(
        column_types={"EMBEDDINGS": pa.string()}))
    rows = [json.loads(text, parse_constant=lambda c: pytest.fail(f"{c} in {path.name}"))
            for text in table.column("EMBEDDINGS").to_pylist()]
    assert rows and all(isinstance(v, float | int) and np.isfinite(v) for r in rows for v in r)
    return rows


def test_forecast_job_writes_each_timeframe_of_each_entity(store: Store) -> None:
    """One model (GNN + LightGBM, tiny) for 4 timeframes; the job writes ENTITY, ANCHOR_TIMESTAMP,
    TIMEFRAME, TARGET_PRED with exactly 4 rows per entity (timeframes 1..4, in order), as the model
    predicts here; the GNN's embeddings stay one row per entity and parse as JSON."""
    graph = load_graph(store.graph_yaml)
    model = train_model(graph, FORECAST, TrainOptions(kind="auto", gnn=SMALL, max_eval=2, history_k=4))
    assert model.forecast == 4 and model.gnn is not None and model.info["forecast_trained"] == 4
    save_model(store.ws, model, "forecast", graph)
    out = store.out / "f.csv"
    job = Workflow.create("forecast", "forecast", store.ws).run(
        workers=2, output=str(out), output_types="predictions,embeddings", shard_size=20,
        anchor_time=APRIL.isoformat())
    assert job.status() is JobStatus.SUCCEEDED, job.record().error
    import pyarrow.csv as pacsv

    preds = pacsv.read_csv(out.with_name("f_predictions.csv")).to_pandas()
    assert list(preds.columns) == ["ENTITY", "ANCHOR_TIMESTAMP", "TIMEFRAME", "TARGET_PRED"]
    steps = preds.groupby("ENTITY", sort=False)["TIMEFRAME"].agg(list)
    assert len(steps) > 10 and all(s == [1, 2, 3, 4] for s in steps)
    entities = pa.array(steps.index.tolist(), pa.int64())
    direct = model.predict(graph, APRIL, entities).to_pandas()
    assert direct["TIMEFRAME"].tolist() == preds["TIMEFRAME"].tolist()
    np.testing.assert_allclose(preds["TARGET_PRED"], direct["TARGET_PRED"], rtol=1e-5, atol=1e-6)
    assert len(_csv_embeddings(out.with_name("f_embeddings.csv"))) == len(steps)
    assert job.result().summary["backtest"].get("metric") in ("mae", None)


def test_lightgbm_embeddings_are_standardised_imputed_features(store: Store, tmp_path: Path) -> None:
    """A LightGBM-only model's embeddings: its most important features standardised with the
    training mean and std stored in the artifact, NaN as 0; through the CSV writer every row
    parses as JSON, and Parquet holds no NaN."""
    from relpredict.model.artifact import load_model
    from relpredict.sinks.formats import open_writer

    graph = load_graph(store.graph_yaml)
    model = train_model(graph, QUERIES["regression"], TrainOptions(kind="lightgbm", max_eval=2, history_k=4))
    save_model(store.ws, model, "lgb", graph)
    loaded = load_model(store.ws, "lgb")
    spec = loaded.info["embedding"]
    assert 0 < len(spec["features"]) <= 32 and len(spec["mean"]) == len(spec["std"]) == len(spec["features"])
    emb = loaded.embed(graph, APRIL, pa.array(np.arange(1, 61), pa.int64()))
    vectors = np.asarray(emb.column("EMBEDDINGS").to_pylist())
    assert vectors.shape == (60, len(spec["features"])) and not np.isnan(vectors).any()
    assert abs(vectors.mean()) < 1.5 and np.median(np.abs(vectors)) < 3  # standardised, not raw sums
    for file_type in ("csv", "parquet"):
        path = tmp_path / f"e.{file_type}"
        writer = open_writer(str(path), file_type, emb.schema)
        for batch in emb.to_batches():
            writer.write(batch)
        writer.close()
    assert np.allclose(_csv_embeddings(tmp_path / "e.csv"), vectors, atol=1e-5)
    back = np.asarray(pq.read_table(tmp_path / "e.parquet").column("EMBEDDINGS").to_pylist())
    assert not np.isnan(back).any()


NO_TORCH = """
import sys
from datetime import datetime
import pyarrow as pa
from relpredict.jobs.shards import resolve_loader, DEFAULT_LOADER
from relpredict.workspace import Workspace
ws = Workspace.open(sys.argv[1])
model = resolve_loader(DEFAULT_LOADER)(ws, "lgb")
graph = model.load_graph()
model.predict(graph, datetime(2024, 4, 1), pa.array([1, 2, 3], pa.int64()))
model.embed(graph, datetime(2024, 4, 1), pa.array([1, 2, 3], pa.int64()))
print(sorted(m for m in ("torch", "torch_geometric") if m in sys.modules))
"""


def test_a_lightgbm_model_loads_and_scores_without_importing_torch(store: Store) -> None:
    """A worker of a LightGBM job starts seconds sooner: torch and PyTorch Geometric are imported
    only by models with a GNN (importing them takes 3-5 s of a job's start-up)."""
    import subprocess
    import sys

    graph = load_graph(store.graph_yaml)
    model = train_model(graph, QUERIES["binary"], TrainOptions(kind="lightgbm", max_eval=2, history_k=4))
    save_model(store.ws, model, "lgb", graph)
    done = subprocess.run([sys.executable, "-c", NO_TORCH, str(store.ws.home)], capture_output=True,
                          text=True, env=os.environ.copy())
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
