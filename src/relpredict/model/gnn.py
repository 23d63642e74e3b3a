"""The relational GNN: heterogeneous GraphSAGE over temporally sampled subgraphs.

RelBench's design (per-table column encoders, a relative-time encoding, hetero GraphSAGE layers)
with three changes that matter on small task tables (../shared/MODELING.md):

- the seed entity gets the query's own target history (a feature vector computed without
  look-ahead), mixed in before message passing and again at the head;
- residual connections and layer norm around each layer, so a node type that receives no
  messages keeps its encoding;
- heads for every task type; link prediction scores items as ``entity · item`` where an item is
  its encoded columns plus an ID embedding, plus a learned bonus for items the entity had
  recently.

Inputs are the output of :class:`~relpredict.model.sampler.TemporalSampler`: global node ids per
type, ``row``/``col`` local edge indices per edge type, ``batch`` (seed of each node) and the seed
times. The first ``B`` nodes of the entity type are the seeds.
"""

from __future__ import annotations

import math
from typing import cast

import torch
from torch import Tensor, nn
from torch_geometric.nn import HeteroConv, SAGEConv
from torch_geometric.sampler import HeteroSamplerOutput
from torch_geometric.typing import EdgeType, NodeType

from relpredict.model.encoder_module import TableEncoderModule
from relpredict.model.encoders import EncodedTable
from relpredict.model.gnn_config import GNNConfig
from relpredict.model.tensors import ALWAYS, NEVER

DAY = 86_400.0
PERIODS = (7.0, 30.4375, 365.25)  # days: weekly, monthly, yearly rhythm


def module_key(table: str) -> str:
    """The key of a table's modules: its name, unless torch refuses it (a ``ModuleDict``
    attribute such as ``items`` or ``keys``, a dot, an empty name), then ``table_<hex>``."""
    if table and "." not in table and not hasattr(nn.ModuleDict, table):
        return table
    return "table_" + table.encode().hex()


class TimeEncoder(nn.Module):
    """``anchor − row time`` (days, ``[N]``) → ``[N, channels]``; zero for rows without time."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.lin = nn.Linear(2 + 2 * len(PERIODS), channels)

    def forward(self, delta_days: Tensor, timed: Tensor) -> Tensor:
        d = delta_days.clamp(min=0)
        angles = torch.stack([2 * math.pi * d / p for p in PERIODS], dim=-1)
        feats = torch.cat([torch.log1p(d).unsqueeze(-1), (d / 365.25).clamp(max=50).unsqueeze(-1),
                           torch.sin(angles), torch.cos(angles)], dim=-1)
        out: Tensor = self.lin(feats) * timed.unsqueeze(-1)
        return out


class RelationalGNN(nn.Module):
    """Encoders per table, relative time, ``layers`` hetero SAGE layers, a task head.

    Args:
        encoded: the encoded columns of every table (node order of ``graph_to_hetero``).
        times: node times per table (int64 seconds, ``[N_t]``).
        edge_types: the edge types to pass messages along.
        entity_table: the node type of the seeds.
        extra_dim: width of the seed feature vector (target history), 0 for none.
        out_dim: width of the head's output (1 for binary / regression, C for classes; unused
            for link prediction, which scores ``num_items`` items).
        num_items / item_table: link prediction's item table and its size.
    """

    def __init__(self, encoded: dict[NodeType, EncodedTable], times: dict[NodeType, Tensor],
                 edge_types: list[EdgeType], entity_table: NodeType, config: GNNConfig,
                 extra_dim: int, out_dim: int, item_table: NodeType | None = None,
                 num_items: int = 0) -> None:
        super().__init__()
        c = config.channels
        self.config, self.entity_table, self.item_table = config, entity_table, item_table
        self.encoded, self.times = encoded, times
        self.tables = nn.ModuleDict({module_key(t): TableEncoderModule.from_encoded(e, c) for t, e in encoded.items()})
        self.time_enc = TimeEncoder(c)
        self.extra_dim = extra_dim
        self.extra_in = nn.Sequential(nn.Linear(extra_dim, c), nn.ReLU(), nn.Linear(c, c)) if extra_dim else None
        self.convs = nn.ModuleList(
            HeteroConv({et: SAGEConv((c, c), c, aggr="mean") for et in edge_types}, aggr="sum")
            for _ in range(config.layers))
        self.norms = nn.ModuleList(
            nn.ModuleDict({module_key(t): nn.LayerNorm(c) for t in encoded}) for _ in range(config.layers))
        self.dropout = nn.Dropout(config.dropout)
        head_in = c + extra_dim
        self.head = nn.Sequential(nn.Linear(head_in, c), nn.ReLU(), nn.Dropout(config.dropout),
                                  nn.Linear(c, max(out_dim, 1)))
        if item_table is not None:
            self.item_id = nn.Embedding(num_items, c)
            nn.init.normal_(self.item_id.weight, std=0.02)
            self.item_proj = nn.Linear(c, head_in)
            self.item_bias = nn.Parameter(torch.zeros(num_items))
            self.recent_weight = nn.Parameter(torch.tensor(1.0))
        self.item_nodes: Tensor | None = None  # node position of each item in the current graph

    def table_module(self, table: str) -> TableEncoderModule:
        """The column encoder of ``table``."""
        return cast(TableEncoderModule, self.tables[module_key(table)])

    # -- inputs -------------------------------------------------------------------------
    def node_inputs(self, out: HeteroSamplerOutput, seed_time: Tensor) -> dict[NodeType, Tensor]:
        """Column encoding + relative-time encoding of every sampled node, ``[n_t, C]`` per type."""
        x = {}
        for t, ids in out.node.items():
            if ids.numel() == 0:
                continue
            h = self.table_module(t).encode(self.encoded[t].take(ids))
            row_time = self.times[t][ids]
            timed = ((row_time != ALWAYS) & (row_time != NEVER)).float()
            delta = (seed_time[out.batch[t]] - torch.where(timed > 0, row_time, seed_time[out.batch[t]]))
            x[t] = h + self.time_enc(delta.double().div(DAY).float(), timed)
        return x

    def forward(self, out: HeteroSamplerOutput, seed_time: Tensor, extra: Tensor | None,
                num_seeds: int) -> tuple[Tensor, Tensor]:
        """Returns ``(embedding [B, C + extra_dim], head output [B, out_dim])``."""
        x = self.node_inputs(out, seed_time)
        if self.extra_in is not None and extra is not None:
            seeds = x[self.entity_table][:num_seeds] + self.extra_in(extra)
            x[self.entity_table] = torch.cat([seeds, x[self.entity_table][num_seeds:]])
        edges = {et: torch.stack([out.row[et], out.col[et]]) for et in out.row
                 if out.row[et].numel() and et[0] in x and et[2] in x}
        for conv, norms in zip(self.convs, self.norms):
            msg = conv(x, edges) if edges else {}
            x = {t: self.dropout(torch.relu(cast(nn.ModuleDict, norms)[module_key(t)](h + msg[t]))) if t in msg else h
                 for t, h in x.items()}
        h = x[self.entity_table][:num_seeds]
        if self.extra_dim:
            h = torch.cat([h, extra if extra is not None else h.new_zeros(num_seeds, self.extra_dim)], -1)
        return h, self.head(h)

    # -- link prediction ------------------------------------------------------------------
    def item_vectors(self) -> Tensor:
        """Every item's vector, ``[num_items, C + extra_dim]``."""
        assert self.item_table is not None
        ids = torch.arange(self.item_id.num_embeddings)
        nodes = self.item_nodes.clamp(min=0) if self.item_nodes is not None else ids
        enc = self.encoded[self.item_table].take(nodes)
        out: Tensor = self.item_proj(self.table_module(self.item_table).encode(enc) + self.item_id(ids))
        return out

    def item_scores(self, h: Tensor, recent: Tensor | None) -> Tensor:
        """Scores ``[B, num_items]``; ``recent`` ``[B, num_items]`` holds log1p(recent count)."""
        scores = h @ self.item_vectors().T + self.item_bias
        if self.item_nodes is not None and (self.item_nodes < 0).any():
            scores = scores.masked_fill(self.item_nodes < 0, float("-inf"))  # item gone from graph
        if recent is not None:
            scores = scores + self.recent_weight * recent
        return scores
