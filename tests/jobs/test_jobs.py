"""Jobs end to end with real worker processes and real files (model: the test double).

Each test runs whole jobs: spawn workers, staged shards, published outputs, manifest, sample,
summary. ``RELPREDICT_MODEL_LOADER`` points at ``tests.jobs.fixture_model`` (see conftest).
"""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from relpredict.errors import ConfigError, SettingsError
from relpredict.jobs import Job, JobStatus, Stage
from relpredict.jobs import store as job_store
from tests.conftest import N_CUSTOMERS, Store
from tests.jobs.fixture_model import expected_probability, key_hash

pytestmark = pytest.mark.slow  # whole jobs, with worker processes

APRIL = "2024-04-01"  # its 30-day window ends inside the data: backtests apply
TYPES = {
    "binary": {"TARGET_PRED": pa.bool_(), "False_PROB": pa.float64(), "True_PROB": pa.float64()},  # Kumo's order
    "regression": {"TARGET_PRED": pa.float64()},
    "multiclass": {"CLASS": pa.string(), "SCORE": pa.float64(), "PREDICTED": pa.bool_()},
    "multilabel": {"CLASS": pa.int64(), "SCORE": pa.float64(), "PREDICTED": pa.bool_()},
    "link": {"CLASS": pa.int64(), "SCORE": pa.float64()},
    "static": {"TARGET_PRED": pa.float64()},
}


def _entities_at(graph_dir: Path, anchor: datetime) -> list[int]:
    customers = pd.read_parquet(graph_dir / "customers.parquet")
    return sorted(customers.loc[customers.created_at <= anchor, "customer_id"].tolist())


@pytest.mark.parametrize("kind", list(TYPES))
def test_output_schema_per_task_type(store: Store, kind: str) -> None:
    wf = store.workflow(kind)
    anchor = {} if kind == "static" else {"anchor_time": APRIL}
    job = wf.run(output=str(store.out / "p.parquet"), output_types="predictions,embeddings",
                 shard_size=25, **anchor)
    assert job.status() is JobStatus.SUCCEEDED
    preds = pq.read_table(store.out / "p_predictions.parquet")
    head = {"ENTITY": pa.int64()} | ({} if kind == "static" else {"ANCHOR_TIMESTAMP": pa.timestamp("us")})
    assert {f.name: f.type for f in preds.schema} == head | TYPES[kind]
    assert preds.column_names == [*head, *TYPES[kind]]
    emb = pq.read_table(store.out / "p_embeddings.parquet")
    assert emb.column_names == [*head, "EMBEDDINGS"]
    assert emb.schema.field("EMBEDDINGS").type == pa.list_(pa.float32())
    entities = (list(range(1, N_CUSTOMERS + 1)) if kind == "static"
                else _entities_at(store.graph_yaml.parent, datetime(2024, 4, 1)))
    assert emb.column("ENTITY").to_pylist() == entities
    per_entity = {"multiclass": 3, "multilabel": 8, "link": 3}.get(kind, 1)  # all classes / TOP 3
    assert preds.num_rows == len(entities) * per_entity
    if per_entity > 1:  # best first per entity
        scores = preds.column("SCORE").to_numpy().reshape(-1, per_entity)
        assert (np.diff(scores, axis=1) <= 0).all()


def _run(store: Store, wf, workers: int, folder: str, **settings):
    out = store.out / folder / "p.csv"
    job = wf.run(workers=workers, output=str(out), output_types="predictions,embeddings",
                 shard_size=7, anchor_time=APRIL, **settings)
    assert job.status() is JobStatus.SUCCEEDED, job.record().error
    return (pd.read_csv(out.with_name("p_predictions.csv")), pd.read_csv(out.with_name("p_embeddings.csv")), job)


def test_same_output_for_1_2_and_4_workers(store: Store) -> None:
    wf = store.workflow("multiclass")
    runs = {w: _run(store, wf, w, f"w{w}") for w in (1, 2, 4)}
    base_p, base_e, job = runs[1]
    assert job.record().shards_total == 9  # 60 entities in shards of 7
    for workers in (2, 4):
        preds, emb, job = runs[workers]
        assert len({w.worker for w in job.progress().workers}) == workers
        assert preds[["ENTITY", "CLASS", "PREDICTED"]].equals(base_p[["ENTITY", "CLASS", "PREDICTED"]])
        np.testing.assert_allclose(preds["SCORE"], base_p["SCORE"], atol=1e-6)
        assert emb["ENTITY"].equals(base_e["ENTITY"])
        vectors = np.array([json.loads(v) for v in emb["EMBEDDINGS"]])
        np.testing.assert_allclose(vectors, np.array([json.loads(v) for v in base_e["EMBEDDINGS"]]), atol=1e-6)


def test_manifest_is_written_last_and_lists_partitions(store: Store) -> None:
    wf = store.workflow("binary")
    job = wf.run(output=str(store.out / "{{PARTITION}}.parquet"), shard_size=10, anchor_time=APRIL,
                 partition_bytes=1, workers=2)
    manifest_path = store.out.parent / "out.manifest.json"
    manifest = json.loads(manifest_path.read_text())
    files = manifest["outputs"]["predictions"]["files"]
    assert [Path(f["path"]).name for f in files] == [f"part_{i:03d}.parquet" for i in range(len(files))]
    assert len(files) == 6 and sum(f["rows"] for f in files) == manifest["entities"] == 60
    assert pq.read_table(store.out).num_rows == 60
    assert manifest["model"] == "m-binary@1" and manifest["anchor_time"] == "2024-04-01T00:00:00"
    assert manifest["settings"]["workers"] == 2 and manifest["query"].startswith("PREDICT COUNT")
    assert [c["name"] for c in manifest["outputs"]["predictions"]["schema"]][:2] == ["ENTITY", "ANCHOR_TIMESTAMP"]
    last_output = max(Path(f["path"]).stat().st_mtime_ns for f in files)
    assert manifest_path.stat().st_mtime_ns >= last_output
    assert sorted(os.listdir(store.out)) == [f"part_{i:03d}.parquet" for i in range(6)]  # no staging left
    assert job.result().manifest == manifest


def test_values_are_the_models_and_entity_keys_keep_their_type(store: Store) -> None:
    wf = store.workflow("binary")
    preds, _, _ = _run(store, wf, 1, "v", threshold=0.6)
    tx = pd.read_parquet(store.graph_yaml.parent / "transactions.parquet")
    history = tx[tx.ts <= datetime(2024, 4, 1)].groupby("customer_id").size()
    h = np.array([key_hash(k) for k in preds["ENTITY"]])
    p = expected_probability(h, history.reindex(preds["ENTITY"]).fillna(0).to_numpy())
    np.testing.assert_allclose(preds["True_PROB"], p, atol=1e-12)
    assert (preds["TARGET_PRED"] == (p >= 0.6)).all() and preds["ENTITY"].dtype == np.int64


def test_sample_cap_keeps_the_first_rows(store: Store, tmp_path: Path) -> None:
    wf = store.workflow("link")
    job = wf.run(output=str(store.out / "p.parquet"), anchor_time=APRIL, shard_size=10,
                 sample_cap_bytes=1500)
    out = pq.read_table(store.out / "p.parquet")
    sample_info = job.result().summary["outputs"]["predictions"]["sample"]
    sample = job.result().sample()
    assert not sample_info["complete"] and 0 < sample.num_rows < out.num_rows
    assert sample_info["rows"] == sample.num_rows and sample_info["bytes"] <= 1500
    assert sample.equals(out.slice(0, sample.num_rows))
    csv = job.download(tmp_path / "s.csv")
    assert pd.read_csv(csv)["CLASS"].tolist() == sample.column("CLASS").to_pylist()
    parquet = job.download(tmp_path / "s.bin", file_format="parquet")
    assert pq.read_table(parquet).equals(sample)


def _auroc_by_hand(y: np.ndarray, s: np.ndarray) -> float:
    pos, neg = s[y], s[~y]
    wins = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return wins / (len(pos) * len(neg))


def test_backtest_auroc_against_one_computed_by_hand(store: Store) -> None:
    preds, _, job = _run(store, store.workflow("binary"), 1, "bt")
    tx = pd.read_parquet(store.graph_yaml.parent / "transactions.parquet")
    anchor, end = pd.Timestamp(APRIL), pd.Timestamp(APRIL) + pd.Timedelta(days=30)
    bought = set(tx[(tx.ts > anchor) & (tx.ts <= end)].customer_id)
    y = preds["ENTITY"].isin(bought).to_numpy()
    backtest = job.result().summary["backtest"]
    assert backtest["metric"] == "auroc" and backtest["entities"] == len(preds) == 60
    assert backtest["window_end"] == "2024-05-01T00:00:00"
    assert backtest["value"] == pytest.approx(_auroc_by_hand(y, preds["True_PROB"].to_numpy()), abs=1e-12)


def test_backtest_mae_against_one_computed_by_hand(store: Store) -> None:
    preds, _, job = _run(store, store.workflow("regression"), 1, "mae")
    tx = pd.read_parquet(store.graph_yaml.parent / "transactions.parquet")
    anchor, end = pd.Timestamp(APRIL), pd.Timestamp(APRIL) + pd.Timedelta(days=30)
    spent = tx[(tx.ts > anchor) & (tx.ts <= end)].groupby("customer_id").price.sum()
    truth = spent.reindex(preds["ENTITY"]).fillna(0.0).to_numpy()
    backtest = job.result().summary["backtest"]
    assert backtest["metric"] == "mae"
    assert backtest["value"] == pytest.approx(np.abs(truth - preds["TARGET_PRED"]).mean(), abs=1e-9)


def test_entity_filter_adds_to_where_at_the_anchor(store: Store) -> None:
    wf = store.workflow("binary")
    job = wf.run(output=str(store.out / "p.parquet"), anchor_time=APRIL,
                 entity_filter="customers.status = 'ACTIVE' AND COUNT(transactions.*, -30, 0, days) > 0")
    customers = pd.read_parquet(store.graph_yaml.parent / "customers.parquet")
    tx = pd.read_parquet(store.graph_yaml.parent / "transactions.parquet")
    anchor = pd.Timestamp(APRIL)
    recent = set(tx[(tx.ts > anchor - pd.Timedelta(days=30)) & (tx.ts <= anchor)].customer_id)
    expected = customers[(customers.created_at <= anchor) & (customers.status == "ACTIVE")
                         & customers.customer_id.isin(recent)].customer_id.sort_values().tolist()
    assert pq.read_table(store.out / "p.parquet").column("ENTITY").to_pylist() == expected
    assert job.record().settings.entity_filter.startswith("customers.status")


def test_a_bad_filter_is_refused_before_any_job_exists(store: Store) -> None:
    wf = store.workflow("binary")
    with pytest.raises(SettingsError, match="statuz") as err:
        wf.run(entity_filter="customers.statuz = 'ACTIVE'")
    assert set(err.value.errors) == {"entity_filter"}
    with pytest.raises(SettingsError, match="ASSUMING"):
        wf.run(entity_filter="COUNT(transactions.*, 0, 7, days) > 0")
    assert job_store.list_jobs(store.ws) == []


def test_anchor_after_the_data_warns_on_the_job(store: Store) -> None:
    job = store.workflow("binary").run(output=str(store.out / "p.parquet"), anchor_time="2024-09-01T00:00:00Z")
    assert job.status() is JobStatus.SUCCEEDED
    assert job.record().warnings[0].startswith("The anchor time 2024-09-01 00:00:00 is after the latest data")


def test_no_entity_to_predict_fails_before_predicting(store: Store) -> None:
    with pytest.raises(ConfigError, match="^No entity of customers exists at the anchor time 2024-04-01 00:00:00"):
        store.workflow("binary").run(anchor_time=APRIL, entity_filter="customers.age > 1000")
    (rec,) = job_store.list_jobs(store.ws)
    assert rec.status is JobStatus.FAILED and rec.error.startswith("No entity of customers exists")


def test_dry_run_writes_nothing(store: Store) -> None:
    wf = store.workflow("binary")
    dry = wf.dry_run(output=str(store.out / "p.parquet"), output_types="predictions,embeddings",
                     workers=2, shard_size=10, anchor_time=APRIL)
    assert dry.entities == 60 and dry.shards == 6 and dry.sampled_entities == 20
    assert dry.estimated_seconds > 0 and set(dry.estimated_bytes) == {"predictions", "embeddings"}
    assert all(b > 0 for b in dry.estimated_bytes.values())
    assert not store.out.exists() and job_store.list_jobs(store.ws) == []


def test_defaults_destination_whole_sample_histogram_no_backtest(store: Store) -> None:
    job = store.workflow("binary").run()  # anchor: the latest data, so the window is not over
    path = store.ws.artifacts / "jobs" / job.id / "output" / "binary.parquet"
    summary = job.result().summary
    assert pq.read_table(path).num_rows == summary["entities"] == 60
    assert job.result().sample().equals(pq.read_table(path))  # under the cap: the whole output
    assert summary["outputs"]["predictions"]["sample"]["complete"]
    assert summary["backtest"]["skipped"].startswith("the target window ends")
    hist = summary["outputs"]["predictions"]["histogram"]
    assert hist["column"] == "True_PROB" and sum(hist["counts"]) == 60
    assert hist["edges"][0] == 0.0 and hist["edges"][-1] == 1.0 and len(hist["edges"]) == 21
    assert job.progress().stage is Stage.DONE and job.progress().fraction == 1.0


def test_unknown_workflow_and_job_and_model(store: Store) -> None:
    with pytest.raises(ConfigError, match=r"^No workflow named 'binry' .* Did you mean 'binary'\?"):
        store.workflow("binary")
        from relpredict.jobs import Workflow

        Workflow.get("binry", store.ws)
    with pytest.raises(ConfigError, match=r"^No job 'nope' in the workspace"):
        Job("nope", store.ws)
    from relpredict.jobs import Workflow

    with pytest.raises(ConfigError, match=r"^No model named 'ghost'"):
        Workflow.create("w", "ghost", store.ws)
    with pytest.raises(ConfigError, match=r"^A workflow named 'binary' already exists"):
        Workflow.create("binary", "m-binary", store.ws)
