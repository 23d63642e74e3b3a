"""The bound query: plain data that later stages (labels, models, jobs) read.

Like a RelBench task, a bound query says which entities, which target, which windows and which
task type; :mod:`relpredict.labels` turns it into SQL.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta
from enum import Enum
from typing import Any

from relpredict.query.ast import Aggregation, Expr, Query
from relpredict.query.printer import to_pql


class TaskType(str, Enum):
    """What kind of prediction a query asks for (derived from its shape, PQL.md)."""

    binary = "binary_classification"
    regression = "regression"
    multiclass = "multiclass_classification"
    multilabel = "multilabel_classification"
    link_prediction = "link_prediction"


UNIT_SECONDS = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400, "weeks": 7 * 86400}


@dataclass(frozen=True)
class Window:
    """``(start, end]`` relative to the anchor time, in ``unit``; ``start`` None is -INF."""

    start: float | None
    end: float
    unit: str

    @classmethod
    def of(cls, agg: Aggregation) -> Window:
        return cls(agg.start, agg.end, agg.unit)

    def length(self) -> timedelta:
        """The end offset as a timedelta (months count as 30 days here, for scheduling only)."""
        return as_timedelta(self.end, self.unit)


def as_timedelta(value: float, unit: str) -> timedelta:
    if unit == "months":
        return timedelta(days=30 * value)
    return timedelta(seconds=value * UNIT_SECONDS[unit])


@dataclass(frozen=True)
class BoundQuery:
    """A query checked against a graph.

    Attributes:
        text: the canonical PQL text.
        query: the syntax tree.
        task_type: derived from the target's shape.
        entity_table, entity_key: ``FOR EACH entity_table.entity_key``.
        entity_time: the entity table's time column (an entity exists at t when it is <= t).
        target, where, assuming: expressions of the tree (where / assuming may be None).
        fact_tables: tables aggregated by the target (their latest time is the default anchor).
        horizon: the target window reaching furthest ahead (its ``end`` in its ``unit``): the
            anchor step, and the time a label needs to be complete.
        rank_top: k of RANK TOP k for link prediction (None for other tasks).
        item_table, item_key: for link prediction, the table the ranked foreign key points to.
        target_kind: the value type of the target: "boolean", "numeric", "category", "list".
        entity_keys: the keys of ``FOR t.pk = v`` / ``FOR t.pk IN (...)``, typed as the key
            column (ints for integer keys, str for text keys), in the order written, without
            duplicates; None for ``FOR EACH``. Predictions are for these entities only;
            training and labels ignore it and use every entity.
        num_classes: for multiclass / multilabel, the classes to return per entity, from
            ``CLASSIFY TOP k`` or ``RANK TOP k`` over categories (None: every class, up to the
            job's limit).
        forecast: N of ``FORECAST N TIMEFRAMES`` (None: one window). ``target`` and ``horizon``
            are those of timeframe 1; :func:`timeframe` gives the query of timeframe h.
    """

    text: str
    query: Query
    task_type: TaskType
    entity_table: str
    entity_key: str
    entity_time: str | None
    target: Expr
    where: Expr | None
    assuming: Expr | None
    fact_tables: tuple[str, ...]
    horizon: Window | None
    target_kind: str
    rank_top: int | None = None
    item_table: str | None = None
    item_key: str | None = None
    entity_keys: tuple[Any, ...] | None = None
    num_classes: int | None = None
    forecast: int | None = None

    @property
    def is_temporal(self) -> bool:
        """A temporal query aggregates over time windows and has an anchor time per example."""
        return self.horizon is not None


def timeframe_length(bq: BoundQuery) -> tuple[float, str]:
    """The length of one forecast timeframe, ``(end - start, unit)`` of the target's window."""
    agg = bq.target
    if not isinstance(agg, Aggregation) or agg.start is None:
        raise ValueError("a forecast's target is one aggregation over a forward window")
    return agg.end - agg.start, agg.unit


def timeframe(bq: BoundQuery, h: int) -> BoundQuery:
    """The query of forecast timeframe ``h`` (1-based): the target's window moved ``h - 1``
    window lengths ahead, ``(start + (h-1)L, end + (h-1)L]``; WHERE and ASSUMING unchanged.

    The result is a plain one-window query (``forecast`` None); timeframe 1 is ``bq`` itself.
    """
    if bq.forecast is None:
        return bq
    length, _ = timeframe_length(bq)
    agg = bq.target
    assert isinstance(agg, Aggregation) and agg.start is not None
    shift = (h - 1) * length
    moved = replace(agg, start=agg.start + shift, end=agg.end + shift)
    query = replace(bq.query, target=moved, forecast=None)
    return replace(bq, text=to_pql(query), target=moved, query=query, horizon=Window.of(moved),
                   forecast=None)
