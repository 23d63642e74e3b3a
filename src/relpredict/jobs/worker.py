"""A local worker process: runs its shards one after another and reports progress.

Started by the runner with the ``spawn`` start method (a fresh interpreter: no inherited DuckDB
connections or torch thread pools). It loads the graph and the model itself, writes each shard
straight to the destination's staging area, and counts it in the workspace database. Between
shards it stops when the job is cancelled or when its runner has died (its parent pid changed),
so an orphaned worker never keeps writing after a ``kill -9`` of the runner.
"""

from __future__ import annotations

import os
import sys
import traceback

from relpredict.errors import RelpredictError
from relpredict.jobs import store
from relpredict.jobs.shards import Shard, run_shard
from relpredict.workspace import Workspace

__all__ = ["worker_main"]


def worker_main(index: int, shards: list[Shard], parent_pid: int) -> None:
    """Entry point of worker ``index``: exits 0 when done, cancelled or orphaned, else 1."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # read by torch when the model imports it
    if not shards:
        return
    ws = Workspace.open(shards[0].home)
    job_id = shards[0].job_id
    store.worker_started(ws, job_id, index, os.getpid())
    try:
        for shard in shards:
            if os.getppid() != parent_pid or store.cancel_requested(ws, job_id):
                return
            info = run_shard(shard)
            store.shard_finished(ws, job_id, index, shard.number, info["entities"], info["seconds"])
    except BaseException as err:  # report anything, then exit non-zero for the runner to see
        store.worker_failed(ws, job_id, index, describe(err))
        sys.exit(1)


def describe(err: BaseException) -> str:
    """A user's message for our errors; type, message and the innermost frame for the rest."""
    if isinstance(err, RelpredictError):
        return str(err)
    frames = traceback.extract_tb(err.__traceback__)
    where = f" (at {frames[-1].filename}:{frames[-1].lineno})" if frames else ""
    return f"{type(err).__name__}: {err}{where}"
