"""A job's sample as a byte stream (CSV or Parquet), for a download over HTTP.

The request names a job id and, from fixed choices, an output type and a format; the file read is
always ``sample_<output>.parquet`` in the folder of the job *found in the database*, checked to lie
inside the workspace's jobs folder. No part of a request is ever joined into a path unchecked.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from relpredict.errors import ConfigError, NotFoundError
from relpredict.jobs.prepare import job_dir
from relpredict.service.jobs import find_job
from relpredict.sinks.formats import open_writer
from relpredict.sinks.naming import OUTPUT_TYPES
from relpredict.workspace import Workspace

__all__ = ["FORMATS", "SampleStream", "sample_stream"]

FORMATS = {"csv": "text/csv", "parquet": "application/vnd.apache.parquet"}
BATCH_ROWS = 65_536


@dataclass(frozen=True)
class SampleStream:
    """What to send: a file name for the browser, a media type, and the bytes in chunks."""

    filename: str
    media_type: str
    chunks: Iterator[bytes]


class _Pipe:
    """A write-only file whose bytes are taken out after each batch (nothing accumulates)."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.position = 0
        self.closed = False

    def write(self, data: bytes) -> int:
        self.parts.append(bytes(data))
        self.position += len(data)
        return len(data)

    def tell(self) -> int:
        return self.position

    def flush(self) -> None:
        """Nothing is buffered here."""

    def close(self) -> None:
        self.closed = True

    def drain(self) -> bytes:
        data, self.parts = b"".join(self.parts), []
        return data


def sample_stream(ws: Workspace, job_id: str, output: str | None = None,
                  file_format: str = "csv") -> SampleStream:
    """The sample of ``output`` kept by job ``job_id``, to be streamed as ``file_format``."""
    if file_format not in FORMATS:
        raise ConfigError(f"Unknown download format {file_format!r}: choose csv or parquet.")
    source, output = _sample_file(ws, job_id, output)
    return SampleStream(f"{job_id}_{output}_sample.{file_format}", FORMATS[file_format],
                        _chunks(source, file_format))


def _sample_file(ws: Workspace, job_id: str, output: str | None) -> tuple[Path, str]:
    rec = find_job(ws, job_id).record()
    output = output or rec.settings.output_types[0]
    if output not in OUTPUT_TYPES or output not in rec.settings.output_types:
        raise NotFoundError(f"Job {rec.id} has no {output} output; it wrote "
                            f"{', '.join(rec.settings.output_types)}.")
    jobs = (ws.artifacts / "jobs").resolve()
    source = (job_dir(ws, rec.id) / f"sample_{output}.parquet").resolve()
    if source.parent.parent != jobs or not source.is_file():
        raise NotFoundError(f"Job {rec.id} has no sample yet (it is {rec.status.value}); samples "
                            "are kept when a job succeeds.")
    return source, output


def _chunks(source: Path, file_format: str) -> Iterator[bytes]:
    """Convert the Parquet sample batch by batch, yielding what each batch added."""
    parquet = pq.ParquetFile(source)
    pipe = _Pipe()
    writer = open_writer(pa.PythonFile(pipe, mode="w"), file_format, parquet.schema_arrow)
    for batch in parquet.iter_batches(batch_size=BATCH_ROWS):
        writer.write(batch)
        yield pipe.drain()
    writer.close()
    yield pipe.drain()


def entity_explanation(ws: Workspace, job_id: str, entity: str) -> dict[str, Any]:
    """The explanation rows of one entity (its key as text) from the job's explanations sample:
    ``{"entity", "rows": [{rank, feature, value, contribution}], "in_sample"}``."""
    source, _ = _sample_file(ws, job_id, "explanations")
    table = pq.read_table(source)
    keys = pc.cast(table.column("ENTITY"), pa.string())
    found = table.filter(pc.equal(keys, entity.strip()))
    rows = [{"rank": r["RANK"], "feature": r["FEATURE"], "value": r["VALUE"], "contribution": r["CONTRIBUTION"]}
            for r in found.to_pylist()]
    if not rows:
        raise NotFoundError(f"No explanation of entity {entity!r} in the sample of job {job_id}: it is "
                            "not among the job's entities, or past the sample cap (the full output "
                            "is at the job's destination).")
    return {"entity": entity.strip(), "rows": rows}
