"""One job at a time per destination: a live job's lease refuses a second writer at setup."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest

from relpredict.errors import ConflictError
from relpredict.jobs import JobStatus, RawSettings
from relpredict.jobs import lease as lease_mod
from relpredict.jobs import store as job_store
from relpredict.jobs.control import cancel_job, resume_job
from relpredict.service import jobs as service
from tests.conftest import Store

APRIL = "2024-04-15"


def _raw(out: Path, **more: object) -> RawSettings:
    return RawSettings(anchor_time=APRIL, output=str(out), **more)  # type: ignore[arg-type]


def _dead_pid() -> int:
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    return int(done.stdout)


def test_a_second_job_on_a_live_jobs_destination_is_refused(store: Store) -> None:
    store.workflow("binary", "wf")
    out = store.out / "p.parquet"
    first = service.create_job(store.ws, "wf", _raw(out))  # queued: about to start
    for call in (service.create_job, service.check_settings, service.dry_run):
        with pytest.raises(ConflictError) as caught:
            call(store.ws, "wf", _raw(out))
        message = str(caught.value)
        assert first.id in message and str(out.resolve()) in message and "job cancel" in message
    assert len(job_store.list_jobs(store.ws)) == 1
    service.create_job(store.ws, "wf", _raw(store.out / "other.parquet"))  # elsewhere: fine


def test_outputs_overlap_through_the_naming_of_both_types(store: Store) -> None:
    store.workflow("binary", "wf")
    service.create_job(store.ws, "wf", _raw(store.out / "p.parquet", output_types="predictions,embeddings"))
    with pytest.raises(ConflictError, match="p_embeddings.parquet"):
        service.create_job(store.ws, "wf", _raw(store.out / "p_embeddings.parquet"))


def test_a_lease_expires_when_its_runner_is_dead_or_the_job_ended(store: Store) -> None:
    store.workflow("binary", "wf")
    out = store.out / "p.parquet"
    first = service.create_job(store.ws, "wf", _raw(out))
    job_store.update_job(store.ws, first.id, JobStatus.RUNNING, runner_pid=_dead_pid(), runner_started=0.0)
    second = service.create_job(store.ws, "wf", _raw(out))  # the first one's runner is gone
    cancel_job(store.ws, second.id)  # never started: cancelled at once, lease released
    third = service.create_job(store.ws, "wf", _raw(out))
    # Resuming the cancelled job while the third holds the destination is refused too.
    with pytest.raises(ConflictError, match=third.id):
        resume_job(store.ws, second.id)


def test_a_queued_job_nobody_runs_expires(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    store.workflow("binary", "wf")
    out = store.out / "p.parquet"
    service.create_job(store.ws, "wf", _raw(out))
    monkeypatch.setattr(lease_mod, "QUEUED_GRACE_SECONDS", 0.0)
    service.create_job(store.ws, "wf", _raw(out))


def test_two_setups_at_once_one_wins(store: Store) -> None:
    store.workflow("binary", "wf")
    out = store.out / "p.parquet"
    results: list[str] = []

    def setup() -> None:
        try:
            service.create_job(store.ws, "wf", _raw(out))
            results.append("created")
        except ConflictError:
            results.append("refused")

    threads = [threading.Thread(target=setup) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(results) == ["created", "refused"]
    assert len(job_store.list_jobs(store.ws)) == 1


def test_a_job_whose_runner_died_reads_failed_with_the_resume_hint_everywhere(store: Store) -> None:
    store.workflow("binary", "wf")
    job = service.create_job(store.ws, "wf", _raw(store.out / "p.parquet"))
    pid = _dead_pid()
    job_store.update_job(store.ws, job.id, JobStatus.RUNNING, runner_pid=pid, runner_started=0.0,
                         started_at=job_store.now_iso())
    (row,) = service.list_jobs(store.ws)  # job list: the first look records it
    assert row["status"] == "failed"
    view = service.job_view(store.ws, job.id)  # job status and GET /api/jobs/ID
    assert view["status"] == "failed" and view["can_resume"] and view["progress"]["eta_seconds"] is None
    assert f"(pid {pid}) is gone" in view["error"] and f"relpredict job resume {job.id}" in view["error"]
    assert job_store.get_job(store.ws, job.id).status is JobStatus.FAILED


def test_a_finished_job_is_not_settled_over(store: Store) -> None:
    store.workflow("binary", "wf")
    job = service.create_job(store.ws, "wf", _raw(store.out / "p.parquet"))
    job_store.update_job(store.ws, job.id, JobStatus.RUNNING, runner_pid=_dead_pid(), runner_started=0.0)
    stale = job_store.get_job(store.ws, job.id)
    job_store.update_job(store.ws, job.id, JobStatus.CANCELLED)  # its runner ended it meanwhile
    assert lease_mod.settle(store.ws, stale).status is JobStatus.CANCELLED


def test_of_two_resumes_at_once_the_loser_gets_a_plain_message(store: Store) -> None:
    store.workflow("binary", "wf")
    job = service.create_job(store.ws, "wf", _raw(store.out / "p.parquet"))
    cancel_job(store.ws, job.id)
    results: list[str] = []

    def resume() -> None:
        try:
            resume_job(store.ws, job.id)
            results.append("queued")
        except ConflictError as err:
            results.append(str(err))

    threads = [threading.Thread(target=resume) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(results)[-1] == "queued" and len(results) == 2
    assert results.count("queued") == 1, results
    loser = next(r for r in results if r != "queued")
    assert loser == (f"Job {job.id} is queued already (another resume or run just queued it) and will "
                     f"run without a resume; follow it with `relpredict job watch {job.id}`.")
