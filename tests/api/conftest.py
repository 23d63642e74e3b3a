"""Fixtures of the API tests: the job store and model test double (``tests/conftest.py``), a client.

Jobs run for real: the API starts each one in a detached runner process, which loads the test
double through ``RELPREDICT_MODEL_LOADER`` (set by ``model_loader_seam``, inherited by the runner).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from relpredict.api import create_app
from tests.conftest import Store

FINISHED = ("succeeded", "failed", "cancelled")


@pytest.fixture(autouse=True)
def _loader_seam(model_loader_seam: None) -> None:
    """Every API test's jobs load the test double."""


BASE = "http://127.0.0.1:8000"  # a name the server answers to (TestClient's own is testserver)


@pytest.fixture()
def client(store: Store) -> Iterator[TestClient]:
    """A client of the app on 127.0.0.1 whose jobs may write under the test's folder."""
    with TestClient(create_app(store.ws, output_roots=[store.out.parent]), base_url=BASE) as test_client:
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
