"""Batch prediction benchmark: jobs over the demo store at several sizes, 1 and 2 workers.

For each store size it runs a job with predictions and embeddings, once per worker count, and
prints wall time, entities per second and peak memory (RSS of the job's process tree, and of its
largest process), then the model's bare forward pass over the same entities in this process (the
same 20,000-entity batches, no job machinery) and the ratio of job time to it. Memory should stay
nearly flat as the store grows: work streams by shard and the output is never held whole.

The model is trained once on a small store (LightGBM by default: fast to train); each size then
rewrites the same data folder, so the model's recorded graph reads the bigger store. That folder is
scratch space owned by the benchmark.

    .venv/bin/python benchmarks/batch_predict.py                       # 100k and 1M entities
    .venv/bin/python benchmarks/batch_predict.py --sizes 5000 20000 --train-customers 2000
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

QUERY = "PREDICT COUNT(transactions.*, 0, 30, days) > 0 FOR EACH customers.customer_id"
BATCH = 20_000


@dataclass
class PeakRss:
    """Samples the RSS of this process and its children every ``interval`` seconds."""

    interval: float = 0.1
    tree: int = 0
    largest: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)

    def _sample(self) -> None:
        me = psutil.Process()
        while not self._stop.is_set():
            sizes = []
            for proc in [me, *me.children(recursive=True)]:
                try:
                    sizes.append(proc.memory_info().rss)
                except psutil.Error:
                    pass
            self.tree, self.largest = max(self.tree, sum(sizes)), max(self.largest, max(sizes))
            time.sleep(self.interval)

    def __enter__(self) -> PeakRss:
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def train(ws, data: Path, customers: int, kind: str) -> str:
    from relpredict.demo.generator import generate
    from relpredict.graph.yaml_io import load_graph
    from relpredict.model.artifact import save_model
    from relpredict.model.fit import TrainOptions, train_model

    generate(data, customers=customers, seed=0)
    graph = load_graph(data / "graph.yaml")
    start = time.perf_counter()
    trained = save_model(ws, train_model(graph, QUERY, TrainOptions(kind=kind)), "bench", graph)
    print(f"trained {trained.ref} ({kind}) on {customers:,} customers in {time.perf_counter() - start:.1f} s")
    return trained.ref


def bare_forward(ws, ref: str) -> tuple[int, float]:
    """The model alone over the job's entities, batch by batch, in this process."""
    from relpredict.labels.labels import default_anchor_time, prediction_table
    from relpredict.model.artifact import load_model

    model = load_model(ws, ref)
    graph = model.load_graph()
    bq = model.bound_query(graph)
    anchor = default_anchor_time(bq, graph)
    entities = prediction_table(bq, graph, anchor).column("ENTITY").combine_chunks()
    start = time.perf_counter()
    for lo in range(0, len(entities), BATCH):
        batch = entities.slice(lo, BATCH)
        model.predict(graph, anchor, batch)
        model.embed(graph, anchor, batch)
    return len(entities), time.perf_counter() - start


def run_job(wf, out: Path, workers: int) -> tuple[int, float, PeakRss]:
    with PeakRss() as peak:
        start = time.perf_counter()
        job = wf.run(workers=workers, output=str(out / "preds.parquet"),
                     output_types="predictions,embeddings")
        seconds = time.perf_counter() - start
    result = job.result()
    return result.summary["entities"], seconds, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000],
                        help="Customers in the store per round (default 100k and 1M).")
    parser.add_argument("--train-customers", type=int, default=20_000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--kind", default="lightgbm", help="auto, gnn or lightgbm.")
    parser.add_argument("--scratch", type=Path, default=None, help="Scratch folder (default: a temporary one).")
    args = parser.parse_args()

    from relpredict.demo.generator import generate
    from relpredict.jobs import Workflow
    from relpredict.workspace import Workspace

    scratch = args.scratch or Path(tempfile.mkdtemp(prefix="relpredict-bench-"))
    ws, data = Workspace.open(scratch / "ws"), scratch / "data"
    ref = train(ws, data, args.train_customers, args.kind)
    wf = Workflow.create(f"bench-{int(time.time())}", ref, ws)
    print(f"{'customers':>10} {'workers':>7} {'entities':>10} {'seconds':>8} {'ent/s':>9} "
          f"{'tree RSS MB':>11} {'max proc MB':>11} {'bare s':>7} {'job/bare':>8}")
    for size in args.sizes:
        generate(data, customers=size, seed=0)
        n_bare, bare = bare_forward(ws, ref)
        for workers in args.workers:
            out = scratch / f"out-{size}-{workers}"
            n, seconds, peak = run_job(wf, out, workers)
            assert n == n_bare, (n, n_bare)
            print(f"{size:>10,} {workers:>7} {n:>10,} {seconds:>8.1f} {n / seconds:>9,.0f} "
                  f"{peak.tree / 2**20:>11,.0f} {peak.largest / 2**20:>11,.0f} {bare:>7.1f} "
                  f"{seconds / bare:>8.2f}", flush=True)
            shutil.rmtree(out, ignore_errors=True)
    if args.scratch is None:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
