"""Quality benchmark on rel-f1: the three RelBench driver tasks, GNN and the default model, N seeds.

Trains each model kind on each task (queries from ../shared/PQL.md, splits as RelBench: validation
anchors from 2005-01-01, test anchors from 2010-01-01) and prints test mean ± std over seeds next
to the published numbers of ../shared/data/f1/README.md, plus the wall time per run. Settings were
chosen on validation only; the test numbers are printed, never used.

    .venv/bin/python benchmarks/relbench_f1.py --data ../shared/data/f1 --seeds 5
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import datetime
from pathlib import Path

import torch

from relpredict.graph.yaml_io import load_graph
from relpredict.model.fit import TrainOptions, train_model

ROOT = Path(__file__).resolve().parents[1]
TASKS = {
    "driver-dnf": ("PREDICT COUNT(results.* WHERE results.statusId != 1, 0, 30, days) > 0 "
                   "FOR EACH drivers.driverId ASSUMING COUNT(results.*, 0, 30, days) > 0", "auroc"),
    "driver-top3": ("PREDICT MIN(qualifying.position, 0, 30, days) <= 3 FOR EACH drivers.driverId", "auroc"),
    "driver-position": ("PREDICT AVG(results.positionOrder, 0, 60, days) FOR EACH drivers.driverId", "mae"),
}
PUBLISHED = {  # test numbers from data/f1/README.md: dnf AUROC, top3 AUROC, position MAE
    "LightGBM on entity columns (RelBench)": (68.56, 73.92, 4.170),
    "RDL GraphSAGE (RelBench paper)": (72.62, 75.54, 4.022),
    "RelGNN (ICML 2025)": (75.29, 85.69, 3.798),
    "KumoRFM, no training (in-context)": (82.41, 91.07, 2.747),
}
VAL_START, TEST_START = datetime(2005, 1, 1), datetime(2010, 1, 1)


def run(graph, task: str, kind: str, seed: int) -> dict[str, tuple[float, float]]:
    """``{learner: (validation metric, test metric)}`` of one training run, plus its seconds.

    An ``auto`` run trains the GNN and LightGBM and blends them; the GNN alone is reported from
    the same run (its own validation and test predictions, before the blend).
    """
    query, metric = TASKS[task]
    opts = TrainOptions(kind=kind, seed=seed, val_start=VAL_START, test_start=TEST_START)
    began = time.perf_counter()
    model = train_model(graph, query, opts)
    scale = 100.0 if metric == "auroc" else 1.0
    parts = model.info["seconds"]
    out = {"seconds": (time.perf_counter() - began, parts.get("labels_and_history", 0.0) + parts.get("gnn", 0.0)),
           kind: (model.metrics["val"][metric] * scale, model.metrics["test"][metric] * scale)}
    for learner in ("gnn", "lightgbm"):
        if f"test_{learner}" in model.metrics:
            out[learner] = (model.metrics[f"val_{learner}"][metric] * scale,
                            model.metrics[f"test_{learner}"][metric] * scale)
    return out


def fmt(values: list[float], digits: int) -> str:
    mean = statistics.fmean(values)
    spread = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{mean:.{digits}f} ± {spread:.{digits}f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "f1"))
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--models", default="auto", help="comma-separated: auto (reports the GNN alone too), gnn, lightgbm")
    parser.add_argument("--tasks", default=",".join(TASKS))
    args = parser.parse_args()
    torch.set_num_threads(1)
    graph = load_graph(ROOT / "examples" / "f1" / "graph.yaml", data=args.data)
    tasks, kinds = args.tasks.split(","), args.models.split(",")
    results: dict[tuple[str, str], list[dict[str, tuple[float, float]]]] = {}
    began = time.perf_counter()
    for kind in kinds:
        for task in tasks:
            for seed in range(args.seeds):
                r = run(graph, task, kind, seed)
                results.setdefault((kind, task), []).append(r)
                parts = ", ".join(f"{k} val {v[0]:.3f} test {v[1]:.3f}" for k, v in r.items() if k != "seconds")
                print(f"  {kind:<5} {task:<16} seed {seed}: {parts} ({r['seconds'][0]:.0f} s)", flush=True)
    header = f"{'model':<44}" + "".join(f"{t:>22}" for t in tasks)
    print("\nrel-f1 test (AUROC x100 for dnf/top3, MAE for position), mean ± std over "
          f"{args.seeds} seeds\n{header}")
    for name, nums in PUBLISHED.items():
        print(f"{name:<44}" + "".join(f"{nums[list(TASKS).index(t)]:>22.3f}" for t in tasks))
    labels = {"gnn": "relpredict GNN alone", "lightgbm": "relpredict LightGBM (automatic features)",
              "auto": "relpredict default (blend chosen on val)"}
    for kind in kinds:
        learners = [k for k in ("gnn", "lightgbm", kind) if all(k in r for t in tasks for r in results[(kind, t)])]
        for learner in dict.fromkeys(learners):
            print(f"{labels[learner]:<44}" + "".join(
                f"{fmt([r[learner][1] for r in results[(kind, t)]], 3):>22}" for t in tasks))
            print(f"{'  (validation)':<44}" + "".join(
                f"{fmt([r[learner][0] for r in results[(kind, t)]], 3):>22}" for t in tasks))
        print(f"{'  seconds per ' + kind + ' run (median)':<44}" + "".join(
            f"{statistics.median([r['seconds'][0] for r in results[(kind, t)]]):>22.0f}" for t in tasks))
        print(f"{'  of which labels, history and GNN (median)':<44}" + "".join(
            f"{statistics.median([r['seconds'][1] for r in results[(kind, t)]]):>22.0f}" for t in tasks))
    total = time.perf_counter() - began
    print(f"\nwhole benchmark: {total / 60:.1f} min")


if __name__ == "__main__":
    main()
