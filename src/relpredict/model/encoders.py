"""Per-table column encoders: from a table's feature columns to tensors, and from tensors to vectors.

Fitting (:func:`fit_encoders`) learns each feature column's statistics from the rows known at a
cutoff time only, so that training never sees the future through a normaliser or a vocabulary.
Encoding (:func:`encode_graph`) turns every row into tensors, in the node order of
:func:`relpredict.model.tensors.graph_to_hetero`; :class:`TableEncoderModule` maps them to one
``[N, channels]`` vector per node.

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

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import torch
from torch import Tensor, nn

from relpredict.errors import ConfigError, GraphError
from relpredict.graph.graph import Graph
from relpredict.sql import quote_ident
from relpredict.tables.stypes import SType, is_numeric_dtype, is_temporal_dtype
from relpredict.tables.table import Table

FORMAT_VERSION = 1
MAX_VOCAB = 1000
STD_FLOOR = 1e-6
CLIP_PERCENTILES = (1.0, 99.0)
MULTI_BUCKETS = 2**14
TEXT_BUCKETS = 2**15
MAX_TEXT_TOKENS = 64
SECONDS_PER_YEAR = 365.25 * 86_400

_WORD_SPLIT = r"[^\p{L}\p{N}_]+"  # RE2: anything but letters, digits and '_' separates words
_MULTI_SPLIT = r"[|;]"  # the separators that make stype inference call a string multicategorical


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
        return pc.fill_null(pc.add(pos, 1), 0).to_numpy(zero_copy_only=False).astype(np.int64)

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


# -- tokens and hashing ------------------------------------------------------------------------
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_FMIX = (np.uint64(0xFF51AFD7ED558CCD), np.uint64(0xC4CEB9FE1A85EC53))


def stable_hash(token: str) -> int:
    """A 64-bit hash of ``token`` that is the same in every process and on every machine."""
    return int.from_bytes(hashlib.blake2b(token.encode("utf-8"), digest_size=8).digest(), "little")


def hash_strings(tokens: pa.Array) -> np.ndarray:
    """:func:`stable_hash` of each string, uint64 ``[T]``; each distinct string is hashed once."""
    if len(tokens) == 0:
        return np.zeros(0, dtype=np.uint64)
    encoded = pc.dictionary_encode(tokens)
    table = np.fromiter((stable_hash(t) for t in encoded.dictionary.to_pylist()),
                        dtype=np.uint64, count=len(encoded.dictionary))
    return table[encoded.indices.to_numpy(zero_copy_only=False)]


def _fmix64(h: np.ndarray) -> np.ndarray:
    """MurmurHash3's 64-bit finaliser (uint64 ``[T]``, wrapping arithmetic): spreads every bit."""
    h = h ^ (h >> np.uint64(33))
    h = h * _FMIX[0]
    h = h ^ (h >> np.uint64(33))
    h = h * _FMIX[1]
    return h ^ (h >> np.uint64(33))


def pair_hash(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """An order-sensitive hash of two hashes (uint64 ``[T]`` each): a bigram from its words."""
    return _fmix64(first * _GOLDEN + second)


def multicategorical_tokens(values: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """Trimmed non-empty elements of lists (or ``|``/``;``-separated strings) and their row.

    Returns the tokens (strings ``[T]``) and the row of each (int64 ``[T]``, non-decreasing).
    """
    lists = values if pa.types.is_list(values.type) or pa.types.is_large_list(values.type) \
        else pc.split_pattern_regex(values, _MULTI_SPLIT)
    tokens = pc.utf8_trim_whitespace(pc.cast(pc.list_flatten(lists), pa.string()))
    rows = pc.list_parent_indices(lists).to_numpy(zero_copy_only=False).astype(np.int64)
    keep = pc.fill_null(pc.greater(pc.utf8_length(tokens), 0), False)
    return tokens.filter(keep), rows[keep.to_numpy(zero_copy_only=False)]


def text_words(values: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """Lowercased words of each string (runs of letters, digits and ``_``) and their row.

    Returns the words (strings ``[W]``) and the row of each (int64 ``[W]``, non-decreasing).
    """
    lists = pc.split_pattern_regex(pc.utf8_lower(values), _WORD_SPLIT)
    words = pc.list_flatten(lists)
    rows = pc.list_parent_indices(lists).to_numpy(zero_copy_only=False).astype(np.int64)
    keep = pc.greater(pc.utf8_length(words), 0).to_numpy(zero_copy_only=False)
    return words.filter(pa.array(keep)), rows[keep]


def text_ids(values: pa.Array, num_buckets: int, max_tokens: int) -> tuple[np.ndarray, np.ndarray]:
    """Bucket ids of each row's word unigrams and bigrams, interleaved, at most ``max_tokens``.

    Word ``p`` of a row is token ``2p`` and the bigram of words ``p, p+1`` token ``2p + 1``, so
    a row of W words has tokens ``0 .. 2W-2`` and the cap keeps a prefix of the text. A unigram's
    id comes from :func:`stable_hash` of the word, a bigram's from :func:`pair_hash` of its two
    words' hashes (no bigram strings are built). Returns ids (int64 ``[T]``) and the row of each
    (int64 ``[T]``), grouped by row in token order.
    """
    words, rows = text_words(values)
    pos = _position_in_run(rows)
    needed = pos <= max_tokens // 2  # later words give no kept unigram or bigram
    words, rows, pos = words.filter(pa.array(needed)), rows[needed], pos[needed]
    hashes = hash_strings(words)
    token = np.concatenate([2 * pos, 2 * pos[:-1] + 1])
    token_rows = np.concatenate([rows, rows[:-1]])
    same_row = np.concatenate([np.ones(len(rows), bool), rows[:-1] == rows[1:]])
    buckets = np.concatenate([hashes, pair_hash(hashes[:-1], hashes[1:])]) % np.uint64(num_buckets)
    kept = same_row & (token < max_tokens)
    token, token_rows, buckets = token[kept], token_rows[kept], buckets[kept]
    counts = np.bincount(token_rows, minlength=len(values))
    dest = (np.cumsum(counts) - counts)[token_rows] + token  # a row's tokens are 0..K-1
    ids = np.empty(len(token), dtype=np.int64)
    ids[dest] = buckets.astype(np.int64)
    rows_out = np.empty(len(token), dtype=np.int64)
    rows_out[dest] = token_rows
    return ids, rows_out


def _position_in_run(rows: np.ndarray) -> np.ndarray:
    """For non-decreasing ``rows`` (int64 ``[M]``), each entry's index within its row's run."""
    idx = np.arange(len(rows), dtype=np.int64)
    if len(rows) == 0:
        return idx
    starts = np.ones(len(rows), dtype=bool)
    starts[1:] = rows[1:] != rows[:-1]
    return idx - np.maximum.accumulate(np.where(starts, idx, 0))


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
                numeric.append(enc.transform(_floats(values)))
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


def feature_columns(graph: Graph, table: Table) -> dict[str, SType]:
    """Column → stype of ``table``'s feature columns: all but keys, time columns and IDs."""
    skip = set(table.key_columns) | {table.time_column, table.end_time_column}
    return {c: s for c, s in graph.stypes(table.name).items() if c not in skip and s is not SType.ID}


def fit_encoders(graph: Graph, cutoff: datetime | None = None) -> GraphEncoders:
    """Fit every feature column of every table on the rows whose time is at most ``cutoff``.

    Tables without a time column, or any table when ``cutoff`` is ``None``, fit on all rows;
    with a cutoff, rows whose time is NULL are left out too (they are never visible).
    """
    return GraphEncoders({t.name: _fit_table(graph, t, cutoff) for t in graph}, cutoff)


def encode_graph(graph: Graph, encoders: GraphEncoders) -> dict[str, EncodedTable]:
    """Encode every table's rows in the node order of ``graph_to_hetero`` (PK order, else row order)."""
    return {t.name: _encode_table(graph, t, encoders[t.name]) for t in graph}


def _fit_table(graph: Graph, table: Table, cutoff: datetime | None) -> TableEncoder:
    features = feature_columns(graph, table)
    fitted = [c for c, s in features.items() if s not in (SType.multicategorical, SType.text)]
    where, params = _cutoff_filter(table, cutoff)
    frame = _select(graph, table.name, fitted, where, "", params)
    out: list[ColumnEncoder] = []
    for col, stype in features.items():
        if stype in (SType.multicategorical, SType.text):
            out.append(BagEncoder.for_stype(col, stype))
            continue
        values = frame.column(fitted.index(col)).combine_chunks()
        if stype is SType.categorical:
            out.append(CategoricalEncoder.fit(col, values))
        else:
            out.append(NumericEncoder.fit(col, stype, _floats(values)))
    return TableEncoder(table.name, tuple(out))


def _encode_table(graph: Graph, table: Table, encoder: TableEncoder) -> EncodedTable:
    columns = graph.columns(table.name)
    missing = [c.column for c in encoder.columns if c.column not in columns]
    if missing:
        raise GraphError(f"Table {table.name!r} lacks the column(s) {missing} that the model's "
                         "encoders were fitted on.")
    order = f" ORDER BY {quote_ident(table.primary_key)} NULLS LAST" if table.primary_key else ""
    stypes = {c.column: _stype_of(c) for c in encoder.columns}
    frame = _select(graph, table.name, list(stypes), "", order, [], stypes)
    return encoder.transform(frame, frame.num_rows if stypes else graph.row_count(table.name))


def _stype_of(enc: ColumnEncoder) -> SType:
    return SType.categorical if isinstance(enc, CategoricalEncoder) else enc.stype


def _select(graph: Graph, table: str, cols: list[str], where: str, order: str, params: list,
            stypes: Mapping[str, SType] | None = None) -> pa.Table:
    """One query for every column's SQL expression (see :func:`_expression`), in ``cols`` order."""
    if not cols:
        return pa.table({})
    dtypes, stypes = graph.columns(table), stypes or graph.stypes(table)
    select = ", ".join(f"{_expression(c, stypes[c], dtypes[c])} AS __rp_f{i}"
                       for i, c in enumerate(cols))
    sql = f"SELECT {select} FROM {quote_ident(table)}{where}{order}"
    return graph.con.sql(sql, params=params or None).to_arrow_table()


def _expression(column: str, stype: SType, dtype: str) -> str:
    """SQL giving the column in the form its encoder reads: DOUBLE, VARCHAR or VARCHAR[]."""
    q = quote_ident(column)
    if stype is SType.numerical:
        return f"TRY_CAST({q} AS DOUBLE)"
    if stype is SType.timestamp:
        if is_temporal_dtype(dtype):
            seconds = f"epoch({q})"
        elif is_numeric_dtype(dtype):
            seconds = f"TRY_CAST({q} AS DOUBLE)"
        else:
            seconds = f"epoch(TRY_CAST(CAST({q} AS VARCHAR) AS TIMESTAMP))"
        return f"CAST({seconds} AS DOUBLE) / {SECONDS_PER_YEAR!r}"
    if stype is SType.multicategorical and dtype.upper().endswith("[]"):
        return f"CAST({q} AS VARCHAR[])"
    return f"CAST({q} AS VARCHAR)"


def _cutoff_filter(table: Table, cutoff: datetime | None) -> tuple[str, list]:
    """``WHERE time <= cutoff`` and its parameter.

    The loader stores time columns as naive UTC TIMESTAMPs, so an aware cutoff is turned into
    naive UTC first (DuckDB would otherwise compare it in the session's time zone).
    """
    if cutoff is None or table.time_column is None:
        return "", []
    if cutoff.tzinfo is not None:
        cutoff = cutoff.astimezone(UTC).replace(tzinfo=None)
    return f" WHERE {quote_ident(table.time_column)} <= ?", [cutoff]


def _floats(values: pa.Array) -> np.ndarray:
    """float64 ``[N]`` with NaN for NULL."""
    return pc.cast(values, pa.float64()).to_numpy(zero_copy_only=False).astype(np.float64)


# -- the torch module --------------------------------------------------------------------------
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
            return self.norm(self.constant.expand(n, self.channels))
        out = self.numeric(numeric) if self.numeric is not None else \
            numeric.new_zeros((n, self.channels))
        for c, emb in enumerate(self.embeddings):
            out = out + emb(categorical[:, c])
        for bag, emb in zip(bags, self.bags, strict=True):
            out = out + emb(bag[0], bag[1])
        return self.norm(out)

    def encode(self, table: EncodedTable) -> Tensor:
        """``forward`` on an :class:`EncodedTable`: float ``[N, channels]``."""
        return self(table.numeric, table.categorical, table.bags, table.num_nodes)
