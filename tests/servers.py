"""Test servers on 127.0.0.1, on free ports, started and stopped by the tests themselves.

Only loopback is used: every server binds 127.0.0.1 and every client talks to it there. The S3
server is moto's (``python -m moto.server``), a real HTTP S3 API in one process (~1 s to start).
The Snowflake and BigQuery emulators have helpers of their own.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

READY_SECONDS = 30.0

__all__ = ["MotoServer", "free_port", "running_moto", "stop", "wait_http", "wait_until"]


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(url: str, proc: subprocess.Popen, log: Path, seconds: float = READY_SECONDS) -> None:
    """Poll ``url`` until it answers; fail with the server's log if it exits or times out."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"The server exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except urllib.error.HTTPError:
            return  # it answers, even if with an error status
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"The server at {url} did not answer within {seconds:.0f} s:\n"
                       f"{log.read_text()[-3000:]}")


def wait_until(ready: Callable[[], bool], proc: subprocess.Popen, log: Path, what: str,
               seconds: float = READY_SECONDS, poll: float = 0.1) -> None:
    """Poll ``ready()`` until true; fail with the tail of ``log`` if ``proc`` exits or time runs out."""
    deadline = time.monotonic() + seconds
    while not ready():
        if proc.poll() is not None or time.monotonic() > deadline:
            tail = log.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"{what} did not become ready (exit {proc.poll()}):\n{tail}")
        time.sleep(poll)


def stop(proc: subprocess.Popen) -> None:
    """Terminate a server we started (and only it), then kill it if it lingers."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


@dataclass
class MotoServer:
    """A running moto S3 server: its endpoint URL, process and log."""

    endpoint: str
    proc: subprocess.Popen
    log: Path

    def stop(self) -> None:
        stop(self.proc)

    def client(self) -> object:
        """A boto3 S3 client of this server (dummy credentials: moto accepts any)."""
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1",
                            aws_access_key_id="testing", aws_secret_access_key="testing")


def start_moto(folder: Path, port: int | None = None) -> MotoServer:
    """Start ``python -m moto.server -H 127.0.0.1 -p PORT`` and wait until it answers."""
    port = port or free_port()
    folder.mkdir(parents=True, exist_ok=True)
    log = folder / f"moto-{port}.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{port}"
    try:
        wait_http(endpoint + "/", proc, log)
    except BaseException:
        stop(proc)
        raise
    return MotoServer(endpoint, proc, log)


@contextmanager
def running_moto(folder: Path) -> Iterator[MotoServer]:
    """A moto S3 server for the duration of the block."""
    server = start_moto(folder)
    try:
        yield server
    finally:
        server.stop()
