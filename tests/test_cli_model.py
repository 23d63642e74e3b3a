"""``relpredict train`` and ``relpredict models list | show`` through the real console script."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # the train command through the console script (~10 s a call)

REPO = Path(__file__).resolve().parents[1]
CHURN = ("PREDICT COUNT(transactions.*, 0, 30, days) = 0 FOR EACH customers.customer_id "
         "WHERE COUNT(transactions.*, -90, 0, days) > 0")


def run(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "relpredict.cli.main", *args],
                          capture_output=True, text=True, cwd=cwd, timeout=600)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo")
    assert run("demo-data", str(out), "--customers", "300", "--seed", "2").returncode == 0
    return out


def test_train_list_show(demo: Path, tmp_path: Path) -> None:
    home = str(tmp_path / "ws")
    # a relative graph path, from the store's parent folder: the artifact records absolute paths
    trained = run("train", "--graph", f"{demo.name}/graph.yaml", "--query", CHURN, "--name", "churn",
                  "--model", "lightgbm", "--max-eval", "3", "--home", home, cwd=demo.parent)
    assert trained.returncode == 0, trained.stderr
    assert "Trained churn@1 (lightgbm, binary_classification)" in trained.stdout
    assert "ECE" in trained.stdout and "auroc" in trained.stdout
    listed = run("models", "list", "--home", home)
    assert listed.returncode == 0 and "churn@1" in listed.stdout
    shown = run("models", "show", "churn", "--json", "--home", home)
    doc = json.loads(shown.stdout)
    assert doc["ref"] == "churn@1" and doc["query"] == CHURN and doc["kind"] == "lightgbm"
    assert set(doc["metrics"]) >= {"val", "test", "val_ece_before", "val_ece_after"}
    graph = json.loads((Path(home) / "artifacts" / "models" / "churn" / "v1" / "model.json").read_text())["info"]["graph"]
    assert graph["tables"]["customers"]["file"] == str(demo / "customers.parquet")


@pytest.mark.parametrize(("args", "message"), [
    (["--name", "bad name!"], "Model name 'bad name!' is not allowed"),
    (["--name", "m", "--model", "forest"], "Unknown model kind 'forest'; use one of auto, gnn, lightgbm."),
    (["--name", "m", "--epochs", "0"], "--epochs must be at least 1, not 0."),
])
def test_train_errors(demo: Path, tmp_path: Path, args: list[str], message: str) -> None:
    result = run("train", "--graph", str(demo / "graph.yaml"), "--query", CHURN, *args, "--home", str(tmp_path))
    assert result.returncode == 1
    assert message in result.stderr and "Traceback" not in result.stderr


def test_show_unknown_model(tmp_path: Path) -> None:
    result = run("models", "show", "nope", "--home", str(tmp_path))
    assert result.returncode == 1
    assert "Unknown model 'nope'" in result.stderr and "relpredict train" in result.stderr
