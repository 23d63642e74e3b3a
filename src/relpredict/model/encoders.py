"""Per-table column encoders: from a table's feature columns to tensors (fitted statistics, vocabularies, buckets).

This module is the encoders themselves: pure functions of Arrow / NumPy columns, serialisable to
JSON. Reading the graph lives in :mod:`relpredict.model.graph_encoding` (:func:`fit_encoders`
learns each feature column's statistics from the rows known at a cutoff time only, so that
training never sees the future through a normaliser or a vocabulary; :func:`encode_graph` turns
every row into tensors, in the node order of :func:`relpredict.model.tensors.graph_to_hetero`),
the token hashing in :mod:`relpredict.model.hashing` and the torch layer that maps encoded
columns to one ``[N, channels]`` vector per node in :mod:`relpredict.model.encoder_module`.

Per semantic type:

* numerical: clipped to the fitted 1st–99th percentiles, then ``(x - mean) / std``; NULL, NaN and
  infinities give 0 plus a missing flag of 1. Two numeric features per column.
* timestamp (not the table's time columns): years since 1970, normalised like a number.
* categorical: values as strings; index of the value in a vocabulary of the 1000 most frequent
  fitted values (ties by value), 0 for NULL or unseen.
* multicategorical: list elements (or the parts of ``a|b;c`` strings) hashed into 2^14 buckets.
* text: lowercased words, unigrams and bigrams interleaved (``w1, w1 w2, w2, w2 w3, ...``) and
  capped at 64 per row, hashed into 2^15 buckets.

Tokens are hashed with BLAKE2b (each distinct token once) and bigrams by mixing their words'
hashes with MurmurHash3's finaliser, so bucket ids are the same in every process and on every
machine (Python's ``hash()`` is salted per process). Encoders serialise to JSON-compatible dicts
for model artifacts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import torch
from torch import Tensor

from relpredict.errors import ConfigError
from relpredict.model.hashing import hash_strings, multicategorical_tokens, text_ids
from relpredict.tables.stypes import SType

FORMAT_VERSION = 1
MAX_VOCAB = 1000
STD_FLOOR = 1e-6
CLIP_PERCENTILES = (1.0, 99.0)
MULTI_BUCKETS = 2**14
TEXT_BUCKETS = 2**15
MAX_TEXT_TOKENS = 64


# -- encoded tensors ---------------------------------------------------------------------------
class Bag(NamedTuple):
    """Token ids of one bag column in ``torch.nn.EmbeddingBag`` format.

    ``ids``: int64 ``[T]``, every row's ids one after the other; ``offsets``: int64 ``[N]``, where
    each row's ids start (an empty row repeats the next offset). ``num_buckets`` bounds the ids.
    """

    ids: Tensor
    offsets: Tensor
    num_buckets: int

    def lengths(self) -> Tensor:
        """Number of ids of each row, int64 ``[N]``."""
        end = torch.tensor([self.ids.numel()], dtype=torch.long, device=self.offsets.device)
        return torch.diff(self.offsets, append=end)

    def take(self, index: Tensor) -> Bag:
        """The bags of rows ``index`` (int64 ``[M]``), in that order; vectorised gather."""
        counts = self.lengths()[index]
        starts = self.offsets[index]
        offsets = torch.cumsum(counts, 0) - counts
        row = torch.repeat_interleave(torch.arange(len(index), device=counts.device), counts)
        within = torch.arange(row.numel(), device=counts.device) - offsets[row]
        return Bag(self.ids[starts[row] + within], offsets, self.num_buckets)

    def to(self, device: torch.device | str) -> Bag:
        return Bag(self.ids.to(device), self.offsets.to(device), self.num_buckets)


@dataclass
class EncodedTable:
    """The encoded feature columns of one table, one row per node.

    ``numeric``: float32 ``[N, F]`` (F may be 0); ``categorical``: int64 ``[N, C]`` with
    ``cardinalities[c]`` the vocabulary size of column ``c`` including index 0 (NULL/unseen);
    ``bags``: one :class:`Bag` per multicategorical or text column.
    """

    numeric: Tensor
    categorical: Tensor
    cardinalities: list[int]
    bags: list[Bag] = field(default_factory=list)

    @property
    def num_nodes(self) -> int:
        return int(self.numeric.shape[0])

    @property
    def bag_buckets(self) -> list[int]:
        return [b.num_buckets for b in self.bags]

    def take(self, index: Tensor) -> EncodedTable:
        """The rows at node positions ``index`` (int64 ``[M]``), bags included."""
        return EncodedTable(self.numeric[index], self.categorical[index], list(self.cardinalities),
                            [b.take(index) for b in self.bags])

    def to(self, device: torch.device | str) -> EncodedTable:
        return EncodedTable(self.numeric.to(device), self.categorical.to(device),
                            list(self.cardinalities), [b.to(device) for b in self.bags])


# -- column encoders ---------------------------------------------------------------------------
@dataclass(frozen=True)
class NumericEncoder:
    """A numerical or timestamp column: two features, the normalised value and a missing flag.

    Values are clipped to ``[lo, hi]`` (the fitted 1st and 99th percentiles) both when fitting
    ``mean``/``std`` and when transforming, so an outlier can neither skew the statistics nor
    reach the network as a huge input.
    """

    column: str
    stype: SType  # numerical or timestamp (then values are years since 1970)
    lo: float
    hi: float
    mean: float
    std: float

    width = 2

    @classmethod
    def fit(cls, column: str, stype: SType, values: np.ndarray) -> NumericEncoder:
        """Statistics of ``values`` (float64 ``[R]``, NaN for missing); defaults when none."""
        finite = values[np.isfinite(values)]
        if finite.size == 0:
            return cls(column, stype, 0.0, 0.0, 0.0, 1.0)
        lo, hi = np.percentile(finite, CLIP_PERCENTILES)
        clipped = np.clip(finite, lo, hi)
        std = max(float(clipped.std()), STD_FLOOR)
        return cls(column, stype, float(lo), float(hi), float(clipped.mean()), std)

    def transform(self, values: np.ndarray) -> np.ndarray:
        """float32 ``[N, 2]``: normalised value (0 when missing), missing flag (0/1)."""
        missing = ~np.isfinite(values)
        scaled = (np.clip(values, self.lo, self.hi) - self.mean) / self.std
        scaled[missing] = 0.0
        return np.stack([scaled, missing.astype(np.float64)], axis=1).astype(np.float32)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "numeric", "column": self.column, "stype": self.stype.value,
                "lo": self.lo, "hi": self.hi, "mean": self.mean, "std": self.std}


@dataclass(frozen=True)
class CategoricalEncoder:
    """A categorical column: index of the value (as a string) in ``vocab``, plus one; 0 if unknown."""

    column: str
    vocab: tuple[str, ...]

    @property
    def cardinality(self) -> int:
        return len(self.vocab) + 1

    @classmethod
    def fit(cls, column: str, values: pa.Array) -> CategoricalEncoder:
        """The ``MAX_VOCAB`` most frequent non-NULL strings of ``values``, ties by value."""
        counts = pc.value_counts(values.drop_null())
        frame = pa.table({"v": counts.field("values"), "n": counts.field("counts")})
        order = pc.sort_indices(frame, sort_keys=[("n", "descending"), ("v", "ascending")])
        return cls(column, tuple(frame["v"].take(order[:MAX_VOCAB]).to_pylist()))

    def transform(self, values: pa.Array) -> np.ndarray:
        """int64 ``[N]`` vocabulary indices (0 for NULL or unseen)."""
        if not self.vocab:
            return np.zeros(len(values), dtype=np.int64)
        pos = pc.index_in(values, value_set=pa.array(self.vocab, type=pa.string()))
        out: np.ndarray = pc.fill_null(pc.add(pos, 1), 0).to_numpy(zero_copy_only=False).astype(np.int64)
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "categorical", "column": self.column, "vocab": list(self.vocab)}


@dataclass(frozen=True)
class BagEncoder:
    """A multicategorical or text column: tokens hashed into ``num_buckets`` buckets.

    Nothing is fitted: the buckets are fixed, so unseen tokens still get a (shared) embedding.
    """

    column: str
    stype: SType  # multicategorical or text
    num_buckets: int
    max_tokens: int | None = None  # text only: tokens kept per row

    @classmethod
    def for_stype(cls, column: str, stype: SType) -> BagEncoder:
        if stype is SType.text:
            return cls(column, stype, TEXT_BUCKETS, MAX_TEXT_TOKENS)
        return cls(column, stype, MULTI_BUCKETS)

    def transform(self, values: pa.Array) -> Bag:
        """The bag of each of the ``N`` rows of ``values`` (strings, or lists of strings)."""
        if self.stype is SType.text:
            ids, rows = text_ids(values, self.num_buckets, self.max_tokens or MAX_TEXT_TOKENS)
        else:
            tokens, rows = multicategorical_tokens(values)
            ids = (hash_strings(tokens) % np.uint64(self.num_buckets)).astype(np.int64)
        counts = np.bincount(rows, minlength=len(values)).astype(np.int64)
        offsets = (np.cumsum(counts) - counts).astype(np.int64)
        return Bag(torch.from_numpy(ids), torch.from_numpy(offsets), self.num_buckets)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "bag", "column": self.column, "stype": self.stype.value,
                "num_buckets": self.num_buckets, "max_tokens": self.max_tokens}


ColumnEncoder = NumericEncoder | CategoricalEncoder | BagEncoder


def column_encoder_from_dict(data: Mapping[str, Any]) -> ColumnEncoder:
    """Rebuild a column encoder from its :meth:`to_dict` form."""
    kind = data.get("kind")
    if kind == "numeric":
        return NumericEncoder(data["column"], SType(data["stype"]), float(data["lo"]),
                              float(data["hi"]), float(data["mean"]), float(data["std"]))
    if kind == "categorical":
        return CategoricalEncoder(data["column"], tuple(str(v) for v in data["vocab"]))
    if kind == "bag":
        return BagEncoder(data["column"], SType(data["stype"]), int(data["num_buckets"]),
                          None if data.get("max_tokens") is None else int(data["max_tokens"]))
    raise ConfigError(f"Unknown column encoder kind {kind!r} in a stored model artifact.")


# -- table and graph encoders ------------------------------------------------------------------
@dataclass(frozen=True)
class TableEncoder:
    """The column encoders of one table's feature columns, in the table's column order."""

    table: str
    columns: tuple[ColumnEncoder, ...]

    @property
    def num_numeric(self) -> int:
        """F: the width of ``EncodedTable.numeric``."""
        return sum(c.width for c in self.columns if isinstance(c, NumericEncoder))

    @property
    def cardinalities(self) -> list[int]:
        return [c.cardinality for c in self.columns if isinstance(c, CategoricalEncoder)]

    @property
    def bag_buckets(self) -> list[int]:
        return [c.num_buckets for c in self.columns if isinstance(c, BagEncoder)]

    def transform(self, frame: pa.Table, num_rows: int) -> EncodedTable:
        """Encode ``frame``, whose i-th column holds the i-th encoder's SQL expression."""
        numeric: list[np.ndarray] = []
        categorical: list[np.ndarray] = []
        bags: list[Bag] = []
        for i, enc in enumerate(self.columns):
            values = frame.column(i).combine_chunks()
            if isinstance(enc, NumericEncoder):
                numeric.append(enc.transform(float_values(values)))
            elif isinstance(enc, CategoricalEncoder):
                categorical.append(enc.transform(values))
            else:
                bags.append(enc.transform(values))
        num = np.concatenate(numeric, axis=1) if numeric else np.zeros((num_rows, 0), np.float32)
        cat = np.stack(categorical, axis=1) if categorical else np.zeros((num_rows, 0), np.int64)
        return EncodedTable(torch.from_numpy(np.ascontiguousarray(num)),
                            torch.from_numpy(np.ascontiguousarray(cat)), self.cardinalities, bags)

    def to_dict(self) -> dict[str, Any]:
        return {"table": self.table, "columns": [c.to_dict() for c in self.columns]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TableEncoder:
        return cls(str(data["table"]), tuple(column_encoder_from_dict(c) for c in data["columns"]))


@dataclass(frozen=True)
class GraphEncoders:
    """A :class:`TableEncoder` per table of the graph, and the cutoff they were fitted at."""

    tables: dict[str, TableEncoder]
    cutoff: datetime | None = None

    def __getitem__(self, table: str) -> TableEncoder:
        return self.tables[table]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-compatible dict (``json.dumps`` works on it) from which :meth:`from_dict` rebuilds."""
        return {"version": FORMAT_VERSION,
                "cutoff": self.cutoff.isoformat() if self.cutoff else None,
                "tables": {name: enc.to_dict() for name, enc in self.tables.items()}}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GraphEncoders:
        if data.get("version") != FORMAT_VERSION:
            raise ConfigError(f"Column encoders of format version {data.get('version')!r} cannot "
                              f"be read; this relpredict reads version {FORMAT_VERSION}.")
        cutoff = datetime.fromisoformat(data["cutoff"]) if data.get("cutoff") else None
        return cls({name: TableEncoder.from_dict(t) for name, t in data["tables"].items()}, cutoff)


def float_values(values: pa.Array) -> np.ndarray:
    """float64 ``[N]`` with NaN for NULL."""
    out: np.ndarray = pc.cast(values, pa.float64()).to_numpy(zero_copy_only=False).astype(np.float64)
    return out
