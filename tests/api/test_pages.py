"""The server-rendered pages: lists, the workflow page with its dialog, the job page, errors."""

from __future__ import annotations

import html
import re

from fastapi.testclient import TestClient

from relpredict.jobs import RawSettings, create_job
from tests.conftest import BINARY, QUERIES, Store
from tests.jobs.fixture_model import register


def _dialog_fields(html: str) -> set[str]:
    dialog = html[html.index('<dialog id="job-dialog"'):html.index("</dialog>")]
    return set(re.findall(r'<(?:input|select)[^>]*\bid="([^"]+)"', dialog))


def test_lists_and_create_form(client: TestClient, store: Store) -> None:
    assert "No model is trained yet" in client.get("/models").text
    register(store.ws, "churn", BINARY, store.graph_yaml)
    assert "churn@1" in client.get("/models").text
    page = client.get("/workflows").text
    assert 'id="workflow-form"' in page and '<option value="churn">' in page
    client.post("/api/workflows", json={"name": "weekly", "model": "churn"})
    assert 'href="/workflows/weekly"' in client.get("/workflows").text
    assert client.get("/", follow_redirects=False).headers["location"] == "/workflows"


def test_workflow_page_dialog_offers_this_tasks_settings(client: TestClient, store: Store) -> None:
    expected = {"binary": {"threshold"}, "regression": set(), "link": {"top_k"},
                "multilabel": {"threshold", "num_classes"}}
    common = {"anchor_time", "workers", "dest_path", "dest_file_type", "dest_overwrite", "dest_connector", "dest_table",
              "out-predictions", "out-embeddings", "entity_filter", "entities", "shard_size", "dask",
              "meta-JOB_TIMESTAMP", "meta-MODEL_VERSION", "meta-JOB_ID",
              "partition_size_mb", "sample_cap_mb"}
    for kind, task_fields in expected.items():
        register(store.ws, f"m-{kind}", QUERIES[kind], store.graph_yaml)
        client.post("/api/workflows", json={"name": kind, "model": f"m-{kind}"})
        page = client.get(f"/workflows/{kind}").text
        assert "Run Batch Prediction Job" in page and html.escape(QUERIES[kind], quote=False) in page
        assert _dialog_fields(page) == common | task_fields, kind
        assert "{{PARTITION}}" in page and "(default: the latest data)" in page


def test_static_query_has_no_anchor_time(client: TestClient, store: Store) -> None:
    register(store.ws, "m-static", QUERIES["static"], store.graph_yaml)
    client.post("/api/workflows", json={"name": "static", "model": "m-static"})
    page = client.get("/workflows/static").text
    assert 'id="anchor_time" name="anchor_time" disabled' in page


def test_job_page_embeds_the_live_view(client: TestClient, store: Store) -> None:
    register(store.ws, "m", BINARY, store.graph_yaml)
    client.post("/api/workflows", json={"name": "wf", "model": "m"})
    job, _ = create_job("wf", RawSettings(anchor_time="2024-04-01"), store.ws)  # queued, not started
    job_id = job.id
    page = client.get(f"/jobs/{job_id}").text
    assert f'<span id="job-id">{job_id}</span>' in page and '"status": "queued"' in page
    assert 'id="progress-fill"' in page and "/static/job.js" in page
    assert job_id in client.get("/workflows/wf").text


def test_unknown_pages_are_404_pages_with_the_message(client: TestClient) -> None:
    for path, message in [("/workflows/nope", "No workflow named &#39;nope&#39;"),
                          ("/jobs/nope", "No job &#39;nope&#39;")]:
        answer = client.get(path)
        assert answer.status_code == 404 and "text/html" in answer.headers["content-type"]
        assert message in answer.text


def test_static_files_are_served(client: TestClient) -> None:
    for name in ("app.css", "common.js", "workflow.js", "workflows.js", "job.js"):
        assert client.get(f"/static/{name}").status_code == 200, name
    assert client.get("/static/../api/app.py").status_code == 404
