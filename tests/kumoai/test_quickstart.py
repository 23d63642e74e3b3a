"""examples/kumo_quickstart.py, Kumo's quickstart with only its imports changed, runs end to end on
a small demo store on S3 (moto) with a LightGBM model (run mode fast), and its job's outputs equal
``relpredict job run``'s for the same model and settings."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import relpredict.kumoai as kumo
from relpredict.demo.generator import generate
from relpredict.errors import ConfigError
from relpredict.jobs import Workflow
from relpredict.workspace import Workspace
from tests.servers import MotoServer, running_moto

pytestmark = pytest.mark.slow  # a server, a trained model, two jobs with workers

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "examples" / "kumo_quickstart.py"
CLI = Path(sys.executable).with_name("relpredict")


@pytest.fixture(scope="module")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    with running_moto(tmp_path_factory.mktemp("moto")) as server:
        yield server


@pytest.fixture(scope="module")
def ran(moto: MotoServer, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """The demo store on S3, the script run once against it; its workspace, env and output."""
    root = tmp_path_factory.mktemp("quickstart")
    generate(root / "demo", customers=150, seed=0)
    s3 = moto.client()
    s3.create_bucket(Bucket="demo")  # type: ignore[attr-defined]
    for table in ("customers", "products", "transactions", "returns"):
        s3.upload_file(str(root / "demo" / f"{table}.parquet"), "demo", f"store/{table}.parquet")  # type: ignore[attr-defined]
    env = {**os.environ, "AWS_ENDPOINT_URL": moto.endpoint, "AWS_ACCESS_KEY_ID": "testing",
           "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "us-east-1",
           "RELPREDICT_HOME": str(root / "ws"), "DEMO_STORE": "s3://demo/store/",
           "OUTPUT_ROOT": str(root / "sdk"), "RUN_MODE": "fast", "KUMO_URL": "http://127.0.0.1:8000/api"}
    env.pop("RELPREDICT_MODEL_LOADER", None)
    done = subprocess.run([sys.executable, str(SCRIPT)], env=env, capture_output=True, text=True,
                          timeout=600, cwd=root)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return {"root": root, "env": env, "stdout": done.stdout}


def test_the_quickstart_prints_what_kumo_s_does(ran: dict) -> None:
    out = ran["stdout"]
    assert "Task type: TaskType.BINARY_CLASSIFICATION" in out
    assert "Training metrics: {'val': {'auroc':" in out
    assert "Tracking URL: http://127.0.0.1:8000/jobs/j" in out
    assert "Batch prediction job summary: BatchPredictionJobSummary(num_entities_predicted=" in out


def test_its_outputs_equal_relpredict_job_run(ran: dict) -> None:
    root: Path = ran["root"]  # type: ignore[assignment]
    (workflow,) = Workflow.list(Workspace.open(root / "ws"))
    cli = subprocess.run([str(CLI), "job", "run", workflow.name, "--workers", "2", "--threshold", "0.5",
                          "--output-types", "predictions,embeddings", "--output", str(root / "cli" / "churn.parquet")],
                         env=ran["env"], capture_output=True, text=True, timeout=600, cwd=root)
    assert cli.returncode == 0, cli.stdout[-3000:] + cli.stderr[-3000:]
    for output in ("predictions", "embeddings"):
        sdk = pq.read_table(root / "sdk" / f"churn_predictions_{output}.parquet").sort_by("ENTITY")
        job = pq.read_table(root / "cli" / f"churn_{output}.parquet").sort_by("ENTITY")
        assert sdk.num_rows == job.num_rows > 40
        assert sdk.column_names == job.column_names
        for col in sdk.column_names:
            a, b = sdk.column(col), job.column(col)
            if pa.types.is_floating(a.type) or pa.types.is_list(a.type):
                np.testing.assert_array_equal(np.asarray(a.to_pylist()), np.asarray(b.to_pylist()))
            else:
                assert a.to_pylist() == b.to_pylist(), col


def test_a_trained_model_predicts_only_on_its_own_graph(ran: dict) -> None:
    root: Path = ran["root"]  # type: ignore[assignment]
    kumo.init(home=root / "ws")
    (workflow,) = Workflow.list(Workspace.open(root / "ws"))
    trainer = kumo.Trainer.load(workflow.model)
    local = kumo.S3Connector(root_dir=str(root / "demo"))  # the same tables, read from local files
    graph = kumo.Graph(
        tables={"customers": kumo.Table.from_source_table(local["customers"], primary_key="customer_id",
                                                          time_column="signup_time"),
                "transactions": kumo.Table.from_source_table(local["transactions"], primary_key="transaction_id",
                                                             time_column="timestamp")},
        edges=[kumo.Edge("transactions", "customer_id", "customers")])
    pquery = kumo.PredictiveQuery(graph=graph, query="PREDICT COUNT(transactions.*, 0, 30, days) = 0 "
                                  "FOR EACH customers.customer_id")
    with pytest.raises(ConfigError, match="predicting on a graph other than the model's training graph"):
        trainer.predict(graph=graph, prediction_table=pquery.generate_prediction_table())
