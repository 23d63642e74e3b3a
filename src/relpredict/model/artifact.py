"""Model artifacts in the workspace: save, list, show and load trained models by name and version.

An artifact is a folder ``artifacts/models/<name>/v<version>/`` holding

- ``model.json``: the query, task type, kind, seed, target codec, column encoders and their
  statistics, history standardiser, LightGBM boosters (text format), aggregate-feature spec,
  blend weight, calibration, metrics, the graph schema (sources, keys, links, stypes) and the
  library versions it was trained with;
- ``gnn.pt``: the GNN weights (a ``state_dict``, loaded with ``weights_only=True``);
- ``train_entities.parquet``: the entity keys of the training split (a job's drift check counts
  the entities not seen in training). ``model.json``'s ``info.drift`` holds the validation
  split's distribution of the score and of the 20 most important features (bins and shares).

The folder is written under a temporary name and renamed into place before the workspace records
the version, so a crash never leaves a half-written model that ``models list`` shows. A name
holds versions 1, 2, …; ``NAME`` means its latest version, ``NAME@3`` a given one.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import sqlite3
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import pyarrow as pa
import pyarrow.parquet as pq

from relpredict import __version__
from relpredict.errors import ArtifactError, ConfigError
from relpredict.features.spec import FeatureSpec
from relpredict.graph.graph import Graph, did_you_mean
from relpredict.graph.yaml_io import graph_to_dict
from relpredict.model.baselines import Baseline
from relpredict.model.boosting import Booster
from relpredict.model.calibration import Platt
from relpredict.model.gnn_config import GNNConfig
from relpredict.model.predictor import MODEL_KINDS, GNNPart, ModelKind, TrainedModel
from relpredict.model.ranker import Ranker
from relpredict.model.schema import graph_schema
from relpredict.model.seedfeatures import Standardizer
from relpredict.model.targets import TargetCodec
from relpredict.query.bound import TaskType
from relpredict.workspace import Workspace

FORMAT = 1
TRAIN_ENTITIES = "train_entities.parquet"  # the training split's entity keys (for drift checks)
NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$")


def check_name(name: str) -> str:
    if not NAME_RE.match(name or ""):
        raise ConfigError(f"Model name {name!r} is not allowed: use 1–64 letters, digits, '_', '.' or "
                          "'-', starting with a letter.")
    return name


def versions() -> dict[str, str]:
    import duckdb
    import lightgbm
    import torch
    import torch_geometric

    return {"relpredict": __version__, "torch": torch.__version__, "torch_geometric": torch_geometric.__version__,
            "lightgbm": lightgbm.__version__, "duckdb": duckdb.__version__}


def graph_spec(graph: Graph) -> dict[str, Any] | None:
    """The graph's YAML mapping with absolute paths, or None for in-memory tables.

    Paths are made absolute so a batch job started from another folder (or a worker process)
    reads the same files the model was trained on.
    """
    try:
        doc = graph_to_dict(graph)
    except ConfigError:
        return None
    for spec in doc["tables"].values():  # relative paths are relative to today's working folder
        if "file" in spec:
            spec["file"] = str(Path(spec["file"]).resolve())
        for kind in ("duckdb", "sqlite"):
            if kind in spec:
                spec[kind]["path"] = str(Path(spec[kind]["path"]).resolve())
    return doc


# -- save ----------------------------------------------------------------------------------
def to_document(model: TrainedModel) -> dict[str, Any]:
    """Everything but the GNN weights, as JSON-compatible data."""
    gnn = None
    if model.gnn is not None:
        gnn = {"config": asdict(model.gnn.config), "encoders": model.gnn.encoders.to_dict(),
               "edge_types": [list(et) for et in model.gnn.edge_types], "extra_dim": model.gnn.extra_dim}
    spec = model.feature_spec
    return {
        "format": FORMAT, "name": model.name, "version": model.version, "query": model.query_text,
        "task_type": model.task_type.value, "kind": model.kind, "seed": model.seed,
        "codec": model.codec.to_dict(), "history": model.history.to_dict() if model.history else None,
        "history_k": model.history_k, "gnn": gnn,
        "booster": model.booster.to_dict() if model.booster else None,
        "feature_spec": spec.to_dict() if spec is not None else None,
        "blend": model.blend, "baseline": model.baseline.to_dict() if model.baseline else None,
        "baseline_weight": model.baseline_weight,
        "ranker": model.ranker.to_dict() if model.ranker else None, "platt": model.platt.to_dict() if model.platt else None,
        "top_k": model.top_k, "metrics": model.metrics, "info": model.info,
    }


def save_model(ws: Workspace, model: TrainedModel, name: str, graph: Graph) -> TrainedModel:
    """Store ``model`` as the next version of ``name``; returns it with name and version set."""
    check_name(name)
    model.name = name
    model.info.setdefault("graph", graph_spec(graph))
    model.info.setdefault("schema", graph_schema(graph))  # checked before a job scores
    model.info["versions"] = versions()
    model.info["created_at"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    with ws.db() as con:
        row = con.execute("SELECT MAX(version) FROM models WHERE name = ?", (name,)).fetchall()
        model.version = int(row[0][0] or 0) + 1
        rel = Path("models") / name / f"v{model.version}"
        _write_folder(ws.artifacts / rel, model)
        try:
            con.execute("INSERT INTO models VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        (name, model.version, model.kind, model.query_text, model.task_type.value,
                         str(rel), json.dumps(_finite(model.metrics)), model.info["created_at"]))
        except sqlite3.IntegrityError:
            shutil.rmtree(ws.artifacts / rel, ignore_errors=True)
            raise
    return model


def _write_folder(final: Path, model: TrainedModel) -> None:
    tmp = final.with_name(f".{final.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    (tmp / "model.json").write_text(json.dumps(_finite(to_document(model)), indent=1))
    if model.gnn is not None:
        import torch  # only a model with a GNN needs it (a LightGBM model loads without torch)

        torch.save(model.gnn.state, tmp / "gnn.pt")
    if model.train_entities is not None:
        pq.write_table(pa.table({"ENTITY": model.train_entities}), tmp / TRAIN_ENTITIES)
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)


def _finite(value: Any) -> Any:
    """NaN and infinities become None (JSON has no NaN)."""
    if isinstance(value, float):
        return value if value == value and abs(value) != float("inf") else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


# -- load ----------------------------------------------------------------------------------
def _kind(value: Any) -> ModelKind:
    if value not in MODEL_KINDS:
        raise ConfigError(f"Unknown model kind {value!r} in a stored model artifact; retrain it.")
    return cast(ModelKind, value)


def _weights(path: Path, doc: dict[str, Any]) -> Any:
    """The GNN's ``state_dict``; a missing, cut or garbled file is an ArtifactError naming it."""
    import torch

    try:
        state = torch.load(path, weights_only=True)
    except Exception as err:  # torch raises RuntimeError, UnpicklingError, EOFError, OSError, ...
        raise ArtifactError(_damaged(doc, path, f"{type(err).__name__}: {str(err)[:200]}")) from None
    if not isinstance(state, dict) or not state:
        raise ArtifactError(_damaged(doc, path, "it holds no weights"))
    return state


def _damaged(doc: Any, path: Path, why: str) -> str:
    name = f"{doc.get('name')}@{doc.get('version')}" if isinstance(doc, dict) else path.parent.parent.name
    return (f"The artifact file {path} of model {name} is damaged ({why}). Retrain the model "
            "(`relpredict train ...`) to make a new version.")


def _check_loaded(model: TrainedModel, folder: Path, doc: dict[str, Any]) -> None:
    """What a document can say wrongly without failing to parse: parts that do not fit together."""
    path = folder / "model.json"
    if model.booster is not None:
        try:
            counts = {b.num_feature() for b in model.booster.boosters()}
        except Exception as err:  # LightGBM's own parse error of a model text
            raise ArtifactError(_damaged(doc, path, f"a LightGBM model does not parse: {str(err)[:200]}")) from None
        if counts != {len(model.booster.features)}:
            raise ArtifactError(_damaged(doc, path, f"its LightGBM models read {sorted(counts)} features "
                                                    f"but it lists {len(model.booster.features)}"))
    if model.platt is not None and not all(math.isfinite(v) for v in (model.platt.a, model.platt.b)):
        raise ArtifactError(_damaged(doc, path, "its calibration is not a pair of numbers"))


def from_document(doc: dict[str, Any], folder: Path) -> TrainedModel:
    if doc.get("format") != FORMAT:
        raise ConfigError(f"The model in {folder} has artifact format {doc.get('format')}; this relpredict "
                          f"reads format {FORMAT}. Retrain the model.")
    gnn = None
    if doc["gnn"] is not None:
        from relpredict.model.encoders import GraphEncoders  # imports torch: GNN models only

        g = doc["gnn"]
        cfg = GNNConfig(**{**g["config"], "fanout": tuple(g["config"]["fanout"])})
        state = _weights(folder / "gnn.pt", doc)
        gnn = GNNPart(cfg, GraphEncoders.from_dict(g["encoders"]), [tuple(et) for et in g["edge_types"]],
                      state, int(g["extra_dim"]))
    spec = None
    if doc["feature_spec"] is not None:
        spec = FeatureSpec.from_dict(doc["feature_spec"])
    return TrainedModel(
        query_text=doc["query"], task_type=TaskType(doc["task_type"]), kind=_kind(doc["kind"]), seed=doc["seed"],
        codec=TargetCodec.from_dict(doc["codec"]),
        history=Standardizer.from_dict(doc["history"]) if doc["history"] else None,
        history_k=int(doc["history_k"]), gnn=gnn,
        booster=Booster.from_dict(doc["booster"]) if doc["booster"] else None, feature_spec=spec,
        blend=float(doc["blend"]), baseline=Baseline.from_dict(doc["baseline"]) if doc.get("baseline") else None,
        baseline_weight=float(doc.get("baseline_weight", 0.0)),
        ranker=Ranker.from_dict(doc["ranker"]) if doc.get("ranker") else None, platt=Platt.from_dict(doc["platt"]) if doc["platt"] else None,
        top_k=int(doc["top_k"]), metrics=doc["metrics"], info=doc["info"], name=doc["name"],
        version=int(doc["version"]))


def parse_ref(ref: str) -> tuple[str, int | None]:
    name, _, version = ref.partition("@")
    check_name(name)
    if version and not version.isdigit():
        raise ConfigError(f"Model reference {ref!r}: the version after '@' must be a number, e.g. {name}@2.")
    return name, int(version) if version else None


def load_model(ws: Workspace, ref: str) -> TrainedModel:
    """The model ``NAME`` (latest version) or ``NAME@VERSION`` from the workspace."""
    name, version = parse_ref(ref)
    row = _row(ws, name, version)
    folder = ws.artifacts / row["path"]
    path = folder / "model.json"
    try:
        doc = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ArtifactError(f"The artifact file {path} of model {name}@{row['version']} is unreadable "
                            f"({err}). Retrain the model (`relpredict train ...`) to make a new "
                            "version.") from None
    if not isinstance(doc, dict):
        raise ArtifactError(_damaged({"name": name, "version": row["version"]}, path,
                                     f"it holds a JSON {type(doc).__name__}, not a model's description"))
    try:
        model = from_document(doc, folder)
        _check_loaded(model, folder, doc)
    except (ArtifactError, ConfigError):
        raise
    except Exception as err:  # a key missing, a value of the wrong type: written by hand or cut
        raise ArtifactError(_damaged(doc, path, f"{type(err).__name__}: {str(err)[:200]}")) from None
    model.info.setdefault("graph", None)
    if (folder / TRAIN_ENTITIES).is_file():
        model.train_entities = pq.read_table(folder / TRAIN_ENTITIES).column("ENTITY").combine_chunks()
    return model


def _row(ws: Workspace, name: str, version: int | None) -> sqlite3.Row:
    with ws.db() as con:
        if version is None:
            rows = con.execute("SELECT * FROM models WHERE name = ? ORDER BY version DESC LIMIT 1", (name,)).fetchall()
        else:
            rows = con.execute("SELECT * FROM models WHERE name = ? AND version = ?", (name, version)).fetchall()
        if rows:
            row: sqlite3.Row = rows[0]
            return row
        known = [r[0] for r in con.execute("SELECT DISTINCT name FROM models ORDER BY name").fetchall()]
    what = f"{name}@{version}" if version is not None else name
    hint = did_you_mean(name, known) if known else " No model is trained yet: run relpredict train."
    raise ConfigError(f"Unknown model {what!r} in workspace {ws.home}.{hint}")


def list_models(ws: Workspace, name: str | None = None) -> list[dict[str, Any]]:
    """One record per model version, newest first."""
    sql, params = "SELECT * FROM models", tuple[str, ...]()
    if name is not None:
        sql, params = sql + " WHERE name = ?", (name,)
    with ws.db() as con:
        rows = con.execute(sql + " ORDER BY created_at DESC, name, version DESC", params).fetchall()
    return [{**dict(r), "metrics": json.loads(r["metrics"])} for r in rows]

