"""A local worker process: takes the next shard from the runner's queue until none is left.

Started by the runner with the ``spawn`` start method (a fresh interpreter: no inherited DuckDB
connections or torch thread pools). It loads the graph and the model itself (once), writes each
shard straight to the destination's staging area, and counts it in the workspace database.
Workers pull their work: a slow worker takes fewer shards, a fast one more, so no worker holds
the job with a fixed list. Between shards it stops when the job is cancelled or when its runner
has died (its parent pid changed), so an orphaned worker never keeps writing after a ``kill -9``
of the runner.
"""

from __future__ import annotations

import errno
import os
import queue
import re
import shutil
import sys
import tempfile
import traceback
from pathlib import Path
from typing import Any

from relpredict.errors import RelpredictError
from relpredict.jobs import store
from relpredict.jobs.shards import Shard, run_shard
from relpredict.workspace import Workspace

__all__ = ["GRAPH_TENSORS_ENV", "WORKER_THREADS_ENV", "drop_graph_tensors", "threads_per_worker", "worker_main"]

GRAPH_TENSORS_ENV = "RELPREDICT_GRAPH_TENSORS"  # relpredict.model.graphcache.JOB_ENV (no torch here)
WORKER_THREADS_ENV = "RELPREDICT_WORKER_THREADS"


def threads_per_worker(workers: int) -> int:
    """The cores this process may use (its CPU affinity), shared evenly by ``workers`` local
    workers: one worker on 2 cores scores with 2 threads, two workers with 1 each, never more
    threads than cores in all."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, cores // max(1, workers))


def worker_main(index: int, shards: Any, parent_pid: int, home: str, job_id: str, threads: int = 1) -> None:
    """Entry point of worker ``index``: takes :class:`Shard` objects from the queue ``shards``
    until it reads ``None`` (or finds it empty); exits 0 when done, cancelled or orphaned, else 1.

    ``threads`` is this worker's share of the machine's cores (:func:`threads_per_worker`): the
    OpenMP threads of LightGBM's predictions and torch's intra-op threads, both set before the
    model imports them."""
    os.environ["OMP_NUM_THREADS"] = str(threads)  # read by LightGBM and torch when first imported
    os.environ[WORKER_THREADS_ENV] = str(threads)  # relpredict.jobs.shards.limit_torch_threads
    os.environ[GRAPH_TENSORS_ENV] = job_id  # the GNN maps one copy of its graph per machine
    ws = Workspace.open(home)
    store.worker_started(ws, job_id, index, os.getpid())
    try:
        while os.getppid() == parent_pid and not store.cancel_requested(ws, job_id):
            shard = _next(shards)
            if shard is None:
                return
            store.worker_took(ws, job_id, index, len(shard.entities))
            info = run_shard(shard)
            store.shard_finished(ws, job_id, index, shard.number, info["entities"], info["seconds"])
    except BaseException as err:  # report anything, then exit non-zero for the runner to see
        store.worker_failed(ws, job_id, index, describe(err))
        sys.exit(1)


def _next(shards: Any) -> Shard | None:
    """The next shard of the queue; ``None`` at its end (the runner puts one per worker)."""
    try:
        shard: Shard | None = shards.get(timeout=60)
    except queue.Empty:  # every shard and end mark was put before the workers started
        return None
    return shard


def drop_graph_tensors(job_id: str) -> None:
    """Remove this machine's memory-mapped graph tensors of a job (its workers are done)."""
    root = Path(tempfile.gettempdir()) / "relpredict-graph-tensors"  # see relpredict.model.graphcache
    for path in root.glob(f"{job_id}-*"):
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


def describe(err: BaseException) -> str:
    """A user's message for our errors and for a full disk or a refused write (what to do); type,
    message and the innermost frame for the rest."""
    if isinstance(err, RelpredictError):
        return str(err)
    told = describe_os_error(err)
    if told is not None:
        return told
    frames = traceback.extract_tb(err.__traceback__)
    where = f" (at {frames[-1].filename}:{frames[-1].lineno})" if frames else ""
    return f"{type(err).__name__}: {err}{where}"


_FULL = {errno.ENOSPC: "the disk is full", errno.EDQUOT: "the disk quota is used up"}
_REFUSED = {errno.EACCES: "permission denied", errno.EPERM: "the operation is not permitted",
            errno.EROFS: "the file system is read-only"}
_DETAIL = re.compile(r"\[errno (\d+)\]", re.IGNORECASE)  # pyarrow's "Detail: [errno 28] ..."


def describe_os_error(err: BaseException) -> str | None:
    """What to do about a full disk or a refused write, naming the file (or ``None`` for any
    other error). Python's and pyarrow's OSErrors both count; the innermost frame names the spot
    when the error carries no file name."""
    if not isinstance(err, OSError):
        return None
    code = err.errno
    match = _DETAIL.search(str(err))
    if match and code not in _FULL and code not in _REFUSED:
        code = int(match.group(1))
    if code not in _FULL and code not in _REFUSED:
        return None
    frames = traceback.extract_tb(err.__traceback__)
    where = (f"{err.filename}" if err.filename else
             f"a file (written at {frames[-1].filename}:{frames[-1].lineno})" if frames else "a file")
    if code in _FULL:
        return (f"Cannot write {where}: {_FULL[code]} (errno {errno.errorcode[code]}). Free space "
                "on that disk, or write the output (--output) or the workspace (--home) to another "
                "one.")
    return (f"Cannot write {where}: {_REFUSED[code]} (errno {errno.errorcode[code]}). Make the "
            "folder writable by the user running relpredict, or write the output (--output) or "
            "the workspace (--home) elsewhere.")
