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
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar, get_args

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from relpredict.errors import ConfigError
from relpredict.features.aggregates import aggregate_features
from relpredict.features.candidates import FEATURES
from relpredict.features.history import (
    LEVEL_SPANS,
    anchor_levels,
    history_and_past,
    past_levels,
    population_level,
    recent_class_shares,
    recent_items,
)
from relpredict.graph.graph import Graph
from relpredict.graph.yaml_io import graph_from_dict
from relpredict.labels.sql import ANCHOR, ENTITY, TIMEFRAME
from relpredict.model.baselines import Baseline, History
from relpredict.model.boosting import Booster
from relpredict.model.calibration import Platt
from relpredict.model.explain import explanations
from relpredict.model.gnn_config import GNNConfig
from relpredict.model.output import format_predictions
from relpredict.model.ranker import Ranker, row_standardize
from relpredict.model.seedfeatures import Standardizer, feature_matrix
from relpredict.model.targets import TargetCodec
from relpredict.query.ast import aggregations
from relpredict.query.binder import bind
from relpredict.query.bound import BoundQuery, TaskType

if TYPE_CHECKING:  # the GNN's modules import torch and PyTorch Geometric: only GNN models load them
    import torch

    from relpredict.model.encoders import GraphEncoders
    from relpredict.model.gnn_fit import GNNTrainer, Seeds
    from relpredict.model.tensors import NodeIndex

ModelKind = Literal["auto", "gnn", "lightgbm", "blend", "baseline", "ranker"]
"""What a model is: ``auto`` until training chooses, then the learner it kept, their ``blend``, a
``baseline`` (weight 1) or, for RANK TOP k, the ``ranker``."""
MODEL_KINDS: tuple[ModelKind, ...] = get_args(ModelKind)
T = TypeVar("T")
EMBEDDING_FEATURES = 32  # features in a LightGBM-only model's embedding
TIMEFRAME_FEATURE = "forecast.timeframe"
RECENT_ITEMS = 50
BASE_COLUMNS = ("history.mean_3", "history.mean_12", "history.mean_24")  # most specific first


@dataclass
class Frame:
    """Regression learners predict ``z = (y - base) / scale`` (see
    :meth:`TrainedModel.regression_frame`); LightGBM uses a base of 0, the GNN the entity's
    recent mean."""

    base: np.ndarray
    scale: np.ndarray

    def to_relative(self, y: np.ndarray) -> np.ndarray:
        out: np.ndarray = (np.asarray(y, np.float64) - self.base) / self.scale
        return out

    def from_relative(self, z: np.ndarray) -> np.ndarray:
        out: np.ndarray = self.base + self.scale * np.asarray(z, np.float64)
        return out

    def unbased(self) -> Frame:
        return Frame(np.zeros_like(self.base), self.scale)


LEVEL_FEATURE = "population.level_ratio_"


class LevelCache:
    """The population levels of one graph (per past anchor, and per anchor the level a relative
    regression model divides by), each computed once: they depend on the anchor only."""

    def __init__(self, bq: BoundQuery, graph: Graph) -> None:
        self.bq, self.graph = bq, weakref.ref(graph)
        self._at: dict[datetime, float | None] = {}
        self._population: dict[datetime, float | None] = {}
        self._past: dict[datetime, list[float | None]] = {}

    def anchor_levels(self, anchors: list[datetime]) -> dict[datetime, float | None]:
        wanted = sorted({a for a in anchors if a not in self._at})
        if wanted:
            self._at.update(anchor_levels(self.bq, self._graph(), wanted))
        return {a: self._at.get(a) for a in anchors}

    def population(self, anchors: list[datetime]) -> dict[datetime, float | None]:
        wanted = sorted({a for a in anchors if a not in self._population})
        if wanted:
            self._population.update(population_level(self.bq, self._graph(), wanted, past=self.past(wanted)))
        return {a: self._population.get(a) for a in anchors}

    def past(self, anchors: list[datetime]) -> dict[datetime, list[float | None]]:
        """Per anchor, the levels of its past anchors ``t - D .. t - 12D``."""
        wanted = sorted({a for a in anchors if a not in self._past})
        if wanted:
            self._past.update(past_levels(self.bq, self._graph(), wanted, self.anchor_levels))
        return {a: self._past.get(a) or [] for a in anchors}

    def _graph(self) -> Graph:
        graph = self.graph()
        if graph is None:
            raise RuntimeError("the graph of these levels is gone")
        return graph


@dataclass
class Inputs:
    """What a model reads for ``rows`` besides the graph: history features and past labels."""

    bq: BoundQuery
    hist: pa.Table | None
    extra: np.ndarray
    past: Sequence[Sequence[Any]] | None
    frame: Frame | None


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
    kind: ModelKind
    seed: int
    codec: TargetCodec
    history: Standardizer | None = None
    history_k: int = 0
    gnn: GNNPart | None = None
    booster: Booster | None = None
    feature_spec: Any = None
    blend: float = 1.0  # weight of the GNN in the learners' prediction
    baseline: Baseline | None = None
    baseline_weight: float = 0.0  # weight of the baseline in the final prediction
    ranker: Ranker | None = None  # ranking targets: the candidates and the LightGBM ranker
    platt: Platt | None = None
    top_k: int = 10
    metrics: dict[str, Any] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)
    name: str = ""
    version: int = 0
    train_entities: pa.Array | None = None  # keys of the training split (the drift check's "unseen")
    _runtime: dict[int, tuple[weakref.ref[Graph], Runtime]] = field(default_factory=dict, repr=False)
    _levels: LevelCache | None = field(default=None, repr=False)
    _last: tuple[Any, ...] | None = field(default=None, repr=False)
    _x: np.ndarray | None = field(default=None, repr=False)  # the last score's LightGBM input

    # -- identity --------------------------------------------------------------------------
    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"

    @property
    def classes(self) -> list[Any] | None:
        return self.codec.classes or None

    @property
    def embedding_dim(self) -> int:
        if self.gnn is not None:
            return self.gnn.config.channels + self.gnn.extra_dim
        if self.booster is not None:
            spec = self.info.get("embedding")
            return len(spec["features"]) if spec else len(self.booster.features)
        if self.ranker is not None:
            return sum(f.startswith("entity.") for f in FEATURES)
        return max(self.codec.out_dim, 1)

    def load_graph(self) -> Graph:
        """The graph this model was trained on (its recorded sources, keys and links)."""
        spec = self.info.get("graph")
        if not spec:
            raise ConfigError(f"Model {self.ref} was trained on in-memory tables; pass the graph to predict on.")
        return graph_from_dict(spec, base=Path("/"), where=f"graph of model {self.ref}")

    def bound_query(self, graph: Graph) -> BoundQuery:
        return bind(self.query_text, graph)

    @property
    def is_temporal(self) -> bool:
        return bool(self.info.get("temporal", True))

    @property
    def forecast(self) -> int | None:
        """N of ``FORECAST N TIMEFRAMES`` (None: one target window per entity)."""
        n = self.info.get("forecast")
        return int(n) if n else None

    # -- inputs ----------------------------------------------------------------------------
    def rows(self, entities: pa.Array | pa.ChunkedArray | list[Any], anchor: datetime | None) -> pa.Table:
        """``ENTITY`` (+ ``ANCHOR_TIMESTAMP`` for temporal queries) for ``entities`` at ``anchor``."""
        ents = entities if isinstance(entities, (pa.Array, pa.ChunkedArray)) else pa.array(entities)
        cols = {ENTITY: ents}
        if self.is_temporal:
            if anchor is None:
                raise ConfigError("This query is temporal: give an anchor time to predict at.")
            cols[ANCHOR] = pa.array([anchor] * len(ents), pa.timestamp("us"))
        table = pa.table(cols)
        n = self.forecast
        if n is None:
            return table
        out = table.take(pa.array(np.repeat(np.arange(len(ents)), n), pa.int64()))  # entity-major
        return out.append_column(TIMEFRAME, pa.array(np.tile(np.arange(1, n + 1), len(ents)), pa.int64()))

    def timeframe_matrix(self, rows: pa.Table) -> np.ndarray:
        """A forecast's timeframe feature ``[N, 1]``: ``(h - 1) / (H - 1)`` for timeframe ``h``,
        ``H`` the farthest timeframe trained on (farther ones read as ``H``); ``[N, 0]`` for
        other models."""
        if self.forecast is None:
            return np.zeros((rows.num_rows, 0), dtype=np.float32)
        top = max(1, int(self.info.get("forecast_trained", 1)))
        steps = np.asarray(rows.column(TIMEFRAME).to_numpy(zero_copy_only=False), np.float64)
        return (np.clip(steps, 1, top) - 1).reshape(-1, 1).astype(np.float32) / max(1, top - 1)

    def extra_matrix(self, hist: pa.Table | None, rows: pa.Table) -> np.ndarray:
        """The GNN's seed features: the standardised history, then a forecast's timeframe."""
        extra = self.history_matrix(hist, rows.num_rows)
        if self.forecast is None:
            return extra
        return np.concatenate([extra, self.timeframe_matrix(rows)], axis=1).astype(np.float32)

    def history_and_past(self, bq: BoundQuery, graph: Graph, rows: pa.Table,
                         past: bool = True) -> tuple[pa.Table | None, Sequence[Sequence[Any]] | None]:
        """The history table and (with ``past``, for the baseline) the past labels of ``rows``.

        A relative regression model's history is in units of each past label's time (divided
        by the population level at its anchor)."""
        has_hist = self.history is not None and bool(self.history.columns)
        if not has_hist and not past:
            return None, None
        levels = None
        if self.codec.relative and self.task_type is TaskType.regression and bq.is_temporal:
            levels = self.level_cache(bq, graph).anchor_levels
        hist, labels = history_and_past(bq, graph, rows, k=self.history_k or 24,
                                        classes=self.info.get("history_classes"), past=past, levels=levels)
        lists: Sequence[Sequence[Any]] | None = labels
        if past and lists is not None and self.baseline is not None and self.baseline.rule == "recent_rows":
            lists = History(lists, recent_class_shares(bq, graph, rows, self.codec.classes))
        return (hist if has_hist else None), lists

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
        return _first_present(hist, BASE_COLUMNS, np.full(n, fallback))

    def regression_frame(self, bq: BoundQuery, graph: Graph, rows: pa.Table,
                         hist: pa.Table | None) -> Frame | None:
        """``(base, scale)`` of the regression learners' target (None for other tasks).

        ``scale`` is the population's level at the row's anchor
        (:func:`relpredict.features.history.population_level`: the typical size of the target
        over every entity's latest past labels), or the codec's training level where there is
        none; ``base`` is the entity's recent mean in those units (its history is divided by
        the level at each past anchor) times ``scale``. When the target's scale shifts over
        time — prices with inflation, a points scale that changes — level and history move
        with it, so a learner that predicts ``z`` (and reads its target-unit inputs divided by
        the level) keeps its relative accuracy. A model without ``codec.relative`` (older
        artifacts) uses a scale of 1 and the history as it is.
        """
        if self.task_type is not TaskType.regression:
            return None
        n = rows.num_rows
        if not self.codec.relative:
            return Frame(needed(self.regression_base(hist, n), "regression base"), np.ones(n))
        scale = self.population_scale(bq, graph, rows)
        recent = _first_present(hist, BASE_COLUMNS, np.full(n, float(self.info.get("base_fallback_relative", 0.0))))
        return Frame(recent * scale, scale)

    def population_scale(self, bq: BoundQuery, graph: Graph, rows: pa.Table) -> np.ndarray:
        """The population level at each row's anchor, computed once per graph and anchor."""
        fallback = self.codec.floor
        if ANCHOR not in rows.column_names or not bq.is_temporal:
            return np.full(rows.num_rows, fallback)
        anchors = rows.column(ANCHOR).cast(pa.timestamp("us")).to_pylist()
        found = self.level_cache(bq, graph).population([a for a in anchors if a is not None])
        return np.asarray([found.get(a) or fallback for a in anchors], dtype=np.float64)

    def level_cache(self, bq: BoundQuery, graph: Graph) -> LevelCache:
        if self._levels is None or self._levels.graph() is not graph:
            self._levels = LevelCache(bq, graph)
        return self._levels

    def inputs(self, graph: Graph, rows: pa.Table) -> Inputs:
        bq = self.bound_query(graph)
        hist, past = self.history_and_past(bq, graph, rows, past=self.baseline_weight > 0)
        frame = self.regression_frame(bq, graph, rows, hist)
        return Inputs(bq, hist, self.extra_matrix(hist, rows), past, frame)

    # -- runtime ---------------------------------------------------------------------------
    def runtime(self, graph: Graph) -> Runtime:
        """Tensors of ``graph`` for this model, built once per graph object."""
        cached = self._runtime.get(id(graph))
        if cached is not None and cached[0]() is graph:
            return cached[1]
        rt = self.build_runtime(graph)
        self._runtime.clear()
        self._runtime[id(graph)] = (weakref.ref(graph), rt)
        return rt

    def build_runtime(self, graph: Graph) -> Runtime:
        from relpredict.model.gnn import RelationalGNN
        from relpredict.model.gnn_fit import GNNTrainer
        from relpredict.model.graphcache import graph_tensors
        from relpredict.model.sampler import TemporalSampler
        from relpredict.model.tensors import graph_to_hetero

        if self.gnn is None:
            return Runtime(graph_to_hetero(graph)[1], None, None)
        part = self.gnn
        # A job's workers map one copy per machine (model/graphcache.py); else built in memory.
        tensors = graph_tensors(graph, part.encoders, self.info.get("graph"))
        index, encoded, times = tensors.index, tensors.encoded, tensors.times
        item_nodes = None
        item_table = self.info.get("item_table")
        if self.task_type is TaskType.link_prediction:
            item_nodes = index.positions(needed(item_table, "item table"), np.asarray(self.codec.items), missing="ignore")
        model = RelationalGNN(encoded, times, part.edge_types, self.info["entity_table"], part.config,
                              part.extra_dim, self.codec.out_dim, item_table=item_table,
                              num_items=len(self.codec.items))
        if part.state:  # empty while training builds a fresh model
            model.load_state_dict(part.state)
        model.item_nodes = item_nodes
        sampler = TemporalSampler.from_graph(tensors.sampler, list(part.config.fanout),
                                             strategy=part.config.strategy)
        trainer = GNNTrainer(model, sampler, self.codec, part.config, self.top_k)
        return Runtime(index, trainer, item_nodes)

    def seeds(self, graph: Graph, rows: pa.Table, extra: np.ndarray, recent: torch.Tensor | None = None,
              frame: Frame | None = None) -> Seeds:
        """GNN inputs for ``rows``; an entity key missing from the graph is an error."""
        import torch

        from relpredict.model.gnn_fit import Seeds
        from relpredict.model.sampler import NO_TIME_LIMIT

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
        return Seeds(node, time, torch.from_numpy(extra), recent=recent,
                     base=None if frame is None else frame.base, scale=None if frame is None else frame.scale)

    # -- scoring ---------------------------------------------------------------------------
    def score(self, graph: Graph, rows: pa.Table, calibrated: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """``(embeddings [N, E], predictions)`` for ``rows``; predictions are calibrated
        probabilities (binary ``[N]``), values (``[N]``), class probabilities (``[N, C]``) or item
        scores (``[N, I]``)."""
        inp = self.inputs(graph, rows)
        bq, hist, extra, frame = inp.bq, inp.hist, inp.extra, inp.frame
        emb, pred_gnn, pred_lgb = None, None, None
        if self.gnn is not None:
            seeds = self.seeds(graph, rows, extra, self.recent_matrix(bq, graph, rows), frame)
            emb, pred_gnn = needed(self.runtime(graph).trainer, "GNN").predict(seeds)
        pairs, self._x = None, None
        uses_ranker = self.ranker is not None and self.ranker.model is not None and self.blend < 1.0
        if self.ranker is not None and (uses_ranker or self.baseline_weight > 0):
            pairs = self.ranker.pairs(bq, graph, rows, self.codec.items)
        if uses_ranker:
            pred_lgb = needed(self.ranker, "ranker").predict(needed(pairs, "candidate pairs"))
        elif self.booster is not None and self.blend < 1.0:
            x = self.boosting_matrix(bq, graph, rows, hist, frame)
            pred_lgb = self.booster_predict(x, frame)
            self._x = x
            if emb is None:
                emb = self.feature_embedding(x)
        pred = self.combine(pred_gnn, pred_lgb)
        if self.baseline is not None and self.baseline_weight > 0:
            inputs = pairs if pairs is not None else (inp.past or [[] for _ in range(rows.num_rows)])
            base = self.baseline.predict(self.codec, inputs)
            pred = base if pred is None else self.mix_baseline(pred, base)
        pred = needed(pred, "learner or baseline")
        if emb is None:
            emb = self._fallback_embedding(pairs, pred, rows.num_rows)
        if calibrated and self.platt is not None:
            pred = self.platt(pred)
        return emb, pred

    def feature_embedding(self, x: np.ndarray) -> np.ndarray:
        """A LightGBM-only model's embedding: its most important features (``info["embedding"]``,
        :func:`feature_embedding_spec`) standardised with their training mean and std, a missing
        value as 0 (the training mean). An artifact from before keeps every feature, NaN as 0."""
        spec = self.info.get("embedding")
        if spec:
            position = {name: i for i, name in enumerate(needed(self.booster, "LightGBM booster").features)}
            cols = [position[name] for name in spec["features"]]
            x = (x[:, cols] - np.asarray(spec["mean"])) / np.asarray(spec["std"])
        return np.asarray(np.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0), np.float32)

    def _fallback_embedding(self, pairs: Any, pred: np.ndarray, n: int) -> np.ndarray:
        """Without a GNN or a feature matrix: the entity features of the ranking candidates
        (activity, repeat rate), else the prediction itself."""
        if pairs is not None:
            cols = [i for i, f in enumerate(FEATURES) if f.startswith("entity.")]
            out = np.zeros((n, len(cols)), np.float32)
            out[pairs.row, :] = np.nan_to_num(pairs.x[:, cols])
            return out
        return np.asarray(pred, np.float32).reshape(n, -1)

    def booster_predict(self, x: np.ndarray, frame: Frame | None) -> np.ndarray:
        """LightGBM's predictions; a relative regression booster's ``z`` back in target units."""
        out = needed(self.booster, "LightGBM booster").predict(x)
        if frame is not None and self.codec.relative:
            out = frame.unbased().from_relative(out)
        return out

    def combine(self, gnn: np.ndarray | None, lgb: np.ndarray | None) -> np.ndarray | None:
        """The learners' prediction: ``blend * gnn + (1 - blend) * lgb`` (item scores of a
        ranking model standardised per row first, since the two score on different scales)."""
        if gnn is None or self.blend <= 0.0 and lgb is not None:
            return lgb
        if lgb is None or self.blend >= 1.0:
            return gnn
        if self.task_type is TaskType.link_prediction:
            gnn, lgb = row_standardize(gnn), row_standardize(lgb)
        return self.blend * gnn + (1 - self.blend) * lgb

    def mix_baseline(self, pred: np.ndarray, base: np.ndarray) -> np.ndarray:
        """``(1 - w) * pred + w * base`` with the baseline weight (item scores standardised per
        row first); ``w`` 0 or 1 leaves one of them as it is."""
        w = self.baseline_weight
        if w <= 0.0:
            return pred
        if w >= 1.0:
            return base
        if self.task_type is TaskType.link_prediction:
            pred, base = row_standardize(pred), row_standardize(base)
        return mix(pred, base, w)

    def boosting_matrix(self, bq: BoundQuery, graph: Graph, rows: pa.Table, hist: pa.Table | None,
                        frame: Frame | None = None) -> np.ndarray:
        """LightGBM's input: aggregate features then the raw history, in the booster's order."""
        names, x = self.boosting_inputs(bq, graph, rows, hist, frame)
        order = {n: i for i, n in enumerate(names)}
        features = needed(self.booster, "LightGBM booster").features
        missing = [f for f in features if f not in order]
        if missing:
            raise ConfigError(f"The graph lacks features the model was trained on: {missing[:5]}.")
        return x[:, np.asarray([order[f] for f in features], np.int64)]

    def boosting_inputs(self, bq: BoundQuery, graph: Graph, rows: pa.Table, hist: pa.Table | None,
                        frame: Frame | None = None) -> tuple[list[str], np.ndarray]:
        """Aggregate features then the raw history columns, with their names.

        A relative regression model (``frame`` given) reads the features in the target's units
        (aggregates of the column the target aggregates, its past values) divided by the
        population level, so that its inputs, like its output, do not move when the target's
        scale does.
        """
        names, x = feature_matrix(aggregate_features(bq, graph, rows, self.feature_spec))
        if hist is not None:
            hist_names, h = feature_matrix(hist)
            x, names = np.concatenate([x, h], axis=1), names + hist_names
        if self.forecast is not None:
            x, names = np.concatenate([x, self.timeframe_matrix(rows)], axis=1), [*names, TIMEFRAME_FEATURE]
        if frame is not None and self.codec.relative:
            units = target_unit_features(bq, names)
            x = x.copy()
            x[:, units] = x[:, units] / frame.scale[:, None]
        scale = frame.scale if frame is not None and self.codec.relative else None
        if (scale is not None or self.task_type is TaskType.binary) and bq.is_temporal \
                and ANCHOR in rows.column_names:
            ratios = self.level_ratios(bq, graph, rows, scale)
            x = np.concatenate([x, ratios], axis=1)
            names = names + [f"{LEVEL_FEATURE}{i + 1}" for i in range(ratios.shape[1])]
        return names, x

    def level_ratios(self, bq: BoundQuery, graph: Graph, rows: pa.Table, scale: np.ndarray | None) -> np.ndarray:
        """``[N, 12]``: the population level at each of the row's past anchors ``t - iD`` over the
        level the row is divided by (``scale``; a binary target's positive rates as they are), NaN
        where none. How the target's level moved over the last year — its calendar, a trend —
        in units that do not move with its scale."""
        column = rows.column(ANCHOR).cast(pa.timestamp("us"))
        distinct = [a for a in pc.unique(column).to_pylist() if a is not None]
        found = self.level_cache(bq, graph).past(distinct)
        n = max(LEVEL_SPANS)
        table = np.full((len(distinct) + 1, n), np.nan)  # the last row: a row without an anchor
        for r, a in enumerate(distinct):
            for i, v in enumerate(found.get(a) or []):
                if v is not None:
                    table[r, i] = v
        where = pc.index_in(column, pa.array(distinct, pa.timestamp("us"))).fill_null(len(distinct))
        out = table[np.asarray(where.to_numpy(zero_copy_only=False), np.int64)]
        ratios: np.ndarray = out if scale is None else out / scale[:, None]
        return ratios

    def recent_matrix(self, bq: BoundQuery, graph: Graph, rows: pa.Table) -> torch.Tensor | None:
        """Link prediction ``[N, I]``: ``1/sqrt(1 + rank)`` for the entity's recent distinct items
        (most recent rank 0), 0 for the others."""
        if self.task_type is not TaskType.link_prediction:
            return None
        import torch

        items = recent_items(bq, graph, rows, n=RECENT_ITEMS).column("ITEMS").to_pylist()
        index = {k: i for i, k in enumerate(self.codec.items)}
        out = torch.zeros((rows.num_rows, len(self.codec.items)))
        for r, lst in enumerate(items):
            for rank, item in enumerate(lst or []):
                if item in index:
                    out[r, index[item]] = 1.0 / (1.0 + rank) ** 0.5
        return out

    # -- outputs ---------------------------------------------------------------------------
    def scored(self, graph: Graph, anchor: datetime | None, entities: pa.Array | list[Any]) -> tuple[pa.Table, np.ndarray, np.ndarray]:
        """``(rows, embeddings, predictions)``, remembered for the last call: a job that writes
        predictions and embeddings of the same entities scores them once."""
        rows = self.rows(entities, anchor)
        key = (anchor, _fingerprint(rows.column(ENTITY).combine_chunks()))
        last = self._last
        if last is not None and last[0]() is graph and last[1] == key:
            hit: tuple[pa.Table, np.ndarray, np.ndarray] = last[2]
            return hit
        emb, pred = self.score(graph, rows)
        self._last = (weakref.ref(graph), key, (rows, emb, pred), self._x)
        return rows, emb, pred

    def boosting_features(self, graph: Graph, anchor: datetime | None,
                          entities: pa.Array | list[Any]) -> np.ndarray | None:
        """LightGBM's input matrix ``[N, F]`` (the booster's feature order) for ``entities``, as
        the last :meth:`scored` call computed it; None for a model without a booster."""
        self.scored(graph, anchor, entities)
        return self._last[3] if self._last is not None else None

    def predict(self, graph: Graph, anchor: datetime | None, entities: pa.Array | list[Any], *,
                threshold: float = 0.5, num_classes: int | None = None, top_k: int | None = None) -> pa.Table:
        """The PQL.md output table for ``entities`` at ``anchor`` (rows in entity order)."""
        rows, _, pred = self.scored(graph, anchor, entities)
        return format_predictions(self, rows, pred, threshold=threshold, num_classes=num_classes, top_k=top_k)

    def explain(self, graph: Graph, anchor: datetime | None, entities: pa.Array | list[Any],
                k: int = 5, exact: bool = False) -> pa.Table:
        """Each entity's top ``k`` inputs: ``ENTITY, [ANCHOR_TIMESTAMP,] RANK, FEATURE, VALUE,
        CONTRIBUTION`` (see :mod:`relpredict.model.explain`; ``exact``: LightGBM's TreeSHAP)."""
        return explanations(self, graph, anchor, entities, k, exact)

    def embed(self, graph: Graph, anchor: datetime | None, entities: pa.Array | list[Any]) -> pa.Table:
        """``ENTITY, [ANCHOR_TIMESTAMP,] EMBEDDINGS`` (list<float32>) for ``entities`` (a
        forecast's: those of its first timeframe, one row per entity)."""
        rows, emb, _ = self.scored(graph, anchor, entities)
        if TIMEFRAME in rows.column_names:
            first = np.flatnonzero(rows.column(TIMEFRAME).to_numpy(zero_copy_only=False) == 1)
            rows, emb = rows.take(pa.array(first, pa.int64())).drop_columns([TIMEFRAME]), emb[first]
        emb = np.nan_to_num(np.asarray(emb, dtype=np.float32), nan=0.0, posinf=0.0, neginf=0.0)
        flat = pa.array(np.ascontiguousarray(emb).reshape(-1))
        width = emb.shape[1] if emb.ndim == 2 else 0
        offsets = pa.array(np.arange(rows.num_rows + 1, dtype=np.int32) * width)
        return rows.append_column("EMBEDDINGS", pa.ListArray.from_arrays(offsets, flat))


def feature_embedding_spec(booster: Booster, x_train: np.ndarray) -> dict[str, list[Any]]:
    """The features of a LightGBM-only embedding: the :data:`EMBEDDING_FEATURES` of highest gain,
    with their mean and standard deviation over the training rows (NaN ignored; a feature never
    present gets mean 0, a constant one std 1)."""
    names = [name for name, _ in booster.importance(EMBEDDING_FEATURES)]
    position = {name: i for i, name in enumerate(booster.features)}
    cols = x_train[:, [position[name] for name in names]].astype(np.float64)
    present = ~np.isnan(cols)
    count = present.sum(axis=0)
    mean = np.where(present, cols, 0.0).sum(axis=0) / np.maximum(count, 1)
    var = np.where(present, (cols - mean) ** 2, 0.0).sum(axis=0) / np.maximum(count, 1)
    std = np.sqrt(var)
    std = np.where(np.isfinite(std) & (std > 1e-12), std, 1.0)
    return {"features": names, "mean": [float(m) for m in mean], "std": [float(s) for s in std]}


def needed(value: T | None, what: str) -> T:
    """``value``, which the model's kind guarantees; ``None`` means an incomplete artifact."""
    if value is None:
        raise ConfigError(f"The model has no {what}: its artifact is incomplete. Retrain it.")
    return value


def target_unit_features(bq: BoundQuery, names: list[str]) -> list[int]:
    """Positions of the features measured in the target's units: aggregates of the column the
    target aggregates (``orders.amount.sum_30d``, also through a parent route ``a>orders.amount.*``),
    and ``T.count`` features for a ``COUNT(T.*)`` target. (The history of a relative model is
    relative already: see :meth:`TrainedModel.history_and_past`.)"""
    prefixes, exact = [], []
    for agg in aggregations(bq.target):
        if agg.func in ("SUM", "AVG", "MIN", "MAX", "FIRST", "LAST") and agg.column.column != "*":
            prefixes.append(f"{agg.column.table}.{agg.column.column}.")
        elif agg.func == "COUNT":
            exact.append(f"{agg.column.table}.count")
    out = []
    for i, name in enumerate(names):
        tail = name.rsplit(">", 1)[-1]
        if tail.startswith(tuple(prefixes)) or tail in exact:
            out.append(i)
    return out


def mix(pred: np.ndarray, base: np.ndarray, weight: float) -> np.ndarray:
    """``(1 - weight) * pred + weight * base``, the learners' prediction mixed with a baseline's."""
    return (1.0 - weight) * np.asarray(pred, np.float64) + weight * np.asarray(base, np.float64)


def _first_present(hist: pa.Table | None, columns: tuple[str, ...], fallback: np.ndarray) -> np.ndarray:
    """Per row, the first of ``columns`` that is not NaN, else ``fallback``."""
    out = np.asarray(fallback, np.float64).copy()
    if hist is None:
        return out
    for col in reversed(columns):
        if col in hist.column_names:
            values = np.asarray(hist.column(col).to_numpy(zero_copy_only=False), dtype=np.float64)
            out = np.where(np.isnan(values), out, values)
    return out


def _fingerprint(values: pa.Array) -> str:
    """A digest of an entity array (numbers by their bytes, strings joined)."""
    if pa.types.is_string(values.type) or pa.types.is_large_string(values.type):
        data = "\x00".join(str(v) for v in values.to_pylist()).encode()
    else:
        data = values.to_numpy(zero_copy_only=False).tobytes()
    return hashlib.blake2b(data, digest_size=16).hexdigest()

