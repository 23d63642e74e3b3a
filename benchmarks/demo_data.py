"""Benchmark: generate the demo store and load it back.

Times ``relpredict.demo.generator.generate`` at about 1,000,000 transactions
(``--customers 100000``), then loading the result (``time_graph_load``). The in-run baseline is a
bare pyarrow write of an equally sized random table with the transactions schema: the ratio
generate / bare-write says how much the generator costs above the unavoidable Parquet write.

    .venv/bin/python benchmarks/demo_data.py --customers 100000 --repeat 3
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from relpredict.demo.generator import generate
from relpredict.graph import load_graph


def median_seconds(fn: Callable[[], object], repeat: int) -> float:
    """Median wall time of ``repeat`` runs: robust to one slow run on a shared machine."""
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        fn()
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def time_graph_load(out_dir: Path) -> int:
    """Load the generated store as a user would: the graph YAML, every table, full validation
    (keys unique, links resolved, times parsed); returns the transaction count."""
    graph = load_graph(out_dir / "graph.yaml")
    findings = graph.validate()
    if any(f.severity == "error" for f in findings):
        raise SystemExit(f"demo data failed validation: {findings}")
    rows = graph.row_count("transactions")
    graph.close()
    return rows


def random_transactions(rows: int) -> pa.Table:
    """A random table with the transactions schema, for the bare-write baseline."""
    rng = np.random.default_rng(0)
    channels = pa.array(["web", "app", "store"])
    micros = 1_672_531_200_000_000 + rng.integers(0, 63_072_000, rows) * 1_000_000
    return pa.table({
        "transaction_id": pa.array(np.arange(1, rows + 1, dtype=np.int64)),
        "customer_id": pa.array(rng.integers(1, 100_000, rows)),
        "product_id": pa.array(rng.integers(1, 5_000, rows)),
        "price": pa.array(np.round(rng.lognormal(3.5, 1.0, rows), 2)),
        "quantity": pa.array(rng.integers(1, 6, rows)),
        "timestamp": pa.array(np.sort(micros).astype("datetime64[us]"), pa.timestamp("us")),
        "channel": channels.take(pa.array(rng.integers(0, 3, rows))),
    })


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "store"
        summaries = []
        gen_s = median_seconds(lambda: summaries.append(generate(out, args.customers)),
                               args.repeat)
        tx_rows = summaries[-1].rows["transactions"]
        load_s = median_seconds(lambda: time_graph_load(out), args.repeat)
        table = random_transactions(tx_rows)
        bare_s = median_seconds(lambda: pq.write_table(table, Path(tmp) / "bare.parquet",
                                                       compression="zstd"), args.repeat)
    total = sum(summaries[-1].rows.values())
    print(f"customers={args.customers:,} repeat={args.repeat} rows={summaries[-1].rows}")
    print(f"generate:   {gen_s:7.3f} s  {tx_rows / gen_s:12,.0f} transactions/s  "
          f"{total / gen_s:12,.0f} rows/s (all tables)")
    print(f"load:       {load_s:7.3f} s  {tx_rows / load_s:12,.0f} rows/s  "
          "(load_graph + full validation: keys, links, times)")
    print(f"bare write: {bare_s:7.3f} s  {tx_rows / bare_s:12,.0f} rows/s  "
          "(pyarrow write of a random table, transactions schema)")
    print(f"ratio generate / bare write: {gen_s / bare_s:.1f}x")


if __name__ == "__main__":
    main()
