"""Local files every sink uses: atomic writes, the staging folder of shards, JSON manifests.

Every file is written under a hidden temporary name in its final folder and moved into place
with ``os.replace``, which is atomic on POSIX: a reader sees the old file, the whole new file,
or nothing. A staging folder holds one Parquet file per shard and output, and a done marker per
shard::

    <folder>/predictions/shard_00003.parquet
    <folder>/done/shard_00003.json          ← the shard's done marker

Local outputs stage beside the destination; Snowflake and BigQuery stage in the job's workspace
folder (workers never connect to a warehouse).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

__all__ = ["JsonManifest", "LocalStaging", "atomic_write_bytes", "fsync_folder", "shard_file_name", "tmp_name"]


def shard_file_name(shard: int) -> str:
    """``shard_00042``: zero-padded so that a sort lists shards in order."""
    return f"shard_{shard:05d}"


def tmp_name(path: Path) -> Path:
    """The hidden temporary name ``path`` is written under before its rename (one per process)."""
    return path.with_name(f".{path.name}.tmp-{os.getpid()}")


@contextmanager
def writing(path: Path | str) -> Iterator[None]:
    """Run a write of ``path``: an OSError that names no file (pyarrow's never do) is raised again
    naming ``path``, so a full disk or a refused write says where."""
    try:
        yield
    except OSError as err:
        if err.filename:
            raise
        raise OSError(err.errno, err.strerror or str(err), str(path)) from err


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file, fsync, then ``os.replace``."""
    with writing(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = tmp_name(path)
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)


class LocalStaging:
    """A :class:`~relpredict.sinks.base.Staging` in a local folder (see the module docstring)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def shard_path(self, shard: int, output: str) -> Path:
        return self.folder / output / f"{shard_file_name(shard)}.parquet"

    def _marker(self, shard: int) -> Path:
        return self.folder / "done" / f"{shard_file_name(shard)}.json"

    def write_shard(self, shard: int, output: str, table: pa.Table) -> None:
        path = self.shard_path(shard, output)
        with writing(path):
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = tmp_name(path)
            pq.write_table(table, tmp)
            os.replace(tmp, path)

    def mark_done(self, shard: int, info: dict[str, Any]) -> None:
        atomic_write_bytes(self._marker(shard), json.dumps(info).encode())

    def done_shards(self) -> dict[int, dict[str, Any]]:
        folder = self.folder / "done"
        if not folder.is_dir():
            return {}
        return {int(marker.stem.split("_")[1]): json.loads(marker.read_text())
                for marker in sorted(folder.glob("shard_*.json"))}

    def read_shard(self, shard: int, output: str, columns: list[str] | None = None,
                   ) -> Iterator[pa.RecordBatch]:
        parquet = pq.ParquetFile(self.shard_path(shard, output))
        yield from parquet.iter_batches(batch_size=65_536, columns=columns)

    def shard_schema(self, shard: int, output: str) -> pa.Schema:
        return pq.read_schema(self.shard_path(shard, output))

    def discard(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


class JsonManifest:
    """A job's manifest as a local JSON file, written atomically (last of all)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def write(self, manifest: dict[str, Any]) -> str:
        atomic_write_bytes(self.path, json.dumps(manifest, indent=2, default=str).encode())
        return str(self.path)

    def read(self) -> dict[str, Any] | None:
        return json.loads(self.path.read_text()) if self.path.is_file() else None

    def withdraw(self) -> None:
        """Delete the manifest (if any) and make the deletion durable before anything else changes."""
        if not self.path.exists():
            return
        self.path.unlink(missing_ok=True)
        fsync_folder(self.path.parent)


def fsync_folder(folder: Path) -> None:
    """Make the entries of ``folder`` (a rename, a deletion) durable, where the OS allows it."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
