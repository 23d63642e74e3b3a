"""Destinations of batch prediction jobs: one interface, local CSV / Parquet files today.

S3, Snowflake and BigQuery come next through the same :class:`JobSink` interface; each one is
picked by :func:`open_sink` from the destination in a job's :class:`SinkSpec`.
"""

from __future__ import annotations

from relpredict.sinks.base import JobSink, OutputFile, SinkSpec
from relpredict.sinks.naming import (
    DEFAULT_PARTITION_BYTES,
    FILE_TYPES,
    OUTPUT_TYPES,
    PARTITION,
    Destination,
    output_destinations,
    parse_destination,
    part_name,
)

__all__ = ["DEFAULT_PARTITION_BYTES", "Destination", "FILE_TYPES", "JobSink", "OUTPUT_TYPES",
           "OutputFile", "PARTITION", "SinkSpec", "open_sink", "output_destinations",
           "parse_destination", "part_name"]


def open_sink(spec: SinkSpec) -> JobSink:
    """The sink for a job's destination (local files: the only kind so far)."""
    from relpredict.sinks.local import LocalSink

    return LocalSink(spec)
