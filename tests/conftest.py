"""What every test folder shares: the F1 data path, the CI flag, the job store and the model seam.

* **F1.** ``F1`` is the rel-f1 data folder: ``$RELPREDICT_F1_DATA``, else ``../shared/data/f1``
  beside the repository. A test marked ``needs_f1`` (the ``f1`` marker) is ``slow`` and skips
  when the folder is absent.
* **CI.** :func:`in_ci` is true when ``CI`` is set (to anything but ``0``/``false``/``no``): tests
  of emulators and of the browser then fail instead of skipping when their server cannot run.
* **The job store** (customers 1..60, products 100..107, about 6 transactions each, 2024-01-01 ..
  2024-06-29), written once per session as Parquet plus a graph YAML (``graph_yaml``), a fresh
  workspace per test (``ws``) and :class:`Store`, which registers fixture models and workflows.
* **The model-loader seam.** Jobs see the model only through ``RELPREDICT_MODEL_LOADER`` (an import
  string ``module:function``; default ``relpredict.model.artifact:load_model``). The
  ``model_loader_seam`` fixture points it at the test double (``tests/jobs/fixture_model.py``) and
  puts the repository on ``PYTHONPATH`` so that worker and runner processes import it too. Folders
  whose jobs use the double turn it on for every test (``tests/jobs``, ``tests/api``, the S3 /
  Snowflake / BigQuery sink tests).

Test tiers: ``slow`` marks model training, job runs with worker processes, emulator servers
(moto, fakesnow, bqemulator: a test using one of their fixtures is slow by that alone), the
browser and the F1 data; ``make test-fast`` runs the rest (``pytest -m "not slow"``, under two
minutes), ``make test`` and CI run everything.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from relpredict.jobs import Workflow
from relpredict.workspace import Workspace
from tests.jobs.fixture_model import LOADER, register

REPO = Path(__file__).resolve().parents[1]
pytest.register_assert_rewrite("tests.sinks.contract")  # its asserts explain themselves too

# ----------------------------------------------------------------------------------- F1 and CI
F1_YAML = REPO / "examples" / "f1" / "graph.yaml"
F1 = Path(os.environ.get("RELPREDICT_F1_DATA") or REPO.parent / "shared" / "data" / "f1")
HAS_F1 = (F1 / "races.csv").is_file() and (F1 / "results.csv").is_file()
needs_f1 = pytest.mark.f1


def in_ci() -> bool:
    """Whether the tests run in CI (``CI`` set, and not to ``0``, ``false`` or ``no``)."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


# ----------------------------------------------------------------------------------- tiers
SERVER_FIXTURES = frozenset({"moto", "sf_server", "bq_server"})
# Slow tests in folders other engineers are changing: marked here until their files say so.
_SLOW_TESTS = ("tests/model/test_train.py::", "tests/features/test_f1_features.py::",
               "tests/features/test_lookahead.py::test_rows_after_the_anchor_never_change_a_feature")


@pytest.hookimpl(tryfirst=True)  # before ``-m`` deselects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        f1 = item.get_closest_marker("f1") is not None
        if (f1 or SERVER_FIXTURES & set(getattr(item, "fixturenames", ()))
                or item.nodeid.startswith(_SLOW_TESTS)):
            item.add_marker(pytest.mark.slow)
        if f1 and not HAS_F1:
            item.add_marker(pytest.mark.skip(reason=f"F1 data folder {F1} is absent "
                                             "(RELPREDICT_F1_DATA points elsewhere)"))


# ----------------------------------------------------------------------------------- job store
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


def write_store(folder: Path) -> Path:
    """Write the job store's Parquet files and graph YAML into ``folder``; return the YAML."""
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
    return write_store(tmp_path_factory.mktemp("store"))


@pytest.fixture()
def model_loader_seam(monkeypatch: pytest.MonkeyPatch) -> None:
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

