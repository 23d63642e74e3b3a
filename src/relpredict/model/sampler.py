"""Temporal neighbour sampling in pure torch (no pyg-lib), for ``torch_geometric.loader.NodeLoader``.

Each seed carries a time; a node is reached from seed ``s`` only through nodes whose time is at
most ``time(s)``. Sampling is disjoint: every seed gets its own subgraph, so a row reached from two
seeds with different times appears twice (``batch`` tells the seed). Per hop and edge type
``(src, rel, dst)``, each frontier node of type ``dst`` draws up to ``k`` of its ``src``
neighbours among those visible at its seed's time: the ``k`` most recent (``"last"``,
deterministic) or ``k`` uniformly at random (``"uniform"``, seeded generator).

Everything is vectorised over seeds and nodes; Python loops only run over hops and edge types.
A node reached twice within one seed's subgraph is kept once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import torch
from torch import Tensor
from torch_geometric.data import HeteroData
from torch_geometric.sampler import (
    BaseSampler,
    EdgeSamplerInput,
    HeteroSamplerOutput,
    NodeSamplerInput,
)
from torch_geometric.typing import EdgeType, NodeType

from relpredict.model.tensors import NEVER

Strategy = Literal["last", "uniform"]
NO_TIME_LIMIT = NEVER - 1  # seed time when none is given: all rows visible but NULL-time ones
NumNeighbors = Sequence[int] | Mapping[EdgeType, Sequence[int]]


@dataclass
class _Csc:
    """Incoming neighbours of each ``dst`` node, sorted by neighbour time within each segment.

    ``rank``: the time rank of each entry's source node (its position among the graph's distinct
    times), ascending within each segment, shape ``[E]``; ``ptr``: segment starts, ``[N_dst + 1]``;
    ``nbr``: source node of each sorted entry, ``[E]``; ``eid``: its column in the edge type's
    ``edge_index``, ``[E]`` (all four int32 where they fit, see :func:`narrow`: a graph of 10M
    rows maps half the bytes of int64 ones).
    """

    rank: Tensor
    ptr: Tensor
    nbr: Tensor
    eid: Tensor


@dataclass
class _Nodes:
    """The sampled nodes of one type across all seeds of a batch.

    ``node``/``batch``: global ids and seed indices in output order; ``seen``: sorted
    ``batch * N + node`` keys of those nodes with their local index in ``seen_loc``.
    """

    n: int
    node: list[Tensor] = field(default_factory=list)
    batch: list[Tensor] = field(default_factory=list)
    seen: Tensor = field(default_factory=lambda: torch.empty(0, dtype=torch.long))
    seen_loc: Tensor = field(default_factory=lambda: torch.empty(0, dtype=torch.long))
    count: int = 0

    def add(self, node: Tensor, batch: Tensor) -> tuple[Tensor, Tensor]:
        """Local indices of ``(node, batch)`` pairs, adding the unseen ones.

        Returns ``(local [P], new [Q])``: the local index of every pair and the local indices of
        the pairs added now (the next hop's frontier).
        """
        keys = batch * self.n + node
        local = torch.full_like(keys, -1)
        if self.seen.numel():
            at = torch.searchsorted(self.seen, keys).clamp_(max=self.seen.numel() - 1)
            hit = self.seen[at] == keys
            local[hit] = self.seen_loc[at[hit]]
        fresh = local < 0
        uniq, inverse = torch.unique(keys[fresh], return_inverse=True)
        new = torch.arange(self.count, self.count + uniq.numel())
        local[fresh] = new[inverse]
        self.count += uniq.numel()
        self.node.append(uniq % self.n)
        self.batch.append(torch.div(uniq, self.n, rounding_mode="floor"))
        seen, order = torch.sort(torch.cat([self.seen, uniq]))
        self.seen, self.seen_loc = seen, torch.cat([self.seen_loc, new])[order]
        return local, new


INT32_MAX = 2**31 - 1


def narrow(index: Tensor) -> Tensor:
    """An index tensor of non-negative values as int32 when they fit (half the memory)."""
    if index.numel() == 0 or (int(index.max()) <= INT32_MAX and int(index.min()) >= 0):
        return index.to(torch.int32)
    return index


@dataclass
class SamplerGraph:
    """What sampling needs of a graph, built once: node counts, the sorted distinct node times
    (int64 ``[U]``) and a :class:`_Csc` per edge type (neighbour and edge ids int32 where they
    fit). Plain tensors, so they can be written to files and memory-mapped by many processes."""

    num_nodes: dict[NodeType, int]
    times: Tensor
    csc: dict[EdgeType, _Csc]

    @classmethod
    def build(cls, data: HeteroData, time_attr: str = "time") -> SamplerGraph:
        num_nodes = {t: int(data[t].num_nodes) for t in data.node_types}
        times = {t: data[t][time_attr].long() for t in data.node_types}
        distinct = torch.unique(torch.cat(list(times.values())))  # sorted, [U]
        stride = distinct.numel() + 1
        ranks = {t: torch.searchsorted(distinct, ts) for t, ts in times.items()}
        csc = {et: _build_csc(data[et].edge_index, ranks[et[0]], num_nodes[et[2]], stride)
               for et in data.edge_types}
        return cls(num_nodes, distinct, csc)

    def tensors(self) -> dict[str, Tensor]:
        """Every tensor under a flat name (:meth:`from_tensors` reads them back with :meth:`meta`)."""
        out = {"times": self.times}
        for i, csc in enumerate(self.csc.values()):
            out.update({f"csc{i}.{name}": getattr(csc, name) for name in _CSC_FIELDS})
        return out

    def meta(self) -> dict[str, Any]:
        return {"num_nodes": self.num_nodes, "edge_types": [list(et) for et in self.csc]}

    @classmethod
    def from_tensors(cls, meta: dict[str, Any], tensors: Mapping[str, Tensor]) -> SamplerGraph:
        csc = {(et[0], et[1], et[2]): _Csc(*(tensors[f"csc{i}.{n}"] for n in _CSC_FIELDS))
               for i, et in enumerate(meta["edge_types"])}
        return cls(dict(meta["num_nodes"]), tensors["times"], csc)


_CSC_FIELDS = ("rank", "ptr", "nbr", "eid")


def _build_csc(edge_index: Tensor, src_rank: Tensor, num_dst: int, stride: int) -> _Csc:
    """CSC of one edge type, entries sorted by (destination, source time, edge id)."""
    row, col = edge_index[0].long(), edge_index[1].long()
    key, perm = torch.sort(col * stride + src_rank[row], stable=True)
    ptr = torch.searchsorted(key, torch.arange(num_dst + 1) * stride)
    del key
    nbr = row[perm]
    return _Csc(rank=narrow(src_rank[nbr]), ptr=narrow(ptr), nbr=narrow(nbr), eid=narrow(perm))


class TemporalSampler(BaseSampler):
    """Disjoint temporal neighbour sampler over a ``HeteroData`` from ``graph_to_hetero``.

    Args:
        data: node types with ``time`` (int64 ``[N_t]``) and ``num_nodes``; edge types with
            ``edge_index`` (int64 ``[2, E]``, row = source, col = destination).
        num_neighbors: neighbours per hop, the same for every edge type (``[32, 16]``), or per
            edge type (``{edge_type: [32, 16]}``; absent edge types are not followed). ``-1``
            takes every visible neighbour.
        strategy: ``"last"`` (the k most recent visible neighbours) or ``"uniform"``.
        seed: seed of the generator used by ``"uniform"``.
        time_attr: the node attribute holding times.
    """

    def __init__(self, data: HeteroData, num_neighbors: NumNeighbors,
                 strategy: Strategy = "last", seed: int | None = None,
                 time_attr: str = "time") -> None:
        self._setup(SamplerGraph.build(data, time_attr), num_neighbors, strategy, seed)

    @classmethod
    def from_graph(cls, graph: SamplerGraph, num_neighbors: NumNeighbors, strategy: Strategy = "last",
                   seed: int | None = None) -> TemporalSampler:
        """A sampler over a :class:`SamplerGraph` built before (e.g. memory-mapped from a cache)."""
        sampler = cls.__new__(cls)
        sampler._setup(graph, num_neighbors, strategy, seed)
        return sampler

    def _setup(self, graph: SamplerGraph, num_neighbors: NumNeighbors, strategy: Strategy,
               seed: int | None) -> None:
        if strategy not in ("last", "uniform"):
            raise ValueError(f"strategy must be 'last' or 'uniform', got {strategy!r}")
        self.strategy = strategy
        self.graph = graph
        self.num_nodes, self.times, self.csc = graph.num_nodes, graph.times, graph.csc
        self.fanout = self._fanouts(num_neighbors, list(graph.csc))
        self.num_hops = max((len(v) for v in self.fanout.values()), default=0)
        self.generator = torch.Generator()
        if seed is not None:
            self.generator.manual_seed(seed)

    @staticmethod
    def _fanouts(num_neighbors: NumNeighbors, edge_types: list[EdgeType]) -> dict[EdgeType, list[int]]:
        if isinstance(num_neighbors, Mapping):
            return {(et[0], et[1], et[2]): list(v) for et, v in num_neighbors.items()}
        return {et: list(num_neighbors) for et in edge_types}

    # -- sampling ------------------------------------------------------------------------
    def sample_from_nodes(self, index: NodeSamplerInput, **kwargs: Any) -> HeteroSamplerOutput:
        """Sample the subgraphs of ``index.node`` (type ``index.input_type``) at ``index.time``."""
        if index.input_type is None:
            raise ValueError("TemporalSampler needs a node type: input_nodes=(type, ids).")
        seeds = index.node.long()
        seed_time = index.time.long() if index.time is not None else torch.full_like(seeds, NO_TIME_LIMIT)
        return self.sample(index.input_type, seeds, seed_time, index.input_id)

    def sample_from_edges(self, index: EdgeSamplerInput, neg_sampling: Any = None) -> HeteroSamplerOutput:
        raise NotImplementedError(
            "TemporalSampler samples around nodes only; use NodeLoader with input_nodes and "
            "input_time (link prediction is not supported yet).")

    def sample(self, input_type: NodeType, seeds: Tensor, seed_time: Tensor,
               input_id: Tensor | None = None, edge_ids: bool = True) -> HeteroSamplerOutput:
        """Sample around ``seeds`` (``[B]`` node ids of ``input_type``) at ``seed_time`` ``[B]``.

        The first ``B`` nodes of ``input_type`` in the output are the seeds, in order.
        ``edge_ids=False`` leaves the output's ``edge`` empty: a model without edge attributes
        does not read (nor page in) the edge-id arrays.
        """
        seed_rank = torch.searchsorted(self.times, seed_time, right=True)  # [B]
        store = {t: _Nodes(max(n, 1)) for t, n in self.num_nodes.items()}
        frontier = {input_type: store[input_type].add(seeds, torch.arange(seeds.numel()))[1]}
        rows: dict[EdgeType, list[Tensor]] = {et: [] for et in self.csc}
        cols: dict[EdgeType, list[Tensor]] = {et: [] for et in self.csc}
        eids: dict[EdgeType, list[Tensor]] = {et: [] for et in self.csc}
        nodes_per_hop = {t: [store[t].count] for t in store}
        for hop in range(self.num_hops):
            new: dict[NodeType, list[Tensor]] = {}
            for et, csc in self.csc.items():
                k = self._k(et, hop)
                dst_loc = frontier.get(et[2])
                if k == 0 or dst_loc is None or dst_loc.numel() == 0:
                    for parts in (rows, cols, eids):
                        parts[et].append(torch.empty(0, dtype=torch.long))
                    continue
                dst_node = torch.cat(store[et[2]].node)[dst_loc]
                dst_batch = torch.cat(store[et[2]].batch)[dst_loc]
                owner, pos = self._pick(csc, dst_node, seed_rank[dst_batch], k)
                src_loc, fresh = store[et[0]].add(csc.nbr[pos].long(), dst_batch[owner])
                rows[et].append(src_loc)
                cols[et].append(dst_loc[owner])
                if edge_ids:
                    eids[et].append(csc.eid[pos].long())
                new.setdefault(et[0], []).append(fresh)
            frontier = {t: torch.cat(v) for t, v in new.items()}
            for t in store:
                nodes_per_hop[t].append(store[t].count - sum(nodes_per_hop[t]))
        return self._output(store, rows, cols, eids, nodes_per_hop, seeds, seed_time, input_id)

    def _k(self, et: EdgeType, hop: int) -> int:
        fan = self.fanout.get(et, [])
        return fan[hop] if hop < len(fan) else 0

    def _pick(self, csc: _Csc, node: Tensor, rank: Tensor, k: int) -> tuple[Tensor, Tensor]:
        """Neighbours of frontier nodes ``node`` ``[F]`` visible at time ranks ``rank`` ``[F]``.

        Returns ``(owner [S], pos [S])``: the frontier entry of each pick and its CSC position.
        """
        start = csc.ptr[node].long()
        cut = _first_at_least(csc.rank, start, csc.ptr[node + 1].long(), rank)  # end of visible part
        count = cut - start
        if k < 0 or self.strategy == "last":
            take = count if k < 0 else count.clamp(max=k)
            return _ranges(cut - take, take)
        return self._uniform(start, count, k)

    def _uniform(self, start: Tensor, count: Tensor, k: int) -> tuple[Tensor, Tensor]:
        """All visible neighbours where at most ``k``; else ``k`` drawn without replacement."""
        small = count <= k
        owner_a, pos_a = _ranges(start[small], count[small])
        owner_a = small.nonzero().flatten()[owner_a]
        big = (~small).nonzero().flatten()
        owner_b, pos_b = _ranges(start[big], count[big])
        score = torch.rand(pos_b.numel(), generator=self.generator)
        order = torch.sort(score).indices
        order = order[torch.sort(owner_b[order], stable=True).indices]  # by owner, then score
        within = torch.arange(order.numel()) - torch.repeat_interleave(
            torch.cumsum(count[big], 0) - count[big], count[big])
        keep = order[within < k]
        owner = torch.cat([owner_a, big[owner_b[keep]]])
        pos = torch.cat([pos_a, pos_b[keep]])
        perm = torch.sort(owner, stable=True).indices
        return owner[perm], pos[perm]

    def _output(self, store: dict[NodeType, _Nodes], rows: dict[EdgeType, list[Tensor]],
                cols: dict[EdgeType, list[Tensor]], eids: dict[EdgeType, list[Tensor]],
                nodes_per_hop: dict[NodeType, list[int]], seeds: Tensor, seed_time: Tensor,
                input_id: Tensor | None) -> HeteroSamplerOutput:
        empty = torch.empty(0, dtype=torch.long)

        def cat(parts: list[Tensor]) -> Tensor:
            return torch.cat(parts) if parts else empty

        return HeteroSamplerOutput(
            node={t: cat(s.node) for t, s in store.items()},
            row={et: cat(v) for et, v in rows.items()},
            col={et: cat(v) for et, v in cols.items()},
            edge={et: cat(v) for et, v in eids.items()},
            batch={t: cat(s.batch) for t, s in store.items()},
            num_sampled_nodes=nodes_per_hop,
            num_sampled_edges={et: [v.numel() for v in vs] for et, vs in rows.items()},
            metadata=(input_id if input_id is not None else torch.arange(seeds.numel()), seed_time),
        )


def _first_at_least(values: Tensor, lo: Tensor, hi: Tensor, target: Tensor) -> Tensor:
    """Per segment ``[lo_i, hi_i)`` of ``values`` (ascending within each), the first position
    whose value is at least ``target_i`` (``hi_i`` when none): a binary search vectorised over
    the segments, ``log2`` of the longest segment steps, each reading one value per segment."""
    lo, hi = lo.clone(), hi.clone()
    last = max(values.numel() - 1, 0)
    while True:
        active = lo < hi
        if not bool(active.any()):
            return lo
        mid = torch.div(lo + hi, 2, rounding_mode="floor")
        below = values[mid.clamp(max=last)].long() < target
        lo = torch.where(active & below, mid + 1, lo)
        hi = torch.where(active & ~below, mid, hi)


def _ranges(start: Tensor, length: Tensor) -> tuple[Tensor, Tensor]:
    """Expand ranges ``[start_i, start_i + length_i)`` (``[F]`` each).

    Returns ``(owner [S], pos [S])`` with ``S = length.sum()``: range index and position.
    """
    owner = torch.repeat_interleave(torch.arange(start.numel()), length)
    offset = torch.arange(owner.numel()) - torch.repeat_interleave(torch.cumsum(length, 0) - length, length)
    return owner, start[owner] + offset
