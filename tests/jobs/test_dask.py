"""Jobs on a real Dask cluster on 127.0.0.1: a LocalCluster, and separate scheduler / worker processes.

Output equals the local 1-worker job's; a Dask worker killed mid-job (by pid) costs nothing but a
retry; a stopped scheduler fails the job with a clear message and ``job resume`` finishes it; a
worker started from a folder without the workspace gets the model through Dask. Every server
binds 127.0.0.1 and is stopped by pid.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from relpredict.api import create_app
from relpredict.cli.main import app
from relpredict.jobs import JobStatus
from tests.conftest import Store
from tests.jobs.test_resume import SHARD, _until
from tests.servers import free_port, stop

distributed = pytest.importorskip("distributed")
pytestmark = pytest.mark.slow  # starts Dask clusters and runs jobs on them

DASK = str(Path(sys.executable).with_name("dask"))


def _rows(path: Path) -> list[dict]:
    return pq.read_table(path).to_pylist()


def _local_cluster() -> distributed.LocalCluster:
    return distributed.LocalCluster(processes=True, n_workers=2, threads_per_worker=1, host="127.0.0.1",
                                    dashboard_address=None)


def _entities_once(path: Path) -> None:
    assert sorted(pq.read_table(path).column("ENTITY").to_pylist()) == list(range(1, 61))


def test_a_local_cluster_job_equals_the_local_1_worker_job(store: Store) -> None:
    wf = store.workflow("binary", name="wf")
    local = wf.run(workers=1, output=str(store.out / "local" / "p.parquet"),
                   output_types="predictions,embeddings")
    with _local_cluster() as cluster:
        job = wf.run(workers=2, shard_size=7, dask=cluster.scheduler_address,
                     output=str(store.out / "dask" / "p.parquet"), output_types="predictions,embeddings")
    assert local.status() is JobStatus.SUCCEEDED and job.status() is JobStatus.SUCCEEDED, job.record().error
    for output in ("predictions", "embeddings"):
        assert (_rows(store.out / "dask" / f"p_{output}.parquet")
                == _rows(store.out / "local" / f"p_{output}.parquet"))
    record = job.record()
    assert record.settings.dask == cluster.scheduler_address  # on the record, the page, job status
    with TestClient(create_app(store.ws), base_url="http://127.0.0.1:8000") as client:
        assert f'<dd id="dask">{cluster.scheduler_address}</dd>' in client.get(f"/jobs/{job.id}").text
        assert client.get(f"/api/jobs/{job.id}").json()["settings"]["dask"] == cluster.scheduler_address
    status = CliRunner().invoke(app, ["job", "status", job.id, "--home", str(store.ws.home)])
    assert f"Dask scheduler {cluster.scheduler_address}" in status.output
    assert record.summary["entities"] == 60 and job.progress().shards_done == 9
    assert sum(w.entities_done for w in job.progress().workers) == 60
    # --dask local: the job starts (and stops) a LocalCluster of --workers processes itself
    own = wf.run(workers=2, dask="local", output=str(store.out / "own" / "p.parquet"))
    assert own.status() is JobStatus.SUCCEEDED, own.record().error
    assert _rows(store.out / "own" / "p.parquet") == _rows(store.out / "local" / "p_predictions.parquet")


def test_a_killed_dask_worker_costs_a_retry_not_an_entity(store: Store,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    wf = store.workflow("regression", name="wf")
    monkeypatch.setenv("RELPREDICT_FIXTURE_DELAY", "0.3")  # before the cluster starts: its workers read it
    out = store.out / "p.parquet"
    with _local_cluster() as cluster, distributed.Client(cluster) as client:
        job = wf.run(detach=True, workers=2, shard_size=SHARD, dask=cluster.scheduler_address, output=str(out))
        _until(lambda: job.progress().shards_done >= 2, timeout=60, what="two shards done")
        pids = client.run(os.getpid)
        os.kill(next(iter(pids.values())), signal.SIGKILL)  # one worker process, mid-job
        assert job.wait(timeout=120) is JobStatus.SUCCEEDED, job.record().error
    _entities_once(out)
    assert job.progress().shards_done == 12


@pytest.fixture()
def scheduler(tmp_path: Path) -> Iterator[dict]:
    """``dask scheduler`` on 127.0.0.1 plus a way to start it (again) and workers, all stopped by pid."""
    port, procs = free_port(), []
    address = f"tcp://127.0.0.1:{port}"

    def start(*args: str, cwd: Path | None = None, env: dict | None = None) -> subprocess.Popen:
        log = tmp_path / f"dask-{len(procs)}.log"
        proc = subprocess.Popen([DASK, *args], cwd=cwd or tmp_path, env=env or dict(os.environ),
                                stdout=log.open("wb"), stderr=subprocess.STDOUT)
        procs.append(proc)
        return proc

    def start_scheduler() -> subprocess.Popen:
        return start("scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard")

    def start_worker(cwd: Path | None = None, env: dict | None = None) -> subprocess.Popen:
        proc = start("worker", address, "--host", "127.0.0.1", "--nthreads", "1", "--no-nanny",
                     "--no-dashboard", cwd=cwd, env=env)
        with distributed.Client(address, timeout=30) as client:
            client.wait_for_workers(len([p for p in procs if p.poll() is None]) - 1, timeout=60)
        return proc

    start_scheduler()
    yield {"address": address, "scheduler": start_scheduler, "worker": start_worker, "procs": procs}
    for proc in reversed(procs):
        stop(proc)


def test_a_stopped_scheduler_fails_the_job_and_resume_finishes_it(
        store: Store, scheduler: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    wf = store.workflow("regression", name="wf")
    monkeypatch.setenv("RELPREDICT_FIXTURE_DELAY", "0.3")
    scheduler["worker"]()
    out = store.out / "p.parquet"
    job = wf.run(detach=True, workers=1, shard_size=SHARD, dask=scheduler["address"], output=str(out))
    _until(lambda: job.progress().shards_done >= 2, timeout=60, what="two shards done")
    first = scheduler["procs"][0]
    first.send_signal(signal.SIGKILL)
    first.wait(10)
    assert job.wait(timeout=60) is JobStatus.FAILED
    error = job.record().error
    assert f"The Dask scheduler {scheduler['address']} stopped answering" in error
    assert f"relpredict job resume {job.id}" in error and "Traceback" not in error
    for proc in scheduler["procs"][1:]:
        stop(proc)
    monkeypatch.setenv("RELPREDICT_FIXTURE_DELAY", "0")
    scheduler["scheduler"]()
    scheduler["worker"]()
    job.resume()
    assert job.status() is JobStatus.SUCCEEDED, job.record().error
    _entities_once(out)


def test_a_worker_without_the_workspace_gets_the_model_through_dask(
        store: Store, scheduler: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from relpredict.graph.yaml_io import load_graph
    from relpredict.jobs import Workflow
    from relpredict.model.artifact import save_model
    from relpredict.model.fit import TrainOptions, train_model
    from tests.conftest import QUERIES

    monkeypatch.delenv("RELPREDICT_MODEL_LOADER")  # the real artifact loader, on both sides
    graph = load_graph(store.graph_yaml)
    save_model(store.ws, train_model(graph, QUERIES["binary"], TrainOptions(kind="lightgbm", max_eval=2, history_k=4)),
               "lgb", graph)
    graph.close()
    empty, scratch = tmp_path / "elsewhere", tmp_path / "worker-tmp"
    empty.mkdir()
    scratch.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RELPREDICT")}
    env.update(TMPDIR=str(scratch), PYTHONPATH="")
    scheduler["worker"](cwd=empty, env=env)
    wf = Workflow.create("wf", "lgb", store.ws)
    local = wf.run(workers=1, output=str(store.out / "local.parquet"))
    assert local.status() is JobStatus.SUCCEEDED, local.record().error
    job = wf.run(workers=1, shard_size=20, dask=scheduler["address"], output=str(store.out / "dask.parquet"))
    assert job.status() is JobStatus.SUCCEEDED, job.record().error
    assert _rows(store.out / "dask.parquet") == _rows(store.out / "local.parquet")
    unpacked = list(scratch.glob(f"relpredict-{job.id}-*/workspace/artifacts/models/lgb/v1/model.json"))
    assert len(unpacked) == 1  # the artifact the worker loaded came through Dask, once
    assert not list(empty.iterdir())  # nothing written where the worker started
