"""``relpredict query check | labels`` and ``demo-data`` through the real console script."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.conftest import F1, F1_YAML, REPO, needs_f1

F1_GRAPH = str(F1_YAML)


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "relpredict.cli.main", *args],
                          capture_output=True, text=True, cwd=REPO, timeout=300)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo")
    result = run("demo-data", str(out), "--customers", "300", "--seed", "1")
    assert result.returncode == 0, result.stderr
    assert "transactions" in result.stdout
    return out


def test_query_check_on_demo(demo: Path) -> None:
    result = run("query", "check",
                 "PREDICT SUM(transactions.price, 0, 30, days) FOR EACH customers.customer_id",
                 "--graph", str(demo / "graph.yaml"))
    assert result.returncode == 0, result.stderr
    assert "regression" in result.stdout
    assert "Default anchor time" in result.stdout
    assert "mean" in result.stdout


def test_query_error_is_a_message_not_a_traceback(demo: Path) -> None:
    result = run("query", "check", "PREDICT COUNT(transactons.*, 0, 30, days) > 0 FOR EACH customers.customer_id",
                 "--graph", str(demo / "graph.yaml"))
    assert result.returncode == 1
    assert "Unknown table 'transactons'" in result.stderr
    assert "Did you mean 'transactions'" in result.stderr
    assert "~" in result.stderr
    assert "Traceback" not in result.stderr


def test_query_syntax_error_exit_code(demo: Path) -> None:
    result = run("query", "check", "PREDICT COUNT(transactions.*, 0, 30, days) > 0 FOR customers.customer_id",
                 "--graph", str(demo / "graph.yaml"))
    assert result.returncode == 1
    assert "Line 1" in result.stderr and "Traceback" not in result.stderr


def test_query_labels_static_and_bad_date(demo: Path, tmp_path: Path) -> None:
    out = tmp_path / "static.parquet"
    result = run("query", "labels", "PREDICT customers.age > 40 FOR EACH customers.customer_id",
                 "--graph", str(demo / "graph.yaml"), "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert pq.read_table(out).num_rows == 300
    bad = run("query", "labels", "PREDICT COUNT(transactions.*, 0, 30, days) > 0 FOR EACH customers.customer_id",
              "--graph", str(demo / "graph.yaml"), "--out", str(out), "--val-start", "2024-13-45")
    assert bad.returncode == 1
    assert "--val-start '2024-13-45' is not an ISO 8601" in bad.stderr


@needs_f1
def test_query_labels_f1_position(tmp_path: Path) -> None:
    out = tmp_path / "labels.parquet"
    result = run("query", "labels", "PREDICT AVG(results.positionOrder, 0, 60, days) FOR EACH drivers.driverId",
                 "--graph", F1_GRAPH, "--data", str(F1), "--val-start", "2005-01-01",
                 "--test-start", "2010-01-01", "--out", str(out))
    assert result.returncode == 0, result.stderr
    table = pq.read_table(out)
    assert table.column_names == ["ENTITY", "ANCHOR_TIMESTAMP", "TARGET", "SPLIT"]
    splits = table.column("SPLIT").to_pylist()
    assert (splits.count("train"), splits.count("val"), splits.count("test")) == (7453, 499, 760)


@needs_f1
def test_query_check_f1_dnf() -> None:
    result = run("query", "check",
                 "PREDICT COUNT(results.* WHERE results.statusId != 1, 0, 30, days) > 0 "
                 "FOR EACH drivers.driverId ASSUMING COUNT(results.*, 0, 30, days) > 0",
                 "--graph", F1_GRAPH, "--data", str(F1))
    assert result.returncode == 0, result.stderr
    assert "binary_classification" in result.stdout
    assert "2025-10-05 12:00:00" in result.stdout  # latest result


def test_query_starting_with_a_comment_line_is_the_query_not_an_option(demo: Path) -> None:
    """A query pasted with its leading ``-- comment`` line, before or after the options."""
    query = "-- churn, as pasted\nPREDICT COUNT(transactions.*, 0, 30, days) = 0 FOR EACH customers.customer_id"
    for args in (("query", "check", query, "--graph", str(demo / "graph.yaml")),
                 ("query", "check", "--graph", str(demo / "graph.yaml"), query)):
        result = run(*args)
        assert result.returncode == 0, result.stderr
        assert "binary_classification" in result.stdout
    result = run("query", "check", "--graph", str(demo / "graph.yaml"), "--grap", "x")
    assert result.returncode == 2 and "No such option: --grap" in result.stderr  # typos still told
