"""``relpredict train`` and ``relpredict models list | show``: train and inspect model versions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table as RichTable

from relpredict.cli.console import make_console
from relpredict.cli.query_cmd import DATA, GRAPH, parse_when
from relpredict.errors import ConfigError
from relpredict.graph.yaml_io import load_graph
from relpredict.sinks.sources import SourceCache
from relpredict.workspace import Workspace

app = typer.Typer(help="Trained models: list their versions, show one.", no_args_is_help=True)
HOME = typer.Option(None, "--home", help="Workspace folder (default: $RELPREDICT_HOME or ./.relpredict).")


def train(
    graph_yaml: Path = GRAPH,
    data: Path | None = DATA,
    query: str = typer.Option(..., "--query", "-q", help="The predictive query (PQL)."),
    name: str = typer.Option(..., "--name", "-n", help="Model name; training again adds a version."),
    model: str = typer.Option("auto", "--model", "-m",
                              help="auto (GNN and LightGBM, blended on validation), gnn or lightgbm."),
    seed: int = typer.Option(0, "--seed", help="Random seed: the same seed trains the same model."),
    epochs: int | None = typer.Option(None, "--epochs", help="Most GNN epochs (early stopping may end sooner)."),
    val_start: str | None = typer.Option(None, "--val-start", help="First validation anchor (ISO 8601)."),
    test_start: str | None = typer.Option(None, "--test-start", help="First test anchor (ISO 8601)."),
    max_eval: int = typer.Option(40, "--max-eval", help="At most this many validation and test anchors each."),
    home: Path | None = HOME,
) -> None:
    """Train a model for a query and store it in the workspace as NAME (next version)."""
    from dataclasses import replace

    from relpredict.model.artifact import check_name, save_model
    from relpredict.model.fit import TrainOptions, train_model

    check_name(name)
    ws = Workspace.open(home)
    graph = load_graph(graph_yaml, data=data)
    graph.sources = SourceCache(ws)  # connector tables through this workspace's connectors
    opts = TrainOptions(kind=model, seed=seed, val_start=parse_when(val_start, "--val-start"),
                        test_start=parse_when(test_start, "--test-start"), max_eval=max_eval)
    if epochs is not None:
        if epochs < 1:
            raise ConfigError(f"--epochs must be at least 1, not {epochs}.")
        opts = replace(opts, gnn=replace(opts.gnn, max_epochs=epochs))
    console = make_console()
    columns = [TextColumn("{task.description:<28}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
               TimeElapsedColumn()]
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task("starting", total=1)

        def report(stage: str, done: int, total: int) -> None:
            bar.update(task, description=stage, completed=done, total=max(total, 1))

        trained = train_model(graph, query, opts, progress=report)
    trained = save_model(ws, trained, name, graph)
    console.print(f"Trained [bold]{trained.ref}[/bold] ({trained.kind}, {trained.task_type.value}) "
                  f"in {trained.info['train_seconds']:.1f} s")
    _print_metrics(console, trained.metrics)
    _print_margin(console, trained.metrics)
    for warning in trained.info.get("warnings", []):
        console.print(f"[yellow]Warning:[/yellow] {warning}", highlight=False)


@app.command("list")
def list_(home: Path | None = HOME, name: str | None = typer.Argument(None, help="Only this model's versions.")) -> None:
    """Every model version in the workspace, newest first."""
    from relpredict.model.artifact import list_models

    rows = list_models(Workspace.open(home), name)
    console = make_console()
    if not rows:
        console.print("No models yet. Train one with: relpredict train --graph G.yaml --query \"...\" --name NAME")
        return
    table = RichTable("model", "kind", "task", "validation", "test", "created", "query")
    for r in rows:
        table.add_row(f"{r['name']}@{r['version']}", r["kind"], r["task_type"], _headline(r["metrics"].get("val")),
                      _headline(r["metrics"].get("test")), r["created_at"], r["query"])
    console.print(table)


@app.command("show")
def show(ref: str = typer.Argument(..., help="NAME (latest version) or NAME@VERSION."),
         home: Path | None = HOME,
         as_json: bool = typer.Option(False, "--json", help="Print the whole record as JSON.")) -> None:
    """One model version: query, kind, metrics, calibration, training details."""
    from relpredict.model.artifact import load_model

    m = load_model(Workspace.open(home), ref)
    console = make_console()
    if as_json:
        typer.echo(json.dumps({"ref": m.ref, "kind": m.kind, "task_type": m.task_type.value, "query": m.query_text,
                               "seed": m.seed, "blend": m.blend,
                               "baseline": m.baseline.name if m.baseline else None,
                               "baseline_weight": m.baseline_weight, "metrics": m.metrics,
                               "info": {k: v for k, v in m.info.items() if k != "graph"}}, indent=1, default=str))
        return
    console.print(f"[bold]{m.ref}[/bold]  {m.kind}, {m.task_type.value}, seed {m.seed}")
    console.print(f"Query     {m.query_text}", highlight=False)
    console.print(f"Created   {m.info.get('created_at')}  in {m.info.get('train_seconds')} s")
    if m.kind == "blend":
        console.print(f"Blend     GNN weight {m.blend:.2f}, LightGBM {1 - m.blend:.2f} (chosen on validation)")
    if m.baseline is not None and m.baseline_weight > 0:
        console.print(f"Baseline  {m.baseline.name}, weight {m.baseline_weight:.2f} (chosen on validation)",
                      highlight=False)
    if m.platt is not None:
        console.print(f"Calibration  Platt a={m.platt.a:.3f} b={m.platt.b:.3f}")
    _print_metrics(console, m.metrics)
    _print_candidates(console, m.metrics, m.task_type.value, m.top_k)
    _print_margin(console, m.metrics)
    recall = m.info.get("candidate_recall")
    if recall:
        console.print("Candidate recall (the ranker's ceiling): "
                      + ", ".join(f"{k} {v:.3f}" for k, v in recall.items()), highlight=False)
    for warning in m.info.get("warnings", []):
        console.print(f"[yellow]Warning:[/yellow] {warning}", highlight=False)
    top = m.info.get("lightgbm_top_features") or m.info.get("ranker_top_features")
    if top:
        console.print("LightGBM top features: " + ", ".join(f[0] for f in top[:8]), highlight=False)


def _print_candidates(console: Console, metrics: dict[str, Any], task: str, top_k: int) -> None:
    """Every candidate's selection metric on validation and test: learners, baselines, chosen."""
    rows = metrics.get("candidates") or []
    if not rows:
        return
    from relpredict.model.metrics import SELECTION
    from relpredict.query.bound import TaskType

    name, higher = SELECTION[TaskType(task)]
    name = name.replace("@k", f"@{top_k}")
    table = RichTable("candidate", "kind", f"validation {name}", f"test {name}",
                      title=f"Candidates ({'higher' if higher else 'lower'} is better; chosen on validation)")
    for r in rows:
        table.add_row(r["name"], r["kind"], _number(r.get("val")), _number(r.get("test")))
    console.print(table)


def _print_margin(console: Console, metrics: dict[str, Any]) -> None:
    best = metrics.get("best_baseline")
    if best:
        console.print(f"Margin over the best baseline ({best['name']}) on validation: "
                      f"{best['margin_val']:+.4f}", highlight=False)


def _number(v: float | None) -> str:
    return "-" if v is None or v != v else f"{v:.4f}"


def _headline(d: dict[str, Any] | None) -> str:
    if not d:
        return "-"
    return ", ".join(f"{k} {v:.4g}" for k, v in list(d.items())[:1] if isinstance(v, (int, float)))


def _print_metrics(console: Console, metrics: dict[str, Any]) -> None:
    for split in ("val", "test"):
        if split in metrics:
            console.print(f"  {split:<5} " + ", ".join(f"{k} {v:.4f}" for k, v in metrics[split].items()
                                                   if isinstance(v, (int, float))))
    for split in ("val", "test"):
        if f"{split}_ece_before" in metrics:
            console.print(f"  {split:<5} ECE {metrics[f'{split}_ece_before']:.4f} before calibration, "
                          f"{metrics[f'{split}_ece_after']:.4f} after")
