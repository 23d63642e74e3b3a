"""Local files: CSV or Parquet, one file or a folder of ``part_NNN`` files of a target size.

Staging (:class:`~relpredict.sinks.localfs.LocalStaging`) lives beside the destination, in a hidden
folder named after the job (``.relpredict-staging-<job id>/``), so a final rename never crosses
file systems::

    out/.relpredict-staging-<job>/predictions/shard_00003.parquet
    out/.relpredict-staging-<job>/done/shard_00003.json          ← the shard's done marker

Every file is written under a hidden temporary name in its final folder and moved into place
with ``os.replace``, which is atomic on POSIX: a reader sees the old file, the whole new file,
or nothing.

Publishing, as the S3 sink does it: (1) withdraw the destination's manifest (durably, before any
output file changes), (2) write each output's files under temporary names and rename them in,
(3) delete part files an earlier run left beyond this run's count, (4) write the manifest last.
A crash anywhere before (4) leaves no manifest, so a mix of two jobs' files (one job's predictions
beside another's embeddings, old parts beside new ones) is never presented as a complete output;
``job resume`` repeats the publish and writes the manifest.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pyarrow as pa

from relpredict.errors import ConfigError
from relpredict.sinks.base import JobSink, OutputFile, SinkSpec
from relpredict.sinks.formats import BatchWriter, RollingWriter, open_writer
from relpredict.sinks.localfs import JsonManifest, LocalStaging, tmp_name, writing
from relpredict.sinks.naming import Destination, as_files

__all__ = ["LocalSink"]


class LocalSink(JobSink):
    """A job's outputs as local CSV or Parquet files (see the module docstring)."""

    def __init__(self, spec: SinkSpec) -> None:
        files = as_files(spec.destination)
        root = Path(files.folder)
        if files.partitioned:
            root = root.parent
        super().__init__(spec, LocalStaging(root / f".relpredict-staging-{spec.job_id}"))
        self.manifest = JsonManifest(Path(files.manifest_path()))

    def publish(self, output: str, schema: pa.Schema, batches: Iterable[pa.RecordBatch],
                on_batch: Callable[[pa.RecordBatch], None] | None = None) -> list[OutputFile]:
        dest = as_files(self.spec.target(output))
        _check_not_a_folder(dest)
        # Step 1: the old promise goes before any file changes: at once for part files (sealed
        # one by one), else just before the one file replaces the old one.
        if dest.partitioned:
            self.manifest.withdraw()
        with writing(dest.path):
            return _RollingFiles(dest, schema, None if dest.partitioned else self.manifest.withdraw
                                 ).write_all(batches, on_batch)

    @property
    def streams(self) -> bool:
        """One file per output: written under a temporary name, renamed when complete."""
        return not as_files(self.spec.destination).partitioned

    def write_manifest(self, manifest: dict[str, Any]) -> str:
        return self.manifest.write(manifest)

    def read_manifest(self) -> dict[str, Any] | None:
        return self.manifest.read()


def _check_not_a_folder(dest: Destination) -> None:
    if not dest.partitioned and Path(dest.path).is_dir():
        raise ConfigError(f"The destination {dest.path} is a folder: give a file name, e.g. "
                          f"{dest.path}/predictions.{dest.file_type}.")


class _RollingFiles(RollingWriter):
    """Local files: each part is written under a temporary name and renamed when sealed."""

    def __init__(self, dest: Destination, schema: pa.Schema,
                 before_first_seal: Callable[[], None] | None = None) -> None:
        super().__init__(dest, schema, before_first_seal)
        Path(dest.file_for_part(0)).parent.mkdir(parents=True, exist_ok=True)

    def _open(self) -> BatchWriter:
        path = Path(self.dest.file_for_part(len(self.done)))
        self.writer = open_writer(str(tmp_name(path)), self.dest.file_type, self.schema)
        self.rows = 0
        return self.writer

    def _close(self) -> None:
        if self.writer is None:
            return
        self.writer.close()
        path = Path(self.dest.file_for_part(len(self.done)))
        tmp = tmp_name(path)
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
            tmp_name(path).unlink(missing_ok=True)
            self.writer = None


def _remove_stale_parts(dest: Destination, count: int) -> None:
    """Delete ``part_NNN`` files beyond this output's ``count`` parts (left by an earlier run)."""
    folder = Path(dest.folder)
    for path in folder.glob(f"part_*{dest.extension}"):
        number = path.stem.removeprefix("part_")
        if number.isdigit() and int(number) >= count:
            path.unlink(missing_ok=True)
