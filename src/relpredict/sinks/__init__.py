"""Destinations of batch prediction jobs: one interface for local files, S3, Snowflake, BigQuery.

Owns where outputs go: destination names (:mod:`.naming`), file formats (:mod:`.formats`), the
staging of shards (:mod:`.localfs`, S3's own in :mod:`.s3`) and each backend's publishing and
manifest. Imports no job code: a job hands over a picklable :class:`SinkSpec`.

Each backend implements :class:`JobSink`; :func:`open_sink` picks it from the destination in a
job's :class:`SinkSpec` (``s3://`` → :mod:`relpredict.sinks.s3`, ``snowflake://`` →
:mod:`relpredict.sinks.snowflake`, ``bigquery://`` → :mod:`relpredict.sinks.bigquery`, a path →
:mod:`relpredict.sinks.local`). Backends are imported only when used: their client libraries are
heavy and a local job needs none of them.
"""

from __future__ import annotations

from relpredict.sinks.base import JobSink, OutputFile, SinkSpec
from relpredict.sinks.naming import (
    DEFAULT_PARTITION_BYTES,
    FILE_TYPES,
    OUTPUT_TYPES,
    PARTITION,
    TABLE_KINDS,
    AnyDestination,
    Destination,
    TableDestination,
    check_table_name,
    destination_from_json,
    output_destinations,
    parse_destination,
    part_name,
)

__all__ = ["DEFAULT_PARTITION_BYTES", "AnyDestination", "Destination", "FILE_TYPES", "JobSink",
           "OUTPUT_TYPES", "OutputFile", "PARTITION", "SinkSpec", "TABLE_KINDS", "TableDestination",
           "check_table_name", "destination_from_json", "open_sink", "output_destinations",
           "parse_destination", "part_name"]


def open_sink(spec: SinkSpec) -> JobSink:
    """The sink for a job's destination, by its scheme (see the module docstring)."""
    dest = spec.destination
    if isinstance(dest, TableDestination):
        if dest.kind == "snowflake":
            from relpredict.sinks.snowflake import SnowflakeSink

            return SnowflakeSink(spec)
        from relpredict.sinks.bigquery import BigQuerySink

        return BigQuerySink(spec)
    if dest.scheme == "s3":
        from relpredict.sinks.s3 import S3Sink

        return S3Sink(spec)
    from relpredict.sinks.local import LocalSink

    return LocalSink(spec)
