"""Regression that survives a change of scale: the target doubles after the validation period.

A generated store whose customers buy at steady personal rates and price levels; from the test
start on every price is multiplied by 2 (inflation, a new points scale). A model that predicts
in absolute units keeps predicting the old scale and loses its edge over the naive "last
window's value" (which adapts after one window). The relative model (population level at the
anchor, inputs in target units divided by it) must keep its accuracy relative to that naive
baseline: test ratio <= 1.05 x validation ratio. The naive baseline is computed here in pandas,
not through the product's baseline code.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from relpredict.graph.yaml_io import load_graph
from relpredict.labels.labels import anchor_schedule, split_tables
from relpredict.model.fit import TrainOptions, train_model
from relpredict.query.binder import bind

pytestmark = pytest.mark.slow

QUERY = "PREDICT SUM(transactions.price, 0, 30, days) FOR EACH customers.customer_id"
START, END = datetime(2022, 1, 1), datetime(2024, 12, 31)
VAL_START, TEST_START = datetime(2024, 1, 1), datetime(2024, 5, 1)
GRAPH = """name: shifted_store
tables:
  customers: {file: customers.parquet, primary_key: customer_id}
  transactions:
    file: transactions.parquet
    primary_key: transaction_id
    foreign_keys: {customer_id: customers}
    time_column: timestamp
"""


def write_store(folder: Path, customers: int = 1200, seed: int = 0, factor: float = 2.0) -> None:
    """Customers with a personal purchase rate and price level; prices x ``factor`` from the
    test start on."""
    rng = np.random.default_rng(seed)
    rate = rng.gamma(2.0, 0.05, customers)  # purchases per day: about 3 a month on average
    level = rng.lognormal(3.0, 0.6, customers)
    segment = rng.choice(["a", "b", "c"], customers)
    days = (END - START).days
    rows = []
    for c in range(customers):
        n = rng.poisson(rate[c] * days)
        offsets = np.sort(rng.uniform(0, days, n))
        prices = level[c] * rng.lognormal(0.0, 0.35, n)
        for off, price in zip(offsets, prices, strict=True):
            rows.append((c, START + timedelta(days=float(off)), float(price)))
    tx = pd.DataFrame(rows, columns=["customer_id", "timestamp", "price"])
    tx.loc[tx["timestamp"] > TEST_START, "price"] *= factor
    tx.insert(0, "transaction_id", np.arange(len(tx)))
    pd.DataFrame({"customer_id": np.arange(customers), "segment": segment}).to_parquet(folder / "customers.parquet")
    tx.to_parquet(folder / "transactions.parquet")
    (folder / "graph.yaml").write_text(GRAPH)


def naive_last_window(tx: pd.DataFrame, rows: pd.DataFrame) -> np.ndarray:
    """Each row's spend in (anchor - 30 days, anchor]: the last window's value."""
    out = np.zeros(len(rows))
    by_customer = {c: g for c, g in tx.groupby("customer_id")}
    for i, (key, anchor) in enumerate(zip(rows["ENTITY"], rows["ANCHOR_TIMESTAMP"], strict=True)):
        g = by_customer.get(key)
        if g is not None:
            t = g["timestamp"]
            out[i] = g.loc[(t > anchor - timedelta(days=30)) & (t <= anchor), "price"].sum()
    return out


def test_relative_accuracy_survives_a_doubling_of_the_target(tmp_path: Path) -> None:
    write_store(tmp_path)
    graph = load_graph(tmp_path / "graph.yaml")
    opts = TrainOptions(kind="lightgbm", seed=0, val_start=VAL_START, test_start=TEST_START, max_eval=8)
    model = train_model(graph, QUERY, opts)
    bq = bind(QUERY, graph)
    splits = split_tables(bq, graph, anchor_schedule(bq, graph, val_start=VAL_START, test_start=TEST_START,
                                                     max_eval=8))
    tx = pd.read_parquet(tmp_path / "transactions.parquet")
    ratios = {}
    for name in ("val", "test"):
        rows = splits[name].to_pandas()
        y = rows["TARGET"].to_numpy(dtype=float)
        pred = model.score(graph, splits[name].select(["ENTITY", "ANCHOR_TIMESTAMP"]))[1]
        naive = naive_last_window(tx, rows)
        ratios[name] = np.abs(y - pred).mean() / np.abs(y - naive).mean()
    assert ratios["val"] < 1.0, ratios  # the model beats the naive baseline where nothing shifted
    assert ratios["test"] <= 1.05 * ratios["val"], ratios
