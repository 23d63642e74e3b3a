"""What a batch prediction job needs of a model, as a :class:`typing.Protocol`.

A job loads its model through a loader (``module:function``, see :mod:`relpredict.jobs.shards`),
so the job code never imports the model package: it relies on this interface only.
:class:`relpredict.model.predictor.TrainedModel` satisfies it, and so does the job tests'
double (``tests/jobs/fixture_model.py``), which ``tests/jobs/test_protocols.py`` checks.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import pyarrow as pa

from relpredict.graph.graph import Graph
from relpredict.query.bound import BoundQuery, TaskType

__all__ = ["ExplainingModel", "JobModel"]


@runtime_checkable
class JobModel(Protocol):
    """A model a job can run: its reference and task, its graph, and the two outputs."""

    query_text: str
    task_type: TaskType

    @property
    def ref(self) -> str:
        """``NAME@VERSION``."""

    @property
    def is_temporal(self) -> bool:
        """Whether the query has windows, i.e. predictions need an anchor time."""

    @property
    def classes(self) -> list[Any] | None:
        """The classes of a multiclass / multilabel model (None otherwise)."""

    def load_graph(self) -> Graph:
        """The graph the model was trained on (its recorded sources, keys and links)."""

    def bound_query(self, graph: Graph) -> BoundQuery:
        """The model's query bound to ``graph``."""

    def predict(self, graph: Graph, anchor: datetime | None, entities: pa.Array, *,
                threshold: float = 0.5, num_classes: int | None = None,
                top_k: int | None = None) -> pa.Table:
        """The PQL.md predictions table of ``entities`` at ``anchor`` (rows in entity order)."""

    def embed(self, graph: Graph, anchor: datetime | None, entities: pa.Array) -> pa.Table:
        """``ENTITY, [ANCHOR_TIMESTAMP,] EMBEDDINGS`` of ``entities`` at ``anchor``."""


@runtime_checkable
class ExplainingModel(JobModel, Protocol):
    """A model that also explains its predictions (the ``explanations`` output)."""

    def explain(self, graph: Graph, anchor: datetime | None, entities: pa.Array,
                k: int = 5, exact: bool = False) -> pa.Table:
        """Each entity's top ``k`` inputs with their contributions."""


if TYPE_CHECKING:  # mypy checks here that the trained model satisfies both protocols
    from relpredict.model.predictor import TrainedModel

    _TRAINED_MODEL: type[ExplainingModel] = TrainedModel
