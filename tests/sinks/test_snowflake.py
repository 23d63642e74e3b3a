"""The Snowflake sink against a running fakesnow server (127.0.0.1), through whole jobs and directly.

Jobs run with the model test double behind ``RELPREDICT_MODEL_LOADER`` (``tests/jobs/conftest.py``),
real spawn workers staging in the workspace, and the coordinator replacing the table's rows. Rows
are read back with the real ``snowflake.connector`` on a separate connection. Each test gets a
schema of its own: fakesnow's tables are shared by every session of the server.

When fakesnow cannot start, these tests FAIL under CI (``CI`` set) and are skipped elsewhere.
"""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from relpredict.connectors import Connector, add_connector, test_connector
from relpredict.errors import ConfigError, RelpredictError
from relpredict.jobs import Job, JobStatus
from relpredict.sinks import JobSink, SinkSpec, TableDestination, parse_destination
from relpredict.sinks import snowflake_sql as sql
from relpredict.sinks.snowflake import SnowflakeConnection, SnowflakeSink
from tests.conftest import Store, in_ci
from tests.jobs.test_metadata import metadata_in, recorded_metadata
from tests.sinks.contract import OUTPUT, MakeSink, SinkContract
from tests.snowflake_server import TIMEOUTS, SnowflakeServer, running_fakesnow

# Emulator servers and whole jobs with workers: slow. Jobs load the test double.
pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("model_loader_seam")]

APRIL = "2024-04-01"
PASSWORD = "hunter2-Snowflake-pw-never-logged-9917"
KINDS = ("binary", "regression", "multiclass", "multilabel", "link", "static")
TYPES = {  # column → Snowflake INFORMATION_SCHEMA type, beside ENTITY [+ ANCHOR_TIMESTAMP]
    "binary": {"TARGET_PRED": "BOOLEAN", "True_PROB": "FLOAT", "False_PROB": "FLOAT"},
    "regression": {"TARGET_PRED": "FLOAT"},
    "multiclass": {"CLASS": "TEXT", "SCORE": "FLOAT", "PREDICTED": "BOOLEAN"},
    "multilabel": {"CLASS": "NUMBER", "SCORE": "FLOAT", "PREDICTED": "BOOLEAN"},
    "link": {"CLASS": "NUMBER", "SCORE": "FLOAT"},
    "static": {"TARGET_PRED": "FLOAT"},
}
_schemas = itertools.count()


@pytest.fixture(scope="session")
def sf_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SnowflakeServer]:
    """One fakesnow server for the session; fails under CI, skips elsewhere, when it cannot run."""
    server_cm = running_fakesnow(tmp_path_factory.mktemp("fakesnow"))
    try:
        server = server_cm.__enter__()
    except Exception as err:
        if in_ci():
            pytest.fail(f"fakesnow is unavailable: {err}")
        pytest.skip(f"fakesnow is unavailable: {err}")
    try:
        yield server
    finally:
        server_cm.__exit__(None, None, None)


class SF:
    """A fresh schema on the server, a connector ``sf`` for it in the test's workspace, a client."""

    def __init__(self, server: SnowflakeServer, store: Store) -> None:
        self.server, self.store = server, store
        self.schema = f"S{os.getpid()}_{next(_schemas)}"
        server.create_schema("RP", self.schema)
        self.connector = Connector("sf", "snowflake", server.settings("RP", self.schema),
                                   {"password": "env:RP_TEST_SNOWFLAKE_PASSWORD"})
        add_connector(store.ws, self.connector, replace=True)
        self.client = server.connect("RP", self.schema)

    def sink(self, table: str = "T", types: tuple[str, ...] = ("predictions",), job: str = "j1",
             ) -> SnowflakeSink:
        spec = SinkSpec(job, TableDestination("snowflake", "sf", table), types, str(self.store.ws.home))
        return SnowflakeSink(spec, connection=SnowflakeConnection.from_connector(self.connector, **TIMEOUTS))

    def query(self, statement: str) -> list[tuple[Any, ...]]:
        return self.client.cursor().execute(statement).fetchall()

    def rows(self, table: str, order: str = "ENTITY") -> list[dict[str, Any]]:
        cur = self.client.cursor().execute(f'SELECT * FROM "{table}" ORDER BY {order}')
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r)) for r in cur.fetchall()]

    def count(self, table: str) -> int:
        return int(self.query(f'SELECT COUNT(*) FROM "{table}"')[0][0])

    def columns(self, table: str) -> dict[str, str]:
        cur = self.client.cursor().execute(
            "SELECT COLUMN_NAME, DATA_TYPE FROM RP.INFORMATION_SCHEMA.COLUMNS WHERE TABLE_SCHEMA = %s "
            "AND TABLE_NAME = %s ORDER BY ORDINAL_POSITION", (self.schema, table))
        return dict(cur.fetchall())


@pytest.fixture()
def sf(sf_server: SnowflakeServer, store: Store, monkeypatch: pytest.MonkeyPatch) -> Iterator[SF]:
    monkeypatch.setenv("RP_TEST_SNOWFLAKE_PASSWORD", PASSWORD)
    helper = SF(sf_server, store)
    yield helper
    helper.client.close()


def _run(store: Store, kind: str, output: str, types: str = "predictions,embeddings", **extra: Any,
         ) -> Job:
    wf = store.workflow(kind, name=extra.pop("name", None))
    if kind != "static":
        extra.setdefault("anchor_time", APRIL)
    return wf.run(output=output, output_types=types, shard_size=25, workers=1, **extra)


def _plain(value: Any) -> Any:
    """A value as both sides can compare it: ARRAY text parsed, floats as float32 (embeddings)."""
    if isinstance(value, str) and value.startswith("["):
        value = json.loads(value)
    if isinstance(value, list):
        return [float(np.float32(v)) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def _key(kind: str) -> tuple[str, ...]:
    return ("ENTITY", "CLASS") if kind in ("multiclass", "multilabel", "link") else ("ENTITY",)


def _same(got: list[dict[str, Any]], want: pa.Table, keys: tuple[str, ...]) -> None:
    expected = sorted(want.to_pylist(), key=lambda r: tuple(r[k] for k in keys))
    got = sorted(got, key=lambda r: tuple(r[k] for k in keys))
    assert [{k: _plain(v) for k, v in r.items()} for r in got] == \
        [{k: _plain(v) for k, v in r.items()} for r in expected]


def _old_rows(sf: SF, table: str = "T", anchor: bool = False) -> None:
    """Two rows with negative keys (no job makes those) in a table the job's output fits."""
    columns = '"ENTITY" NUMBER(38,0), ' + ('"ANCHOR_TIMESTAMP" TIMESTAMP_NTZ, ' if anchor else "")
    sf.query(f'CREATE TABLE "{table}" ({columns}"TARGET_PRED" FLOAT)')
    values = ", ".join(f"({k}, {'NULL, ' if anchor else ''}{k / 4})" for k in (-1, -2))
    sf.query(f'INSERT INTO "{table}" VALUES {values}')


def _predictions(lo: int, hi: int) -> pa.Table:
    keys = np.arange(lo, hi)
    return pa.table({"ENTITY": pa.array(keys, pa.int64()), "TARGET_PRED": pa.array(keys / 4.0)})


# ------------------------------------------------------------------------------ through a job
class TestSnowflakeSinkContract(SinkContract):
    @pytest.fixture()
    def make_sink(self, sf: SF) -> MakeSink:
        self.sf = sf
        return lambda job: sf.sink("T", (OUTPUT,), job)

    def published(self, sink: JobSink) -> list[int]:
        return [row["ENTITY"] for row in self.sf.rows("T")]


@pytest.mark.parametrize("kind", KINDS)
def test_every_task_type_round_trips_through_a_job(sf: SF, kind: str) -> None:
    job = _run(sf.store, kind, "snowflake://sf/scores")
    assert job.status() is JobStatus.SUCCEEDED, job.record().error
    head = {"ENTITY": "NUMBER"} | ({} if kind == "static" else {"ANCHOR_TIMESTAMP": "TIMESTAMP_NTZ"})
    assert sf.columns("SCORES_PREDICTIONS") == head | TYPES[kind]
    assert sf.columns("SCORES_EMBEDDINGS") == head | {"EMBEDDINGS": "VARIANT"}  # fakesnow: ARRAY
    result = job.result()
    for output in ("predictions", "embeddings"):
        table = f"SCORES_{output.upper()}"
        published = pq.read_table(result.samples[output])  # the whole output: it is small
        assert sf.count(table) == published.num_rows == result.manifest["outputs"][output]["rows"] > 0
        _same(sf.rows(table), published, _key(kind) if output == "predictions" else ("ENTITY",))
    files = result.manifest["outputs"]["predictions"]["files"]
    assert [f["path"] for f in files] == [f"RP.{sf.schema}.SCORES_PREDICTIONS"]
    manifest = Path(sf.store.ws.home) / "artifacts" / "jobs" / job.id / "snowflake-manifest.json"
    assert json.loads(manifest.read_text())["job_id"] == job.id
    assert not (manifest.parent / "snowflake-staging").exists()


def test_a_job_replaces_the_old_rows_and_a_second_job_replaces_the_first(sf: SF) -> None:
    _old_rows(sf, "CHURN", anchor=True)
    first = _run(sf.store, "regression", "snowflake://sf/churn", types="predictions")
    assert first.status() is JobStatus.SUCCEEDED, first.record().error
    rows = first.result().manifest["outputs"]["predictions"]["rows"]
    assert sf.count("CHURN") == rows and min(r["ENTITY"] for r in sf.rows("CHURN")) > 0
    second = _run(sf.store, "regression", f"snowflake://sf/{sf.schema}.churn", types="predictions",
                  name="again", anchor_time="2024-03-01")
    assert second.status() is JobStatus.SUCCEEDED, second.record().error
    _same(sf.rows("CHURN"), second.result().sample(), ("ENTITY",))


def test_metadata_columns_reach_the_table(sf: SF) -> None:
    job = _run(sf.store, "regression", "snowflake://sf/meta", types="predictions",
               metadata_fields="JOB_TIMESTAMP,MODEL_VERSION,JOB_ID")
    rec = job.record()
    assert rec.status is JobStatus.SUCCEEDED, rec.error
    assert sf.columns("META") == {"ENTITY": "NUMBER", "ANCHOR_TIMESTAMP": "TIMESTAMP_NTZ",
                                  "TARGET_PRED": "FLOAT", "JOB_TIMESTAMP": "TIMESTAMP_NTZ",
                                  "MODEL_VERSION": "TEXT", "JOB_ID": "TEXT"}
    want, rows = recorded_metadata(rec), sf.rows("META")
    assert len(rows) == 60 and metadata_in(rows, want) == {tuple(want.values())}


def test_a_failure_between_the_two_tables_then_resume_leaves_no_duplicates_nor_secrets(
        sf: SF, monkeypatch: pytest.MonkeyPatch) -> None:
    real = SnowflakeSink._execute

    def fail_on_embeddings(self: SnowflakeSink, cursor: Any, statement: str, params: Any = None) -> Any:
        if statement.startswith("COPY INTO") and "EMBEDDINGS" in statement:
            raise RuntimeError(f"injected: connection reset (a driver that echoes {PASSWORD!r})")
        return real(self, cursor, statement, params)

    monkeypatch.setattr(SnowflakeSink, "_execute", fail_on_embeddings)
    with pytest.raises(RelpredictError, match="The table keeps its previous rows") as err:
        _run(sf.store, "link", "snowflake://sf/recs")
    assert PASSWORD not in str(err.value) and "echoes '***'" in str(err.value)
    predictions = sf.count("RECS_PREDICTIONS")
    assert predictions > 0 and sf.count("RECS_EMBEDDINGS") == 0  # committed / rolled back
    monkeypatch.setattr(SnowflakeSink, "_execute", real)
    job = _jobs(sf.store)[0]
    assert job.status() is JobStatus.FAILED
    assert "echoes '***'" in (job.record().error or "")  # the job record holds the scrubbed text
    job.resume()
    assert job.status() is JobStatus.SUCCEEDED, job.record().error
    result = job.result()
    assert sf.count("RECS_PREDICTIONS") == predictions == result.manifest["outputs"]["predictions"]["rows"]
    assert sf.count("RECS_EMBEDDINGS") == result.manifest["outputs"]["embeddings"]["rows"]
    _same(sf.rows("RECS_PREDICTIONS"), result.sample(), _key("link"))
    for path in Path(sf.store.ws.home).rglob("*"):  # job records, logs, manifest, metadata.db
        if path.is_file():
            assert PASSWORD.encode() not in path.read_bytes(), path


def _jobs(store: Store) -> list[Job]:
    from relpredict.jobs import store as job_store

    return [Job(r.id, store.ws) for r in job_store.list_jobs(store.ws)]


# ------------------------------------------------------------------------------ the sink directly
def test_a_failure_between_delete_and_copy_keeps_the_old_rows_then_a_retry_replaces_them(
        sf: SF, monkeypatch: pytest.MonkeyPatch) -> None:
    _old_rows(sf)
    sink = sf.sink()
    real = SnowflakeSink._execute
    seen: list[str] = []

    def fail_after_delete(self: SnowflakeSink, cursor: Any, statement: str, params: Any = None) -> Any:
        seen.append(statement.split()[0])
        if statement.startswith("COPY INTO"):
            assert sf.count("T") == 2  # another session still sees the old rows mid-transaction
            raise RuntimeError(f"injected between DELETE and COPY (password {PASSWORD})")
        return real(self, cursor, statement, params)

    monkeypatch.setattr(SnowflakeSink, "_execute", fail_after_delete)
    with pytest.raises(RelpredictError) as err:
        sink.publish("predictions", _predictions(0, 5).schema, _predictions(0, 5).to_batches())
    assert seen[-4:] == ["BEGIN", "DELETE", "COPY", "ROLLBACK"]
    assert PASSWORD not in str(err.value) and "(password ***)" in str(err.value)
    assert sorted(r["ENTITY"] for r in sf.rows("T")) == [-2, -1]
    monkeypatch.setattr(SnowflakeSink, "_execute", real)
    for _ in range(2):  # a retry, then a re-run of the same job: replaced, never appended
        files = sink.publish("predictions", _predictions(0, 5).schema, _predictions(0, 5).to_batches(1))
        assert files[0].rows == 5 and files[0].path == f"RP.{sf.schema}.T"
        _same(sf.rows("T"), _predictions(0, 5), ("ENTITY",))


def test_a_copy_the_server_refuses_rolls_back(sf: SF) -> None:
    sf.query('CREATE TABLE "T" ("ENTITY" NUMBER(38,0), "TARGET_PRED" FLOAT)')
    sf.query('INSERT INTO "T" VALUES (7, 0.5)')
    strings = pa.table({"ENTITY": ["not-a-number"], "TARGET_PRED": [1.0]})
    with pytest.raises(RelpredictError, match=r"(?s)^Publishing predictions to Snowflake \(connector "
                                              r"'sf'\) failed: .*The table keeps its previous rows"):
        sf.sink().publish("predictions", strings.schema, strings.to_batches())
    assert sf.rows("T") == [{"ENTITY": 7, "TARGET_PRED": 0.5}]


def test_a_schema_in_the_destination_wins_over_the_sessions(sf: SF) -> None:
    sf.server.create_schema("RP", "OTHER")
    sink = sf.sink("other.t")
    assert sink.table("predictions") == sql.TableRef("RP", "OTHER", "T")
    sink.publish("predictions", _predictions(0, 3).schema, _predictions(0, 3).to_batches())
    assert sf.query("SELECT COUNT(*) FROM RP.OTHER.T") == [(3,)]


def test_a_copy_that_loads_fewer_rows_than_written_rolls_back(
        sf: SF, monkeypatch: pytest.MonkeyPatch) -> None:
    from relpredict.sinks import snowflake as snowflake_sink

    _old_rows(sf)
    monkeypatch.setattr(snowflake_sink, "_rows_loaded", lambda cursor: 1)
    with pytest.raises(RelpredictError, match=r"COPY INTO RP\.S\d+_\d+\.T loaded 1 rows, not the 5 "
                                              r"written: nothing was changed"):
        sf.sink().publish("predictions", _predictions(0, 5).schema, _predictions(0, 5).to_batches())
    assert sf.count("T") == 2


def test_an_existing_table_with_other_columns_is_refused_untouched(sf: SF) -> None:
    sf.query('CREATE TABLE "T" ("ENTITY" NUMBER(38,0), "OTHER" FLOAT)')
    sf.query('INSERT INTO "T" VALUES (7, 0.5)')
    with pytest.raises(ConfigError, match=r"^The Snowflake table RP\.S\d+_\d+\.T exists with other "
                                          r"columns \(missing TARGET_PRED; has OTHER the output lacks\)"):
        sf.sink().publish("predictions", _predictions(0, 2).schema, _predictions(0, 2).to_batches())
    assert sf.count("T") == 1


def test_an_empty_output_leaves_an_empty_table(sf: SF) -> None:
    _old_rows(sf)
    empty = _predictions(0, 0)
    assert sf.sink().publish("predictions", empty.schema, empty.to_batches())[0].rows == 0
    assert sf.count("T") == 0


def test_several_upload_files_load_in_one_copy(sf: SF, monkeypatch: pytest.MonkeyPatch) -> None:
    from relpredict.sinks import snowflake as snowflake_sink

    monkeypatch.setattr(snowflake_sink, "FILE_BYTES", 1)  # a file per batch
    seen: list[int] = []
    table = _predictions(0, 30)
    sink = sf.sink()
    sink.publish("predictions", table.schema, table.to_batches(10), on_batch=lambda b: seen.append(b.num_rows))
    assert seen == [10, 10, 10] and sf.count("T") == 30


def test_names_are_quoted_or_refused_never_executed(sf: SF) -> None:
    sf.query('CREATE TABLE "Y" ("A" INT)')
    with pytest.raises(ConfigError, match="so a name can never carry SQL"):
        parse_destination("snowflake://sf/x; DROP TABLE y")
    with pytest.raises(ConfigError, match="so a name can never carry SQL"):
        sf.sink('x"; DROP TABLE "Y"; --').table("predictions")
    odd = pa.table({"ENTITY": [1], 'v"; DROP TABLE "Y"; --': [2.0]})
    sf.sink("ODD").publish("predictions", odd.schema, odd.to_batches())
    assert sf.columns("ODD") == {"ENTITY": "NUMBER", 'v"; DROP TABLE "Y"; --': "FLOAT"}
    assert sf.count("Y") == 0  # still there


def test_connector_test_reports_the_session(sf: SF) -> None:
    assert test_connector(sf.connector) == \
        f"Snowflake account fakesnow, user duckdb: database RP, schema {sf.schema}."


def test_a_session_without_a_database_is_told_what_to_set(tmp_path: Path) -> None:
    """Snowflake answers NULL for CURRENT_DATABASE() when the user has no default (fakesnow does
    not: it says ``memory``), so this sets the session context the sink read by hand."""
    connector = Connector("sf", "snowflake", {"account": "a", "user": "u"})
    spec = SinkSpec("j1", TableDestination("snowflake", "sf", "T"), ("predictions",), str(tmp_path))
    sink = SnowflakeSink(spec, connector)
    sink._context = ("", "")
    with pytest.raises(ConfigError, match="has no current database: set it on the connector"):
        sink.table("predictions")


def test_anchor_timestamps_and_keys_keep_their_values(sf: SF) -> None:
    table = pa.table({"ENTITY": pa.array(["c-1", "c-2"]),
                      "ANCHOR_TIMESTAMP": pa.array([datetime(2024, 4, 1, 12, 30)] * 2, pa.timestamp("us")),
                      "EMBEDDINGS": pa.array([[0.1, -2.5], None], pa.list_(pa.float32()))})
    sf.sink("E", ("embeddings",)).publish("embeddings", table.schema, table.to_batches())
    assert sf.columns("E") == {"ENTITY": "TEXT", "ANCHOR_TIMESTAMP": "TIMESTAMP_NTZ", "EMBEDDINGS": "VARIANT"}
    _same(sf.rows("E"), table, ("ENTITY",))


# ------------------------------------------------------------------------------ no server needed
def test_workers_stage_in_the_job_folder_without_reading_a_secret(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RP_UNSET_SNOWFLAKE_PASSWORD", raising=False)
    connector = Connector("sf", "snowflake", {"account": "a", "user": "u"},
                          {"password": "env:RP_UNSET_SNOWFLAKE_PASSWORD"})
    spec = SinkSpec("j9", TableDestination("snowflake", "sf", "T"), ("predictions",), str(tmp_path))
    sink = SnowflakeSink(spec, connector)
    sink.write_shard(0, "predictions", _predictions(0, 3))
    sink.mark_done(0, {"entities": 3})
    assert sink.staging.folder == tmp_path / "artifacts" / "jobs" / "j9" / "snowflake-staging"
    assert sink.done_shards() == {0: {"entities": 3}}
    assert sum(b.num_rows for b in sink.read_shard(0, "predictions")) == 3
    assert sink.read_manifest() is None
    sink.write_manifest({"job_id": "j9"})
    assert sink.read_manifest() == {"job_id": "j9"}
    sink.discard_staging()
    assert not sink.staging.folder.exists() and sink.read_manifest() == {"job_id": "j9"}


class _CopyResult:
    def __init__(self, names: list[str], rows: list[tuple[Any, ...]]) -> None:
        self.description = [(n,) for n in names]
        self._rows = rows

    def fetchall(self) -> list[tuple[Any, ...]]:
        return self._rows


def test_rows_loaded_sums_copys_files_and_reads_no_file_as_zero() -> None:
    from relpredict.sinks.snowflake import _rows_loaded

    names = ["file", "status", "rows_parsed", "rows_loaded"]
    assert _rows_loaded(_CopyResult(names, [("a", "LOADED", 3, 3), ("b", "LOADED", 4, 4)])) == 7
    assert _rows_loaded(_CopyResult(["status"], [("Copy executed with 0 files processed.",)])) == 0


def test_a_poison_entity_goes_to_the_errors_table(sf: SF, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RELPREDICT_FIXTURE_FAIL_ON", "17")
    job = _run(sf.store, "binary", "snowflake://sf/scores", types="predictions", max_errors=1)
    assert job.status() is JobStatus.SUCCEEDED_WITH_ERRORS
    assert sf.count("SCORES") == 59
    assert sf.rows("SCORES_errors") == [{"ENTITY": 17, "ERROR": "RuntimeError: fixture failure on entity 17"}]
