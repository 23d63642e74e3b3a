"""Fixtures of the API tests: the job tests' store and model test double, and a TestClient.

Jobs run for real: the API starts each one in a detached runner process, which loads the test
double through ``RELPREDICT_MODEL_LOADER`` (set by ``_loader_seam``, inherited by the runner).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from relpredict.api import create_app

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests.jobs.conftest import Store, _loader_seam, graph_yaml, store, ws  # noqa: E402, F401

FINISHED = ("succeeded", "failed", "cancelled")


@pytest.fixture()
def client(store: Store) -> Iterator[TestClient]:  # noqa: F811
    with TestClient(create_app(store.ws)) as test_client:
        yield test_client


def wait_for(client: TestClient, job_id: str, until: Callable[[dict[str, Any]], bool] | None = None,
             timeout: float = 60.0) -> dict[str, Any]:
    """Poll the job's view until ``until`` holds (default: the job finished)."""
    until = until or (lambda view: view["status"] in FINISHED)
    deadline = time.monotonic() + timeout
    while True:
        view = client.get(f"/api/jobs/{job_id}").json()
        if until(view) or time.monotonic() > deadline:
            return view
        time.sleep(0.1)
