"""The workflow and job commands, through the console script and in process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from relpredict.cli.main import app
from relpredict.jobs import Job, JobStatus
from tests.conftest import Store

RELPREDICT = str(Path(sys.executable).with_name("relpredict"))


@pytest.fixture()
def cli(store: Store, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("RELPREDICT_HOME", str(store.ws.home))
    monkeypatch.setenv("COLUMNS", "200")
    runner = CliRunner()

    def invoke(*args: str) -> str:
        result = runner.invoke(app, list(args), catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    return invoke


def test_workflow_create_list_show(store: Store, cli) -> None:
    from tests.jobs.fixture_model import register

    register(store.ws, "churn", "PREDICT COUNT(transactions.*, 0, 30, days) > 0 FOR EACH customers.customer_id",
             store.graph_yaml)
    assert "Created workflow weekly of model churn." in cli("workflow", "create", "weekly", "--model", "churn")
    assert "weekly" in cli("workflow", "list") and "churn" in cli("workflow", "show", "weekly")


@pytest.mark.slow
def test_job_run_prints_outputs_sample_and_summary_then_download(store: Store, cli, tmp_path: Path) -> None:
    store.workflow("binary", name="wf")
    out = cli("job", "run", "wf", "--workers", "1", "--shard-size", "20", "--anchor-time", "2024-04-01",
              "--output", str(store.out / "p.csv"), "--output-types", "predictions,embeddings")
    assert "Entities predicted 60" in out and "predictions: 60 rows" in out
    assert str(store.out / "p_embeddings.csv") in out and "True_PROB distribution" in out
    assert "Backtest auroc = " in out and "over 60 entities" in out
    job_id = out.split("Job ", 1)[1].split(" ", 1)[0]
    job = Job(job_id, store.ws)
    assert job.status() is JobStatus.SUCCEEDED
    assert "Status  succeeded   stage done" in cli("job", "status", job_id)
    assert "Entities predicted 60" in cli("job", "summary", job_id)
    assert job_id in cli("job", "list", "--workflow", "wf")
    cli("job", "download", job_id, "--out", str(tmp_path / "e.csv"), "--output", "embeddings")
    sample = pd.read_csv(tmp_path / "e.csv")
    assert sample.columns.tolist() == ["ENTITY", "ANCHOR_TIMESTAMP", "EMBEDDINGS"] and len(sample) == 60


def test_dry_run_prints_estimates(store: Store, cli) -> None:
    store.workflow("regression", name="wf")
    out = cli("job", "run", "wf", "--dry-run", "--workers", "2", "--output", str(store.out / "p.parquet"))
    assert "Dry run: settings are valid; nothing was written." in out
    assert "Entities           60 in 2 shard(s)" in out and "Estimated run time" in out
    assert not store.out.exists()


@pytest.mark.slow
def test_detach_prints_the_id_and_errors_exit_1(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    store.workflow("binary", name="wf")
    env_home = str(store.ws.home)
    monkeypatch.setenv("RELPREDICT_HOME", env_home)
    done = subprocess.run([RELPREDICT, "job", "run", "wf", "--detach", "--output", str(store.out / "p.parquet")],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    job = Job(done.stdout.strip(), store.ws)
    assert job.wait(timeout=60) is JobStatus.SUCCEEDED
    bad = subprocess.run([RELPREDICT, "job", "run", "wf", "--workers", "5"], capture_output=True, text=True)
    assert bad.returncode == 1
    assert bad.stderr.strip() == "Error: The number of parallel workers must be 1 to 4, not 5."
