"""A deterministic TEST DOUBLE of ``relpredict.model.predictor.TrainedModel`` for job tests.

Not a model: its scores are a fixed function of the entity key (a CRC32 hash) and of the number of
the entity's fact rows with time <= the anchor (so it reads data the way a real model must, with no
look-ahead). Each entity's output depends on nothing else, so any split into shards and workers
gives identical output, and a test can recompute any value by hand (``expected_*`` below).

The job machinery loads it through the model-loader seam::

    RELPREDICT_MODEL_LOADER=tests.jobs.fixture_model:load

``register`` records a fixture model in the workspace's ``models`` table (kind ``fixture``), the
way the real trainer records a real one. Two environment variables make it observable:
``RELPREDICT_FIXTURE_DELAY`` (seconds slept per ``predict`` call, to kill a job mid-run) and
``RELPREDICT_FIXTURE_LOG`` (a file that gets one JSON line per call: pid and entities);
``RELPREDICT_FIXTURE_FAIL_ON`` makes ``predict`` raise on a shard holding that entity key.
"""

from __future__ import annotations

import json
import os
import time
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa

from relpredict.errors import ConfigError
from relpredict.graph.graph import Graph
from relpredict.graph.yaml_io import load_graph
from relpredict.query.ast import Aggregation
from relpredict.query.binder import bind
from relpredict.query.bound import BoundQuery, TaskType
from relpredict.sql import quote_ident as q
from relpredict.workspace import Workspace

LOADER = "tests.jobs.fixture_model:load"
GOLDEN = 0.6180339887


def key_hash(key: object) -> float:
    """A stable number in [0, 1) per entity key."""
    return zlib.crc32(str(key).encode()) / 2**32


@dataclass
class FixtureModel:
    name: str
    version: int
    query_text: str
    graph_yaml: str
    task_type: TaskType
    is_temporal: bool
    classes: list | None
    embedding_dim: int = 4

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"

    def load_graph(self) -> Graph:
        return load_graph(self.graph_yaml)

    def bound_query(self, graph: Graph) -> BoundQuery:
        return bind(self.query_text, graph)

    # ------------------------------------------------------------------ features
    def history(self, graph: Graph, anchor: datetime | None, entities: pa.Array) -> np.ndarray:
        """Fact rows per entity with time <= anchor (0 for static queries)."""
        bq = self.bound_query(graph)
        if not bq.is_temporal:
            return np.zeros(len(entities))
        fact = graph[bq.fact_tables[0]]
        fk = graph.links_between(fact.name, bq.entity_table)[0].column
        sql = (f"SELECT e AS k, COUNT(f.{q(fk)}) AS n FROM (SELECT unnest($1) AS e) "
               f"LEFT JOIN {q(fact.name)} f ON f.{q(fk)} = e AND f.{q(fact.time_column or '')} <= $2 "
               "GROUP BY e")
        rows = graph.con.execute(sql, [entities.to_pylist(), anchor]).fetchall()
        counts = {k: n for k, n in rows}
        return np.array([counts.get(k, 0) for k in entities.to_pylist()], dtype=np.float64)

    def _log(self, entities: pa.Array) -> None:
        fail_on = os.environ.get("RELPREDICT_FIXTURE_FAIL_ON")
        if fail_on and int(fail_on) in entities.to_pylist():
            raise RuntimeError(f"fixture failure on entity {fail_on}")
        delay = float(os.environ.get("RELPREDICT_FIXTURE_DELAY", "0") or 0)
        if delay:
            time.sleep(delay)
        log = os.environ.get("RELPREDICT_FIXTURE_LOG")
        if log:
            with open(log, "a") as fh:
                fh.write(json.dumps({"pid": os.getpid(), "entities": entities.to_pylist()}) + "\n")

    def _head(self, entities: pa.Array, anchor: datetime | None, repeat: int = 1) -> dict[str, pa.Array]:
        index = np.repeat(np.arange(len(entities)), repeat)
        cols = {"ENTITY": entities.take(pa.array(index, pa.int64()))}
        if self.is_temporal:
            cols["ANCHOR_TIMESTAMP"] = pa.array([anchor] * len(index), pa.timestamp("us"))
        return cols

    # ------------------------------------------------------------------ the model interface
    def predict(self, graph: Graph, anchor: datetime | None, entities: pa.Array, *,
                threshold: float = 0.5, num_classes: int | None = None,
                top_k: int | None = None) -> pa.Table:
        entities = _array(entities)
        self._log(entities)
        h = np.array([key_hash(k) for k in entities.to_pylist()])
        c = self.history(graph, anchor, entities)
        if self.task_type is TaskType.binary:
            p = expected_probability(h, c)
            return pa.table({**self._head(entities, anchor), "TARGET_PRED": pa.array(p >= threshold),
                             "False_PROB": pa.array(1.0 - p), "True_PROB": pa.array(p)})
        if self.task_type is TaskType.regression:
            return pa.table({**self._head(entities, anchor), "TARGET_PRED": pa.array(10.0 * h + c)})
        return self._ranked(graph, entities, anchor, h, c, threshold, num_classes, top_k)

    def _ranked(self, graph: Graph, entities: pa.Array, anchor: datetime | None, h: np.ndarray,
                c: np.ndarray, threshold: float, num_classes: int | None, top_k: int | None) -> pa.Table:
        labels = self.items(graph) if self.task_type is TaskType.link_prediction else list(self.classes or [])
        m = (top_k or 10) if self.task_type is TaskType.link_prediction else (num_classes or len(labels))
        m = min(m, len(labels))
        scores = np.mod(h[:, None] * 97.0 + np.arange(len(labels))[None, :] * GOLDEN + c[:, None] * 0.1, 1.0)
        order = np.argsort(-scores, axis=1, kind="stable")[:, :m]
        chosen = np.take_along_axis(scores, order, axis=1).ravel()
        cols = {**self._head(entities, anchor, m),
                "CLASS": pa.array(labels).take(pa.array(order.ravel(), pa.int64())),
                "SCORE": pa.array(chosen)}
        if self.task_type is TaskType.multiclass:
            cols["PREDICTED"] = pa.array(np.tile(np.arange(m) == 0, len(entities)))
        elif self.task_type is TaskType.multilabel:
            cols["PREDICTED"] = pa.array(chosen >= threshold)
        return pa.table(cols)

    def items(self, graph: Graph) -> list:
        bq = self.bound_query(graph)
        table = graph[bq.item_table or ""]
        key = q(table.primary_key or "")
        return [r[0] for r in graph.con.execute(f"SELECT {key} FROM {q(table.name)} ORDER BY {key}").fetchall()]

    def embed(self, graph: Graph, anchor: datetime | None, entities: pa.Array) -> pa.Table:
        entities = _array(entities)
        h = np.array([key_hash(k) for k in entities.to_pylist()])
        c = self.history(graph, anchor, entities)
        vectors = np.sin(h[:, None] * (np.arange(self.embedding_dim)[None, :] + 1) + c[:, None])
        values = pa.array(vectors.astype(np.float32).ravel())
        offsets = pa.array(np.arange(len(entities) + 1) * self.embedding_dim, pa.int32())
        return pa.table({**self._head(entities, anchor),
                         "EMBEDDINGS": pa.ListArray.from_arrays(offsets, values)})


def expected_probability(h: np.ndarray, history: np.ndarray) -> np.ndarray:
    """The double's binary probability: half key hash, half (capped) history count."""
    return 0.5 * h + 0.5 * np.minimum(history, 10.0) / 10.0


def _array(entities: pa.Array | pa.ChunkedArray | list) -> pa.Array:
    if isinstance(entities, pa.ChunkedArray):
        return entities.combine_chunks()
    return entities if isinstance(entities, pa.Array) else pa.array(entities)


# ---------------------------------------------------------------------- registry
def register(ws: Workspace, name: str, query: str, graph_yaml: str | Path,
             classes: list | None = None) -> FixtureModel:
    """Record a fixture model (next version of ``name``) in the workspace's models table."""
    graph = load_graph(graph_yaml)
    bq = bind(query, graph)
    if classes is None and bq.task_type in (TaskType.multiclass, TaskType.multilabel):
        classes = _target_values(bq, graph)
    with ws.db() as con:
        version = con.execute("SELECT COALESCE(MAX(version), 0) + 1 FROM models WHERE name = ?",
                              (name,)).fetchone()[0]
        path = f"fixture/{name}/v{version}"
        doc = {"query": bq.text, "graph": str(graph_yaml), "task_type": bq.task_type.value,
               "is_temporal": bq.is_temporal, "classes": classes}
        (ws.artifacts / path).mkdir(parents=True, exist_ok=True)
        (ws.artifacts / path / "model.json").write_text(json.dumps(doc))
        con.execute("INSERT INTO models VALUES (?, ?, 'fixture', ?, ?, ?, '{}', ?)",
                    (name, version, bq.text, bq.task_type.value, path,
                     datetime.now(UTC).isoformat()))
    graph.close()
    return load(ws, f"{name}@{version}")


def _target_values(bq: BoundQuery, graph: Graph) -> list:
    target = bq.target
    if not isinstance(target, Aggregation):
        raise ValueError("the fixture model infers classes from an aggregated column only")
    col, table = q(target.column.column), q(target.column.table)
    return [r[0] for r in graph.con.execute(f"SELECT DISTINCT {col} FROM {table} ORDER BY 1").fetchall()]


def load(ws: Workspace, ref: str) -> FixtureModel:
    """The loader seam: ``NAME`` (latest version) or ``NAME@VERSION``, like the real one."""
    name, _, version = ref.partition("@")
    with ws.db() as con:
        if version:
            row = con.execute("SELECT * FROM models WHERE name = ? AND version = ?",
                              (name, int(version))).fetchone()
        else:
            row = con.execute("SELECT * FROM models WHERE name = ? ORDER BY version DESC LIMIT 1",
                              (name,)).fetchone()
    if row is None:
        raise ConfigError(f"No model named {ref!r} in the workspace {ws.home}; train one first.")
    doc = json.loads((ws.artifacts / row["path"] / "model.json").read_text())
    return FixtureModel(row["name"], row["version"], doc["query"], doc["graph"],
                        TaskType(doc["task_type"]), doc["is_temporal"], doc["classes"])
