"""A full disk or a refused write names the file and says what to do (not a bare OSError)."""

from __future__ import annotations

import errno
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from relpredict.errors import RelpredictError
from relpredict.jobs import JobStatus
from relpredict.jobs import store as job_store
from relpredict.jobs.worker import describe, describe_os_error
from tests.conftest import Store


@pytest.fixture()
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 128 KiB tmpfs: writes beyond it fail with a real ENOSPC (needs the right to mount)."""
    folder = tmp_path / "tiny"
    folder.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=128k", "tmpfs", str(folder)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {done.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=False)


@pytest.mark.slow  # mounts a file system; runs a whole job
def test_a_full_disk_fails_the_job_naming_the_file_and_saying_free_space(
        tiny_disk: Path, store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(OSError) as arrow_error:  # pyarrow's own OSError text
        pq.write_table(pa.table({"a": list(range(200_000))}), str(tiny_disk / "big.parquet"))
    assert "the disk is full (errno ENOSPC)" in describe(arrow_error.value)
    (tiny_disk / "big.parquet").unlink(missing_ok=True)
    (tiny_disk / "filler").write_bytes(b"x" * 120 * 1024)  # leave too little for the job's shards
    wf = store.workflow("binary", name="wf")
    with pytest.raises(RelpredictError, match="ENOSPC"):
        wf.run(workers=1, shard_size=20, output=str(tiny_disk / "p.parquet"))
    (rec,) = job_store.list_jobs(store.ws)
    assert rec.status is JobStatus.FAILED and rec.error is not None
    assert "the disk is full (errno ENOSPC)" in rec.error and "Free space on that disk" in rec.error
    assert str(tiny_disk) in rec.error and "Traceback" not in rec.error, rec.error


def test_a_refused_write_names_the_file_and_says_make_it_writable(tmp_path: Path) -> None:
    err = PermissionError(errno.EACCES, "Permission denied", str(tmp_path / "out" / "p.parquet"))
    text = describe(err)
    assert text.startswith(f"Cannot write {tmp_path / 'out' / 'p.parquet'}: permission denied (errno EACCES)")
    assert "writable" in text
    assert describe_os_error(OSError(errno.EROFS, "Read-only file system", "/mnt/x")).startswith(
        "Cannot write /mnt/x: the file system is read-only")


def test_other_os_errors_keep_their_own_text() -> None:
    assert describe_os_error(FileNotFoundError(errno.ENOENT, "No such file", "/x")) is None
    assert describe(ValueError("bad")) == "ValueError: bad"
