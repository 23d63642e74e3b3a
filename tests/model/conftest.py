"""Shared by the model tests: a small demo store (400 customers, seed 1) and its graph."""

from __future__ import annotations

from pathlib import Path

import pytest

from relpredict.demo.generator import generate
from relpredict.graph.yaml_io import load_graph


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("store")
    generate(out, customers=400, seed=1)
    return out


@pytest.fixture(scope="module")
def graph(store: Path):
    return load_graph(store / "graph.yaml")
