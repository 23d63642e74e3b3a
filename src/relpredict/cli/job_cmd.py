"""``relpredict job …``: run batch prediction jobs, follow them, and read what they wrote.

Each command calls :mod:`relpredict.service.jobs`, as the REST API and the web pages do, and
renders the result.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table as RichTable

from relpredict.cli.console import make_console
from relpredict.cli.job_options import job_settings_options
from relpredict.workspace import Workspace

app = typer.Typer(help="Batch prediction jobs: run, status, watch, cancel, resume, summary, list, download.",
                  no_args_is_help=True)

HOME = typer.Option(None, "--home", help="Workspace folder (default: $RELPREDICT_HOME or ./.relpredict).")
JOB_ID = typer.Argument(..., help="The job id (`relpredict job list` shows them).")


@app.command("run")
@job_settings_options()
def run(
    workflow: str = typer.Argument(..., help="The workflow to run a job of."),
    detach: bool = typer.Option(False, "--detach", help="Run in the background and print the job id."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Validate, count entities and estimate time and size; write nothing."),
    home: Path | None = HOME,
    *, raw: Any = None,
) -> None:
    """Run a batch prediction job of WORKFLOW: a progress bar, then where the outputs are."""
    from relpredict.service import jobs as service

    ws = Workspace.open(home)
    console = make_console()
    if dry_run:
        _print_dry_run(console, service.dry_run(ws, workflow, raw))
        return
    if detach:
        typer.echo(service.submit_job(ws, workflow, raw).id)
        return
    job = service.create_job(ws, workflow, raw)
    console.print(f"Job [bold]{job.id}[/bold] of workflow {workflow} (model {job.record().model_ref})",
                  highlight=False)
    _follow(console, job, lambda cb: job.start(on_progress=cb))


@app.command("resume")
def resume(job_id: str = JOB_ID,
           detach: bool = typer.Option(False, "--detach", help="Resume in the background."),
           home: Path | None = HOME) -> None:
    """Resume a failed, cancelled or killed job: finished shards are kept, the rest run."""
    from relpredict.service import jobs as service

    ws = Workspace.open(home)
    job = service.find_job(ws, job_id)
    if detach:
        service.resume_job(ws, job_id)
        typer.echo(job.id)
        return
    _follow(make_console(), job, lambda cb: service.resume_job(ws, job_id, detach=False, on_progress=cb))


@app.command("status")
def status(job_id: str = JOB_ID, home: Path | None = HOME) -> None:
    """Status, stage, progress per worker, times, ETA, warnings and error of a job."""
    from relpredict.service import jobs as service

    _print_status(make_console(), service.find_job(Workspace.open(home), job_id))


@app.command("watch")
def watch(job_id: str = JOB_ID, home: Path | None = HOME) -> None:
    """Follow a running job with a progress bar until it ends."""
    from relpredict.service import jobs as service

    job = service.find_job(Workspace.open(home), job_id)
    _follow(make_console(), job, lambda cb: _poll(job, cb))


@app.command("cancel")
def cancel(job_id: str = JOB_ID, home: Path | None = HOME) -> None:
    """Cancel a queued or running job (its workers stop between shards)."""
    from relpredict.service import jobs as service

    status_ = service.cancel_job(Workspace.open(home), job_id)["status"]
    note = "" if status_ == "cancelled" else "; it stops after the shards in progress"
    make_console().print(f"Job {job_id}: cancel requested ({status_}{note}).", highlight=False)


@app.command("summary")
def summary(job_id: str = JOB_ID, home: Path | None = HOME) -> None:
    """What a succeeded job wrote: entities, rows and bytes per output, scores, backtest."""
    from relpredict.service import jobs as service

    _print_summary(make_console(), service.job_result(Workspace.open(home), job_id)["summary"])


@app.command("list")
def list_(workflow: str | None = typer.Option(None, "--workflow", help="Only jobs of this workflow."),
          home: Path | None = HOME) -> None:
    """List jobs, newest first."""
    from relpredict.service import jobs as service

    table = RichTable("Job", "Workflow", "Model", "Status", "Stage", "Entities", "Created", "Ended")
    for row in service.list_jobs(Workspace.open(home), workflow):
        table.add_row(row["id"], row["workflow"], row["model"], row["status"], row["stage"],
                      str(row["entities_total"] or ""), row["created_at"], row["ended_at"] or "")
    make_console().print(table)


@app.command("download")
def download(job_id: str = JOB_ID,
             out: Path = typer.Option(..., "--out", "-o", help="File to write the sample to."),
             file_format: str | None = typer.Option(None, "--format", help="csv or parquet (default: from --out's extension)."),
             output: str | None = typer.Option(None, "--output", help="predictions or embeddings (default: the job's first output)."),
             home: Path | None = HOME) -> None:
    """Write the sample a job kept in the workspace (its whole output when under the cap)."""
    from relpredict.cli.outfile import check_out_file
    from relpredict.service import jobs as service

    check_out_file(out, "--out")
    path = service.find_job(Workspace.open(home), job_id).download(out, file_format, output)
    make_console().print(f"Wrote {path}", highlight=False)


# ----------------------------------------------------------------------------------- rendering
def _poll(job: Any, callback: Any) -> None:
    """Follow a job that another process runs, until it finishes or its runner is gone."""
    from relpredict.jobs import FINISHED
    from relpredict.jobs.control import runner_alive

    while True:
        callback(job.progress())
        status_ = job.wait(timeout=0.3)
        if status_ in FINISHED or not runner_alive(job.record()):
            return


def _follow(console: Console, job: Any, start: Any) -> None:
    """Run ``start(callback)`` under a progress bar, then print the outcome; exit 1 unless succeeded."""
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn(), TextColumn("{task.fields[eta]}"))
    with Progress(*columns, console=console, transient=False) as bar:
        main = bar.add_task("queued", total=None, eta="")
        per_worker: dict[int, Any] = {}

        def update(p: Any) -> None:
            eta = f"ETA {p.eta_seconds:.0f}s" if p.eta_seconds is not None else ""
            bar.update(main, description=f"{p.stage.value:<30}", total=p.entities_total,
                       completed=p.entities_done, eta=eta)
            for w in p.workers:
                if w.worker not in per_worker:
                    per_worker[w.worker] = bar.add_task(f"  worker {w.worker}", total=w.entities_total, eta="")
                bar.update(per_worker[w.worker], total=w.entities_total, completed=w.entities_done)

        try:
            start(update)
        finally:
            update(job.progress())
    _print_outcome(console, job)


def _print_outcome(console: Console, job: Any) -> None:
    from relpredict.jobs.control import runner_alive

    rec = job.record()
    for warning in rec.warnings:
        console.print(f"[yellow]Warning:[/yellow] {escape(warning)}")
    if rec.status.value not in ("succeeded", "succeeded_with_errors"):
        console.print(f"Job {rec.id} is {rec.status.value}" + (f": {escape(rec.error)}" if rec.error else "."),
                      highlight=False)
        if rec.status.value in ("failed", "cancelled") or not runner_alive(rec):
            console.print(f"Resume it with [bold]relpredict job resume {rec.id}[/bold].")
        raise typer.Exit(1)
    _print_summary(console, rec.summary or {})
    console.print(f"Sample kept in the workspace: [bold]relpredict job download {rec.id} --out FILE[/bold]",
                  highlight=False)


def _print_summary(console: Console, data: dict[str, Any]) -> None:
    console.print(f"[bold]Entities predicted[/bold] {data.get('entities', 0) - data.get('errors', 0):,}")
    if data.get("errors"):
        console.print(f"[yellow]{data['errors']:,} entities failed to score[/yellow]: each is a row "
                      "(ENTITY, ERROR) of the errors output below.", highlight=False)
    for name, out in data.get("outputs", {}).items():
        console.print(f"[bold]{name}[/bold]: {out['rows']:,} rows, {out['bytes']:,} bytes in "
                      f"{len(out['files'])} file(s)", highlight=False)
        for f in out["files"]:
            console.print(f"  {f['path']}", highlight=False)
        sample = out["sample"]
        kept = "all of it" if sample["complete"] else f"the first {sample['rows']:,} rows"
        console.print(f"  sample: {kept} → {sample['path']}", highlight=False)
        if out.get("histogram"):
            _print_histogram(console, out["histogram"])
    backtest = data.get("backtest") or {}
    if backtest.get("metric"):
        value = "n/a" if backtest["value"] is None else f"{backtest['value']:.4f}"
        console.print(f"[bold]Backtest[/bold] {backtest['metric']} = {value} over {backtest['entities']:,} "
                      f"entities (what happened up to {backtest['window_end']})", highlight=False)
    elif backtest.get("skipped"):
        console.print(f"Backtest: none ({escape(backtest['skipped'])})", highlight=False)
    if data.get("drift"):
        _print_drift(console, data["drift"])


def _print_drift(console: Console, drift: dict[str, Any]) -> None:
    """The drift table: PSI against the validation split, flagged above 0.1 and 0.25."""
    ents = drift.get("entities") or {}
    if ents.get("previous"):
        console.print(f"Entities {ents['count']:,} vs {ents['previous']:,} in the previous job "
                      f"{ents['previous_job']} ({100 * ents['change']:+.1f} %)", highlight=False)
    if not drift.get("available"):
        console.print(f"Drift: not available ({escape(drift.get('reason', ''))})", highlight=False)
        return
    unseen = drift.get("unseen")
    if unseen:
        console.print(f"Entities not seen in training: {unseen['count']:,} ({100 * unseen['share']:.1f} %)",
                      highlight=False)
    table = RichTable("Drift vs " + escape(drift["reference"]), "PSI", "Flag")
    style = {"major": "[red]major (> 0.25)[/red]", "moderate": "[yellow]moderate (> 0.1)[/yellow]",
             "ok": "ok", "n/a": "n/a"}
    for item in [drift["score"], *drift["features"]]:
        psi = "n/a" if item["psi"] is None else f"{item['psi']:.3f}"
        table.add_row(escape(item["label"]), psi, style[item["flag"]])
    console.print(table)


def _print_histogram(console: Console, hist: dict[str, Any]) -> None:
    counts, edges = hist["counts"], hist["edges"]
    top = max(counts) or 1
    console.print(f"  {hist['column']} distribution:")
    for i, n in enumerate(counts):
        console.print(f"    [{edges[i]:>9.4g}, {edges[i + 1]:>9.4g})  {'█' * round(30 * n / top):<30} {n:,}",
                      highlight=False)


def _print_status(console: Console, job: Any) -> None:
    rec, p = job.record(), job.progress()
    console.print(f"[bold]{rec.id}[/bold]  workflow {rec.workflow}  model {rec.model_ref}", highlight=False)
    console.print(f"Status  {rec.status.value}   stage {rec.stage.value}", highlight=False)
    if rec.settings.dask:
        console.print(f"Dask scheduler {escape(rec.settings.dask)}", highlight=False)
    if p.entities_total:
        console.print(f"Entities {p.entities_done:,} / {p.entities_total:,} ({p.shards_done} of "
                      f"{p.shards_total} shards)", highlight=False)
    for w in p.workers:
        console.print(f"  worker {w.worker}: {w.entities_done:,} / {w.entities_total:,}"
                      + (f"  error: {escape(w.error)}" if w.error else ""), highlight=False)
    console.print(f"Created {rec.created_at}  started {rec.started_at or '-'}  ended {rec.ended_at or '-'}",
                  highlight=False)
    if p.eta_seconds is not None:
        console.print(f"ETA {p.eta_seconds:.0f} s")
    for warning in rec.warnings:
        console.print(f"[yellow]Warning:[/yellow] {escape(warning)}")
    for event in job.events(5):
        console.print(f"Event {event.get('at', '')}  {escape(str(event.get('message', '')))}", highlight=False)
    if rec.error:
        console.print(f"[red]Error:[/red] {escape(rec.error)}")


def _print_dry_run(console: Console, dry: Any) -> None:
    console.print("[bold]Dry run[/bold]: settings are valid; nothing was written.")
    for warning in dry.warnings:
        console.print(f"[yellow]Warning:[/yellow] {escape(warning)}")
    console.print(f"Anchor time        {dry.settings['anchor_time'] or '(static query)'}", highlight=False)
    console.print(f"Entities           {dry.entities:,} in {dry.shards} shard(s)")
    console.print(f"Estimated run time {dry.estimated_seconds:,.2f} s with {dry.settings['workers']} "
                  f"worker(s) (timed on {dry.sampled_entities:,} entities)")
    for output, size in dry.estimated_bytes.items():
        console.print(f"Estimated {output:<12} {_size(size)} ({dry.settings['destination']['file_type']})")


def _size(n: float) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:,.0f} {unit}" if unit == "bytes" else f"{n:,.1f} {unit}"
        n /= 1024
    return f"{n:,.1f} TB"
