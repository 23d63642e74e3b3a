"""S3 (and S3-compatible stores: MinIO, Ceph, R2): CSV or Parquet, one object or ``part_NNN`` objects.

Connection. Credentials come from the standard AWS chain (environment, shared profile, container or
instance role) unless the job names a connector (``--connector NAME``) whose secrets
``aws_access_key_id`` / ``aws_secret_access_key`` (/ ``aws_session_token``) are references read at
use time, or whose ``profile`` setting picks a profile. The endpoint is the connector's
``endpoint_url``, else ``AWS_ENDPOINT_URL_S3``, else ``AWS_ENDPOINT_URL``, else AWS itself.

Layout. Staging is job-scoped, beside the output (for partitioned output, beside its folder)::

    s3://b/p/.relpredict-staging/<job id>/predictions/shard_00003.parquet
    s3://b/p/.relpredict-staging/<job id>/done/shard_00003.json      ← the shard's done marker

A PUT is atomic (a reader sees the old object, the new one, or none), so staged shards and markers
are written with one PUT each. Final objects are streamed through multipart uploads (parts of
``PART_BYTES``, uploaded by a few threads while the next part is encoded); an object appears only
when its upload completes, and an aborted upload leaves nothing.

Write semantics (what a reader may trust). **An output is valid only when its manifest exists**
(``s3://b/p/preds.manifest.json``; for ``s3://b/p/out/{{PARTITION}}.parquet`` it is
``s3://b/p/out.manifest.json``): it is written last and names every object with its rows and
bytes. Publishing goes:

1. delete the destination's manifest (a re-run first withdraws the old promise);
2. for partitioned output, delete every ``part_*`` object in the output folder (parts of an earlier
   unfinished attempt of this job, or of an earlier job), so old and new parts never mix;
3. stream the staged shards, in shard order, into the final object(s);
4. write the manifest, then delete the staging prefix.

A failure before step 4 leaves no manifest, so a half-written output is never taken for a whole
one; a resume (or re-run) reads the staged shards again and repeats steps 1-4 from the start. The
staging prefix of a failed or cancelled job stays (a resume continues from it) until the job
succeeds; delete ``.relpredict-staging/<job id>/`` to drop an abandoned job's shards. A
reader that lists the folder instead of reading the manifest may, during steps 2-3, see a partial
set of new parts (never old and new ones together).
"""

from __future__ import annotations

import builtins
import contextlib
import io
import json
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from relpredict.connectors import Connector, resolve_secrets
from relpredict.errors import ConfigError, DestinationError, RelpredictError
from relpredict.sinks.base import JobSink, OutputFile, SinkSpec
from relpredict.sinks.formats import BatchWriter, RollingWriter, open_writer
from relpredict.sinks.localfs import shard_file_name
from relpredict.sinks.naming import Destination, as_files
from relpredict.sinks.network import JobEvents, NetPolicy, policy, with_retries

PART_BYTES = 8 * 1024 * 1024  # multipart part size: small enough to overlap uploads with encoding
MIN_PART_BYTES = 5 * 1024 * 1024  # S3's minimum part size (except the last part)
UPLOAD_THREADS = 4
STAGING = ".relpredict-staging"

__all__ = ["PART_BYTES", "MultipartWriter", "S3Config", "S3Sink", "S3Staging", "split_url",
           "test_connection"]


def split_url(url: str) -> tuple[str, str]:
    """``s3://bucket/a/b`` → (``bucket``, ``a/b``)."""
    rest = url[5:] if url[:5].lower() == "s3://" else url
    bucket, _, key = rest.partition("/")
    return bucket, key


@dataclass(frozen=True)
class S3Config:
    """How to reach S3: endpoint, region, profile and (resolved) keys. Never stored or logged."""

    endpoint_url: str | None = None
    region: str | None = None
    profile: str | None = None
    access_key: str | None = None
    secret_key: str | None = None
    session_token: str | None = None

    def __repr__(self) -> str:  # keys never reach a log or a traceback through repr
        return f"S3Config(endpoint_url={self.endpoint_url!r}, region={self.region!r}, profile={self.profile!r})"

    @classmethod
    def from_connector(cls, connector: Connector | None) -> S3Config:
        """The connector's settings and secrets over the standard environment variables."""
        settings = connector.settings if connector else {}
        secrets = resolve_secrets(connector) if connector else {}
        endpoint = (settings.get("endpoint_url") or os.environ.get("AWS_ENDPOINT_URL_S3")
                    or os.environ.get("AWS_ENDPOINT_URL") or None)
        region = settings.get("region") or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
        return cls(endpoint, region or ("us-east-1" if endpoint else None), settings.get("profile"),
                   secrets.get("aws_access_key_id"), secrets.get("aws_secret_access_key"),
                   secrets.get("aws_session_token"))

    def secret_values(self) -> tuple[str, ...]:
        return tuple(v for v in (self.access_key, self.secret_key, self.session_token) if v)

    def client(self, net: NetPolicy | None = None) -> Any:
        """A boto3 S3 client (thread-safe) for this configuration, with ``net``'s timeouts.

        botocore's own retries are off: :func:`~relpredict.sinks.network.with_retries` retries
        (and reports) transient failures around each call instead."""
        import boto3
        from botocore.config import Config

        net = net or policy()
        session = boto3.session.Session(profile_name=self.profile, aws_access_key_id=self.access_key,
                                        aws_secret_access_key=self.secret_key,
                                        aws_session_token=self.session_token)
        config = Config(max_pool_connections=UPLOAD_THREADS * 2 + 2, connect_timeout=net.connect_timeout,
                        read_timeout=net.read_timeout, retries={"total_max_attempts": 1})
        return session.client("s3", endpoint_url=self.endpoint_url, region_name=self.region, config=config)


def _detail(err: BaseException, secrets: tuple[str, ...] = ()) -> str:
    detail = f"{type(err).__name__}: {err}"
    for value in secrets:
        detail = detail.replace(value, "***")
    return detail


def _error(action: str, where: str, err: BaseException, secrets: tuple[str, ...] = ()) -> DestinationError:
    """A user's message for a failed S3 call; any secret value is masked out of the text."""
    if transient(err):
        return DestinationError(
            f"S3 {action} of {where} failed: the server did not answer, or answered with a "
            f"temporary error, every time it was tried ({_detail(err, secrets)}). Check that the "
            "endpoint is up and reachable; the job can be resumed once it is.")
    return DestinationError(f"S3 {action} of {where} failed ({_detail(err, secrets)}). Check the bucket, "
                           "the endpoint and the credentials (the connector, AWS_* variables or "
                           "profile); the job can be resumed once fixed.")


_TRANSIENT_CODES = frozenset({"Throttling", "ThrottlingException", "SlowDown", "RequestTimeout",
                              "RequestTimeTooSkewed", "InternalError", "ServiceUnavailable",
                              "RequestLimitExceeded", "TooManyRequests"})


def transient(err: BaseException) -> bool:
    """Whether an S3 failure may pass by itself: throttling, a 5xx, a reset, a timeout."""
    from botocore.exceptions import ClientError, ConnectionError, HTTPClientError

    if isinstance(err, ConnectionError | HTTPClientError):  # refused, reset, timed out
        return True
    if isinstance(err, ClientError):
        response = getattr(err, "response", {}) or {}
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        return status in (429, 500, 502, 503, 504) or response.get("Error", {}).get("Code") in _TRANSIENT_CODES
    return False


def _is_missing(err: BaseException) -> bool:
    code = getattr(err, "response", {}).get("Error", {}).get("Code", "")
    return code in ("NoSuchKey", "404", "NotFound")


class MultipartWriter(io.RawIOBase):
    """A write-only stream into one S3 object: a PUT when small, else a multipart upload.

    Parts are a little over ``part_bytes`` (whole writes are kept together). Full parts are uploaded by a small thread pool while the caller keeps writing (at most
    ``2 x threads`` parts in memory). The object appears only at :meth:`close`; :meth:`abort`
    cancels the upload and leaves nothing behind.
    """

    def __init__(self, client: Any, bucket: str, key: str, part_bytes: int | None = None,
                 threads: int = UPLOAD_THREADS,
                 retried: Callable[[str, Callable[[], Any]], Any] | None = None) -> None:
        super().__init__()
        self.client, self.bucket, self.key = client, bucket, key
        self.retried = retried or (lambda what, call: call())
        self.part_bytes, self.threads = max(MIN_PART_BYTES, part_bytes or PART_BYTES), threads
        self._chunks: list[bytes] = []  # bytes not sent yet (joined once per part: one copy)
        self._pending = 0
        self._written = 0
        self._upload_id: str | None = None
        self._parts: list[Future[dict[str, Any]]] = []
        self._pool: ThreadPoolExecutor | None = None
        self._aborted = False
        self._lock = threading.Lock()

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        size = memoryview(data).nbytes
        if self._aborted or not size:
            return size  # a writer's last bytes after an abort go nowhere
        self._chunks.append(bytes(data))
        self._pending += size
        self._written += size
        if self._pending >= self.part_bytes:
            self._send(self._take())
        return size

    def _take(self) -> bytes:
        body = b"".join(self._chunks)
        self._chunks, self._pending = [], 0
        return body

    def tell(self) -> int:
        return self._written

    def _send(self, chunk: bytes) -> None:
        if self._upload_id is None:
            self._upload_id = self.retried(f"multipart start of s3://{self.bucket}/{self.key}", lambda: (
                self.client.create_multipart_upload(Bucket=self.bucket, Key=self.key)["UploadId"]))
            self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="relpredict-s3-upload")
        in_flight = [f for f in self._parts if not f.done()]
        if len(in_flight) >= 2 * self.threads:
            in_flight[0].result()  # back-pressure: bound the memory held by queued parts
        number = len(self._parts) + 1
        assert self._pool is not None
        self._parts.append(self._pool.submit(self._upload_part, number, chunk))

    def _upload_part(self, number: int, chunk: bytes) -> dict[str, Any]:
        reply = self.retried(f"upload of part {number} of s3://{self.bucket}/{self.key}", lambda: (
            self.client.upload_part(Bucket=self.bucket, Key=self.key, UploadId=self._upload_id,
                                    PartNumber=number, Body=chunk)))
        return {"PartNumber": number, "ETag": reply["ETag"]}

    def close(self) -> None:
        """Complete the object (unless aborted); idempotent."""
        with self._lock:
            if self.closed:
                return
            try:
                if not self._aborted:
                    self._complete()
            finally:
                if self._pool is not None:
                    self._pool.shutdown(wait=True)
                super().close()

    def _complete(self) -> None:
        if self._upload_id is None:
            body = self._take()
            self.retried(f"PUT of s3://{self.bucket}/{self.key}", lambda: (
                self.client.put_object(Bucket=self.bucket, Key=self.key, Body=body)))
            return
        try:
            if self._pending:
                self._send(self._take())
            parts = [f.result() for f in self._parts]
            self.retried(f"multipart completion of s3://{self.bucket}/{self.key}", lambda: (
                self.client.complete_multipart_upload(Bucket=self.bucket, Key=self.key,
                                                      UploadId=self._upload_id,
                                                      MultipartUpload={"Parts": parts})))
        except BaseException:
            self.abort()
            raise

    def __del__(self) -> None:
        """Garbage collection of an unclosed stream aborts it: never completes a partial object."""
        if not self.closed:
            self.abort()
            with contextlib.suppress(Exception):
                self.close()

    def abort(self) -> None:
        """Cancel the upload: nothing appears at the key."""
        self._aborted = True
        self._chunks, self._pending = [], 0
        if self._upload_id is not None:
            for future in self._parts:
                future.cancel()
            for future in self._parts:  # parts in flight finish first: none lands after the abort
                with contextlib.suppress(BaseException):
                    future.result()
            with contextlib.suppress(Exception):
                self.client.abort_multipart_upload(Bucket=self.bucket, Key=self.key, UploadId=self._upload_id)
            self._upload_id = None


class _Bucket:
    """The calls the sink makes to one bucket; a failure becomes a :class:`DestinationError`."""

    def __init__(self, config: S3Config, bucket: str, events: JobEvents | None = None,
                 net: NetPolicy | None = None) -> None:
        self.config, self.name = config, bucket
        self.events, self.net = events or JobEvents(None), net or policy()
        self.client = config.client(self.net)

    def retried(self, what: str, call: Callable[[], Any]) -> Any:
        """``call()`` with bounded retries of transient failures, each one a job event."""
        return with_retries(f"S3 {what}", call, transient, self.events, self.net,
                            lambda err: _detail(err, self.config.secret_values()))

    def call(self, action: str, where: str, fn: Callable[..., Any], **kwargs: Any) -> Any:
        try:
            return self.retried(f"{action} of {where}", lambda: fn(**kwargs))
        except Exception as err:
            raise _error(action, where, err, self.config.secret_values()) from None

    def put(self, key: str, body: bytes) -> None:
        self.call("PUT", f"s3://{self.name}/{key}", self.client.put_object,
                  Bucket=self.name, Key=key, Body=body)

    def get(self, key: str) -> bytes | None:
        where = f"s3://{self.name}/{key}"
        try:
            body: bytes = self.retried(f"GET of {where}", lambda: self.client.get_object(
                Bucket=self.name, Key=key)["Body"].read())
            return body
        except Exception as err:
            if _is_missing(err):
                return None
            raise _error("GET", where, err, self.config.secret_values()) from None

    def list(self, prefix: str) -> list[str]:
        def pages() -> list[str]:
            paginator = self.client.get_paginator("list_objects_v2")
            return [o["Key"] for page in paginator.paginate(Bucket=self.name, Prefix=prefix)
                    for o in page.get("Contents", [])]

        try:
            keys: builtins.list[str] = self.retried(f"LIST of s3://{self.name}/{prefix}", pages)
            return keys
        except Exception as err:
            raise _error("LIST", f"s3://{self.name}/{prefix}", err, self.config.secret_values()) from None

    def delete(self, keys: builtins.list[str]) -> None:
        for start in range(0, len(keys), 1000):
            batch = [{"Key": k} for k in keys[start:start + 1000]]
            self.call("DELETE", f"s3://{self.name}/{keys[start]}", self.client.delete_objects,
                      Bucket=self.name, Delete={"Objects": batch, "Quiet": True})


class S3Staging:
    """A :class:`~relpredict.sinks.base.Staging` under a prefix of a bucket: one PUT per file."""

    def __init__(self, bucket: _Bucket, prefix: str, job_id: str) -> None:
        self.bucket, self.job_id = bucket, job_id
        self.prefix = prefix  # ends in "/"

    def _shard_key(self, shard: int, output: str) -> str:
        return f"{self.prefix}{output}/{shard_file_name(shard)}.parquet"

    def write_shard(self, shard: int, output: str, table: pa.Table) -> None:
        buffer = pa.BufferOutputStream()
        pq.write_table(table, buffer)
        self.bucket.put(self._shard_key(shard, output), buffer.getvalue().to_pybytes())

    def mark_done(self, shard: int, info: dict[str, Any]) -> None:
        self.bucket.put(f"{self.prefix}done/{shard_file_name(shard)}.json", json.dumps(info).encode())

    def done_shards(self) -> dict[int, dict[str, Any]]:
        out: dict[int, dict[str, Any]] = {}
        for key in sorted(self.bucket.list(f"{self.prefix}done/")):
            name = key.rsplit("/", 1)[-1]
            if name.startswith("shard_") and name.endswith(".json"):
                body = self.bucket.get(key)
                if body is not None:
                    out[int(name[len("shard_"):-len(".json")])] = json.loads(body)
        return out

    def _shard_file(self, shard: int, output: str) -> pq.ParquetFile:
        key = self._shard_key(shard, output)
        body = self.bucket.get(key)
        if body is None:
            raise RelpredictError(f"The staged shard s3://{self.bucket.name}/{key} is missing: run "
                                  f"`relpredict job resume {self.job_id}` to compute it again.")
        return pq.ParquetFile(pa.BufferReader(body))

    def read_shard(self, shard: int, output: str, columns: list[str] | None = None,
                   ) -> Iterator[pa.RecordBatch]:
        yield from self._shard_file(shard, output).iter_batches(batch_size=65_536, columns=columns)

    def shard_schema(self, shard: int, output: str) -> pa.Schema:
        return self._shard_file(shard, output).schema_arrow

    def discard(self) -> None:
        self.bucket.delete(self.bucket.list(self.prefix))


class S3Sink(JobSink):
    """A job's outputs as S3 objects (see the module docstring)."""

    def __init__(self, spec: SinkSpec) -> None:
        dest = spec.destination
        if not isinstance(dest, Destination) or dest.scheme != "s3":
            raise ConfigError(f"The S3 sink writes s3:// destinations, not {dest}.")
        self.config = S3Config.from_connector(spec.load_connector())
        root = dest.folder
        if dest.partitioned:
            root = root.rsplit("/", 1)[0]
        name, prefix = split_url(root)
        self.bucket = _Bucket(self.config, name, JobEvents.of(spec))
        self.client = self.bucket.client
        staging = "/".join(p for p in (prefix, STAGING, spec.job_id) if p) + "/"
        super().__init__(spec, S3Staging(self.bucket, staging, spec.job_id))

    # ----------------------------------------------------------------- publishing
    def _manifest_key(self) -> str:
        return split_url(as_files(self.spec.destination).manifest_path())[1]

    def publish(self, output: str, schema: pa.Schema, batches: Iterable[pa.RecordBatch],
                on_batch: Callable[[pa.RecordBatch], None] | None = None) -> list[OutputFile]:
        dest = self.spec.target(output)
        assert isinstance(dest, Destination)

        def withdraw() -> None:  # step 1: withdraw any earlier manifest
            self.bucket.delete([self._manifest_key()])

        if dest.partitioned:
            withdraw()
            self.bucket.delete(self._old_parts(dest))  # step 2: no old part can mix with the new ones
        # One object: the old manifest goes just before the upload completes (nothing shows before).
        return _RollingObjects(self, dest, schema, None if dest.partitioned else withdraw
                               ).write_all(batches, on_batch)

    @property
    def streams(self) -> bool:
        """One object per output: a multipart upload that appears only when completed."""
        dest = self.spec.destination
        return isinstance(dest, Destination) and not dest.partitioned

    def _old_parts(self, dest: Destination) -> list[str]:
        folder = split_url(dest.folder)[1] + "/"
        return [k for k in self.bucket.list(folder)
                if "/" not in k[len(folder):] and k[len(folder):].startswith("part_")]

    def write_manifest(self, manifest: dict[str, Any]) -> str:
        self.bucket.put(self._manifest_key(), json.dumps(manifest, indent=2, default=str).encode())
        return f"s3://{self.bucket.name}/{self._manifest_key()}"

    def read_manifest(self) -> dict[str, Any] | None:
        body = self.bucket.get(self._manifest_key())
        return None if body is None else json.loads(body)


class _RollingObjects(RollingWriter):
    """S3 objects: each part is a multipart upload, completed when sealed (aborted on failure)."""

    def __init__(self, sink: S3Sink, dest: Destination, schema: pa.Schema,
                 before_first_seal: Callable[[], None] | None = None) -> None:
        super().__init__(dest, schema, before_first_seal)
        self.sink = sink
        self.stream: MultipartWriter | None = None

    def _url(self) -> str:
        return self.dest.file_for_part(len(self.done))

    def _open(self) -> BatchWriter:
        bucket, key = split_url(self._url())
        self.stream = MultipartWriter(self.sink.client, bucket, key, retried=self.sink.bucket.retried)
        self.writer = open_writer(pa.PythonFile(self.stream, mode="w"), self.dest.file_type, self.schema)
        self.rows = 0
        return self.writer

    def _close(self) -> None:
        if self.writer is None or self.stream is None:
            return
        url = self._url()
        try:
            self.writer.close()
            self.stream.close()
        except Exception as err:
            raise _error("upload", url, err, self.sink.config.secret_values()) from None
        self.done.append(OutputFile(url, self.rows, self.stream.tell()))
        self.writer = self.stream = None

    def abort(self) -> None:
        if self.stream is not None:
            self.stream.abort()
            if self.writer is not None:
                with contextlib.suppress(Exception):
                    self.writer.close()
        self.writer = self.stream = None


def test_connection(connector: Connector, options: dict[str, str]) -> str:
    """``connector test``: list ``options['bucket']`` (a few keys), or the buckets."""
    config = S3Config.from_connector(connector)
    where = config.endpoint_url or "AWS"
    bucket = options.get("bucket")
    probe = _Bucket(config, bucket or "", net=policy(probe=True))
    try:
        if bucket:
            reply = probe.retried(f"LIST of s3://{bucket}",
                                  lambda: probe.client.list_objects_v2(Bucket=bucket, MaxKeys=5))
            return f"listed s3://{bucket} at {where} ({reply.get('KeyCount', 0)} of its first keys)."
        names = [b["Name"] for b in probe.retried(f"bucket list at {where}", probe.client.list_buckets
                                                  ).get("Buckets", [])]
    except Exception as err:
        raise _error("LIST", f"s3://{bucket}" if bucket else f"the buckets at {where}", err,
                     config.secret_values()) from None
    return f"{len(names)} bucket(s) at {where}" + (f": {', '.join(names[:10])}." if names else ".")


test_connection.__test__ = False  # type: ignore[attr-defined]  # not a pytest test
