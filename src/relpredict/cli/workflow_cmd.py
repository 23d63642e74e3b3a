"""``relpredict workflow …``: batch prediction workflows (a named use of a trained model).

Each command calls :mod:`relpredict.service.jobs`, as the REST API and the web pages do.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.markup import escape
from rich.table import Table as RichTable

from relpredict.cli.console import make_console
from relpredict.cli.job_options import job_settings_options
from relpredict.workspace import Workspace

app = typer.Typer(help="Batch prediction workflows: create, list, show, schedule, backtest.", no_args_is_help=True)

HOME = typer.Option(None, "--home", help="Workspace folder (default: $RELPREDICT_HOME or ./.relpredict).")


@app.command("create")
def create(
    name: str = typer.Argument(..., help="Workflow name (letters, digits, '_', '.', '-')."),
    model: str = typer.Option(..., "--model", "-m", help="Model NAME (its latest version at each job) or NAME@VERSION."),
    home: Path | None = HOME,
) -> None:
    """Create a workflow for a trained model; run jobs of it with `relpredict job run NAME`."""
    from relpredict.service import jobs as service

    wf = service.create_workflow(Workspace.open(home), name, model)
    make_console().print(f"Created workflow [bold]{wf.name}[/bold] of model {wf.model}. Next: "
                         f"[bold]relpredict job run {wf.name} --workers 2 --output out/{wf.name}.parquet[/bold]",
                         highlight=False)


@app.command("list")
def list_(home: Path | None = HOME) -> None:
    """List the workflows of the workspace with their latest job."""
    from relpredict.service import jobs as service

    table = RichTable("Workflow", "Model", "Created", "Jobs", "Latest job", "Status")
    for wf in service.list_workflows(Workspace.open(home)):
        latest = wf["latest_job"] or {}
        table.add_row(wf["name"], wf["model"], wf["created_at"], str(wf["jobs"]),
                      latest.get("id", ""), latest.get("status", ""))
    make_console().print(table)


@app.command("show")
def show(name: str = typer.Argument(..., help="Workflow name."), home: Path | None = HOME) -> None:
    """Show a workflow and its jobs."""
    from relpredict.service import jobs as service

    wf = service.workflow_view(Workspace.open(home), name, with_form=False)
    console = make_console()
    console.print(f"[bold]{wf['name']}[/bold]  model {wf['model']}  created {wf['created_at']}",
                  highlight=False)
    table = RichTable("Job", "Status", "Stage", "Entities", "Created", "Ended")
    for job in wf["jobs"]:
        table.add_row(job["id"], job["status"], job["stage"], str(job["entities_total"] or ""),
                      job["created_at"], job["ended_at"] or "")
    console.print(table)


@app.command("schedule")
@job_settings_options()
def schedule(
    name: str = typer.Argument(..., help="The workflow to run jobs of."),
    cron: str = typer.Option(..., "--cron", help="When, in UTC: minute hour day-of-month month day-of-week, e.g. \"0 6 * * 1\" (Mondays 06:00)."),
    home: Path | None = HOME,
    *, raw: Any = None,
) -> None:
    """Run jobs of a workflow on a cron schedule (by `relpredict serve` or `relpredict scheduler`);
    a blank --anchor-time means the latest data at each run."""
    from relpredict.service import schedules as service

    s = service.schedule_workflow(Workspace.open(home), name, cron, raw)
    make_console().print(f"Schedule [bold]{s['id']}[/bold]: workflow {s['workflow']} at '{s['cron']}' "
                         f"(UTC), next run {s['next_run']}. Jobs start while `relpredict serve` or "
                         "`relpredict scheduler` runs.", highlight=False)


@app.command("schedules")
def schedules(name: str | None = typer.Argument(None, help="Only this workflow's schedules."),
              home: Path | None = HOME) -> None:
    """List schedules with their next run (UTC) and latest job."""
    from relpredict.service import schedules as service

    table = RichTable("Schedule", "Workflow", "Cron (UTC)", "Next run", "Last slot", "Last job")
    for s in service.list_schedules(Workspace.open(home), name):
        last = s["last_job"] or (f"not started: {s['last_error']}" if s["last_error"] else "")
        table.add_row(str(s["id"]), s["workflow"], s["cron"], s["next_run"] or "never",
                      s["last_slot"], escape(last))
    make_console().print(table)


@app.command("unschedule")
def unschedule(schedule_id: int = typer.Argument(..., help="The schedule's id (`relpredict workflow schedules`)."),
               home: Path | None = HOME) -> None:
    """Remove a schedule; the jobs it started stay."""
    from relpredict.service import schedules as service

    s = service.unschedule(Workspace.open(home), schedule_id)
    make_console().print(f"Removed schedule {s['id']} of workflow {s['workflow']} ('{s['cron']}').",
                         highlight=False)


@app.command("backtest")
@job_settings_options(exclude=("anchor_time",))
def backtest(
    name: str = typer.Argument(..., help="The workflow whose settings to run at past anchors."),
    start: str = typer.Option(..., "--from", help="The first anchor time (ISO 8601, e.g. 2024-01-01)."),
    end: str = typer.Option(..., "--to", help="The last anchor time; its target window must be in the data."),
    every: str | None = typer.Option(None, "--every", help="Step between anchors: 12h, 30d, 2w or 3mo (default: the query's target window)."),
    detach: bool = typer.Option(False, "--detach", help="Run the jobs in the background and print the backtest id."),
    home: Path | None = HOME,
    *, raw: Any = None,
) -> None:
    """Run the workflow's job at each anchor from --from to --to (one normal job each, with its
    outputs; --output out/p.parquet gives each anchor its own, out/p_20240101.parquet) and print
    the realised metric per anchor beside the model's best baseline's."""
    from relpredict.service import backtests as service

    ws = Workspace.open(home)
    console = make_console()
    if detach:
        typer.echo(service.backtest_workflow(ws, name, start, end, every, raw)["id"])
        return

    def shown(point: Any) -> None:
        console.print(f"  anchor {point.anchor}: job {point.job_id} {point.metric or ''} "
                      f"{_number(point.value)}" + (f" ({escape(point.error)})" if point.error else ""),
                      highlight=False)

    result = service.backtest_workflow(ws, name, start, end, every, raw, detach=False, on_point=shown)
    _print_backtest(console, result)


@app.command("backtests")
def backtests(name: str = typer.Argument(..., help="Workflow name."), home: Path | None = HOME) -> None:
    """The workflow's backtests, newest first: the metric per anchor against the baseline."""
    from relpredict.service import backtests as service

    console = make_console()
    for result in service.list_backtests(Workspace.open(home), name):
        _print_backtest(console, result)


def _number(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def _print_backtest(console: Any, result: dict[str, Any]) -> None:
    points = result["points"]
    metric = next((p["metric"] for p in points if p["metric"]), "metric")
    baseline = next((p["baseline"] for p in points if p["baseline"]), None)
    console.print(f"[bold]Backtest {result['id']}[/bold] of {result['workflow']}: "
                  f"{result['settings']['from']} to {result['settings']['to']} every "
                  f"{result['settings']['every']}", highlight=False)
    table = RichTable("Anchor", "Job", f"Model {metric}", f"Baseline {metric}", "Entities", "Note")
    for p in points:
        table.add_row(p["anchor"], p["job_id"] or "", _number(p["value"]), _number(p["baseline_value"]),
                      "" if p["entities"] is None else f"{p['entities']:,}", escape(p["error"] or ""))
    console.print(table)
    if baseline:
        console.print(f"Baseline: {escape(baseline)} (the model's best on validation).", highlight=False)
