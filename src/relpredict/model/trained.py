"""A trained model: everything needed to predict for a query later, in another process.

:class:`TrainedModel` holds the query, the target codec, the GNN (config, column encoders and
weights), the LightGBM booster and its feature spec, the blend weight, the calibration and the
metrics. ``predict`` and ``embed`` take any graph with the training graph's schema and an anchor
time, and return the output columns of PQL.md. Nothing here reads rows later than the anchor
time: the history and aggregate features filter by it, and the sampler only visits rows with time
<= anchor.
"""

from __future__ import annotations

import hashlib
import weakref
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import pyarrow as pa
import torch

from relpredict.errors import ConfigError
from relpredict.graph.graph import Graph
from relpredict.labels.sql import ANCHOR, ENTITY
from relpredict.model.boosting import Booster
from relpredict.model.calibration import Platt
from relpredict.model.encoders import GraphEncoders, encode_graph
from relpredict.model.gnn import GNNConfig, RelationalGNN
from relpredict.model.gnn_train import GNNTrainer, Seeds
from relpredict.model.sampler import NO_TIME_LIMIT, TemporalSampler
from relpredict.model.seedfeatures import Standardizer, feature_matrix
from relpredict.model.targets import TargetCodec
from relpredict.model.tensors import NodeIndex, graph_to_hetero
from relpredict.query.binder import bind
from relpredict.query.bound import BoundQuery, TaskType

MAX_RETURNED_CLASSES = 10
RECENT_ITEMS = 50
BASE_COLUMNS = ("history.mean_3", "history.mean_12", "history.mean_24")  # most specific first


@dataclass
class GNNPart:
    """The GNN's saved state: config, encoders, edge types and weights."""

    config: GNNConfig
    encoders: GraphEncoders
    edge_types: list[tuple[str, str, str]]
    state: dict[str, torch.Tensor]
    extra_dim: int


@dataclass
class Runtime:
    """Per-graph tensors built on first use: node index, sampler, the GNN bound to encodings."""

    index: NodeIndex
    trainer: GNNTrainer | None
    item_nodes: torch.Tensor | None


@dataclass
class TrainedModel:
    """A model for one query (see module docstring)."""

    query_text: str
    task_type: TaskType
    kind: str  # "gnn", "lightgbm" or "blend"
    seed: int
    codec: TargetCodec
    history: Standardizer | None = None
    history_k: int = 0
    gnn: GNNPart | None = None
    booster: Booster | None = None
    feature_spec: Any = None
    blend: float = 1.0  # weight of the GNN in the final prediction
    platt: Platt | None = None
    top_k: int = 10
    metrics: dict[str, Any] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)
    name: str = ""
    version: int = 0
    _runtime: dict[int, tuple[weakref.ref, Runtime]] = field(default_factory=dict, repr=False)
    _last: tuple | None = field(default=None, repr=False)

    # -- identity --------------------------------------------------------------------------
    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"

    @property
    def classes(self) -> list | None:
        return self.codec.classes or None

    @property
    def embedding_dim(self) -> int:
        if self.gnn is not None:
            return self.gnn.config.channels + self.gnn.extra_dim
        return len(self.booster.features) if self.booster is not None else 0

    def load_graph(self) -> Graph:
        """The graph this model was trained on (its recorded sources, keys and links)."""
        from relpredict.model.artifact import load_graph_of

        return load_graph_of(self)

    def bound_query(self, graph: Graph) -> BoundQuery:
        return bind(self.query_text, graph)

    @property
    def is_temporal(self) -> bool:
        return bool(self.info.get("temporal", True))

    # -- inputs ----------------------------------------------------------------------------
    def rows(self, entities: pa.Array | pa.ChunkedArray | list, anchor: datetime | None) -> pa.Table:
        """``ENTITY`` (+ ``ANCHOR_TIMESTAMP`` for temporal queries) for ``entities`` at ``anchor``."""
        ents = entities if isinstance(entities, (pa.Array, pa.ChunkedArray)) else pa.array(entities)
        cols = {ENTITY: ents}
        if self.is_temporal:
            if anchor is None:
                raise ConfigError("This query is temporal: give an anchor time to predict at.")
            cols[ANCHOR] = pa.array([anchor] * len(ents), pa.timestamp("us"))
        return pa.table(cols)

    def history_table(self, bq: BoundQuery, graph: Graph, rows: pa.Table) -> pa.Table | None:
        """The raw target history of ``rows`` (``history.*`` columns; None without history)."""
        if self.history is None or not self.history.columns:
            return None
        from relpredict.features.history import target_history

        return target_history(bq, graph, rows, k=self.history_k, classes=self.info.get("history_classes"))

    def history_matrix(self, hist: pa.Table | None, n: int) -> np.ndarray:
        """The standardised history, ``[N, 2H]`` (no columns without history)."""
        if hist is None or self.history is None:
            return np.zeros((n, 0), dtype=np.float32)
        return self.history.transform(feature_matrix(hist, self.history.columns)[1])

    def regression_base(self, hist: pa.Table | None, n: int) -> np.ndarray | None:
        """Regression predicts the residual over the entity's recent mean target (MODELING.md #6):
        the mean of its last 3 labels, else of all past labels, else the training mean."""
        if self.task_type is not TaskType.regression:
            return None
        fallback = float(self.info.get("base_fallback", 0.0))
        base = np.full(n, fallback)
        if hist is None:
            return base
        for col in reversed(BASE_COLUMNS):
            if col in hist.column_names:
                values = np.asarray(hist.column(col).to_numpy(zero_copy_only=False), dtype=np.float64)
                base = np.where(np.isnan(values), base, values)
        return base

    # -- runtime ---------------------------------------------------------------------------
    def runtime(self, graph: Graph) -> Runtime:
        """Tensors of ``graph`` for this model, built once per graph object."""
        cached = self._runtime.get(id(graph))
        if cached is not None and cached[0]() is graph:
            return cached[1]
        rt = self._build_runtime(graph)
        self._runtime.clear()
        self._runtime[id(graph)] = (weakref.ref(graph), rt)
        return rt

    def _build_runtime(self, graph: Graph) -> Runtime:
        data, index = graph_to_hetero(graph)
        if self.gnn is None:
            return Runtime(index, None, None)
        part = self.gnn
        encoded = encode_graph(graph, part.encoders)
        times = {t: data[t].time for t in data.node_types}
        item_nodes = None
        item_table = self.info.get("item_table")
        if self.task_type is TaskType.link_prediction:
            item_nodes = index.positions(item_table, np.asarray(self.codec.items), missing="ignore")
        model = RelationalGNN(encoded, times, part.edge_types, self.info["entity_table"], part.config,
                              part.extra_dim, self.codec.out_dim, item_table=item_table,
                              num_items=len(self.codec.items))
        if part.state:  # empty while training builds a fresh model
            model.load_state_dict(part.state)
        model.item_nodes = item_nodes
        sampler = TemporalSampler(data, list(part.config.fanout), strategy=part.config.strategy)
        trainer = GNNTrainer(model, sampler, self.codec, part.config, self.top_k)
        return Runtime(index, trainer, item_nodes)

    def seeds(self, graph: Graph, rows: pa.Table, extra: np.ndarray, recent: torch.Tensor | None = None,
              base: np.ndarray | None = None) -> Seeds:
        """GNN inputs for ``rows``; an entity key missing from the graph is an error."""
        rt = self.runtime(graph)
        table = self.info["entity_table"]
        keys = rows.column(ENTITY).to_numpy(zero_copy_only=False)
        try:
            node = rt.index.positions(table, keys)
        except KeyError as err:
            raise ConfigError(f"{err.args[0]}: these entities are not rows of {table}.") from None
        if ANCHOR in rows.column_names:
            time = torch.from_numpy(rows.column(ANCHOR).cast(pa.timestamp("s")).cast(pa.int64())
                                    .to_numpy(zero_copy_only=False).astype(np.int64))
        else:
            time = torch.full((rows.num_rows,), NO_TIME_LIMIT, dtype=torch.long)
        return Seeds(node, time, torch.from_numpy(extra), base=base, recent=recent)

    def inputs(self, graph: Graph, rows: pa.Table) -> tuple[BoundQuery, pa.Table | None, np.ndarray]:
        bq = self.bound_query(graph)
        hist = self.history_table(bq, graph, rows)
        return bq, hist, self.history_matrix(hist, rows.num_rows)

    # -- scoring ---------------------------------------------------------------------------
    def score(self, graph: Graph, rows: pa.Table, calibrated: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """``(embeddings [N, E], predictions)`` for ``rows``; predictions are calibrated
        probabilities (binary ``[N]``), values (``[N]``), class probabilities (``[N, C]``) or item
        scores (``[N, I]``)."""
        bq, hist, extra = self.inputs(graph, rows)
        emb, pred_gnn, pred_lgb = None, None, None
        if self.gnn is not None:
            seeds = self.seeds(graph, rows, extra, self.recent_matrix(bq, graph, rows),
                               self.regression_base(hist, rows.num_rows))
            emb, pred_gnn = self.runtime(graph).trainer.predict(seeds)
        if self.booster is not None and self.blend < 1.0:
            x = self.boosting_matrix(bq, graph, rows, hist)
            pred_lgb = self.booster.predict(x)
            if emb is None:
                emb = x.astype(np.float32)
        pred = self.combine(pred_gnn, pred_lgb)
        if calibrated and self.platt is not None:
            pred = self.platt(pred)
        return emb, pred

    def combine(self, gnn: np.ndarray | None, lgb: np.ndarray | None) -> np.ndarray:
        if gnn is None:
            return lgb
        if lgb is None:
            return gnn
        return self.blend * gnn + (1 - self.blend) * lgb

    def boosting_matrix(self, bq: BoundQuery, graph: Graph, rows: pa.Table, hist: pa.Table | None) -> np.ndarray:
        """LightGBM's input: aggregate features then the raw history, in the booster's order."""
        names, x = self.boosting_inputs(bq, graph, rows, hist)
        order = {n: i for i, n in enumerate(names)}
        missing = [f for f in self.booster.features if f not in order]
        if missing:
            raise ConfigError(f"The graph lacks features the model was trained on: {missing[:5]}.")
        return x[:, [order[f] for f in self.booster.features]]

    def boosting_inputs(self, bq: BoundQuery, graph: Graph, rows: pa.Table,
                        hist: pa.Table | None) -> tuple[list[str], np.ndarray]:
        """Aggregate features then the raw history columns, with their names."""
        from relpredict.features.aggregates import aggregate_features

        names, x = feature_matrix(aggregate_features(bq, graph, rows, self.feature_spec))
        if hist is not None:
            hist_names, h = feature_matrix(hist)
            x, names = np.concatenate([x, h], axis=1), names + hist_names
        return names, x

    def recent_matrix(self, bq: BoundQuery, graph: Graph, rows: pa.Table) -> torch.Tensor | None:
        """Link prediction ``[N, I]``: ``1/sqrt(1 + rank)`` for the entity's recent distinct items
        (most recent rank 0), 0 for the others."""
        if self.task_type is not TaskType.link_prediction:
            return None
        from relpredict.features.history import recent_items

        items = recent_items(bq, graph, rows, n=RECENT_ITEMS).column("ITEMS").to_pylist()
        index = {k: i for i, k in enumerate(self.codec.items)}
        out = torch.zeros((rows.num_rows, len(self.codec.items)))
        for r, lst in enumerate(items):
            for rank, item in enumerate(lst or []):
                if item in index:
                    out[r, index[item]] = 1.0 / (1.0 + rank) ** 0.5
        return out

    # -- outputs ---------------------------------------------------------------------------
    def scored(self, graph: Graph, anchor: datetime | None, entities: pa.Array | list) -> tuple[pa.Table, np.ndarray, np.ndarray]:
        """``(rows, embeddings, predictions)``, remembered for the last call: a job that writes
        predictions and embeddings of the same entities scores them once."""
        rows = self.rows(entities, anchor)
        key = (anchor, _fingerprint(rows.column(ENTITY).combine_chunks()))
        last = self._last
        if last is not None and last[0]() is graph and last[1] == key:
            return last[2]
        emb, pred = self.score(graph, rows)
        self._last = (weakref.ref(graph), key, (rows, emb, pred))
        return rows, emb, pred

    def predict(self, graph: Graph, anchor: datetime | None, entities: pa.Array | list, *,
                threshold: float = 0.5, num_classes: int | None = None, top_k: int | None = None) -> pa.Table:
        """The PQL.md output table for ``entities`` at ``anchor`` (rows in entity order)."""
        rows, _, pred = self.scored(graph, anchor, entities)
        return format_predictions(self, rows, pred, threshold=threshold, num_classes=num_classes, top_k=top_k)

    def embed(self, graph: Graph, anchor: datetime | None, entities: pa.Array | list) -> pa.Table:
        """``ENTITY, [ANCHOR_TIMESTAMP,] EMBEDDINGS`` (list<float32>) for ``entities``."""
        rows, emb, _ = self.scored(graph, anchor, entities)
        flat = pa.array(np.ascontiguousarray(emb, dtype=np.float32).reshape(-1))
        width = emb.shape[1] if emb.ndim == 2 else 0
        offsets = pa.array(np.arange(rows.num_rows + 1, dtype=np.int32) * width)
        return rows.append_column("EMBEDDINGS", pa.ListArray.from_arrays(offsets, flat))


def _fingerprint(values: pa.Array) -> str:
    """A digest of an entity array (numbers by their bytes, strings joined)."""
    if pa.types.is_string(values.type) or pa.types.is_large_string(values.type):
        data = "\x00".join(str(v) for v in values.to_pylist()).encode()
    else:
        data = values.to_numpy(zero_copy_only=False).tobytes()
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def format_predictions(model: TrainedModel, rows: pa.Table, pred: np.ndarray, *, threshold: float = 0.5,
                       num_classes: int | None = None, top_k: int | None = None) -> pa.Table:
    """Scores → the output columns of PQL.md for the model's task type."""
    task = model.task_type
    if task is TaskType.binary:
        prob = np.asarray(pred, dtype=np.float64)
        return (rows.append_column("TARGET_PRED", pa.array(prob >= threshold))
                .append_column("True_PROB", pa.array(prob))
                .append_column("False_PROB", pa.array(1.0 - prob)))
    if task is TaskType.regression:
        return rows.append_column("TARGET_PRED", pa.array(np.asarray(pred, dtype=np.float64)))
    if task is TaskType.link_prediction:
        k = min(top_k or model.top_k, pred.shape[1])
        return _ranked(rows, pred, model.codec.items, k, None)
    k = min(num_classes or min(len(model.codec.classes), MAX_RETURNED_CLASSES), pred.shape[1])
    chosen = (pred >= 0.5) if task is TaskType.multilabel else None
    if task is TaskType.multiclass:
        chosen = np.zeros_like(pred, dtype=bool)
        chosen[np.arange(len(pred)), pred.argmax(1)] = True
    return _ranked(rows, pred, model.codec.classes, k, chosen)


def _ranked(rows: pa.Table, pred: np.ndarray, labels: list, k: int, chosen: np.ndarray | None) -> pa.Table:
    """``k`` rows per entity, best first: ``CLASS, SCORE`` (+ ``PREDICTED``)."""
    n = rows.num_rows
    if n == 0 or k == 0:
        top = np.zeros((n, 0), dtype=np.int64)
    else:
        top = np.argsort(-pred, axis=1, kind="stable")[:, :k]
    repeat = np.repeat(np.arange(n), top.shape[1])
    out = rows.take(pa.array(repeat, pa.int64()))
    flat = top.reshape(-1)
    out = out.append_column("CLASS", pa.array([labels[i] for i in flat]))
    out = out.append_column("SCORE", pa.array(pred[repeat, flat].astype(np.float64)))
    if chosen is not None:
        out = out.append_column("PREDICTED", pa.array(chosen[repeat, flat]))
    return out
