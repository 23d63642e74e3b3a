"""Metadata columns of a job's outputs (``--metadata-fields``, like Kumo's output metadata fields).

Each column holds one value for the whole job, taken from the job's record, which is written once
when the job is set up and never changes: ``JOB_TIMESTAMP`` is when the job was created (naive
UTC, like ``ANCHOR_TIMESTAMP``), ``MODEL_VERSION`` the model it ran (``NAME@VERSION``), ``JOB_ID``
the job's id. ``ANCHOR_TIMESTAMP`` is already a column of every output of a temporal query, so
naming it adds nothing (a static query's job refuses it, see
:func:`relpredict.jobs.settings.parse_metadata_fields`).

The writing stage appends the columns to the staged shards' batches as it publishes them, on every
destination alike; the shards never carry them. So a resume, however late, and shards scored on
other machines (Dask) give exactly the same values, and the errors output stays ``ENTITY, ERROR``.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from relpredict.jobs.store import JobRecord, parse_iso

__all__ = ["MetadataColumns"]


class MetadataColumns:
    """The metadata columns a job's record asks for, appended to schemas and batches."""

    def __init__(self, columns: list[tuple[str, pa.Scalar]]) -> None:
        self.columns = columns

    @classmethod
    def of(cls, record: JobRecord) -> MetadataColumns:
        """The columns of ``record.settings.metadata_fields``, valued from the record."""
        known: dict[str, tuple[Any, pa.DataType]] = {
            "JOB_TIMESTAMP": (parse_iso(record.created_at), pa.timestamp("us")),
            "MODEL_VERSION": (record.model_ref, pa.string()),
            "JOB_ID": (record.id, pa.string()),
        }
        return cls([(name, pa.scalar(*known[name])) for name in record.settings.metadata_fields
                    if name in known])  # ANCHOR_TIMESTAMP: a column of the output already

    @classmethod
    def none(cls) -> MetadataColumns:
        """No columns (the errors output)."""
        return cls([])

    def values(self) -> dict[str, Any]:
        """Each appended column's value (as Python)."""
        return {name: value.as_py() for name, value in self.columns}

    def schema(self, schema: pa.Schema) -> pa.Schema:
        """``schema`` with the metadata columns at its end."""
        for name, value in self.columns:
            schema = schema.append(pa.field(name, value.type))
        return schema

    def add(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        """``batch`` with the metadata columns at its end, each its one value on every row."""
        if not self.columns:
            return batch
        arrays = [*batch.columns, *(pa.repeat(value, batch.num_rows) for _, value in self.columns)]
        return pa.RecordBatch.from_arrays(arrays, schema=self.schema(batch.schema))
