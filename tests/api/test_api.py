"""Every endpoint of the REST API, with its error cases. Jobs run for real (detached runners)."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient

from relpredict.api import create_app
from relpredict.api.app import error_status
from relpredict.errors import (
    ConfigError,
    ConflictError,
    DestinationError,
    NotFoundError,
    RelpredictError,
    SettingsError,
)
from relpredict.jobs import JobStatus, RawSettings, Workflow, create_job
from relpredict.jobs import store as job_store
from relpredict.service.jobs import ORPHAN_ERROR
from tests.api.conftest import BASE, wait_for
from tests.conftest import BINARY, QUERIES, Store
from tests.jobs.fixture_model import register

APRIL = "2024-04-01"


def _workflow(client: TestClient, store: Store, kind: str = "binary", name: str = "wf") -> str:
    register(store.ws, f"m-{name}", QUERIES[kind], store.graph_yaml)
    answer = client.post("/api/workflows", json={"name": name, "model": f"m-{name}"})
    assert answer.status_code == 201, answer.text
    return name


def _run(client: TestClient, store: Store, workflow: str = "wf", **settings: object) -> str:
    body = {"anchor_time": APRIL, "destination": {"path": str(store.out / f"{workflow}.parquet")},
            **settings}
    answer = client.post(f"/api/workflows/{workflow}/jobs", json=body)
    assert answer.status_code == 201, answer.text
    return answer.json()["id"]


# ----------------------------------------------------------------------------------- catalog
def test_each_error_class_has_its_status() -> None:
    assert error_status(NotFoundError("x")) == 404
    assert error_status(ConflictError("x")) == 409
    assert error_status(SettingsError({"workers": "x"})) == 422
    assert error_status(DestinationError("x")) == 502
    assert error_status(ConfigError("x")) == error_status(RelpredictError("x")) == 400


def test_health_and_openapi_schema(client: TestClient) -> None:
    assert client.get("/api/health").json() == {"status": "ok"}
    paths = client.get("/openapi.json").json()["paths"]
    assert "/api/workflows/{name}/jobs" in paths and "/api/jobs/{job_id}/sample" in paths
    assert client.get("/docs").status_code == 200


def test_models_list_and_get(client: TestClient, store: Store) -> None:
    register(store.ws, "churn", BINARY, store.graph_yaml)
    register(store.ws, "churn", BINARY, store.graph_yaml)
    models = client.get("/api/models").json()
    assert {m["ref"] for m in models} == {"churn@1", "churn@2"}
    latest = client.get("/api/models/churn").json()
    assert latest["version"] == 2 and latest["versions"] == [2, 1]
    assert latest["task_type"] == "binary_classification" and latest["query"].startswith("PREDICT COUNT")
    assert client.get("/api/models/churn@1").json()["version"] == 1


def test_unknown_model_is_404_with_the_cli_message(client: TestClient, store: Store) -> None:
    register(store.ws, "churn", BINARY, store.graph_yaml)
    answer = client.get("/api/models/chrun")
    assert answer.status_code == 404
    assert answer.json()["detail"].startswith("Unknown model 'chrun' in workspace")
    assert "Did you mean 'churn'?" in answer.json()["detail"]
    assert client.get("/api/models/churn@9").status_code == 404
    assert client.get("/api/models/1bad").status_code == 404


def test_graphs_list_get_and_404(client: TestClient, store: Store) -> None:
    with store.ws.db() as con:
        con.execute("INSERT INTO graphs VALUES ('shop', ?, NULL, '2024-01-01T00:00:00Z')",
                    (str(store.graph_yaml),))
    assert [g["name"] for g in client.get("/api/graphs").json()] == ["shop"]
    assert client.get("/api/graphs/shop").json()["yaml_path"] == str(store.graph_yaml)
    missing = client.get("/api/graphs/shpo")
    assert missing.status_code == 404 and "Did you mean 'shop'?" in missing.json()["detail"]


def test_connectors_never_send_secrets(client: TestClient, store: Store,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from relpredict.connectors import Connector, add_connector

    monkeypatch.setenv("WH_PASSWORD", "hunter2-very-secret")
    add_connector(store.ws, Connector("wh", "snowflake", {"account": "acme", "user": "etl"},
                                      {"password": "env:WH_PASSWORD"}))
    listed = client.get("/api/connectors")
    assert listed.json() == [{"name": "wh", "kind": "snowflake",
                              "settings": {"account": "acme", "user": "etl"}, "secrets": ["password"]}]
    one = client.get("/api/connectors/wh")
    for text in (listed.text, one.text):
        assert "hunter2" not in text and "WH_PASSWORD" not in text
    assert client.get("/api/connectors/nope").status_code == 404


# ----------------------------------------------------------------------------------- workflows
def test_create_list_get_workflow(client: TestClient, store: Store) -> None:
    _workflow(client, store)
    assert [w["name"] for w in client.get("/api/workflows").json()] == ["wf"]
    view = client.get("/api/workflows/wf").json()
    form = view["form"]
    assert view["model"] == "m-wf" and view["jobs"] == []
    assert form["task_type"] == "binary_classification" and form["task_settings"] == ["threshold"]
    assert form["default_anchor_time"] == form["data_end"] and form["max_workers"] == 4
    assert "form" not in client.get("/api/workflows/wf?form=false").json()


@pytest.mark.parametrize(("kind", "settings"), [("regression", []), ("multiclass", ["num_classes"]),
                                                ("multilabel", ["threshold", "num_classes"]),
                                                ("link", ["top_k"])])
def test_form_offers_only_this_tasks_settings(client: TestClient, store: Store, kind: str,
                                              settings: list[str]) -> None:
    _workflow(client, store, kind, name=kind)
    assert client.get(f"/api/workflows/{kind}").json()["form"]["task_settings"] == settings


def test_create_workflow_errors(client: TestClient, store: Store) -> None:
    _workflow(client, store)
    again = client.post("/api/workflows", json={"name": "wf", "model": "m-wf"})
    assert again.status_code == 409 and again.json()["detail"].startswith("A workflow named 'wf' already exists")
    bad_name = client.post("/api/workflows", json={"name": "no spaces", "model": "m-wf"})
    assert bad_name.status_code == 422 and "name" in bad_name.json()["errors"]
    bad_model = client.post("/api/workflows", json={"name": "x", "model": "nope"})
    assert bad_model.status_code == 422 and "nope" in bad_model.json()["errors"]["model"]
    shape = client.post("/api/workflows", json={"name": "x"})
    assert shape.status_code == 422 and "model" in shape.json()["errors"]
    missing = client.get("/api/workflows/wff")
    assert missing.status_code == 404
    assert missing.json()["detail"].startswith("No workflow named 'wff' in the workspace")


# ----------------------------------------------------------------------------------- settings
def test_check_returns_the_settings_a_job_gets(client: TestClient, store: Store) -> None:
    _workflow(client, store)
    answer = client.post("/api/workflows/wf/check", json={"anchor_time": APRIL, "threshold": 0.3,
                                                          "workers": 2})
    assert answer.status_code == 200, answer.text
    settings = answer.json()["settings"]
    assert settings["anchor_time"] == "2024-04-01T00:00:00" and settings["threshold"] == 0.3
    assert settings["workers"] == 2 and settings["destination"]["path"] is None
    late = client.post("/api/workflows/wf/check", json={"anchor_time": "2030-01-01"}).json()
    assert "after the latest data" in late["warnings"][0]


def test_check_takes_the_metadata_fields_and_the_entity_list(client: TestClient, store: Store,
                                                             tmp_path: Path) -> None:
    _workflow(client, store)
    keys = tmp_path / "keys.csv"
    keys.write_text("customer_id\n3\n7\n")
    answer = client.post("/api/workflows/wf/check", json={
        "metadata_fields": ["model_version", "JOB_TIMESTAMP"], "entities": str(keys)})
    assert answer.status_code == 200, answer.text
    settings = answer.json()["settings"]
    assert settings["metadata_fields"] == ["JOB_TIMESTAMP", "MODEL_VERSION"]
    assert settings["entities"] == str(keys)
    bad = client.post("/api/workflows/wf/check", json={"metadata_fields": ["SCORED_AT"]})
    assert bad.status_code == 422
    assert bad.json()["errors"]["metadata_fields"] == (
        "Unknown metadata field 'SCORED_AT': choose from JOB_TIMESTAMP, ANCHOR_TIMESTAMP, "
        "MODEL_VERSION, JOB_ID (comma-separated).")


def test_check_reports_every_bad_field_with_the_cli_message(client: TestClient, store: Store) -> None:
    _workflow(client, store)
    answer = client.post("/api/workflows/wf/check", json={
        "anchor_time": "yesterday", "threshold": 2, "top_k": 3, "workers": 5,
        "output_types": ["scores"], "destination": {"path": "out/{{PARTITION}}x.parquet"},
        "entity_filter": "customers.nope = 1"})
    assert answer.status_code == 422
    errors = answer.json()["errors"]
    assert errors["anchor_time"] == ("The anchor time 'yesterday' is not an ISO 8601 date or datetime "
                                     "(e.g. 2024-02-27 or 2024-02-27T13:00:00Z).")
    assert errors["workers"] == "The number of parallel workers must be 1 to 4, not 5."
    assert errors["threshold"] == "The threshold must be between 0 and 1, not 2.0."
    assert "does not apply to this model's task" in errors["top_k"]
    assert "Unknown output type 'scores'" in errors["output_types"]
    assert "{{PARTITION}} must be the whole file name" in errors["destination"]
    assert "nope" in errors["entity_filter"]
    assert answer.json()["detail"] == errors["anchor_time"]


def test_check_shape_errors_and_destination_parts(client: TestClient, store: Store) -> None:
    _workflow(client, store)
    shape = client.post("/api/workflows/wf/check", json={"threshold": "abc", "workers": "two"})
    assert shape.status_code == 422 and set(shape.json()["errors"]) == {"threshold", "workers"}
    table = client.post("/api/workflows/wf/check", json={"destination": {"kind": "bigquery"}})
    assert set(table.json()["errors"]) == {"destination.connector", "destination.table"}
    s3 = client.post("/api/workflows/wf/check", json={"destination": {"kind": "s3"}})
    assert "s3://bucket" in s3.json()["errors"]["destination.path"]
    injected = client.post("/api/workflows/wf/check", json={
        "destination": {"kind": "snowflake", "connector": "wh", "table": "x; DROP TABLE y"}})
    assert injected.status_code == 422 and "is not allowed" in injected.json()["errors"]["destination"]
    assert client.post("/api/workflows/nope/check", json={}).status_code == 404


# ----------------------------------------------------------------------------------- jobs
@pytest.mark.slow
def test_run_follow_summary_download_and_conflicts(client: TestClient, store: Store) -> None:
    _workflow(client, store)
    job_id = _run(client, store, workers=2, output_types=["predictions", "embeddings"], threshold=0.3)
    view = wait_for(client, job_id)
    assert view["status"] == "succeeded", view["error"]
    assert view["progress"]["entities_done"] == view["progress"]["entities_total"] == 60
    workers = view["progress"]["workers"]  # they pull shards: each counts what it took
    assert len(workers) == 2 and sum(w["entities_total"] for w in workers) == 60
    assert all(w["entities_done"] == w["entities_total"] for w in workers)
    outputs = view["summary"]["outputs"]
    assert outputs["predictions"]["rows"] == 60 and outputs["predictions"]["histogram"]["column"] == "True_PROB"
    assert view["summary"]["backtest"]["metric"] == "auroc"
    assert outputs["embeddings"]["files"][0]["path"] == str(store.out / "wf_embeddings.parquet")
    assert client.get(f"/api/jobs/{job_id}/progress").json()["entities_done"] == 60
    assert client.get(f"/api/jobs/{job_id}/summary").json()["manifest"]["job_id"] == job_id
    assert [j["id"] for j in client.get("/api/jobs?workflow=wf").json()] == [job_id]
    assert client.get("/api/workflows/wf").json()["jobs"][0]["status"] == "succeeded"

    csv = client.get(f"/api/jobs/{job_id}/sample")
    assert csv.headers["content-type"].startswith("text/csv")
    assert f'filename="{job_id}_predictions_sample.csv"' in csv.headers["content-disposition"]
    frame = pd.read_csv(io.StringIO(csv.text))
    assert len(frame) == 60 and (frame["TARGET_PRED"] == (frame["True_PROB"] >= 0.3)).all()
    parquet = client.get(f"/api/jobs/{job_id}/sample?output=embeddings&format=parquet")
    table = pq.read_table(io.BytesIO(parquet.content))
    assert table.num_rows == 60 and table.column_names == ["ENTITY", "ANCHOR_TIMESTAMP", "EMBEDDINGS"]

    cancel = client.post(f"/api/jobs/{job_id}/cancel", json={})  # a finished job: 409, the CLI's message
    assert cancel.status_code == 409
    assert cancel.json()["detail"] == f"Job {job_id} is succeeded: there is nothing to cancel."
    resume = client.post(f"/api/jobs/{job_id}/resume", json={})
    assert resume.status_code == 409 and "already succeeded" in resume.json()["detail"]


@pytest.mark.slow
def test_jobs_at_once_keep_their_outputs_and_progress_apart(client: TestClient, store: Store) -> None:
    _workflow(client, store)
    first = _run(client, store, workers=2, destination={"path": str(store.out / "a.csv")})
    second = _run(client, store, workers=1, threshold=0.9, destination={"path": str(store.out / "b.parquet")})
    views = [wait_for(client, j) for j in (first, second)]
    assert [v["status"] for v in views] == ["succeeded", "succeeded"]
    assert [len(v["progress"]["workers"]) for v in views] == [2, 1]
    a = pd.read_csv(store.out / "a.csv")
    b = pq.read_table(store.out / "b.parquet").to_pandas()
    assert len(a) == len(b) == 60
    assert (b["TARGET_PRED"] == (b["True_PROB"] >= 0.9)).all() and a["TARGET_PRED"].sum() > b["TARGET_PRED"].sum()


def test_bad_settings_start_no_job(client: TestClient, store: Store) -> None:
    _workflow(client, store)
    answer = client.post("/api/workflows/wf/jobs", json={"anchor_time": "not a time", "workers": 2})
    assert answer.status_code == 422 and set(answer.json()["errors"]) == {"anchor_time"}
    assert client.get("/api/jobs").json() == []
    assert client.post("/api/workflows/nope/jobs", json={}).status_code == 404


@pytest.mark.slow
def test_cancel_then_resume(client: TestClient, store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RELPREDICT_FIXTURE_DELAY", "0.4")  # inherited by the detached runner
    _workflow(client, store)
    job_id = _run(client, store, workers=1, shard_size=10)
    wait_for(client, job_id, lambda v: v["progress"]["entities_done"] > 0 or v["finished"])
    cancelled = client.post(f"/api/jobs/{job_id}/cancel", json={})
    assert cancelled.status_code == 200
    assert wait_for(client, job_id)["status"] == "cancelled"
    view = client.get(f"/api/jobs/{job_id}").json()
    assert view["can_resume"] and not view["can_cancel"]
    monkeypatch.setenv("RELPREDICT_FIXTURE_DELAY", "0")
    assert client.post(f"/api/jobs/{job_id}/resume", json={}).status_code == 200
    done = wait_for(client, job_id)
    assert done["status"] == "succeeded" and done["summary"]["outputs"]["predictions"]["rows"] == 60


def test_unknown_jobs_are_404_with_the_cli_message(client: TestClient) -> None:
    for method, path in [("get", ""), ("get", "/progress"), ("get", "/summary"), ("get", "/sample"),
                         ("post", "/cancel"), ("post", "/resume")]:
        body = {"json": {}} if method == "post" else {}  # a script's post: JSON (see the guard)
        answer = getattr(client, method)(f"/api/jobs/j20990101000000abcdef{path}", **body)
        assert answer.status_code == 404, path
        assert answer.json()["detail"].startswith("No job 'j20990101000000abcdef' in the workspace")
    assert client.get("/api/jobs?workflow=nope").status_code == 404


def test_summary_and_sample_of_an_unfinished_job(client: TestClient, store: Store) -> None:
    _workflow(client, store)
    job, _ = create_job("wf", RawSettings(anchor_time=APRIL), store.ws)  # queued, never started
    summary = client.get(f"/api/jobs/{job.id}/summary")
    assert summary.status_code == 409 and "is queued" in summary.json()["detail"]
    sample = client.get(f"/api/jobs/{job.id}/sample")
    assert sample.status_code == 404 and "has no sample yet" in sample.json()["detail"]
    other = client.get(f"/api/jobs/{job.id}/sample?output=embeddings")
    assert other.status_code == 404 and "has no embeddings output" in other.json()["detail"]


# ----------------------------------------------------------------------------------- downloads
@pytest.mark.slow
def test_download_reaches_no_other_file(client: TestClient, store: Store) -> None:
    _workflow(client, store)
    job_id = _run(client, store)
    assert wait_for(client, job_id)["status"] == "succeeded"
    (store.ws.artifacts / "secret.txt").write_text("top secret")
    attempts = [
        "/api/jobs/..%2F..%2Fmetadata.db/sample",
        "/api/jobs/..%2Fsecret.txt/sample",
        "/api/jobs/%2Fetc%2Fpasswd/sample",
        "/api/jobs/..%5C..%5Cmetadata.db/sample",
        f"/api/jobs/{job_id}%2F..%2F..%2Fsecret.txt/sample",
        "/api/jobs/../../metadata.db/sample",
        f"/api/jobs/{job_id}/sample?output=../../secret.txt",
        f"/api/jobs/{job_id}/sample?output=/etc/passwd",
        f"/api/jobs/{job_id}/sample?format=../../secret.txt",
        f"/api/jobs/{job_id}/sample?format=/etc/passwd",
    ]
    for url in attempts:
        answer = client.get(url)
        assert answer.status_code in (404, 422), url
        assert "top secret" not in answer.text and "root:" not in answer.text, url
    assert client.get(f"/api/jobs/{job_id}/sample").status_code == 200


# ----------------------------------------------------------------------------------- recovery
@pytest.mark.slow
def test_server_start_marks_orphaned_jobs_resumable(store: Store) -> None:
    register(store.ws, "m", BINARY, store.graph_yaml)
    Workflow.create("wf", "m", store.ws)
    job, _ = create_job("wf", RawSettings(anchor_time=APRIL, output=str(store.out / "p.parquet")), store.ws)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    job_store.update_job(store.ws, job.id, JobStatus.RUNNING, runner_pid=int(dead.stdout),
                         runner_started=0.0, started_at=job_store.now_iso())
    with TestClient(create_app(store.ws), base_url=BASE) as client:
        view = client.get(f"/api/jobs/{job.id}").json()
        assert view["status"] == "failed" and view["error"] == ORPHAN_ERROR and view["can_resume"]
        assert client.app.state.recovered == [job.id]
        assert client.post(f"/api/jobs/{job.id}/resume", json={}).status_code == 200
        assert wait_for(client, job.id)["status"] == "succeeded"

