"""Backtests over REST and on the workflow page: checked before any job (422 by field), run in the
background one job per anchor (the test double's jobs), shown as a table and a line chart."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient

from relpredict.web.charts import backtest_chart
from tests.conftest import Store


def test_bad_backtests_are_422_by_field_and_start_nothing(client: TestClient, store: Store) -> None:
    store.workflow("binary", "churn")
    url = "/api/workflows/churn/backtests"
    bad_step = client.post(url, json={"start": "2024-03-01", "end": "2024-04-01", "every": "often"})
    assert bad_step.status_code == 422
    assert bad_step.json()["errors"]["every"].startswith("The step between anchors 'often' is not")
    too_late = client.post(url, json={"start": "2024-05-01", "end": "2024-06-25", "every": "10d"})
    assert too_late.status_code == 422 and "cannot be measured" in too_late.json()["errors"]["to"]
    bad_from = client.post(url, json={"start": "March", "end": "2024-04-01"})
    assert bad_from.json()["errors"]["from"].startswith("--from: The anchor time 'March' is not an ISO 8601")
    assert client.get(url).json() == [] and client.get("/api/jobs").json() == []


@pytest.mark.slow
def test_a_backtest_runs_in_the_background_and_shows_on_the_page(client: TestClient, store: Store) -> None:
    store.workflow("binary", "churn")
    made = client.post("/api/workflows/churn/backtests",
                       json={"start": "2024-03-01", "end": "2024-03-31", "every": "30d"})
    assert made.status_code == 201, made.text
    backtest_id = made.json()["id"]
    assert made.json()["settings"]["anchors"] == ["2024-03-01T00:00:00", "2024-03-31T00:00:00"]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        points = client.get(f"/api/backtests/{backtest_id}").json()["points"]
        if len(points) == 2:
            break
        time.sleep(0.5)
    assert [p["anchor"] for p in points] == ["2024-03-01T00:00:00", "2024-03-31T00:00:00"], points
    for p in points:
        job = client.get(f"/api/jobs/{p['job_id']}/summary").json()["summary"]["backtest"]
        assert (p["metric"], p["value"]) == ("auroc", job["value"]) and p["value"] is not None
        assert p["baseline"] is None  # the test double keeps no baseline
    page = client.get("/workflows/churn").text
    assert f'id="backtest-{backtest_id}"' in page and f'id="backtest-chart-{backtest_id}"' in page


def test_the_backtest_chart_draws_both_lines_and_gaps() -> None:
    points = [{"anchor": "2024-03-01T00:00:00", "metric": "auroc", "value": 0.7, "baseline_value": 0.6},
              {"anchor": "2024-03-21T00:00:00", "metric": "auroc", "value": None, "baseline_value": 0.65},
              {"anchor": "2024-04-10T00:00:00", "metric": "auroc", "value": 0.8, "baseline_value": 0.62}]
    svg = str(backtest_chart(points, "c1"))
    assert svg.startswith('<svg class="chart" id="c1"') and svg.count("<polyline") == 1  # the baseline's; the model's gap leaves single dots
    assert svg.count('class="dot model"') == 2 and svg.count('class="dot baseline"') == 3
    assert "2024-03-21: auroc n/a (baseline 0.6500)" in svg and ">auroc</text>" in svg
    assert backtest_chart([{"anchor": "2024-03-01", "value": None, "baseline_value": None}], "c2") is None
    assert "&lt;b&gt;" in str(backtest_chart([{**points[0], "metric": "<b>"}], "c3"))  # text escaped
