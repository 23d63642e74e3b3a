"""Workflow and job records in the workspace database (the ``workflows`` / ``jobs`` tables).

Records are frozen dataclasses: a change is a new record written back (``update``), and every
write is one short transaction, so the runner, its worker processes and a watcher can share the
database safely (SQLite in WAL mode).
"""

from __future__ import annotations

import json
import re
import secrets
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from relpredict.errors import ConflictError, NotFoundError, SettingsError
from relpredict.jobs.settings import JobSettings
from relpredict.jobs.status import JobStatus, Stage, check_transition
from relpredict.suggest import did_you_mean
from relpredict.workspace import Workspace

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
_JOB_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")  # a job id names a folder: no path can pass

__all__ = ["JobRecord", "WorkerProgress", "WorkflowRecord", "create_job_record", "create_workflow",
           "get_job", "get_workflow", "list_jobs", "list_workflows", "now_iso"]


def now_iso() -> str:
    """The current UTC time as ISO 8601 with a ``Z`` (how every time in the database is kept)."""
    return datetime.now(UTC).replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


def parse_iso(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.rstrip("Z")) if value else None


# ----------------------------------------------------------------------------------- workflows
@dataclass(frozen=True)
class WorkflowRecord:
    """A batch prediction workflow: a name for running jobs of one model."""

    name: str
    model: str
    created_at: str


def create_workflow(ws: Workspace, name: str, model: str) -> WorkflowRecord:
    """Record a workflow; the name must be new and plain (letters, digits, ``_ . -``)."""
    if not _NAME.match(name or ""):
        raise SettingsError({"name": f"The workflow name {name!r} must start with a letter or digit "
                             "and use only letters, digits, '_', '.' and '-' (at most 100 characters)."})
    record = WorkflowRecord(name, model, now_iso())
    try:
        with ws.db() as con:
            con.execute("INSERT INTO workflows VALUES (?, ?, ?)", (name, model, record.created_at))
    except sqlite3.IntegrityError:
        raise ConflictError(f"A workflow named {name!r} already exists; choose another name or use "
                            f"it with `relpredict job run {name}`.") from None
    return record


def get_workflow(ws: Workspace, name: str) -> WorkflowRecord:
    with ws.db() as con:
        row = con.execute("SELECT * FROM workflows WHERE name = ?", (name,)).fetchone()
        if row is None:
            names = [r[0] for r in con.execute("SELECT name FROM workflows")]
    if row is None:
        raise NotFoundError(f"No workflow named {name!r} in the workspace {ws.home}."
                            f"{did_you_mean(name, names)} "
                            "Create one with `relpredict workflow create NAME --model MODEL`.")
    return WorkflowRecord(row["name"], row["model"], row["created_at"])


def list_workflows(ws: Workspace) -> list[WorkflowRecord]:
    with ws.db() as con:
        rows = con.execute("SELECT * FROM workflows ORDER BY name").fetchall()
    return [WorkflowRecord(r["name"], r["model"], r["created_at"]) for r in rows]


# ----------------------------------------------------------------------------------- jobs
@dataclass(frozen=True)
class JobRecord:
    """One batch prediction job as recorded (see the ``jobs`` table in the workspace schema)."""

    id: str
    workflow: str
    model_ref: str
    loader: str
    status: JobStatus
    stage: Stage
    settings: JobSettings
    warnings: tuple[str, ...]
    error: str | None
    entities_total: int | None
    shards_total: int | None
    runner_pid: int | None
    runner_started: float | None
    cancel_requested: bool
    created_at: str
    started_at: str | None
    stage_started_at: str | None
    ended_at: str | None
    summary: dict[str, Any] | None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> JobRecord:
        return cls(
            id=row["id"], workflow=row["workflow"], model_ref=row["model_ref"], loader=row["loader"],
            status=JobStatus(row["status"]), stage=Stage(row["stage"]),
            settings=JobSettings.from_json(json.loads(row["settings"])),
            warnings=tuple(json.loads(row["warnings"])), error=row["error"],
            entities_total=row["entities_total"], shards_total=row["shards_total"],
            runner_pid=row["runner_pid"], runner_started=row["runner_started"],
            cancel_requested=bool(row["cancel_requested"]), created_at=row["created_at"],
            started_at=row["started_at"], stage_started_at=row["stage_started_at"],
            ended_at=row["ended_at"], summary=json.loads(row["summary"]) if row["summary"] else None)


def new_job_id() -> str:
    """``j`` + UTC date and time + random hex: unique, and sorts by creation time."""
    return "j" + datetime.now(UTC).strftime("%Y%m%d%H%M%S") + secrets.token_hex(3)


def create_job_record(ws: Workspace, job_id: str, workflow: str, model_ref: str, loader: str,
                      settings: JobSettings, warnings: list[str]) -> JobRecord:
    """Insert a queued job with validated settings."""
    with ws.db() as con:
        con.execute(
            "INSERT INTO jobs (id, workflow, model_ref, loader, status, stage, settings, warnings, "
            "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (job_id, workflow, model_ref, loader, JobStatus.QUEUED.value, Stage.QUEUED.value,
             json.dumps(settings.to_json()), json.dumps(warnings), now_iso()))
    return get_job(ws, job_id)


def get_job(ws: Workspace, job_id: str) -> JobRecord:
    row = None
    if _JOB_ID.match(job_id or ""):
        with ws.db() as con:
            row = con.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
    if row is None:
        raise NotFoundError(f"No job {job_id!r} in the workspace {ws.home}; "
                            "`relpredict job list` shows the jobs there.")
    return JobRecord.from_row(row)


def list_jobs(ws: Workspace, workflow: str | None = None) -> list[JobRecord]:
    """Jobs, newest first (of one workflow when given)."""
    sql, params = "SELECT * FROM jobs", tuple[str, ...]()
    if workflow is not None:
        get_workflow(ws, workflow)
        sql, params = sql + " WHERE workflow = ?", (workflow,)
    with ws.db() as con:
        rows = con.execute(sql + " ORDER BY created_at DESC, id DESC", params).fetchall()
    return [JobRecord.from_row(r) for r in rows]


_COLUMNS = {"stage", "error", "entities_total", "shards_total", "runner_pid", "runner_started",
            "cancel_requested", "started_at", "stage_started_at", "ended_at", "summary", "warnings"}


def update_job(ws: Workspace, job_id: str, status: JobStatus | None = None, **changes: Any) -> JobRecord:
    """Write changes to a job; a status change must follow the state diagram."""
    unknown = set(changes) - _COLUMNS
    if unknown:
        raise TypeError(f"not job columns: {sorted(unknown)}")
    values = {k: _db_value(v) for k, v in changes.items()}
    with ws.db() as con:
        if status is not None:  # read and write under the write lock: two movers, one wins
            con.execute("BEGIN IMMEDIATE")
            old = JobStatus(con.execute("SELECT status FROM jobs WHERE id = ?", (job_id,)).fetchone()[0])
            check_transition(job_id, old, status)
            values["status"] = status.value
        if values:
            sets = ", ".join(f"{k} = ?" for k in values)
            con.execute(f"UPDATE jobs SET {sets} WHERE id = ?", (*values.values(), job_id))
    return get_job(ws, job_id)


def fail_dead_run(ws: Workspace, rec: JobRecord, error: str) -> JobRecord:
    """Mark ``rec`` failed with ``error`` unless its record changed since it was read (its runner
    may have ended it, or a resume given it a new runner, in the meantime)."""
    with ws.db() as con:
        con.execute("UPDATE jobs SET status = ?, ended_at = ?, error = ? WHERE id = ? AND status = ? "
                    "AND runner_pid IS ? AND runner_started IS ?",
                    (JobStatus.FAILED.value, now_iso(), error, rec.id, rec.status.value,
                     rec.runner_pid, rec.runner_started))
    return get_job(ws, rec.id)


def _db_value(value: Any) -> Any:
    if isinstance(value, Stage | JobStatus):
        return value.value
    if isinstance(value, dict | list | tuple):
        return json.dumps(value, default=str)
    if isinstance(value, bool):
        return int(value)
    return value


def set_stage(ws: Workspace, job_id: str, stage: Stage) -> None:
    update_job(ws, job_id, stage=stage, stage_started_at=now_iso())


def cancel_requested(ws: Workspace, job_id: str) -> bool:
    with ws.db() as con:
        row = con.execute("SELECT cancel_requested FROM jobs WHERE id = ?", (job_id,)).fetchone()
    return bool(row and row[0])


# ----------------------------------------------------------------------------------- progress
@dataclass(frozen=True)
class WorkerProgress:
    """Entities done of the entities one worker took in the current run (it pulls shards from a
    queue, so its total grows as it takes them)."""

    worker: int
    pid: int | None
    entities_done: int
    entities_total: int
    error: str | None


def reset_workers(ws: Workspace, job_id: str, totals: dict[int, int]) -> None:
    """Start a run's progress: one row per worker with its total, nothing done yet."""
    with ws.db() as con:
        con.execute("DELETE FROM job_workers WHERE job_id = ?", (job_id,))
        con.executemany("INSERT INTO job_workers VALUES (?, ?, NULL, 0, ?, NULL, ?)",
                        [(job_id, w, n, now_iso()) for w, n in totals.items()])


def worker_took(ws: Workspace, job_id: str, worker: int, entities: int) -> None:
    """Count a shard a worker took from the queue into its total (workers pull their work)."""
    with ws.db() as con:
        con.execute("UPDATE job_workers SET entities_total = entities_total + ?, updated_at = ? "
                    "WHERE job_id = ? AND worker = ?", (entities, now_iso(), job_id, worker))


def add_worker(ws: Workspace, job_id: str, worker: int, pid: int | None) -> None:
    """A progress row for a worker that joined during the run (a Dask worker), nothing done yet."""
    with ws.db() as con:
        con.execute("INSERT OR IGNORE INTO job_workers VALUES (?, ?, ?, 0, 0, NULL, ?)",
                    (job_id, worker, pid, now_iso()))


def worker_started(ws: Workspace, job_id: str, worker: int, pid: int) -> None:
    with ws.db() as con:
        con.execute("UPDATE job_workers SET pid = ?, updated_at = ? WHERE job_id = ? AND worker = ?",
                    (pid, now_iso(), job_id, worker))


def shard_finished(ws: Workspace, job_id: str, worker: int, shard: int, entities: int,
                   seconds: float | None) -> None:
    """Count a finished shard for its worker and for the job (idempotent per shard)."""
    with ws.db() as con:
        cur = con.execute("INSERT OR IGNORE INTO job_shards VALUES (?, ?, ?, ?, ?)",
                          (job_id, shard, entities, seconds, now_iso()))
        if cur.rowcount and worker >= 0:
            con.execute("UPDATE job_workers SET entities_done = entities_done + ?, updated_at = ? "
                        "WHERE job_id = ? AND worker = ?", (entities, now_iso(), job_id, worker))


def worker_failed(ws: Workspace, job_id: str, worker: int, error: str) -> None:
    with ws.db() as con:
        con.execute("UPDATE job_workers SET error = ?, updated_at = ? WHERE job_id = ? AND worker = ?",
                    (error, now_iso(), job_id, worker))


def workers(ws: Workspace, job_id: str) -> list[WorkerProgress]:
    with ws.db() as con:
        rows = con.execute("SELECT * FROM job_workers WHERE job_id = ? ORDER BY worker",
                           (job_id,)).fetchall()
    return [WorkerProgress(r["worker"], r["pid"], r["entities_done"], r["entities_total"], r["error"])
            for r in rows]


def finished_shards(ws: Workspace, job_id: str) -> set[int]:
    """The numbers of the job's shards counted as staged (over every run of the job)."""
    with ws.db() as con:
        return {int(r[0]) for r in con.execute("SELECT shard FROM job_shards WHERE job_id = ?", (job_id,))}


def entities_done(ws: Workspace, job_id: str) -> tuple[int, int]:
    """Entities and shards whose outputs are staged, over every run of the job."""
    with ws.db() as con:
        row = con.execute("SELECT COALESCE(SUM(entities), 0), COUNT(*) FROM job_shards WHERE job_id = ?",
                          (job_id,)).fetchone()
    return int(row[0]), int(row[1])
