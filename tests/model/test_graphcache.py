"""One copy of a GNN's graph tensors per machine: written once, memory-mapped, same predictions."""

from __future__ import annotations

import tempfile
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pytest
import torch

from relpredict.graph.yaml_io import load_graph
from relpredict.model import graphcache
from relpredict.model.fit import TrainOptions, train_model
from relpredict.model.gnn_config import GNNConfig
from tests.conftest import QUERIES

pytestmark = pytest.mark.slow  # trains a (tiny) GNN

SMALL = GNNConfig(channels=8, fanout=(4, 2), max_epochs=1, batch_size=64, max_steps_per_epoch=2)


def test_mapped_tensors_predict_what_built_ones_do(graph_yaml: Path, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    graph = load_graph(graph_yaml)
    model = train_model(graph, QUERIES["link"], TrainOptions(kind="gnn", gnn=SMALL, max_eval=2))
    entities, anchor = pa.array(list(range(1, 61)), pa.int64()), datetime(2024, 4, 1)
    built = model.predict(graph, anchor, entities)  # in memory: no job named

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setenv(graphcache.JOB_ENV, "j1")
    mapped_graph = load_graph(graph_yaml)  # a new graph object: the model builds its runtime anew
    assert model.predict(mapped_graph, anchor, entities).equals(built)
    [folder] = [p for p in (tmp_path / graphcache.FOLDER).glob("j1-*") if p.is_dir()]
    assert (folder / "meta.json").is_file()
    maps = Path("/proc/self/maps").read_text()
    assert str(folder) in maps  # the tensors are memory-mapped from the job's files, not copied

    rt = model.runtime(mapped_graph)
    csc = next(iter(rt.trainer.sampler.csc.values()))
    assert {getattr(csc, f).dtype for f in ("rank", "ptr", "nbr", "eid")} == {torch.int32}  # half of int64's bytes
    assert all(t.categorical.dtype == torch.int32 for t in rt.trainer.model.encoded.values()
               if t.categorical.numel())

    def no_build(*args: object) -> None:
        raise AssertionError("a second worker must map the files, not build them again")

    monkeypatch.setattr(graphcache, "_write", no_build)  # what another worker of the job does
    monkeypatch.setattr(graphcache, "build", no_build)
    again = graphcache.graph_tensors(mapped_graph, model.gnn.encoders, model.info.get("graph"))
    assert again.sampler.times.equal(rt.trainer.sampler.times)
    assert model.predict(load_graph(graph_yaml), anchor, entities).equals(built)
    graph.close()
    mapped_graph.close()
