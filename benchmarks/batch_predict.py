"""Batch prediction benchmark: a job against its model's bare forward pass, local and Dask workers.

For each model kind (LightGBM, GNN) and store size it measures, each in a fresh child process:

* ``bare``: the model alone over the job's entities (the same 20,000-entity batches, predictions
  and embeddings, no job machinery), with every core (torch threads = cores; DuckDB and
  LightGBM use theirs);
* ``local1`` / ``local2``: a job with 1 / 2 local worker processes;
* ``dask2`` (``--dask``): a job on a Dask ``LocalCluster`` of 2 worker processes on 127.0.0.1,
  started before the job (as an existing cluster is).

It prints wall time, entities per second, the job / bare ratio, the speed-up over ``local1``
and peak memory: RSS and PSS (proportional: a page shared by two processes counts half to
each, so memory-mapped graph tensors count once) summed over the process tree, RSS of the main
process (the job's coordinator, or the bare pass) and RSS / PSS of its largest worker. Times are
the median over ``--repeat`` runs, memory the largest.

The models are trained once on a small store; each size then rewrites the same data folder, so
the models' recorded graph reads the bigger store. That folder is scratch space owned by the
benchmark. ``--big N`` adds one LightGBM ``local2`` job of N customers at the end (no bare
pass: it is there for its time and memory beside the largest ``--sizes`` round's ``local2``
job, whose ratios it prints).
``--explanations`` measures instead what the explanations output adds to a LightGBM job
(``benchmarks/explain_cost.py``).

    .venv/bin/python benchmarks/batch_predict.py --dask                 # 100k and 1M, both kinds
    .venv/bin/python benchmarks/batch_predict.py --sizes 5000 --kinds lightgbm --train-customers 2000
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

QUERY = "PREDICT COUNT(transactions.*, 0, 30, days) > 0 FOR EACH customers.customer_id"
BATCH = 20_000
MB = 2**20


@dataclass
class PeakMemory:
    """Samples RSS and PSS of a process tree (plus ``extra`` processes) every ``interval`` s: the
    tree's sum, the root's (the job's coordinator, or the bare pass) and the largest of the others
    (its workers)."""

    root: psutil.Process
    extra: list[psutil.Process] = field(default_factory=list)
    interval: float = 0.2
    tree_rss: int = 0
    tree_pss: int = 0
    main_rss: int = 0
    worker_rss: int = 0
    worker_pss: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)

    def _sample(self) -> None:
        while not self._stop.is_set():
            rss, pss, worker = [], [], []
            try:
                procs = [self.root, *self.root.children(recursive=True), *self.extra]
            except psutil.Error:
                procs = list(self.extra)
            for proc in procs:
                try:
                    info = proc.memory_full_info()
                except psutil.Error:
                    continue
                rss.append(info.rss)
                pss.append(getattr(info, "pss", info.rss))
                if proc.pid == self.root.pid:
                    self.main_rss = max(self.main_rss, info.rss)
                else:
                    worker.append((info.rss, pss[-1]))
            if rss:
                self.tree_rss, self.tree_pss = max(self.tree_rss, sum(rss)), max(self.tree_pss, sum(pss))
            for w_rss, w_pss in worker:
                self.worker_rss, self.worker_pss = max(self.worker_rss, w_rss), max(self.worker_pss, w_pss)
            time.sleep(self.interval)

    def __enter__(self) -> PeakMemory:
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


# ----------------------------------------------------------------------------------- children
def train(ws: Any, data: Path, customers: int, kind: str) -> str:
    from relpredict.demo.generator import generate
    from relpredict.graph.yaml_io import load_graph
    from relpredict.model.artifact import save_model
    from relpredict.model.fit import TrainOptions, train_model

    generate(data, customers=customers, seed=0)
    graph = load_graph(data / "graph.yaml")
    start = time.perf_counter()
    trained = save_model(ws, train_model(graph, QUERY, TrainOptions(kind=kind)), f"bench-{kind}", graph)
    print(f"trained {trained.ref} ({kind}) on {customers:,} customers in {time.perf_counter() - start:.1f} s",
          flush=True)
    graph.close()
    return trained.ref


def bare_forward(ws: Any, ref: str) -> dict[str, Any]:
    """The model alone over the job's entities, batch by batch, with every core."""
    import torch

    from relpredict.labels.labels import default_anchor_time, prediction_table
    from relpredict.model.artifact import load_model

    torch.set_num_threads(os.cpu_count() or 1)
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
    return {"entities": len(entities), "seconds": time.perf_counter() - start}


def run_job(ws: Any, workflow: str, out: Path, workers: int, dask: str | None) -> dict[str, Any]:
    from relpredict.jobs import Workflow

    start = time.perf_counter()
    job = Workflow.get(workflow, ws).run(workers=workers, output=str(out / "preds.parquet"),
                                         output_types="predictions,embeddings", dask=dask)
    seconds = time.perf_counter() - start
    result = job.result()
    return {"entities": result.summary["entities"], "seconds": seconds}


def child(args: argparse.Namespace) -> None:
    from relpredict.workspace import Workspace

    ws = Workspace.open(args.scratch / "ws")
    if args.child == "bare":
        out = bare_forward(ws, args.ref)
    else:
        folder = args.scratch / f"out-{os.getpid()}"
        try:
            out = run_job(ws, args.workflow, folder, args.workers, args.dask_address)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    print("RESULT " + json.dumps(out), flush=True)


# ----------------------------------------------------------------------------------- parent
def measure(args: argparse.Namespace, mode: str, ref: str, workflow: str, cluster: Any) -> dict[str, Any]:
    """One mode, ``--repeat`` times in fresh child processes: median seconds, largest memory."""
    workers = {"bare": 0, "local1": 1, "local2": 2, "dask2": 2}[mode]
    cmd = [sys.executable, __file__, "--child", "bare" if mode == "bare" else "job", "--scratch", str(args.scratch),
           "--ref", ref, "--workflow", workflow, "--workers", str(max(workers, 1))]
    extra: list[psutil.Process] = []
    if mode == "dask2":
        cmd += ["--dask-address", cluster.scheduler_address]
        extra = [psutil.Process(p) for p in _dask_pids(cluster)]
    runs, peaks = [], []
    for _ in range(args.repeat):
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        with PeakMemory(psutil.Process(proc.pid), extra) as peak:
            stdout, _ = proc.communicate()
        if proc.returncode != 0:
            raise SystemExit(f"{mode} failed (exit {proc.returncode}):\n{stdout[-3000:]}")
        runs.append(json.loads(stdout.rsplit("RESULT ", 1)[1]))
        peaks.append(peak)
    return {"entities": runs[0]["entities"], "seconds": statistics.median(r["seconds"] for r in runs),
            "tree_rss": max(p.tree_rss for p in peaks), "tree_pss": max(p.tree_pss for p in peaks),
            "main_rss": max(p.main_rss for p in peaks), "worker_rss": max(p.worker_rss for p in peaks),
            "worker_pss": max(p.worker_pss for p in peaks)}


def _dask_pids(cluster: Any) -> list[int]:
    from distributed import Client

    with Client(cluster) as client:
        return list(client.run(os.getpid).values())


def _line(kind: str, size: int, mode: str, r: dict[str, Any], bare: float | None, local1: float | None) -> str:
    speedup = f"{local1 / r['seconds']:>7.2f}" if local1 else f"{'':>7}"
    ratio = f"{r['seconds'] / bare:>8.2f}" if bare else f"{'-':>8}"
    return (f"{kind:>8} {size:>10,} {mode:>6} {r['entities']:>10,} {r['seconds']:>8.1f} "
            f"{r['entities'] / r['seconds']:>9,.0f} {ratio} {speedup} "
            f"{r['tree_rss'] / MB:>9,.0f} {r['tree_pss'] / MB:>9,.0f} {r['main_rss'] / MB:>9,.0f} "
            f"{_mb(r['worker_rss']):>10} {_mb(r['worker_pss']):>10}")


def _mb(value: int) -> str:
    return f"{value / MB:,.0f}" if value else "-"


HEADER = (f"{'kind':>8} {'customers':>10} {'mode':>6} {'entities':>10} {'seconds':>8} {'ent/s':>9} "
          f"{'job/bare':>8} {'vs w1':>7} {'tree RSS':>9} {'tree PSS':>9} {'main RSS':>9} {'worker RSS':>10} "
          f"{'worker PSS':>10}")


def explanations(args: argparse.Namespace) -> None:
    """``--explanations``: what the explanations output adds to a LightGBM job (its own module,
    which also runs alone)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from explain_cost import explanation_cost

    explanation_cost(args.sizes, args.train_customers, workers=2, scratch=args.scratch)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000],
                        help="Customers in the store per round (default 100k and 1M).")
    parser.add_argument("--kinds", nargs="+", default=["lightgbm", "gnn"], help="Model kinds: lightgbm, gnn.")
    parser.add_argument("--train-customers", type=int, default=20_000)
    parser.add_argument("--dask", action="store_true", help="Also run each job on a 2-worker Dask LocalCluster.")
    parser.add_argument("--big", type=int, default=None, help="One LightGBM local2 job of this many customers at the end.")
    parser.add_argument("--repeat", type=int, default=1, help="Runs per measurement (median time).")
    parser.add_argument("--scratch", type=Path, default=None, help="Scratch folder (default: a temporary one).")
    parser.add_argument("--explanations", action="store_true",
                        help="Instead: a LightGBM job's time with and without the explanations "
                             "output at each size, and the ratio (benchmarks/explain_cost.py).")
    parser.add_argument("--child", choices=["bare", "job"], help=argparse.SUPPRESS)
    parser.add_argument("--ref", help=argparse.SUPPRESS)
    parser.add_argument("--workflow", help=argparse.SUPPRESS)
    parser.add_argument("--workers", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--dask-address", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    if args.explanations:
        explanations(args)
        return

    from relpredict.demo.generator import generate
    from relpredict.jobs import Workflow
    from relpredict.workspace import Workspace

    own_scratch = args.scratch is None
    args.scratch = args.scratch or Path(tempfile.mkdtemp(prefix="relpredict-bench-"))
    ws, data = Workspace.open(args.scratch / "ws"), args.scratch / "data"
    refs = {kind: train(ws, data, args.train_customers, kind) for kind in args.kinds}
    flows = {kind: Workflow.create(f"bench-{kind}-{int(time.time())}", ref, ws).name for kind, ref in refs.items()}
    cluster = None
    if args.dask:
        from distributed import LocalCluster

        cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                               dashboard_address=None)
    print(f"cores: {os.cpu_count()}; repeat {args.repeat}; RSS / PSS in MB\n{HEADER}", flush=True)
    modes = ["bare", "local1", "local2", *(["dask2"] if args.dask else [])]
    rounds = [(size, kind, modes) for size in args.sizes for kind in args.kinds]
    if args.big:
        rounds.append((args.big, "lightgbm", ["local2"]))
    lightgbm_local2: tuple[int, dict[str, Any]] | None = None  # the last regular round's, for --big
    try:
        for i, (size, kind, round_modes) in enumerate(rounds):
            big = args.big is not None and i == len(rounds) - 1
            generate(data, customers=size, seed=0)
            results = {m: measure(args, m, refs[kind], flows[kind], cluster)
                       for m in ([] if big else ["bare"]) + round_modes}
            if big:
                r = results["local2"]
                print(_line(kind, size, "local2", r, None, None), flush=True)
                if lightgbm_local2 is not None:
                    small, base = lightgbm_local2
                    print(f"{size:,} vs {small:,} customers, local2 LightGBM job: time "
                          f"{r['seconds'] / base['seconds']:.2f}x for {size / small:.0f}x the entities; peak "
                          f"RSS tree {r['tree_rss'] / base['tree_rss']:.2f}x, coordinator "
                          f"{r['main_rss'] / base['main_rss']:.2f}x, largest worker "
                          f"{r['worker_rss'] / base['worker_rss']:.2f}x", flush=True)
                continue
            bare = results["bare"]["seconds"]
            for mode, r in results.items():
                if mode != "bare" and r["entities"] != results["bare"]["entities"]:
                    raise SystemExit(f"{mode} scored {r['entities']} entities, bare {results['bare']['entities']}")
                local1 = results.get("local1", {}).get("seconds") if mode not in ("bare", "local1") else None
                print(_line(kind, size, mode, r, bare, local1), flush=True)
            if kind == "lightgbm" and "local2" in results:
                lightgbm_local2 = (size, results["local2"])
    finally:
        if cluster is not None:
            cluster.close()
        if own_scratch:
            shutil.rmtree(args.scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
