"""The ``relpredict`` command line.

Every command is a thin shell over the library: it parses options, calls one function, and
renders the result with Rich. A :class:`~relpredict.errors.RelpredictError` is printed as its
message, without a traceback, and the command exits with status 1.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import typer
from rich.markup import escape

from relpredict import __version__
from relpredict.cli import connector_cmd, graph_cmd, job_cmd, model_cmd, query_cmd, workflow_cmd
from relpredict.cli.console import make_console
from relpredict.cli.scheduler_cmd import scheduler
from relpredict.cli.serve_cmd import serve
from relpredict.errors import RelpredictError

app = typer.Typer(
    name="relpredict",
    help="Predictive queries over related tables: graphs, queries, models and batch prediction jobs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(graph_cmd.app, name="graph")
app.add_typer(query_cmd.app, name="query")
app.add_typer(workflow_cmd.app, name="workflow")
app.add_typer(job_cmd.app, name="job")
app.add_typer(model_cmd.app, name="models")
app.add_typer(connector_cmd.app, name="connector")
app.command("train")(model_cmd.train)
app.command("serve")(serve)
app.command("scheduler")(scheduler)
err_console = make_console(stderr=True)
DEBUG_ENV = "RELPREDICT_DEBUG"


def _version(value: bool) -> None:
    if value:
        typer.echo(f"relpredict {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool | None = typer.Option(None, "--version", callback=_version, is_eager=True,
                                           help="Print the version and exit."),
) -> None:
    """relpredict: turn a one-line predictive query over related tables into predictions."""


@app.command("demo-data")
def demo_data(
    out: Path = typer.Argument(..., help="Folder to write the Parquet files and graph.yaml into."),
    customers: int = typer.Option(10_000, "--customers", help="Number of customers (about 10 transactions each)."),
    seed: int = typer.Option(0, "--seed", help="Random seed: the same seed writes the same data."),
) -> None:
    """Write a synthetic online store (customers, products, transactions) and its graph.yaml."""
    from relpredict.cli.outfile import check_out_folder
    from relpredict.demo.generator import generate

    check_out_folder(out, "OUT")
    console = make_console()
    with console.status("Generating demo data…") as status:
        summary = generate(out, customers=customers, seed=seed, progress=lambda m: status.update(m))
    for table, rows in summary.rows.items():
        console.print(f"  {table:<14} {rows:>12,} rows")
    console.print(f"Wrote {out}/graph.yaml in {summary.seconds:.1f} s. Next: "
                  f"[bold]relpredict graph inspect {out}/graph.yaml[/bold]")


def main() -> None:
    """Entry point of the console script: library errors become a message and exit status 1."""
    try:
        code = app(standalone_mode=False, prog_name="relpredict")
        if isinstance(code, int) and code:  # a command's typer.Exit(n), returned by click here
            sys.exit(code)
    except RelpredictError as err:
        # The message may quote data values such as '[a]', which are not Rich markup.
        err_console.print(f"[bold red]Error:[/bold red] {escape(str(err))}", highlight=False,
                          markup=True, soft_wrap=True)
        sys.exit(1)
    except typer.Abort:
        err_console.print("Aborted.")
        sys.exit(130)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except Exception as exc:  # click usage errors and the like
        import click

        # Typer >= 0.2x vendors click (typer._click): its usage errors are TyperExceptions, not
        # click.ClickException; both have show() and exit_code.
        if isinstance(exc, (click.ClickException, typer.TyperException)) and hasattr(exc, "show"):
            exc.show()
            sys.exit(exc.exit_code)
        if os.environ.get(DEBUG_ENV):
            raise
        # A failure no check foresaw: still a message, not a traceback (RELPREDICT_DEBUG=1 shows it).
        err_console.print(f"[bold red]Error:[/bold red] {escape(unexpected_message(exc))}",
                          highlight=False, markup=True, soft_wrap=True)
        sys.exit(1)


def unexpected_message(exc: BaseException) -> str:
    """What the user is told about an error no check of relpredict caught (no traceback)."""
    first = (str(exc).strip().splitlines() or [""])[0][:300]
    return (f"relpredict failed unexpectedly ({type(exc).__name__}{': ' + first if first else ''}). "
            f"This is a bug: please report it with the command you ran; {DEBUG_ENV}=1 shows the "
            "traceback.")


if __name__ == "__main__":
    main()
