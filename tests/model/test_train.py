"""Training end to end on a small demo store: every task type, artifacts, determinism, look-ahead.

The store has 400 customers (about 4,000 purchases); models are small (16 channels, 2 epochs) so
each trains in a few seconds. What is asserted is behaviour, not quality: output schemas, a saved
model predicting identically in a fresh process, the same seed giving the same model, and
predictions at an anchor time not moving when rows after it change.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from relpredict.errors import ConfigError
from relpredict.graph.yaml_io import load_graph
from relpredict.labels.labels import prediction_table
from relpredict.model.artifact import list_models, load_model, save_model
from relpredict.model.fit import TrainOptions, train_model
from relpredict.model.gnn_config import GNNConfig
from relpredict.query.bound import TaskType
from relpredict.workspace import Workspace

SMALL = GNNConfig(channels=16, fanout=(8, 4), max_epochs=2, patience=1, batch_size=128, max_steps_per_epoch=8)
QUERIES = {
    TaskType.binary: "PREDICT COUNT(transactions.*, 0, 30, days) = 0 FOR EACH customers.customer_id "
                     "WHERE COUNT(transactions.*, -90, 0, days) > 0",
    TaskType.regression: "PREDICT SUM(transactions.price, 0, 30, days) FOR EACH customers.customer_id",
    TaskType.multiclass: "PREDICT FIRST(transactions.channel, 0, 30, days) FOR EACH customers.customer_id",
    TaskType.multilabel: "PREDICT LIST_DISTINCT(transactions.channel, 0, 30, days) CLASSIFY "
                         "FOR EACH customers.customer_id",
    TaskType.link_prediction: "PREDICT LIST_DISTINCT(transactions.product_id, 0, 30, days) RANK TOP 5 "
                              "FOR EACH customers.customer_id",
}
COLUMNS = {
    TaskType.binary: ["ENTITY", "ANCHOR_TIMESTAMP", "TARGET_PRED", "False_PROB", "True_PROB"],
    TaskType.regression: ["ENTITY", "ANCHOR_TIMESTAMP", "TARGET_PRED"],
    TaskType.multiclass: ["ENTITY", "ANCHOR_TIMESTAMP", "CLASS", "SCORE", "PREDICTED"],
    TaskType.multilabel: ["ENTITY", "ANCHOR_TIMESTAMP", "CLASS", "SCORE", "PREDICTED"],
    TaskType.link_prediction: ["ENTITY", "ANCHOR_TIMESTAMP", "CLASS", "SCORE"],
}
ANCHOR = datetime(2024, 9, 1)


def options(kind: str = "auto", seed: int = 0) -> TrainOptions:
    return TrainOptions(kind=kind, seed=seed, gnn=SMALL, max_eval=3, history_k=6)


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    return Workspace.open(tmp_path_factory.mktemp("ws"))


def entities(graph, task: TaskType, n: int = 25) -> pa.Array:
    from relpredict.query.binder import bind

    table = prediction_table(bind(QUERIES[task], graph), graph, ANCHOR)
    return table.column("ENTITY").combine_chunks().slice(0, n)


@pytest.mark.parametrize("task", list(QUERIES), ids=lambda t: t.value)
def test_every_task_type_trains_and_predicts(graph, task: TaskType) -> None:
    model = train_model(graph, QUERIES[task], options())
    assert model.task_type is task
    ents = entities(graph, task)
    out = model.predict(graph, ANCHOR, ents)
    assert out.column_names == COLUMNS[task]
    assert out.schema.field("ENTITY").type == pa.int64()  # keeps the key's type
    per_entity = {TaskType.binary: 1, TaskType.regression: 1, TaskType.link_prediction: 5,
                  TaskType.multiclass: len(model.codec.classes), TaskType.multilabel: len(model.codec.classes)}[task]
    assert out.num_rows == len(ents) * min(per_entity, 10)
    assert set(out.column("ENTITY").to_pylist()) == set(ents.to_pylist())
    if task in (TaskType.multiclass, TaskType.multilabel, TaskType.link_prediction):
        scores = np.asarray(out.column("SCORE").to_pylist()).reshape(len(ents), -1)
        assert (np.diff(scores, axis=1) <= 1e-12).all()  # best first
    emb = model.embed(graph, ANCHOR, ents)
    assert emb.column_names == ["ENTITY", "ANCHOR_TIMESTAMP", "EMBEDDINGS"]
    assert {len(v) for v in emb.column("EMBEDDINGS").to_pylist()} == {model.embedding_dim}
    assert set(model.metrics) >= {"val", "test"}


def test_binary_probabilities_are_calibrated_and_reported(graph) -> None:
    model = train_model(graph, QUERIES[TaskType.binary], options())
    assert model.platt is not None
    assert {"val_ece_before", "val_ece_after", "test_ece_before", "test_ece_after"} <= set(model.metrics)
    assert model.metrics["val_ece_after"] <= model.metrics["val_ece_before"] + 1e-9
    out = model.predict(graph, ANCHOR, entities(graph, TaskType.binary), threshold=0.3)
    prob = np.asarray(out.column("True_PROB").to_pylist())
    assert np.allclose(prob + np.asarray(out.column("False_PROB").to_pylist()), 1.0)
    assert out.column("TARGET_PRED").to_pylist() == (prob >= 0.3).tolist()


def test_same_seed_same_model_other_seed_other_model(graph) -> None:
    ents = entities(graph, TaskType.regression)
    runs = [train_model(graph, QUERIES[TaskType.regression], options("gnn", seed)) for seed in (3, 3, 4)]
    preds = [np.asarray(m.predict(graph, ANCHOR, ents).column("TARGET_PRED").to_pylist()) for m in runs]
    np.testing.assert_array_equal(preds[0], preds[1])
    assert not np.array_equal(preds[0], preds[2])


def test_artifact_round_trip_in_a_fresh_process(graph, ws: Workspace, tmp_path: Path) -> None:
    model = train_model(graph, QUERIES[TaskType.binary], options())
    saved = save_model(ws, model, "churn", graph)
    assert saved.ref == "churn@1"
    ents = entities(graph, TaskType.binary)
    here = model.predict(graph, ANCHOR, ents)
    script = f"""
import pyarrow as pa, pyarrow.parquet as pq
from datetime import datetime
from relpredict.model.artifact import load_model
from relpredict.workspace import Workspace
m = load_model(Workspace.open({str(ws.home)!r}), "churn")
g = m.load_graph()
pq.write_table(m.predict(g, datetime(2024, 9, 1), pa.array({ents.to_pylist()!r})), {str(tmp_path / 'p.parquet')!r})
pq.write_table(m.embed(g, datetime(2024, 9, 1), pa.array({ents.to_pylist()!r})), {str(tmp_path / 'e.parquet')!r})
"""
    subprocess.run([sys.executable, "-c", script], check=True, timeout=300)
    there = pq.read_table(tmp_path / "p.parquet")
    assert there.column_names == here.column_names
    np.testing.assert_allclose(there.column("True_PROB").to_numpy(), here.column("True_PROB").to_numpy(), rtol=0, atol=1e-6)
    emb_here = np.asarray(model.embed(graph, ANCHOR, ents).column("EMBEDDINGS").to_pylist())
    emb_there = np.asarray(pq.read_table(tmp_path / "e.parquet").column("EMBEDDINGS").to_pylist())
    np.testing.assert_allclose(emb_there, emb_here, atol=1e-6)
    again = save_model(ws, train_model(graph, QUERIES[TaskType.binary], options(seed=1)), "churn", graph)
    assert again.version == 2 and load_model(ws, "churn").version == 2 and load_model(ws, "churn@1").version == 1
    assert [r["version"] for r in list_models(ws, "churn")] == [2, 1]
    doc = json.loads((ws.artifacts / "models" / "churn" / "v1" / "model.json").read_text())
    assert doc["query"] == model.query_text and doc["info"]["versions"]["torch"]
    with pytest.raises(ConfigError, match="Unknown model 'chrun'.*Did you mean 'churn'"):
        load_model(ws, "chrun")
    with pytest.raises(ConfigError, match="Unknown model 'churn@7'"):
        load_model(ws, "churn@7")


def _rewrite_future(store: Path, out: Path, cutoff: datetime) -> None:
    """A copy of the store where rows after ``cutoff`` are changed, dropped and added."""
    out.mkdir()
    for f in store.iterdir():
        if f.suffix == ".parquet" and f.stem in ("transactions", "returns"):
            t = pq.read_table(f)
            times = np.asarray(t.column("timestamp").to_pylist(), dtype="datetime64[us]")
            future = times > np.datetime64(cutoff)
            idx = np.arange(t.num_rows)
            keep = idx[~future | (idx % 3 != 0)]  # delete a third of the future rows
            t = t.take(pa.array(keep))
            if "price" in t.column_names:  # modify the remaining future rows' values
                fut = np.asarray(t.column("timestamp").to_pylist(), dtype="datetime64[us]") > np.datetime64(cutoff)
                price = np.where(fut, np.asarray(t.column("price").to_pylist()) * 7 + 3, t.column("price").to_pylist())
                t = t.set_column(t.column_names.index("price"), "price", pa.array(price, t.schema.field("price").type))
                extra = t.filter(pa.array(fut)).slice(0, 50)  # add copies of future rows with new keys
                key = t.column("transaction_id").to_numpy()
                extra = extra.set_column(0, "transaction_id", pa.array(extra.column(0).to_numpy() + key.max() + 1))
                t = pa.concat_tables([t, extra])
            pq.write_table(t, out / f.name)
        else:
            (out / f.name).write_bytes(f.read_bytes())


def test_predictions_ignore_rows_after_the_anchor_time(graph, store: Path, tmp_path: Path) -> None:
    """Look-ahead: adding, deleting or modifying rows with time > t leaves every output at t alone."""
    _rewrite_future(store, tmp_path / "changed", ANCHOR)
    changed = load_graph(tmp_path / "changed" / "graph.yaml")
    assert changed.row_count("transactions") != graph.row_count("transactions")
    for task in (TaskType.binary, TaskType.regression, TaskType.link_prediction):
        model = train_model(graph, QUERIES[task], options())
        ents = entities(graph, task, n=60)
        a, b = model.predict(graph, ANCHOR, ents), model.predict(changed, ANCHOR, ents)
        assert a.column_names == b.column_names
        for col in a.column_names:
            if pa.types.is_floating(a.schema.field(col).type):
                np.testing.assert_allclose(a.column(col).to_numpy(), b.column(col).to_numpy(), atol=1e-9)
            else:
                assert a.column(col).to_pylist() == b.column(col).to_pylist(), col
        ea = np.asarray(model.embed(graph, ANCHOR, ents).column("EMBEDDINGS").to_pylist())
        eb = np.asarray(model.embed(changed, ANCHOR, ents).column("EMBEDDINGS").to_pylist())
        np.testing.assert_allclose(ea, eb, atol=1e-9)


def test_lightgbm_trains_a_ranker_for_ranking(graph) -> None:
    """``--model lightgbm`` on RANK TOP k: candidates + a LightGBM ranker, output as before."""
    model = train_model(graph, QUERIES[TaskType.link_prediction], options("lightgbm"))
    assert model.ranker is not None and model.ranker.model is not None
    assert model.gnn is None and model.kind in ("lightgbm", "baseline")
    ents = entities(graph, TaskType.link_prediction)
    out = model.predict(graph, ANCHOR, ents, top_k=3)
    assert out.column_names == COLUMNS[TaskType.link_prediction]
    assert out.num_rows == 3 * len(ents)
    assert 0.0 < model.info["candidate_recall"]["val"] <= 1.0


def test_a_table_named_like_a_torch_attribute_trains(store: Path, tmp_path: Path) -> None:
    """Table names are keys of torch ModuleDicts: ``items`` (a ModuleDict method) must work."""
    from relpredict.model.gnn import module_key

    assert module_key("customers") == "customers" and module_key("items") != "items"
    text = (store / "graph.yaml").read_text()
    (tmp_path / "graph.yaml").write_text(text.replace("  products:", "  items:").replace(
        "product_id: products", "product_id: items").replace("data: .", f"data: {store}"))
    graph = load_graph(tmp_path / "graph.yaml")
    query = QUERIES[TaskType.link_prediction].replace("products", "items")
    model = train_model(graph, query, options("gnn"))
    assert model.predict(graph, ANCHOR, entities(graph, TaskType.link_prediction, 5)).num_rows == 25
