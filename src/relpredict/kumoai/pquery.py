"""kumoai's ``PredictiveQuery``, its training and prediction tables, over relpredict's binder and
label tables (:mod:`relpredict.labels`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any

import pandas as pd

from relpredict.kumoai.graph import Graph
from relpredict.kumoai.plan import ModelPlan
from relpredict.labels.labels import (
    anchor_schedule,
    default_anchor_time,
    labelled_splits,
    prediction_table,
)
from relpredict.query.binder import bind
from relpredict.query.bound import BoundQuery
from relpredict.query.bound import TaskType as RPTaskType

__all__ = ["PredictionTable", "PredictionTableJob", "PredictiveQuery", "TaskType", "TrainingTable",
           "TrainingTableJob"]


class TaskType(str, Enum):
    """Kumo's task types (the values kumoai's ``get_task_type()`` returns)."""

    BINARY_CLASSIFICATION = "binary_classification"
    REGRESSION = "regression"
    MULTICLASS_CLASSIFICATION = "multiclass_classification"
    MULTILABEL_CLASSIFICATION = "multilabel_classification"
    TEMPORAL_LINK_PREDICTION = "temporal_link_prediction"
    STATIC_LINK_PREDICTION = "static_link_prediction"
    FORECASTING = "forecasting"

    @classmethod
    def of(cls, bq: BoundQuery) -> TaskType:
        if getattr(bq, "forecast", None):
            return cls.FORECASTING
        if bq.task_type is RPTaskType.link_prediction:
            return cls.TEMPORAL_LINK_PREDICTION if bq.is_temporal else cls.STATIC_LINK_PREDICTION
        return cls(bq.task_type.value)


@dataclass
class TrainingTable:
    """The labelled examples a model trains on (relpredict's training, validation, test splits)."""

    pquery: PredictiveQuery
    val_start: datetime | None = None
    test_start: datetime | None = None
    max_eval: int = 40

    def data_df(self) -> pd.DataFrame:
        """``ENTITY, ANCHOR_TIMESTAMP, TARGET, SPLIT`` (what ``relpredict query labels`` writes)."""
        bq, graph = self.pquery.bound(), self.pquery.graph.to_relpredict()
        schedule = anchor_schedule(bq, graph, val_start=self.val_start, test_start=self.test_start,
                                   max_eval=self.max_eval)
        return labelled_splits(bq, graph, schedule).to_pandas()


@dataclass
class PredictionTable:
    """The entities to predict and the anchor time (``None``: the latest time of the target's
    fact tables, as a job's blank anchor time)."""

    pquery: PredictiveQuery
    anchor_time: datetime | None = None

    def data_df(self) -> pd.DataFrame:
        bq, graph = self.pquery.bound(), self.pquery.graph.to_relpredict()
        return prediction_table(bq, graph, self.anchor_time).to_pandas()


class _Done:
    """What ``non_blocking=True`` returns for a table: relpredict builds the tables when asked,
    so the job is finished already."""

    def __init__(self, value: Any) -> None:
        self._value = value

    def result(self) -> Any:
        return self._value

    def status(self) -> str:
        return "DONE"

    def attach(self) -> Any:
        return self._value


class TrainingTableJob(_Done):
    pass


class PredictionTableJob(_Done):
    pass


class PredictiveQuery:
    """A predictive query over a :class:`~relpredict.kumoai.graph.Graph` (kumoai's)."""

    def __init__(self, graph: Graph, query: str) -> None:
        self.graph = graph
        self.query = query

    def __repr__(self) -> str:
        return f"PredictiveQuery(query={self.query!r})"

    def bound(self) -> BoundQuery:
        return bind(self.query, self.graph.to_relpredict())

    def validate(self, verbose: bool = True) -> PredictiveQuery:
        """Parse and bind the query against the graph; a bad query raises with the spot marked."""
        bq = self.bound()
        if verbose:
            print(f"Query is valid: {TaskType.of(bq).value} for each {bq.entity_table}.{bq.entity_key}")
        return self

    def get_task_type(self) -> TaskType:
        return TaskType.of(self.bound())

    def suggest_model_plan(self, run_mode: str = "normal") -> ModelPlan:
        return ModelPlan.for_run_mode(run_mode)

    def suggest_training_table_plan(self, run_mode: str = "normal") -> dict[str, Any]:
        return {}

    def suggest_prediction_table_plan(self) -> dict[str, Any]:
        return {}

    def generate_training_table(self, plan: Any = None, non_blocking: bool = False) -> Any:
        table = TrainingTable(self)
        return TrainingTableJob(table) if non_blocking else table

    def generate_prediction_table(self, plan: Any = None, non_blocking: bool = False,
                                  anchor_time: datetime | str | None = None) -> Any:
        """The prediction table at ``anchor_time`` (relpredict extension; default the latest
        time of the target's fact tables)."""
        when = datetime.fromisoformat(anchor_time) if isinstance(anchor_time, str) else anchor_time
        if when is None and self.bound().is_temporal:
            when = default_anchor_time(self.bound(), self.graph.to_relpredict())
        table = PredictionTable(self, when)
        return PredictionTableJob(table) if non_blocking else table
