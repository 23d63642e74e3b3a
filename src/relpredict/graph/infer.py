"""Propose a graph for a folder of files: keys and links guessed from names and value overlap.

The proposal is a starting point for a person to review, not a verdict: the YAML it writes says
which guesses were made and on what evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from relpredict.errors import ConfigError
from relpredict.graph.graph import Graph
from relpredict.sql import quote_ident
from relpredict.tables.stypes import (
    is_integer_dtype,
    is_string_dtype,
    is_temporal_dtype,
    looks_like_id,
)
from relpredict.tables.table import FILE_FORMATS, Table, file_format

TIME_HINTS = ("timestamp", "time", "date", "created", "datetime", "ts", "at")
MIN_OVERLAP = 0.9  # share of a column's distinct values that must exist in the target key


@dataclass(frozen=True)
class Guess:
    """One inferred fact and the evidence for it, written as a comment in the proposed YAML."""

    table: str
    what: str
    evidence: str


def infer_graph(folder: str | Path) -> tuple[Graph, list[Guess]]:
    """Tables for every CSV / Parquet file in ``folder``, with guessed keys, links and times."""
    folder = Path(folder)
    files = sorted(p for p in folder.iterdir() if p.is_file() and _is_data_file(p)) if folder.is_dir() else []
    if not files:
        raise ConfigError(f"{folder} is not a folder holding .csv or .parquet files.")
    raw = Graph([_table(p) for p in files], name=folder.resolve().name)
    guesses: list[Guess] = []
    pks = {t.name: guess_primary_key(raw, t.name, guesses) for t in raw}
    tables = []
    for t in raw:
        fks = _foreign_keys(raw, t.name, pks, guesses)
        time = guess_time_column(raw, t.name, guesses)
        tables.append(t.with_(primary_key=pks[t.name], foreign_keys=fks, time_column=time))
    raw.close()
    return Graph(tables, name=raw.name), guesses


def _is_data_file(path: Path) -> bool:
    try:
        return file_format(path) in FILE_FORMATS
    except ConfigError:
        return False


def _table(path: Path) -> Table:
    """A table for one file; a CSV that writes NULL as ``\\N`` (MySQL dumps) gets that marker."""
    nulls: tuple[str, ...] = ()
    if file_format(path) == "csv":
        with path.open("rb") as fh:
            if b"\\N" in fh.read(1 << 20):
                nulls = ("\\N",)
    return Table.from_file(path.stem, path, null_values=nulls)


def _singular(name: str) -> str:
    return name[:-1] if name.endswith("s") and not name.endswith("ss") else name


def _key_names(table: str) -> list[str]:
    """Names a table's own key usually has: id, customer_id, customerId, customers_id."""
    out = ["id"]
    for base in (table, _singular(table)):
        out += [f"{base}_id", f"{base}id"]
    return out


def guess_primary_key(graph: Graph, table: str, guesses: list[Guess]) -> str | None:
    cols = graph.columns(table)
    wanted = _key_names(table.lower())
    candidates = [c for c in cols if c.lower() in wanted] + [c for c in cols if looks_like_id(c)][:1]
    for col in candidates:
        if _is_unique(graph, table, col):
            guesses.append(Guess(table, f"primary key {col}", "named like a key; unique, no NULLs"))
            return col
    return None


def _is_unique(graph: Graph, table: str, col: str) -> bool:
    t, c = quote_ident(table), quote_ident(col)
    n, distinct, nulls = graph.con.execute(
        f"SELECT COUNT(*), COUNT(DISTINCT {c}), COUNT(*) - COUNT({c}) FROM {t}").fetchall()[0]
    return bool(n > 0 and nulls == 0 and distinct == n)


def _foreign_keys(graph: Graph, table: str, pks: dict[str, str | None], guesses: list[Guess]) -> dict[str, str]:
    out: dict[str, str] = {}
    for col, dtype in graph.columns(table).items():
        if col == pks[table] or not looks_like_id(col):
            continue
        for dst, pk in pks.items():
            if dst == table or pk is None or not _names_match(col, dst, pk):
                continue
            if not _same_family(dtype, graph.columns(dst)[pk]):
                continue
            overlap = _overlap(graph, table, col, dst, pk)
            if overlap >= MIN_OVERLAP:
                out[col] = dst
                guesses.append(Guess(table, f"link {col} → {dst}.{pk}",
                                     f"name matches; {overlap:.1%} of its distinct values are keys of {dst}"))
                break
    return out


def _names_match(col: str, dst: str, pk: str) -> bool:
    lower = col.lower()
    return lower == pk.lower() or lower in _key_names(dst.lower())


def _same_family(a: str, b: str) -> bool:
    return (is_integer_dtype(a) and is_integer_dtype(b)) or (is_string_dtype(a) and is_string_dtype(b))


def _overlap(graph: Graph, table: str, col: str, dst: str, pk: str) -> float:
    t, c, d, p = quote_ident(table), quote_ident(col), quote_ident(dst), quote_ident(pk)
    total, found = graph.con.execute(
        f"SELECT COUNT(*), COUNT(k.{p}) FROM (SELECT DISTINCT {c} AS v FROM {t} WHERE {c} IS NOT NULL) f "
        f"LEFT JOIN {d} k ON f.v = k.{p}").fetchall()[0]
    return found / total if total else 0.0


def guess_time_column(graph: Graph, table: str, guesses: list[Guess]) -> str | None:
    temporal = [c for c, dtype in graph.columns(table).items()
                if is_temporal_dtype(dtype) and _time_rank(c.lower()) < len(TIME_HINTS)]
    if not temporal:
        return None  # a date such as a birthday says nothing of when the row became known
    ranked = sorted(temporal, key=lambda c: _time_rank(c.lower()))
    choice = ranked[0]
    others = f"; other time columns: {', '.join(ranked[1:])}" if len(ranked) > 1 else ""
    guesses.append(Guess(table, f"time column {choice}", f"the most time-like name{others}"))
    return choice


def _time_rank(name: str) -> int:
    for i, hint in enumerate(TIME_HINTS):
        if name == hint or name.endswith("_" + hint) or name.startswith(hint):
            return i
    return len(TIME_HINTS)
