"""Publishing while the shards are scored (a one-file local destination streams its outputs).

The writer of each output follows the shards in order as they are staged, under a hidden
temporary name; the file replaces the earlier one only when the job is complete and its checks
pass. These tests watch the destination folder during real jobs (worker processes, the model
test double slowed down per shard) and check that a job that fails or is cancelled mid-way
leaves the earlier output and its manifest exactly as they were.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from relpredict.errors import RelpredictError
from relpredict.jobs import Job, JobStatus, Workflow
from relpredict.jobs import store as job_store
from relpredict.jobs.status import Stage
from tests.conftest import Store

APRIL = "2024-04-15"


def _hidden(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.glob(".*") if p.is_file())


def _watcher(store: Store, seen: list[tuple[int, list[str]]]) -> Any:
    """An ``on_progress`` that notes the hidden files in the output folder while shards remain."""
    def on_progress(progress: Any) -> None:
        if progress.stage is Stage.PREDICTING:
            done = progress.shards_done
            if 0 < done < 6 and store.out.exists():
                seen.append((done, _hidden(store.out)))
    return on_progress


def _first_job(store: Store) -> tuple[str, bytes]:
    wf = store.workflow("binary", name="wf")
    job = wf.run(output=str(store.out / "p.parquet"), output_types="predictions,embeddings",
                 shard_size=10, anchor_time="2024-03-01")
    assert job.status() is JobStatus.SUCCEEDED
    return job.id, (store.out / "p_predictions.parquet").read_bytes()


def test_outputs_are_written_while_the_last_shards_are_still_scored(
        store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    wf = store.workflow("binary", name="wf")
    monkeypatch.setenv("RELPREDICT_FIXTURE_DELAY", "0.4")  # per predict call: one per shard
    seen: list[tuple[int, list[str]]] = []
    job = wf.run(output=str(store.out / "p.parquet"), output_types="predictions,embeddings",
                 shard_size=10, workers=1, anchor_time=APRIL, on_progress=_watcher(store, seen))
    assert job.status() is JobStatus.SUCCEEDED, job.record().error
    # Both outputs' temporary files were open while shards were still being scored ...
    writing = [names for done, names in seen
               if any(n.startswith(".p_predictions.parquet.tmp-") for n in names)
               and any(n.startswith(".p_embeddings.parquet.tmp-") for n in names)]
    assert writing, seen
    assert _hidden(store.out) == []  # ... and renamed in the end
    # The same rows, in the same order, as the outputs published after the scoring (part files
    # are never streamed).
    monkeypatch.delenv("RELPREDICT_FIXTURE_DELAY")
    parts = store.out / "parts"
    later = wf.run(output=str(parts / "{{PARTITION}}.parquet"), output_types="predictions,embeddings",
           shard_size=10, workers=2, anchor_time=APRIL)
    for output in ("predictions", "embeddings"):
        streamed = pq.read_table(store.out / f"p_{output}.parquet")
        files = [f["path"] for f in later.result().manifest["outputs"][output]["files"]]
        after = pa.concat_tables(pq.read_table(p) for p in files)
        assert streamed.num_rows == 60 and streamed.equals(after)
    summary = job.result().summary
    assert sum(summary["outputs"]["predictions"]["histogram"]["counts"]) == 60


def test_a_job_that_fails_at_its_checks_while_streaming_leaves_the_earlier_output(
        store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    old_id, old_bytes = _first_job(store)
    monkeypatch.setenv("RELPREDICT_FIXTURE_FAIL_ON", "57")  # in the last shard; no errors allowed
    with pytest.raises(RelpredictError, match="fixture failure on entity 57"):
        Workflow.get("wf", store.ws).run(output=str(store.out / "p.parquet"), output_types="predictions,embeddings",
                                         shard_size=10, workers=2, anchor_time=APRIL, max_errors=0)
    failed = next(r for r in job_store.list_jobs(store.ws) if r.id != old_id)
    assert failed.status is JobStatus.FAILED
    assert json.loads((store.out / "p.manifest.json").read_text())["job_id"] == old_id
    assert (store.out / "p_predictions.parquet").read_bytes() == old_bytes
    assert _hidden(store.out) == []  # the abandoned temporary files are gone


def test_a_job_cancelled_while_streaming_leaves_the_earlier_output(
        store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    old_id, old_bytes = _first_job(store)
    monkeypatch.setenv("RELPREDICT_FIXTURE_DELAY", "0.4")
    wf = Workflow.get("wf", store.ws)

    def cancel_after_two(progress: Any) -> None:
        if progress.shards_done >= 2:
            Job(progress.job_id, store.ws).cancel()

    job = wf.run(output=str(store.out / "p.parquet"), output_types="predictions,embeddings",
                 shard_size=10, workers=1, anchor_time=APRIL, on_progress=cancel_after_two)
    assert job.status() is JobStatus.CANCELLED
    assert json.loads((store.out / "p.manifest.json").read_text())["job_id"] == old_id
    assert (store.out / "p_predictions.parquet").read_bytes() == old_bytes
    assert _hidden(store.out) == []
