"""One copy of a GNN's graph tensors per machine: built once per job, memory-mapped by every worker.

A GNN scores through tensors of the whole graph: node times, the key index, the encoded columns
and the sampler's sorted neighbour lists (:class:`~relpredict.model.sampler.SamplerGraph`, whose
time ranks, pointers, neighbour and edge ids are int32 where they fit, as are the encoded
categorical columns). Built in every worker process they cost each
worker the same gigabytes; here the first worker of a job on a machine builds them under a file
lock and writes them to a folder, and every worker (the builder too) maps those files read-only
(``torch.from_file`` / ``numpy.load(mmap_mode="r")``), so the machine holds one copy in its page
cache whatever the number of workers.

The cache is on when ``$RELPREDICT_GRAPH_TENSORS`` names a job (job workers set it; training and
in-process calls build in memory as before). Its folder is
``<temp dir>/relpredict-graph-tensors/<job>-<fingerprint>``: the fingerprint hashes the graph's
recorded spec, the size and modification time of each file it names, and the model's encoders, so
a job never reads another graph's or another model's tensors. The tensors hold every row; the
temporal sampler hides rows after a seed's anchor time, so one copy serves every anchor. Folders
not used for a day are removed when a new one is written.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from relpredict.graph.graph import Graph
from relpredict.model.encoders import Bag, EncodedTable, GraphEncoders
from relpredict.model.graph_encoding import encode_graph
from relpredict.model.sampler import SamplerGraph, narrow
from relpredict.model.tensors import NodeIndex, graph_to_hetero

JOB_ENV = "RELPREDICT_GRAPH_TENSORS"
FOLDER = "relpredict-graph-tensors"
MAX_IDLE_SECONDS = 24 * 3600
_DONE = "meta.json"  # written last: a folder without it is incomplete

__all__ = ["GraphTensors", "JOB_ENV", "build", "graph_tensors", "prebuild"]


@dataclass
class GraphTensors:
    """A GNN's tensors of one graph (node order of :func:`graph_to_hetero`)."""

    index: NodeIndex
    times: dict[str, Tensor]
    encoded: dict[str, EncodedTable]
    sampler: SamplerGraph


def build(graph: Graph, encoders: GraphEncoders) -> GraphTensors:
    """The tensors in memory, from the graph's tables."""
    data, index = graph_to_hetero(graph)
    times = {t: data[t].time for t in data.node_types}
    return GraphTensors(index, times, encode_graph(graph, encoders), SamplerGraph.build(data))


def graph_tensors(graph: Graph, encoders: GraphEncoders, spec: dict[str, Any] | None) -> GraphTensors:
    """The tensors, memory-mapped from this machine's copy for the job in ``$RELPREDICT_GRAPH_TENSORS``
    (built first when there is none), else built in memory."""
    job = os.environ.get(JOB_ENV)
    if not job:
        return build(graph, encoders)
    folder = prebuild(graph, encoders, spec, job)
    os.utime(folder)  # in use: not idle
    return _read(folder)


def prebuild(graph: Graph, encoders: GraphEncoders, spec: dict[str, Any] | None, job: str) -> Path:
    """Write this machine's copy for ``job`` unless it exists (other processes wait); its folder.

    A job's coordinator calls it while its local workers start, so they only map the files and
    no worker holds the build's peak memory."""
    root = Path(tempfile.gettempdir()) / FOLDER
    folder = root / f"{job}-{fingerprint(spec, encoders)}"
    if not (folder / _DONE).is_file():
        root.mkdir(parents=True, exist_ok=True)
        with _locked(root / f"{folder.name}.lock"):
            if not (folder / _DONE).is_file():
                _write(folder, graph, encoders)
                _remove_idle(root, keep=folder)
    return folder


def fingerprint(spec: dict[str, Any] | None, encoders: GraphEncoders) -> str:
    """A hash of the graph's spec, the files it names (size, modification time) and the encoders."""
    files = sorted({value for value in _strings(spec) if os.path.isfile(value)})
    stats = [(f, os.stat(f).st_size, os.stat(f).st_mtime_ns) for f in files]
    text = json.dumps([spec, stats, encoders.to_dict()], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # the other workers wait for the builder
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# ----------------------------------------------------------------------------------- files
def _write(folder: Path, graph: Graph, encoders: GraphEncoders) -> None:
    """Every tensor as a raw file, keys as ``.npy``, then ``meta.json``; renamed in whole.

    Built part by part, each written and freed before the next (the builder's peak memory is
    the largest part, not their sum)."""
    tmp = folder.with_name(f".{folder.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    shapes: dict[str, Any] = {}

    def save(tensors: dict[str, Tensor]) -> None:
        shapes.update({name: _save(tmp / f"{name}.bin", value) for name, value in tensors.items()})

    data, index = graph_to_hetero(graph)
    save({f"time.{t}": data[t].time for t in data.node_types})
    for t in index.keys:
        np.save(tmp / f"keys.{t}.npy", index.keys[t])
        np.save(tmp / f"order.{t}.npy", index._order[t])
    sampler = SamplerGraph.build(data)
    del data
    save({f"sampler.{k}": v for k, v in sampler.tensors().items()})
    sampler_meta = sampler.meta()
    del sampler
    tables: dict[str, Any] = {}
    for t, enc in encode_graph(graph, encoders).items():
        # Vocabulary indices fit int32 (an Embedding reads int32 as it does int64): half the bytes.
        save({f"enc.{t}.numeric": enc.numeric, f"enc.{t}.categorical": narrow(enc.categorical)})
        for i, bag in enumerate(enc.bags):
            save({f"enc.{t}.bag{i}.ids": bag.ids, f"enc.{t}.bag{i}.offsets": bag.offsets})
        tables[t] = {"cardinalities": list(enc.cardinalities), "buckets": [b.num_buckets for b in enc.bags]}
    meta = {"tensors": shapes, "tables": tables, "index": list(index.keys), "sampler": sampler_meta}
    (tmp / _DONE).write_text(json.dumps(meta))
    shutil.rmtree(folder, ignore_errors=True)
    os.replace(tmp, folder)


def _save(path: Path, value: Tensor) -> dict[str, Any]:
    value.detach().contiguous().numpy().tofile(path)
    return {"dtype": str(value.dtype).removeprefix("torch."), "shape": list(value.shape)}


def _load(path: Path, dtype: str, shape: list[int]) -> Tensor:
    kind = getattr(torch, dtype)
    size = int(np.prod(shape)) if shape else 1
    if size == 0:
        return torch.empty(shape, dtype=kind)
    return torch.from_file(str(path), shared=False, size=size, dtype=kind).reshape(shape)


def _read(folder: Path) -> GraphTensors:
    meta = json.loads((folder / _DONE).read_text())
    tensors = {name: _load(folder / f"{name}.bin", m["dtype"], m["shape"]) for name, m in meta["tensors"].items()}
    times = {k.removeprefix("time."): v for k, v in tensors.items() if k.startswith("time.")}
    sampler = SamplerGraph.from_tensors(meta["sampler"], {k.removeprefix("sampler."): v for k, v in tensors.items()
                                                          if k.startswith("sampler.")})
    encoded = {t: EncodedTable(tensors[f"enc.{t}.numeric"], tensors[f"enc.{t}.categorical"], info["cardinalities"],
                               [Bag(tensors[f"enc.{t}.bag{i}.ids"], tensors[f"enc.{t}.bag{i}.offsets"], n)
                                for i, n in enumerate(info["buckets"])])
               for t, info in meta["tables"].items()}
    index = NodeIndex({t: np.load(folder / f"keys.{t}.npy", mmap_mode="r") for t in meta["index"]},
                      {t: np.load(folder / f"order.{t}.npy", mmap_mode="r") for t in meta["index"]})
    return GraphTensors(index, times, encoded, sampler)


def _remove_idle(root: Path, keep: Path) -> None:
    """Remove other jobs' folders not used for :data:`MAX_IDLE_SECONDS`."""
    cutoff = time.time() - MAX_IDLE_SECONDS
    for folder in root.iterdir():
        with contextlib.suppress(OSError):
            if folder != keep and folder.is_dir() and folder.stat().st_mtime < cutoff:
                shutil.rmtree(folder, ignore_errors=True)
                (root / f"{folder.name}.lock").unlink(missing_ok=True)
