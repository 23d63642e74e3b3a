"""Explanations at batch scale: each entity's top k contributing inputs, with readable names.

* LightGBM (``lightgbm`` models, and the LightGBM part of ``blend`` models): path contributions
  (:func:`path_contributions`: the change of each tree's expected value along the row's path,
  credited to the split features, as XGBoost's ``approx_contribs``), at about a prediction's cost;
  LightGBM's exact TreeSHAP (``pred_contrib``) is ``booster_contributions(..., exact=True)``,
  some 50 times slower. Per entity either sums, with the bias, to the model's raw score
  (binary classification and regression: the mean raw score of the bagged boosters, log-odds or
  the value; multiclass: the predicted class's raw score; multilabel explains the entity's top
  class).
* GNN: gradient × input over input groups: the encoded rows of each table in the entity's sampled
  neighbourhood, and the target history. A first-order attribution of the head's raw output for
  the entity's top prediction, not an exact decomposition.

:func:`readable_feature` turns a feature name (``results.positionOrder.mean_last3``) into text
(``results.positionOrder mean of last 3 (results of the driver)``) from the names the feature
spec gives; :func:`explanations` builds the output table
``ENTITY, [ANCHOR_TIMESTAMP,] RANK, FEATURE, VALUE, CONTRIBUTION``.
"""

from __future__ import annotations

import re
import weakref
from datetime import datetime
from typing import Any

import numpy as np
import pyarrow as pa

from relpredict.query.bound import TaskType

DEFAULT_K = 5
HISTORY = "history."
_STAT = re.compile(r"^(?P<t>[^.]+)\.(?P<c>.+)\.(?P<s>mean_last\d+|mean_[0-9.]+[a-z]+|sum_[0-9.]+[a-z]+"
                   r"|mean_all|sum_all|code|age_days)$")
_SHARE = re.compile(r"^(?P<t>[^.]+)\.(?P<c>[^=]+)=(?P<v>.*)\.share_last(?P<k>\d+)$")
_ROUTE = re.compile(r"^(?P<t>[^.]+)\.(?P<s>count|days_since_last)$")

__all__ = ["DEFAULT_K", "booster_contributions", "cannot_explain", "explanations", "leaf_tables",
           "path_contributions", "readable_feature"]


# ----------------------------------------------------------------------------------- names
def singular(table: str) -> str:
    """A table name read as one of its rows: ``drivers`` → ``driver``, ``categories`` → ``category``."""
    if table.endswith("ies") and len(table) > 3:
        return table[:-3] + "y"
    if table.endswith("s") and not table.endswith("ss") and len(table) > 1:
        return table[:-1]
    return table


def _stat(stat: str) -> str:
    if stat.startswith("mean_last"):
        return f"mean of last {stat[len('mean_last'):]}"
    if stat in ("mean_all", "sum_all"):
        return f"{stat[:-4]} of all"
    if stat == "code":
        return "category"
    if stat == "age_days":
        return "age in days"
    kind, _, window = stat.partition("_")
    return f"{kind} over the last {window}"


def readable_feature(name: str, spec: Any = None) -> str:
    """Readable text for a LightGBM feature name (see the module docstring); ``spec`` (the model's
    :class:`~relpredict.features.spec.FeatureSpec`) names the entity, else "entity"."""
    entity = singular(spec.entity_table) if spec is not None else "entity"
    if name.startswith(HISTORY):
        return f"past target {name[len(HISTORY):].replace('_', ' ')} (history of the {entity})"
    *hops, tail = name.split(">")
    owner = f"the {entity}"
    for hop in hops:
        source, _, column = hop.rpartition(".")
        source = source.split("[")[0]
        if spec is not None and source == spec.entity_table:
            owner = f"the {column} of {owner}"
        else:
            owner = f"the {column} of {owner}'s {source}"
    return _tail(tail, owner, spec, hops)


def _tail(tail: str, owner: str, spec: Any, hops: list[str]) -> str:
    is_entity = spec is not None and not hops and tail.split(".")[0] == spec.entity_table
    for pattern in (_SHARE, _ROUTE, _STAT):
        m = pattern.match(tail)
        if m is None:
            continue
        table = m["t"].split("[")[0]
        whose = f"({owner})" if is_entity or table == (spec.entity_table if spec else None) \
            else f"({table} of {owner})"
        if pattern is _SHARE:
            return f"share of {table}.{m['c']} = {m['v']} among the last {m['k']} {whose}"
        if pattern is _ROUTE:
            what = f"number of {table} rows" if m["s"] == "count" else f"days since the last {table} row"
            return f"{what} {whose}"
        return f"{table}.{m['c']} {_stat(m['s'])} {whose}"
    return f"{tail} ({owner})"


# ----------------------------------------------------------------------------------- LightGBM
def booster_contributions(booster: Any, x: np.ndarray, task: TaskType, exact: bool = False) -> np.ndarray:
    """``[N, F + 1]`` contributions of each feature (the last column is the bias) to the raw score
    the entity's prediction comes from: the mean over the bagged boosters (binary, regression), the predicted
    class (multiclass), the class with the highest probability (multilabel).

    By default the path contributions of :func:`path_contributions` (LightGBM routes each row,
    numpy adds up each leaf's precomputed path: about the cost of a prediction); ``exact``:
    LightGBM's TreeSHAP (``pred_contrib``), some 50 times a prediction's cost. Both sum, with the
    bias, to the raw score."""
    boosters = booster.boosters()
    n, f = x.shape

    def contributions(b: Any, rows: np.ndarray) -> np.ndarray:  # [n, K, F + 1]
        if exact:
            return np.asarray(b.predict(rows, pred_contrib=True), np.float64).reshape(len(rows), -1, f + 1)
        return path_contributions(b, rows)

    if task is TaskType.multilabel:
        top = booster.predict(x).argmax(1) if boosters else np.zeros(n, np.int64)
        out = np.zeros((n, f + 1))
        for c in np.unique(top):
            rows = top == c
            out[rows] = contributions(boosters[c], x[rows])[:, 0]
        return out
    if task is not TaskType.multiclass:  # the raw score is the boosters' mean, so are its parts
        return np.ascontiguousarray(np.mean([contributions(b, x)[:, 0] for b in boosters], axis=0))
    per_class = contributions(boosters[0], x)
    chosen = per_class.sum(2).argmax(1)
    picked: np.ndarray = per_class[np.arange(n), chosen]
    return picked


_LEAF_TABLES: weakref.WeakKeyDictionary[Any, list[np.ndarray]] = weakref.WeakKeyDictionary()


def path_contributions(booster: Any, x: np.ndarray) -> np.ndarray:
    """``[N, K, F + 1]`` path contributions of a LightGBM booster (K trees per iteration: the
    classes of a multiclass model, else 1), bias last: for each tree, the change of the expected
    value (over the training rows, by node counts) at each split on the row's path, credited to
    the split's feature; the bias is the tree's expected value. They sum to the raw score exactly
    (the path telescopes to the leaf's value), as XGBoost's ``approx_contribs`` (Saabas) do.

    LightGBM itself routes the rows (``pred_leaf``: its own missing-value and categorical rules),
    and each leaf's path is summed once per model (:func:`leaf_tables`), so a row costs one
    lookup per tree."""
    leaves = np.asarray(booster.predict(x, pred_leaf=True), np.int64).reshape(len(x), -1)
    tables = leaf_tables(booster)
    per_iteration = max(1, int(booster.num_model_per_iteration()))
    out = np.zeros((len(x), per_iteration, x.shape[1] + 1))
    for t, table in enumerate(tables[:leaves.shape[1]]):
        out[:, t % per_iteration] += table[leaves[:, t]]
    return out


def leaf_tables(booster: Any) -> list[np.ndarray]:
    """Per tree, ``[leaves, F + 1]``: each leaf's path contribution per feature, then the tree's
    expected value; computed once per booster from its dump."""
    cached = _LEAF_TABLES.get(booster)
    if cached is None:
        n_features = int(booster.num_feature())
        cached = [_leaf_table(tree["tree_structure"], int(tree.get("num_leaves", 1)), n_features)
                  for tree in booster.dump_model()["tree_info"]]
        _LEAF_TABLES[booster] = cached
    return cached


def _leaf_table(root: dict[str, Any], n_leaves: int, n_features: int) -> np.ndarray:
    expected: dict[int, float] = {}

    def value(node: dict[str, Any]) -> tuple[float, float]:  # (expected value, training rows)
        if "split_index" not in node:
            found = (float(node["leaf_value"]), float(node.get("leaf_count", 0)))
        else:
            (vl, cl), (vr, cr) = value(node["left_child"]), value(node["right_child"])
            mean = (vl * cl + vr * cr) / (cl + cr) if cl + cr > 0 else float(node["internal_value"])
            found = (mean, cl + cr)
        expected[id(node)] = found[0]
        return found

    value(root)
    table = np.zeros((max(1, n_leaves), n_features + 1))
    table[:, -1] = expected[id(root)]
    stack = [(root, np.zeros(n_features))]
    while stack:
        node, path = stack.pop()
        if "split_index" not in node:
            table[int(node.get("leaf_index", 0)), :-1] = path
            continue
        for child in (node["left_child"], node["right_child"]):
            step = path.copy()
            step[int(node["split_feature"])] += expected[id(child)] - expected[id(node)]
            stack.append((child, step))
    return table


def top_k(contrib: np.ndarray, k: int) -> np.ndarray:
    """Per row, the positions of the ``k`` largest absolute contributions (bias excluded), largest
    first (ties by feature order)."""
    body = np.abs(contrib[:, :-1])
    k = min(k, body.shape[1])
    if k == 0:
        return np.zeros((len(body), 0), np.int64)
    part = np.argpartition(-body, k - 1, axis=1)[:, :k] if k < body.shape[1] else \
        np.tile(np.arange(body.shape[1]), (len(body), 1))
    order = np.lexsort((part, -np.take_along_axis(body, part, 1)), axis=1)
    return np.take_along_axis(part, order, 1)


def rows_table(rows: pa.Table, names: list[str], values: np.ndarray, contrib: np.ndarray,
               chosen: np.ndarray) -> pa.Table:
    """``rows``' identity repeated per chosen input, with ``RANK`` (1 = largest), the input's
    readable name, its value and its contribution."""
    n, k = chosen.shape
    repeat = np.repeat(np.arange(n), k)
    flat = chosen.reshape(-1)
    out = rows.take(pa.array(repeat, pa.int64()))
    value = values[repeat, flat].astype(np.float64)
    names_arr = np.asarray(names, dtype=object)
    return (out.append_column("RANK", pa.array(np.tile(np.arange(1, k + 1, dtype=np.int32), n)))
            .append_column("FEATURE", pa.array(names_arr[flat].tolist() if len(flat) else [], pa.string()))
            .append_column("VALUE", pa.array(value, mask=~np.isfinite(value)))
            .append_column("CONTRIBUTION", pa.array(contrib[repeat, flat].astype(np.float64))))


# ----------------------------------------------------------------------------------- GNN
def gnn_attribution(model: Any, graph: Any, rows: pa.Table) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Gradient × input of the GNN head's raw output for each row's top prediction, summed per
    input group: ``(group names, values [N, G], attributions [N, G])``; a table's value is the
    number of its rows in the entity's sampled neighbourhood."""
    import torch

    inp = model.inputs(graph, rows)
    seeds = model.seeds(graph, rows, inp.extra, model.recent_matrix(inp.bq, graph, rows), inp.frame)
    trainer = model.runtime(graph).trainer
    net = trainer.model
    net.eval()
    out = trainer.sampler.sample(net.entity_table, seeds.node, seeds.time, edge_ids=False)
    x = {t: h.detach().requires_grad_(True) for t, h in net.node_inputs(out, seeds.time).items()}
    extra = seeds.extra.clone().requires_grad_(True) if seeds.extra.shape[1] else None
    net.node_inputs = lambda *_: dict(x)  # the forward pass reads these leaves
    try:
        h, head = net(out, seeds.time, extra, len(seeds))
    finally:
        del net.node_inputs
    raw = net.item_scores(h, seeds.recent) if model.task_type is TaskType.link_prediction else head
    picked = raw[:, 0] if raw.shape[1] == 1 else raw.gather(1, raw.argmax(1, keepdim=True))[:, 0]
    picked.sum().backward()
    n = len(seeds)
    groups, values, attrib = [], [], []
    for t, xt in x.items():
        per_node = (xt.grad * xt).sum(1).detach()
        batch = out.batch[t] if out.batch is not None else torch.zeros(len(xt), dtype=torch.long)
        attrib.append(torch.zeros(n).index_add_(0, batch, per_node.double().float()).numpy())
        values.append(torch.bincount(batch, minlength=n).numpy().astype(np.float64))
        groups.append(f"{t} rows (sampled neighbourhood of the {singular(net.entity_table)})")
    if extra is not None:
        attrib.append((extra.grad * extra).sum(1).detach().numpy())
        values.append(np.full(n, np.nan))
        groups.append(f"target history of the {singular(net.entity_table)}")
    return groups, np.stack(values, 1), np.stack(attrib, 1)


# ----------------------------------------------------------------------------------- output
def cannot_explain(model: Any) -> str | None:
    """Why ``model`` cannot give the explanations output (None: it can), told when a job's
    settings are checked, before any work. A model explains through the LightGBM booster that
    scores it or through its GNN; a ranking model whose items come from its LightGBM ranker
    (over candidate pairs, not entity features) or a model that predicts its baseline alone has
    neither."""
    if float(getattr(model, "baseline_weight", 0.0)) >= 1.0:
        return (f"The model {model.ref} ({model.kind}) predicts its baseline alone (past labels, no "
                "learned inputs), so there is nothing to explain: leave out the explanations output "
                "type (or retrain with --kind lightgbm or gnn).")
    ranker = getattr(model, "ranker", None)
    blend = float(getattr(model, "blend", 1.0))
    uses_ranker = ranker is not None and getattr(ranker, "model", None) is not None and blend < 1.0
    uses_booster = getattr(model, "booster", None) is not None and blend < 1.0 and not uses_ranker
    if uses_booster or getattr(model, "gnn", None) is not None:
        return None
    what = ("ranks items with its LightGBM ranker over candidate pairs" if uses_ranker
            else "has no LightGBM booster or GNN that scores it")
    return (f"The model {model.ref} ({model.kind}) {what}, which relpredict cannot explain: "
            "explanations are for lightgbm, gnn and blend models. Leave out the explanations output "
            "type (or retrain with --kind lightgbm or gnn).")


def explanations(model: Any, graph: Any, anchor: datetime | None, entities: pa.Array | list[Any],
                 k: int = DEFAULT_K, exact: bool = False) -> pa.Table:
    """``ENTITY, [ANCHOR_TIMESTAMP,] RANK, FEATURE, VALUE, CONTRIBUTION``: each entity's top ``k``
    inputs by absolute contribution (see the module docstring for what a contribution is)."""
    rows, _, _ = model.scored(graph, anchor, entities)
    x = model.boosting_features(graph, anchor, entities)
    if x is not None:
        contrib = booster_contributions(model.booster, x, model.task_type, exact)
        names = [readable_feature(f, model.feature_spec) for f in model.booster.features]
        return rows_table(rows, names, x, contrib, top_k(contrib, k))
    if model.gnn is not None:
        names, values, attrib = gnn_attribution(model, graph, rows)
        contrib = np.concatenate([attrib, np.zeros((len(attrib), 1))], 1)
        return rows_table(rows, names, values, contrib, top_k(contrib, k))
    from relpredict.errors import ConfigError

    raise ConfigError(f"Model {model.ref} ({model.kind}) has no LightGBM booster or GNN to explain: "
                      "explanations are for lightgbm, gnn and blend models. Drop the explanations "
                      "output type.")
