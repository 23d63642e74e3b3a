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
