"""Column encoders: fitted statistics, cutoff, node order, serialisation, hashing, torch module."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import torch

from relpredict.graph.graph import Graph
from relpredict.model.encoder_module import TableEncoderModule
from relpredict.model.encoders import (
    MULTI_BUCKETS,
    TEXT_BUCKETS,
    Bag,
    BagEncoder,
    CategoricalEncoder,
    EncodedTable,
    GraphEncoders,
    NumericEncoder,
)
from relpredict.model.graph_encoding import encode_graph, feature_columns, fit_encoders
from relpredict.model.hashing import multicategorical_tokens, pair_hash, stable_hash, text_ids
from relpredict.model.tensors import graph_to_hetero
from relpredict.tables.stypes import SType
from relpredict.tables.table import Table

CUTOFF = datetime(2021, 1, 10)


@pytest.fixture(scope="module")
def shop() -> Graph:
    customers = pa.table({
        "cid": [30, 10, 20, 40],
        "signup": pa.array(pd.to_datetime(["2020-01-03", "2020-01-01", None, "2020-01-02"])),
        "code": ["c30", "c10", "c20", "c40"],
        "born": pa.array(pd.to_datetime(["1970-01-01", "1990-01-01", None, "2000-01-01"]),
                         type=pa.timestamp("us")),
        "tags": pa.array([["a", "b"], None, [], ["b", None, " c "]], type=pa.list_(pa.string())),
        "account_id": ["u1", "u2", "u3", "u4"],  # ID by inference: never a feature
    })
    products = pd.DataFrame({"pid": ["b", "a", "c", "d"], "price": [3.0, 1.0, None, 2.0],
                             "kind": ["x", "y", "x", None]})
    orders = pd.DataFrame({
        "oid": [3, 1, 2, 4, 5, 6],
        "cid": [10, 30, 20, 10, 40, 30],
        "pid": ["a", "b", "a", "c", "d", "a"],
        "ts": pd.to_datetime(["2021-01-03", "2021-01-01", "2021-01-02", "2021-01-04",
                              "2021-02-01", None]),
        "amount": [20.0, 10.0, 30.0, None, 1e9, -1e9],  # the last two are after the cutoff
        "status": ["new", "paid", "paid", "new", "lost", "gone"],
    })
    reviews = pd.DataFrame({"oid": [2, 1, 2], "body": ["Great stuff, really great", None, "meh"]})
    labels = pd.DataFrame({"lid": [2, 1]})  # no feature column at all
    return Graph([
        Table.from_frame("customers", customers, primary_key="cid", time_column="signup"),
        Table.from_frame("products", products, primary_key="pid"),
        Table.from_frame("orders", orders, primary_key="oid", time_column="ts",
                         foreign_keys={"cid": "customers", "pid": "products"}),
        Table.from_frame("reviews", reviews, foreign_keys={"oid": "orders"},
                         stypes={"body": "text"}),
        Table.from_frame("labels", labels, primary_key="lid"),
    ])


@pytest.fixture(scope="module")
def encoded(shop: Graph) -> tuple[GraphEncoders, dict[str, EncodedTable]]:
    encoders = fit_encoders(shop, CUTOFF)
    return encoders, encode_graph(shop, encoders)


def test_feature_columns_leave_out_keys_times_and_ids(shop: Graph) -> None:
    assert list(feature_columns(shop, shop["customers"])) == ["code", "born", "tags"]
    assert list(feature_columns(shop, shop["orders"])) == ["amount", "status"]
    assert feature_columns(shop, shop["reviews"]) == {"body": SType.text}
    assert feature_columns(shop, shop["labels"]) == {}


def test_numeric_normalisation_and_missing_flag_by_hand(encoded) -> None:
    encoders, tables = encoded
    price = encoders["products"].columns[0]
    # fitted on 1, 2, 3: percentiles 1.02 and 2.98, clipped mean 2, std 0.98 * sqrt(2/3)
    assert isinstance(price, NumericEncoder)
    assert (price.lo, price.hi, price.mean) == pytest.approx((1.02, 2.98, 2.0))
    assert price.std == pytest.approx(0.98 * math.sqrt(2 / 3))
    r = math.sqrt(1.5)  # (2.98 - 2) / std
    # products by pid: a (1.0), b (3.0), c (NULL), d (2.0)
    expected = [-r, 0.0, r, 0.0, 0.0, 1.0, 0.0, 0.0]
    assert tables["products"].numeric.flatten().tolist() == pytest.approx(expected, abs=1e-6)
    assert tables["products"].numeric.dtype == torch.float32


def test_numeric_encoder_clips_outliers_and_floors_std() -> None:
    enc = NumericEncoder.fit("x", SType.numerical, np.array([5.0, 5.0, np.nan]))
    assert (enc.mean, enc.std) == (5.0, 1e-6)
    out = enc.transform(np.array([5.0, 1e12, -np.inf, np.nan]))
    assert out.tolist() == [[0.0, 0.0], [0.0, 0.0], [0.0, 1.0], [0.0, 1.0]]
    empty = NumericEncoder.fit("x", SType.numerical, np.array([]))
    assert (empty.mean, empty.std) == (0.0, 1.0)


def test_timestamp_columns_are_normalised_years(encoded) -> None:
    encoders, tables = encoded
    born = encoders["customers"].columns[1]
    assert isinstance(born, NumericEncoder) and born.stype is SType.timestamp
    # customer 20 signed up at NULL time: never visible, so only 1970 / 1990 / 2000 are fitted
    years = np.array([0.0, 7305 / 365.25, 10957 / 365.25])
    lo, hi = np.percentile(years, [1, 99])
    assert (born.lo, born.hi, born.mean) == pytest.approx((lo, hi, np.clip(years, lo, hi).mean()))
    cols = tables["customers"].numeric[:, :2]  # customers by cid: 10 (1990), 20 (NULL), 30, 40
    assert cols[1].tolist() == [0.0, 1.0]
    assert cols[0, 0].item() == pytest.approx((years[1] - born.mean) / born.std, abs=1e-5)


def test_categorical_vocabulary_null_and_unseen_give_zero(encoded) -> None:
    encoders, tables = encoded
    status = encoders["orders"].columns[1]
    assert isinstance(status, CategoricalEncoder)
    # fitted rows (ts <= cutoff): new, paid, paid, new; ties by value, most frequent first
    assert status.vocab == ("new", "paid") and status.cardinality == 3
    # orders by oid: 1 paid, 2 paid, 3 new, 4 new, 5 lost (after cutoff), 6 gone (NULL time)
    assert tables["orders"].categorical[:, 0].tolist() == [2, 2, 1, 1, 0, 0]
    assert tables["products"].categorical[:, 0].tolist() == [2, 1, 1, 0]  # y, x, x, NULL
    assert tables["orders"].cardinalities == [3]


def test_categorical_vocabulary_is_capped_at_most_frequent() -> None:
    values = pa.array([str(i) for i in range(1500)] + ["7"] * 3 + [None])
    enc = CategoricalEncoder.fit("c", values)
    assert len(enc.vocab) == 1000 and enc.vocab[0] == "7"
    assert enc.vocab[1:4] == ("0", "1", "10")  # then count ties by value: "999" is left out
    assert enc.transform(pa.array(["7", "0", "999", None])).tolist() == [1, 2, 0, 0]


def test_cutoff_keeps_later_rows_out_of_statistics(shop: Graph) -> None:
    before = fit_encoders(shop, CUTOFF)["orders"].columns[0]
    assert before.mean == pytest.approx(20.0)  # 10, 20, 30: neither 1e9 (later) nor -1e9 (NULL time)
    after = fit_encoders(shop, datetime(2021, 3, 1))["orders"].columns[0]
    assert after.mean > 1e6
    everything = fit_encoders(shop, None)["orders"].columns[0]  # no cutoff: NULL-time rows too
    assert everything.lo < -1e8 and everything != after


def test_aware_cutoff_is_read_as_utc(shop: Graph) -> None:
    aware = datetime(2021, 1, 3, 1, 0, tzinfo=timezone(timedelta(hours=2)))  # 2021-01-02 23:00 UTC
    assert fit_encoders(shop, aware)["orders"].columns[0].mean == pytest.approx(20.0)  # 10, 30


def test_rows_follow_graph_to_hetero_node_order(shop: Graph) -> None:
    encoders = fit_encoders(shop)  # no cutoff: customer 20 (NULL signup) has its code too
    tables = encode_graph(shop, encoders)
    _, index = graph_to_hetero(shop)
    vocab = ("?",) + encoders["customers"].columns[0].vocab
    codes = [vocab[i] for i in tables["customers"].categorical[:, 0].tolist()]
    assert codes == [f"c{k}" for k in index.keys["customers"].tolist()]
    for name, table in tables.items():
        assert table.num_nodes == shop.row_count(name)
    # reviews have no primary key: row order; body "meh" is the last row, a single word
    bag = tables["reviews"].bags[0]
    assert bag.offsets.tolist() == [0, 7, 7]  # 4 words: 4 unigrams, 3 bigrams
    assert bag.ids[7:].tolist() == [stable_hash("meh") % TEXT_BUCKETS]


def test_bags_hash_lists_and_text(encoded) -> None:
    _, tables = encoded
    tags = tables["customers"].bags[0]  # customers by cid: 10 NULL, 20 [], 30 [a, b], 40 [b, c]
    assert tags.num_buckets == MULTI_BUCKETS
    assert tags.offsets.tolist() == [0, 0, 0, 2]
    assert tags.ids.tolist() == [stable_hash(t) % MULTI_BUCKETS for t in ["a", "b", "b", "c"]]
    h = {w: stable_hash(w) for w in ["great", "stuff", "really"]}
    bigram = [int(pair_hash(np.array([h[a]], np.uint64), np.array([h[b]], np.uint64))[0])
              for a, b in [("great", "stuff"), ("stuff", "really"), ("really", "great")]]
    expected = [h["great"], bigram[0], h["stuff"], bigram[1], h["really"]]
    assert tables["reviews"].bags[0].ids[:5].tolist() == [x % TEXT_BUCKETS for x in expected]


def test_text_tokens_interleave_and_cap() -> None:
    ids, rows = text_ids(pa.array(["A b c d", None, "", "Ünïcode_x, ünïcode_x"]), 2**15, 5)
    assert rows.tolist() == [0] * 5 + [3] * 3  # a, a b, b, b c, c | ü, ü ü, ü
    assert ids[0] == stable_hash("a") % 2**15 and ids[5] == ids[7] == stable_hash("ünïcode_x") % 2**15
    tokens, rows = multicategorical_tokens(pa.array(["x| y;;z", None, " ", "x"]))
    assert tokens.to_pylist() == ["x", "y", "z", "x"] and rows.tolist() == [0, 0, 0, 3]


def test_round_trip_through_json_gives_identical_encodings(shop: Graph, encoded) -> None:
    encoders, tables = encoded
    text = json.dumps(encoders.to_dict())
    rebuilt = GraphEncoders.from_dict(json.loads(text))
    assert rebuilt == encoders and rebuilt.to_dict() == encoders.to_dict()
    again = encode_graph(shop, rebuilt)
    for name, table in tables.items():
        _assert_same(again[name], table)


_HASH_SCRIPT = """
import json, pyarrow as pa
from relpredict.model.encoders import BagEncoder
from relpredict.model.hashing import stable_hash
from relpredict.tables.stypes import SType
text = BagEncoder.for_stype("t", SType.text).transform(pa.array(["Hello world, hello", "x y"]))
multi = BagEncoder.for_stype("m", SType.multicategorical).transform(pa.array(["a|b", "c"]))
print(json.dumps([stable_hash("hello"), text.ids.tolist(), multi.ids.tolist()]))
"""


def test_hashing_is_stable_across_processes() -> None:
    env = dict(os.environ, PYTHONHASHSEED="12345")
    out = subprocess.run([sys.executable, "-c", _HASH_SCRIPT], env=env, capture_output=True,
                         text=True, check=True).stdout
    text = BagEncoder.for_stype("t", SType.text).transform(pa.array(["Hello world, hello", "x y"]))
    multi = BagEncoder.for_stype("m", SType.multicategorical).transform(pa.array(["a|b", "c"]))
    assert json.loads(out) == [stable_hash("hello"), text.ids.tolist(), multi.ids.tolist()]
    assert stable_hash("hello") == 0x7D34E501A8EDB6A7  # pinned: stored models depend on it


def test_take_slices_rows_and_bags(encoded) -> None:
    _, tables = encoded
    table = tables["customers"]
    index = torch.tensor([3, 0, 3, 2])
    part = table.take(index)
    assert torch.equal(part.numeric, table.numeric[index])
    assert torch.equal(part.categorical, table.categorical[index])
    bag = part.bags[0]
    assert bag.offsets.tolist() == [0, 2, 2, 4]
    full = table.bags[0].ids.tolist()
    assert bag.ids.tolist() == full[2:4] + full[2:4] + full[0:2]
    empty = table.take(torch.tensor([], dtype=torch.long))
    assert empty.num_nodes == 0 and empty.bags[0].ids.numel() == 0


def test_module_output_shape_and_gradients(encoded) -> None:
    _, tables = encoded
    for name in ("customers", "orders", "reviews", "products"):
        table = tables[name]
        module = TableEncoderModule.from_encoded(table, channels=16)
        out = module(table.numeric, table.categorical, table.bags)
        assert out.shape == (table.num_nodes, 16) and torch.isfinite(out).all()
        out.sum().backward()
    part = tables["customers"].take(torch.tensor([1, 3]))
    assert TableEncoderModule.from_encoded(part, 8).encode(part).shape == (2, 8)


def test_module_for_a_table_without_features(encoded) -> None:
    encoders, tables = encoded
    labels = tables["labels"]
    assert labels.numeric.shape == (2, 0) and labels.categorical.shape == (2, 0) and not labels.bags
    module = TableEncoderModule.from_encoded(encoders["labels"], channels=4)
    out = module(labels.numeric, labels.categorical, labels.bags)
    assert out.shape == (2, 4) and torch.equal(out[0], out[1])
    assert module(torch.zeros(0, 0), torch.zeros(0, 0, dtype=torch.long), [], num_nodes=7).shape == (7, 4)
    assert any(p.requires_grad for p in module.parameters())


def _assert_same(a: EncodedTable, b: EncodedTable) -> None:
    assert torch.equal(a.numeric, b.numeric) and torch.equal(a.categorical, b.categorical)
    assert a.cardinalities == b.cardinalities and len(a.bags) == len(b.bags)
    for x, y in zip(a.bags, b.bags):
        assert isinstance(x, Bag) and torch.equal(x.ids, y.ids) and torch.equal(x.offsets, y.offsets)
        assert x.num_buckets == y.num_buckets


def test_storage_types_are_read_by_their_stype() -> None:
    frame = pa.table({
        "k": [1, 2],
        "price": pa.array([1, 3], type=pa.decimal128(10, 2)),
        "flag": [True, None],
        "day": pa.array([0, 365], type=pa.date32()),
        "ns": pa.array([0, 86_400 * 10**9], type=pa.timestamp("ns")),
        "codes": pa.array([[1, 2], [2]], type=pa.list_(pa.int32())),
    })
    graph = Graph([Table.from_frame("t", frame, primary_key="k")])
    encoders = fit_encoders(graph)
    table = encode_graph(graph, encoders)["t"]
    price, flag, day, ns, _ = encoders["t"].columns
    assert price.mean == pytest.approx(2.0) and flag.vocab == ("true",)
    assert day.mean == pytest.approx(0.5 * 365 / 365.25)
    assert ns.mean == pytest.approx(0.5 / 365.25)
    assert table.categorical.tolist() == [[1], [0]]
    assert table.bags[0].ids.tolist() == [stable_hash(c) % MULTI_BUCKETS for c in "122"]
