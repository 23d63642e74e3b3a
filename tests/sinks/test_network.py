"""Network calls: bounded retries with backoff reported as job events; a server that accepts and
never answers makes ``connector test`` fail within seconds for S3, Snowflake and BigQuery."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from relpredict.connectors import Connector, add_connector
from relpredict.sinks.base import SinkSpec
from relpredict.sinks.naming import parse_destination
from relpredict.sinks.network import DEFAULT, PROBE, JobEvents, NetPolicy, read_events, with_retries
from relpredict.workspace import Workspace

RELPREDICT = str(Path(sys.executable).with_name("relpredict"))
FAST = NetPolicy(connect_timeout=1, read_timeout=1, attempts=3, first_delay=0.01)


def test_transient_failures_are_retried_a_bounded_number_of_times_each_an_event(tmp_path: Path) -> None:
    ws_home = tmp_path / "ws"
    events = JobEvents.of(SinkSpec("j1", parse_destination(str(tmp_path / "p.parquet")), ("predictions",),
                                   str(ws_home)))
    calls: list[int] = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise ConnectionResetError("reset by peer")
        return "ok"

    assert with_retries("S3 PUT of s3://b/k", flaky, lambda e: isinstance(e, OSError), events, FAST) == "ok"
    logged = read_events(ws_home / "artifacts" / "jobs" / "j1")
    assert [e["kind"] for e in logged] == ["retry", "retry"]
    assert logged[0]["message"] == ("S3 PUT of s3://b/k failed (ConnectionResetError: reset by peer); "
                                    "retry 1 of 2 in 0.01 s")

    def down() -> str:
        calls.append(1)
        raise ConnectionRefusedError(f"refused, try {len(calls)}")

    calls.clear()
    with pytest.raises(ConnectionRefusedError, match="try 3"):  # 3 tries in all: the last error
        with_retries("x", down, lambda e: True, None, FAST)
    assert len(calls) == 3
    calls.clear()
    with pytest.raises(ValueError):  # not transient: never retried
        with_retries("x", lambda: calls.append(1) or int("bad"), lambda e: isinstance(e, OSError), None, FAST)
    assert len(calls) == 1


def test_the_policies_bound_a_dead_server() -> None:
    assert PROBE.budget < 25  # connector test answers within seconds
    assert DEFAULT.budget < 400 and DEFAULT.attempts == 5  # a job's call: minutes at most, not forever
    assert [DEFAULT.delay(r) for r in range(1, 6)] == [0.5, 1.0, 2.0, 4.0, 8.0]


@pytest.fixture()
def silent_server() -> Iterator[int]:
    """A TCP server on 127.0.0.1 that accepts connections and never answers."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join(5)
    for conn in held:
        conn.close()
    listener.close()


CONNECTORS = {
    "s3": lambda port: Connector("c", "s3", {"endpoint_url": f"http://127.0.0.1:{port}"},
                                 {"aws_access_key_id": "env:RP_KEY", "aws_secret_access_key": "env:RP_SECRET"}),
    "snowflake": lambda port: Connector("c", "snowflake", {
        "account": "acme", "user": "etl", "host": "127.0.0.1", "port": str(port), "protocol": "http"},
        {"password": "env:RP_SECRET"}),
    "bigquery": lambda port: Connector("c", "bigquery", {
        "project": "p", "dataset": "d", "api_endpoint": f"http://127.0.0.1:{port}"}, {"token": "env:RP_SECRET"}),
}


@pytest.mark.slow  # starts a server (a silent socket) and the CLI
@pytest.mark.parametrize("kind", sorted(CONNECTORS))
def test_connector_test_against_a_server_that_never_answers_fails_within_seconds(
        kind: str, silent_server: int, tmp_path: Path) -> None:
    ws = Workspace.open(tmp_path / "ws")
    add_connector(ws, CONNECTORS[kind](silent_server))
    env = {**os.environ, "RELPREDICT_HOME": str(ws.home), "RP_KEY": "AKIAEXAMPLE",
           "RP_SECRET": "a-secret-value-never-shown", "RELPREDICT_READ_TIMEOUT": "1",
           "RELPREDICT_CONNECT_TIMEOUT": "1"}
    start = time.monotonic()
    done = subprocess.run([RELPREDICT, "connector", "test", "c"], env=env, capture_output=True,
                          text=True, timeout=120)
    seconds = time.monotonic() - start
    out = " ".join((done.stdout + done.stderr).split())
    assert done.returncode != 0 and "Traceback" not in out, out
    assert "did not answer" in out and "a-secret-value-never-shown" not in out, out
    assert seconds < 30, (seconds, out)


@pytest.mark.slow  # starts a server (a silent socket)
@pytest.mark.parametrize("kind", ["s3", "bigquery"])
def test_an_outage_during_publish_fails_in_bounded_time_saying_the_server_did_not_answer(
        kind: str, silent_server: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import pyarrow as pa

    from relpredict.errors import DestinationError
    from relpredict.sinks import open_sink

    for name, value in (("RELPREDICT_READ_TIMEOUT", "1"), ("RELPREDICT_CONNECT_TIMEOUT", "1"),
                        ("RELPREDICT_NET_ATTEMPTS", "2"), ("RP_KEY", "AKIAEXAMPLE"),
                        ("RP_SECRET", "a-secret-value-never-shown")):
        monkeypatch.setenv(name, value)
    ws = Workspace.open(tmp_path / "ws")
    add_connector(ws, CONNECTORS[kind](silent_server))
    url = "s3://bucket/out/p.parquet" if kind == "s3" else "bigquery://c/d.scores"
    spec = SinkSpec("j1", parse_destination(url, connector="c" if kind == "s3" else None),
                    ("predictions",), str(ws.home))
    sink = open_sink(spec)
    table = pa.table({"ENTITY": [1, 2], "TARGET_PRED": [0.5, 1.5]})
    start = time.monotonic()
    with pytest.raises(DestinationError) as caught:
        if kind == "s3":  # workers stage to S3 itself
            sink.write_shard(0, "predictions", table)
        else:  # staged locally; the publish talks to BigQuery
            sink.write_shard(0, "predictions", table)
            sink.mark_done(0, {"shard": 0, "entities": 2})
            sink.publish("predictions", table.schema, iter(table.to_batches()))
    message = str(caught.value)
    assert "did not answer" in message and "a-secret-value-never-shown" not in message, message
    assert "credentials" not in message, message
    assert time.monotonic() - start < 30
    events = read_events(ws.home / "artifacts" / "jobs" / "j1")
    assert events and all(e["kind"] == "retry" for e in events)
