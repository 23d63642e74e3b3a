"""relpredict: predictive queries over related tables.

The public API; everything else is an implementation module and may change.

>>> from relpredict import load_graph, bind, training_table
>>> graph = load_graph("demo-data/graph.yaml")                       # doctest: +SKIP
>>> query = bind("PREDICT COUNT(transactions.*, 0, 30, days) > 0 "
...              "FOR EACH customers.customer_id", graph)             # doctest: +SKIP
"""

from importlib.metadata import PackageNotFoundError, version

from relpredict.errors import (
    ConfigError,
    DataError,
    GraphError,
    GraphValidationError,
    QueryBindError,
    QueryError,
    QuerySyntaxError,
    RelpredictError,
    WorkspaceError,
)
from relpredict.graph import Finding, Graph, Link, dump_graph, load_graph
from relpredict.labels.labels import (
    Schedule,
    anchor_schedule,
    default_anchor_time,
    labelled_splits,
    prediction_table,
    training_table,
)
from relpredict.query.binder import bind
from relpredict.query.bound import BoundQuery, TaskType
from relpredict.query.parser import parse
from relpredict.query.printer import to_pql
from relpredict.tables import SType, Table
from relpredict.workspace import Workspace

try:
    __version__ = version("relpredict")  # pyproject.toml's, as installed
except PackageNotFoundError:  # a source tree on sys.path, not installed
    __version__ = "0+unknown"

__all__ = [
    "BoundQuery",
    "ConfigError",
    "DataError",
    "Finding",
    "Graph",
    "GraphError",
    "GraphValidationError",
    "Link",
    "QueryBindError",
    "QueryError",
    "QuerySyntaxError",
    "RelpredictError",
    "SType",
    "Schedule",
    "Table",
    "TaskType",
    "Workspace",
    "WorkspaceError",
    "anchor_schedule",
    "bind",
    "default_anchor_time",
    "dump_graph",
    "labelled_splits",
    "load_graph",
    "parse",
    "prediction_table",
    "to_pql",
    "training_table",
]
