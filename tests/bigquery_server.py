"""A BigQuery emulator on 127.0.0.1 for tests and benchmarks: its venv, start, readiness, stop.

bqemulator 1.4.0 pins packages that clash with the project's (see ENVIRONMENT.md), so it lives in a
virtual environment of its own, ``.venv-bq/``, built on first use by ``scripts/bqemulator-venv.sh``
(idempotent, ~30-45 s, PyPI only) and reused afterwards. :func:`emulator_or_reason` says why the
emulator is unavailable instead of raising, so a test can fail (CI) or skip (a laptop) with the
reason.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import subprocess
import sys
import tempfile
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.servers import free_port, stop, wait_until

REPO = Path(__file__).resolve().parents[1]
VENV = Path(os.environ.get("RELPREDICT_BQ_VENV", REPO / ".venv-bq"))
SCRIPT = REPO / "scripts" / "bqemulator-venv.sh"
PROJECT = "relpredict-test"
READY_SECONDS = 30.0

__all__ = ["BigQueryServer", "PROJECT", "build_venv", "free_port", "running_emulator"]


@dataclass(frozen=True)
class BigQueryServer:
    """A running emulator: its REST endpoint and project."""

    endpoint: str
    project: str
    log: Path


def build_venv(venv: Path = VENV) -> Path:
    """Build the emulator's venv unless it is there already; return its ``bqemulator``.

    A file lock makes concurrent test processes wait for one build instead of racing.
    """
    venv.parent.mkdir(parents=True, exist_ok=True)
    key = hashlib.sha256(str(venv.absolute()).encode()).hexdigest()[:12]
    with open(Path(tempfile.gettempdir()) / f"relpredict-venv-bq-{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        env = {"PYTHON": sys.executable, **os.environ}  # this interpreter unless PYTHON is set
        result = subprocess.run(["bash", str(SCRIPT), str(venv)], capture_output=True, text=True,
                                timeout=900, env=env)
    if result.returncode != 0:
        tail = (result.stderr or result.stdout).strip().splitlines()[-15:]
        raise RuntimeError(f"{SCRIPT.name} failed (exit {result.returncode}):\n" + "\n".join(tail))
    return venv / "bin" / "bqemulator"


def _ready(endpoint: str, project: str) -> bool:
    try:
        with urllib.request.urlopen(f"{endpoint}/bigquery/v2/projects/{project}/datasets",
                                    timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


@contextmanager
def running_emulator(workdir: Path, project: str = PROJECT) -> Iterator[BigQueryServer]:
    """Start bqemulator on free ports of 127.0.0.1 (in-memory), yield it, stop it afterwards."""
    binary = build_venv()
    rest, grpc = free_port(), free_port()
    endpoint = f"http://127.0.0.1:{rest}"
    workdir.mkdir(parents=True, exist_ok=True)
    log = workdir / "bqemulator.log"
    env = {**os.environ, "HOME": str(VENV / "duckdb-home"), "TMPDIR": str(workdir)}
    with open(log, "wb") as out:
        proc = subprocess.Popen([str(binary), "start", "--rest-host", "127.0.0.1", "--rest-port",
                                 str(rest), "--grpc-host", "127.0.0.1", "--grpc-port", str(grpc),
                                 "--project", project, "--log-level", "warning"],
                                stdout=out, stderr=subprocess.STDOUT, env=env, cwd=workdir)
    try:
        wait_until(lambda: _ready(endpoint, project), proc, log, f"bqemulator on {endpoint}", READY_SECONDS)
        yield BigQueryServer(endpoint, project, log)
    finally:
        stop(proc)
