"""Backtests over time with a real trained model through the real loader: each anchor is a normal
job, its metric equals a separate job's at that anchor, and the baseline beside it is the model's
best baseline on the same entities (for a model that is its baseline, the two are equal)."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from relpredict.errors import ConfigError, SettingsError
from relpredict.graph.yaml_io import load_graph
from relpredict.jobs import Job, JobStatus, Workflow
from relpredict.jobs.backtests import anchors_between, parse_every
from relpredict.model.artifact import save_model
from relpredict.model.fit import TrainOptions, train_model
from tests.conftest import BINARY, Store

ANCHORS = ["2024-03-01T00:00:00", "2024-03-21T00:00:00", "2024-04-10T00:00:00", "2024-04-30T00:00:00"]


def test_anchors_and_steps() -> None:
    assert [a.isoformat() for a in anchors_between(datetime(2024, 3, 1), datetime(2024, 4, 30),
                                                   parse_every("20d"))] == ANCHORS
    assert anchors_between(datetime(2024, 1, 31), datetime(2024, 4, 30), parse_every("1mo"))[1:] == [
        datetime(2024, 2, 29), datetime(2024, 3, 29), datetime(2024, 4, 29)]
    assert parse_every("2w") == parse_every("14d") and parse_every("36h").kwds == {"hours": 36}
    with pytest.raises(ConfigError, match="give e.g. 12h, 30d, 2w or 3mo"):
        parse_every("0d")


@pytest.fixture()
def _real_loader(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RELPREDICT_MODEL_LOADER", raising=False)
    repo = str(Path(__file__).resolve().parents[2])
    monkeypatch.setenv("PYTHONPATH", repo + os.pathsep + os.environ.get("PYTHONPATH", ""))


def _workflow(store: Store, kind: str) -> tuple[Workflow, Any]:
    graph = load_graph(store.graph_yaml)
    model = train_model(graph, BINARY, TrainOptions(kind="lightgbm", max_eval=2, history_k=4))
    if kind == "baseline":  # the model predicts its baseline alone (what training picks when it wins)
        model.kind, model.baseline_weight = "baseline", 1.0
    save_model(store.ws, model, f"churn-{kind}", graph)
    return Workflow.create(f"churn-{kind}", f"churn-{kind}", store.ws), model


@pytest.mark.slow
def test_a_backtest_over_4_anchors_equals_4_separate_jobs(store: Store, _real_loader: None) -> None:
    wf, model = _workflow(store, "lightgbm")
    result = wf.backtest("2024-03-01", "2024-04-30", every="20d", threshold=0.4)
    assert [p.anchor for p in result.points] == ANCHORS and result.settings["job"] == {"threshold": 0.4}
    for point in result.points:
        alone = wf.run(anchor_time=point.anchor, threshold=0.4)
        assert alone.status() is JobStatus.SUCCEEDED, alone.record().error
        expected = alone.result().summary["backtest"]
        assert (point.metric, point.value, point.entities) == ("auroc", expected["value"], expected["entities"])
        assert Job(point.job_id, store.ws).result().summary["backtest"]["value"] == point.value
        assert point.baseline == model.baseline.name and 0.0 <= point.baseline_value <= 1.0
        assert point.error is None
    assert [b.id for b in wf.backtests()] == [result.id]


@pytest.mark.slow
def test_the_baseline_of_a_baseline_model_scores_what_the_model_scores(store: Store, _real_loader: None) -> None:
    wf, model = _workflow(store, "baseline")
    result = wf.backtest("2024-03-01", "2024-03-21", every="20d")
    assert [p.value for p in result.points] == pytest.approx([p.baseline_value for p in result.points])
    assert all(p.value is not None for p in result.points)


@pytest.mark.slow
def test_a_backtest_refuses_a_range_it_cannot_measure_before_any_job(store: Store, _real_loader: None) -> None:
    wf, _ = _workflow(store, "baseline")
    with pytest.raises(SettingsError) as err:
        wf.backtest("2024-05-01", "2024-06-20", every="10d")
    assert "The last anchor 2024-06-20 00:00:00 cannot be measured: the target window ends" in err.value.errors["to"]
    with pytest.raises(SettingsError) as err:
        wf.backtest("2024-03-01", "2024-04-01", anchor_time="2024-03-01")
    assert "leave --anchor-time out" in err.value.errors["anchor_time"]
    assert wf.jobs() == [] and wf.backtests() == []


@pytest.mark.slow
def test_workflow_backtest_command_prints_the_table(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI over the job tests' model double (no baseline kept: n/a beside the metric)."""
    from typer.testing import CliRunner

    from relpredict.cli.main import app

    store.workflow("binary", "churn")
    monkeypatch.setenv("COLUMNS", "200")
    home = ["--home", str(store.ws.home)]
    ran = CliRunner().invoke(app, ["workflow", "backtest", "churn", "--from", "2024-04-01", "--to", "2024-04-01", *home])
    assert ran.exit_code == 0, ran.output
    point = Workflow.get("churn", store.ws).backtests()[0].points[0]
    assert f"anchor 2024-04-01T00:00:00: job {point.job_id} auroc {point.value:.4f}" in ran.output
    assert "Model auroc" in ran.output and "Baseline auroc" in ran.output and "n/a" in ran.output
    listed = CliRunner().invoke(app, ["workflow", "backtests", "churn", *home]).output
    assert point.job_id in listed and "every the target window" in listed
    bad = CliRunner().invoke(app, ["workflow", "backtest", "churn", "--from", "2024-04-01", "--to", "2024-04-01",
                                   "--anchor-time", "2024-04-01", *home])
    assert bad.exit_code != 0  # no such option: a backtest sets the anchors


def test_each_anchor_gets_an_output_of_its_own() -> None:
    from relpredict.jobs import RawSettings
    from relpredict.jobs.backtests import point_output

    def out(output: str | None, at: datetime, **kw: Any) -> str | None:
        got = point_output(RawSettings(output=output, **kw), at)
        assert got.anchor_time == at
        return got.output

    day, noon = datetime(2024, 3, 1), datetime(2024, 3, 1, 12, 30)
    assert out("out/preds.parquet", day) == "out/preds_20240301.parquet"
    assert out("/data/preds", day, file_type="csv") == "/data/preds_20240301.csv"
    assert out("file:///data/preds.csv", noon) == "/data/preds_20240301T123000.csv"
    assert out("s3://b/run/{{PARTITION}}.parquet", day) == "s3://b/run_20240301/{{PARTITION}}.parquet"
    assert out("snowflake://wh/ANALYTICS.SCORES", day) == "snowflake://wh/ANALYTICS.SCORES_20240301"
    assert out("bigquery://bq/ds.scores", day) == "bigquery://bq/ds.scores_20240301"
    assert out(None, day) is None


@pytest.mark.slow
def test_a_backtest_with_an_output_keeps_every_anchors_rows(store: Store, tmp_path: Path) -> None:
    """Two anchors, one --output: two files, each holding its own anchor's predictions (before,
    the second job replaced the first one's file)."""
    import pandas as pd

    wf = store.workflow("binary", "churn")
    given = tmp_path / "bt" / "preds.csv"
    result = wf.backtest("2024-03-01", "2024-03-21", every="20d", output=str(given))
    assert result.settings["job"]["output"] == str(given) and not given.exists()
    for point, tag in zip(result.points, ("20240301", "20240321"), strict=True):
        job = Job(point.job_id, store.ws)
        assert job.status() is JobStatus.SUCCEEDED, job.record().error
        frame = pd.read_csv(given.with_name(f"preds_{tag}.csv"))
        assert len(frame) > 0
        assert set(pd.to_datetime(frame["ANCHOR_TIMESTAMP"])) == {pd.Timestamp(point.anchor)}
