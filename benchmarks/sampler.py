"""Benchmark: graph tensors and temporal "last k" sampling on the demo store.

Generates the demo store (``--customers 100000`` ≈ 1,000,000 transactions), loads it, times
``graph_to_hetero``, then samples 2 hops ``[32, 16]`` with the "last" strategy around every
customer at one anchor time in batches of 1024 and reports seeds/s (median of ``--repeat``).
The in-run baseline is a straightforward per-seed Python loop over the same time-sorted CSC
(numpy slices per node) on a subsample of seeds; the ratio is vectorised / loop seeds/s.

    .venv/bin/python benchmarks/sampler.py --customers 100000 --repeat 3
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from relpredict.demo.generator import generate
from relpredict.graph import load_graph
from relpredict.model.sampler import TemporalSampler
from relpredict.model.tensors import graph_to_hetero

FANOUT = [32, 16]
BATCH = 1024


def median_seconds(fn: Callable[[], object], repeat: int) -> float:
    """Median wall time of ``repeat`` runs."""
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        fn()
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def sample_all(sampler: TemporalSampler, seeds: torch.Tensor, anchor: int) -> int:
    """Sample every seed in batches; returns the number of sampled nodes."""
    total = 0
    for start in range(0, seeds.numel(), BATCH):
        chunk = seeds[start:start + BATCH]
        out = sampler.sample("customers", chunk, torch.full_like(chunk, anchor))
        total += sum(n.numel() for n in out.node.values())
    return total


def loop_sample(sampler: TemporalSampler, seeds: np.ndarray, anchor: int) -> int:
    """Baseline: per seed, per hop, per edge type, per frontier node — numpy slices of the CSC."""
    rank = int(np.searchsorted(sampler.times.numpy(), anchor, side="right"))
    csc = {et: (c.ptr.numpy(), c.key.numpy() % sampler.stride, c.nbr.numpy())
           for et, c in sampler.csc.items()}
    total = 0
    for seed in seeds.tolist():
        seen = {"customers": {seed}}
        frontier = {"customers": [seed]}
        for k in FANOUT:
            new: dict[str, list[int]] = {}
            for (src, _, dst), (ptr, ranks, nbr) in csc.items():
                for v in frontier.get(dst, []):
                    lo, hi = ptr[v], ptr[v + 1]
                    cut = lo + int(np.searchsorted(ranks[lo:hi], rank))
                    for s in nbr[max(lo, cut - k):cut].tolist():
                        if s not in seen.setdefault(src, set()):
                            seen[src].add(s)
                            new.setdefault(src, []).append(s)
            frontier = new
        total += sum(len(v) for v in seen.values())
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--baseline-seeds", type=int, default=2_000)
    parser.add_argument("--threads", type=int, default=1,
                        help="torch intra-op threads (small ops lose to thread overhead)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch threads: {args.threads}")
    with tempfile.TemporaryDirectory() as tmp:
        summary = generate(tmp, customers=args.customers)
        print(f"demo store: {summary.rows}")
        graph = load_graph(Path(tmp) / "graph.yaml")
        _ = graph.con  # load the data before timing the tensors
        began = time.perf_counter()
        data, _ = graph_to_hetero(graph)
        print(f"graph_to_hetero: {time.perf_counter() - began:.2f} s "
              f"({sum(data[et].edge_index.size(1) for et in data.edge_types):,} edges)")
    began = time.perf_counter()
    sampler = TemporalSampler(data, FANOUT, strategy="last")
    print(f"TemporalSampler build (time-sorted CSC): {time.perf_counter() - began:.2f} s")
    tx_time = data["transactions"].time
    anchor = int(tx_time.sort().values[int(0.8 * tx_time.numel())])  # 80 % of history visible
    seeds = torch.arange(data["customers"].num_nodes)
    nodes = sample_all(sampler, seeds, anchor)
    fast = median_seconds(lambda: sample_all(sampler, seeds, anchor), args.repeat)
    fast_rate = seeds.numel() / fast
    print(f"vectorised 'last' {FANOUT}, batch {BATCH}: {seeds.numel():,} seeds in {fast:.2f} s "
          f"= {fast_rate:,.0f} seeds/s ({nodes / seeds.numel():.1f} nodes/seed, "
          f"median of {args.repeat})")
    sub = np.random.default_rng(0).choice(seeds.numel(), min(args.baseline_seeds, seeds.numel()),
                                          replace=False)
    slow = median_seconds(lambda: loop_sample(sampler, sub, anchor), 1)
    slow_rate = len(sub) / slow
    print(f"baseline per-seed Python loop: {len(sub):,} seeds in {slow:.2f} s "
          f"= {slow_rate:,.0f} seeds/s")
    check = sample_all(sampler, torch.from_numpy(sub), anchor), loop_sample(sampler, sub, anchor)
    print(f"ratio vectorised / loop: {fast_rate / slow_rate:.1f}x "
          f"(sampled nodes on the subsample: {check[0]:,} vs {check[1]:,})")


if __name__ == "__main__":
    main()
