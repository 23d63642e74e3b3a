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
from relpredict.model.gnn import GNNConfig
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
    np.testing.assert_allclose(np.asarray(emb.column("EMBEDDINGS").to_pylist()),
                               np.asarray(outputs[2][1].column("EMBEDDINGS").to_pylist()), atol=1e-6)
    summary = job.result().summary
    assert summary is not None
