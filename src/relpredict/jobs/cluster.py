"""A job's shards as tasks on a Dask cluster: the coordinator's side (``job run --dask``).

The runner keeps everything it keeps for local workers (the entity list, done markers, progress,
ETA, cancel, resume, publishing); only the scoring moves. Each pending shard becomes one task with
a stable key (``relpredict-<job>-shard-<n>``) and retries; the task stages its rows at the
destination itself and returns only its counts (:func:`relpredict.jobs.remote.run_remote_shard`).
The model travels through Dask: packed once, scattered once, unpacked on each worker.

``local`` starts a ``LocalCluster`` of ``workers`` processes on 127.0.0.1 for the job; any other
address is an existing scheduler. Dask is imported only here, so a plain ``job run`` works
without it installed.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from typing import Any

from relpredict.errors import ConfigError, RelpredictError
from relpredict.jobs import store
from relpredict.jobs.remote import ModelPack, run_remote_shard
from relpredict.jobs.shards import Shard
from relpredict.jobs.worker import describe, drop_graph_tensors
from relpredict.workspace import Workspace

POLL_SECONDS = 0.1
CONNECT_SECONDS = 10
RETRIES = 2  # a task that raises runs up to twice more; a worker lost mid-task is retried by Dask

__all__ = ["DaskRun", "connect"]


def _distributed() -> Any:
    try:
        import distributed
    except ImportError:
        raise ConfigError("--dask needs Dask distributed: pip install 'relpredict[dask]' (or "
                          "run the job without --dask on local worker processes).") from None
    return distributed


def connect(address: str, workers: int) -> tuple[Any, Any]:
    """A client of the scheduler at ``address`` (and the cluster it started, for ``local``)."""
    distributed = _distributed()
    cluster = None
    try:
        if address == "local":
            cluster = distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                               host="127.0.0.1", dashboard_address=None,
                                               silence_logs=logging.ERROR)
            return distributed.Client(cluster), cluster
        return distributed.Client(address, timeout=CONNECT_SECONDS), None
    except (OSError, TimeoutError) as err:
        if cluster is not None:
            cluster.close()
        raise ConfigError(f"Cannot reach the Dask scheduler {address} ({type(err).__name__}: {err}). "
                          "Start it (`dask scheduler`) and at least one worker (`dask worker "
                          f"{address}`), or give another address with --dask.") from None


class DaskRun:
    """Score ``pending`` shards of job ``job_id`` on the cluster at ``address``."""

    def __init__(self, ws: Workspace, job_id: str, address: str, workers: int,
                 report: Callable[[], None]) -> None:
        self.ws, self.job_id, self.address, self.workers, self.report = ws, job_id, address, workers, report
        self.indices: dict[str, int] = {}  # Dask worker address -> progress row

    def run(self, pending: list[Shard], pack: ModelPack) -> bool:
        """True when every shard is done, False when the job was cancelled; raises on failure."""
        store.reset_workers(self.ws, self.job_id, {})
        client, cluster = connect(self.address, self.workers)
        try:
            return self._run(client, pending, pack)
        finally:
            if client.status == "running":  # else the workers remove them when idle (a day)
                with contextlib.suppress(Exception):
                    client.run(drop_graph_tensors, self.job_id)
            _close(client, cluster)

    def _run(self, client: Any, pending: list[Shard], pack: ModelPack) -> bool:
        distributed = _distributed()
        [blob] = client.scatter([pack], hash=False)
        futures = {client.submit(run_remote_shard, shard, blob, key=self.key(shard), retries=RETRIES,
                                 pure=False): shard for shard in pending}
        while futures:
            if store.cancel_requested(self.ws, self.job_id):
                client.cancel(list(futures))
                return False
            try:
                done, _ = distributed.wait(list(futures), timeout=POLL_SECONDS, return_when="FIRST_COMPLETED")
            except (TimeoutError, distributed.TimeoutError):
                done = set()
            except Exception:  # FuturesCancelledError and the like: told below
                done = {f for f in futures if f.done()}
            for future in done:
                self._finished(client, future, futures.pop(future))
            self.report()
        return True

    def key(self, shard: Shard) -> str:
        return f"relpredict-{self.job_id}-shard-{shard.number:05d}"

    def _finished(self, client: Any, future: Any, shard: Shard) -> None:
        if future.status == "finished":
            self._count(future.result())
            return
        if future.status == "cancelled" and client.status != "running":
            raise RelpredictError(f"The Dask scheduler {self.address} stopped answering while job "
                                  f"{self.job_id} ran (shard {shard.number} and the rest were lost). "
                                  "Finished shards are kept: start the scheduler and its workers "
                                  f"again, then run `relpredict job resume {self.job_id}`.")
        why = describe(future.exception()) if future.status == "error" else f"the task was {future.status}"
        raise RelpredictError(f"Shard {shard.number} of job {self.job_id} failed on the Dask cluster "
                              f"{self.address} after {RETRIES + 1} tries: {why}. Finished shards are "
                              f"kept: fix the cause and run `relpredict job resume {self.job_id}`.")

    def _count(self, info: dict[str, Any]) -> None:
        worker = self.indices.setdefault(str(info["worker"]), len(self.indices))
        store.add_worker(self.ws, self.job_id, worker, info.get("pid"))
        store.worker_took(self.ws, self.job_id, worker, info["entities"])
        store.shard_finished(self.ws, self.job_id, worker, info["shard"], info["entities"], info["seconds"])


def _close(client: Any, cluster: Any) -> None:
    try:
        client.close(timeout=5)
    except Exception:  # a scheduler that is gone cannot be told goodbye
        pass
    if cluster is not None:
        cluster.close(timeout=10)
