"""The torch layer of the column encoders: one table's encoded columns → one vector per node."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from relpredict.model.encoders import Bag, EncodedTable, TableEncoder


class TableEncoderModule(nn.Module):
    """One table's encoded columns → one vector per node, ``[N, channels]``.

    A Linear layer reads the numeric features, an Embedding each categorical column and a mean
    EmbeddingBag each bag column; their sum goes through a LayerNorm. A table without feature
    columns gets one learned vector for every node.
    """

    def __init__(self, num_numeric: int, cardinalities: Sequence[int], bag_buckets: Sequence[int],
                 channels: int) -> None:
        super().__init__()
        self.channels = channels
        self.numeric = nn.Linear(num_numeric, channels) if num_numeric > 0 else None
        self.embeddings = nn.ModuleList(nn.Embedding(int(n), channels) for n in cardinalities)
        self.bags = nn.ModuleList(nn.EmbeddingBag(int(n), channels, mode="mean")
                                  for n in bag_buckets)
        has_features = num_numeric > 0 or len(cardinalities) > 0 or len(bag_buckets) > 0
        self.constant = None if has_features else nn.Parameter(torch.randn(channels) * 0.1)
        self.norm = nn.LayerNorm(channels)

    @classmethod
    def from_encoded(cls, encoded: EncodedTable | TableEncoder, channels: int) -> TableEncoderModule:
        """A module sized for ``encoded``'s feature widths, cardinalities and bucket counts."""
        width = encoded.num_numeric if isinstance(encoded, TableEncoder) else encoded.numeric.shape[1]
        return cls(int(width), encoded.cardinalities, encoded.bag_buckets, channels)

    def forward(self, numeric: Tensor, categorical: Tensor, bags: Sequence[Bag | tuple[Tensor, ...]],
                num_nodes: int | None = None) -> Tensor:
        """``numeric`` float ``[N, F]``, ``categorical`` int64 ``[N, C]``, ``bags`` of
        ``(ids [T], offsets [N])`` → float ``[N, channels]``. ``num_nodes`` defaults to N of
        ``numeric``; it is the only source of N for a table without features."""
        n = int(numeric.shape[0]) if num_nodes is None else int(num_nodes)
        if self.constant is not None:
            out: Tensor = self.norm(self.constant.expand(n, self.channels))
            return out
        out = self.numeric(numeric) if self.numeric is not None else \
            numeric.new_zeros((n, self.channels))
        for c, emb in enumerate(self.embeddings):
            out = out + emb(categorical[:, c])
        for bag, emb in zip(bags, self.bags, strict=True):
            out = out + emb(bag[0], bag[1])
        normed: Tensor = self.norm(out)
        return normed

    def encode(self, table: EncodedTable) -> Tensor:
        """``forward`` on an :class:`EncodedTable`: float ``[N, channels]``."""
        out: Tensor = self(table.numeric, table.categorical, table.bags, table.num_nodes)
        return out
