"""Workflows and jobs for every front end: lookups, settings checks, runs, views, recovery.

The plain-data views themselves (pure functions of records) are :mod:`relpredict.service.views`.

The CLI, the REST API and the web pages call these functions (over :mod:`relpredict.jobs`), so
each action is written once: create and list workflows, check settings, create, run (in this
process or detached), cancel and resume jobs, and plain-data views of records (what ``job list``
prints and ``/api/jobs`` returns). A server runs every job detached (in a background process of
its own, so it outlives a page and the server) and, when it starts, marks jobs whose runner died
with the previous server resumable. Errors come from where they happen
(:mod:`relpredict.errors`): an unknown name is a ``NotFoundError``, a state that forbids an action
a ``ConflictError``, bad settings one ``SettingsError`` naming every bad field.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from relpredict import jobs
from relpredict.errors import ConfigError, DataError, QueryError, WorkspaceError
from relpredict.graph.graph import Graph
from relpredict.jobs import (
    CANCELABLE,
    IN_PROGRESS,
    RESUMABLE,
    DryRun,
    Job,
    JobProgress,
    JobStatus,
    RawSettings,
    Workflow,
    control,
    lease,
    store,
)
from relpredict.jobs.prepare import (
    data_range,
    default_loader,
    load_workflow_model,
    prepare,
    task_info,
)
from relpredict.jobs.protocols import JobModel
from relpredict.jobs.settings import DataRange, TaskInfo
from relpredict.jobs.sources import PREVIEW_IDS, job_graph
from relpredict.jobs.status import SUCCESSFUL
from relpredict.service.views import job_row, progress_view, task_form
from relpredict.workspace import Workspace

__all__ = ["ModelContext", "cancel_job", "check_settings", "create_job", "create_workflow",
           "dry_run", "find_job", "find_workflow", "job_result", "job_view", "list_jobs",
           "list_workflows", "recover_orphans", "resume_job", "submit_job", "workflow_view"]

ORPHAN_GRACE_SECONDS = 30.0
ORPHAN_ERROR = ("The job's runner process is gone: the server or the machine stopped while the job "
                "ran. Finished shards are kept; resume it to run the rest.")


# ----------------------------------------------------------------------------------- lookups
def find_workflow(ws: Workspace, name: str) -> Workflow:
    """The workflow ``name``; an unknown one is a :class:`~relpredict.errors.NotFoundError`."""
    return Workflow.get(name, ws)


def find_job(ws: Workspace, job_id: str) -> Job:
    """The job ``job_id``; an unknown id (or one that is no plain token) is a NotFoundError."""
    return Job(job_id, ws)


# ----------------------------------------------------------------------------------- workflows
def create_workflow(ws: Workspace, name: str, model: str) -> Workflow:
    """Record a workflow of ``model``: SettingsError of ``model`` / ``name``, or ConflictError."""
    return Workflow.create(name, model, ws)


def list_workflows(ws: Workspace) -> list[dict[str, Any]]:
    """Every workflow with its number of jobs and its latest job, as ``workflow list`` shows."""
    out = []
    for rec in store.list_workflows(ws):
        jobs = list_jobs(ws, rec.name)
        out.append({"name": rec.name, "model": rec.model, "created_at": rec.created_at,
                    "jobs": len(jobs), "latest_job": jobs[0] if jobs else None})
    return out


def workflow_view(ws: Workspace, name: str, with_form: bool = True) -> dict[str, Any]:
    """A workflow with its model, its jobs and (``with_form``) what the job dialog offers."""
    wf = find_workflow(ws, name)
    rec = store.get_workflow(ws, name)
    view: dict[str, Any] = {"name": wf.name, "model": wf.model, "created_at": rec.created_at,
                            "jobs": list_jobs(ws, name)}
    if with_form:
        view["form"] = _form(ws, name)
    return view


def _form(ws: Workspace, workflow: str) -> dict[str, Any]:
    """The dialog's choices for this workflow's task; an unloadable model gives its error."""
    try:
        with load_context(ws, workflow) as ctx:
            return ctx.form()
    except (ConfigError, QueryError, DataError, WorkspaceError) as err:  # a damaged or outdated model
        return {"error": str(err)}


# ----------------------------------------------------------------------------------- settings
@dataclass
class ModelContext:
    """A workflow's model and graph, loaded to offer the job dialog's choices for its task."""

    model: JobModel
    graph: Graph
    task: TaskInfo
    data: DataRange

    def form(self) -> dict[str, Any]:
        return task_form(self.model.ref, self.model.query_text, self.task, self.data)


@contextmanager
def load_context(ws: Workspace, workflow: str) -> Iterator[ModelContext]:
    """Load the workflow's model and graph the way a job does (same loader seam)."""
    rec = store.get_workflow(ws, workflow)
    model = load_workflow_model(ws, rec.model, default_loader())
    graph = job_graph(ws, model, PREVIEW_IDS[0])  # connector tables fetched for this look only
    try:
        base = model.bound_query(graph)
        yield ModelContext(model, graph, task_info(model, base), data_range(base, graph))
    finally:
        _close(graph)


def check_settings(ws: Workspace, workflow: str, raw: RawSettings,
                   output_roots: Sequence[str | Path] | None = None) -> dict[str, Any]:
    """Validate ``raw`` as ``job run`` would; the settings a job would get, or SettingsError."""
    prepared, settings, warnings = prepare(ws, workflow, raw, "check", output_roots=output_roots)
    prepared.close()
    out = settings.to_json()
    if not raw.output:
        out["destination"]["path"] = None  # the job's own folder in the workspace
    return {"settings": out, "warnings": warnings}


def _close(graph: Graph) -> None:
    graph.close()


def dry_run(ws: Workspace, workflow: str, raw: RawSettings) -> DryRun:
    """What a job of ``raw`` would do (entities, shards, time and size), writing nothing."""
    return jobs.dryrun.dry_run(ws, workflow, raw)


# ----------------------------------------------------------------------------------- jobs
def create_job(ws: Workspace, workflow: str, raw: RawSettings,
               output_roots: Sequence[str | Path] | None = None) -> Job:
    """Validate ``raw`` and record a queued job; :meth:`Job.start` runs it (here or detached).
    ``output_roots``: the folders a local output must lie in (a server's; ``None``: anywhere)."""
    job, _ = jobs.create_job(workflow, raw, ws, output_roots=output_roots)
    return job


def submit_job(ws: Workspace, workflow: str, raw: RawSettings,
               output_roots: Sequence[str | Path] | None = None) -> Job:
    """Validate, record and start a job in a background process (it outlives the request)."""
    return create_job(ws, workflow, raw, output_roots).start(detach=True)  # as `job run --detach`


def cancel_job(ws: Workspace, job_id: str) -> dict[str, Any]:
    """Ask a job to stop; a job with nothing to cancel is a :class:`ConflictError`."""
    find_job(ws, job_id).cancel()
    return job_view(ws, job_id)


def resume_job(ws: Workspace, job_id: str, detach: bool = True,
               on_progress: Callable[[JobProgress], None] | None = None) -> dict[str, Any]:
    """Run a failed, cancelled or orphaned job again, keeping finished shards: in the background,
    or (``detach=False``) here until it ends; a job that cannot resume is a ConflictError."""
    find_job(ws, job_id).resume(detach, on_progress)
    return job_view(ws, job_id)


def list_jobs(ws: Workspace, workflow: str | None = None) -> list[dict[str, Any]]:
    """Jobs, newest first (of one workflow when given), as short views."""
    if workflow is not None:
        find_workflow(ws, workflow)
    return [job_row(lease.settle(ws, rec)) for rec in store.list_jobs(ws, workflow)]


def job_view(ws: Workspace, job_id: str) -> dict[str, Any]:
    """Everything the job page shows: record, live progress, and the summary once succeeded."""
    job = find_job(ws, job_id)
    rec, progress = job.record(), job.progress()
    alive = control.runner_alive(rec)
    orphaned = rec.status in IN_PROGRESS and rec.runner_pid is not None and not alive
    return {**job_row(rec), "settings": rec.settings.to_json(), "warnings": list(rec.warnings),
            "error": rec.error, "started_at": rec.started_at, "progress": progress_view(progress),
            "runner_alive": alive, "can_cancel": rec.status in CANCELABLE and not orphaned,
            "can_resume": rec.status in RESUMABLE or orphaned,
            "finished": rec.status not in IN_PROGRESS, "events": job.events(20),
            "summary": rec.summary if rec.status in SUCCESSFUL else None}


def job_result(ws: Workspace, job_id: str) -> dict[str, Any]:
    """A succeeded job's manifest and summary (``job summary``); otherwise a ConflictError."""
    result = find_job(ws, job_id).result()
    return {"manifest": result.manifest, "summary": result.summary}


# ----------------------------------------------------------------------------------- recovery
def recover_orphans(ws: Workspace, grace_seconds: float = ORPHAN_GRACE_SECONDS) -> list[str]:
    """Mark jobs whose runner process is gone as failed (hence resumable); return their ids.

    Runners are detached, so a job keeps running across a server restart; only a job whose runner
    died (machine restart, kill) is marked. A queued job without a runner is left alone for
    ``grace_seconds``: another process may be about to run it in the foreground.
    """
    found = []
    for rec in store.list_jobs(ws):
        if rec.status in IN_PROGRESS and _orphaned(rec, grace_seconds):
            control.finish(ws, rec.id, JobStatus.FAILED, error=ORPHAN_ERROR)
            found.append(rec.id)
    return found


def _orphaned(rec: store.JobRecord, grace_seconds: float) -> bool:
    if control.runner_alive(rec):
        return False
    if rec.runner_pid is not None:
        return True
    created = store.parse_iso(rec.created_at)
    age = (datetime.now(UTC).replace(tzinfo=None) - created).total_seconds() if created else 0.0
    return age > grace_seconds
