"""``relpredict graph …``: infer a graph for a folder of files, inspect and validate one."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table as RichTable

from relpredict.cli.console import make_console
from relpredict.errors import GraphValidationError
from relpredict.graph.graph import Graph
from relpredict.graph.summary import summarize
from relpredict.graph.validate import Finding
from relpredict.graph.yaml_io import dump_graph, load_graph

app = typer.Typer(help="Graphs of tables: infer, inspect, validate.", no_args_is_help=True)

DATA_HELP = "Folder the graph's files are read from (overrides `data:` in the YAML)."


@app.command("infer")
def infer(
    folder: Path = typer.Argument(..., help="Folder of .csv / .parquet files, one table each."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Write the YAML here instead of printing it."),
) -> None:
    """Propose a graph YAML for a folder of files (keys and links guessed) for you to review."""
    from relpredict.graph.infer import infer_graph

    graph, guesses = infer_graph(folder)
    header = [f"# Proposed by `relpredict graph infer {folder}`: review every guess below.",
              *[f"#   {g.table}: {g.what} ({g.evidence})" for g in guesses]]
    text = "\n".join(header) + "\n" + dump_graph(graph, data=str(folder.resolve()))
    if out is None:
        typer.echo(text)
    else:
        out.write_text(text)
        make_console().print(f"Wrote {out}: {len(graph)} tables, {len(graph.links)} links. Review it, then "
                        f"run [bold]relpredict graph inspect {out}[/bold].")


@app.command("inspect")
def inspect(
    graph_yaml: Path = typer.Argument(..., help="The graph YAML file."),
    data: Path | None = typer.Option(None, "--data", help=DATA_HELP),
    strict_keys: bool = typer.Option(False, "--strict-keys",
                                     help="Treat foreign-key values missing from their target table as errors."),
) -> None:
    """Show tables, row counts, keys, time ranges, links and validation findings."""
    graph = load_graph(graph_yaml, data=data)
    findings = graph.validate(missing_keys="error" if strict_keys else "warn")
    console = make_console()
    _print_tables(console, graph)
    console.print(f"\n[bold]{len(graph.links)} links[/bold]")
    for link in graph.links:
        console.print(f"  {link}")
    _print_findings(console, findings)
    if any(f.severity == "error" for f in findings):
        raise GraphValidationError(findings)


def _print_tables(console: Console, graph: Graph) -> None:
    table = RichTable(title=f"Graph {graph.name}: {len(graph)} tables")
    for col in ("table", "rows", "cols", "primary key", "foreign keys", "time column", "from", "to"):
        table.add_column(col, justify="right" if col in ("rows", "cols") else "left")
    for s in summarize(graph):
        fks = ", ".join(f"{c}→{t}" for c, t in s.foreign_keys.items())
        table.add_row(s.name, f"{s.rows:,}", str(s.columns), s.primary_key or "", fks,
                      s.time_column or "", _day(s.time_min), _day(s.time_max))
    console.print(table)


def _day(value: object) -> str:
    return str(value)[:10] if value is not None else ""


def _print_findings(console: Console, findings: list[Finding]) -> None:
    if not findings:
        console.print("\n[green]Validation: no findings.[/green]")
        return
    console.print(f"\n[bold]Validation: {len(findings)} finding(s)[/bold]")
    for f in findings:
        style = "red" if f.severity == "error" else "yellow"
        console.print(f"  [{style}]{f.severity}[/{style}] {escape(f.message)}", highlight=False)
