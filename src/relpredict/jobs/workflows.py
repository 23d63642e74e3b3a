"""Workflows and jobs as Python objects (what ``relpredict.jobs`` exports), mirroring the CLI.

:class:`Workflow` names a model to run jobs of; :class:`Job` is a handle on one job record by id
(status, progress, wait, cancel, resume, result, download). The CLI, the REST API and the web
pages reach them through :mod:`relpredict.service.jobs`.

>>> from relpredict.jobs import Workflow
>>> wf = Workflow.create("churn-weekly", model="churn")                 # doctest: +SKIP
>>> job = wf.run(anchor_time="2024-02-27", workers=2, output="out/churn.parquet", detach=True)  # doctest: +SKIP
>>> job.wait().value, job.result().manifest["outputs"]["predictions"]["rows"]  # doctest: +SKIP
"""

from __future__ import annotations

import builtins
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq

from relpredict.errors import ConfigError, ConflictError, NotFoundError, QueryError, SettingsError
from relpredict.jobs import control, lease, schedules, store
from relpredict.jobs.dryrun import DryRun, dry_run
from relpredict.jobs.lease import check_free, lease_lock
from relpredict.jobs.prepare import Prepared, default_loader, job_dir, load_workflow_model, prepare
from relpredict.jobs.schedules import Schedule
from relpredict.jobs.settings import RawSettings
from relpredict.jobs.sources import drop_job_sources
from relpredict.jobs.status import FINISHED, SUCCESSFUL, JobStatus
from relpredict.sinks.formats import open_writer
from relpredict.sinks.network import read_events
from relpredict.workspace import Workspace

if TYPE_CHECKING:
    from relpredict.jobs.backtests import BacktestRecord

__all__ = ["DryRun", "Job", "JobResult", "Workflow", "create_job"]


def _workspace(workspace: Workspace | str | Path | None) -> Workspace:
    return workspace if isinstance(workspace, Workspace) else Workspace.open(workspace)


@dataclass(frozen=True)
class JobResult:
    """A succeeded job: its manifest (files, rows, schema), summary and the sample files."""

    manifest: dict[str, Any]
    summary: dict[str, Any]
    samples: dict[str, Path]

    def sample(self, output: str = "predictions") -> pa.Table:
        """The sample of an output kept in the workspace, as an Arrow table."""
        return pq.read_table(self.samples[output])


class Job:
    """A batch prediction job in a workspace, by id."""

    def __init__(self, job_id: str, workspace: Workspace | str | Path | None = None) -> None:
        self.workspace = _workspace(workspace)
        self.id = job_id
        store.get_job(self.workspace, job_id)  # fail now on an unknown id
        self.prepared: Prepared | None = None  # the model and graph :func:`create_job` loaded

    def __repr__(self) -> str:
        return f"Job({self.id!r}, status={self.status().value!r})"

    def record(self) -> store.JobRecord:
        """The job's record; a job whose runner died reads (and is recorded) as failed."""
        return lease.settle(self.workspace, store.get_job(self.workspace, self.id))

    def status(self) -> JobStatus:
        return self.record().status

    def progress(self) -> control.JobProgress:
        return control.progress(self.workspace, self.id)

    def events(self, limit: int = 50) -> list[dict[str, Any]]:
        """The job's last events (retries of network calls, ...): ``at``, ``kind``, ``message``."""
        return read_events(job_dir(self.workspace, self.id), limit)

    def wait(self, timeout: float | None = None, poll: float = 0.2) -> JobStatus:
        """Block until the job finishes (or ``timeout`` seconds pass); return its status."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            rec = self.record()
            if rec.status in FINISHED:
                return rec.status
            if deadline is not None and time.monotonic() >= deadline:
                return rec.status
            time.sleep(poll)

    def cancel(self) -> JobStatus:
        return control.cancel_job(self.workspace, self.id).status

    def resume(self, detach: bool = False, on_progress: Any = None) -> Job:
        """Run a failed, cancelled or orphaned job again, keeping its finished shards."""
        control.resume_job(self.workspace, self.id)
        return self.start(detach, on_progress)

    def start(self, detach: bool = False, on_progress: Any = None) -> Job:
        """Run the queued job: here until it ends (``on_progress`` sees each
        :class:`~relpredict.jobs.control.JobProgress`), or with ``detach`` in a background process
        of its own, which outlives this one. A run here reuses the model :func:`create_job` loaded.
        """
        prepared, self.prepared = self.prepared, None
        if detach:
            if prepared is not None:
                prepared.close()
            control.start_detached(self.workspace, self.id)
            return self
        # Imported here, not at the top: ``python -m relpredict.jobs.runner`` imports this package
        # first, and a runner module imported by the package would then run twice.
        from relpredict.jobs.runner import run_job

        run_job(self.workspace, self.id, on_progress=on_progress, prepared=prepared)
        return self

    def result(self) -> JobResult:
        """The outputs of a succeeded job; raises with the job's error otherwise."""
        rec = self.record()
        if rec.status not in SUCCESSFUL:
            why = f": {rec.error}" if rec.error else ""
            raise ConflictError(f"Job {self.id} is {rec.status.value}{why}; it has no result.")
        folder = job_dir(self.workspace, self.id)
        manifest = _read_json(folder / "manifest.json")
        samples = {o: folder / f"sample_{o}.parquet" for o in rec.settings.output_types}
        return JobResult(manifest, rec.summary or {}, samples)

    def download(self, out: str | Path, file_format: str | None = None,
                 output: str | None = None) -> Path:
        """Write the job's sample of ``output`` to ``out`` as CSV or Parquet (default: by extension)."""
        rec = self.record()
        output = output or rec.settings.output_types[0]
        if output not in rec.settings.output_types:
            raise NotFoundError(f"Job {self.id} has no {output} output; it wrote "
                                f"{', '.join(rec.settings.output_types)}.")
        source = job_dir(self.workspace, self.id) / f"sample_{output}.parquet"
        if not source.is_file():
            raise NotFoundError(f"Job {self.id} has no sample yet (it is {rec.status.value}); "
                                "samples are kept when a job succeeds.")
        return _convert(source, Path(out), _format(Path(out), file_format))


def _read_json(path: Path) -> dict[str, Any]:
    import json

    return json.loads(path.read_text()) if path.is_file() else {}


def _format(out: Path, file_format: str | None) -> str:
    kind = (file_format or out.suffix.lstrip(".") or "parquet").lower()
    if kind not in ("csv", "parquet"):
        raise ConfigError(f"Unknown download format {kind!r}: choose csv or parquet.")
    return kind


def _convert(source: Path, out: Path, kind: str) -> Path:
    """Stream a Parquet sample into ``out`` (written under a temporary name, then renamed)."""
    if out.is_dir():
        raise ConfigError(f"The download target {out} is an existing folder: give a file name inside "
                          f"it, e.g. {out / ('sample.' + kind)}.")
    parquet = pq.ParquetFile(source)
    tmp = out.with_name(f".{out.name}.tmp")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        writer = open_writer(str(tmp), kind, parquet.schema_arrow)
        for batch in parquet.iter_batches(batch_size=65_536):
            writer.write(batch)
        writer.close()
        tmp.replace(out)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise ConfigError(f"Cannot write the download to {out}: {err.strerror or err}. Check that its "
                          "folders are folders you can write to.") from None
    return out


def create_job(workflow: str, settings: RawSettings, workspace: Workspace | str | Path | None = None,
               loader: str | None = None, output_roots: Sequence[str | Path] | None = None,
               ) -> tuple[Job, Prepared]:
    """Validate settings and record a queued job; returns the job and its loaded model context
    (kept on the job too, for :meth:`Job.start` in this process). ``output_roots``: the folders a
    local output must lie in (a server's ``--output-root``; ``None``: anywhere writable)."""
    ws = _workspace(workspace)
    job_id = store.new_job_id()
    try:
        prepared, validated, warnings = prepare(ws, workflow, settings, job_id, loader, output_roots)
    except BaseException:
        drop_job_sources(ws, job_id)  # connector tables it fetched for a job never recorded
        raise
    try:
        with lease_lock(ws):  # the record is the job's lease on its destination
            check_free(ws, validated)
            store.create_job_record(ws, job_id, workflow, prepared.model.ref, prepared.loader,
                                    validated, warnings)
    except BaseException:
        prepared.close()
        drop_job_sources(ws, job_id)
        raise
    job = Job(job_id, ws)
    job.prepared = prepared
    return job, prepared


@dataclass(frozen=True)
class Workflow:
    """A named batch prediction workflow of one model; ``run`` starts a job of it."""

    name: str
    model: str
    workspace: Workspace

    @classmethod
    def create(cls, name: str, model: str, workspace: Workspace | str | Path | None = None,
               loader: str | None = None) -> Workflow:
        """Record a workflow after checking that the model loads (``NAME`` or ``NAME@VERSION``).

        A model that does not load is a :class:`SettingsError` of the field ``model``; a bad name
        one of ``name``; a name in use a :class:`ConflictError`.
        """
        ws = _workspace(workspace)
        try:
            load_workflow_model(ws, model, loader or default_loader())
        except (ConfigError, QueryError) as err:  # the loader's message, told as the model field's
            raise SettingsError({"model": str(err)}) from err
        rec = store.create_workflow(ws, name, model)
        return cls(rec.name, rec.model, ws)

    @classmethod
    def get(cls, name: str, workspace: Workspace | str | Path | None = None) -> Workflow:
        ws = _workspace(workspace)
        rec = store.get_workflow(ws, name)
        return cls(rec.name, rec.model, ws)

    @classmethod
    def list(cls, workspace: Workspace | str | Path | None = None) -> list[Workflow]:
        ws = _workspace(workspace)
        return [cls(r.name, r.model, ws) for r in store.list_workflows(ws)]

    def jobs(self) -> builtins.list[Job]:
        return [Job(r.id, self.workspace) for r in store.list_jobs(self.workspace, self.name)]

    def run(self, *, detach: bool = False, loader: str | None = None, on_progress: Any = None,
            **settings: Any) -> Job:
        """Start a job with ``settings`` (the fields of :class:`RawSettings`); wait unless ``detach``."""
        job, _ = create_job(self.name, RawSettings(**settings), self.workspace, loader)
        return job.start(detach, on_progress)

    def dry_run(self, loader: str | None = None, **settings: Any) -> DryRun:
        return dry_run(self.workspace, self.name, RawSettings(**settings), loader)

    def schedule(self, cron: str, **settings: Any) -> Schedule:
        """Run jobs at the minutes of ``cron`` (five fields, UTC) with ``settings`` (checked now,
        as :meth:`run` checks them; no anchor time: the latest data at each run). A scheduler
        starts them: ``relpredict serve`` or ``relpredict scheduler`` (:mod:`.schedules`)."""
        from relpredict.jobs.cron import parse_cron

        raw = RawSettings(**settings)
        parse_cron(cron)
        prepare(self.workspace, self.name, raw, "check")[0].close()
        return schedules.create_schedule(self.workspace, self.name, cron, raw)

    def schedules(self) -> builtins.list[Schedule]:
        return schedules.list_schedules(self.workspace, self.name)

    def backtest(self, start: str | datetime, end: str | datetime, every: str | None = None,
                 loader: str | None = None, **settings: Any) -> BacktestRecord:
        """Run a job of ``settings`` at each anchor from ``start`` to ``end`` (``every``: 12h,
        30d, 2w, 3mo; default the query's target window), here, one after the other; each
        point holds its job, the realised metric and the model's best baseline's
        (:mod:`.backtests`)."""
        from relpredict.jobs.backtests import run_backtest

        return run_backtest(self.workspace, self.name, start, end, every, RawSettings(**settings),
                            create_job, loader)

    def backtests(self) -> builtins.list[BacktestRecord]:
        from relpredict.jobs.backtests import list_backtests

        return list_backtests(self.workspace, self.name)
