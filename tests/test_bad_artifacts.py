"""Bad artifacts and changed data through the CLI and the REST API (issue 14, item 4).

A real model (a small GNN + LightGBM blend on a 200-customer demo store) is trained once; each
case damages one file of its artifact (``model.json`` holding ``[]``, cut, a bad calibration, a
shortened feature list, cut or garbled GNN weights) or changes the data it was trained on (a
column dropped, a type changed), then restores it. Every case must exit non-zero / answer 4xx
with a message naming the artifact file (or the table, column and types) and what to do, print
no traceback and record no job.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient

from relpredict.api import create_app
from relpredict.demo.generator import generate
from relpredict.graph.yaml_io import load_graph
from relpredict.jobs import Workflow
from relpredict.jobs import store as job_store
from relpredict.model.artifact import save_model
from relpredict.model.fit import TrainOptions, train_model
from relpredict.model.gnn_config import GNNConfig
from relpredict.model.schema import type_kind
from relpredict.workspace import Workspace
from tests.cli_helpers import run_cli

pytestmark = pytest.mark.slow  # trains a model

CHURN = ("PREDICT COUNT(transactions.*, 0, 30, days) = 0 FOR EACH customers.customer_id "
         "WHERE COUNT(transactions.*, -90, 0, days) > 0")
SMALL = GNNConfig(channels=8, fanout=(4, 2), max_epochs=1, batch_size=64, max_steps_per_epoch=2)
BASE = "http://127.0.0.1:8000"


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("bad_artifacts")
    generate(root / "store", customers=200, seed=3)
    graph = load_graph(root / "store" / "graph.yaml")
    ws = Workspace.open(root / "ws")
    model = train_model(graph, CHURN, TrainOptions(kind="auto", gnn=SMALL, max_eval=3))
    save_model(ws, model, "m", graph)
    graph.close()
    Workflow.create("wf", "m", ws)
    folder = ws.artifacts / "models" / "m" / "v1"
    assert (folder / "gnn.pt").is_file() and json.loads((folder / "model.json").read_text())["booster"]
    yield {"ws": ws, "folder": folder, "data": root / "store"}


def _edit_doc(change: Callable[[dict[str, Any]], None]) -> Callable[[Path], None]:
    def damage(folder: Path) -> None:
        doc = json.loads((folder / "model.json").read_text())
        change(doc)
        (folder / "model.json").write_text(json.dumps(doc))
    return damage


def _cut(name: str, keep: float) -> Callable[[Path], None]:
    def damage(folder: Path) -> None:
        data = (folder / name).read_bytes()
        (folder / name).write_bytes(data[:int(len(data) * keep)])
    return damage


ARTIFACT_CASES: list[tuple[str, Callable[[Path], None], str, str]] = [
    ("model.json holding []", lambda f: (f / "model.json").write_text("[]"), "model.json", "JSON list"),
    ("model.json cut short", _cut("model.json", 0.5), "model.json", "unreadable"),
    ("model.json empty", lambda f: (f / "model.json").write_text(""), "model.json", "unreadable"),
    ("model.json of binary garbage", lambda f: (f / "model.json").write_bytes(b"\xff\xfe\x00garbage"),
     "model.json", "unreadable"),
    ("a calibration that is no pair of numbers",
     _edit_doc(lambda d: d.update(platt={"a": "NaN", "b": 0.0})), "model.json", "calibration"),
    ("a calibration with a missing number", _edit_doc(lambda d: d.update(platt={"a": 1.0})),
     "model.json", "KeyError"),
    ("a calibration of the wrong type", _edit_doc(lambda d: d.update(platt=[1, 2])), "model.json", "damaged"),
    ("a shortened feature list",
     _edit_doc(lambda d: d["booster"].update(features=d["booster"]["features"][:-3])), "model.json",
     "features"),
    ("a garbled LightGBM model", _edit_doc(lambda d: d["booster"].update(models=["not a model"])),
     "model.json", "LightGBM"),
    ("a missing section", _edit_doc(lambda d: d.pop("codec")), "model.json", "KeyError"),
    ("GNN weights cut short", _cut("gnn.pt", 0.4), "gnn.pt", "damaged"),
    ("GNN weights of garbage", lambda f: (f / "gnn.pt").write_bytes(b"garbage" * 100), "gnn.pt", "damaged"),
    ("GNN weights missing", lambda f: (f / "gnn.pt").unlink(), "gnn.pt", "damaged"),
]


_cli = run_cli


@pytest.fixture()
def restore(trained: dict[str, Any], tmp_path: Path) -> Iterator[dict[str, Any]]:
    """Put the artifact and the data back as they were after each case."""
    keep = tmp_path / "keep"
    shutil.copytree(trained["folder"], keep / "artifact")
    shutil.copytree(trained["data"], keep / "data")
    yield trained
    shutil.rmtree(trained["folder"])
    shutil.copytree(keep / "artifact", trained["folder"])
    for path in (keep / "data").iterdir():
        shutil.copy2(path, trained["data"] / path.name)


def _refused(env: dict[str, Any], capsys: pytest.CaptureFixture[str], *names: str) -> None:
    """job run --dry-run (CLI) and a job through the REST API: refused, naming each of ``names``."""
    ws: Workspace = env["ws"]
    home = str(ws.home)
    code, text = _cli(["job", "run", "wf", "--dry-run", "--home", home], capsys)
    assert code != 0, text
    flat = " ".join(text.split())
    for name in names:
        assert name in flat, flat
    assert "Traceback" not in text and 'File "' not in text, text
    client = TestClient(create_app(ws, output_roots=[ws.home / "outputs"]), base_url=BASE)
    answer = client.post("/api/workflows/wf/jobs", json={})
    assert 400 <= answer.status_code < 500, answer.text
    assert all(name in answer.json()["detail"] for name in names), answer.text
    assert job_store.list_jobs(ws) == []


@pytest.mark.parametrize(("damage", "file", "what"), [c[1:] for c in ARTIFACT_CASES],
                         ids=[c[0] for c in ARTIFACT_CASES])
def test_a_damaged_artifact_names_its_file_and_says_retrain(
        restore: dict[str, Any], capsys: pytest.CaptureFixture[str], damage: Callable[[Path], None],
        file: str, what: str) -> None:
    damage(restore["folder"])
    _refused(restore, capsys, str(restore["folder"] / file), what, "Retrain the model")
    code, text = _cli(["models", "show", "m", "--home", str(restore["ws"].home)], capsys)
    assert code != 0 and "Retrain" in text and "Traceback" not in text, text


def _rewrite(path: Path, change: Callable[[pa.Table], pa.Table]) -> None:
    pq.write_table(change(pq.read_table(path)), path)


def test_a_dropped_column_is_named_before_scoring(restore: dict[str, Any],
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    _rewrite(restore["data"] / "customers.parquet", lambda t: t.drop_columns(["age"]))
    _refused(restore, capsys, "column customers.age (BIGINT) is gone", "retrain the model")


def test_a_changed_type_names_table_column_old_and_new_type(restore: dict[str, Any],
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    def as_text(t: pa.Table) -> pa.Table:
        i = t.schema.get_field_index("age")
        return t.set_column(i, "age", pc.cast(t.column("age"), pa.string()))

    _rewrite(restore["data"] / "customers.parquet", as_text)
    _refused(restore, capsys, "column customers.age was BIGINT and is now VARCHAR")


def test_a_type_change_within_its_kind_is_no_change() -> None:
    assert type_kind("INTEGER") == type_kind("BIGINT") == "integer"
    assert type_kind("TIMESTAMP_NS") == type_kind("TIMESTAMP WITH TIME ZONE") == "time"
    assert type_kind("DOUBLE") == type_kind("DECIMAL(18,3)") == "number"
    assert type_kind("VARCHAR") != type_kind("BIGINT")


def test_column_names_with_json_characters_train_and_read_back_in_models_show(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    generate(tmp_path / "store", customers=200, seed=3)
    odd = 'reg"ion, a:[b]{c}'
    _rewrite(tmp_path / "store" / "customers.parquet",
             lambda t: t.rename_columns([odd if c == "region" else c for c in t.column_names]))
    graph = load_graph(tmp_path / "store" / "graph.yaml")
    model = train_model(graph, CHURN, TrainOptions(kind="lightgbm", max_eval=3))
    assert model.booster is not None
    assert any(odd in name for name, _ in model.booster.importance(100))
    ws = Workspace.open(tmp_path / "ws")
    save_model(ws, model, "odd", graph)
    graph.close()
    code, text = _cli(["models", "show", "odd", "--home", str(ws.home)], capsys)
    assert code == 0 and "Traceback" not in text, text
    code, text = _cli(["models", "show", "odd", "--json", "--home", str(ws.home)], capsys)
    shown = [name for name, _ in json.loads(text)["info"]["lightgbm_top_features"]]
    assert shown == [name for name, _ in model.booster.importance()]  # the readable names
    assert all(" " in n or "." in n for n in shown)  # no LightGBM f0, f1, ... leaked
