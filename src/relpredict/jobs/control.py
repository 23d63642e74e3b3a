"""Acting on jobs from outside their runner: progress, cancel, resume, detached start.

Any process may call these: the CLI, the Python API, a watcher. They read and write the job's
record; the runner and its workers poll the record for a cancel request between shards.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime

import psutil

from relpredict.errors import ConflictError
from relpredict.jobs import store
from relpredict.jobs.lease import check_free, lease_lock, live, runner_alive, settle
from relpredict.jobs.prepare import job_dir
from relpredict.jobs.status import CANCELABLE, FINISHED, JobStatus, Stage, resume_problem
from relpredict.workspace import Workspace

__all__ = ["JobProgress", "cancel_job", "estimate_eta", "finish", "progress", "resume_job",
           "runner_alive", "start_detached"]


@dataclass(frozen=True)
class JobProgress:
    """A snapshot of a job for progress bars and ``job status``."""

    job_id: str
    status: JobStatus
    stage: Stage
    entities_done: int
    entities_total: int | None
    shards_done: int
    shards_total: int | None
    workers: tuple[store.WorkerProgress, ...]
    elapsed_seconds: float | None
    eta_seconds: float | None
    warnings: tuple[str, ...]
    error: str | None

    @property
    def fraction(self) -> float | None:
        """Entities done / total, or None before the prediction table is built."""
        if not self.entities_total:
            return None
        return self.entities_done / self.entities_total


def estimate_eta(done_this_run: int, remaining: int, seconds_this_run: float) -> float | None:
    """Seconds left at this run's rate so far; None until something is done."""
    if remaining <= 0:
        return 0.0
    if done_this_run <= 0 or seconds_this_run <= 0:
        return None
    return remaining * seconds_this_run / done_this_run


def _seconds_since(iso: str | None, until: str | None = None) -> float | None:
    start = store.parse_iso(iso)
    if start is None:
        return None
    end = store.parse_iso(until) or datetime.now(UTC).replace(tzinfo=None)
    return max(0.0, (end - start).total_seconds())


def progress(ws: Workspace, job_id: str) -> JobProgress:
    """Where job ``job_id`` stands now (a job whose runner died is failed, see :func:`settle`)."""
    rec = settle(ws, store.get_job(ws, job_id))
    done, shards = store.entities_done(ws, job_id)
    workers = tuple(store.workers(ws, job_id))
    eta = None
    if rec.status is JobStatus.RUNNING and rec.stage is Stage.PREDICTING and rec.entities_total:
        eta = estimate_eta(sum(w.entities_done for w in workers), rec.entities_total - done,
                           _seconds_since(rec.stage_started_at) or 0.0)
    return JobProgress(rec.id, rec.status, rec.stage, done, rec.entities_total, shards,
                       rec.shards_total, workers, _seconds_since(rec.started_at, rec.ended_at), eta,
                       rec.warnings, rec.error)


def finish(ws: Workspace, job_id: str, status: JobStatus, error: str | None = None) -> store.JobRecord:
    """Move a job to a finished state, once (a job already finished keeps its first ending)."""
    rec = store.get_job(ws, job_id)
    if rec.status in FINISHED:
        return rec
    return store.update_job(ws, job_id, status, ended_at=store.now_iso(), error=error)


def cancel_job(ws: Workspace, job_id: str) -> store.JobRecord:
    """Ask a queued or running job to stop; its runner stops the workers between shards.

    A job whose runner is gone (never started, or killed) is marked cancelled at once.
    """
    rec = store.get_job(ws, job_id)
    if rec.status not in CANCELABLE:
        raise ConflictError(f"Job {job_id} is {rec.status.value}: there is nothing to cancel.")
    store.update_job(ws, job_id, cancel_requested=True)
    if not runner_alive(rec):
        return finish(ws, job_id, JobStatus.CANCELLED)
    return store.get_job(ws, job_id)


def resume_job(ws: Workspace, job_id: str) -> store.JobRecord:
    """Queue a failed, cancelled or orphaned job again; its finished shards are kept.

    Checked and queued under the lease lock: of two resumes at once, one queues the job and the
    other is told it is queued already (a ConflictError), so only one runner ever starts."""
    with lease_lock(ws):  # its destination again, unless another job writes it now
        rec = settle(ws, store.get_job(ws, job_id))
        problem = resume_problem(job_id, rec.status, live(rec))
        if problem is not None:
            raise ConflictError(problem)
        status = None if rec.status is JobStatus.QUEUED else JobStatus.QUEUED
        check_free(ws, rec.settings, exclude=job_id)
        return store.update_job(ws, job_id, status, stage=Stage.QUEUED, cancel_requested=False,
                                error=None, ended_at=None, runner_pid=None, runner_started=None,
                                stage_started_at=store.now_iso())


def start_detached(ws: Workspace, job_id: str) -> int:
    """Start the job's runner as a background process in its own session; return its pid."""
    folder = job_dir(ws, job_id)
    folder.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "relpredict.jobs.runner", "--home", str(ws.home), job_id]
    with open(folder / "runner.log", "ab") as log:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True, close_fds=True)
    try:
        started = psutil.Process(proc.pid).create_time()
    except psutil.Error:
        started = None
    store.update_job(ws, job_id, runner_pid=proc.pid, runner_started=started)
    return proc.pid
