"""From a graph of tables to a PyG ``HeteroData``: one node type per table, FK edges both ways.

Node positions follow the primary key's sort order (row order for tables without one). Each node
type carries ``time`` (int64 seconds since the epoch; :data:`ALWAYS` for tables without a time
column, :data:`NEVER` for rows whose time is NULL) and ``num_nodes``. Each link
``src.column → dst`` gives the edge types ``(src, column, dst)`` and ``(dst, "rev_" + column,
src)``; a NULL foreign key or one missing from the target table gives no edge.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import torch
from torch_geometric.data import HeteroData

from relpredict.errors import GraphError
from relpredict.graph.graph import Graph, Link
from relpredict.sql import quote_ident
from relpredict.tables.table import Table

ALWAYS = -(2**63) // 2  # time of rows in tables without a time column: visible at any time
NEVER = (2**63 - 1) // 2  # time of rows whose time is NULL: never visible
REV_PREFIX = "rev_"

_POS = "__rp_pos"
_UNIT_SECONDS = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}


@dataclass
class NodeIndex:
    """Primary-key values ↔ node positions, per table (vectorised sorted search).

    ``keys[t]`` holds the key of every node of type ``t`` in position order, shape ``[N_t]``.
    """

    keys: dict[str, np.ndarray] = field(default_factory=dict)
    _order: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    def add(self, table: str, keys: np.ndarray) -> None:
        """Register the keys of ``table``'s nodes, in position order."""
        self.keys[table] = keys
        self._order[table] = np.argsort(keys, kind="stable")

    def positions(self, table: str, values: Iterable[Any] | np.ndarray,
                  missing: str = "raise") -> torch.Tensor:
        """Node positions (int64, shape ``[len(values)]``) of primary-key ``values``.

        ``missing="raise"`` raises ``KeyError`` for an unknown value; ``missing="ignore"`` gives
        ``-1`` for it.
        """
        if table not in self.keys:
            raise GraphError(f"Table {table!r} has no primary key to look nodes up by.")
        keys, order = self.keys[table], self._order[table]
        vals = np.asarray(values if isinstance(values, np.ndarray) else list(values))
        if vals.dtype.kind != keys.dtype.kind:
            vals = vals.astype(keys.dtype)
        sorted_keys = keys[order]
        idx = np.clip(np.searchsorted(sorted_keys, vals), 0, max(len(keys) - 1, 0))
        found = (sorted_keys[idx] == vals) if len(keys) else np.zeros(len(vals), bool)
        if missing == "raise" and not found.all():
            bad = vals[~found][:5].tolist()
            raise KeyError(f"Unknown {table} key(s): {bad}")
        pos = np.where(found, order[idx] if len(keys) else -1, -1)
        return torch.from_numpy(pos.astype(np.int64))

    def key_values(self, table: str, positions: torch.Tensor | np.ndarray) -> np.ndarray:
        """Primary-key values of node ``positions`` (shape ``[P]``)."""
        out: np.ndarray = self.keys[table][np.asarray(positions)]
        return out


def graph_to_hetero(graph: Graph) -> tuple[HeteroData, NodeIndex]:
    """Node times and FK edges of every table as a ``HeteroData`` plus the key index.

    ``data[t].time``: int64 ``[N_t]``; ``data[et].edge_index``: int64 ``[2, E]`` (row = source
    node position, col = destination node position).
    """
    data, index = HeteroData(), NodeIndex()
    frames: dict[str, pa.Table] = {}
    for table in graph:
        frame = _fetch(graph, table)
        frames[table.name] = frame
        data[table.name].num_nodes = frame.num_rows
        data[table.name].time = _times(frame, table)
        if table.primary_key:
            index.add(table.name, _key_array(frame.column(table.primary_key)))
    con = duckdb.connect(":memory:")
    try:
        for name, frame in frames.items():
            con.register(_view(name), frame)
        for link in graph.links:
            _add_link(con, graph, data, link)
    finally:
        con.close()
    return data, index


def _fetch(graph: Graph, table: Table) -> pa.Table:
    """The key and time columns of ``table`` in node order, with a ``__rp_pos`` column."""
    cols = list(dict.fromkeys(table.key_columns + ([table.time_column] if table.time_column else [])))
    select = ", ".join(quote_ident(c) for c in cols) or "1 AS __rp_dummy"
    order = f" ORDER BY {quote_ident(table.primary_key)} NULLS LAST" if table.primary_key else ""
    frame = graph.con.sql(f"SELECT {select} FROM {quote_ident(table.name)}{order}").to_arrow_table()
    return frame.append_column(_POS, pa.array(np.arange(frame.num_rows, dtype=np.int64)))


def _times(frame: pa.Table, table: Table) -> torch.Tensor:
    """Seconds since the epoch of ``table``'s time column, shape ``[N]`` (int64)."""
    if table.time_column is None:
        return torch.full((frame.num_rows,), ALWAYS, dtype=torch.long)
    col = frame.column(table.time_column).combine_chunks()
    kind = col.type
    if pa.types.is_timestamp(kind):
        raw = pc.cast(col, pa.int64()).to_numpy(zero_copy_only=False)
        secs = np.floor_divide(np.nan_to_num(raw), _UNIT_SECONDS[kind.unit])
    elif pa.types.is_date(kind):
        days = pc.cast(pc.cast(col, pa.date32()), pa.int32()).to_numpy(zero_copy_only=False)
        secs = np.nan_to_num(days).astype(np.int64) * 86_400
    elif pa.types.is_integer(kind) or pa.types.is_floating(kind):
        secs = np.nan_to_num(pc.cast(col, pa.float64()).to_numpy(zero_copy_only=False))
    else:
        raise GraphError(f"Time column {table.name}.{table.time_column} has type {kind}; "
                         "expected a timestamp, date or number.")
    out = np.asarray(secs, dtype=np.int64)
    out[np.asarray(col.is_null())] = NEVER
    return torch.from_numpy(out)


def _key_array(col: pa.ChunkedArray) -> np.ndarray:
    """Primary-key values as a sortable numpy array (strings as ``str``, others native)."""
    arr = col.combine_chunks()
    if pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type):
        return np.asarray(arr.to_pylist(), dtype=str)
    out: np.ndarray = arr.to_numpy(zero_copy_only=False)
    return out


def _view(name: str) -> str:
    return f"__rp_nodes_{name}"


def _add_link(con: duckdb.DuckDBPyConnection, graph: Graph, data: HeteroData, link: Link) -> None:
    """Add ``(src, column, dst)`` and its reverse, joining FK values to target key positions."""
    pk = graph[link.dst].primary_key
    if pk is None:
        raise GraphError(f"Link {link} points at {link.dst!r}, which has no primary key.")
    rows = con.sql(
        f"SELECT s.{_POS} AS s, d.{_POS} AS d FROM {quote_ident(_view(link.src))} s "
        f"JOIN {quote_ident(_view(link.dst))} d ON s.{quote_ident(link.column)} = d.{quote_ident(pk)} "
        "ORDER BY s, d"
    ).fetchnumpy()
    edge = torch.from_numpy(np.stack([rows["s"], rows["d"]]).astype(np.int64)).reshape(2, -1)
    data[link.src, link.column, link.dst].edge_index = edge
    data[link.dst, REV_PREFIX + link.column, link.src].edge_index = edge.flip(0).contiguous()
