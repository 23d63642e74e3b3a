"""Benchmark: automatic features (target history + aggregates) on rel-f1 and on the demo store.

- rel-f1 (``--f1 DIR``, default ../shared/data/f1 next to the repository; skipped if absent):
  driver-dnf, driver-top3 and driver-position, features for train + val + test rows together
  (the spec fitted on the training rows).
- demo store (generated with ``relpredict.demo.generator.generate`` at ``--customers``, default
  20,000, or reused from ``--data DIR``): ``SUM(transactions.price, 0, 30, days)`` at 24 anchors
  30 days apart, the last one 30 days before the last transaction.

Reported per case (median of ``--repeat`` runs): spec fitting, aggregate features, target
history, and all together, with rows/s. The in-run baseline is a plain pandas computation of
ONE feature, ``transactions.price.mean_last3`` (sort, per-customer rolling mean, ``merge_asof``
onto the rows); it must equal the DuckDB column (else exit 1), and the ratio compares it with
the DuckDB time for ALL aggregate features.

    .venv/bin/python benchmarks/features.py --repeat 3
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from relpredict.demo.generator import generate
from relpredict.features import aggregate_features, fit_feature_spec, target_history
from relpredict.graph import Graph, load_graph
from relpredict.labels.labels import anchor_schedule, split_tables, training_table
from relpredict.query.binder import bind
from relpredict.query.bound import BoundQuery

REPO = Path(__file__).resolve().parents[1]
F1_TASKS = {
    "driver-dnf": "PREDICT COUNT(results.* WHERE results.statusId != 1, 0, 30, days) > 0 "
                  "FOR EACH drivers.driverId ASSUMING COUNT(results.*, 0, 30, days) > 0",
    "driver-top3": "PREDICT MIN(qualifying.position, 0, 30, days) <= 3 FOR EACH drivers.driverId",
    "driver-position": "PREDICT AVG(results.positionOrder, 0, 60, days) FOR EACH drivers.driverId",
}
SPEND = "PREDICT SUM(transactions.price, 0, 30, days) FOR EACH customers.customer_id"
BASELINE_FEATURE = "transactions.price.mean_last3"
STEP = timedelta(days=30)
ANCHORS = 24


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """Median wall time of ``repeat`` runs and the last result."""
    times, result = [], None
    for _ in range(repeat):
        began = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - began)
    return statistics.median(times), result


def measure(name: str, bq: BoundQuery, graph: Graph, fit_rows: pa.Table, rows: pa.Table,
            repeat: int) -> pa.Table:
    """Time fitting, aggregates and history; print one block; return the aggregate table."""
    fit_s, spec = timed(lambda: fit_feature_spec(bq, graph, fit_rows), repeat)
    agg_s, agg = timed(lambda: aggregate_features(bq, graph, rows, spec), repeat)
    hist_s, hist = timed(lambda: target_history(bq, graph, rows, k=spec.history_k,
                                                classes=spec.target_classes), repeat)
    total = fit_s + agg_s + hist_s
    n = rows.num_rows
    features = agg.num_columns + hist.num_columns - 4
    print(f"{name}: {n:,} rows, {features} features")
    print(f"  fit spec:   {fit_s:7.3f} s")
    print(f"  aggregates: {agg_s:7.3f} s  {n / agg_s:10,.0f} rows/s  ({agg.num_columns - 2} columns)")
    print(f"  history:    {hist_s:7.3f} s  {n / hist_s:10,.0f} rows/s  ({hist.num_columns - 2} columns)")
    print(f"  total:      {total:7.3f} s  {n / total:10,.0f} rows/s")
    return agg


# ---------------------------------------------------------------------------- rel-f1
def run_f1(data: Path, repeat: int) -> None:
    graph = load_graph(REPO / "examples" / "f1" / "graph.yaml", data=data)
    for name, text in F1_TASKS.items():
        bq = bind(text, graph)
        schedule = anchor_schedule(bq, graph, val_start=datetime(2005, 1, 1),
                                   test_start=datetime(2010, 1, 1))
        tables = split_tables(bq, graph, schedule)
        rows = pa.concat_tables([tables[s] for s in ("train", "val", "test")])
        measure(f"rel-f1 {name}", bq, graph, tables["train"], rows, repeat)
    graph.close()


# ---------------------------------------------------------------------------- demo
def anchor_times(graph: Graph) -> list[datetime]:
    """24 anchors, 30 days apart, the last one 30 days before the last transaction."""
    _, last_tx = graph.time_range("transactions")
    last = pd.Timestamp(last_tx) - STEP
    return [(last - i * STEP).to_pydatetime() for i in range(ANCHORS - 1, -1, -1)]


def pandas_mean_last3(transactions: pd.DataFrame, rows: pd.DataFrame) -> np.ndarray:
    """The baseline: mean price of each customer's last 3 transactions by the anchor time."""
    tx = transactions[["transaction_id", "customer_id", "timestamp", "price"]]
    tx = tx.sort_values(["customer_id", "timestamp", "transaction_id"], ignore_index=True)
    rolled = tx.groupby("customer_id")["price"].rolling(3, min_periods=1).mean()
    tx["mean3"] = rolled.reset_index(level=0, drop=True)
    tx = tx.sort_values(["timestamp", "transaction_id"], kind="stable")
    left = rows.assign(_row=np.arange(len(rows))).sort_values("ANCHOR_TIMESTAMP")
    merged = pd.merge_asof(left, tx[["timestamp", "customer_id", "mean3"]],
                           left_on="ANCHOR_TIMESTAMP", right_on="timestamp",
                           left_by="ENTITY", right_by="customer_id", direction="backward")
    return merged.sort_values("_row")["mean3"].to_numpy(float)


def run_demo(data: Path, repeat: int) -> int:
    graph = load_graph(data / "graph.yaml")
    bq = bind(SPEND, graph)
    rows = training_table(bq, graph, anchor_times(graph))
    agg = measure(f"demo store ({graph.row_count('customers'):,} customers, "
                  f"{graph.row_count('transactions'):,} transactions, {ANCHORS} anchors)",
                  bq, graph, rows, rows, repeat)
    transactions = pd.read_parquet(data / "transactions.parquet")
    frame = rows.select(["ENTITY", "ANCHOR_TIMESTAMP"]).to_pandas()
    frame["ANCHOR_TIMESTAMP"] = frame["ANCHOR_TIMESTAMP"].astype(transactions["timestamp"].dtype)
    pandas_s, ref = timed(lambda: pandas_mean_last3(transactions, frame), repeat)
    agg_s, _ = timed(lambda: aggregate_features(bq, graph, rows,
                                                fit_feature_spec(bq, graph, rows)), 1)
    ours = agg.column(BASELINE_FEATURE).to_numpy(zero_copy_only=False)
    print(f"  pandas baseline, {BASELINE_FEATURE} only: {pandas_s:7.3f} s  "
          f"{len(ref) / pandas_s:10,.0f} rows/s")
    print(f"  ratio pandas (1 feature) / duckdb (all {agg.num_columns - 2} aggregate "
          f"features): {pandas_s / agg_s:.2f}x")
    graph.close()
    if not np.allclose(ours, ref, rtol=1e-9, atol=1e-9, equal_nan=True):
        bad = int((~np.isclose(ours, ref, rtol=1e-9, atol=1e-9, equal_nan=True)).sum())
        print(f"  MISMATCH: {bad} rows of {BASELINE_FEATURE} differ from pandas")
        return 1
    print(f"  same values as pandas: yes ({int(np.isnan(ref).sum()):,} rows without history)")
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--data", type=Path, help="reuse demo data in DIR (with graph.yaml)")
    parser.add_argument("--f1", type=Path, default=REPO.parent / "shared" / "data" / "f1")
    args = parser.parse_args()
    if (args.f1 / "results.csv").is_file():
        run_f1(args.f1, args.repeat)
    else:
        print(f"rel-f1: skipped, no data in {args.f1}")
    if args.data is not None:
        sys.exit(run_demo(args.data, args.repeat))
    with tempfile.TemporaryDirectory() as tmp:
        began = time.perf_counter()
        generate(Path(tmp), args.customers)
        print(f"generated demo data in {time.perf_counter() - began:.2f} s")
        code = run_demo(Path(tmp), args.repeat)
    sys.exit(code)


if __name__ == "__main__":
    main()
