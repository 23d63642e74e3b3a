"""Benchmark: training label tables in DuckDB (``training_table``) against plain pandas.

Generates the demo store (about 10 transactions per customer; ``--customers 100000`` gives
about 1,000,000 transactions) into a temporary folder, or reuses ``--data DIR``, loads it with
``load_graph``, and builds the training table of two queries at 24 anchor times (30-day steps,
the last one 30 days before the last transaction):

- churn: ``COUNT(transactions.*, 0, 30, days) = 0`` for customers active in the last 90 days;
- spend: ``SUM(transactions.price, 0, 30, days)`` for every customer.

The in-run baseline is an independent, straightforward pandas computation of the same labels
(per anchor: slice the windows, group by customer, merge onto the customers that exist). Both
must give the same table (same rows after sorting, values within 1e-9), else the script exits 1.
The pandas side works on frames already in memory (reading Parquet is not timed); the DuckDB
side includes scanning the Parquet files, as a user's call does.

    .venv/bin/python benchmarks/labels.py --customers 100000 --repeat 3
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

from relpredict.demo.generator import generate
from relpredict.graph import Graph, load_graph
from relpredict.labels.labels import training_table
from relpredict.query.binder import bind

CHURN = ("PREDICT COUNT(transactions.*, 0, 30, days) = 0 FOR EACH customers.customer_id "
         "WHERE COUNT(transactions.*, -90, 0, days) > 0")
SPEND = "PREDICT SUM(transactions.price, 0, 30, days) FOR EACH customers.customer_id"
STEP = timedelta(days=30)
ANCHORS = 24
TOLERANCE = 1e-9


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """Median wall time of ``repeat`` runs and the last result."""
    times, result = [], None
    for _ in range(repeat):
        began = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - began)
    return statistics.median(times), result


def anchor_times(graph: Graph) -> list[datetime]:
    """24 anchors, 30 days apart, the last one 30 days before the last transaction."""
    _, last_tx = graph.time_range("transactions")
    last = pd.Timestamp(last_tx) - STEP
    return [(last - i * STEP).to_pydatetime() for i in range(ANCHORS - 1, -1, -1)]


# ---------------------------------------------------------------------------- pandas baseline
class PandasLabels:
    """The same labels computed with pandas, one anchor at a time."""

    def __init__(self, customers: pd.DataFrame, transactions: pd.DataFrame) -> None:
        self.customers = customers[["customer_id", "signup_time"]]
        tx = transactions[["customer_id", "timestamp", "price"]].sort_values("timestamp")
        self.tx = tx.reset_index(drop=True)
        self.times = self.tx["timestamp"].to_numpy()

    def window(self, lo: pd.Timestamp, hi: pd.Timestamp) -> pd.DataFrame:
        """Transactions with lo < time <= hi (the times are sorted)."""
        start = np.searchsorted(self.times, lo.to_datetime64(), side="right")
        stop = np.searchsorted(self.times, hi.to_datetime64(), side="right")
        return self.tx.iloc[start:stop]

    def entities(self, t: pd.Timestamp) -> pd.DataFrame:
        return self.customers.loc[self.customers["signup_time"] <= t, ["customer_id"]]

    def churn(self, anchors: list[datetime]) -> pd.DataFrame:
        parts = []
        for anchor in anchors:
            t = pd.Timestamp(anchor)
            ents = self.entities(t)
            past = self.window(t - pd.Timedelta(days=90), t).groupby("customer_id").size()
            future = self.window(t, t + pd.Timedelta(days=30)).groupby("customer_id").size()
            ents = ents[ents["customer_id"].isin(past.index[past > 0])]
            counts = ents.merge(future.rename("n").reset_index(), on="customer_id", how="left")
            parts.append(pd.DataFrame({"ENTITY": counts["customer_id"], "ANCHOR_TIMESTAMP": t,
                                       "TARGET": counts["n"].fillna(0).eq(0)}))
        return pd.concat(parts, ignore_index=True)

    def spend(self, anchors: list[datetime]) -> pd.DataFrame:
        parts = []
        for anchor in anchors:
            t = pd.Timestamp(anchor)
            ents = self.entities(t)
            sums = self.window(t, t + pd.Timedelta(days=30)).groupby("customer_id")["price"].sum()
            out = ents.merge(sums.rename("s").reset_index(), on="customer_id", how="left")
            parts.append(pd.DataFrame({"ENTITY": out["customer_id"], "ANCHOR_TIMESTAMP": t,
                                       "TARGET": out["s"].fillna(0.0).astype(float)}))
        return pd.concat(parts, ignore_index=True)


# ---------------------------------------------------------------------------- comparison
def normalised(frame: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame({
        "ENTITY": frame["ENTITY"].astype("int64").to_numpy(),
        "ANCHOR_TIMESTAMP": pd.to_datetime(frame["ANCHOR_TIMESTAMP"]).astype("datetime64[us]"),
        "TARGET": frame["TARGET"].to_numpy(),
    })
    return out.sort_values(["ANCHOR_TIMESTAMP", "ENTITY"], ignore_index=True)


def differences(duck: pd.DataFrame, ref: pd.DataFrame) -> str | None:
    """None when both tables hold the same rows and values; else what differs."""
    a, b = normalised(duck), normalised(ref)
    if len(a) != len(b):
        return f"row counts differ: duckdb {len(a):,} vs pandas {len(b):,}"
    for col in ("ENTITY", "ANCHOR_TIMESTAMP"):
        bad = (a[col] != b[col]).to_numpy()
        if bad.any():
            i = int(np.argmax(bad))
            return f"{col} differs at sorted row {i}: duckdb {a[col][i]} vs pandas {b[col][i]}"
    x, y = a["TARGET"].to_numpy(), b["TARGET"].to_numpy()
    if x.dtype == bool or y.dtype == bool:
        bad = x.astype(bool) != y.astype(bool)
    else:
        bad = ~np.isclose(x.astype(float), y.astype(float), rtol=0.0, atol=TOLERANCE)
    if bad.any():
        i = int(np.argmax(bad))
        return (f"{int(bad.sum())} TARGET values differ, e.g. entity {a['ENTITY'][i]} at "
                f"{a['ANCHOR_TIMESTAMP'][i]}: duckdb {x[i]!r} vs pandas {y[i]!r}")
    return None


# ---------------------------------------------------------------------------- main
def run(data: Path, repeat: int) -> int:
    graph = load_graph(data / "graph.yaml")
    anchors = anchor_times(graph)
    tx_rows = graph.row_count("transactions")
    customers = pd.read_parquet(data / "customers.parquet")
    transactions = pd.read_parquet(data / "transactions.parquet")
    baseline = PandasLabels(customers, transactions)
    print(f"data={data} customers={len(customers):,} transactions={tx_rows:,} "
          f"anchors={len(anchors)} ({anchors[0]:%Y-%m-%d} .. {anchors[-1]:%Y-%m-%d}) "
          f"repeat={repeat}")
    failed = False
    for name, text, ref_fn in (("churn", CHURN, baseline.churn), ("spend", SPEND, baseline.spend)):
        bq = bind(text, graph)
        duck_s, duck = timed(lambda bq=bq: training_table(bq, graph, anchors), repeat)
        pandas_s, ref = timed(lambda fn=ref_fn: fn(anchors), repeat)
        rows = duck.num_rows
        print(f"{name}: {text}")
        print(f"  duckdb training_table: {duck_s:7.3f} s  {rows / duck_s:12,.0f} rows/s  "
              f"({rows:,} label rows)")
        print(f"  pandas baseline:       {pandas_s:7.3f} s  {len(ref) / pandas_s:12,.0f} rows/s  "
              f"({len(ref):,} label rows)")
        print(f"  speed ratio pandas / duckdb: {pandas_s / duck_s:.2f}x")
        problem = differences(duck.to_pandas(), ref)
        if problem:
            failed = True
            print(f"  MISMATCH: {problem}")
        else:
            target = duck.column("TARGET").to_pandas()
            summary = (f"{target.mean():.3f} positive rate" if target.dtype == bool
                       else f"mean target {target.mean():.3f}")
            print(f"  same table: yes ({summary})")
    graph.close()
    return 1 if failed else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--data", type=Path, help="reuse demo data in DIR (with graph.yaml)")
    args = parser.parse_args()
    if args.data is not None:
        sys.exit(run(args.data, args.repeat))
    with tempfile.TemporaryDirectory() as tmp:
        began = time.perf_counter()
        generate(Path(tmp), args.customers)
        print(f"generated demo data in {time.perf_counter() - began:.2f} s")
        code = run(Path(tmp), args.repeat)
    sys.exit(code)


if __name__ == "__main__":
    main()
