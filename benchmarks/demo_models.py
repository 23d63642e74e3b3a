"""Model benchmark on the demo store: churn, spend and next-products, GNN against baselines.

For each query the GNN (alone, ``--model gnn``) is trained on the default time split and scored
on the test anchors, next to baselines measured in the same run on the same rows:

- churn (binary, AUROC) and spend (regression, MAE): a constant (the training positive rate /
  median) and LightGBM on the entity's own columns only (region, age, segment, ...);
- next products (link prediction, MAP@10): the 10 most popular products of the 30 days before
  each anchor.

    .venv/bin/python benchmarks/demo_models.py --customers 20000
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import torch

from relpredict.demo.generator import generate
from relpredict.features.aggregates import aggregate_features, fit_feature_spec
from relpredict.features.history import popular_items
from relpredict.graph.yaml_io import load_graph
from relpredict.labels.labels import anchor_schedule, split_tables
from relpredict.labels.sql import ANCHOR, TARGET
from relpredict.model import metrics
from relpredict.model.boosting import Booster
from relpredict.model.seedfeatures import feature_matrix
from relpredict.model.targets import TargetCodec
from relpredict.model.train import TrainOptions, train_model
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
        print(f"{'query':<14} {'metric':<8} {'GNN':>10} {'baseline':>10}  {'baseline name':<34} {'seconds':>8}")
        for name, query in QUERIES.items():
            bq = bind(query, graph)
            splits = split_tables(bq, graph, anchor_schedule(bq, graph, max_eval=MAX_EVAL))
            began = time.perf_counter()
            model = train_model(graph, bq, TrainOptions(kind="gnn", seed=args.seed, max_eval=MAX_EVAL))
            secs = time.perf_counter() - began
            test = splits["test"]
            if name == "churn":
                y = test.column(TARGET).to_numpy().astype(float)
                gnn = model.metrics["test"]["auroc"]
                rows = [("constant (training rate)", 0.5),
                        ("LightGBM on customer columns only", metrics.auroc(y, entity_columns_lightgbm(bq, graph, splits)))]
                metric = "AUROC"
            elif name == "spend":
                y = test.column(TARGET).to_numpy().astype(float)
                median = float(np.median(splits["train"].column(TARGET).to_numpy()))
                gnn = model.metrics["test"]["mae"]
                rows = [("constant (training median)", metrics.mae(y, np.full(len(y), median))),
                        ("LightGBM on customer columns only", metrics.mae(y, entity_columns_lightgbm(bq, graph, splits)))]
                metric = "MAE"
            else:
                gnn = model.metrics["test"]["map@10"]
                rows = [("popular last 30 days", popularity_map(bq, graph, test))]
                metric = "MAP@10"
            for label, value in rows:
                print(f"{name:<14} {metric:<8} {gnn:>10.4f} {value:>10.4f}  {label:<34} {secs:>8.0f}")
                name, metric, secs = "", "", float("nan")


if __name__ == "__main__":
    main()
