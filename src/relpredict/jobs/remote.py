"""The Dask worker's side of a job: the model travels as bytes, is unpacked once, scores shards.

A Dask worker may run on a machine without the workspace, so the coordinator packs the job's
model (:func:`pack_model`: its row of the workspace's ``models`` table plus its artifact folder
as a tar archive) and scatters the bytes through Dask once. On the worker, the first shard of a
job unpacks them into a temporary folder laid out as a workspace of that one model and loads it
with the job's loader (:func:`remote_context`); later shards of the job in that process reuse the
model and its graph. The graph's tables are read from where the model's graph says (an S3 or
warehouse source, or a path every worker sees); the shard's rows go to the destination's staging
area, and the task returns only the done marker's counts.

Imports no Dask at module level: :func:`run_remote_shard` runs inside a Dask worker, where
``distributed`` is installed anyway.
"""

from __future__ import annotations

import atexit
import io
import os
import shutil
import tarfile
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from relpredict.errors import ConfigError
from relpredict.graph.graph import Graph
from relpredict.jobs.shards import Shard, limit_torch_threads, resolve_loader, run_shard
from relpredict.jobs.sources import remote_sources
from relpredict.jobs.worker import GRAPH_TENSORS_ENV
from relpredict.workspace import Workspace

__all__ = ["ModelPack", "pack_model", "remote_context", "run_remote_shard"]


@dataclass(frozen=True)
class ModelPack:
    """A model as plain bytes: its ``models`` row and its artifact folder (tar, uncompressed)."""

    ref: str
    loader: str
    row: dict[str, Any]
    archive: bytes


def pack_model(ws: Workspace, ref: str, loader: str) -> ModelPack:
    """Pack model ``NAME@VERSION`` of ``ws`` for workers that cannot see the workspace."""
    name, _, version = ref.partition("@")
    with ws.db() as con:
        row = con.execute("SELECT * FROM models WHERE name = ? AND version = ?",
                          (name, int(version) if version.isdigit() else -1)).fetchone()
    if row is None:
        raise ConfigError(f"The model {ref} of this job is not in the workspace {ws.home} any more; "
                          "it cannot be sent to the Dask workers. Start a new job of a model that exists.")
    folder = ws.artifacts / row["path"]
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        if folder.is_dir():
            tar.add(folder, arcname=".")
    return ModelPack(ref, loader, dict(row), buffer.getvalue())


def _unpack(pack: ModelPack, home: Path) -> Workspace:
    """A workspace in ``home`` holding only the packed model, at its recorded path."""
    ws = Workspace.open(home)
    target = ws.artifacts / pack.row["path"]
    target.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(pack.archive), mode="r") as tar:
        tar.extractall(target, filter="data")  # refuses absolute paths and '..'
    with ws.db() as con:
        cols = ", ".join(pack.row)
        con.execute(f"INSERT OR REPLACE INTO models ({cols}) VALUES ({', '.join('?' * len(pack.row))})",
                    tuple(pack.row.values()))
    return ws


@dataclass
class _Loaded:
    job_id: str
    model: Any
    graph: Any
    folder: Path

    def close(self) -> None:
        """Close the graph's connection and remove the unpacked model."""
        getattr(self.graph, "close", lambda: None)()
        shutil.rmtree(self.folder, ignore_errors=True)


_LOADED: dict[str, _Loaded] = {}
_LOCK = threading.Lock()  # one shard at a time per process: the model's caches are not thread-safe


def remote_context(job_id: str, pack: ModelPack, home: str | None = None) -> tuple[Any, Any]:
    """The job's model and graph in this process: unpacked and loaded by the job's first shard
    here, reused by its later ones; a new job frees the previous one's first. Connector tables
    are read from the copies the job fetched into its workspace ``home`` (which the worker must
    see, as it must the staging of a local destination), never from the source."""
    loaded = _LOADED.get(job_id)
    if loaded is None:
        for old in _LOADED.values():
            old.close()
        _LOADED.clear()
        folder = Path(tempfile.mkdtemp(prefix=f"relpredict-{job_id}-"))
        ws = _unpack(pack, folder / "workspace")
        model = resolve_loader(pack.loader)(ws, pack.ref)
        limit_torch_threads()
        graph = model.load_graph()
        if home is not None and isinstance(graph, Graph):
            graph.sources = remote_sources(ws, home, job_id)
        loaded = _LOADED[job_id] = _Loaded(job_id, model, graph, folder)
    return loaded.model, loaded.graph


@atexit.register
def _cleanup() -> None:
    for loaded in _LOADED.values():
        loaded.close()


def run_remote_shard(shard: Shard, pack: ModelPack) -> dict[str, Any]:
    """The Dask task of one shard: stage its outputs, mark it done, return the marker's info
    with the worker's address and pid (the coordinator counts it in the workspace)."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ[GRAPH_TENSORS_ENV] = shard.job_id  # one copy of a GNN's graph tensors per machine
    with _LOCK:
        info = run_shard(shard, remote_context(shard.job_id, pack, shard.home))
    return {**info, "worker": _worker_address(), "pid": os.getpid()}


def _worker_address() -> str:
    try:
        from distributed import get_worker

        return str(get_worker().address)
    except (ImportError, ValueError):  # not inside a Dask worker (a direct call)
        return f"pid {os.getpid()}"
