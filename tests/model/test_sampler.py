"""TemporalSampler: time safety, exact "last k" against a brute-force reference, NodeLoader + HeteroConv."""

from __future__ import annotations

from collections import defaultdict

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch_geometric.data import HeteroData
from torch_geometric.loader import NodeLoader
from torch_geometric.nn import HeteroConv, SAGEConv
from torch_geometric.sampler import EdgeSamplerInput, HeteroSamplerOutput

from relpredict.model.sampler import TemporalSampler
from relpredict.model.tensors import ALWAYS, NEVER

Edge = tuple[tuple[str, str, str], int, int, int]  # (edge type, edge id, src node, dst node)


@st.composite
def graphs(draw: st.DrawFn) -> HeteroData:
    """Random small heterogeneous graphs with FK-like edge types both ways and random times."""
    data = HeteroData()
    names = [f"t{i}" for i in range(draw(st.integers(1, 3)))]
    for name in names:
        n = draw(st.integers(1, 6))
        temporal = draw(st.booleans())
        times = draw(st.lists(st.one_of(st.integers(0, 5), st.just(NEVER)), min_size=n, max_size=n))
        data[name].num_nodes = n
        data[name].time = torch.tensor(times if temporal else [ALWAYS] * n, dtype=torch.long)
    for i in range(draw(st.integers(1, 4))):
        src, dst = draw(st.sampled_from(names)), draw(st.sampled_from(names))
        e = draw(st.integers(0, 12))
        rows = draw(st.lists(st.integers(0, data[src].num_nodes - 1), min_size=e, max_size=e))
        cols = draw(st.lists(st.integers(0, data[dst].num_nodes - 1), min_size=e, max_size=e))
        edge_index = torch.tensor([rows, cols], dtype=torch.long).reshape(2, -1)
        data[src, f"fk{i}", dst].edge_index = edge_index
        data[dst, f"rev_fk{i}", src].edge_index = edge_index.flip(0)
    return data


def reference_last(data: HeteroData, fanout: list[int], input_type: str, seed: int,
                   t: int) -> tuple[dict[str, set[int]], set[Edge]]:
    """Per-seed brute force: hop by hop, the k most recent visible in-neighbours (ties: edge id)."""
    nodes: dict[str, set[int]] = defaultdict(set)
    nodes[input_type].add(seed)
    frontier: dict[str, set[int]] = {input_type: {seed}}
    edges: set[Edge] = set()
    for k in fanout:
        new: dict[str, set[int]] = defaultdict(set)
        for et in data.edge_types:
            src_t, _, dst_t = et
            ei, times = data[et].edge_index.tolist(), data[src_t].time.tolist()
            for v in frontier.get(dst_t, set()):
                cands = [(times[s], e, s) for e, (s, d) in enumerate(zip(*ei)) if d == v and times[s] <= t]
                for _, e, s in sorted(cands)[-k:] if k > 0 else []:
                    edges.add((et, e, s, v))
                    if s not in nodes[src_t]:
                        nodes[src_t].add(s)
                        new[src_t].add(s)
        frontier = new
    return {k: v for k, v in nodes.items() if v}, edges


def per_seed(out: HeteroSamplerOutput, b: int) -> tuple[dict[str, set[int]], set[Edge]]:
    """The nodes and edges of seed ``b``'s subgraph, in global ids."""
    nodes = {t: set(n[out.batch[t] == b].tolist()) for t, n in out.node.items()}
    edges = set()
    for et, row in out.row.items():
        col, eid = out.col[et], out.edge[et]
        for r, c, e in zip(row.tolist(), col.tolist(), eid.tolist(), strict=True):
            if out.batch[et[2]][c] == b:
                assert out.batch[et[0]][r] == b
                edges.add((et, e, int(out.node[et[0]][r]), int(out.node[et[2]][c])))
    return {t: v for t, v in nodes.items() if v}, edges


@st.composite
def cases(draw: st.DrawFn) -> tuple[HeteroData, str, torch.Tensor, torch.Tensor, list[int]]:
    data = draw(graphs())
    input_type = draw(st.sampled_from(data.node_types))
    n = data[input_type].num_nodes
    b = draw(st.integers(1, 5))
    seeds = torch.tensor(draw(st.lists(st.integers(0, n - 1), min_size=b, max_size=b)))
    times = torch.tensor(draw(st.lists(st.integers(-1, 6), min_size=b, max_size=b)))
    fanout = draw(st.lists(st.integers(0, 3), min_size=1, max_size=3))
    return data, input_type, seeds, times, fanout


@settings(max_examples=100, deadline=None)
@given(cases())
def test_last_matches_brute_force_and_is_time_safe(case) -> None:
    data, input_type, seeds, times, fanout = case
    out = TemporalSampler(data, fanout, strategy="last").sample(input_type, seeds, times)
    assert torch.equal(out.node[input_type][: len(seeds)], seeds)
    for t, node in out.node.items():
        first = len(seeds) if t == input_type else 0
        assert (data[t].time[node[first:]] <= times[out.batch[t][first:]]).all()
    for b, (s, t) in enumerate(zip(seeds.tolist(), times.tolist(), strict=True)):
        assert per_seed(out, b) == reference_last(data, fanout, input_type, s, t)


@settings(max_examples=50, deadline=None)
@given(cases(), st.integers(0, 2**31))
def test_uniform_draws_k_distinct_visible_neighbours(case, seed: int) -> None:
    data, input_type, seeds, times, fanout = case
    sampler = TemporalSampler(data, fanout[:1], strategy="uniform", seed=seed)
    out = sampler.sample(input_type, seeds, times)
    again = TemporalSampler(data, fanout[:1], strategy="uniform", seed=seed).sample(input_type, seeds, times)
    assert all(torch.equal(out.edge[et], again.edge[et]) for et in out.edge)
    for b, (s, t) in enumerate(zip(seeds.tolist(), times.tolist(), strict=True)):
        _, edges = per_seed(out, b)
        by_type: dict = defaultdict(list)
        for et, e, src, dst in edges:
            assert dst == s and data[et[0]].time[src] <= t
            by_type[et].append(e)
        for et in data.edge_types:
            if et[2] != input_type:
                continue
            ei = data[et].edge_index
            visible = [e for e in range(ei.size(1))
                       if ei[1, e] == s and data[et[0]].time[ei[0, e]] <= t]
            assert len(by_type[et]) == min(fanout[0], len(visible))
            assert set(by_type[et]) <= set(visible)


def small_graph() -> HeteroData:
    data = HeteroData()
    data["user"].num_nodes, data["user"].time = 4, torch.tensor([0, 1, 2, 3])
    data["item"].num_nodes, data["item"].time = 3, torch.full((3,), ALWAYS)
    data["order"].num_nodes, data["order"].time = 8, torch.arange(10, 18)
    users, items = torch.tensor([0, 0, 1, 1, 2, 3, 3, 0]), torch.tensor([0, 1, 2, 0, 1, 2, 0, 1])
    for col, dst, idx in (("user_id", "user", users), ("item_id", "item", items)):
        ei = torch.stack([torch.arange(8), idx])
        data["order", col, dst].edge_index = ei
        data[dst, f"rev_{col}", "order"].edge_index = ei.flip(0)
    return data


def test_node_loader_batches_run_through_heteroconv() -> None:
    data = small_graph()
    for t in data.node_types:
        data[t].x = torch.randn(data[t].num_nodes, 5)
    sampler = TemporalSampler(data, [3, 2], strategy="last")
    loader = NodeLoader(data, sampler, input_nodes=("user", torch.arange(4)),
                        input_time=torch.tensor([20, 12, 20, 9]), batch_size=3)
    conv = HeteroConv({et: SAGEConv((-1, -1), 8) for et in data.edge_types}, aggr="sum")
    sizes = []
    for batch in loader:
        assert isinstance(batch, HeteroData)
        out = conv(batch.x_dict, batch.edge_index_dict)
        assert out["user"].shape == (batch["user"].num_nodes, 8)
        assert (batch["order"].time <= batch["user"].seed_time[batch["order"].batch]).all()
        sizes.append(batch["user"].batch_size)
    assert sizes == [3, 1]


def test_same_node_two_seed_times_appears_twice() -> None:
    data = small_graph()
    out = TemporalSampler(data, [5]).sample("user", torch.tensor([0, 0]), torch.tensor([10, 20]))
    orders = out.node["order"]
    assert sorted(orders[out.batch["order"] == 0].tolist()) == [0]
    assert sorted(orders[out.batch["order"] == 1].tolist()) == [0, 1, 7]


def test_per_edge_type_fanout_and_all_neighbours() -> None:
    data = small_graph()
    et = ("order", "user_id", "user")
    out = TemporalSampler(data, {et: [-1]}).sample("user", torch.tensor([0]), torch.tensor([99]))
    assert sorted(out.edge[et].tolist()) == [0, 1, 7]
    assert out.node["item"].numel() == 0


def test_edges_and_bad_strategy_are_refused() -> None:
    data = small_graph()
    sampler = TemporalSampler(data, [1])
    with pytest.raises(NotImplementedError, match="nodes only"):
        sampler.sample_from_edges(EdgeSamplerInput(None, torch.tensor([0]), torch.tensor([0])))
    with pytest.raises(ValueError, match="strategy"):
        TemporalSampler(data, [1], strategy="first")  # type: ignore[arg-type]
