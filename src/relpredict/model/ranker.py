"""RANK TOP k as a two-stage recommender: item candidates, then a LightGBM ranker over pairs.

Stage one (:func:`relpredict.features.candidates.candidate_pairs`) proposes, per (entity,
anchor), the entity's own past items, the popular items of recent windows and the items that
co-occur with the entity's recent items, each with pair features. Stage two is a LightGBM
``lambdarank`` model over those features, trained on the training anchors' candidates (label:
the item is in the entity's target list) and early-stopped on validation MAP@k. Whether items
repeat is learned from the data through the own-item features, never configured.

The same candidates feed the ranking baselines (:data:`RULES`): the entity's own items by
recency or count then the popular ones, the popular items (of the last window or the last 4),
the popular items minus what the entity already has, co-occurrence. Scores come back as dense
``[N, I]`` matrices in the codec's item order; items that are no candidate get :data:`FILL`,
below every candidate.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import lightgbm as lgb
import numpy as np
import pyarrow as pa

from relpredict.errors import ArtifactError
from relpredict.features.candidates import (
    FEATURES,
    ItemColumns,
    Sample,
    candidate_pairs,
    item_columns,
)
from relpredict.graph.graph import Graph
from relpredict.model import metrics
from relpredict.query.bound import BoundQuery

FILL = -2.0
MAX_GROUPS = 20_000  # training (entity, anchor) groups, most recent anchors first
COOC_ENTITIES = 20_000  # entities whose baskets co-occurrence reads (a hash sample beyond that)
PARAMS: dict[str, Any] = {
    "objective": "lambdarank", "metric": "map", "learning_rate": 0.05, "num_leaves": 31,
    "min_data_in_leaf": 50, "feature_fraction": 0.9, "lambda_l2": 1.0, "verbosity": -1,
    "deterministic": True, "force_row_wise": True, "num_threads": 2, "lambdarank_truncation_level": 30,
}
ROUNDS, EARLY_STOP = 1000, 50


@dataclass
class Pairs:
    """The candidates of ``n_rows`` rows: ``row`` and ``item`` positions ``[P]`` (items in the
    codec's order) and their features ``x`` ``[P, F]`` (columns :data:`FEATURES`)."""

    row: np.ndarray
    item: np.ndarray
    x: np.ndarray
    n_rows: int
    n_items: int
    names: list[str] = field(default_factory=lambda: list(FEATURES))

    def col(self, name: str) -> np.ndarray:
        return self.x[:, self.names.index(name)]

    def dense(self, scores: np.ndarray) -> np.ndarray:
        """Pair scores → ``[N, I]``, :data:`FILL` where an item is no candidate."""
        out = np.full((self.n_rows, self.n_items), FILL)
        out[self.row, self.item] = scores
        return out

    def labels(self, truth: list[list[int]]) -> np.ndarray:
        """1 where the pair's item is in its row's truth (item positions), else 0."""
        wanted = {(r, i) for r, items in enumerate(truth) for i in items}
        return np.fromiter(((int(r), int(i)) in wanted for r, i in zip(self.row, self.item, strict=True)),
                           dtype=np.float64, count=len(self.row))

    def recall(self, truth: list[list[int]]) -> float:
        """The share of true items among the candidates: the ceiling of any ranking over them."""
        total = sum(len(t) for t in truth)
        return float(self.labels(truth).sum() / total) if total else float("nan")


def pairs_of(bq: BoundQuery, graph: Graph, rows: pa.Table, items: list[Any], sample: Sample,
             columns: ItemColumns = ItemColumns()) -> Pairs:
    """The candidate pairs of ``rows`` whose item is one of ``items`` (the model's item order)."""
    table = candidate_pairs(bq, graph, rows, sample, columns)
    names = list(FEATURES) + columns.features()
    index = {k: i for i, k in enumerate(items)}
    keys = table.column("ITEM").to_pylist()
    pos = np.fromiter((index.get(k, -1) for k in keys), dtype=np.int64, count=len(keys))
    keep = pos >= 0
    x = np.stack([np.asarray(table.column(f).to_numpy(zero_copy_only=False), dtype=np.float64)
                  for f in names], axis=1) if table.num_rows else np.zeros((0, len(names)))
    row = np.asarray(table.column("__row").to_numpy(zero_copy_only=False), dtype=np.int64)
    return Pairs(row[keep], pos[keep], x[keep], rows.num_rows, len(items), names)


# -- baselines over the candidates --------------------------------------------------------
def _own(p: Pairs) -> np.ndarray:
    return p.col("own.count_all") > 0


def _had(p: Pairs) -> np.ndarray:
    """The entity had the item in any fact row, counted by the target or not."""
    return p.col("any.count_all") > 0 if "any.count_all" in p.names else _own(p)


def _recent(p: Pairs) -> np.ndarray:
    """The entity's own items by recency (rank 1 = most recent) in (1, 2], others 0."""
    rank = np.nan_to_num(p.col("own.rank"), nan=np.inf)
    return np.where(np.isfinite(rank), 1.0 + 1.0 / rank, 0.0)


def _popular(p: Pairs, share: str = "pop.share_1", tie: str = "pop.share_4") -> np.ndarray:
    return p.col(share) + 1e-3 * p.col(tie)


def _rule_own_recent(p: Pairs) -> np.ndarray:
    return np.where(_own(p), _recent(p), _popular(p))


def _rule_own_frequent(p: Pairs) -> np.ndarray:
    count = p.col("own.count_12") + 1e-3 * p.col("own.count_all")
    return np.where(_own(p), 1.0 + count / (1.0 + count) + 1e-3 * _recent(p), _popular(p))


def _rule_popular(p: Pairs) -> np.ndarray:
    return _popular(p)


def _rule_popular_4(p: Pairs) -> np.ndarray:
    return _popular(p, "pop.share_4", "pop.share_1")


def _rule_popular_new(p: Pairs) -> np.ndarray:
    return np.where(_had(p), -1.0, _popular(p))


def _rule_popular_new_4(p: Pairs) -> np.ndarray:
    return np.where(_had(p), -1.0, _popular(p, "pop.share_4", "pop.share_1"))


def _rule_cooc(p: Pairs) -> np.ndarray:
    score = p.col("cooc.score")
    return np.where(score > 0, 1.0 + score / (1.0 + score), _popular(p))


def _rule_cooc_new(p: Pairs) -> np.ndarray:
    return np.where(_had(p), -1.0, _rule_cooc(p))


RULES: dict[str, tuple[str, Callable[[Pairs], np.ndarray]]] = {
    "own_recent": ("own items by recency, then popular", _rule_own_recent),
    "own_frequent": ("own items by count, then popular", _rule_own_frequent),
    "popular": ("popular in the last window", _rule_popular),
    "popular_4": ("popular in the last 4 windows", _rule_popular_4),
    "popular_new": ("popular in the last window, minus own items", _rule_popular_new),
    "popular_new_4": ("popular in the last 4 windows, minus own items", _rule_popular_new_4),
    "cooc": ("co-occurring with recent items, then popular", _rule_cooc),
    "cooc_new": ("co-occurring with recent items, minus own items", _rule_cooc_new),
}


def rule_scores(rule: str, pairs: Pairs) -> np.ndarray:
    """``[N, I]`` scores of a ranking baseline."""
    return pairs.dense(RULES[rule][1](pairs))


# -- the ranker -----------------------------------------------------------------------------
@dataclass
class Ranker:
    """The candidate sample and, once trained, the LightGBM ranker (text format)."""

    sample: int = 1000  # per mille of entities whose baskets co-occurrence reads
    columns: ItemColumns = field(default_factory=ItemColumns)
    model: str | None = None
    best_iteration: int = 0
    top_features: list[tuple[str, float]] = field(default_factory=list)
    trained_on: list[str] = field(default_factory=list)  # the booster's feature columns, in order
    _loaded: lgb.Booster | None = field(default=None, repr=False)

    @classmethod
    def for_graph(cls, bq: BoundQuery, graph: Graph) -> Ranker:
        """The item columns to read and a co-occurrence sample of about :data:`COOC_ENTITIES`
        entities (both fixed per model)."""
        entities = graph.row_count(bq.entity_table)
        per_mille = 1000 if entities <= COOC_ENTITIES else max(1, int(1000 * COOC_ENTITIES / entities))
        return cls(sample=per_mille, columns=item_columns(bq, graph))

    def pairs(self, bq: BoundQuery, graph: Graph, rows: pa.Table, items: list[Any]) -> Pairs:
        return pairs_of(bq, graph, rows, items, Sample(self.sample), self.columns)

    @property
    def features(self) -> list[str]:
        return list(FEATURES) + self.columns.features()

    def fit(self, train: Pairs, train_truth: list[list[int]], val: Pairs, val_truth: list[list[int]],
            k: int, seed: int) -> None:
        """Train lambdarank on the groups with at least one true candidate; early stopping on
        the validation groups' MAP@k."""
        xt, yt, gt = _groups(train, train.labels(train_truth))
        xv, yv, gv = _groups(val, val.labels(val_truth))
        params = {**PARAMS, "eval_at": [k], "seed": seed}
        dtrain = lgb.Dataset(xt, yt, group=gt, feature_name=[f"f{i}" for i in range(len(self.features))],
                             free_raw_data=False)
        valid = [lgb.Dataset(xv, yv, group=gv, reference=dtrain)] if len(gv) else None
        callbacks: list[Callable[..., Any]] = [lgb.early_stopping(EARLY_STOP, verbose=False)] if valid else []
        booster = lgb.train(params, dtrain, num_boost_round=ROUNDS if valid else 200, valid_sets=valid,
                            callbacks=callbacks)
        self.best_iteration = int(booster.best_iteration or booster.current_iteration())
        self.model = booster.model_to_string(num_iteration=self.best_iteration)
        gain = booster.feature_importance("gain", iteration=self.best_iteration)
        order = np.argsort(-gain)[:10]
        self.top_features = [(self.features[i], float(gain[i])) for i in order]
        self.trained_on = list(self.features)
        self._loaded = None

    def predict(self, pairs: Pairs) -> np.ndarray:
        """``[N, I]``: candidates scored in (0, 1) (a sigmoid of the ranker's score), others FILL."""
        if self.model is None:
            raise ValueError("this ranker is not trained")
        if self._loaded is None:
            self._loaded = lgb.Booster(model_str=self.model)
        names = self.trained_on or pairs.names
        missing = [n for n in names if n not in pairs.names]
        if missing:
            raise ArtifactError(f"this model's ranker was trained on pair features this version does not "
                                f"compute ({', '.join(missing[:3])}); retrain the model")
        x = pairs.x[:, [pairs.names.index(n) for n in names]] if names != pairs.names else pairs.x
        raw = self._loaded.predict(x) if len(pairs.row) else np.zeros(0)
        return pairs.dense(1.0 / (1.0 + np.exp(-np.asarray(raw, np.float64))))

    def to_dict(self) -> dict[str, Any]:
        return {"sample": self.sample, "numeric": list(self.columns.numeric),
                "categorical": list(self.columns.categorical), "context": list(self.columns.context),
                "model": self.model,
                "best_iteration": self.best_iteration, "top_features": self.top_features,
                "trained_on": self.trained_on}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Ranker:
        columns = ItemColumns(tuple(d.get("numeric", [])), tuple(d.get("categorical", [])),
                              tuple(d.get("context", [])))
        return cls(int(d["sample"]), columns, d.get("model"), int(d.get("best_iteration", 0)),
                   [tuple(f) for f in d.get("top_features", [])],
                   list(d.get("trained_on") or list(FEATURES)[:24] + columns.features()))


def _groups(pairs: Pairs, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairs of the rows with a true candidate, and their group sizes (pairs are row-ordered)."""
    positives = np.bincount(pairs.row, weights=labels, minlength=pairs.n_rows)
    keep = positives[pairs.row] > 0
    rows = pairs.row[keep]
    sizes = np.bincount(rows, minlength=pairs.n_rows)
    return pairs.x[keep], labels[keep], sizes[sizes > 0]


def map_at(scores: np.ndarray, truth: list[list[int]], k: int) -> float:
    ranked = np.argsort(-scores, axis=1, kind="stable")[:, :k].tolist()
    return metrics.map_at_k(truth, ranked, k)


def row_standardize(scores: np.ndarray) -> np.ndarray:
    """Per row ``(s - mean) / std``, so that scores of different rankers can be blended."""
    s = np.asarray(scores, np.float64)
    if s.size == 0:
        return s
    mean = s.mean(axis=1, keepdims=True)
    std = s.std(axis=1, keepdims=True)
    out: np.ndarray = (s - mean) / np.where(std > 0, std, 1.0)
    return out
