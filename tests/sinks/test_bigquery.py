"""The BigQuery destination against a running emulator (bqemulator on 127.0.0.1), plus the
real-BigQuery job-id protocol against an in-memory fake that behaves as BigQuery documents.

The emulator lives in its own venv (``.venv-bq/``, built on first use by
``scripts/bqemulator-venv.sh``). When it cannot be built or started, these tests FAIL under CI
(``CI`` set) and are skipped elsewhere, with the reason.

Emulator facts these tests rely on (bqemulator 1.4.0, checked here): uploaded loads get a fresh
``bqemu_<hex>`` job id whatever the client asks for, and labels are kept, so the sink finds earlier
loads by label; its ``output_rows`` is not trusted: rows are counted with ``SELECT COUNT(*)``.
"""

from __future__ import annotations

import io
import itertools
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from relpredict.connectors import Connector, add_connector
from relpredict.errors import ConfigError, RelpredictError
from relpredict.jobs import Job, JobStatus
from relpredict.sinks import JobSink, SinkSpec, TableDestination
from relpredict.sinks import bigquery as bigquery_sink
from relpredict.sinks.bigquery import (
    MANIFEST_TABLE,
    BigQuerySink,
    bigquery_schema,
    load_job_id,
    make_client,
)
from tests.bigquery_server import BigQueryServer, running_emulator
from tests.conftest import Store, in_ci
from tests.jobs.test_metadata import metadata_in, recorded_metadata
from tests.sinks.contract import OUTPUT, MakeSink, SinkContract

APRIL = "2024-04-01"
KINDS = ("binary", "regression", "multiclass", "multilabel", "link", "static")
TYPES = {  # BigQuery column → (type, mode) per task type, beside ENTITY [+ ANCHOR_TIMESTAMP]
    "binary": {"TARGET_PRED": "BOOL", "True_PROB": "FLOAT64", "False_PROB": "FLOAT64"},
    "regression": {"TARGET_PRED": "FLOAT64"},
    "multiclass": {"CLASS": "STRING", "SCORE": "FLOAT64", "PREDICTED": "BOOL"},
    "multilabel": {"CLASS": "INT64", "SCORE": "FLOAT64", "PREDICTED": "BOOL"},
    "link": {"CLASS": "INT64", "SCORE": "FLOAT64"},
    "static": {"TARGET_PRED": "FLOAT64"},
}
_datasets = itertools.count()

pytestmark = pytest.mark.usefixtures("model_loader_seam")  # jobs load the test double


@pytest.fixture(scope="session")
def bq_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BigQueryServer]:
    """One emulator for the session; fails under CI, skips elsewhere, when it cannot run."""
    emulator = running_emulator(tmp_path_factory.mktemp("bqemulator"))
    try:
        server = emulator.__enter__()
    except Exception as err:  # the reason (pip output, emulator log) goes into the report
        message = f"The BigQuery emulator is unavailable: {err}"
        if in_ci():
            pytest.fail(message)
        pytest.skip(message)
    try:
        yield server
    finally:
        emulator.__exit__(None, None, None)


class BQ:
    """A fresh dataset on the emulator, a connector for it in the test's workspace, a client."""

    def __init__(self, server: BigQueryServer, store: Store, secrets: dict[str, str] | None = None):
        self.server, self.store = server, store
        self.dataset = f"ds_{os.getpid()}_{next(_datasets)}"
        self.connector = Connector("bq", "bigquery", {"project": server.project, "dataset": self.dataset,
                                                      "api_endpoint": server.endpoint}, secrets or {})
        self.client = make_client(type(self).connection(self.connector))
        self.client.create_dataset(self.dataset)
        add_connector(store.ws, self.connector, replace=True)

    @staticmethod
    def connection(connector: Connector) -> Any:
        from relpredict.sinks.bigquery import BigQueryConnection

        return BigQueryConnection.from_connector(connector)

    def ref(self, table: str) -> str:
        return f"{self.server.project}.{self.dataset}.{table}"

    def rows(self, table: str, order: str = "ENTITY") -> pa.Table:
        sql = f"SELECT * FROM `{self.ref(table)}` ORDER BY {order}"
        return self.client.query(sql).to_arrow(create_bqstorage_client=False)

    def count(self, table: str) -> int:
        rows = list(self.client.query(f"SELECT COUNT(*) AS n FROM `{self.ref(table)}`").result())
        return int(rows[0][0])

    def columns(self, table: str) -> dict[str, str]:
        return {f.name: f.field_type + ("[]" if f.mode == "REPEATED" else "")
                for f in self.client.get_table(self.ref(table)).schema}


@pytest.fixture()
def bq(bq_server: BigQueryServer, store: Store) -> BQ:
    return BQ(bq_server, store)


def _run(store: Store, kind: str, output: str, types: str = "predictions,embeddings", **extra) -> Job:
    wf = store.workflow(kind, name=extra.pop("name", None))
    anchor = {} if kind == "static" else {"anchor_time": APRIL}
    return wf.run(output=output, output_types=types, shard_size=25, workers=1, **anchor, **extra)


def _order(kind: str) -> str:
    return "ENTITY, CLASS" if kind in ("multiclass", "multilabel", "link") else "ENTITY"


def _sorted(table: pa.Table, kind: str) -> list[dict[str, Any]]:
    keys = [k.strip() for k in _order(kind).split(",")]
    return sorted(table.to_pylist(), key=lambda r: tuple(r[k] for k in keys))


def _plain(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Values as Python sees them: float32 embeddings widened (exactly) to float64 by BigQuery."""
    return [{k: ([float(x) for x in v] if isinstance(v, list) else v) for k, v in r.items()}
            for r in rows]


# ------------------------------------------------------------------------------ through a job
class TestBigQuerySinkContract(SinkContract):
    @pytest.fixture()
    def make_sink(self, bq: BQ) -> MakeSink:
        self.bq = bq
        home = str(bq.store.ws.home)
        return lambda job: BigQuerySink(SinkSpec(job, TableDestination("bigquery", "bq", "T"), (OUTPUT,),
                                                 home), connector=bq.connector, load_bytes=1)

    def published(self, sink: JobSink) -> list[int]:
        return self.bq.rows("T").column("ENTITY").to_pylist()


@pytest.mark.parametrize("kind", KINDS)
def test_every_task_type_round_trips_through_a_job(bq: BQ, kind: str) -> None:
    job = _run(bq.store, kind, f"bigquery://bq/{bq.dataset}.scores")
    assert job.status() is JobStatus.SUCCEEDED, job.record().error
    head = {"ENTITY": "INT64"} | ({} if kind == "static" else {"ANCHOR_TIMESTAMP": "DATETIME"})
    assert bq.columns("scores_predictions") == head | TYPES[kind]
    assert bq.columns("scores_embeddings") == head | {"EMBEDDINGS": "FLOAT64[]"}
    result = job.result()
    for output in ("predictions", "embeddings"):
        table = f"scores_{output}"
        published = pq.read_table(result.samples[output])  # the whole output: it is small
        assert bq.count(table) == published.num_rows == result.manifest["outputs"][output]["rows"]
        got = bq.rows(table, _order(kind) if output == "predictions" else "ENTITY")
        assert _plain(_sorted(got, kind if output == "predictions" else "static")) == \
            _plain(_sorted(published, kind if output == "predictions" else "static"))
    manifest = BigQuerySink(SinkSpec(job.id, TableDestination("bigquery", "bq", f"{bq.dataset}.scores"),
                                     ("predictions", "embeddings"), str(bq.store.ws.home))).read_manifest()
    assert manifest is not None and manifest["job_id"] == job.id
    assert manifest["outputs"]["predictions"]["files"][0]["path"] == bq.ref("scores_predictions")


def test_metadata_columns_reach_the_table(bq: BQ) -> None:
    job = _run(bq.store, "regression", f"bigquery://bq/{bq.dataset}.meta", types="predictions",
               metadata_fields="JOB_TIMESTAMP,MODEL_VERSION,JOB_ID")
    rec = job.record()
    assert rec.status is JobStatus.SUCCEEDED, rec.error
    assert bq.columns("meta") == {"ENTITY": "INT64", "ANCHOR_TIMESTAMP": "DATETIME",
                                  "TARGET_PRED": "FLOAT64", "JOB_TIMESTAMP": "DATETIME",
                                  "MODEL_VERSION": "STRING", "JOB_ID": "STRING"}
    want, rows = recorded_metadata(rec), bq.rows("meta").to_pylist()
    assert len(rows) == 60 and metadata_in(rows, want) == {tuple(want.values())}


def test_two_jobs_append_both_sets_of_rows(bq: BQ) -> None:
    first = _run(bq.store, "binary", f"bigquery://bq/{bq.dataset}.churn", types="predictions")
    second = _run(bq.store, "binary", f"bigquery://bq/{bq.dataset}.churn", types="predictions",
                  name="again")
    assert first.status() is second.status() is JobStatus.SUCCEEDED, second.record().error
    per_job = first.result().manifest["outputs"]["predictions"]["rows"]
    assert bq.count("churn") == 2 * per_job
    entities = bq.rows("churn").column("ENTITY").to_pylist()
    assert all(entities.count(e) == 2 for e in set(entities))
    manifests = bq.rows(MANIFEST_TABLE, "written_at").column("job_id").to_pylist()
    assert manifests == [first.id, second.id]


def test_a_crash_after_a_load_commits_then_resume_appends_each_shard_once(
        bq: BQ, monkeypatch: pytest.MonkeyPatch) -> None:
    loads: list[str] = []
    real_load = BigQuerySink._load

    def crash_after_second(self: BigQuerySink, target: Any, path: Path, load_id: str, attempt: int) -> None:
        real_load(self, target, path, load_id, attempt)  # the rows are in BigQuery now…
        loads.append(load_id)
        if len(loads) == 2:  # …and the process dies before anything else is recorded
            raise RuntimeError("injected: runner died between shard loads")

    monkeypatch.setattr(BigQuerySink, "_load", crash_after_second)
    monkeypatch.setattr(bigquery_sink, "LOAD_BYTES", 1)  # one load per shard: 3 loads
    output = f"bigquery://bq/{bq.dataset}.multi"
    with pytest.raises(RuntimeError, match="injected"):
        _run(bq.store, "multiclass", output, types="predictions")
    (job,) = _jobs(bq.store)
    assert job.status() is JobStatus.FAILED
    assert bq.count("multi") > 0 and not _has(bq, MANIFEST_TABLE)  # two shards in, no manifest

    resumed: list[str] = []

    def counting(self: BigQuerySink, target: Any, path: Path, load_id: str, attempt: int) -> None:
        resumed.append(load_id)
        real_load(self, target, path, load_id, attempt)

    monkeypatch.setattr(BigQuerySink, "_load", counting)
    job.resume()
    assert job.status() is JobStatus.SUCCEEDED, job.record().error
    shards = job.record().shards_total
    expected = [load_job_id(job.id, "predictions", s) for s in range(2, shards)]
    assert resumed[:-1] == expected and resumed[-1].endswith("_manifest")  # shards 0, 1 skipped
    rows = bq.rows("multi", "ENTITY, CLASS")
    keys = list(zip(rows.column("ENTITY").to_pylist(), rows.column("CLASS").to_pylist(), strict=True))
    assert len(keys) == len(set(keys)) == job.result().manifest["outputs"]["predictions"]["rows"]


def _jobs(store: Store) -> list[Job]:
    from relpredict.jobs import store as job_store

    return [Job(r.id, store.ws) for r in job_store.list_jobs(store.ws)]


def _has(bq: BQ, table: str) -> bool:
    from google.api_core.exceptions import NotFound

    try:
        bq.client.get_table(bq.ref(table))
        return True
    except NotFound:
        return False


def test_a_retried_publish_in_the_same_process_skips_every_loaded_shard(bq: BQ, tmp_path: Path) -> None:
    sink = _direct_sink(bq, tmp_path, "emb", ("embeddings",))
    _stage(sink, [(0, 3), (3, 5), (5, 9)])
    assert _publish(sink, "embeddings")[0].rows == 9
    again = _direct_sink(bq, tmp_path, "emb", ("embeddings",))
    assert _publish(again, "embeddings")[0].rows == 9
    assert [entry["skipped"] for entry in again.loads] == [True, True, True]
    assert bq.count("emb") == 9
    got = bq.rows("emb")
    assert got.column("EMBEDDINGS").to_pylist() == [[k / 2, -1.0] for k in range(9)]


def test_small_shards_go_up_in_one_load_whose_id_names_the_first_and_last(bq: BQ, tmp_path: Path) -> None:
    sink = _direct_sink(bq, tmp_path, "grouped", ("embeddings",), load_bytes=None)
    _stage(sink, [(0, 3), (3, 5), (5, 9)])
    _publish(sink, "embeddings")
    assert [e["load"] for e in sink.loads] == ["relpredict_jdirect_embeddings_00000_00002"]
    again = _direct_sink(bq, tmp_path, "grouped", ("embeddings",), load_bytes=None)
    _publish(again, "embeddings")
    assert [e["skipped"] for e in again.loads] == [True] and bq.count("grouped") == 9


def test_connector_test_lists_the_dataset(bq: BQ) -> None:
    from relpredict.connectors import test_connector

    assert test_connector(bq.connector) == (f"BigQuery project {bq.server.project}, dataset "
                                            f"{bq.dataset} (location US): 0 table(s).")


# ------------------------------------------------------------------------------ names, secrets
@pytest.mark.parametrize("table", ["x; DROP TABLE y", "ds.t$20240101", "a`b", "p.ds.t.x", "ds.", "t y"])
def test_unsafe_table_names_are_refused_before_any_request(bq: BQ, table: str) -> None:
    spec = SinkSpec("j1", TableDestination("bigquery", "bq", table), ("predictions",))
    with pytest.raises(ConfigError, match="not allowed|too many parts"):
        BigQuerySink(spec, connector=bq.connector, staging=Path("/nonexistent"))


def test_unsafe_dataset_and_column_names_are_refused(bq: BQ) -> None:
    bad = Connector("bq", "bigquery", {"project": "p1", "dataset": "d`; DROP SCHEMA x"})
    spec = SinkSpec("j1", TableDestination("bigquery", "bq", "t"), ("predictions",))
    with pytest.raises(ConfigError, match="dataset name"):
        BigQuerySink(spec, connector=bad, staging=Path("/nonexistent"))
    with pytest.raises(ConfigError, match="column name"):
        bigquery_schema(pa.schema([pa.field("a`, b", pa.int64())]))


def test_a_job_to_an_unsafe_table_name_fails_before_it_starts(bq: BQ) -> None:
    with pytest.raises(ConfigError, match="not allowed"):
        _run(bq.store, "binary", "bigquery://bq/x; DROP TABLE y", types="predictions")


def test_credentials_never_reach_records_logs_or_errors(
        bq_server: BigQueryServer, store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    token = "ya29.TOKEN-SECRET-5f1c9a"  # sent as a bearer token; the emulator ignores it
    monkeypatch.setenv("RELPREDICT_TEST_BQ_TOKEN", token)
    bq = BQ(bq_server, store, {"token": "env:RELPREDICT_TEST_BQ_TOKEN"})
    caplog.set_level("DEBUG")
    job = _run(store, "binary", f"bigquery://bq/{bq.dataset}.tok", types="predictions")
    assert job.status() is JobStatus.SUCCEEDED, job.record().error
    assert bq.count("tok") > 0

    key = tmp_path / "sa.json"  # a key file whose private key is garbage: refused, never quoted
    key.write_text('{"type": "service_account", "private_key": "-----BEGIN PRIVATE KEY-----KEY-SECRET-77'
                   '", "client_email": "x@p.iam.gserviceaccount.com", "token_uri": "http://127.0.0.1:9"}')
    add_connector(store.ws, Connector("bq", "bigquery", dict(bq.connector.settings),
                                      {"credentials_file": f"file:{key}"}), replace=True)
    with pytest.raises(RelpredictError) as failure:
        _run(store, "binary", f"bigquery://bq/{bq.dataset}.sa", types="predictions", name="sa")
    assert "credentials_file" in str(failure.value) and "KEY-SECRET-77" not in str(failure.value)

    everything = "".join(r.getMessage() for r in caplog.records) + str(failure.value)
    for job in _jobs(store):
        everything += repr(job.record())
    for path in store.ws.home.rglob("*"):
        if path.is_file():
            everything += path.read_bytes().decode("latin-1")
    assert token not in everything and "KEY-SECRET-77" not in everything


# ------------------------------------------------------------------------------ direct sink helpers
def _direct_sink(bq: BQ, tmp_path: Path, table: str, types: tuple[str, ...],
                 load_bytes: int | None = 1) -> BigQuerySink:
    spec = SinkSpec("jdirect", TableDestination("bigquery", "bq", table), types)
    return BigQuerySink(spec, connector=bq.connector, staging=tmp_path / "staging",
                        load_bytes=load_bytes)


def _emb(lo: int, hi: int) -> pa.Table:
    keys = list(range(lo, hi))
    return pa.table({"ENTITY": pa.array(keys, pa.int64()),
                     "EMBEDDINGS": pa.array([[k / 2, -1.0] for k in keys], pa.list_(pa.float32()))})


def _stage(sink: BigQuerySink, ranges: list[tuple[int, int]]) -> None:
    for shard, (lo, hi) in enumerate(ranges):
        sink.write_shard(shard, "embeddings", _emb(lo, hi))
        sink.mark_done(shard, {"entities": hi - lo})


def _publish(sink: BigQuerySink, output: str) -> list[Any]:
    shards = sorted(sink.done_shards())
    batches = (b for s in shards for b in sink.read_shard(s, output))
    return sink.publish(output, sink.shard_schema(shards[0], output), batches)


# ------------------------------------------------------------------------------ real BigQuery's ids
class _FakeJob:
    def __init__(self, job_id: str, error: dict[str, str] | None) -> None:
        self.job_id, self.state, self.error_result, self.labels = job_id, "DONE", error, {}

    def result(self) -> _FakeJob:
        return self

    def reload(self) -> None:
        pass


class _FakeBigQuery:
    """What BigQuery documents: client job ids are kept, a repeated id is a 409 Conflict."""

    def __init__(self) -> None:
        self.jobs: dict[str, _FakeJob] = {}
        self.rows = 0
        self.fail: set[str] = set()       # these ids fail (and append nothing)
        self.lost_reply: set[str] = set()  # these ids succeed, then the reply is lost (client retries)
        self.tables: dict[str, Any] = {}

    def get_job(self, job_id: str, location: str | None = None) -> _FakeJob:
        from google.api_core.exceptions import NotFound

        if job_id not in self.jobs:
            raise NotFound(f"Not found: Job {job_id}")
        return self.jobs[job_id]

    def load_table_from_file(self, fh: Any, ref: str, job_id: str, location: Any, job_config: Any,
                             num_retries: int = 6, timeout: Any = None) -> _FakeJob:
        from google.api_core.exceptions import Conflict

        if job_id in self.jobs:
            raise Conflict(f"Already Exists: Job {job_id}")
        error = {"reason": "invalid", "message": "injected"} if job_id in self.fail else None
        self.jobs[job_id] = _FakeJob(job_id, error)
        if error is None:
            self.rows += pq.read_table(io.BytesIO(fh.read())).num_rows
        if job_id in self.lost_reply:
            raise Conflict(f"Already Exists: Job {job_id}")  # what the client's retry sees
        return self.jobs[job_id]

    def list_jobs(self, **_: Any) -> list[Any]:
        raise AssertionError("real BigQuery answers by id: no listing")

    def get_table(self, ref: str) -> Any:
        from google.api_core.exceptions import NotFound

        if ref not in self.tables:
            raise NotFound(ref)
        return self.tables[ref]

    def create_table(self, table: Any) -> None:
        self.tables[f"{table.project}.{table.dataset_id}.{table.table_id}"] = table

    def get_dataset(self, ref: str) -> None:
        pass


def _fake_sink(tmp_path: Path, fake: _FakeBigQuery) -> BigQuerySink:
    connector = Connector("bq", "bigquery", {"project": "proj-1", "dataset": "ds"})
    spec = SinkSpec("j9", TableDestination("bigquery", "bq", "emb"), ("embeddings",))
    return BigQuerySink(spec, connector=connector, staging=tmp_path / "staging",
                        client=fake, load_bytes=1)  # type: ignore[arg-type]


def test_with_real_bigquery_ids_a_failed_load_is_retried_under_the_next_id(tmp_path: Path) -> None:
    fake = _FakeBigQuery()
    fake.fail = {load_job_id("j9", "embeddings", 1)}
    sink = _fake_sink(tmp_path, fake)
    _stage(sink, [(0, 3), (3, 5), (5, 9)])
    _publish(sink, "embeddings")
    assert fake.rows == 9
    assert load_job_id("j9", "embeddings", 1) + "_r1" in fake.jobs
    again = _fake_sink(tmp_path, fake)
    _publish(again, "embeddings")  # a resume: every shard found by id, none loaded again
    assert fake.rows == 9 and all(entry["skipped"] for entry in again.loads)


def test_with_real_bigquery_ids_a_conflict_means_the_load_exists(tmp_path: Path) -> None:
    fake = _FakeBigQuery()
    fake.lost_reply = {load_job_id("j9", "embeddings", 0)}
    sink = _fake_sink(tmp_path, fake)
    _stage(sink, [(0, 3), (3, 5)])
    _publish(sink, "embeddings")
    assert fake.rows == 5
    assert sorted(fake.jobs) == [load_job_id("j9", "embeddings", s) for s in (0, 1)]


def test_with_real_bigquery_ids_a_load_failing_every_time_stops_with_the_reason(tmp_path: Path) -> None:
    fake = _FakeBigQuery()
    base = load_job_id("j9", "embeddings", 0)
    fake.fail = {base, *(f"{base}_r{n}" for n in range(1, 9))}
    sink = _fake_sink(tmp_path, fake)
    _stage(sink, [(0, 3)])
    with pytest.raises(RelpredictError, match="failed 5 times"):
        _publish(sink, "embeddings")
    assert fake.rows == 0



def test_a_poison_entity_goes_to_the_errors_table(bq: BQ, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RELPREDICT_FIXTURE_FAIL_ON", "17")
    job = _run(bq.store, "binary", "bigquery://bq/scores", types="predictions", max_errors=1)
    assert job.status() is JobStatus.SUCCEEDED_WITH_ERRORS
    assert bq.count("scores") == 59
    assert bq.rows("scores_errors").to_pylist() == [
        {"ENTITY": 17, "ERROR": "RuntimeError: fixture failure on entity 17"}]
