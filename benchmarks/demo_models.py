"""Model benchmark on the demo store: churn, spend and next-products, GNN against baselines.

For each query the GNN (alone, ``--model gnn``) is trained on the default time split and scored
on the test anchors, next to baselines measured in the same run on the same rows:

- churn (binary, AUROC) and spend (regression, MAE): a constant (the training positive rate /
  median) and LightGBM on the entity's own columns only (region, age, segment, ...);
- next products (link prediction, MAP@10): the 10 most popular products of the 30 days before
  each anchor.

Plus the store's own heuristics, written here in pandas over the raw transactions (only rows with
time <= each anchor): churn, the customer's past rate of 30-day windows without a purchase and the
days since the last purchase; spend, the last 30 days' spend and the mean of the last 3 windows;
next products, the customer's own past products (most recent first), then the popular ones.

    .venv/bin/python benchmarks/demo_models.py --customers 20000
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import torch

from relpredict.demo.generator import generate
from relpredict.features import aggregate_features, fit_feature_spec
from relpredict.features.history import popular_items
from relpredict.graph.yaml_io import load_graph
from relpredict.labels.labels import anchor_schedule, split_tables
from relpredict.labels.sql import ANCHOR, TARGET
from relpredict.model import metrics
from relpredict.model.boosting import Booster
from relpredict.model.fit import TrainOptions, train_model
from relpredict.model.seedfeatures import feature_matrix
from relpredict.model.targets import TargetCodec
from relpredict.query.binder import bind

QUERIES = {
    "churn": "PREDICT COUNT(transactions.*, 0, 30, days) = 0 FOR EACH customers.customer_id "
             "WHERE COUNT(transactions.*, -90, 0, days) > 0",
    "spend": "PREDICT SUM(transactions.price, 0, 30, days) FOR EACH customers.customer_id",
    "next-products": "PREDICT LIST_DISTINCT(transactions.product_id, 0, 30, days) RANK TOP 10 "
                     "FOR EACH customers.customer_id",
}
MAX_EVAL = 4


def entity_columns_lightgbm(bq, graph, splits: dict[str, pa.Table]) -> np.ndarray:
    """Test predictions of LightGBM on the entity table's own columns (RelBench's baseline)."""
    keys = {n: t.select(["ENTITY", ANCHOR]) for n, t in splits.items()}
    spec = fit_feature_spec(bq, graph, keys["train"])
    prefix = f"{bq.entity_table}."
    xs = {}
    for name, rows in keys.items():
        table = aggregate_features(bq, graph, rows, spec)
        names = [c for c in table.column_names if c.startswith(prefix) and ">" not in c]
        xs[name] = feature_matrix(table, names)[1]
    codec = TargetCodec.fit(bq.task_type, splits["train"].column(TARGET))
    ys = {n: codec.encode(t.column(TARGET)) for n, t in splits.items()}
    booster = Booster.fit(codec, names, xs["train"], ys["train"], xs["val"], ys["val"], seed=0)
    return booster.predict(xs["test"])


def popularity_map(bq, graph, test: pa.Table, k: int = 10) -> float:
    """MAP@k of recommending each anchor's 30-day most popular items to everyone."""
    from datetime import timedelta

    truth, ranked = [], []
    for anchor in sorted(set(test.column(ANCHOR).to_pylist())):
        top = popular_items(bq, graph, anchor, timedelta(days=30), n=k).column("ITEM").to_pylist()
        rows = test.filter(pa.compute.equal(test.column(ANCHOR), pa.scalar(anchor, test.schema.field(ANCHOR).type)))
        for items in rows.column(TARGET).to_pylist():
            truth.append(items)
            ranked.append(top)
    return metrics.map_at_k(truth, ranked, k)


WINDOW = pd.Timedelta(days=30)


def transactions_frame(graph) -> pd.DataFrame:
    """The raw transactions, sorted by time."""
    tx = graph.con.sql("SELECT customer_id, product_id, price, timestamp FROM transactions").df()
    return tx.sort_values("timestamp", kind="stable").reset_index(drop=True)


def past_windows(tx: pd.DataFrame, rows: pd.DataFrame, column: str | None, n: int = 12) -> np.ndarray:
    """``[rows, n]``: per past 30-day window (t − iΔ, t − (i−1)Δ] the customer's purchase count
    (``column`` None) or sum of ``column``; NaN for windows that ended before their first purchase."""
    out = np.full((len(rows), n), np.nan)
    first = tx.groupby("customer_id")["timestamp"].min()
    for anchor, group in rows.groupby(ANCHOR):
        t = pd.Timestamp(anchor)
        past = tx[(tx["timestamp"] <= t) & (tx["timestamp"] > t - n * WINDOW)]
        frame = pd.DataFrame({"c": past["customer_id"], "w": ((t - past["timestamp"]) // WINDOW).astype(int),
                              "v": past[column] if column else 1.0})
        sums = frame.groupby(["c", "w"])["v"].sum().unstack(fill_value=0.0)
        sums = sums.reindex(index=group["ENTITY"], columns=range(n), fill_value=0.0).to_numpy(np.float64)
        ends = np.array([t - i * WINDOW for i in range(n)], dtype="datetime64[ns]")
        starts = first.reindex(group["ENTITY"]).to_numpy().astype("datetime64[ns]")
        valid = ~np.isnat(starts)[:, None] & (starts[:, None] < ends[None, :])
        out[group.index.to_numpy()] = np.where(valid, sums, np.nan)
    return out


def days_since_last(tx: pd.DataFrame, rows: pd.DataFrame) -> np.ndarray:
    """Days from the customer's last purchase at or before the anchor to the anchor (large if none)."""
    out = np.full(len(rows), 1e6)
    for anchor, group in rows.groupby(ANCHOR):
        t = pd.Timestamp(anchor)
        last = tx[tx["timestamp"] <= t].groupby("customer_id")["timestamp"].max().reindex(group["ENTITY"])
        days = ((t - last) / pd.Timedelta(days=1)).to_numpy(np.float64)
        out[group.index.to_numpy()] = np.nan_to_num(days, nan=1e6)
    return out


def row_mean(a: np.ndarray, fill: float) -> np.ndarray:
    n = (~np.isnan(a)).sum(1)
    return np.where(n > 0, np.nansum(a, 1) / np.maximum(n, 1), fill)


def own_then_popular(tx: pd.DataFrame, rows: pd.DataFrame, k: int = 10) -> list[list]:
    """Per row: the customer's own past products, most recent first (ties: more purchases), then
    the most purchased products of the 30 days before the anchor, up to k."""
    out: list[list] = [[] for _ in range(len(rows))]
    for anchor, group in rows.groupby(ANCHOR):
        t = pd.Timestamp(anchor)
        past = tx[tx["timestamp"] <= t]
        popular = past[past["timestamp"] > t - WINDOW].groupby("product_id").size()
        popular = popular.sort_values(ascending=False, kind="stable").index.tolist()
        own = past.groupby(["customer_id", "product_id"]).agg(last=("timestamp", "max"), n=("price", "size"))
        own = own.reset_index().sort_values(["customer_id", "last", "n"], ascending=[True, False, False])
        mine = own.groupby("customer_id")["product_id"].agg(list)
        for pos, key in zip(group.index.to_numpy(), group["ENTITY"], strict=True):
            ranked = list(mine.get(key, []))[:k]
            seen = set(ranked)
            ranked += [p for p in popular if p not in seen][:k - len(ranked)]
            out[pos] = ranked
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        generate(Path(tmp), customers=args.customers, seed=args.seed)
        graph = load_graph(Path(tmp) / "graph.yaml")
        print(f"demo store: {args.customers:,} customers, {graph.row_count('transactions'):,} transactions")
        tx = transactions_frame(graph)
        print(f"{'query':<14} {'metric':<8} {'GNN':>10} {'baseline':>10}  {'baseline name':<46} {'seconds':>8}")
        for name, query in QUERIES.items():
            bq = bind(query, graph)
            splits = split_tables(bq, graph, anchor_schedule(bq, graph, max_eval=MAX_EVAL))
            began = time.perf_counter()
            model = train_model(graph, bq, TrainOptions(kind="gnn", seed=args.seed, max_eval=MAX_EVAL))
            secs = time.perf_counter() - began
            test = splits["test"]
            rows_df = test.select(["ENTITY", ANCHOR, TARGET]).to_pandas()
            if name == "churn":
                y = test.column(TARGET).to_numpy().astype(float)
                gnn = model.metrics["test"]["auroc"]
                prior = float(np.mean(splits["train"].column(TARGET).to_numpy(zero_copy_only=False)))
                counts = past_windows(tx, rows_df, None)
                churned = row_mean(np.where(np.isnan(counts), np.nan, counts == 0), prior)
                rows = [("constant (training rate)", 0.5),
                        ("LightGBM on customer columns only", metrics.auroc(y, entity_columns_lightgbm(bq, graph, splits))),
                        ("past rate of 30-day windows without purchase", metrics.auroc(y, churned)),
                        ("days since the last purchase", metrics.auroc(y, days_since_last(tx, rows_df)))]
                metric = "AUROC"
            elif name == "spend":
                y = test.column(TARGET).to_numpy().astype(float)
                median = float(np.median(splits["train"].column(TARGET).to_numpy()))
                gnn = model.metrics["test"]["mae"]
                spent = past_windows(tx, rows_df, "price")
                rows = [("constant (training median)", metrics.mae(y, np.full(len(y), median))),
                        ("LightGBM on customer columns only", metrics.mae(y, entity_columns_lightgbm(bq, graph, splits))),
                        ("last 30 days' spend", metrics.mae(y, np.nan_to_num(spent[:, 0], nan=0.0))),
                        ("mean spend of the last 3 windows", metrics.mae(y, row_mean(spent[:, :3], 0.0)))]
                metric = "MAE"
            else:
                gnn = model.metrics["test"]["map@10"]
                rows = [("popular last 30 days", popularity_map(bq, graph, test)),
                        ("own past products, then popular", metrics.map_at_k(
                            rows_df[TARGET].tolist(), own_then_popular(tx, rows_df), 10))]
                metric = "MAP@10"
            for label, value in rows:
                print(f"{name:<14} {metric:<8} {gnn:>10.4f} {value:>10.4f}  {label:<46} {secs:>8.0f}")
                name, metric, secs = "", "", float("nan")


if __name__ == "__main__":
    main()
