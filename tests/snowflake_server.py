"""A fakesnow server on 127.0.0.1 for tests and benchmarks: start, readiness, clients, stop.

``fakesnow -s --host 127.0.0.1 -p PORT`` (fakesnow[server] 0.12.1 with snowflake-connector-python
4.8.1, see ENVIRONMENT.md) serves the real connector over HTTP from other processes. Its tables
live in memory, shared by every session, and vanish when it stops.

Facts the tests rely on (checked here): ``BEGIN`` / ``DELETE`` / ``COPY`` / ``ROLLBACK`` behave as
in Snowflake, DDL commits an open transaction, ``PUT`` of local files to a named temporary stage and
``COPY INTO … FROM @stage`` from Parquet work, ``ARRAY`` columns read back as JSON text. A table
stage with a quoted name (``@%"T"``), ``DROP STAGE``, ``VECTOR`` and COPY's ``PATTERN`` are not
supported; a statement the server cannot handle answers HTTP 500, which the connector retries until
its ``network_timeout``: clients made here set short timeouts so a bad statement fails fast.
"""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.servers import free_port, stop, wait_until

READY_SECONDS = 30.0
TIMEOUTS = {"login_timeout": 20, "network_timeout": 30}
FAKESNOW = Path(sys.executable).with_name("fakesnow")

__all__ = ["SnowflakeServer", "TIMEOUTS", "free_port", "running_fakesnow"]


@dataclass(frozen=True)
class SnowflakeServer:
    """A running fakesnow server: where it listens and its log."""

    host: str
    port: int
    log: Path

    def settings(self, database: str = "RP", schema: str = "OUT") -> dict[str, Any]:
        """Connector settings for this server (account ``fakesnow``, plain HTTP)."""
        return {"account": "fakesnow", "user": "tester", "database": database, "schema": schema,
                "host": self.host, "port": str(self.port), "protocol": "http"}

    def connect(self, database: str | None = None, schema: str | None = None) -> Any:
        """A client connection (the real connector), with short timeouts."""
        import snowflake.connector

        return snowflake.connector.connect(user="tester", password="unused", account="fakesnow",
                                           host=self.host, port=self.port, protocol="http",
                                           database=database, schema=schema, **TIMEOUTS)

    def create_schema(self, database: str, schema: str) -> None:
        """Create a database and a schema in it (fakesnow makes none by itself)."""
        con = self.connect()
        try:
            cur = con.cursor()
            cur.execute(f"CREATE DATABASE IF NOT EXISTS {database}")
            cur.execute(f"CREATE SCHEMA IF NOT EXISTS {database}.{schema}")
        finally:
            con.close()


def _ready(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


@contextmanager
def running_fakesnow(workdir: Path) -> Iterator[SnowflakeServer]:
    """Start fakesnow on a free port of 127.0.0.1, yield it once it accepts connections, stop it."""
    host, port = "127.0.0.1", free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    log = workdir / "fakesnow.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([str(FAKESNOW), "-s", "--host", host, "-p", str(port)],
                                stdout=out, stderr=subprocess.STDOUT, cwd=workdir)
    try:
        wait_until(lambda: _ready(host, port), proc, log, f"fakesnow on {host}:{port}", READY_SECONDS, 0.05)
        yield SnowflakeServer(host, port, log)
    finally:
        stop(proc)
