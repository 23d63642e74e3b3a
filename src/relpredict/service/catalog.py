"""Read-only views of what the workspace holds: graphs, models and connectors.

Each view is plain JSON-ready data. Connectors are shown with their settings and the *names* of
their secrets only: a secret reference (``env:VAR``, ``file:/path``) says where a credential lives
and is of no use to a browser, so it never leaves the server.
"""

from __future__ import annotations

import json
from typing import Any

from relpredict.errors import ConfigError, NotFoundError
from relpredict.suggest import did_you_mean
from relpredict.workspace import Workspace

__all__ = ["get_connector", "get_graph", "get_model", "list_connectors", "list_graphs", "list_models"]


# ----------------------------------------------------------------------------------- graphs
def list_graphs(ws: Workspace) -> list[dict[str, Any]]:
    """The graphs registered in the workspace (the ``graphs`` table), by name."""
    with ws.db() as con:
        rows = con.execute("SELECT * FROM graphs ORDER BY name").fetchall()
    return [dict(r) for r in rows]


def get_graph(ws: Workspace, name: str) -> dict[str, Any]:
    """One registered graph; unknown names are a :class:`NotFoundError` with the closest names."""
    graphs = list_graphs(ws)
    for graph in graphs:
        if graph["name"] == name:
            return graph
    raise NotFoundError(f"No graph named {name!r} in the workspace {ws.home}."
                        f"{did_you_mean(name, [g['name'] for g in graphs])}")


# ----------------------------------------------------------------------------------- models
def list_models(ws: Workspace) -> list[dict[str, Any]]:
    """Every model version, newest first, as ``models list`` shows them."""
    from relpredict.model.artifact import list_models as rows

    return [_model_view(r) for r in rows(ws)]


def get_model(ws: Workspace, ref: str) -> dict[str, Any]:
    """Model ``NAME`` (its latest version) or ``NAME@VERSION``, with every version of the name."""
    from relpredict.model.artifact import list_models as rows
    from relpredict.model.artifact import parse_ref

    try:
        name, version = parse_ref(ref)
    except ConfigError as err:
        raise NotFoundError(str(err)) from err
    versions = [_model_view(r) for r in rows(ws, name)]
    chosen = [v for v in versions if version is None or v["version"] == version]
    if not chosen:
        raise NotFoundError(_unknown_model(ws, ref))
    return {**chosen[0], "versions": [v["version"] for v in versions]}


def model_page(ws: Workspace, ref: str) -> dict[str, Any]:
    """:func:`get_model` plus what the model page shows: the selection metric's name and
    direction, and the training warnings."""
    from relpredict.model.artifact import load_model
    from relpredict.model.metrics import SELECTION
    from relpredict.query.bound import TaskType

    view = get_model(ws, ref)
    model = load_model(ws, view["ref"])
    name, higher = SELECTION[TaskType(view["task_type"])]
    return {**view, "selection_metric": name.replace("@k", f"@{model.top_k}"), "higher_is_better": higher,
            "warnings": list(model.info.get("warnings", []))}


def _unknown_model(ws: Workspace, ref: str) -> str:
    """The artifact store's own message for an unknown model (what the CLI prints)."""
    from relpredict.model.artifact import load_model

    try:
        load_model(ws, ref)
    except ConfigError as err:
        return str(err)
    return f"Unknown model {ref!r} in workspace {ws.home}."


def _model_view(row: dict[str, Any]) -> dict[str, Any]:
    keys = ("name", "version", "kind", "query", "task_type", "metrics", "created_at")
    view = {k: row[k] for k in keys}
    view["ref"] = f"{row['name']}@{row['version']}"
    return view


# ----------------------------------------------------------------------------------- connectors
def list_connectors(ws: Workspace) -> list[dict[str, Any]]:
    """Every connector (none when this relpredict has no connectors yet), secrets by name only."""
    try:
        from relpredict import connectors
    except ImportError:
        return []
    return [_connector_view(c) for c in connectors.list_connectors(ws)]


def get_connector(ws: Workspace, name: str) -> dict[str, Any]:
    """One connector, secrets by name only; an unknown name is a :class:`NotFoundError`."""
    try:
        from relpredict import connectors
    except ImportError:
        raise NotFoundError(f"No connector named {name!r}: this relpredict has no connectors.") from None
    return _connector_view(connectors.get_connector(ws, name))


def _connector_view(connector: Any) -> dict[str, Any]:
    return {"name": connector.name, "kind": connector.kind,
            "settings": json.loads(json.dumps(connector.settings, default=str)),
            "secrets": sorted(connector.secrets)}
