"""A job's own entity list: ``--entities FILE`` (CSV or Parquet of keys) or a table of the graph.

The keys are one column of the file or table: its only column, or the one named like the entity
key (case-insensitive). They are read at setup (:func:`check_entities`: a missing file, no such
column, zero keys are errors; keys that are not rows of the entity table are counted in a
warning) and again when the job builds its entity list (:func:`entity_keys`), which keeps the
entities the query would predict (they exist at the anchor time, pass WHERE and the filter) that
are on the list. Training is not affected: the model was trained on every entity.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from relpredict.errors import ConfigError
from relpredict.graph.graph import Graph
from relpredict.query.bound import BoundQuery
from relpredict.sql import quote_ident

__all__ = ["check_entities", "entity_keys"]

_SUFFIXES = (".csv", ".parquet", ".pq")


def check_entities(source: str, graph: Graph, bq: BoundQuery) -> tuple[str, list[str]]:
    """The entity list's canonical source (a table name, or the file's absolute path) and the
    setup warnings; a :class:`ConfigError` says what is wrong with it."""
    canonical = source if source in graph else str(Path(source).expanduser().absolute())
    keys = entity_keys(canonical, graph, bq)
    known = graph.con.sql(f"SELECT {quote_ident(bq.entity_key)} AS k FROM "
                          f"{quote_ident(bq.entity_table)}").to_arrow_table().column("k")
    unknown = int(pc.sum(pc.invert(pc.is_in(keys, value_set=known.cast(keys.type)))).as_py() or 0)
    warnings = []
    if unknown:
        warnings.append(f"{unknown:,} of the {len(keys):,} keys in the entity list {source} are not "
                        f"rows of {bq.entity_table}: they get no prediction.")
    return canonical, warnings


def entity_keys(source: str, graph: Graph, bq: BoundQuery) -> pa.Array:
    """The distinct keys of the entity list, typed as the entity key (first appearance order)."""
    table = _read(source, graph)
    column = _key_column(table, source, bq.entity_key)
    key_type = graph.con.sql(f"SELECT {quote_ident(bq.entity_key)} FROM {quote_ident(bq.entity_table)} "
                             "LIMIT 0").to_arrow_table().schema.field(0).type
    try:
        keys = table.column(column).cast(key_type)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as err:
        raise ConfigError(f"The keys in column {column!r} of the entity list {source} are not of the "
                          f"type of {bq.entity_table}.{bq.entity_key} ({key_type}): {err}.") from None
    keys = pc.unique(keys.combine_chunks().drop_null())
    if len(keys) == 0:
        raise ConfigError(f"The entity list {source} holds no keys (column {column!r} is empty): give "
                          f"at least one {bq.entity_table}.{bq.entity_key}.")
    return keys


def _read(source: str, graph: Graph) -> pa.Table:
    if source in graph:
        return graph.con.sql(f"SELECT * FROM {quote_ident(source)}").to_arrow_table()
    path = Path(source)
    if not path.is_file():
        raise ConfigError(f"The entity list {source} is neither a file nor a table of the graph "
                          f"({', '.join(graph.table_names)}): give a CSV or Parquet file of keys, or "
                          "a table name.")
    if path.suffix.lower() not in _SUFFIXES:
        raise ConfigError(f"The entity list {source} is not a .csv or .parquet file: write its keys "
                          "as one column of a CSV or Parquet file.")
    try:
        if path.suffix.lower() == ".csv":
            return pacsv.read_csv(path)
        return pq.read_table(path)
    except (pa.ArrowInvalid, OSError) as err:
        raise ConfigError(f"The entity list {source} cannot be read: {err}.") from None


def _key_column(table: pa.Table, source: str, key: str) -> str:
    names: list[str] = table.column_names
    if len(names) == 1:
        return names[0]
    matches = [n for n in names if n.lower() == key.lower()]
    if len(matches) == 1:
        return matches[0]
    raise ConfigError(f"The entity list {source} has the columns {', '.join(names)}, none of them "
                      f"named {key!r}: give a file with one column of keys, or name the column {key}.")
