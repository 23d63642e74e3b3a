"""Local files: CSV or Parquet, one file or a folder of ``part_NNN`` files of a target size.

Staging lives beside the destination, in a hidden folder named after the job
(``.relpredict-staging-<job id>/``), so a final rename never crosses file systems::

    out/.relpredict-staging-<job>/predictions/shard_00003.parquet
    out/.relpredict-staging-<job>/done/shard_00003.json          ← the shard's done marker

Every file is written under a hidden temporary name in its final folder and moved into place
with ``os.replace``, which is atomic on POSIX: a reader sees the old file, the whole new file,
or nothing.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from relpredict.errors import ConfigError
from relpredict.sinks.base import JobSink, OutputFile, SinkSpec
from relpredict.sinks.formats import BatchWriter, RollingWriter, open_writer
from relpredict.sinks.naming import Destination

__all__ = ["LocalSink", "atomic_write_bytes", "shard_file_name"]


def shard_file_name(shard: int) -> str:
    """``shard_00042``: zero-padded so that a sort lists shards in order."""
    return f"shard_{shard:05d}"


def _tmp_name(path: Path) -> Path:
    return path.with_name(f".{path.name}.tmp-{os.getpid()}")


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file, fsync, then ``os.replace``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp_name(path)
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


class LocalSink(JobSink):
    """A job's outputs as local CSV or Parquet files (see the module docstring)."""

    def __init__(self, spec: SinkSpec) -> None:
        super().__init__(spec)
        root = Path(spec.destination.folder)
        if spec.destination.partitioned:
            root = root.parent
        self.staging = root / f".relpredict-staging-{spec.job_id}"

    # ----------------------------------------------------------------- staging
    def _shard_path(self, shard: int, output: str) -> Path:
        return self.staging / output / f"{shard_file_name(shard)}.parquet"

    def _marker(self, shard: int) -> Path:
        return self.staging / "done" / f"{shard_file_name(shard)}.json"

    def write_shard(self, shard: int, output: str, table: pa.Table) -> None:
        path = self._shard_path(shard, output)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = _tmp_name(path)
        pq.write_table(table, tmp)
        os.replace(tmp, path)

    def mark_done(self, shard: int, info: dict[str, Any]) -> None:
        atomic_write_bytes(self._marker(shard), json.dumps(info).encode())

    def done_shards(self) -> dict[int, dict[str, Any]]:
        folder = self.staging / "done"
        if not folder.is_dir():
            return {}
        out = {}
        for marker in sorted(folder.glob("shard_*.json")):
            out[int(marker.stem.split("_")[1])] = json.loads(marker.read_text())
        return out

    def read_shard(self, shard: int, output: str, columns: list[str] | None = None,
                   ) -> Iterator[pa.RecordBatch]:
        parquet = pq.ParquetFile(self._shard_path(shard, output))
        yield from parquet.iter_batches(batch_size=65_536, columns=columns)

    def shard_schema(self, shard: int, output: str) -> pa.Schema:
        """The schema of a staged shard (all shards of an output share it)."""
        return pq.read_schema(self._shard_path(shard, output))

    # ----------------------------------------------------------------- publishing
    def publish(self, output: str, schema: pa.Schema, batches: Iterable[pa.RecordBatch],
                on_batch: Callable[[pa.RecordBatch], None] | None = None) -> list[OutputFile]:
        dest = self.spec.targets()[output]
        _check_not_a_folder(dest)
        files = _RollingFiles(dest, schema)
        try:
            for batch in batches:
                files.write(batch)
                if on_batch is not None:
                    on_batch(batch)
            return files.finish()
        except BaseException:
            files.abort()
            raise

    def _manifest_path(self) -> Path:
        return Path(self.spec.destination.manifest_path())

    def write_manifest(self, manifest: dict[str, Any]) -> str:
        path = self._manifest_path()
        atomic_write_bytes(path, json.dumps(manifest, indent=2, default=str).encode())
        return str(path)

    def read_manifest(self) -> dict[str, Any] | None:
        path = self._manifest_path()
        return json.loads(path.read_text()) if path.is_file() else None

    def discard_staging(self) -> None:
        shutil.rmtree(self.staging, ignore_errors=True)


def _check_not_a_folder(dest: Destination) -> None:
    if not dest.partitioned and Path(dest.path).is_dir():
        raise ConfigError(f"The destination {dest.path} is a folder: give a file name, e.g. "
                          f"{dest.path}/predictions.{dest.file_type}.")


class _RollingFiles(RollingWriter):
    """Local files: each part is written under a temporary name and renamed when sealed."""

    def __init__(self, dest: Destination, schema: pa.Schema) -> None:
        super().__init__(dest, schema)
        Path(dest.file_for_part(0)).parent.mkdir(parents=True, exist_ok=True)

    def _open(self) -> BatchWriter:
        path = Path(self.dest.file_for_part(len(self.done)))
        self.writer = open_writer(str(_tmp_name(path)), self.dest.file_type, self.schema)
        self.rows = 0
        return self.writer

    def _close(self) -> None:
        if self.writer is None:
            return
        self.writer.close()
        path = Path(self.dest.file_for_part(len(self.done)))
        tmp = _tmp_name(path)
        os.replace(tmp, path)
        self.done.append(OutputFile(str(path), self.rows, path.stat().st_size))
        self.writer = None

    def finish(self) -> list[OutputFile]:
        done = super().finish()
        if self.dest.partitioned:
            _remove_stale_parts(self.dest, len(done))
        return done

    def abort(self) -> None:
        if self.writer is not None:
            with contextlib.suppress(Exception):
                self.writer.close()
            path = Path(self.dest.file_for_part(len(self.done)))
            _tmp_name(path).unlink(missing_ok=True)
            self.writer = None


def _remove_stale_parts(dest: Destination, count: int) -> None:
    """Delete ``part_NNN`` files beyond this output's ``count`` parts (left by an earlier run)."""
    folder = Path(dest.folder)
    for path in folder.glob(f"part_*{dest.extension}"):
        number = path.stem.removeprefix("part_")
        if number.isdigit() and int(number) >= count:
            path.unlink(missing_ok=True)
