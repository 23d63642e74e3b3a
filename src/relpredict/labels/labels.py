"""Label tables computed in DuckDB: training examples, prediction entities, anchor schedules.

The anchor schedule follows RelBench (and PQL.md): anchors step by the target window ``δ`` so
every target window is fully observed; validation anchors run forward from ``val_start`` while
their window ends by ``test_start``, test anchors from ``test_start`` while their window ends by
the last fact timestamp (at most ``max_eval`` each), and training anchors run backward from
``val_start − δ`` to the first timestamp of the data.

``FORECAST N TIMEFRAMES`` stacks one label table per timeframe (:func:`forecast_table`): the
example of timeframe h at anchor ``t`` has the label of the window ``(t + (h-1)L, t + hL]`` (L the
window's length) and reads features at ``t``. Each split takes its timeframe-h examples at its own
anchors moved back by ``(h-1)L``, so their label windows are exactly the split's timeframe-1
windows: no label crosses from one split into the next.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pandas as pd
import pyarrow as pa

from relpredict.errors import ConfigError
from relpredict.graph.graph import Graph
from relpredict.labels.sql import ANCHOR, TIMEFRAME, prediction_sql, training_sql
from relpredict.query.bound import UNIT_SECONDS, BoundQuery, Window, timeframe, timeframe_length

MAX_TRAINED_TIMEFRAMES = 12
"""A forecast trains on at most this many of its timeframes, spread from 1 to the farthest the
data reaches (timeframes in between, and beyond, are predicted through the timeframe feature)."""


@dataclass(frozen=True)
class Schedule:
    """Anchor times per split, each list in increasing order."""

    train: list[datetime]
    val: list[datetime]
    test: list[datetime]

    def items(self) -> list[tuple[str, list[datetime]]]:
        return [("train", self.train), ("val", self.val), ("test", self.test)]


def step_offset(window: Window) -> pd.DateOffset:
    """The anchor step for a target window (calendar months stay months)."""
    if window.unit == "months":
        return pd.DateOffset(months=int(window.end))
    return pd.DateOffset(seconds=window.length().total_seconds())


def fact_time_range(bq: BoundQuery, graph: Graph) -> tuple[datetime | None, datetime | None]:
    """Earliest and latest time over the target's fact tables."""
    ranges = [graph.time_range(t) for t in bq.fact_tables]
    lows = [lo for lo, _ in ranges if lo is not None]
    highs = [hi for _, hi in ranges if hi is not None]
    return (min(lows) if lows else None, max(highs) if highs else None)


def data_start(graph: Graph) -> datetime | None:
    """The first timestamp of any table (RelBench's ``db.min_timestamp``)."""
    lows = [graph.time_range(t.name)[0] for t in graph if t.time_column]
    known = [lo for lo in lows if lo is not None]
    return min(known) if known else None


def default_anchor_time(bq: BoundQuery, graph: Graph) -> datetime | None:
    """Blank anchor time = latest timestamp of the target's fact table(s); None for static queries."""
    return fact_time_range(bq, graph)[1] if bq.is_temporal else None


def anchor_schedule(bq: BoundQuery, graph: Graph, *, val_start: datetime | None = None,
                    test_start: datetime | None = None, max_eval: int = 40) -> Schedule:
    """Train / validation / test anchor times for a temporal query (see module docstring).

    Without ``test_start`` the last fully observed window is the test anchor; without
    ``val_start`` the window before it is the validation anchor.
    """
    if bq.horizon is None:
        raise ConfigError("A static query has no anchor times: its labels are one row per entity.")
    if isinstance(max_eval, bool) or not isinstance(max_eval, int) or max_eval < 1:
        raise ConfigError(f"The number of evaluation anchors (--max-eval) must be at least 1, not "
                          f"{max_eval!r}: validation and test need one anchor each.")
    step = step_offset(bq.horizon)
    lo, hi = data_start(graph), fact_time_range(bq, graph)[1]
    if lo is None or hi is None:
        raise ConfigError(f"The target's tables {', '.join(bq.fact_tables)} have no rows with a time.")
    last = pd.Timestamp(hi) - step
    _check_starts(val_start, test_start, lo, last.to_pydatetime(), hi)
    test0 = pd.Timestamp(test_start) if test_start is not None else last
    val0 = pd.Timestamp(val_start) if val_start is not None else test0 - step
    test = _forward(test0, last, step, max_eval)
    val = _forward(val0, test0 - step, step, max_eval)
    if not val:
        raise ConfigError(
            f"No validation anchor fits between the validation start {val0} and the test start "
            f"{test0}: a validation window must end by the test start. Move the validation start "
            f"back to {(test0 - step).to_pydatetime()} or earlier.")
    train = _backward(val0 - step, pd.Timestamp(lo), step)
    if not train:
        raise ConfigError(
            f"No training anchor fits between the data start {lo} and the validation start {val0}: "
            "the data is shorter than two target windows. Use a shorter window or more data.")
    return Schedule(train, val, test)


def _check_starts(val_start: datetime | None, test_start: datetime | None, lo: datetime,
                  last: datetime, hi: datetime) -> None:
    """The split starts in order and inside the data (each named as the option that set it)."""
    for name, value in (("validation start (--val-start)", val_start),
                        ("test start (--test-start)", test_start)):
        if value is None:
            continue
        if value > last:
            raise ConfigError(
                f"The {name} {value} is after the last fully observed target window: the data ends "
                f"{hi}, so the latest anchor with a known label is {last}. Choose a date on or "
                "before it, or leave the option out.")
        if value <= lo:
            raise ConfigError(f"The {name} {value} is not after the data start {lo}: nothing would be "
                              "left to train on. Choose a later date.")
    if val_start is not None and test_start is not None and val_start >= test_start:
        raise ConfigError(f"The validation start {val_start} is not before the test start "
                          f"{test_start}: validation comes first. Swap them or move one.")


def _forward(start: pd.Timestamp, end: pd.Timestamp, step: pd.DateOffset, limit: int) -> list[datetime]:
    out: list[datetime] = []
    t = start
    while t <= end and len(out) < limit:
        out.append(t.to_pydatetime())
        t = t + step
    return out


def _backward(start: pd.Timestamp, end: pd.Timestamp, step: pd.DateOffset) -> list[datetime]:
    out, t = [], start
    while t >= end:
        out.append(t.to_pydatetime())
        t = t - step
    return sorted(out)


def training_table(bq: BoundQuery, graph: Graph, anchors: list[datetime] | None = None,
                   entities: list[Any] | None = None) -> pa.Table:
    """``ENTITY, ANCHOR_TIMESTAMP, TARGET`` for the given anchors (static queries: no anchors),
    for every entity or only ``entities``."""
    if bq.is_temporal and not anchors:
        raise ConfigError("A temporal query needs at least one anchor time for its labels.")
    sql = training_sql(bq, graph, anchors, entities)
    return graph.con.sql(sql.sql, params=sql.params).to_arrow_table()


def split_tables(bq: BoundQuery, graph: Graph, schedule: Schedule) -> dict[str, pa.Table]:
    """Training tables per split of a schedule (a forecast's with a ``TIMEFRAME`` column)."""
    if bq.forecast is not None:
        lo = data_start(graph)
        steps = forecast_steps(bq, schedule.train, lo)
        return {name: forecast_table(bq, graph, anchors, steps, lo)
                for name, anchors in schedule.items() if anchors}
    return {name: training_table(bq, graph, anchors) for name, anchors in schedule.items() if anchors}


def timeframe_offset(bq: BoundQuery, h: int) -> pd.DateOffset | timedelta:
    """How far timeframe ``h`` lies beyond timeframe 1: ``(h - 1)`` window lengths."""
    length, unit = timeframe_length(bq)
    if unit == "months":
        return pd.DateOffset(months=int((h - 1) * length))
    return timedelta(seconds=(h - 1) * length * UNIT_SECONDS[unit])


def forecast_steps(bq: BoundQuery, anchors: list[datetime], lo: datetime | None) -> list[int]:
    """The timeframes a forecast trains on: every one from 1 to the farthest whose moved-back
    training anchors still start in the data (at most ``forecast``), or
    :data:`MAX_TRAINED_TIMEFRAMES` of them spread evenly over that range, 1 and the last included."""
    n, top = bq.forecast or 1, 1
    latest = max(anchors) if anchors else None
    while top < n and latest is not None and lo is not None and (
            pd.Timestamp(latest) - timeframe_offset(bq, top + 1) >= pd.Timestamp(lo)):
        top += 1
    if top <= MAX_TRAINED_TIMEFRAMES:
        return list(range(1, top + 1))
    spread = (1 + i * (top - 1) / (MAX_TRAINED_TIMEFRAMES - 1) for i in range(MAX_TRAINED_TIMEFRAMES))
    return sorted({round(x) for x in spread})


def forecast_table(bq: BoundQuery, graph: Graph, anchors: list[datetime], steps: list[int],
                   lo: datetime | None = None) -> pa.Table:
    """``ENTITY, ANCHOR_TIMESTAMP, TIMEFRAME, TARGET`` of a forecast: for each timeframe h of
    ``steps``, the labels of :func:`~relpredict.query.bound.timeframe` ``(bq, h)`` at ``anchors``
    moved back by ``(h-1)`` window lengths (those not before ``lo``), so the label windows are
    those of timeframe 1 at ``anchors`` and the features are read ``(h-1)`` lengths earlier."""
    parts = []
    for h in steps:
        moved = [(pd.Timestamp(a) - timeframe_offset(bq, h)).to_pydatetime() for a in anchors]
        moved = [a for a in moved if lo is None or a >= lo]
        if not moved:
            continue
        table = training_table(timeframe(bq, h), graph, moved)
        step = pa.array([h] * table.num_rows, pa.int64())
        parts.append(table.add_column(table.schema.get_field_index("TARGET"), TIMEFRAME, step))
    if not parts:
        raise ConfigError("No anchor time of this forecast lies inside the data: the data is shorter "
                          "than one target window. Use a shorter window or more data.")
    return pa.concat_tables(parts)


def labelled_splits(bq: BoundQuery, graph: Graph, schedule: Schedule) -> pa.Table:
    """All splits in one table with a ``SPLIT`` column (what ``query labels --out`` writes)."""
    parts = []
    for name, table in split_tables(bq, graph, schedule).items():
        parts.append(table.append_column("SPLIT", pa.array([name] * table.num_rows, pa.string())))
    return pa.concat_tables(parts)


def prediction_table(bq: BoundQuery, graph: Graph, anchor: datetime | None = None) -> pa.Table:
    """The entities to predict at ``anchor`` (default: :func:`default_anchor_time`)."""
    if bq.is_temporal and anchor is None:
        anchor = default_anchor_time(bq, graph)
    sql = prediction_sql(bq, graph, anchor)
    return graph.con.sql(sql.sql, params=sql.params).to_arrow_table()


__all__ = ["ANCHOR", "TIMEFRAME", "Schedule", "anchor_schedule", "default_anchor_time",
           "forecast_steps", "forecast_table", "labelled_splits", "prediction_table", "split_tables",
           "training_table"]
