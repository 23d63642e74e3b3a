"""Fixtures for job tests: a small store on disk, a workspace, fixture models and workflows.

The job machinery sees the model only through the loader seam (``RELPREDICT_MODEL_LOADER``, an
import string ``module:function``; default ``relpredict.model.artifact:load_model``). To run these
tests against real trained models, change one fixture: make ``_loader_seam`` delete the variable
(so jobs use the real loader) and make ``Store.workflow`` train and save a small model
(``train_model`` + ``save_model``, LightGBM is quick) under the name ``m-<kind>`` instead of calling
``register``. Tests that recompute the double's scores by hand (``expected_probability``,
``key_hash``) or use its knobs (``RELPREDICT_FIXTURE_DELAY`` / ``_LOG`` / ``_FAIL_ON``) stay on the
double; the rest (schemas, worker invariance, manifest, sample, backtest against labels) hold for
any model.

The store (customers 1..60, products 100..107, about 6 transactions each, 2024-01-01 .. 2024-06-29)
is written once per session as Parquet plus a graph YAML.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from relpredict.jobs import Workflow
from relpredict.workspace import Workspace

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests.jobs.fixture_model import LOADER, register  # noqa: E402

N_CUSTOMERS = 60
START = datetime(2024, 1, 1)
BINARY = "PREDICT COUNT(transactions.*, 0, 30, days) > 0 FOR EACH customers.customer_id"
QUERIES = {
    "binary": BINARY,
    "regression": "PREDICT SUM(transactions.price, 0, 30, days) FOR EACH customers.customer_id",
    "multiclass": "PREDICT FIRST(transactions.channel, 0, 30, days) FOR EACH customers.customer_id",
    "multilabel": "PREDICT LIST_DISTINCT(transactions.product_id, 0, 30, days) CLASSIFY "
                  "FOR EACH customers.customer_id",
    "link": "PREDICT LIST_DISTINCT(transactions.product_id, 0, 30, days) RANK TOP 3 "
            "FOR EACH customers.customer_id",
    "static": "PREDICT customers.age FOR EACH customers.customer_id",
}

GRAPH_YAML = """\
name: fixture_store
tables:
  customers:
    file: customers.parquet
    primary_key: customer_id
    time_column: created_at
  products:
    file: products.parquet
    primary_key: product_id
  transactions:
    file: transactions.parquet
    primary_key: transaction_id
    foreign_keys: {customer_id: customers, product_id: products}
    time_column: ts
"""


def _write_store(folder: Path) -> Path:
    rng = np.random.default_rng(7)
    created = [START + timedelta(days=int(d)) for d in rng.integers(0, 40, N_CUSTOMERS)]
    pq.write_table(pa.table({
        "customer_id": pa.array(np.arange(1, N_CUSTOMERS + 1), pa.int64()),
        "age": pa.array(rng.integers(18, 80, N_CUSTOMERS).astype(np.float64)),
        "status": pa.array(rng.choice(["ACTIVE", "INACTIVE"], N_CUSTOMERS).tolist()),
        "created_at": pa.array(created, pa.timestamp("us")),
    }), folder / "customers.parquet")
    pq.write_table(pa.table({"product_id": pa.array(np.arange(100, 108), pa.int64()),
                             "category": pa.array(["a", "b"] * 4)}), folder / "products.parquet")
    n_tx = N_CUSTOMERS * 6
    cust = rng.integers(1, N_CUSTOMERS + 1, n_tx)
    ts = [created[c - 1] + timedelta(days=int(d), hours=int(hh))
          for c, d, hh in zip(cust, rng.integers(0, 140, n_tx), rng.integers(0, 24, n_tx))]
    pq.write_table(pa.table({
        "transaction_id": pa.array(np.arange(n_tx), pa.int64()),
        "customer_id": pa.array(cust, pa.int64()),
        "product_id": pa.array(rng.integers(100, 108, n_tx), pa.int64()),
        "price": pa.array(np.round(rng.uniform(1, 100, n_tx), 2)),
        "channel": pa.array(rng.choice(["app", "store", "web"], n_tx).tolist()),
        "ts": pa.array(ts, pa.timestamp("us")),
    }), folder / "transactions.parquet")
    (folder / "graph.yaml").write_text(GRAPH_YAML)
    return folder / "graph.yaml"


@pytest.fixture(scope="session")
def graph_yaml(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _write_store(tmp_path_factory.mktemp("store"))


@pytest.fixture(autouse=True)
def _loader_seam(monkeypatch: pytest.MonkeyPatch) -> None:
    """Jobs load the test double; subprocesses find ``tests.jobs`` through PYTHONPATH."""
    monkeypatch.setenv("RELPREDICT_MODEL_LOADER", LOADER)
    path = os.environ.get("PYTHONPATH", "")
    monkeypatch.setenv("PYTHONPATH", f"{REPO}{os.pathsep}{path}" if path else str(REPO))


@pytest.fixture()
def ws(tmp_path: Path) -> Workspace:
    return Workspace.open(tmp_path / "ws")


@dataclass
class Store:
    ws: Workspace
    graph_yaml: Path
    out: Path

    def workflow(self, kind: str = "binary", name: str | None = None) -> Workflow:
        """A workflow of a fresh fixture model for ``kind`` (a key of ``QUERIES``)."""
        name = name or kind
        register(self.ws, f"m-{name}", QUERIES[kind], self.graph_yaml)
        return Workflow.create(name, f"m-{name}", self.ws)


@pytest.fixture()
def store(ws: Workspace, graph_yaml: Path, tmp_path: Path) -> Iterator[Store]:
    yield Store(ws, graph_yaml, tmp_path / "out")


MakeWorkflow = Callable[[str], Workflow]
