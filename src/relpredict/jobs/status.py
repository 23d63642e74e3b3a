"""Job states, stages and the allowed moves between states: pure, after dagster's run status.

::

    queued ──▶ running ──▶ succeeded (or succeeded_with_errors)
      │           │ ▲
      │           ▼ │ (resume: back through queued)
      └──────▶ failed / cancelled
"""

from __future__ import annotations

from enum import Enum

from relpredict.errors import ConflictError

__all__ = ["CANCELABLE", "FINISHED", "IN_PROGRESS", "JobStatus", "RESUMABLE", "SUCCESSFUL", "Stage",
           "check_transition", "resume_problem"]


class JobStatus(str, Enum):
    """Where a job is in its life."""

    QUEUED = "queued"  # recorded with valid settings; no runner has started it yet
    RUNNING = "running"  # a runner process owns it (its pid is on the record)
    SUCCEEDED = "succeeded"  # every output published and the manifest written
    SUCCEEDED_WITH_ERRORS = "succeeded_with_errors"  # the same, but some entities (no more than
    # --max-errors) failed to score: they are rows of the errors output, the count in the summary
    FAILED = "failed"  # stopped by an error (on the record); resumable
    CANCELLED = "cancelled"  # stopped on request; resumable


IN_PROGRESS = frozenset({JobStatus.QUEUED, JobStatus.RUNNING})
"""Not finished: a watcher keeps polling, and a second runner must not start the job."""

SUCCESSFUL = frozenset({JobStatus.SUCCEEDED, JobStatus.SUCCEEDED_WITH_ERRORS})
"""Published with a manifest: the outputs (and the summary, sample and download) exist."""

FINISHED = frozenset({*SUCCESSFUL, JobStatus.FAILED, JobStatus.CANCELLED})
"""Terminal until someone acts: no process works on the job; ``ended_at`` is set."""

CANCELABLE = frozenset({JobStatus.QUEUED, JobStatus.RUNNING})
"""Cancelling makes sense only while the job may still do work."""

RESUMABLE = frozenset({JobStatus.FAILED, JobStatus.CANCELLED})
"""Resume keeps the finished shards and runs the rest. A RUNNING job whose runner is dead
(killed with ``kill -9``) is resumable too; that needs a liveness check, see :func:`resume_problem`."""

_ALLOWED: dict[JobStatus, frozenset[JobStatus]] = {
    JobStatus.QUEUED: frozenset({JobStatus.RUNNING, JobStatus.FAILED, JobStatus.CANCELLED}),
    JobStatus.RUNNING: frozenset({JobStatus.SUCCEEDED, JobStatus.SUCCEEDED_WITH_ERRORS,
                                  JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.QUEUED}),
    JobStatus.FAILED: frozenset({JobStatus.QUEUED}),
    JobStatus.CANCELLED: frozenset({JobStatus.QUEUED}),
    JobStatus.SUCCEEDED: frozenset(),
    JobStatus.SUCCEEDED_WITH_ERRORS: frozenset(),
}


class Stage(str, Enum):
    """What a running job is doing, in order."""

    QUEUED = "queued"
    LOADING_DATA = "loading data"
    BUILDING_PREDICTION_TABLE = "building the prediction table"
    PREDICTING = "predicting"
    WRITING = "writing"
    DONE = "done"


def check_transition(job_id: str, old: JobStatus, new: JobStatus) -> None:
    """Refuse a move the state diagram does not allow, saying what the job is and what to do."""
    if new in _ALLOWED[old]:
        return
    if old in SUCCESSFUL:
        raise ConflictError(f"Job {job_id} already succeeded; start a new job with `relpredict job run`.")
    raise ConflictError(f"Job {job_id} is {old.value} and cannot become {new.value}.")


def resume_problem(job_id: str, status: JobStatus, runner_alive: bool) -> str | None:
    """Why job ``job_id`` cannot be resumed now, or ``None`` when it can."""
    if status in RESUMABLE:
        return None
    if status is JobStatus.RUNNING:
        return (f"Job {job_id} is running (its runner is alive); wait for it or cancel it with "
                f"`relpredict job cancel {job_id}` first.") if runner_alive else None
    if status is JobStatus.QUEUED:
        return (f"Job {job_id} is queued already (another resume or run just queued it) and will "
                f"run without a resume; follow it with `relpredict job watch {job_id}`."
                if runner_alive else None)
    return f"Job {job_id} already succeeded: there is nothing to resume."
