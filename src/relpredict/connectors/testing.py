"""``connector test``: open a real connection with a connector, through one hook per kind.

Each kind's hook lives beside its sink and is imported lazily (the Snowflake and BigQuery client
libraries are heavy)::

    def test_connection(connector: Connector, options: dict[str, str]) -> str

It resolves the connector's secrets itself, opens a connection, does one cheap call and returns a
one-line description of what it saw; it raises a ``DestinationError`` (never carrying a secret)
when the connection fails.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from relpredict.connectors.model import Connector

ConnectionTester = Callable[[Connector, dict[str, str]], str]

TESTERS: dict[str, str] = {
    "s3": "relpredict.sinks.s3:test_connection",
    "snowflake": "relpredict.sinks.snowflake:test_connection",
    "bigquery": "relpredict.sinks.bigquery:test_connection",
}

__all__ = ["TESTERS", "ConnectionTester", "test_connector"]


def test_connector(connector: Connector, options: dict[str, str] | None = None) -> str:
    """Open a connection with ``connector`` and return what the kind's hook reports."""
    module, _, function = TESTERS[connector.kind].partition(":")
    hook: ConnectionTester = getattr(importlib.import_module(module), function)
    return hook(connector, dict(options or {}))


test_connector.__test__ = False  # type: ignore[attr-defined]  # not a pytest test
