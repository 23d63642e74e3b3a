"""``kumo.init``: which workspace the SDK works in and where its tracking URLs point."""

from __future__ import annotations

import atexit
import os
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

from relpredict.errors import ConfigError
from relpredict.sinks.sources import SourceCache
from relpredict.workspace import Workspace

DEFAULT_URL = "http://127.0.0.1:8000"

__all__ = ["Session", "init", "session", "unsupported"]


@dataclass
class Session:
    """The state ``init`` sets up: the workspace, the web page base URL, uploaded files."""

    workspace: Workspace
    url: str
    uploads: dict[str, Path] = field(default_factory=dict)
    _sources: SourceCache | None = None

    @property
    def sources(self) -> SourceCache:
        """The session's source reader: each S3 / Snowflake / BigQuery table is fetched once per
        session (``head``, ``columns``, ``infer_metadata`` and training read the same copy), into
        ``artifacts/sources/kumoai-<id>/``, deleted when the process exits."""
        if self._sources is None:
            folder = self.workspace.artifacts / "sources" / f"kumoai-{os.getpid()}-{uuid.uuid4().hex[:8]}"
            atexit.register(shutil.rmtree, folder, True)
            self._sources = SourceCache(self.workspace, folder)
        return self._sources

    def page(self, path: str) -> str:
        """The relpredict web page ``path`` (``/jobs/ID``) under the session's URL."""
        return f"{self.url}{path}"


_SESSION: Session | None = None


def init(url: str | None = None, api_key: str | None = None, snowflake_credentials: Any = None,
         snowflake_application: str | None = None, log_level: str = "INFO", *,
         home: str | Path | None = None) -> Session:
    """Start the SDK, as ``kumoai.init`` does.

    Args:
        url: the relpredict server (``relpredict serve``) whose pages ``tracking_url`` names; a
            trailing ``/api`` is dropped (default ``$RELPREDICT_URL`` or http://127.0.0.1:8000).
        api_key: accepted for Kumo scripts and not used: relpredict works in a local workspace.
        snowflake_credentials, snowflake_application: Snowpark Container Services only; refused.
        log_level: accepted, not used.
        home: the workspace folder (default ``$RELPREDICT_HOME`` or ``./.relpredict``); relpredict
            only.
    """
    global _SESSION
    if snowflake_credentials is not None or snowflake_application is not None:
        unsupported("kumo.init(snowflake_credentials=..., snowflake_application=...) (Snowpark "
                    "Container Services)", "call kumo.init() without them and read Snowflake "
                    "tables through kumo.SnowflakeConnector(name=...), a workspace connector")
    base = (url or os.environ.get("RELPREDICT_URL") or DEFAULT_URL).rstrip("/")
    base = base[:-4] if base.endswith("/api") else base
    _SESSION = Session(Workspace.open(home), base)
    return _SESSION


def session() -> Session:
    """The session ``init`` started; an error telling to call it otherwise."""
    if _SESSION is None:
        raise ConfigError("The relpredict.kumoai SDK is not initialised: call kumo.init() first "
                          "(e.g. kumo.init(url='http://127.0.0.1:8000/api')).")
    return _SESSION


def unsupported(what: str, instead: str) -> NoReturn:
    """Raise the error for a kumoai feature relpredict does not have, saying what to do instead."""
    raise ConfigError(f"relpredict cannot do {what}: {instead}.")
