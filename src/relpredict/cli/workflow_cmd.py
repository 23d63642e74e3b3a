"""``relpredict workflow …``: batch prediction workflows (a named use of a trained model).

Each command calls :mod:`relpredict.service.jobs`, as the REST API and the web pages do.
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table as RichTable

from relpredict.cli.console import make_console
from relpredict.workspace import Workspace

app = typer.Typer(help="Batch prediction workflows: create, list, show.", no_args_is_help=True)

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
