"""Source tables read through connectors: S3 objects, Snowflake and BigQuery tables or queries.

The same connectors and connection code as the destinations (:mod:`.s3`, :mod:`.snowflake`,
:mod:`.bigquery`): settings from the workspace, secrets by reference, read when a connection opens
and scrubbed from every message. What is read:

- **S3**: one object, every object under a prefix (``s3://b/orders/``; names starting with ``.``
  or ``_`` such as ``_SUCCESS`` or ``.relpredict-staging/`` are skipped) or the objects a glob
  matches (``s3://b/orders/*.parquet``), through ``pyarrow.fs.S3FileSystem`` with the connector's
  endpoint, region and keys (or its profile; no connector: the standard AWS chain). The objects are
  copied as they are, so DuckDB reads them exactly as it reads local Parquet or CSV files.
- **Snowflake**: ``SELECT * FROM "DB"."SCHEMA"."TABLE"`` (names upper-cased as Snowflake resolves
  them unquoted) or the source's own ``SELECT``, fetched with ``fetch_arrow_batches``.
- **BigQuery**: the table's rows (``list_rows``) or the ``SELECT``'s result, fetched with
  ``to_arrow`` over the REST API.

**The network.** Every call has the timeouts and bounded retries of
:mod:`relpredict.sinks.network` (the ``RELPREDICT_*`` overrides apply); a job's retries are events
of the job, as its sink's are.

**The cache.** :class:`SourceCache` keeps each copy in a folder named by a hash of kind,
connector and location (and format), inside the folder of one run: a job's is
``artifacts/jobs/<job>/sources/``. A job fetches every source once, when it is set up; its runner
and its shard workers read that copy (workers are given ``fetch=False``: a missing copy is an
error, never a second read of the source), a resume scores from the same snapshot, and the folder
is deleted when the job succeeds. A copy appears by renaming a finished temporary folder, so a
reader never sees half of one. Without a folder (training, ``graph inspect``) each source is
fetched into a temporary folder of the workspace and dropped as soon as DuckDB has copied it.
"""

from __future__ import annotations

import contextlib
import fnmatch
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from relpredict.errors import ConfigError, DataError, RelpredictError
from relpredict.tables.table import FILE_FORMATS, ConnectorSource, FileSource, file_format
from relpredict.workspace import Workspace

__all__ = ["QUERY_SECONDS", "SourceCache", "cache_key", "default_reader", "fetch_source", "s3_entries",
           "s3_objects"]

QUERY_SECONDS = 1800  # one warehouse query, at most (connections and reads: sinks.network's policy)
SKIPPED_PREFIXES = (".", "_")  # _SUCCESS, _metadata, .relpredict-staging/ ...


def cache_key(source: ConnectorSource) -> str:
    """The copy's folder name: a hash of what is read and through which connector."""
    doc = [source.kind, source.connector, source.path, source.table, source.query, source.format,
           list(source.null_values)]
    return f"{source.kind}-{hashlib.sha256(json.dumps(doc).encode()).hexdigest()[:20]}"


@dataclass
class SourceCache:
    """A source reader over the connectors of ``workspace`` (see the module docstring).

    ``folder``: where copies are kept for the run (``None``: fetched for each load, then dropped).
    ``fetch``: ``False`` for a job's shard workers, which must read the job's copy only.
    ``events``: the job's event log (``events.jsonl``), where network retries are reported.
    """

    workspace: Workspace
    folder: Path | None = None
    fetch: bool = True
    events: Path | None = None

    @contextlib.contextmanager
    def local_copy(self, table: str, source: ConnectorSource) -> Iterator[FileSource]:
        if self.folder is None:
            self.workspace.artifacts.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory(dir=self.workspace.artifacts, prefix=".source-") as tmp:
                yield fetch_source(self.workspace, table, source, Path(tmp) / "copy", self.events)
            return
        yield self._cached(table, source, self.folder / cache_key(source))

    def _cached(self, table: str, source: ConnectorSource, target: Path) -> FileSource:
        if (target / "source.json").is_file():
            return _copy_of(target)
        if not self.fetch:
            raise DataError(f"Table {table!r}: the job's copy of {source.describe()} is missing from "
                            f"{target.parent} (it is fetched when the job is set up, into the job's workspace folder, "
                            "which every worker must see). Start the job again, with workers that share "
                            "the workspace's file system.")
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        try:
            fetch_source(self.workspace, table, source, tmp, self.events)
            try:
                os.replace(tmp, target)
            except OSError:  # another process renamed its copy in first: use that one
                if not (target / "source.json").is_file():
                    raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return _copy_of(target)


def default_reader() -> SourceCache:
    """The reader of a graph given none: the default workspace (``$RELPREDICT_HOME`` or
    ``./.relpredict``), each source fetched when the graph loads."""
    return SourceCache(Workspace.open())


def _copy_of(folder: Path) -> FileSource:
    meta = json.loads((folder / "source.json").read_text())
    return FileSource(str(folder / "part_*"), meta["format"], tuple(meta["null_values"]))


def fetch_source(ws: Workspace, table: str, source: ConnectorSource, out: Path,
                 events: Path | None = None) -> FileSource:
    """Fetch ``source`` (graph table ``table``) into the new folder ``out``; its local copy.
    Network retries are reported to the event log ``events`` (a job's), if any."""
    from relpredict.sinks.network import JobEvents

    out.mkdir(parents=True)
    connector = _connector(ws, table, source)
    fetchers = {"s3": _fetch_s3, "snowflake": _fetch_snowflake, "bigquery": _fetch_bigquery}
    fmt = fetchers[source.kind](connector, table, source, out, JobEvents(events))
    meta = {"kind": source.kind, "connector": source.connector, "location": source.location,
            "format": fmt, "null_values": list(source.null_values)}
    (out / "source.json").write_text(json.dumps(meta))
    return _copy_of(out)


def _connector(ws: Workspace, table: str, source: ConnectorSource) -> Any:
    """The source's connector, of the right kind (S3 without one: ``None``, the AWS chain)."""
    from relpredict.connectors import get_connector

    if source.connector is None:
        return None
    try:
        connector = get_connector(ws, source.connector)
    except ConfigError as err:
        raise DataError(f"Table {table!r} reads through connector {source.connector!r}: {err}") from None
    if connector.kind != source.kind:
        raise DataError(f"Table {table!r} reads {source.kind} through connector {source.connector!r}, "
                        f"which is a {connector.kind} connector: name a {source.kind} connector "
                        "(relpredict connector list).")
    return connector


def _failed(table: str, source: ConnectorSource, err: BaseException, secrets: list[str],
            hint: str) -> DataError:
    from relpredict.sinks.snowflake import scrub

    detail = getattr(err, "msg", None) or getattr(err, "message", None) or str(err)
    detail = scrub(f"{type(err).__name__}: {detail}".strip().splitlines()[0], secrets)
    return DataError(f"Table {table!r}: cannot read {source.describe()} ({detail}). {hint}")


def _write_arrow(data: pa.Table, out: Path) -> str:
    """Write fetched rows as the copy's one Parquet file (field metadata dropped)."""
    data = data.replace_schema_metadata(None)
    data = data.cast(pa.schema([pa.field(f.name, _plain_type(f.type), f.nullable) for f in data.schema]),
                     safe=False)  # only timestamps change: sub-microsecond digits dropped
    pq.write_table(data, out / "part_00000.parquet")
    return "parquet"


def _plain_type(t: pa.DataType) -> pa.DataType:
    """Nanosecond timestamps (Snowflake's) as microseconds, DuckDB's TIMESTAMP, as files hold them."""
    if pa.types.is_timestamp(t) and t.unit == "ns":
        return pa.timestamp("us", t.tz)
    return t


# ----------------------------------------------------------------------------------- S3
def _fetch_s3(connector: Any, table: str, source: ConnectorSource, out: Path, events: Any) -> str:
    from relpredict.sinks.s3 import S3Config

    config = S3Config.from_connector(connector)
    secrets = list(config.secret_values())
    hint = ("Check the path, the endpoint and the credentials (the connector, AWS_* variables or "
            "profile) and that they may list and read the bucket.")
    try:
        fs = _filesystem(config)
        keys = _objects(fs, table, source)
        fmt = source.format or _one_format(table, source, keys)
        for number, key in enumerate(keys):
            suffix = ".gz" if key.lower().endswith(".gz") else ""
            with fs.open_input_stream(key) as src, open(out / f"part_{number:05d}.{fmt}{suffix}", "wb") as dst:
                shutil.copyfileobj(src, dst, 8 * 1024 * 1024)
    except RelpredictError:
        raise
    except Exception as err:
        raise _failed(table, source, err, secrets, hint) from None
    return fmt


def s3_objects(ws: Workspace, source: ConnectorSource) -> list[str]:
    """The objects (``bucket/key``) an S3 source names; empty when it names none."""
    from relpredict.sinks.s3 import S3Config

    config = S3Config.from_connector(_connector(ws, str(source.path), source))
    try:
        return _objects(_filesystem(config), str(source.path), source)
    except DataError as err:
        if "no object matches" in str(err):
            return []
        raise
    except Exception as err:
        raise _failed(str(source.path), source, err, list(config.secret_values()),
                      "Check the path, the endpoint and the credentials.") from None


def s3_entries(ws: Workspace, connector: str | None, root: str) -> list[str]:
    """The names directly under the S3 folder ``root`` (objects and sub-folders), sorted."""
    from pyarrow.fs import FileSelector

    from relpredict.sinks.s3 import S3Config, split_url

    source = ConnectorSource("s3", connector, path=root)
    config = S3Config.from_connector(_connector(ws, root, source))
    bucket, key = split_url(root)
    try:
        infos = _filesystem(config).get_file_info(
            FileSelector(f"{bucket}/{key}".rstrip("/"), recursive=False, allow_not_found=True))
    except Exception as err:
        raise _failed(root, source, err, list(config.secret_values()),
                      "Check the path, the endpoint and the credentials.") from None
    return sorted(i.base_name for i in infos if not i.base_name.startswith(SKIPPED_PREFIXES))


def _filesystem(config: Any) -> Any:
    """A ``pyarrow.fs.S3FileSystem`` for an :class:`~relpredict.sinks.s3.S3Config`, with the
    network policy's timeouts and attempts (the AWS SDK's standard retry strategy)."""
    from pyarrow import fs

    from relpredict.sinks.network import policy

    net = policy()
    kwargs: dict[str, Any] = {"region": config.region, "connect_timeout": net.connect_timeout,
                              "request_timeout": net.read_timeout,
                              "retry_strategy": fs.AwsStandardS3RetryStrategy(max_attempts=net.attempts)}
    if config.endpoint_url:
        scheme, _, host = str(config.endpoint_url).rpartition("://")
        kwargs.update(endpoint_override=host.rstrip("/"), scheme=scheme or "https")
    keys = (config.access_key, config.secret_key, config.session_token)
    if not config.access_key and config.profile:  # pyarrow has no profiles: ask botocore
        import boto3

        frozen = boto3.session.Session(profile_name=config.profile).get_credentials().get_frozen_credentials()
        keys = (frozen.access_key, frozen.secret_key, frozen.token)
    if keys[0]:
        kwargs.update(access_key=keys[0], secret_key=keys[1], session_token=keys[2])
    return fs.S3FileSystem(**{k: v for k, v in kwargs.items() if v is not None})


def _objects(fs: Any, table: str, source: ConnectorSource) -> list[str]:
    """The ``bucket/key`` of every object the source names, sorted (see the module docstring)."""
    from pyarrow.fs import FileSelector, FileType

    from relpredict.sinks.s3 import split_url

    bucket, key = split_url(str(source.path))
    glob_at = min((key.find(c) for c in "*?[" if c in key), default=-1)
    if glob_at < 0 and key and not key.endswith("/"):
        info = fs.get_file_info(f"{bucket}/{key}")
        if info.type == FileType.File:
            return [f"{bucket}/{key}"]
        key += "/"  # a prefix given without its slash
    base = key[:key.rfind("/", 0, glob_at) + 1] if glob_at >= 0 else key
    infos = fs.get_file_info(FileSelector(f"{bucket}/{base}".rstrip("/"), recursive=True, allow_not_found=True))
    found = sorted(i.path for i in infos if i.type == FileType.File and i.size
                   and _wanted(i.path[len(bucket) + 1:], base, key if glob_at >= 0 else None))
    if not found:
        raise DataError(f"Table {table!r}: no object matches {source.path} (connector "
                        f"{source.connector or '(AWS default)'}). Check the bucket and the path: a "
                        "file (s3://b/orders.parquet), a prefix ending in / or a glob (s3://b/orders/*.parquet).")
    return found


def _wanted(key: str, base: str, glob: str | None) -> bool:
    rest = key[len(base):]
    if any(part.startswith(SKIPPED_PREFIXES) for part in rest.split("/")):
        return False
    return fnmatch.fnmatchcase(key, glob) if glob is not None else True


def _one_format(table: str, source: ConnectorSource, keys: list[str]) -> str:
    formats = set()
    for key in keys:
        try:
            formats.add(file_format(key[:-3] if key.lower().endswith(".gz") else key))
        except ConfigError:
            formats.add(f"unknown ({key.rsplit('/', 1)[-1]})")
    if len(formats) == 1 and next(iter(formats)) in FILE_FORMATS:
        return formats.pop()
    raise DataError(f"Table {table!r}: the objects of {source.path} are not all .csv or all .parquet "
                    f"({', '.join(sorted(formats))}). Narrow the path with a glob (s3://b/orders/*.parquet) "
                    "or give `format: csv|parquet`.")


# ----------------------------------------------------------------------------------- Snowflake
def _snowflake_ref(table: str) -> str:
    from relpredict.sinks.snowflake_sql import object_name

    parts = table.split(".")
    if len(parts) > 3:
        raise ConfigError(f"The Snowflake table {table!r} has too many parts: give TABLE, "
                          "SCHEMA.TABLE or DATABASE.SCHEMA.TABLE.")
    return ".".join('"' + object_name(p) + '"' for p in parts)


def _fetch_snowflake(connector: Any, table: str, source: ConnectorSource, out: Path, events: Any) -> str:
    from relpredict.sinks.snowflake import SnowflakeConnection, connect

    try:
        statement = source.query or f"SELECT * FROM {_snowflake_ref(str(source.table))}"
        conn = SnowflakeConnection.from_connector(connector)
        con, secrets = connect(conn, events)
    except RelpredictError as err:
        raise DataError(f"Table {table!r} ({source.describe()}): {err}") from None
    hint = ("Check that the table or the SELECT exists and runs in Snowflake, and that the "
            f"connector's user may read it (`relpredict connector test {source.connector}`).")
    try:
        cursor = con.cursor()
        cursor.execute(statement, timeout=QUERY_SECONDS)
        batches = list(cursor.fetch_arrow_batches())
        data = pa.concat_tables(batches) if batches else _empty(cursor)  # each batch is a Table
    except Exception as err:
        raise _failed(table, source, err, secrets, hint) from None
    finally:
        with contextlib.suppress(Exception):
            con.close()
    return _write_arrow(data, out)


def _empty(cursor: Any) -> pa.Table:
    """No rows: the columns from the cursor's description, typed by a pandas fetch of nothing."""
    frame = cursor.fetch_pandas_all()
    return pa.Table.from_pandas(frame, preserve_index=False)


# ----------------------------------------------------------------------------------- BigQuery
def _fetch_bigquery(connector: Any, table: str, source: ConnectorSource, out: Path, events: Any) -> str:
    from relpredict.sinks.bigquery import BigQueryConnection, make_client
    from relpredict.sinks.bigquery_sql import table_ref

    try:
        conn = BigQueryConnection.from_connector(connector)
        ref = None if source.query else table_ref(str(source.table), conn.project, conn.dataset, conn.name)
        client = make_client(conn, events)
    except RelpredictError as err:
        raise DataError(f"Table {table!r} ({source.describe()}): {err}") from None
    hint = ("Check that the table or the SELECT exists and runs in BigQuery, and that the "
            f"connector's credentials may read it (`relpredict connector test {source.connector}`).")
    try:
        if ref is not None:
            rows = client.list_rows(ref.ref, timeout=QUERY_SECONDS)
        else:
            rows = client.query(str(source.query), timeout=QUERY_SECONDS).result(timeout=QUERY_SECONDS)
        data = rows.to_arrow(create_bqstorage_client=False)
    except Exception as err:
        raise _failed(table, source, err, [], hint) from None
    finally:
        with contextlib.suppress(Exception):
            client.close()
    return _write_arrow(data, out)
