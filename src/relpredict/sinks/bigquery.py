"""BigQuery tables: rows APPENDED by load jobs with deterministic ids, the table made when absent.

A destination ``bigquery://CONNECTOR/[DATASET.]TABLE`` names a workspace connector (project,
dataset, location, optional ``api_endpoint``; credentials by reference) and a table. Names, load
job ids, column types and SQL are pure functions in :mod:`relpredict.sinks.bigquery_sql` (tested
as strings); this module is the client code.

**Staging** is local, as for local files: workers write Parquet shards and done markers under the
job's folder in the workspace (``artifacts/jobs/<job>/bigquery-staging/``); nothing reaches
BigQuery until the coordinator publishes. Workers never open a BigQuery client.

**Publishing** creates the table when absent (types from the Arrow schema: the key keeps its type,
``EMBEDDINGS`` becomes ``REPEATED FLOAT64``, a timestamp with a time zone ``TIMESTAMP``, without one
``DATETIME``) or checks that the existing one has the same columns, then appends the staged
shards with load jobs (``WRITE_APPEND``, Parquet): ONE LOAD JOB PER LOAD GROUP, consecutive shards
of about 256 MiB of staged Parquet together (a single shard when shards are that large). Grouping
matters: BigQuery takes at most 1,500 load jobs per table per day, and each load has a fixed cost
of seconds. Each load has a deterministic id::

    relpredict_<job id>_<output>_<first shard>[_<last shard>][_r<attempt>]     (shards: 5 digits)

so a resumed or retried job never appends a shard twice (staged shards never change once
publishing starts, so a resume forms the same groups). Before loading a group the sink looks its
id up: a load that succeeded is skipped, one still running is waited for, one that failed (a
BigQuery load is all-or-nothing, so it appended nothing) is retried under the next attempt's id
(``_r1``, ``_r2``: BigQuery never reuses a job id). A ``409 Conflict`` on insert means the id
exists already (a concurrent or retried insert), and is resolved the same way.

The id is also set as the job label ``relpredict_load``. Real BigQuery honours client job ids and
rejects duplicates, so ``jobs.get`` answers the look-up. The emulator (bqemulator 1.4.0) does not:
it gives every uploaded load a fresh ``bqemu_<hex>`` id and accepts a repeated id on
``jobs.insert``; it does keep labels. So when a server is seen to assign its own ids (or the
connector sets ``api_endpoint``, i.e. a non-Google endpoint), a look-up that ``jobs.get`` cannot
answer falls back to ``jobs.list`` filtered on the label. Either way the check reads the server's
own job history, so a crash between a load's commit and any local bookkeeping still counts it.

Files go up as resumable uploads (what the client does when no size is given), so the emulator's
quirk with multipart uploads (it wants ``application/octet-stream``) never arises and the sink
leaves the client library's globals alone.

While a job publishes, a reader of the table sees the groups loaded so far (rows are appended load
by load). A job's rows are complete when its manifest exists: the manifest is appended LAST, as
one row of the ``relpredict_manifests`` table in the same dataset (job id, destination tables,
JSON), by a load job with the id ``relpredict_<job>_manifest``.

Credentials come from the connector's ``credentials_file`` secret (a service-account JSON file, or
a reference to one), its ``token`` secret (an OAuth access token), or Application Default
Credentials; they are read when a client opens and never appear in a job record, a log or an
error message (errors name the secret and its reference, never its value).
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq

from relpredict.errors import ConfigError, DestinationError, RelpredictError
from relpredict.sinks.base import JobSink, OutputFile, SinkSpec
from relpredict.sinks.bigquery_sql import (
    LABEL,
    MANIFEST_TABLE,
    TableRef,
    check_columns,
    check_dataset_name,
    check_project_name,
    column_types,
    label_value,
    load_job_id,
    manifest_load_id,
    manifest_query_sql,
    signature,
    table_ref,
)
from relpredict.sinks.localfs import LocalStaging, shard_file_name
from relpredict.sinks.naming import AnyDestination, TableDestination, as_table
from relpredict.sinks.network import DEFAULT, JobEvents, NetPolicy, policy, with_retries

if TYPE_CHECKING:
    from google.cloud import bigquery

    from relpredict.connectors import Connector

__all__ = ["BigQueryConnection", "BigQuerySink", "MANIFEST_TABLE", "bigquery_schema", "load_job_id",
           "make_client", "test_connection"]

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5  # failed loads of one shard before the job gives up (each appended nothing)
LOAD_BYTES = 256 * 1024 * 1024  # staged Parquet per load job (BigQuery: 1,500 loads/table/day)


def bigquery_schema(schema: pa.Schema) -> list[bigquery.SchemaField]:
    """The BigQuery columns for an output's Arrow schema (names checked, types mapped)."""
    from google.cloud import bigquery

    return [bigquery.SchemaField(name, bq_type, mode=mode) for name, bq_type, mode in column_types(schema)]


# ----------------------------------------------------------------------------------- connection
@dataclass(frozen=True)
class BigQueryConnection:
    """What a client needs, from a connector: settings, and secret REFERENCES (never values)."""

    name: str
    project: str
    dataset: str | None = None
    location: str | None = None
    api_endpoint: str | None = None
    secrets: tuple[tuple[str, str], ...] = ()

    @classmethod
    def from_connector(cls, connector: Connector) -> BigQueryConnection:
        """Read a ``bigquery`` connector; names are checked here, before any request."""
        if connector.kind != "bigquery":
            raise ConfigError(f"The connector {connector.name!r} is a {connector.kind} connector: a "
                              "bigquery:// destination needs a bigquery connector.")
        settings = connector.settings
        dataset = settings.get("dataset") or None
        return cls(connector.name, check_project_name(str(settings.get("project", ""))),
                   check_dataset_name(dataset) if dataset else None,
                   settings.get("location") or None, settings.get("api_endpoint") or None,
                   tuple(sorted(connector.secrets.items())))

    @property
    def custom_endpoint(self) -> bool:
        """True for a non-Google endpoint (an emulator), whose job ids may not be honoured."""
        return bool(self.api_endpoint) and "googleapis.com" not in str(self.api_endpoint)


def _credentials(conn: BigQueryConnection) -> Any:
    """Credentials from the connector's secret, anonymous for an emulator, else ADC (``None``).

    Messages name the secret and its reference only; never the value read.
    """
    from relpredict.connectors import resolve_secret

    secrets = dict(conn.secrets)
    if "credentials_file" in secrets:
        text = resolve_secret(conn.name, "credentials_file", secrets["credentials_file"])
        return _service_account(conn, secrets["credentials_file"], text)
    if "token" in secrets:
        from google.oauth2.credentials import Credentials

        return Credentials(resolve_secret(conn.name, "token", secrets["token"]))
    if conn.custom_endpoint:
        from google.auth.credentials import AnonymousCredentials

        return AnonymousCredentials()
    return None  # the client finds Application Default Credentials itself


def _service_account(conn: BigQueryConnection, ref: str, text: str) -> Any:
    """Service-account credentials from the file's JSON (or a variable holding a path to it)."""
    from google.oauth2 import service_account

    scopes = ["https://www.googleapis.com/auth/bigquery"]
    try:
        if not text.lstrip().startswith("{") and Path(text.strip()).is_file():
            text = Path(text.strip()).read_text()
        return service_account.Credentials.from_service_account_info(json.loads(text), scopes=scopes)
    except Exception:  # the message could quote the file: say what and where, not what it held
        raise ConfigError(f"The secret 'credentials_file' of connector {conn.name!r} ({ref}) is not a "
                          "service-account key file (JSON with type, client_email, private_key, "
                          "token_uri): download a key for the service account and point the "
                          "reference at it.") from None


def make_client(conn: BigQueryConnection, events: JobEvents | None = None,
                net: NetPolicy | None = None) -> bigquery.Client:
    """A BigQuery client for ``conn`` (an emulator endpoint when ``api_endpoint`` is set) whose
    every API call has ``net``'s timeouts and at most ``net.attempts`` tries (job events)."""
    from google.api_core.client_options import ClientOptions

    options = ClientOptions(api_endpoint=conn.api_endpoint) if conn.api_endpoint else None
    client = _bounded_client_class()(project=conn.project, credentials=_credentials(conn),
                                     location=conn.location, client_options=options)
    client.relpredict_net = net or policy()  # type: ignore[attr-defined]  # a BoundedClient's
    client.relpredict_events = events or JobEvents(None)  # type: ignore[attr-defined]
    return client


@functools.cache
def _bounded_client_class() -> type[bigquery.Client]:
    """``bigquery.Client`` with its API calls bounded.

    The library retries a call for up to 10 minutes with no socket timeout (a server that accepts
    and never answers hangs it for good); this client gives each try ``net``'s (connect, read)
    timeout and retries what the library would retry through
    :func:`~relpredict.sinks.network.with_retries` (bounded tries, backoff, an event per retry).
    """
    from google.cloud import bigquery

    class BoundedClient(bigquery.Client):
        relpredict_net: NetPolicy = DEFAULT
        relpredict_events: JobEvents = JobEvents(None)

        def _call_api(self, retry: Any, span_name: str | None = None, span_attributes: Any = None,
                      job_ref: Any = None, headers: Any = None, **kwargs: Any) -> Any:
            net = self.relpredict_net
            if kwargs.get("timeout") is None:
                kwargs["timeout"] = (net.connect_timeout, net.read_timeout)

            def once() -> Any:
                return super(BoundedClient, self)._call_api(
                    None, span_name=span_name, span_attributes=span_attributes, job_ref=job_ref,
                    headers=headers, **kwargs)

            predicate = getattr(retry, "_predicate", None)
            if predicate is None:
                return once()
            what = f"BigQuery {kwargs.get('method', '')} {kwargs.get('path', span_name or '')}".rstrip()
            return with_retries(what, once, predicate, self.relpredict_events, net, _api_error)

    return BoundedClient


def transient(err: BaseException) -> bool:
    """A failure to reach or hear from BigQuery (what its client library would retry)."""
    from google.api_core.exceptions import RetryError
    from google.cloud.bigquery.retry import DEFAULT_RETRY

    predicate = getattr(DEFAULT_RETRY, "_predicate", None)
    return isinstance(err, RetryError | TimeoutError | ConnectionError) or bool(
        predicate and predicate(err))


def _unreachable(conn: BigQueryConnection, action: str, err: BaseException, job_id: str | None,
                 net: NetPolicy) -> DestinationError:
    where = conn.api_endpoint or "bigquery.googleapis.com"
    then = (f"Shards already appended are kept and will not be appended again: run `relpredict job "
            f"resume {job_id}` once it is up." if job_id else "Try again once it is up.")
    return DestinationError(
        f"BigQuery at {where} did not answer while {action} ({_api_error(err)}; {net.attempts} "
        f"tries, each waiting at most {net.read_timeout:g} s). The server is down, unreachable or "
        f"overloaded; check that it is up and reachable from this machine. {then}")


def _api_error(err: BaseException) -> str:
    """The server's message of a Google API error (it never holds the request's credentials)."""
    message = getattr(err, "message", None) or str(err)
    return f"{type(err).__name__}: {message}"


def test_connection(connector: Connector, options: dict[str, str]) -> str:
    """``relpredict connector test``: list the dataset's tables (or the project's datasets)."""
    conn = BigQueryConnection.from_connector(connector)
    net = policy(probe=True)
    try:
        client = make_client(conn, net=net)
        if conn.dataset:
            dataset = client.get_dataset(f"{conn.project}.{conn.dataset}")
            tables = sum(1 for _ in client.list_tables(dataset, max_results=1000))
            return (f"BigQuery project {conn.project}, dataset {conn.dataset} "
                    f"(location {dataset.location}): {tables} table(s).")
        datasets = sum(1 for _ in client.list_datasets(max_results=1000))
        return f"BigQuery project {conn.project}: {datasets} dataset(s)."
    except RelpredictError:
        raise
    except Exception as err:
        if transient(err):
            raise _unreachable(conn, f"connector {connector.name!r} was tested", err, None, net) from None
        raise DestinationError(f"Cannot reach BigQuery with connector {connector.name!r} (project "
                              f"{conn.project}): {_api_error(err)}. Check the project, dataset and "
                              "credentials (`relpredict connector list`).") from None


# ----------------------------------------------------------------------------------- the sink
class BigQuerySink(JobSink):
    """Appends a job's outputs to BigQuery tables (see the module docstring).

    Staging is a :class:`~relpredict.sinks.localfs.LocalStaging` in the job's workspace folder
    (``staging`` overrides it); the manifest a row of :data:`MANIFEST_TABLE`.
    """

    staging: LocalStaging

    def __init__(self, spec: SinkSpec, connector: Connector | None = None,
                 staging: Path | None = None, client: bigquery.Client | None = None,
                 load_bytes: int | None = None) -> None:
        self.load_bytes = load_bytes or LOAD_BYTES
        self.conn = BigQueryConnection.from_connector(
            connector or spec.require_connector("BigQuery", "bigquery://CONNECTOR/DATASET.TABLE"))
        super().__init__(spec, LocalStaging(staging or spec.job_folder("BigQuery") / "bigquery-staging"))
        self._client = client
        self.net = policy()
        self._assigns_own_ids = self.conn.custom_endpoint
        self._by_label: dict[str, list[Any]] | None = None
        self.targets = {o: table_ref(as_table(d).table, self.conn.project, self.conn.dataset, self.conn.name)
                        for o, d in spec.targets().items()}
        self.loads: list[dict[str, Any]] = []  # what this process loaded or skipped, for tests

    def _ref(self, dest: AnyDestination) -> TableRef:
        if not isinstance(dest, TableDestination):
            raise ConfigError(f"BigQuery writes tables, not {dest}.")
        return table_ref(dest.table, self.conn.project, self.conn.dataset, self.conn.name)

    @property
    def client(self) -> bigquery.Client:
        """Opened on first use: workers, which only stage, never need credentials."""
        if self._client is None:
            self._client = make_client(self.conn, JobEvents.of(self.spec), self.net)
        return self._client

    @contextlib.contextmanager
    def _reaching(self, action: str) -> Iterator[None]:
        """Turn a server that does not answer (after the bounded retries) into a plain error."""
        try:
            yield
        except RelpredictError:
            raise
        except Exception as err:
            if not transient(err):
                raise
            raise _unreachable(self.conn, action, err, self.spec.job_id, self.net) from None

    # ----------------------------------------------------------------- publishing
    def publish(self, output: str, schema: pa.Schema, batches: Iterable[pa.RecordBatch],
                on_batch: Callable[[pa.RecordBatch], None] | None = None) -> list[OutputFile]:
        """Append the staged shards, one load job per load group, skipping groups loaded before."""
        with self._reaching(f"the {output} were published"):
            return self._publish_groups(output, schema, batches, on_batch)

    def _publish_groups(self, output: str, schema: pa.Schema, batches: Iterable[pa.RecordBatch],
                        on_batch: Callable[[pa.RecordBatch], None] | None) -> list[OutputFile]:
        target = self.targets.get(output) or self._ref(self.spec.target(output))
        self._ensure_table(target, schema)
        self._by_label = None  # the server's job history as of now (see _labelled)
        stream = _Rows(iter(batches))
        rows = size = 0
        for group in self._groups(output):
            count = sum(self._staged_rows(s, output) for s in group)
            load_id = load_job_id(self.spec.job_id, output, group[0], last=group[-1])
            upload = self.staging.folder / "upload" / output / f"{shard_file_name(group[0])}.parquet"
            self._publish_shard(target, schema, stream.take(count), on_batch, load_id, upload)
            rows += count
            size += sum(self.staging.shard_path(s, output).stat().st_size for s in group)
        stream.check_exhausted(output)
        return [OutputFile(target.ref, rows, size)]

    def _groups(self, output: str) -> list[list[int]]:
        """Consecutive shards cut into load groups of about ``load_bytes`` of staged Parquet.

        Staged shards never change once all are done (publishing starts only then, and a resume
        recomputes nothing that is done), so a resumed job forms exactly the same groups and
        hence the same load ids.
        """
        groups: list[list[int]] = []
        size = self.load_bytes
        for shard in sorted(self.done_shards()):
            if not self.staging.shard_path(shard, output).is_file():
                continue  # the errors output: only the shards with a failing entity stage one
            if size >= self.load_bytes:
                groups.append([])
                size = 0
            groups[-1].append(shard)
            size += self.staging.shard_path(shard, output).stat().st_size
        return groups

    def _staged_rows(self, shard: int, output: str) -> int:
        return int(pq.ParquetFile(self.staging.shard_path(shard, output)).metadata.num_rows)

    def _publish_shard(self, target: TableRef, schema: pa.Schema, batches: Iterator[pa.RecordBatch],
                       on_batch: Callable[[pa.RecordBatch], None] | None, load_id: str,
                       upload: Path) -> None:
        """Feed a load group's batches to ``on_batch``; load them unless an earlier run did."""
        done, attempt = self._prior(load_id)
        if done is not None:
            for batch in batches:
                if on_batch is not None:
                    on_batch(batch)
            self.loads.append({"load": load_id, "skipped": True, "job": done.job_id})
            return
        upload.parent.mkdir(parents=True, exist_ok=True)
        rows = 0
        with pq.ParquetWriter(upload, schema) as writer:
            for batch in batches:
                writer.write_batch(batch)
                rows += batch.num_rows
                if on_batch is not None:
                    on_batch(batch)
        if rows:  # an empty group appends nothing: no load job
            self._load(target, upload, load_id, attempt)
        upload.unlink(missing_ok=True)

    # ----------------------------------------------------------------- load jobs
    def _attempt_id(self, load_id: str, attempt: int) -> str:
        return f"{load_id}_r{attempt}" if attempt else load_id

    def _prior(self, load_id: str) -> tuple[Any | None, int]:
        """(the succeeded earlier load of ``load_id``, or None; the next attempt number to use)."""
        for attempt in range(MAX_ATTEMPTS):
            job = self._find(self._attempt_id(load_id, attempt))
            if job is None:
                return None, attempt
            if self._succeeded(job):
                return job, attempt
        raise DestinationError(f"The load {load_id} failed {MAX_ATTEMPTS} times: see the jobs "
                              f"{load_id}, {load_id}_r1, … in BigQuery for why.")

    def _succeeded(self, job: Any) -> bool:
        """Wait for a pending or running load; True when it appended its rows."""
        if job.state != "DONE":
            with contextlib.suppress(Exception):  # a failure shows as error_result below
                job.result()
            job.reload()
        return job.error_result is None

    def _find(self, job_id: str) -> Any | None:
        """The load job ``job_id`` on the server, by id, else (emulators) by label."""
        from google.api_core.exceptions import NotFound

        try:
            return self.client.get_job(job_id, location=self.conn.location)
        except NotFound:
            pass
        if not self._assigns_own_ids:
            return None  # BigQuery honours job ids: not found means never inserted
        jobs = self._labelled().get(label_value(job_id), [])
        return next((j for j in jobs if j.error_result is None), jobs[0] if jobs else None)

    def _labelled(self) -> dict[str, list[Any]]:
        """The project's jobs by ``relpredict_load`` label.

        Listed once per publish (and after a conflict); loads of this sink are added as they are
        inserted. Within one publish the only new jobs are this sink's own, so the index is current
        when each shard is decided.
        """
        if self._by_label is None:
            self._by_label = {}
            for job in self.client.list_jobs(page_size=1000):
                value = (getattr(job, "labels", None) or {}).get(LABEL)
                if value:
                    self._by_label.setdefault(value, []).append(job)
        return self._by_label

    def _load(self, target: TableRef, path: Path, load_id: str, attempt: int) -> None:
        """Run the load; on a conflict or a failure, settle it through the look-up again."""
        from google.api_core.exceptions import Conflict, GoogleAPIError

        job_id = self._attempt_id(load_id, attempt)
        try:
            with open(path, "rb") as fh:
                job = self.client.load_table_from_file(
                    fh, target.ref, job_id=job_id, location=self.conn.location,
                    job_config=self._load_config(job_id), num_retries=self.net.attempts - 1,
                    timeout=(self.net.connect_timeout, self.net.read_timeout))
            self._note(job_id, job)
            ok = self._succeeded(job)
        except Conflict:
            ok = False  # inserted before (a retried request): the look-up below settles it
            self._by_label = None
        except GoogleAPIError as err:
            if transient(err):
                raise
            raise self._load_error(target, load_id, err) from None
        if ok:
            self.loads.append({"load": load_id, "skipped": False, "job": job.job_id})
            return
        done, next_attempt = self._prior(load_id)
        if done is not None:
            self.loads.append({"load": load_id, "skipped": True, "job": done.job_id})
            return
        if next_attempt == attempt:  # the failure left no job behind: do not loop on it
            raise self._load_error(target, load_id, None)
        self._load(target, path, load_id, next_attempt)

    def _note(self, asked: str, job: Any) -> None:
        """Remember a load just inserted (no need to list the server's jobs again for it)."""
        if job.job_id != asked and not self._assigns_own_ids:
            log.warning("BigQuery server assigned job id %s for %s: finding loads by label",
                        job.job_id, asked)
            self._assigns_own_ids = True
        if self._by_label is not None:
            self._by_label.setdefault(label_value(asked), []).append(job)

    def _load_config(self, job_id: str) -> bigquery.LoadJobConfig:
        from google.cloud import bigquery

        config = bigquery.LoadJobConfig(
            source_format=bigquery.SourceFormat.PARQUET,
            write_disposition=bigquery.WriteDisposition.WRITE_APPEND,
            create_disposition=bigquery.CreateDisposition.CREATE_NEVER,
            labels={LABEL: label_value(job_id)})
        options = bigquery.ParquetOptions()
        options.enable_list_inference = True  # LIST columns → REPEATED, not a nested record
        config.parquet_options = options
        return config

    def _load_error(self, target: TableRef, load_id: str, err: Exception | None) -> DestinationError:
        why = _api_error(err) if err is not None else "the load job failed"
        return DestinationError(f"Loading {load_id} into BigQuery table {target.ref} failed ({why}). "
                               "Shards already appended are kept and will not be appended again: fix "
                               f"the cause and run `relpredict job resume {self.spec.job_id}`.")

    # ----------------------------------------------------------------- tables
    def _ensure_table(self, target: TableRef, schema: pa.Schema) -> None:
        """Create the table when absent; else check it has the output's columns and types."""
        from google.api_core.exceptions import Conflict, GoogleAPIError, NotFound
        from google.cloud import bigquery

        wanted = bigquery_schema(schema)
        try:
            try:
                existing = self.client.get_table(target.ref)
            except NotFound:
                self._check_dataset(target)
                try:
                    self.client.create_table(bigquery.Table(target.ref, schema=wanted))
                    return
                except Conflict:  # made meanwhile: check it like any existing table
                    existing = self.client.get_table(target.ref)
        except GoogleAPIError as err:
            if transient(err):
                raise
            raise DestinationError(f"Cannot open BigQuery table {target.ref}: {_api_error(err)}. "
                                  "Check the connector's project and credentials.") from None
        check_columns(target, signature(existing.schema), signature(wanted))

    def _check_dataset(self, target: TableRef) -> None:
        from google.api_core.exceptions import NotFound

        try:
            self.client.get_dataset(f"{target.project}.{target.dataset}")
        except NotFound:
            raise ConfigError(f"The BigQuery dataset {target.project}.{target.dataset} does not exist: "
                              f"create it (`bq mk --dataset {target.project}:{target.dataset}`) or "
                              "name another one in the destination or the connector.") from None

    # ----------------------------------------------------------------- manifest
    def _manifest_target(self) -> TableRef:
        first = next(iter(self.targets.values()))
        return TableRef(first.project, first.dataset, MANIFEST_TABLE)

    def write_manifest(self, manifest: dict[str, Any]) -> str:
        """Append the manifest row (last of all) with the deterministic id ``…_manifest``."""
        with self._reaching("the manifest was written"):
            return self._append_manifest(manifest)

    def _append_manifest(self, manifest: dict[str, Any]) -> str:
        target = self._manifest_target()
        row = pa.table({"job_id": [self.spec.job_id],
                        "destination": [",".join(t.ref for t in self.targets.values())],
                        "written_at": pa.array([datetime.now(UTC)], pa.timestamp("us", tz="UTC")),
                        "manifest": [json.dumps(manifest, default=str)]})
        self._ensure_table(target, row.schema)
        self._by_label = None
        load_id = manifest_load_id(self.spec.job_id)
        done, attempt = self._prior(load_id)
        if done is None:  # else: written by an earlier run that stopped just after
            path = self.staging.folder / "upload" / "manifest.parquet"
            path.parent.mkdir(parents=True, exist_ok=True)
            pq.write_table(row, path)
            self._load(target, path, load_id, attempt)
        return f"{target.ref} (job_id = '{self.spec.job_id}')"

    def read_manifest(self) -> dict[str, Any] | None:
        """This job's manifest row, or ``None`` (no manifest table, or no row for the job)."""
        from google.api_core.exceptions import NotFound
        from google.cloud import bigquery

        target = self._manifest_target()
        sql = manifest_query_sql(target)
        config = bigquery.QueryJobConfig(
            query_parameters=[bigquery.ScalarQueryParameter("job", "STRING", self.spec.job_id)])
        try:
            with self._reaching("the manifest was read"):
                rows = list(self.client.query(sql, job_config=config).result())
        except NotFound:
            return None
        return json.loads(rows[0]["manifest"]) if rows else None

class _Rows:
    """A batch stream cut into consecutive runs of exact row counts (one run per staged shard)."""

    def __init__(self, batches: Iterator[pa.RecordBatch]) -> None:
        self._batches = batches
        self._held: pa.RecordBatch | None = None

    def _next(self) -> pa.RecordBatch | None:
        if self._held is not None:
            batch, self._held = self._held, None
            return batch
        return next(self._batches, None)

    def take(self, rows: int) -> Iterator[pa.RecordBatch]:
        """The next ``rows`` rows, as batches (a batch straddling the boundary is split)."""
        while rows > 0:
            batch = self._next()
            if batch is None:
                raise RelpredictError(f"The staged shards hold {rows} more row(s) than were published: "
                                      "the staging area changed while publishing.")
            if batch.num_rows > rows:
                self._held = batch.slice(rows)
                batch = batch.slice(0, rows)
            rows -= batch.num_rows
            if batch.num_rows:
                yield batch

    def check_exhausted(self, output: str) -> None:
        """Every published row belonged to a staged shard (else the shards were read wrongly)."""
        while (batch := self._next()) is not None:
            if batch.num_rows:
                raise RelpredictError(f"The published {output} held rows beyond the staged shards: "
                                      "the staging area changed while publishing.")
