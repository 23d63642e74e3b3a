"""Source readers: how a graph gets the rows of a :class:`~relpredict.tables.table.ConnectorSource`.

A table read through a connector (S3 objects, a Snowflake or BigQuery table or query) is fetched
by the graph's *source reader* into local Parquet or CSV files, which DuckDB then copies into a
table of its own, exactly as it reads local files. The reader decides where those files live and
how long: a job's reader keeps them in the job's folder of the workspace, so the job's runner and
every shard worker read the copy the job fetched first and never the source again (see
:mod:`relpredict.sinks.sources`).

The readers live with the connection code (they resolve connectors and secrets, which this layer
may not import); a graph without a reader of its own gets :func:`default_reader`, named here by
its import string as the connector testers are.
"""

from __future__ import annotations

import importlib
from contextlib import AbstractContextManager
from typing import Protocol

from relpredict.tables.table import ConnectorSource, FileSource

DEFAULT_READER = "relpredict.sinks.sources:default_reader"

__all__ = ["DEFAULT_READER", "SourceReader", "default_reader"]


class SourceReader(Protocol):
    """Fetches a connector source as local files for the time DuckDB reads them."""

    def local_copy(self, table: str, source: ConnectorSource) -> AbstractContextManager[FileSource]:
        """A context whose value is a local copy of ``source`` (the rows of graph table ``table``);
        errors are :class:`~relpredict.errors.DataError` s naming the table, never a secret."""
        ...


def default_reader() -> SourceReader:
    """The reader of graphs that were given none: the default workspace's connectors, no cache."""
    module, _, function = DEFAULT_READER.partition(":")
    reader: SourceReader = getattr(importlib.import_module(module), function)()
    return reader
