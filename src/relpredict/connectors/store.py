"""Connectors in the workspace database (the ``connectors`` table): settings and secret references.

Only references are stored (``env:VAR``, ``file:/path``); :func:`add_connector` validates each one
before anything is written, so no secret value can reach the database.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime

from relpredict.connectors.model import Connector, validate_connector
from relpredict.errors import ConflictError, NotFoundError
from relpredict.suggest import did_you_mean
from relpredict.workspace import Workspace

__all__ = ["add_connector", "get_connector", "list_connectors", "remove_connector"]


def _now() -> str:
    return datetime.now(UTC).replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


def add_connector(ws: Workspace, connector: Connector, replace: bool = False) -> Connector:
    """Validate and record ``connector``; an existing name is an error unless ``replace``."""
    checked = validate_connector(connector)
    verb = "INSERT OR REPLACE" if replace else "INSERT"
    try:
        with ws.db() as con:
            con.execute(f"{verb} INTO connectors (name, kind, settings, secrets, created_at) "
                        "VALUES (?, ?, ?, ?, ?)",
                        (checked.name, checked.kind, json.dumps(checked.settings, sort_keys=True),
                         json.dumps(checked.secrets, sort_keys=True), _now()))
    except sqlite3.IntegrityError:
        raise ConflictError(f"A connector named {checked.name!r} already exists in {ws.home}: choose "
                          "another name, or remove it first with `relpredict connector remove "
                          f"{checked.name}`.") from None
    return checked


def _row(row: sqlite3.Row) -> Connector:
    return Connector(row["name"], row["kind"], json.loads(row["settings"]), json.loads(row["secrets"]))


def get_connector(ws: Workspace, name: str) -> Connector:
    """The connector ``name``; an unknown name is an error with the closest known names."""
    with ws.db() as con:
        row = con.execute("SELECT * FROM connectors WHERE name = ?", (name,)).fetchone()
        names = [] if row else [r[0] for r in con.execute("SELECT name FROM connectors")]
    if row is None:
        raise NotFoundError(f"No connector named {name!r} in the workspace {ws.home}."
                          f"{did_you_mean(name, names)} Add one with `relpredict connector add "
                          f"{name} --kind s3|snowflake|bigquery --set KEY=VALUE`.")
    return _row(row)


def list_connectors(ws: Workspace) -> list[Connector]:
    """Every connector, by name."""
    with ws.db() as con:
        rows = con.execute("SELECT * FROM connectors ORDER BY name").fetchall()
    return [_row(r) for r in rows]


def remove_connector(ws: Workspace, name: str) -> None:
    """Forget a connector (jobs that named it fail to open their destination afterwards)."""
    get_connector(ws, name)
    with ws.db() as con:
        con.execute("DELETE FROM connectors WHERE name = ?", (name,))
