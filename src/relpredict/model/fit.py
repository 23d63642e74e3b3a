"""Training a model for a predictive query: splits, features, GNN, LightGBM, blend, calibration.

Steps (each reported to ``progress``):

1. Bind the query, build the time-based split (:func:`relpredict.labels.labels.anchor_schedule`;
   static queries split entities by a hash of their key) and the label tables.
2. Seed features: the target history of every example (temporal queries).
3. ``gnn``: fit the column encoders on rows up to the first validation anchor, train the GNN with
   early stopping on validation.
4. ``lightgbm``: automatic aggregate features plus the history, LightGBM with early stopping.
5. ``auto`` (the default) trains both and picks the blend weight on validation.
6. Baselines (:mod:`relpredict.model.baselines`): every heuristic of the task type is scored on
   validation; the best one is kept, and ``auto`` mixes it into the learners' prediction with
   the weight that is best on validation (1 means the baseline alone: ``kind = "baseline"``).
   A model that does not beat the best baseline on validation gets a warning.
7. Binary probabilities are calibrated on validation (Platt); the expected calibration error
   before and after is recorded. Validation and test metrics are computed through the same
   ``TrainedModel.score`` path that batch prediction uses.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import torch

from relpredict.errors import ConfigError
from relpredict.features.fit import fit_feature_spec
from relpredict.features.history import (
    class_column,
    fit_target_classes,
    history_and_past,
    recent_class_shares,
)
from relpredict.graph.graph import Graph
from relpredict.labels.labels import anchor_schedule, split_tables, training_table
from relpredict.labels.sql import ANCHOR, ENTITY, TARGET, TIMEFRAME
from relpredict.model import baselines, drift, metrics
from relpredict.model.boosting import Booster
from relpredict.model.calibration import Platt
from relpredict.model.gnn_config import GNNConfig
from relpredict.model.gnn_fit import Seeds
from relpredict.model.graph_encoding import fit_encoders
from relpredict.model.predictor import (
    Frame,
    GNNPart,
    ModelKind,
    TrainedModel,
    feature_embedding_spec,
    needed,
)
from relpredict.model.ranker import MAX_GROUPS, Ranker
from relpredict.model.seedfeatures import Standardizer, feature_matrix
from relpredict.model.targets import TargetCodec
from relpredict.model.tensors import graph_to_hetero
from relpredict.query.binder import bind
from relpredict.query.bound import BoundQuery, TaskType

Progress = Callable[[str, int, int], None]
KINDS = ("auto", "gnn", "lightgbm")


@dataclass(frozen=True)
class TrainOptions:
    """What to train and how (``kind``: auto | gnn | lightgbm)."""

    kind: str = "auto"  # auto, gnn or lightgbm (checked by train_model)
    seed: int = 0
    gnn: GNNConfig = field(default_factory=GNNConfig)
    val_start: datetime | None = None
    test_start: datetime | None = None
    max_eval: int = 40
    history_k: int = 24
    threads: int = 1  # torch threads while training: one is fastest for these small batches


@contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run with ``n`` torch threads, restoring the previous setting afterwards.

    Sparse message passing on small batches is dominated by thread synchronisation: on a busy
    2-core machine one thread runs it several times faster than two.
    """
    before = torch.get_num_threads()
    torch.set_num_threads(max(1, n))
    try:
        yield
    finally:
        torch.set_num_threads(before)


def train_model(graph: Graph, query: str | BoundQuery, options: TrainOptions | None = None,
                progress: Progress | None = None) -> TrainedModel:
    """Train a model for ``query`` on ``graph`` (see the module docstring)."""
    opts = options or TrainOptions()
    with torch_threads(opts.threads):
        return _train(graph, query, opts, progress)


def _train(graph: Graph, query: str | BoundQuery, opts: TrainOptions, progress: Progress | None) -> TrainedModel:
    if opts.kind not in KINDS:
        raise ConfigError(f"Unknown model kind {opts.kind!r}; use one of {', '.join(KINDS)}.")
    report = progress or (lambda stage, done, total: None)
    began = time.perf_counter()
    torch.manual_seed(opts.seed)
    bq = query if isinstance(query, BoundQuery) else bind(query, graph)
    report("building labels", 0, 1)
    splits, cutoff = _splits(bq, graph, opts)
    model = _skeleton(bq, graph, splits["train"], opts)
    report("target history", 0, 1)
    hist, past = _history(model, bq, graph, splits)
    frames = _fit_regression(model, bq, graph, splits, hist)
    preds: dict[str, dict[str, np.ndarray]] = {}
    seconds: dict[str, float] = {"labels_and_history": round(time.perf_counter() - began, 2)}
    if opts.kind in ("auto", "gnn"):
        t0 = time.perf_counter()
        preds["gnn"] = _train_gnn(model, bq, graph, splits, hist, frames, cutoff, opts, report)
        seconds["gnn"] = round(time.perf_counter() - t0, 2)
    if bq.task_type is TaskType.link_prediction:
        t0 = time.perf_counter()
        past = _link_pairs(model, bq, graph, splits, train=opts.kind in ("auto", "lightgbm"))
        if "train" in past:
            preds["lightgbm"] = _train_ranker(model, splits, past, opts, report)
        seconds["lightgbm"] = round(time.perf_counter() - t0, 2)
    elif opts.kind in ("auto", "lightgbm"):
        t0 = time.perf_counter()
        preds["lightgbm"] = _train_booster(model, bq, graph, splits, hist, frames, opts, report)
        seconds["lightgbm"] = round(time.perf_counter() - t0, 2)
    model.info["seconds"] = seconds
    _choose(model, splits, preds)
    base_preds = _baselines(model, splits, past, preds, mixing=opts.kind == "auto")
    report("evaluating", 0, 1)
    _calibrate_and_score(model, bq, graph, splits, preds, base_preds)
    model.info["train_seconds"] = round(time.perf_counter() - began, 2)
    return model


# -- splits --------------------------------------------------------------------------------
def _splits(bq: BoundQuery, graph: Graph, opts: TrainOptions) -> tuple[dict[str, pa.Table], datetime | None]:
    """Label tables per split and the time up to which encoders may look (first val anchor)."""
    if bq.is_temporal:
        schedule = anchor_schedule(bq, graph, val_start=opts.val_start, test_start=opts.test_start,
                                   max_eval=opts.max_eval)
        tables = split_tables(bq, graph, schedule)
        cutoff = schedule.val[0] if schedule.val else schedule.test[0]
    else:
        tables, cutoff = _static_splits(training_table(bq, graph)), None
    for name in ("train", "val"):
        if tables.get(name) is None or tables[name].num_rows == 0:
            raise ConfigError(f"The {name} split of this query has no labelled rows: the data is too "
                              "short or the query's filters exclude every entity.")
    tables.setdefault("test", tables["val"].slice(0, 0))
    return tables, cutoff


def _static_splits(table: pa.Table) -> dict[str, pa.Table]:
    """80 / 10 / 10 by a stable hash of the entity key (same split in every run)."""
    keys = table.column(ENTITY).to_pylist()
    bucket = np.array([int.from_bytes(hashlib.blake2b(str(k).encode(), digest_size=4).digest(), "little") % 10
                       for k in keys])
    return {"train": table.filter(pa.array(bucket < 8)), "val": table.filter(pa.array(bucket == 8)),
            "test": table.filter(pa.array(bucket == 9))}


def _skeleton(bq: BoundQuery, graph: Graph, train: pa.Table, opts: TrainOptions) -> TrainedModel:
    items = None
    if bq.task_type is TaskType.link_prediction:
        items = graph_to_hetero(graph)[1].keys[needed(bq.item_table, "item table")].tolist()
    codec = TargetCodec.fit(bq.task_type, train.column(TARGET), items=items)
    info: dict[str, Any] = {"temporal": bq.is_temporal, "entity_table": bq.entity_table,
                            "entity_key": bq.entity_key, "item_table": bq.item_table}
    if bq.forecast is not None:  # the timeframes and the farthest one trained on
        info["forecast"] = bq.forecast
        info["forecast_trained"] = int(max(train.column(TIMEFRAME).to_pylist()))
    model = TrainedModel(query_text=bq.text, task_type=bq.task_type, kind=cast(ModelKind, opts.kind), seed=opts.seed,
                         codec=codec, top_k=bq.rank_top or 10, info=info)
    if bq.is_temporal and bq.task_type is not TaskType.link_prediction and opts.history_k > 0:
        model.history, model.history_k = Standardizer([], [], []), opts.history_k
    return model


def _history(model: TrainedModel, bq: BoundQuery, graph: Graph, splits: dict[str, pa.Table]
             ) -> tuple[dict[str, pa.Table | None], dict[str, Sequence[Sequence[Any]] | None]]:
    """Raw target history per split, and the past labels of the evaluation splits (for the
    baselines); fits the history standardiser on the training split."""
    if model.history is None:
        return {name: None for name in splits}, {name: None for name in splits}
    classes = fit_target_classes(bq, graph, _keys(splits["train"]))
    model.info["history_classes"] = classes
    levels = model.level_cache(bq, graph).anchor_levels if model.codec.relative else None
    raw: dict[str, pa.Table | None] = {}
    past: dict[str, Sequence[Sequence[Any]] | None] = {}
    rows_classes = class_column(bq, graph) is not None
    for name, rows in splits.items():
        raw[name], past[name] = history_and_past(bq, graph, _keys(rows), k=model.history_k,
                                                 classes=classes, past=name != "train", levels=levels)
        if rows_classes and past[name] is not None:
            shares = recent_class_shares(bq, graph, _keys(rows), model.codec.classes)
            past[name] = baselines.History(past[name] or [], shares)
    return raw, past


def _fit_regression(model: TrainedModel, bq: BoundQuery, graph: Graph, splits: dict[str, pa.Table],
                    hist: dict[str, pa.Table | None]) -> dict[str, Frame | None]:
    """The regression frame ``(base, scale)`` of every split, the normalisation of the GNN's
    relative target ``z = (y - base) / scale`` (training statistics), and the history
    standardiser (fitted here, after the frame, because a relative model's history is divided
    by the population level)."""
    frames: dict[str, Frame | None] = {name: None for name in splits}
    if model.task_type is TaskType.regression:
        y = model.codec.encode(splits["train"].column(TARGET))
        model.info["base_fallback"] = float(np.mean(y))
        keys = {name: _keys(rows) for name, rows in splits.items()}
        if model.codec.relative:
            levels = model.population_scale(bq, graph, keys["train"])
            model.codec.floor = float(max(np.median(levels), 1e-6)) if len(levels) else 1.0
            levels = model.population_scale(bq, graph, keys["train"])  # the floor where there is no level
            model.info["base_fallback_relative"] = float(np.mean(y / levels))
        frames = {name: model.regression_frame(bq, graph, keys[name], hist[name]) for name in splits}
        model.codec.fit_relative(needed(frames["train"], "regression frame").to_relative(y))
    if model.history is not None and hist["train"] is not None:
        model.history = Standardizer.fit(*feature_matrix(hist["train"]))
    return frames


def _keys(rows: pa.Table) -> pa.Table:
    return rows.select([c for c in rows.column_names if c in (ENTITY, ANCHOR, TIMEFRAME)])


# -- the two learners ---------------------------------------------------------------------
def _train_gnn(model: TrainedModel, bq: BoundQuery, graph: Graph, splits: dict[str, pa.Table],
               hist: dict[str, pa.Table | None], frames: dict[str, Frame | None], cutoff: datetime | None,
               opts: TrainOptions, report: Progress) -> dict[str, np.ndarray]:
    report("encoding columns", 0, 1)
    encoders = fit_encoders(graph, cutoff)
    extra_dim = (model.history.width if model.history is not None else 0) + (model.forecast is not None)
    edge_types = [tuple(et) for et in graph_to_hetero(graph)[0].edge_types]
    model.gnn = GNNPart(opts.gnn, encoders, edge_types, {}, extra_dim)
    torch.manual_seed(opts.seed)
    trainer = needed(model.runtime(graph).trainer, "GNN")  # built for this graph, and kept
    model.gnn.state = trainer.model.state_dict()
    seeds = {name: _seeds(model, bq, graph, rows, hist[name], frames[name]) for name, rows in splits.items()}
    history = trainer.fit(seeds["train"], seeds["val"], opts.seed,
                             progress=lambda stage, d, t: report(f"GNN {stage}", d, t))
    model.gnn.state = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    model.info["gnn_epochs"] = history
    return {name: trainer.predict(s)[1] for name, s in seeds.items() if name != "train"}


def _seeds(model: TrainedModel, bq: BoundQuery, graph: Graph, rows: pa.Table, hist: pa.Table | None,
           frame: Frame | None) -> Seeds:
    """GNN examples of one split, with their encoded targets."""
    keys = _keys(rows)
    seeds = model.seeds(graph, keys, model.extra_matrix(hist, keys),
                        model.recent_matrix(bq, graph, keys), frame)
    if model.task_type is TaskType.link_prediction:
        index = {k: i for i, k in enumerate(model.codec.items)}
        seeds.truth = [[index[i] for i in (lst or []) if i in index] for lst in rows.column(TARGET).to_pylist()]
    else:
        seeds.y = model.codec.encode(rows.column(TARGET))
    return seeds


def _train_booster(model: TrainedModel, bq: BoundQuery, graph: Graph, splits: dict[str, pa.Table],
                   hist: dict[str, pa.Table | None], frames: dict[str, Frame | None], opts: TrainOptions,
                   report: Progress) -> dict[str, np.ndarray]:
    report("aggregate features", 0, 1)
    model.feature_spec = fit_feature_spec(bq, graph, _keys(splits["train"]))
    xs: dict[str, np.ndarray] = {}
    names: list[str] = []
    for name, rows in splits.items():
        names, xs[name] = model.boosting_inputs(bq, graph, _keys(rows), hist[name], frames[name])
    y = {name: model.codec.encode(rows.column(TARGET)) for name, rows in splits.items()}
    weight: dict[str, np.ndarray | None] = {name: None for name in splits}
    if model.task_type is TaskType.regression and model.codec.relative:  # L1 on z weighted by the scale is L1 on y
        relative = {name: needed(frames[name], "regression frame") for name in splits}
        weight = {name: relative[name].scale for name in splits}
        y = {name: relative[name].unbased().to_relative(y[name]) for name in splits}
    report("LightGBM", 0, 1)
    model.booster = Booster.fit(model.codec, names, xs["train"], y["train"], xs["val"], y["val"], opts.seed,
                                weight_train=weight["train"], weight_val=weight["val"])
    model.info["lightgbm_top_features"] = model.booster.importance()
    model.info["embedding"] = feature_embedding_spec(model.booster, xs["train"])
    model.info["drift"] = {"features": feature_references(model.booster, xs["val"])}
    return {name: model.booster_predict(x, frames[name]) for name, x in xs.items() if name != "train"}


def _link_pairs(model: TrainedModel, bq: BoundQuery, graph: Graph, splits: dict[str, pa.Table],
                train: bool) -> dict[str, Any]:
    """Ranking: the item candidates of the evaluation splits (for the ranker and the
    baselines), and with ``train`` of the latest :data:`ranker.MAX_GROUPS` training rows."""
    model.ranker = Ranker.for_graph(bq, graph)
    items = model.codec.items
    out: dict[str, Any] = {name: model.ranker.pairs(bq, graph, _keys(rows), items)
                           for name, rows in splits.items() if name != "train" and rows.num_rows}
    if train:
        rows = _latest(splits["train"], MAX_GROUPS)
        out["train"] = model.ranker.pairs(bq, graph, _keys(rows), items)
        out["train_rows"] = rows
    return out


def _latest(rows: pa.Table, n: int) -> pa.Table:
    """At most ``n`` rows, those of the latest anchors first (whole anchors)."""
    if rows.num_rows <= n or ANCHOR not in rows.column_names:
        return rows
    anchors = rows.column(ANCHOR).to_numpy(zero_copy_only=False)
    order = np.argsort(-anchors.astype("datetime64[us]").astype(np.int64), kind="stable")
    cutoff = anchors[order[n - 1]]
    return rows.filter(pa.array(anchors >= cutoff))


def _train_ranker(model: TrainedModel, splits: dict[str, pa.Table], pairs: dict[str, Any],
                  opts: TrainOptions, report: Progress) -> dict[str, np.ndarray]:
    report("LightGBM ranker", 0, 1)
    truth = {name: _truth(model, splits[name]) for name in splits if name in pairs}
    truth["train"] = _truth(model, pairs["train_rows"])
    ranker = needed(model.ranker, "ranker")
    ranker.fit(pairs["train"], truth["train"], pairs["val"], truth["val"], model.top_k, opts.seed)
    model.info["ranker_top_features"] = ranker.top_features
    model.info["candidate_recall"] = {name: pairs[name].recall(truth[name]) for name in ("val", "test")
                                      if name in pairs}
    return {name: ranker.predict(pairs[name]) for name in ("val", "test") if name in pairs}


def _truth(model: TrainedModel, rows: pa.Table) -> list[list[int]]:
    index = {k: i for i, k in enumerate(model.codec.items)}
    return [[index[i] for i in (lst or []) if i in index] for lst in rows.column(TARGET).to_pylist()]


# -- blend, calibration, metrics -----------------------------------------------------------
def _choose(model: TrainedModel, splits: dict[str, pa.Table], preds: dict[str, dict[str, np.ndarray]]) -> None:
    """``auto``: the GNN weight in 0, 0.1, …, 1 with the best validation metric."""
    if "gnn" in preds and "lightgbm" in preds:
        y_val = _targets(model, splits["val"])
        best, best_w = None, 1.0
        for w in np.linspace(0, 1, 11):
            model.blend = float(w)
            blended = needed(model.combine(preds["gnn"]["val"], preds["lightgbm"]["val"]), "learner")
            score = baselines.evaluate(model.task_type, y_val, blended, model.top_k)
            if metrics.better(model.task_type, score, best):
                best, best_w = score, float(w)
        model.blend, model.kind = round(best_w, 2), "blend"
        model.info["blend_val"] = best
    elif "gnn" in preds:
        model.blend, model.kind = 1.0, "gnn"
    else:
        model.blend, model.kind = 0.0, "lightgbm"


def _targets(model: TrainedModel, rows: pa.Table) -> Any:
    """Encoded targets of labelled rows; for link prediction each row's true item positions."""
    if model.task_type is TaskType.link_prediction:
        return _truth(model, rows)
    return model.codec.encode(rows.column(TARGET))


def _baselines(model: TrainedModel, splits: dict[str, pa.Table], past: dict[str, Sequence[Sequence[Any]] | None],
               preds: dict[str, dict[str, np.ndarray]], mixing: bool) -> dict[str, dict[str, np.ndarray]]:
    """Scores every baseline on validation and keeps the best; with ``mixing`` (``auto``) mixes
    it into the learners' prediction with the weight in 0, 0.1, …, 1 best on validation.

    Returns each candidate's predictions of the evaluation splits, by baseline name.
    """
    task = model.task_type
    if past.get("val") is None:
        if task is TaskType.link_prediction:
            return {}
        past = {name: [[] for _ in range(rows.num_rows)] for name, rows in splits.items()}  # constants only
    codec = model.codec
    train_y = codec.encode(splits["train"].column(TARGET)) if task is not TaskType.link_prediction else None
    class_rows = isinstance(past["val"], baselines.History) and past["val"].shares is not None
    options = baselines.candidates(codec, np.zeros(0) if train_y is None else train_y, model.history_k,
                                   class_rows)
    if not options:
        return {}
    y_val = _targets(model, splits["val"])
    best, _ = baselines.choose(codec, options, past["val"], y_val, model.top_k)
    if best is None:
        return {}
    out = {b.name: {name: b.predict(codec, past[name] or []) for name in ("val", "test")
                    if past.get(name) is not None and splits[name].num_rows} for b in options}
    model.baseline = best
    learners = model.combine(preds.get("gnn", {}).get("val"), preds.get("lightgbm", {}).get("val"))
    if learners is None:
        model.baseline_weight, model.kind = 1.0, "baseline"
    elif mixing:
        base_val, best_score, best_w = out[best.name]["val"], None, 0.0
        for w in np.linspace(0, 1, 11):
            model.baseline_weight = float(w)
            score = baselines.evaluate(task, y_val, model.mix_baseline(learners, base_val), model.top_k)
            if metrics.better(task, score, best_score):
                best_score, best_w = score, round(float(w), 2)
        model.baseline_weight = best_w
        if best_w >= 1.0:
            model.kind = "baseline"
    return out


def _calibrate_and_score(model: TrainedModel, bq: BoundQuery, graph: Graph, splits: dict[str, pa.Table],
                         preds: dict[str, dict[str, np.ndarray]],
                         base_preds: dict[str, dict[str, np.ndarray]] | None = None) -> None:
    out: dict[str, Any] = {"rows": {name: rows.num_rows for name, rows in splits.items()}}
    raw = {}
    for name in ("val", "test"):
        rows = splits[name]
        if rows.num_rows:
            raw[name] = model.score(graph, _keys(rows), calibrated=False)[1]
    if model.task_type is TaskType.binary:
        y_val = model.codec.encode(splits["val"].column(TARGET))
        model.platt = Platt.fit(y_val, raw["val"])
        for name, p in raw.items():
            y = model.codec.encode(splits[name].column(TARGET))
            out[f"{name}_ece_before"] = metrics.ece(y, p)
            raw[name] = model.platt(p)
            out[f"{name}_ece_after"] = metrics.ece(y, raw[name])
    for name, p in raw.items():
        out[name] = evaluate(model, splits[name], p)
    for learner, by_split in preds.items():
        for name, p in by_split.items():
            if splits[name].num_rows:
                out[f"{name}_{learner}"] = evaluate(model, splits[name], p)
    out["candidates"] = _candidates(model, splits, preds, base_preds or {}, raw)
    if model.task_type is TaskType.binary:
        out["reliability"] = {name: metrics.reliability(model.codec.encode(splits[name].column(TARGET)), p)
                              for name, p in raw.items()}
    model.metrics = out
    model.info.setdefault("drift", {})["score"] = score_reference(model, raw["val"])
    model.train_entities = pc.unique(splits["train"].column(ENTITY).combine_chunks())
    _margin(model)


def _candidates(model: TrainedModel, splits: dict[str, pa.Table], preds: dict[str, dict[str, np.ndarray]],
                base_preds: dict[str, dict[str, np.ndarray]], final: dict[str, np.ndarray]) -> list[dict[str, Any]]:
    """The selection metric of every candidate on validation and test: each learner, the
    learners' blend, each baseline, and the chosen model."""
    rows: list[dict[str, Any]] = []

    def add(name: str, kind: str, by_split: dict[str, np.ndarray]) -> None:
        row: dict[str, Any] = {"name": name, "kind": kind}
        for split in ("val", "test"):
            if split in by_split and splits[split].num_rows:
                row[split] = selection_metric(model, splits[split], by_split[split])
        rows.append(row)

    for learner, by_split in preds.items():
        add(learner, "learner", by_split)
    if "gnn" in preds and "lightgbm" in preds:
        add("blend", "learner", {s: needed(model.combine(preds["gnn"][s], preds["lightgbm"][s]), "learner")
                                 for s in preds["gnn"] if s in preds["lightgbm"]})
    for name, by_split in base_preds.items():
        add(name, "baseline", by_split)
    add("chosen", "chosen", final)
    return rows


def feature_references(booster: Booster, x_val: np.ndarray) -> list[dict[str, Any]]:
    """The validation distribution of the booster's most important features (drift reference)."""
    position = {name: i for i, name in enumerate(booster.features)}
    return [{"name": name, **drift.numeric_reference(x_val[:, position[name]])}
            for name, _ in booster.importance(drift.TOP_FEATURES)]


def score_reference(model: TrainedModel, pred: np.ndarray) -> dict[str, Any]:
    """The validation distribution of what a job's drift check compares: the probability or value
    (binary, regression), else the shares of the top class or item."""
    if model.task_type in (TaskType.binary, TaskType.regression):
        return drift.numeric_reference(np.asarray(pred, np.float64))
    labels = model.codec.items if model.task_type is TaskType.link_prediction else model.codec.classes
    top = np.asarray(pred).argmax(1) if len(pred) else np.zeros(0, np.int64)
    return drift.categorical_reference([labels[i] for i in top])


def _margin(model: TrainedModel) -> None:
    """The chosen model's validation margin over the best baseline, and a warning when it has
    none (``models show`` and ``train`` print both)."""
    rows = model.metrics.get("candidates", [])
    base = [r for r in rows if r["kind"] == "baseline" and r.get("val") is not None and r["val"] == r["val"]]
    chosen = next((r for r in rows if r["kind"] == "chosen"), None)
    if not base or chosen is None or chosen.get("val") is None:
        return
    higher = metrics.SELECTION[model.task_type][1]
    best = max(base, key=lambda r: r["val"] if higher else -r["val"])
    margin = chosen["val"] - best["val"] if higher else best["val"] - chosen["val"]
    model.metrics["best_baseline"] = {"name": best["name"], "val": best["val"], "test": best.get("test"),
                                      "margin_val": margin}
    if margin <= 0 and model.kind != "baseline":
        model.info.setdefault("warnings", []).append(
            f"The {model.kind} model does not beat the baseline '{best['name']}' on validation "
            f"({_metric_name(model)} {chosen['val']:.4f} vs {best['val']:.4f}). Train with --model auto, "
            "which uses the baseline where it is better.")


def _metric_name(model: TrainedModel) -> str:
    name = metrics.SELECTION[model.task_type][0]
    return name.replace("@k", f"@{model.top_k}")


def selection_metric(model: TrainedModel, rows: pa.Table, pred: np.ndarray) -> float:
    """The task's selection metric of predictions of labelled ``rows``."""
    values = evaluate(model, rows, pred)
    return float(values[_metric_name(model)])


def evaluate(model: TrainedModel, rows: pa.Table, pred: np.ndarray) -> dict[str, float]:
    """All metrics of the task type for predictions of labelled ``rows``."""
    task, target = model.task_type, rows.column(TARGET)
    if task is TaskType.binary:
        y = model.codec.encode(target)
        return {"auroc": metrics.auroc(y, pred), "average_precision": metrics.average_precision(y, pred),
                "log_loss": metrics.log_loss(y, pred), "ece": metrics.ece(y, pred)}
    if task is TaskType.regression:
        y = model.codec.encode(target)
        return {"mae": metrics.mae(y, pred), "rmse": metrics.rmse(y, pred), "r2": metrics.r2(y, pred)}
    if task is TaskType.multiclass:
        return {"accuracy": metrics.accuracy(model.codec.encode(target), pred.argmax(1))}
    if task is TaskType.multilabel:
        return {"f1": metrics.multilabel_f1(model.codec.encode(target), pred >= 0.5)}
    index = {k: i for i, k in enumerate(model.codec.items)}
    truth = [[index[i] for i in (lst or []) if i in index] for lst in target.to_pylist()]
    ranked = np.argsort(-pred, axis=1, kind="stable")[:, :model.top_k].tolist()
    return {f"map@{model.top_k}": metrics.map_at_k(truth, ranked, model.top_k)}
