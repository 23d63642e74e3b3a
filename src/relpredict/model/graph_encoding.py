"""Reading a graph's tables into column encoders: fitting them at a cutoff and encoding every row.

The DuckDB side of :mod:`relpredict.model.encoders`: one query per table selects every feature
column in the form its encoder reads (DOUBLE, VARCHAR or VARCHAR[]); fitting reads only rows
whose time is at most the cutoff, encoding reads every row in the node order of
:func:`relpredict.model.tensors.graph_to_hetero` (primary key order, else row order).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from relpredict.errors import GraphError
from relpredict.graph.graph import Graph
from relpredict.model.encoders import (
    BagEncoder,
    CategoricalEncoder,
    ColumnEncoder,
    EncodedTable,
    GraphEncoders,
    NumericEncoder,
    TableEncoder,
    float_values,
)
from relpredict.sql import quote_ident
from relpredict.tables.stypes import SType, is_numeric_dtype, is_temporal_dtype
from relpredict.tables.table import Table

SECONDS_PER_YEAR = 365.25 * 86_400


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
            out.append(NumericEncoder.fit(col, stype, float_values(values)))
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


def _select(graph: Graph, table: str, cols: list[str], where: str, order: str, params: list[Any],
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


def _cutoff_filter(table: Table, cutoff: datetime | None) -> tuple[str, list[Any]]:
    """``WHERE time <= cutoff`` and its parameter.

    The loader stores time columns as naive UTC TIMESTAMPs, so an aware cutoff is turned into
    naive UTC first (DuckDB would otherwise compare it in the session's time zone).
    """
    if cutoff is None or table.time_column is None:
        return "", []
    if cutoff.tzinfo is not None:
        cutoff = cutoff.astimezone(UTC).replace(tzinfo=None)
    return f" WHERE {quote_ident(table.time_column)} <= ?", [cutoff]
