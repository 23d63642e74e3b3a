"""Streaming file writers for CSV and Parquet, batch by batch, with a running byte count.

Both writers take Arrow record batches and never hold more than one batch: the job assembles
outputs of any size through them. CSV cannot hold lists, so a list column (``EMBEDDINGS``) is
written as a JSON array string, built with Arrow kernels rather than a Python loop per row.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Protocol

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

if TYPE_CHECKING:
    from relpredict.sinks.base import OutputFile
    from relpredict.sinks.naming import Destination

__all__ = ["BatchWriter", "csv_schema", "lists_as_json", "open_writer"]


class BatchWriter(Protocol):
    """Writes batches of one schema to one file."""

    def write(self, batch: pa.RecordBatch) -> None: ...
    def tell(self) -> int:
        """Bytes written to the file so far (what partition sizing reads)."""
        ...
    def close(self) -> None: ...


def lists_as_json(array: pa.Array) -> pa.Array:
    """A list-of-numbers column as JSON array strings (``[0.5,-1,2e-8]``); nulls stay null.

    JSON has no NaN or infinity: such a value (and a null inside a list) is written ``null``, so
    every row parses with any JSON reader (the models impute their embeddings, so theirs never
    hold one)."""
    if isinstance(array, pa.ChunkedArray):
        return pa.chunked_array([lists_as_json(c) for c in array.chunks], pa.string())
    if array.offset:  # from_arrays cannot combine a null bitmap with sliced offsets: copy
        array = pa.concat_arrays([array])
    offsets = array.offsets
    values = pc.cast(array.values, pa.string())
    if pa.types.is_floating(array.values.type):
        values = pc.if_else(pc.is_finite(array.values), values, "null")
    values = pc.fill_null(values, "null")
    lists = pa.ListArray.from_arrays(offsets, values, mask=array.is_null())
    return pc.binary_join_element_wise("[", pc.binary_join(lists, ","), "]", "")


def _is_list(t: pa.DataType) -> bool:
    return bool(pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t))


def csv_schema(schema: pa.Schema) -> pa.Schema:
    """The schema a CSV file gets: list columns become strings."""
    return pa.schema([pa.field(f.name, pa.string()) if _is_list(f.type) else f for f in schema])


def _for_csv(batch: pa.RecordBatch) -> pa.RecordBatch:
    columns = [lists_as_json(c) if _is_list(c.type) else c for c in batch.columns]
    return pa.RecordBatch.from_arrays(columns, schema=csv_schema(batch.schema))


class _FileWriter:
    """One file (a path, or an open Arrow stream) and its running byte count; subclasses encode."""

    def __init__(self, target: str | pa.NativeFile) -> None:
        self._file = pa.OSFile(target, "wb") if isinstance(target, str) else target
        self._writer: pq.ParquetWriter | pacsv.CSVWriter | None = None

    def tell(self) -> int:
        return int(self._file.tell())

    def close(self) -> None:
        assert self._writer is not None
        self._writer.close()
        if not self._file.closed and not isinstance(self._file, pa.BufferOutputStream):
            self._file.close()


class _ParquetWriter(_FileWriter):
    def __init__(self, target: str | pa.NativeFile, schema: pa.Schema) -> None:
        super().__init__(target)
        self._writer = self._parquet = pq.ParquetWriter(self._file, schema)

    def write(self, batch: pa.RecordBatch) -> None:
        self._parquet.write_batch(batch)


class _CsvWriter(_FileWriter):
    def __init__(self, target: str | pa.NativeFile, schema: pa.Schema) -> None:
        super().__init__(target)
        self._writer = self._csv = pacsv.CSVWriter(self._file, csv_schema(schema))

    def write(self, batch: pa.RecordBatch) -> None:
        self._csv.write_batch(_for_csv(batch))


def open_writer(target: str | pa.NativeFile, file_type: str, schema: pa.Schema) -> BatchWriter:
    """A writer of ``file_type`` (``csv`` or ``parquet``) for batches of ``schema``.

    ``target`` is a file path, or an open Arrow stream (e.g. a ``BufferOutputStream`` to measure
    the size an output would have).
    """
    if file_type == "parquet":
        return _ParquetWriter(target, schema)
    if file_type == "csv":
        return _CsvWriter(target, schema)
    raise ValueError(f"unknown file type {file_type!r}")


class RollingWriter(ABC):
    """One output file, or part files that roll over at the destination's target size.

    Subclasses say where a part goes: ``_open`` starts the next part and returns its writer,
    ``_close`` seals the open part and appends its :class:`OutputFile` to ``done``. Batches go in
    through ``write``; ``finish`` seals the last part (an empty output still gets one file with
    its header or schema) and returns every part written.
    """

    def __init__(self, dest: Destination, schema: pa.Schema,
                 before_first_seal: Callable[[], None] | None = None) -> None:
        self.dest, self.schema = dest, schema
        self.done: list[OutputFile] = []
        self.writer: BatchWriter | None = None
        self.rows = 0
        self.before_first_seal = before_first_seal  # e.g. withdraw the old manifest, just in time

    @abstractmethod
    def _open(self) -> BatchWriter:
        """Start part ``len(done)``; set ``self.writer`` and return it."""

    @abstractmethod
    def _close(self) -> None:
        """Seal the open part (if any) and record it in ``done``."""

    @abstractmethod
    def abort(self) -> None:
        """Drop the open part: nothing of it appears at the destination."""

    def write(self, batch: pa.RecordBatch) -> None:
        writer = self.writer or self._open()
        writer.write(batch)
        self.rows += batch.num_rows
        if self.dest.partitioned and writer.tell() >= self.dest.partition_bytes:
            self._seal()

    def _seal(self) -> None:
        if not self.done and self.before_first_seal is not None:
            self.before_first_seal()
        self._close()

    def finish(self) -> list[OutputFile]:
        if self.writer is None and not self.done:
            self._open()
        self._seal()
        return self.done

    def write_all(self, batches: Iterable[pa.RecordBatch],
                  on_batch: Callable[[pa.RecordBatch], None] | None = None) -> list[OutputFile]:
        """Write every batch (``on_batch`` sees each), then finish; on any failure, abort."""
        try:
            for batch in batches:
                self.write(batch)
                if on_batch is not None:
                    on_batch(batch)
            return self.finish()
        except BaseException:
            self.abort()
            raise
