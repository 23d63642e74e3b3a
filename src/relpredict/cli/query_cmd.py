"""``relpredict query …``: check a predictive query against a graph, write its label table."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import typer
from typer.core import TyperCommand

from relpredict.cli.console import make_console
from relpredict.cli.outfile import check_out_file, write_atomically
from relpredict.errors import ConfigError
from relpredict.graph.yaml_io import load_graph
from relpredict.labels.labels import anchor_schedule, labelled_splits, training_table
from relpredict.labels.stats import report
from relpredict.query.binder import bind

app = typer.Typer(help="Predictive queries: check them, build their label tables.", no_args_is_help=True)

GRAPH = typer.Option(..., "--graph", "-g", help="The graph YAML file.")
DATA = typer.Option(None, "--data", help="Folder the graph's files are read from (overrides `data:`).")


class QueryArgument(TyperCommand):
    """A command whose positional query may start with a ``-- comment`` line.

    Click reads any argument that starts with ``-`` as an option, so a query pasted with its
    leading comment (``"-- churn\nPREDICT ..."``) would be refused as an unknown option. An
    argument that starts with ``-`` and holds white space cannot be an option name: it is moved
    behind a ``--`` separator, where Click takes it as the query.
    """

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if "--" not in args:
            texts = [a for a in args if a.startswith("-") and any(c.isspace() for c in a)]
            if texts:
                args = [a for a in args if a not in texts] + ["--", *texts]
        return super().parse_args(ctx, args)


@app.command("check", cls=QueryArgument)
def check(
    query: str = typer.Argument(..., help='The query, e.g. "PREDICT COUNT(orders.*, 0, 30, days) > 0 FOR EACH customers.customer_id".'),
    graph_yaml: Path = GRAPH,
    data: Path | None = DATA,
) -> None:
    """Parse and bind a query; print its task, windows, default anchor time and label balance."""
    graph = load_graph(graph_yaml, data=data)
    bq = bind(query, graph)
    r = report(bq, graph)
    out = make_console()
    out.print(f"[bold]Query[/bold]        {bq.text}", highlight=False)
    out.print(f"Task type    {r.task_type}")
    out.print(f"Entity       {r.entity}")
    out.print(f"Target       {r.target}", highlight=False)
    for w in r.windows:
        out.print(f"Window       {w}", highlight=False)
    if bq.is_temporal:
        out.print(f"Default anchor time  {r.default_anchor} (latest time in {', '.join(bq.fact_tables)})")
        out.print(f"Entities to predict at that anchor: {r.entities_at_default:,}")
        out.print(f"Labels at {r.label_anchor} (latest anchor with a complete window): {r.labels:,}")
    else:
        out.print(f"Static query: {r.entities_at_default:,} entities, {r.labels:,} labelled")
    for key, value in r.distribution.items():
        out.print(f"  {key:<18} {value:.4g}" if isinstance(value, float) else f"  {key:<18} {value}")


@app.command("labels", cls=QueryArgument)
def labels(
    query: str = typer.Argument(..., help="The query."),
    graph_yaml: Path = GRAPH,
    data: Path | None = DATA,
    out: Path = typer.Option(..., "--out", "-o", help="Parquet file to write (ENTITY, ANCHOR_TIMESTAMP, TARGET, SPLIT)."),
    val_start: str | None = typer.Option(None, "--val-start", help="First validation anchor (ISO 8601). Default: the window before the test anchor."),
    test_start: str | None = typer.Option(None, "--test-start", help="First test anchor (ISO 8601). Default: the last fully observed window."),
    max_eval: int = typer.Option(40, "--max-eval", help="At most this many validation and test anchors each."),
) -> None:
    """Write the training table of a query: train / validation / test anchors by time."""
    graph = load_graph(graph_yaml, data=data)
    check_out_file(out, "--out", graph)
    bq = bind(query, graph)
    if bq.is_temporal:
        schedule = anchor_schedule(bq, graph, val_start=parse_when(val_start, "--val-start"),
                                   test_start=parse_when(test_start, "--test-start"), max_eval=max_eval)
        table = labelled_splits(bq, graph, schedule)
    else:
        table = training_table(bq, graph)
    write_atomically(out, lambda tmp: pq.write_table(table, tmp), "--out")
    console = make_console()
    if "SPLIT" in table.column_names:
        counts = table.group_by("SPLIT").aggregate([("SPLIT", "count")]).to_pydict()
        for split, n in sorted(zip(counts["SPLIT"], counts["SPLIT_count"]), key=lambda p: ("train", "val", "test").index(p[0])):
            console.print(f"  {split:<6} {n:>10,} rows")
    console.print(f"Wrote {table.num_rows:,} rows to {out}")


def parse_when(value: str | None, option: str) -> datetime | None:
    if value is None or not value.strip():
        return None
    try:
        return datetime.fromisoformat(value.strip().replace("Z", "+00:00")).replace(tzinfo=None)
    except ValueError:
        raise ConfigError(f"{option} {value!r} is not an ISO 8601 date or datetime "
                          "(e.g. 2024-02-27 or 2024-02-27T13:00:00Z).") from None
