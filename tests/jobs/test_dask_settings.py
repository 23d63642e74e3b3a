"""The ``dask`` setting: addresses accepted and refused, and jobs without Dask installed."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from relpredict.errors import ConfigError, SettingsError
from relpredict.jobs import JobStatus
from relpredict.jobs.settings import parse_dask_address
from tests.conftest import Store


@pytest.mark.parametrize(("given", "kept"), [
    ("local", "local"), (" LOCAL ", "local"), ("tcp://10.0.0.5:8786", "tcp://10.0.0.5:8786"),
    ("10.0.0.5:8786", "tcp://10.0.0.5:8786"), ("tls://sched.example:8786/", "tls://sched.example:8786"),
    (None, None), ("  ", None)])
def test_dask_addresses_kept(given: str | None, kept: str | None) -> None:
    assert parse_dask_address(given) == kept


@pytest.mark.parametrize(("given", "says"), [
    ("tcp://alice:secret@10.0.0.5:8786", "holds a user name or password"),
    ("http://10.0.0.5:8786", "http:// is not a Dask address"),
    ("tcp://10.0.0.5", "needs a host and a port"), ("tcp://10.0.0.5:0", "needs a host and a port"),
    ("tcp://:8786", "needs a host and a port"), ("tcp://h:8786/path", "needs a host and a port")])
def test_dask_addresses_refused(given: str, says: str) -> None:
    with pytest.raises(ConfigError, match=says) as err:
        parse_dask_address(given)
    assert "secret" not in str(err.value)


def test_a_bad_dask_address_is_a_setting_error_and_no_job(store: Store) -> None:
    wf = store.workflow("binary", name="wf")
    with pytest.raises(SettingsError) as err:
        wf.run(dask="tcp://u:pw@127.0.0.1:1")
    assert set(err.value.errors) == {"dask"} and "pw" not in str(err.value)
    assert wf.jobs() == []


def test_the_rest_api_takes_and_checks_a_dask_scheduler(store: Store) -> None:
    from fastapi.testclient import TestClient

    from relpredict.api import create_app

    store.workflow("binary", name="wf")
    with TestClient(create_app(store.ws), base_url="http://127.0.0.1:8000") as client:
        bad = client.post("/api/workflows/wf/check", json={"dask": "tcp://alice:pw@10.0.0.5:8786"})
        assert bad.status_code == 422 and "user name or password" in bad.json()["errors"]["dask"]
        assert "pw" not in bad.text
        good = client.post("/api/workflows/wf/check", json={"dask": "10.0.0.5:8786"})
        assert good.status_code == 200 and good.json()["settings"]["dask"] == "tcp://10.0.0.5:8786"


def _without_dask(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``import dask`` / ``import distributed`` fail here and in every child process."""
    shadow = tmp_path / "no-dask"
    for name in ("dask", "distributed"):
        (shadow / name).mkdir(parents=True)
        (shadow / name / "__init__.py").write_text(f"raise ImportError('no {name} in this test')\n")
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setenv("PYTHONPATH", f"{shadow}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")


@pytest.mark.slow  # starts a worker process
def test_a_plain_job_runs_without_dask_and_dask_says_what_to_install(
        store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _without_dask(tmp_path, monkeypatch)
    wf = store.workflow("binary", name="wf")
    job = wf.run(workers=1, output=str(store.out / "p.parquet"))
    assert job.status() is JobStatus.SUCCEEDED, job.record().error
    with pytest.raises(SettingsError) as err:  # told before any job is recorded
        wf.run(dask="local", output=str(store.out / "q.parquet"))
    assert "pip install 'relpredict[dask]'" in err.value.errors["dask"]
    assert [j.id for j in wf.jobs()] == [job.id]
