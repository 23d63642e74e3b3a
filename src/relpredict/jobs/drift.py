"""A job's drift check: its scores and features against the model's validation split.

Each shard counts its values into the reference bins the model artifact keeps
(:mod:`relpredict.model.drift`): the score (probability or value; for the other tasks the top
class or item) and the model's 20 most important LightGBM features. The counts travel in the
shard's done marker, so a resumed job never counts a shard twice; the writing stage adds them up
and reports PSI per item, the share of entities not seen in training and the entity count
against the previous job of the workflow (:func:`drift_report`).

A model trained before drift references were kept has none: its jobs report drift as not
available ("retrain to enable").
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from relpredict.model import drift
from relpredict.query.bound import TaskType

NOT_AVAILABLE = ("the model was trained before relpredict kept drift references in its artifact; "
                 "retrain it to enable drift checks")

__all__ = ["drift_report", "score_values", "shard_drift"]


def references(model: Any) -> dict[str, Any] | None:
    """The model's drift references (``info.drift``), or None for an older artifact."""
    refs = (getattr(model, "info", None) or {}).get("drift")
    return refs if refs and refs.get("score") else None


def score_values(task: TaskType, predictions: pa.Table) -> np.ndarray | list[str]:
    """What the score reference bins: the probability (binary), the value (regression), else the
    top class or item of each entity (its first row: rows are best first per entity)."""
    if task is TaskType.binary:
        return np.asarray(predictions.column("True_PROB").to_numpy(zero_copy_only=False), np.float64)
    if task is TaskType.regression:
        return np.asarray(predictions.column("TARGET_PRED").to_numpy(zero_copy_only=False), np.float64)
    entity = predictions.column("ENTITY").combine_chunks()
    if len(entity) == 0:
        return []
    first = pc.invert(pc.equal(entity.slice(1), entity.slice(0, len(entity) - 1)))
    keep = pa.concat_arrays([pa.array([True]), first.fill_null(True)])
    return [str(v) for v in predictions.column("CLASS").combine_chunks().filter(keep).to_pylist()]


def shard_drift(model: Any, graph: Any, shard: Any, tables: dict[str, pa.Table]) -> dict[str, Any] | None:
    """Counts of one shard in the reference bins (None when the model keeps no references)."""
    refs = references(model)
    if refs is None:
        return None
    out: dict[str, Any] = {"score": None, "features": {}}
    if "predictions" in tables:
        values = score_values(model.task_type, tables["predictions"])
        out["score"] = drift.bin_counts(refs["score"], values).tolist()
    features = refs.get("features") or []
    x = model.boosting_features(graph, shard.anchor_time, shard.entities) if features else None
    if x is not None:
        position = {name: i for i, name in enumerate(model.booster.features)}
        out["features"] = {f["name"]: drift.bin_counts(f, x[:, position[f["name"]]]).tolist()
                           for f in features if f["name"] in position}
    return out


def _item(name: str, ref: dict[str, Any], counts: np.ndarray | None, label: str | None = None,
          ) -> dict[str, Any]:
    value = drift.psi(ref["shares"], counts) if counts is not None and counts.sum() else None
    return {"name": name, "label": label or name, "psi": value, "flag": drift.flag(value),
            "bins": drift.bin_labels(ref), "expected": ref["shares"],
            "actual": (counts / max(counts.sum(), 1)).tolist() if counts is not None else None}


def _summed(parts: list[dict[str, Any] | None], key: str, name: str | None = None) -> np.ndarray | None:
    found = [(p[key] if name is None else p[key].get(name)) for p in parts if p is not None]
    found = [np.asarray(f, np.int64) for f in found if f is not None]
    return np.sum(found, axis=0) if found else None


def drift_report(model: Any, infos: dict[int, dict[str, Any]], entities: pa.Array,
                 previous: dict[str, Any] | None) -> dict[str, Any]:
    """The job summary's ``drift``: PSI of the score and features (flagged above 0.1 / 0.25), the
    share of entities not seen in training, and the entity count against ``previous`` (the
    workflow's previous succeeded job: ``{"id", "entities"}``)."""
    refs = references(model)
    out: dict[str, Any] = {"entities": _entity_change(len(entities), previous)}
    if refs is None:
        return {**out, "available": False, "reason": NOT_AVAILABLE}
    parts = [info.get("drift") for info in infos.values()]
    names = readable_names(model)
    score = _item("score", refs["score"], _summed(parts, "score"), _score_label(model))
    features = [_item(f["name"], f, _summed(parts, "features", f["name"]), names.get(f["name"]))
                for f in refs.get("features") or []]
    items = [score, *features]
    return {**out, "available": True, "reference": f"validation split of model {model.ref}",
            "score": score, "features": features, "unseen": _unseen(model, entities),
            "flags": {level: [i["label"] for i in items if i["flag"] == level]
                      for level in ("moderate", "major")},
            "max_psi": max((i["psi"] for i in items if i["psi"] is not None), default=None)}


def _score_label(model: Any) -> str:
    task = model.task_type
    if task in (TaskType.binary, TaskType.regression):
        return "score (True_PROB)" if task is TaskType.binary else "score (TARGET_PRED)"
    return "top item" if task is TaskType.link_prediction else "top class"


def readable_names(model: Any) -> dict[str, str]:
    """Feature name → readable name from the model's feature spec (empty when it has none)."""
    from relpredict.model.explain import readable_feature

    booster = getattr(model, "booster", None)
    if booster is None:
        return {}
    spec = getattr(model, "feature_spec", None)
    return {name: readable_feature(name, spec) for name in booster.features}


def _unseen(model: Any, entities: pa.Array) -> dict[str, Any] | None:
    known = getattr(model, "train_entities", None)
    if known is None or len(entities) == 0:
        return None
    if known.type != entities.type:
        known = known.cast(entities.type)
    count = len(entities) - pc.sum(pc.is_in(entities, value_set=known)).as_py()
    return {"count": int(count), "share": count / len(entities)}


def _entity_change(count: int, previous: dict[str, Any] | None) -> dict[str, Any]:
    out: dict[str, Any] = {"count": count, "previous": None, "previous_job": None, "change": None}
    if previous and previous.get("entities"):
        out.update(previous=previous["entities"], previous_job=previous["id"],
                   change=(count - previous["entities"]) / previous["entities"])
    return out
