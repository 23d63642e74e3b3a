"""graph_to_hetero: node order, times, FK edges both ways, key index."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from relpredict.graph.graph import Graph
from relpredict.model.tensors import ALWAYS, NEVER, graph_to_hetero
from relpredict.tables.table import Table


def secs(day: str) -> int:
    return int(pd.Timestamp(day).timestamp())


@pytest.fixture(scope="module")
def shop() -> Graph:
    customers = pd.DataFrame({"cid": [30, 10, 20],
                              "signup": pd.to_datetime(["2020-01-03", "2020-01-01", None])})
    products = pd.DataFrame({"pid": ["b", "a", "c"]})
    orders = pd.DataFrame({
        "oid": [102, 100, 101, 103, 104],
        "cid": [10, 30, 99, None, 10],  # 99: missing customer, None: no customer
        "pid": ["a", "a", "c", "b", "zz"],  # zz: missing product
        "ts": pd.to_datetime(["2021-01-03", "2021-01-01", "2021-01-02", "2021-01-04",
                              "2021-01-05 12:00:30"], format="mixed"),
    })
    notes = pd.DataFrame({"oid": [101, 104, 104], "text": ["x", "y", "z"]})  # no primary key
    return Graph([
        Table.from_frame("customers", customers, primary_key="cid", time_column="signup"),
        Table.from_frame("products", products, primary_key="pid"),
        Table.from_frame("orders", orders, primary_key="oid", time_column="ts",
                         foreign_keys={"cid": "customers", "pid": "products"}),
        Table.from_frame("notes", notes, foreign_keys={"oid": "orders"}),
    ])


def test_nodes_follow_primary_key_order_with_times(shop: Graph) -> None:
    data, index = graph_to_hetero(shop)
    assert data["customers"].num_nodes == 3 and data["notes"].num_nodes == 3
    assert index.keys["customers"].tolist() == [10, 20, 30]
    assert index.keys["products"].tolist() == ["a", "b", "c"]
    assert data["customers"].time.tolist() == [secs("2020-01-01"), NEVER, secs("2020-01-03")]
    assert data["orders"].time.tolist() == [secs("2021-01-01"), secs("2021-01-02"),
                                           secs("2021-01-03"), secs("2021-01-04"),
                                           secs("2021-01-05 12:00:30")]
    assert data["products"].time.tolist() == [ALWAYS] * 3
    assert data["orders"].time.dtype == torch.long


def test_fk_edges_both_ways_and_missing_keys_give_none(shop: Graph) -> None:
    data, _ = graph_to_hetero(shop)
    # orders by oid: 100 (cid 30, a), 101 (99, c), 102 (10, a), 103 (None, b), 104 (10, zz)
    assert data["orders", "cid", "customers"].edge_index.tolist() == [[0, 2, 4], [2, 0, 0]]
    assert data["orders", "pid", "products"].edge_index.tolist() == [[0, 1, 2, 3], [0, 2, 0, 1]]
    assert data["customers", "rev_cid", "orders"].edge_index.tolist() == [[2, 0, 0], [0, 2, 4]]
    assert data["notes", "oid", "orders"].edge_index.tolist() == [[0, 1, 2], [1, 4, 4]]
    assert len(data.edge_types) == 6


def test_node_index_maps_keys_both_ways(shop: Graph) -> None:
    _, index = graph_to_hetero(shop)
    assert index.positions("customers", [30, 10]).tolist() == [2, 0]
    assert index.positions("products", np.array(["c", "a"])).tolist() == [2, 0]
    assert index.positions("customers", [10, 77], missing="ignore").tolist() == [0, -1]
    assert index.key_values("orders", torch.tensor([4, 0])).tolist() == [104, 100]
    with pytest.raises(KeyError, match="77"):
        index.positions("customers", [77])
