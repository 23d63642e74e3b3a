"""Metadata columns (``--metadata-fields``): appended to every output, one value per job, equal to
the job record's, in Parquet and CSV, and the same after a failed run is resumed."""

from __future__ import annotations

import io
from datetime import datetime
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from relpredict.cli.main import app
from relpredict.errors import RelpredictError
from relpredict.jobs import Job, JobStatus
from relpredict.jobs import store as job_store
from relpredict.jobs.store import JobRecord, parse_iso
from tests.conftest import Store

pytestmark = pytest.mark.slow  # whole jobs with worker processes

APRIL = "2024-04-01"
FIELDS = "job_id, MODEL_VERSION,JOB_TIMESTAMP,ANCHOR_TIMESTAMP"


def recorded_metadata(rec: JobRecord) -> dict[str, Any]:
    """The metadata values the job record holds, in the columns' order (also for the sink tests)."""
    return {"JOB_TIMESTAMP": parse_iso(rec.created_at), "MODEL_VERSION": rec.model_ref, "JOB_ID": rec.id}


def metadata_in(rows: list[dict[str, Any]], want: dict[str, Any]) -> set[tuple[Any, ...]]:
    """The distinct tuples of the ``want`` columns in ``rows`` (one per job: ``want``'s values)."""
    return {tuple(row[name] for name in want) for row in rows}


def _check_metadata(table: pa.Table, rec: JobRecord) -> None:
    want = recorded_metadata(rec)
    assert table.column_names[-3:] == list(want)
    assert table.column_names.count("ANCHOR_TIMESTAMP") == 1  # named, but already a column
    assert table.schema.field("JOB_TIMESTAMP").type == pa.timestamp("us")
    assert table.schema.field("MODEL_VERSION").type == table.schema.field("JOB_ID").type == pa.string()
    for name, value in want.items():
        assert table.column(name).to_pylist() == [value] * table.num_rows, name


def test_metadata_columns_hold_the_records_values_on_every_output(
        store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    wf = store.workflow("binary", name="wf")
    monkeypatch.setenv("RELPREDICT_FIXTURE_FAIL_ON", "17")  # an errors output too
    job = wf.run(anchor_time=APRIL, workers=2, shard_size=15, output=str(store.out / "p.parquet"),
                 output_types="predictions,embeddings", metadata_fields=FIELDS, max_errors=1)
    rec = job.record()
    assert rec.status is JobStatus.SUCCEEDED_WITH_ERRORS, rec.error
    assert rec.settings.metadata_fields == ("JOB_TIMESTAMP", "ANCHOR_TIMESTAMP", "MODEL_VERSION", "JOB_ID")
    assert rec.model_ref == "m-wf@1" and isinstance(recorded_metadata(rec)["JOB_TIMESTAMP"], datetime)
    result = job.result()
    for output in ("predictions", "embeddings"):
        table = pq.read_table(store.out / f"p_{output}.parquet")
        assert table.num_rows == 59  # 4 shards from 2 workers, less the failed entity
        _check_metadata(table, rec)
        assert table.equals(result.sample(output))
        schema = [f["name"] for f in result.manifest["outputs"][output]["schema"]]
        assert schema == table.column_names
    assert pq.read_table(store.out / "p_errors.parquet").column_names == ["ENTITY", "ERROR"]


def test_metadata_columns_in_a_csv_file_from_the_cli(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    store.workflow("regression", name="wf")
    monkeypatch.setenv("RELPREDICT_HOME", str(store.ws.home))
    result = CliRunner().invoke(app, ["job", "run", "wf", "--anchor-time", APRIL, "--output",
                                      str(store.out / "p.csv"), "--metadata-fields",
                                      "MODEL_VERSION,JOB_TIMESTAMP"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    (rec,) = job_store.list_jobs(store.ws)
    job = Job(rec.id, store.ws)
    assert rec.status is JobStatus.SUCCEEDED, rec.error
    sample = job.result().sample()
    opts = pacsv.ConvertOptions(column_types={f.name: f.type for f in sample.schema})
    written = pacsv.read_csv(io.BytesIO((store.out / "p.csv").read_bytes()), convert_options=opts)
    assert written.column_names == ["ENTITY", "ANCHOR_TIMESTAMP", "TARGET_PRED", "JOB_TIMESTAMP",
                                    "MODEL_VERSION"]
    assert written.equals(sample) and written.num_rows == 60
    assert set(written.column("JOB_TIMESTAMP").to_pylist()) == {parse_iso(rec.created_at)}
    assert set(written.column("MODEL_VERSION").to_pylist()) == {"m-wf@1"}


def test_a_resumed_job_writes_the_values_recorded_when_it_was_set_up(
        store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    wf = store.workflow("binary", name="wf")
    monkeypatch.setenv("RELPREDICT_FIXTURE_FAIL_ON", "42")
    out = store.out / "p.parquet"
    with pytest.raises(RelpredictError, match="fixture failure on entity 42"):
        wf.run(anchor_time=APRIL, workers=2, shard_size=10, output=str(out), max_errors=0,
               metadata_fields="JOB_TIMESTAMP,JOB_ID")
    (rec,) = job_store.list_jobs(store.ws)
    assert rec.status is JobStatus.FAILED and not out.exists()
    monkeypatch.delenv("RELPREDICT_FIXTURE_FAIL_ON")
    resumed_at = datetime.fromisoformat(job_store.now_iso().rstrip("Z"))
    job = Job(rec.id, store.ws).resume()
    assert job.status() is JobStatus.SUCCEEDED, job.record().error
    table = pq.read_table(out)
    assert table.num_rows == 60 and table.column_names[-2:] == ["JOB_TIMESTAMP", "JOB_ID"]
    stamps = set(table.column("JOB_TIMESTAMP").to_pylist())
    assert stamps == {parse_iso(job.record().created_at)} and stamps.pop() < resumed_at
    assert set(table.column("JOB_ID").to_pylist()) == {rec.id}
