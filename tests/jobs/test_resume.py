"""Exactly once: real ``kill -9`` of a running job (runner, or one worker), then resume; cancel.

The test double sleeps per shard (``RELPREDICT_FIXTURE_DELAY``) so a job is caught mid-run, and
logs every shard it scores (``RELPREDICT_FIXTURE_LOG``) so a test can prove that the shards
finished before the kill are not scored again.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from relpredict.jobs import Job, JobStatus
from relpredict.jobs import store as job_store
from relpredict.jobs.control import runner_alive
from tests.conftest import Store

pytestmark = pytest.mark.slow  # kills and resumes whole jobs with worker processes

RELPREDICT = str(Path(sys.executable).with_name("relpredict"))
SHARD = 5  # 60 entities → 12 shards


def _until(condition: Callable[[], object], timeout: float = 30.0, what: str = "condition") -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _done_markers(out_dir: Path) -> set[int]:
    return {int(p.stem.split("_")[1]) for p in out_dir.glob(".relpredict-staging-*/done/shard_*.json")}


def _logged_entities(log: Path) -> list[int]:
    if not log.exists():
        return []
    return [e for line in log.read_text().splitlines() for e in json.loads(line)["entities"]]


def _shard_entities(store: Store, job_id: str, shards: set[int]) -> set[int]:
    entities = pq.read_table(store.ws.artifacts / "jobs" / job_id / "entities.parquet").column("ENTITY").to_pylist()
    return {e for s in shards for e in entities[s * SHARD:(s + 1) * SHARD]}


def _assert_exactly_once(store: Store, job: Job, path: Path) -> None:
    assert job.status() is JobStatus.SUCCEEDED, job.record().error
    got = pq.read_table(path).column("ENTITY").to_pylist()
    expected = pq.read_table(store.ws.artifacts / "jobs" / job.id / "entities.parquet").column("ENTITY").to_pylist()
    assert got == expected and len(set(got)) == len(got) == 60


def test_kill_9_of_a_running_job_then_resume(store: Store, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    store.workflow("binary", name="wf")
    out = store.out / "p.parquet"
    log = tmp_path / "calls.jsonl"
    env = {**os.environ, "RELPREDICT_HOME": str(store.ws.home), "RELPREDICT_FIXTURE_DELAY": "0.2",
           "RELPREDICT_FIXTURE_LOG": str(log)}
    proc = subprocess.Popen([RELPREDICT, "job", "run", "wf", "--workers", "2", "--shard-size", str(SHARD),
                             "--output", str(out)], env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _until(lambda: len(_done_markers(store.out)) >= 3, what="3 finished shards")
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the runner and its workers, mid-run
        proc.wait()
    time.sleep(0.2)
    done_before = _done_markers(store.out)
    assert 3 <= len(done_before) < 12
    assert [p.name for p in store.out.iterdir() if not p.name.startswith(".")] == []  # nothing partial visible
    (rec,) = job_store.list_jobs(store.ws)
    assert rec.status is JobStatus.RUNNING and not runner_alive(rec)  # orphaned by the kill

    log.unlink()
    monkeypatch.setenv("RELPREDICT_HOME", str(store.ws.home))
    result = subprocess.run([RELPREDICT, "job", "resume", rec.id],
                            env={**env, "RELPREDICT_FIXTURE_DELAY": "0"}, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    job = Job(rec.id, store.ws)
    _assert_exactly_once(store, job, out)
    rescored = set(_logged_entities(log))
    assert rescored and not rescored & _shard_entities(store, rec.id, done_before)  # not recomputed
    assert rescored | _shard_entities(store, rec.id, done_before) == set(range(1, 61))
    assert job.progress().entities_done == 60 and job.progress().shards_done == 12


def test_kill_9_of_one_worker_fails_the_job_and_resume_finishes_it(
        store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    wf = store.workflow("regression", name="wf")
    monkeypatch.setenv("RELPREDICT_FIXTURE_DELAY", "0.2")
    out = store.out / "p.parquet"
    job = wf.run(detach=True, workers=2, shard_size=SHARD, output=str(out))

    def busy_worker() -> int | None:
        workers = job.progress().workers
        return next((w.pid for w in workers if w.pid and w.entities_done >= SHARD), None)

    pid = _until(busy_worker, what="a worker with a finished shard")
    os.kill(pid, signal.SIGKILL)
    assert job.wait(timeout=30) is JobStatus.FAILED
    assert f"was killed by signal 9. Finished shards are kept: fix the cause and run `relpredict job resume {job.id}`." in job.record().error
    monkeypatch.setenv("RELPREDICT_FIXTURE_DELAY", "0")
    job.resume()
    _assert_exactly_once(store, job, out)


def test_a_paused_worker_does_not_hold_the_job(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """Workers pull shards: while one is stopped (SIGSTOP) the other takes every other shard."""
    wf = store.workflow("regression", name="wf")
    monkeypatch.setenv("RELPREDICT_FIXTURE_DELAY", "0.3")
    out = store.out / "p.parquet"
    job = wf.run(detach=True, workers=2, shard_size=SHARD, output=str(out))

    def taken() -> list[job_store.WorkerProgress] | None:
        workers = job.progress().workers
        return workers if len(workers) == 2 and all(w.pid and w.entities_total for w in workers) else None

    slow = _until(taken, what="both workers holding a shard")[0]  # type: ignore[index]
    os.kill(slow.pid, signal.SIGSTOP)
    try:
        # 12 shards: the other worker scores all but the one (or two) the stopped one took, where
        # a fixed round-robin list would have left it 6.
        _until(lambda: job.progress().shards_done == 11, timeout=60, what="11 shards done")
        other = next(w for w in job.progress().workers if w.worker != slow.worker)
        assert other.entities_done >= 10 * SHARD
    finally:
        os.kill(slow.pid, signal.SIGCONT)
    assert job.wait(timeout=30) is JobStatus.SUCCEEDED
    _assert_exactly_once(store, job, out)


def test_cancel_a_running_job_then_resume(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    wf = store.workflow("binary", name="wf")
    monkeypatch.setenv("RELPREDICT_FIXTURE_DELAY", "0.2")
    job = wf.run(detach=True, workers=1, shard_size=SHARD, output=str(store.out / "p.parquet"))
    _until(lambda: job.progress().entities_done >= SHARD, what="a finished shard")
    job.cancel()
    assert job.wait(timeout=30) is JobStatus.CANCELLED
    done = job.progress().entities_done
    assert SHARD <= done < 60 and not (store.out / "p.parquet").exists()
    with pytest.raises(Exception, match="is cancelled: there is nothing to cancel"):
        job.cancel()
    monkeypatch.setenv("RELPREDICT_FIXTURE_DELAY", "0")
    job.resume(detach=True)
    assert job.wait(timeout=60) is JobStatus.SUCCEEDED
    _assert_exactly_once(store, job, store.out / "p.parquet")


def test_a_queued_job_cancelled_before_its_runner_starts(store: Store) -> None:
    from relpredict.jobs import RawSettings, create_job

    store.workflow("binary", name="wf")
    job, _ = create_job("wf", RawSettings(), store.ws)
    assert job.status() is JobStatus.QUEUED
    assert job.cancel() is JobStatus.CANCELLED  # no runner: cancelled at once
    assert job.record().ended_at is not None


def test_a_model_error_in_a_worker_fails_the_job_with_its_message(
        store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    wf = store.workflow("binary", name="wf")
    monkeypatch.setenv("RELPREDICT_FIXTURE_FAIL_ON", "42")
    with pytest.raises(Exception, match=r"^Worker \d failed: RuntimeError: fixture failure on entity 42"):
        wf.run(workers=2, shard_size=20, output=str(store.out / "p.parquet"))
    (rec,) = job_store.list_jobs(store.ws)
    assert rec.status is JobStatus.FAILED and "fixture failure on entity 42 (at " in rec.error
    assert rec.error.endswith(f"Finished shards are kept: fix the cause and run `relpredict job resume {rec.id}`.")
    monkeypatch.delenv("RELPREDICT_FIXTURE_FAIL_ON")
    _assert_exactly_once(store, Job(rec.id, store.ws).resume(), store.out / "p.parquet")
