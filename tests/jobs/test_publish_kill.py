"""A real SIGKILL of a job's runner between two renames of its local publish: no manifest (the
earlier job's is withdrawn first) until ``job resume`` completes the publish and writes the new one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from relpredict.jobs import Job, JobStatus
from relpredict.jobs import store as job_store
from tests.conftest import Store

pytestmark = pytest.mark.slow  # whole jobs in subprocesses

# The CLI, with os.replace SIGKILLing this very process on the second rename into the output
# folder: the predictions are renamed in, the embeddings are not yet.
KILLER = """
import os, signal, sys
out = sys.argv.pop(1)
real, seen = os.replace, []
def replace(src, dst, *a, **k):
    if os.path.dirname(os.path.abspath(dst)) == out and not os.path.basename(dst).startswith("."):
        seen.append(dst)
        if len(seen) == 2:
            os.kill(os.getpid(), signal.SIGKILL)
    return real(src, dst, *a, **k)
os.replace = replace
from relpredict.cli.main import main
sys.argv[0] = "relpredict"
main()
"""


def test_a_kill_between_two_renames_leaves_no_manifest_until_the_resume(
        store: Store, tmp_path: Path) -> None:
    store.workflow("binary", name="wf")
    out = store.out
    env = {**os.environ, "RELPREDICT_HOME": str(store.ws.home),
           "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parents[2]), os.environ.get("PYTHONPATH", "")])}
    args = ["job", "run", "wf", "--output-types", "predictions,embeddings", "--output", str(out / "p.parquet"),
            "--shard-size", "20"]
    first = subprocess.run([sys.executable, "-m", "relpredict.cli.main", *args, "--anchor-time", "2024-03-01"],
                           env=env, capture_output=True, text=True)
    assert first.returncode == 0, first.stdout + first.stderr
    manifest = out / "p.manifest.json"
    old = json.loads(manifest.read_text())["job_id"]

    killed = subprocess.run([sys.executable, "-c", KILLER, str(out), *args, "--anchor-time", "2024-04-15"],
                            env=env, capture_output=True, text=True)
    assert killed.returncode == -9, killed.stdout + killed.stderr
    assert not manifest.exists()  # withdrawn before the first rename; not written again
    new = next(r.id for r in job_store.list_jobs(store.ws) if r.id != old)
    assert Job(new, store.ws).status() is JobStatus.FAILED  # its runner is gone: failed at a look

    resumed = subprocess.run([sys.executable, "-m", "relpredict.cli.main", "job", "resume", new],
                             env=env, capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    written = json.loads(manifest.read_text())
    assert written["job_id"] == new
    for output in ("predictions", "embeddings"):
        table = pq.read_table(out / f"p_{output}.parquet")
        assert table.num_rows == written["outputs"][output]["rows"] == 60
        assert len(set(table.column("ENTITY").to_pylist())) == 60
