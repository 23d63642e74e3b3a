"""What the explanations output costs: a LightGBM job's wall time with and without it.

For each store size it runs the same job twice (``--workers`` local workers, default 2): once with
``predictions`` and once with ``predictions,explanations`` (top ``--explain-k`` inputs per entity
from LightGBM's ``pred_contrib``), and prints both times and their ratio (the target is at most
1.5). ``benchmarks/batch_predict.py --explanations`` runs it.

    .venv/bin/python benchmarks/explain_cost.py --sizes 100000 1000000
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

QUERY = "PREDICT COUNT(transactions.*, 0, 30, days) > 0 FOR EACH customers.customer_id"


def timed_job(wf: Any, out: Path, output_types: str, workers: int, explain_k: int) -> tuple[int, float]:
    """(entities, seconds) of one job writing ``output_types`` to ``out``."""
    start = time.perf_counter()
    job = wf.run(workers=workers, output=str(out / "out.parquet"), output_types=output_types,
                 explain_k=explain_k)
    seconds = time.perf_counter() - start
    return job.result().summary["entities"], seconds


def explanation_cost(sizes: list[int], train_customers: int = 5_000, workers: int = 2,
                     explain_k: int = 5, scratch: Path | None = None) -> list[dict[str, float]]:
    """Train a LightGBM model once, then time both jobs per size; returns one row per size."""
    from relpredict.demo.generator import generate
    from relpredict.graph.yaml_io import load_graph
    from relpredict.jobs import Workflow
    from relpredict.model.artifact import save_model
    from relpredict.model.fit import TrainOptions, train_model
    from relpredict.workspace import Workspace

    folder = scratch or Path(tempfile.mkdtemp(prefix="relpredict-explain-"))
    ws, data = Workspace.open(folder / "ws"), folder / "data"
    generate(data, customers=train_customers, seed=0)
    graph = load_graph(data / "graph.yaml")
    ref = save_model(ws, train_model(graph, QUERY, TrainOptions(kind="lightgbm")), "explain-bench", graph).ref
    graph.close()
    wf = Workflow.create(f"explain-{int(time.time())}", ref, ws)
    rows = []
    print(f"{'customers':>10} {'entities':>10} {'predictions s':>13} {'+explanations s':>15} {'ratio':>6}")
    for size in sizes:
        generate(data, customers=size, seed=0)
        n, plain = timed_job(wf, folder / f"plain-{size}", "predictions", workers, explain_k)
        m, explained = timed_job(wf, folder / f"explained-{size}", "predictions,explanations", workers, explain_k)
        if n != m:
            raise RuntimeError(f"the two jobs predicted {n:,} and {m:,} entities")
        rows.append({"customers": size, "entities": n, "plain": plain, "explained": explained,
                     "ratio": explained / plain})
        print(f"{size:>10,} {n:>10,} {plain:>13.1f} {explained:>15.1f} {explained / plain:>6.2f}", flush=True)
        for name in (f"plain-{size}", f"explained-{size}"):
            shutil.rmtree(folder / name, ignore_errors=True)
    if scratch is None:
        shutil.rmtree(folder, ignore_errors=True)
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--train-customers", type=int, default=5_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--explain-k", type=int, default=5)
    parser.add_argument("--scratch", type=Path, default=None, help="Scratch folder (default: a temporary one).")
    args = parser.parse_args(argv)
    explanation_cost(args.sizes, args.train_customers, args.workers, args.explain_k, args.scratch)


if __name__ == "__main__":
    main()
