"""The S3 sink against a real HTTP S3 API (moto's server on 127.0.0.1), through whole jobs.

Jobs run with the test double behind ``RELPREDICT_MODEL_LOADER`` (see ``tests/jobs/conftest.py``),
real spawn workers writing to the staging prefix, and the coordinator publishing. Outputs are read
back with s3fs (a different client stack than the sink's boto3) and compared with the job's sample
(the whole output here: it is under the cap).
"""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from relpredict.cli.main import app
from relpredict.connectors import Connector, add_connector
from relpredict.jobs import Job, JobStatus
from relpredict.sinks import JobSink, SinkSpec, open_sink, parse_destination
from relpredict.sinks import s3 as s3_module
from tests.conftest import N_CUSTOMERS, Store
from tests.jobs.test_jobs import APRIL, TYPES
from tests.jobs.test_metadata import metadata_in, recorded_metadata
from tests.servers import MotoServer, start_moto
from tests.sinks.contract import OUTPUT, MakeSink, SinkContract

# Emulator servers and whole jobs with workers: slow. Jobs load the test double.
pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("model_loader_seam")]

KEY_ID = "AKIA-relpredict-test-key-7731"
SECRET = "s3cr3t/relpredict+never-in-a-record-0042"


@pytest.fixture(scope="session")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    server = start_moto(tmp_path_factory.mktemp("moto"))
    yield server
    server.stop()


@pytest.fixture()
def bucket(moto: MotoServer, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh bucket; the standard AWS variables point jobs (and their workers) at moto."""
    for var in ("AWS_ENDPOINT_URL_S3", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto.endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    name = f"t-{uuid.uuid4().hex[:12]}"
    moto.client().create_bucket(Bucket=name)
    return name


def _keys(moto: MotoServer, bucket: str, prefix: str = "") -> list[str]:
    pages = moto.client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return sorted(o["Key"] for p in pages for o in p.get("Contents", []) if not o["Key"].endswith("/"))


def _fs(moto: MotoServer):
    import s3fs

    return s3fs.S3FileSystem(endpoint_url=moto.endpoint, key="testing", secret="testing",
                             use_listings_cache=False)


def _read_parquet(moto: MotoServer, urls: list[str]) -> pa.Table:
    fs = _fs(moto)
    return pa.concat_tables([pq.read_table(fs.open(u, "rb")) for u in urls])


def _files(job: Job, output: str) -> list[str]:
    return [f["path"] for f in job.result().manifest["outputs"][output]["files"]]


def _manifest(moto: MotoServer, bucket: str, key: str) -> dict | None:
    try:
        return json.loads(moto.client().get_object(Bucket=bucket, Key=key)["Body"].read())
    except Exception:
        return None


class TestS3SinkContract(SinkContract):
    @pytest.fixture()
    def make_sink(self, moto: MotoServer, bucket: str) -> MakeSink:
        self.moto, self.bucket = moto, bucket
        dest = parse_destination(f"s3://{bucket}/out/p.parquet")
        return lambda job: open_sink(SinkSpec(job, dest, (OUTPUT,)))

    def published(self, sink: JobSink) -> list[int]:
        body = self.moto.client().get_object(Bucket=self.bucket, Key="out/p.parquet")["Body"].read()
        return pq.read_table(pa.BufferReader(body)).column("ENTITY").to_pylist()


@pytest.mark.parametrize("kind", list(TYPES))
def test_every_task_type_round_trips_through_s3(store: Store, moto: MotoServer, bucket: str,
                                                kind: str) -> None:
    anchor = {} if kind == "static" else {"anchor_time": APRIL}
    job = store.workflow(kind).run(output=f"s3://{bucket}/scores/{kind}.parquet", shard_size=25,
                                   output_types="predictions,embeddings", **anchor)
    assert job.status() is JobStatus.SUCCEEDED, job.record().error
    result = job.result()
    for output in ("predictions", "embeddings"):
        assert _files(job, output) == [f"s3://{bucket}/scores/{kind}_{output}.parquet"]
        table = _read_parquet(moto, _files(job, output))
        assert table.equals(result.sample(output))  # values equal after the round trip
    preds = _read_parquet(moto, _files(job, "predictions"))
    head = {"ENTITY": pa.int64()} | ({} if kind == "static" else {"ANCHOR_TIMESTAMP": pa.timestamp("us")})
    assert {f.name: f.type for f in preds.schema} == head | TYPES[kind]
    assert _keys(moto, bucket) == sorted([f"scores/{kind}_predictions.parquet", f"scores/{kind}.manifest.json",
                                          f"scores/{kind}_embeddings.parquet"])  # staging is gone
    assert _manifest(moto, bucket, f"scores/{kind}.manifest.json")["job_id"] == job.id


def test_metadata_columns_reach_the_objects(store: Store, moto: MotoServer, bucket: str) -> None:
    job = store.workflow("binary").run(output=f"s3://{bucket}/meta/p.parquet", anchor_time=APRIL,
                                       workers=2, shard_size=20, metadata_fields="MODEL_VERSION,JOB_ID")
    rec = job.record()
    assert rec.status is JobStatus.SUCCEEDED, rec.error
    table = _read_parquet(moto, _files(job, "predictions"))
    want = {k: v for k, v in recorded_metadata(rec).items() if k in ("MODEL_VERSION", "JOB_ID")}
    assert table.column_names[-2:] == list(want) and table.num_rows == 60
    assert metadata_in(table.to_pylist(), want) == {tuple(want.values())}
    assert table.equals(job.result().sample())


def test_csv_single_files_with_embeddings_as_json_arrays(store: Store, moto: MotoServer,
                                                         bucket: str) -> None:
    job = store.workflow("binary").run(output=f"s3://{bucket}/out/p.csv", anchor_time=APRIL, workers=2,
                                       output_types="predictions,embeddings", shard_size=30)
    assert job.status() is JobStatus.SUCCEEDED, job.record().error
    fs, result = _fs(moto), job.result()
    sample = result.sample("predictions")
    opts = pacsv.ConvertOptions(column_types={f.name: f.type for f in sample.schema})
    preds = pacsv.read_csv(io.BytesIO(fs.cat(f"{bucket}/out/p_predictions.csv")), convert_options=opts)
    assert preds.equals(sample)
    emb = pacsv.read_csv(io.BytesIO(fs.cat(f"{bucket}/out/p_embeddings.csv")))
    expected = result.sample("embeddings")
    assert emb.column("ENTITY").to_pylist() == expected.column("ENTITY").to_pylist()
    got = np.array([json.loads(v) for v in emb.column("EMBEDDINGS").to_pylist()], np.float32)
    assert np.array_equal(got, np.array(expected.column("EMBEDDINGS").to_pylist(), np.float32))


def test_partitioned_parquet_replaces_old_parts_and_manifest_lists_the_new(
        store: Store, moto: MotoServer, bucket: str) -> None:
    client = moto.client()
    for stale in ("run/part_000.parquet", "run/part_042.parquet"):  # an earlier job's parts
        client.put_object(Bucket=bucket, Key=stale, Body=b"old")
    client.put_object(Bucket=bucket, Key="run.manifest.json", Body=b'{"job_id": "old"}')
    job = store.workflow("regression").run(output=f"s3://{bucket}/run/{{{{PARTITION}}}}.parquet",
                                           anchor_time=APRIL, shard_size=20, partition_bytes=1)
    assert job.status() is JobStatus.SUCCEEDED, job.record().error
    files = _files(job, "predictions")
    assert len(files) == job.record().shards_total > 1  # one part per staged batch at 1 byte
    assert [f"s3://{bucket}/{k}" for k in _keys(moto, bucket, "run/")] == files
    assert files[:2] == [f"s3://{bucket}/run/part_000.parquet", f"s3://{bucket}/run/part_001.parquet"]
    table = _read_parquet(moto, files)
    assert table.equals(job.result().sample("predictions"))
    assert table.column("ENTITY").to_pylist() == sorted(set(table.column("ENTITY").to_pylist()))
    manifest = _manifest(moto, bucket, "run.manifest.json")
    assert manifest["job_id"] == job.id
    assert [f["rows"] for f in manifest["outputs"]["predictions"]["files"]] == [
        pq.ParquetFile(_fs(moto).open(f, "rb")).metadata.num_rows for f in files]


def test_resume_after_a_failed_shard_keeps_staged_shards_and_writes_no_duplicates(
        store: Store, moto: MotoServer, bucket: str, monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path) -> None:
    log = tmp_path / "calls.jsonl"
    monkeypatch.setenv("RELPREDICT_FIXTURE_LOG", str(log))
    monkeypatch.setenv("RELPREDICT_FIXTURE_FAIL_ON", "59")  # the last shard fails
    wf = store.workflow("static")
    with pytest.raises(Exception, match="59"):
        wf.run(output=f"s3://{bucket}/st/p.parquet", shard_size=15)
    job = wf.jobs()[0]
    assert job.status() is JobStatus.FAILED
    assert _manifest(moto, bucket, "st/p.manifest.json") is None
    assert "st/p.parquet" not in _keys(moto, bucket)
    staged = _keys(moto, bucket, f"st/.relpredict-staging/{job.id}/done/")
    assert 0 < len(staged) < 4
    monkeypatch.delenv("RELPREDICT_FIXTURE_FAIL_ON")
    log.write_text("")
    job.resume()
    assert job.status() is JobStatus.SUCCEEDED, job.record().error
    rescored = sum(len(json.loads(line)["entities"]) for line in log.read_text().splitlines())
    assert rescored == N_CUSTOMERS - 15 * len(staged)  # staged shards were not computed again
    entities = _read_parquet(moto, _files(job, "predictions")).column("ENTITY").to_pylist()
    assert entities == list(range(1, N_CUSTOMERS + 1))  # each once, in order
    assert _keys(moto, bucket) == ["st/p.manifest.json", "st/p.parquet"]


def test_a_failure_mid_publish_leaves_no_manifest_then_resume_publishes(
        store: Store, moto: MotoServer, bucket: str, monkeypatch: pytest.MonkeyPatch) -> None:
    wf = store.workflow("binary")
    dest = f"s3://{bucket}/mp/{{{{PARTITION}}}}.parquet"
    client = moto.client()  # an earlier job's complete output: 3 parts and its manifest
    for key in ("mp/part_000.parquet", "mp/part_001.parquet", "mp/part_002.parquet"):
        client.put_object(Bucket=bucket, Key=key, Body=b"old")
    client.put_object(Bucket=bucket, Key="mp.manifest.json", Body=b'{"job_id": "earlier"}')
    original = s3_module._RollingObjects.write

    def failing_write(self, batch):  # the upload of the third part dies
        original(self, batch)
        if len(self.done) >= 2:
            raise OSError("connection reset (injected)")

    monkeypatch.setattr(s3_module._RollingObjects, "write", failing_write)
    with pytest.raises(Exception, match="injected"):
        wf.run(output=dest, anchor_time=APRIL, shard_size=15, partition_bytes=1)
    job = wf.jobs()[0]
    assert job.status() is JobStatus.FAILED
    assert _manifest(moto, bucket, "mp.manifest.json") is None  # the old promise is withdrawn
    assert _keys(moto, bucket, "mp/") == ["mp/part_000.parquet", "mp/part_001.parquet"]  # new only
    assert client.get_object(Bucket=bucket, Key="mp/part_000.parquet")["Body"].read()[:4] == b"PAR1"
    assert not moto.client().list_multipart_uploads(Bucket=bucket).get("Uploads")  # aborted
    monkeypatch.setattr(s3_module._RollingObjects, "write", original)
    job.resume()
    assert job.status() is JobStatus.SUCCEEDED, job.record().error
    assert _manifest(moto, bucket, "mp.manifest.json")["job_id"] == job.id
    files = _files(job, "predictions")
    assert [f"s3://{bucket}/{k}" for k in _keys(moto, bucket, "mp/")] == files
    assert _read_parquet(moto, files).equals(job.result().sample("predictions"))


def test_multipart_upload_of_a_large_object_and_abort_leaves_nothing(moto: MotoServer,
                                                                     bucket: str) -> None:
    client = moto.client()
    data = np.random.default_rng(0).bytes(12 * 1024 * 1024 + 123)
    with s3_module.MultipartWriter(client, bucket, "big.bin", part_bytes=5 * 1024 * 1024) as out:
        for start in range(0, len(data), 1_000_000):
            out.write(data[start:start + 1_000_000])
        assert out.tell() == len(data)
    head = client.head_object(Bucket=bucket, Key="big.bin")
    assert head["ContentLength"] == len(data) and head["ETag"].strip('"').endswith("-3")  # 3 parts
    assert client.get_object(Bucket=bucket, Key="big.bin")["Body"].read() == data
    out = s3_module.MultipartWriter(client, bucket, "gone.bin", part_bytes=5 * 1024 * 1024)
    out.write(data)
    out.abort()
    out.close()
    assert "gone.bin" not in _keys(moto, bucket)
    assert not client.list_multipart_uploads(Bucket=bucket).get("Uploads")


def _everything_in(home: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(home.rglob("*")) if p.is_file())


def test_connector_credentials_never_reach_records_logs_or_errors(
        store: Store, moto: MotoServer, bucket: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    monkeypatch.setenv("LAKE_KEY_ID", KEY_ID)
    monkeypatch.setenv("LAKE_SECRET", SECRET)
    add_connector(store.ws, Connector("lake", "s3", {"endpoint_url": moto.endpoint},
                                      {"aws_access_key_id": "env:LAKE_KEY_ID",
                                       "aws_secret_access_key": "env:LAKE_SECRET"}))
    wf = store.workflow("regression")
    runner = CliRunner()
    home = ["--home", str(store.ws.home)]
    out = runner.invoke(app, ["job", "run", "regression", "--output", f"s3://{bucket}/c/p.parquet",
                              "--connector", "lake", "--anchor-time", APRIL, *home])
    assert out.exit_code == 0, out.output
    job = wf.jobs()[0]
    assert job.status() is JobStatus.SUCCEEDED and f"s3://{bucket}/c/p.parquet" in out.output
    assert _keys(moto, bucket) == ["c/p.manifest.json", "c/p.parquet"]
    with pytest.raises(Exception) as err:  # a failing job: the bucket does not exist
        wf.run(output="s3://no-such-bucket-relpredict/c/p.parquet", connector="lake", anchor_time=APRIL)
    failed = wf.jobs()[0]
    assert failed.status() is JobStatus.FAILED and "NoSuchBucket" in failed.record().error
    for text in (str(err.value), failed.record().error):
        assert SECRET not in text and KEY_ID not in text
    dump = _everything_in(store.ws.home)
    assert b"env:LAKE_SECRET" in dump  # the reference is stored ...
    assert SECRET.encode() not in dump and KEY_ID.encode() not in dump  # ... never the value
    out = runner.invoke(app, ["connector", "test", "lake", "--bucket", bucket, *home])
    assert out.exit_code == 0 and f"listed s3://{bucket}" in out.output, out.output
    out = runner.invoke(app, ["connector", "test", "lake", *home])
    assert out.exit_code == 0 and "bucket(s) at http://127.0.0.1:" in out.output, out.output
    listed = runner.invoke(app, ["connector", "list", *home]).output
    assert SECRET not in listed and "env:LAKE_SECRET" in listed


def test_a_poison_entity_goes_to_the_errors_object_beside_the_output(
        store: Store, moto: MotoServer, bucket: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RELPREDICT_FIXTURE_FAIL_ON", "17")
    job = store.workflow("binary").run(output=f"s3://{bucket}/pe/p.parquet", shard_size=20,
                                       anchor_time=APRIL, max_errors=1)
    assert job.status() is JobStatus.SUCCEEDED_WITH_ERRORS
    assert _keys(moto, bucket, "pe/") == ["pe/p.manifest.json", "pe/p.parquet", "pe/p_errors.parquet"]
    body = moto.client().get_object(Bucket=bucket, Key="pe/p_errors.parquet")["Body"].read()
    assert pq.read_table(pa.BufferReader(body)).to_pylist() == [
        {"ENTITY": 17, "ERROR": "RuntimeError: fixture failure on entity 17"}]
