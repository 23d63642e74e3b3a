"""Connections to external stores (S3, Snowflake, BigQuery), kept in the workspace by name.

A :class:`Connector` holds a connection's non-secret settings (an account, a project, an endpoint)
and, for each secret it needs, a *reference* to where the secret lives: ``env:VAR`` (an environment
variable) or ``file:/path`` (a file). The secret itself is read by :func:`resolve_secrets` only at
the moment a connection is opened, so it is never written to the workspace database, a job record,
a log or an error message.

>>> add_connector(ws, Connector("wh", "snowflake", {"account": "acme", "user": "etl"},
...                             {"password": "env:SNOWFLAKE_PASSWORD"}))   # doctest: +SKIP
>>> resolve_secrets(get_connector(ws, "wh"))["password"]                   # doctest: +SKIP
"""

from __future__ import annotations

from relpredict.connectors.model import (
    KINDS,
    SECRETS,
    SETTINGS,
    Connector,
    SecretRef,
    parse_secret_ref,
    validate_connector,
)
from relpredict.connectors.secrets import resolve_secret, resolve_secrets
from relpredict.connectors.store import (
    add_connector,
    get_connector,
    list_connectors,
    remove_connector,
)
from relpredict.connectors.testing import TESTERS, ConnectionTester, test_connector

__all__ = ["KINDS", "SECRETS", "SETTINGS", "TESTERS", "ConnectionTester", "Connector", "SecretRef",
           "add_connector", "get_connector", "list_connectors", "parse_secret_ref",
           "remove_connector", "resolve_secret", "resolve_secrets", "test_connector",
           "validate_connector"]
