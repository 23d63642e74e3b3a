"""Snowflake tables: a job's rows REPLACE the table's rows in one transaction, loaded in bulk.

A destination ``snowflake://CONNECTOR/[SCHEMA.]TABLE`` names a workspace connector (account, user,
role, warehouse, database, schema; for a test server also host, port, protocol) whose secrets are
references (``password``, ``private_key`` + ``private_key_passphrase``, or ``token``), and a table.
Table and schema names are plain identifiers, upper-cased as Snowflake resolves them unquoted, and
quoted in every statement (:mod:`relpredict.sinks.snowflake_sql`).

**Staging** is local, as for local files: workers write Parquet shards and done markers under the
job's folder in the workspace (``artifacts/jobs/<job>/snowflake-staging/``). The coordinator reads
them back to publish, so the workers and the coordinator must share that folder: one machine, or a
workspace on a shared file system. Workers never connect to Snowflake or read a secret.

**Publishing** one output (the coordinator, in order)::

    write the output's rows as Parquet files   staging/upload/<output>/part_00000.parquet …
    CREATE TABLE IF NOT EXISTS "DB"."SCHEMA"."TABLE" (…)       DDL, so before BEGIN: Snowflake
    CREATE OR REPLACE TEMPORARY STAGE "DB"."SCHEMA"."RELPREDICT_<JOB>_<OUTPUT>"   commits any open
    PUT 'file://…/upload/<output>/*.parquet' @stage                transaction before a DDL
    BEGIN
    DELETE FROM "DB"."SCHEMA"."TABLE"
    COPY INTO "DB"."SCHEMA"."TABLE" FROM @stage … MATCH_BY_COLUMN_NAME … FORCE = TRUE
    (the rows COPY loaded must equal the rows written, else ROLLBACK)
    COMMIT

A failure anywhere before ``COMMIT`` rolls back: readers see the old rows until the new ones are
all there, never a mix and never an empty table in between. A failure after the table was
created leaves it created and empty (it had no rows to keep). With both outputs, each table is
replaced in its own transaction, predictions first; a resume publishes both again, so a job that
failed between the two ends with both tables replaced. An existing table must have exactly the
output's column names (compared case-insensitively, as the load matches them); a type it cannot
take makes ``COPY`` fail and roll back.

A coordinator killed between ``BEGIN`` and ``COMMIT`` leaves a *detached* transaction in Snowflake:
the old rows stay, but the transaction holds the table's lock until Snowflake aborts it (the
session's idle timeout, or ``SELECT SYSTEM$ABORT_TRANSACTION(id)`` from ``SHOW TRANSACTIONS``);
a resume waits on that lock.

**The manifest** is written last, to ``artifacts/jobs/<job>/snowflake-manifest.json`` in the
workspace; the job record marks success. Secrets are read only when the coordinator connects and
are scrubbed from every error message (they never reach a job record or a log).
"""

from __future__ import annotations

import contextlib
import logging
import shutil
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq

from relpredict.errors import ConfigError, DestinationError, RelpredictError
from relpredict.sinks import snowflake_sql as sql
from relpredict.sinks.base import JobSink, OutputFile, SinkSpec
from relpredict.sinks.localfs import JsonManifest, LocalStaging
from relpredict.sinks.naming import TableDestination
from relpredict.sinks.network import JobEvents, NetPolicy, policy, with_retries

if TYPE_CHECKING:
    from relpredict.connectors import Connector

__all__ = ["FILE_BYTES", "SnowflakeConnection", "SnowflakeSink", "connect", "scrub", "test_connection"]

log = logging.getLogger(__name__)

FILE_BYTES = 128 * 1024 * 1024  # Arrow bytes per uploaded Parquet file (Snowflake: 100-250 MB)
_PASSED = ("account", "user", "role", "warehouse", "database", "schema", "host", "protocol",
           "authenticator")


# ----------------------------------------------------------------------------------- connection
@dataclass(frozen=True)
class SnowflakeConnection:
    """What a connection needs, from a connector: settings and secret REFERENCES, never values.

    ``options`` are extra keyword arguments for ``snowflake.connector.connect`` (timeouts in
    tests); they are not secrets.
    """

    name: str
    settings: tuple[tuple[str, Any], ...]
    secrets: tuple[tuple[str, str], ...] = ()
    options: tuple[tuple[str, Any], ...] = ()

    @classmethod
    def from_connector(cls, connector: Connector, **options: Any) -> SnowflakeConnection:
        """Read a ``snowflake`` connector (nothing is resolved or opened yet)."""
        if connector.kind != "snowflake":
            raise ConfigError(f"The connector {connector.name!r} is a {connector.kind} connector: a "
                              "snowflake:// destination needs a snowflake connector.")
        return cls(connector.name, tuple(sorted(connector.settings.items())),
                   tuple(sorted(connector.secrets.items())), tuple(sorted(options.items())))

    def setting(self, key: str) -> Any:
        return dict(self.settings).get(key)

    def describe(self) -> str:
        """``account acme as user etl`` (no secret) for messages."""
        return f"account {self.setting('account')} as user {self.setting('user')}"

    def connect_kwargs(self, secrets: dict[str, str], net: NetPolicy | None = None) -> dict[str, Any]:
        """Keyword arguments for ``snowflake.connector.connect`` from settings and secret VALUES.

        ``net`` bounds every network call: a socket read waits ``read_timeout``; the connector's
        own retries of the login and of each statement stop after ``budget`` seconds."""
        kwargs: dict[str, Any] = {k: v for k, v in self.settings if k in _PASSED and v not in (None, "")}
        if self.setting("port") not in (None, ""):
            kwargs["port"] = _port(self.name, self.setting("port"))
        kwargs.update(_auth(self.name, secrets, kwargs.get("authenticator")))
        kwargs.update(dict(self.options))
        kwargs.setdefault("application", "relpredict")
        net = net or policy()
        kwargs.setdefault("socket_timeout", max(1, round(net.read_timeout)))
        kwargs.setdefault("login_timeout", max(1, round(net.connect_timeout + net.read_timeout)))
        kwargs.setdefault("network_timeout", max(1, round(net.budget)))
        return kwargs


def _port(name: str, value: Any) -> int:
    try:
        port = int(value)
    except (TypeError, ValueError):
        port = 0
    if not 0 < port < 65536:
        raise ConfigError(f"The port {value!r} of connector {name!r} is not a port number (1-65535).")
    return port


def _auth(name: str, secrets: dict[str, str], authenticator: str | None) -> dict[str, Any]:
    """Password, key pair or token: the first one the connector has, in that order."""
    if "password" in secrets:
        return {"password": secrets["password"]}
    if "private_key" in secrets:
        return {"private_key": _private_key_der(name, secrets["private_key"],
                                                secrets.get("private_key_passphrase"))}
    if "token" in secrets:
        return {"token": secrets["token"], "authenticator": authenticator or "oauth"}
    return {}  # e.g. authenticator=externalbrowser: the connector asks for nothing


def _private_key_der(name: str, pem: str, passphrase: str | None) -> bytes:
    """The key pair's private key as DER bytes (what the connector takes); errors never quote it."""
    from cryptography.hazmat.primitives import serialization

    try:
        key = serialization.load_pem_private_key(pem.encode(), passphrase.encode() if passphrase else None)
    except Exception:  # the message could carry key material: say what and where only
        raise ConfigError(f"The secret 'private_key' of connector {name!r} is not a PEM private key, or "
                          "its 'private_key_passphrase' is wrong or missing: point the reference at "
                          "the key file (e.g. file:~/.ssh/rsa_key.p8).") from None
    return key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def scrub(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret value (4 characters or more) replaced by ``***``."""
    for value in sorted((s for s in secrets if s and len(s) >= 4), key=len, reverse=True):
        text = text.replace(value, "***")
    return text


def _error_text(err: BaseException, secrets: Iterable[str]) -> str:
    message = getattr(err, "msg", None) or str(err)
    return scrub(f"{type(err).__name__}: {message}".strip(), secrets)


def transient(err: BaseException) -> bool:
    """A failure to reach or hear from the server (the connector's OperationalError), not a refusal."""
    from snowflake.connector.errors import OperationalError

    return isinstance(err, OperationalError | TimeoutError | ConnectionError)


def connect(conn: SnowflakeConnection, events: JobEvents | None = None,
            net: NetPolicy | None = None, tries: int = 2) -> tuple[Any, list[str]]:
    """Open a connection (secrets read now); return it and the secret values, for scrubbing.

    A connection that fails to reach the server is tried ``tries`` times (the connector retries
    within each try already, for ``login_timeout`` seconds), each retry a job event."""
    import snowflake.connector

    from relpredict.connectors import resolve_secret

    secrets = {k: resolve_secret(conn.name, k, ref) for k, ref in conn.secrets}
    values = list(secrets.values())
    net = net or policy()
    kwargs = conn.connect_kwargs(secrets, net)
    try:
        return with_retries(f"Snowflake connection to {conn.describe()}",
                            lambda: snowflake.connector.connect(**kwargs), transient, events,
                            replace(net, attempts=max(1, min(net.attempts, tries))),
                            lambda err: _error_text(err, values)), values
    except RelpredictError:
        raise
    except Exception as err:
        if transient(err):
            raise DestinationError(
                f"Cannot connect to Snowflake {conn.describe()} with connector {conn.name!r}: the "
                f"server did not answer within {kwargs['login_timeout']} s ({tries} time(s); "
                f"{_error_text(err, values)}). Check that its host is up and reachable; a job can "
                "be resumed once it is.") from None
        raise DestinationError(f"Cannot connect to Snowflake {conn.describe()} with connector "
                              f"{conn.name!r}: {_error_text(err, values)}. Check the connector's "
                              "settings and secrets (`relpredict connector test "
                              f"{conn.name}`).") from None


def test_connection(connector: Connector, options: dict[str, str]) -> str:
    """``relpredict connector test``: connect and report the session's database and schema."""
    conn = SnowflakeConnection.from_connector(connector)
    con, secrets = connect(conn, net=policy(probe=True), tries=1)
    try:
        database, schema, user = con.cursor().execute(
            "SELECT CURRENT_DATABASE(), CURRENT_SCHEMA(), CURRENT_USER()").fetchone()
    except Exception as err:
        raise DestinationError(f"Connected to Snowflake {conn.describe()} but a first query failed: "
                              f"{_error_text(err, secrets)}.") from None
    finally:
        with contextlib.suppress(Exception):
            con.close()
    return (f"Snowflake account {conn.setting('account')}, user {user}: database {database or '(none)'}, "
            f"schema {schema or '(none)'}.")


# ----------------------------------------------------------------------------------- the sink
@dataclass
class _Upload:
    """The Parquet files one output was written to before loading."""

    folder: Path
    rows: int = 0
    bytes: int = 0
    files: list[Path] = field(default_factory=list)


class SnowflakeSink(JobSink):
    """Replaces Snowflake tables' rows with a job's outputs (see the module docstring).

    Staging is a :class:`~relpredict.sinks.localfs.LocalStaging` in the job's workspace folder
    (``staging`` overrides it); the manifest a JSON file beside it.
    """

    staging: LocalStaging

    def __init__(self, spec: SinkSpec, connector: Connector | None = None,
                 staging: Path | None = None, connection: SnowflakeConnection | None = None) -> None:
        self.conn = connection or SnowflakeConnection.from_connector(
            connector or spec.require_connector("Snowflake", "snowflake://CONNECTOR/TABLE"))
        self.job_folder = spec.job_folder("Snowflake") if staging is None else staging.parent
        super().__init__(spec, LocalStaging(staging or self.job_folder / "snowflake-staging"))
        self.manifest = JsonManifest(self.job_folder / "snowflake-manifest.json")
        self._con: Any = None
        self._secrets: list[str] = []
        self._context: tuple[str, str] | None = None

    # ----------------------------------------------------------------- connection
    def _cursor(self) -> Any:
        """A cursor on this sink's connection, opened on first use (the coordinator only)."""
        if self._con is None:
            self._con, self._secrets = connect(self.conn, JobEvents.of(self.spec))
        return self._con.cursor()

    def _execute(self, cursor: Any, statement: str, params: tuple[Any, ...] | None = None) -> Any:
        """Run one statement (the one seam every statement passes through)."""
        log.debug("snowflake: %s", statement)
        return cursor.execute(statement, params)

    def close(self) -> None:
        """Close the connection (its temporary stages go with it)."""
        if self._con is not None:
            with contextlib.suppress(Exception):
                self._con.close()
        self._con, self._context = None, None

    def _session_context(self) -> tuple[str, str]:
        """The session's (database, schema): what the connector's settings made current."""
        if self._context is None:
            database, schema = self._execute(self._cursor(), sql.context_sql()).fetchone()
            self._context = (database or "", schema or "")
        return self._context

    def table(self, output: str) -> sql.TableRef:
        """The fully qualified table of ``output`` (schema from the destination, else the session's)."""
        dest = self.spec.target(output)
        if not isinstance(dest, TableDestination):
            raise ConfigError(f"The destination of job {self.spec.job_id} is not a Snowflake table.")
        database, schema = self._session_context()
        schema = dest.namespace or schema
        if not database or not schema:
            raise ConfigError(f"The Snowflake session of connector {self.conn.name!r} has no current "
                              f"{'database' if not database else 'schema'}: set it on the connector "
                              "(--set database=DB --set schema=SCHEMA), check that it exists and that "
                              "the role may use it, or give snowflake://CONNECTOR/SCHEMA.TABLE.")
        return sql.TableRef.of(database, schema, dest.name)

    # ----------------------------------------------------------------- publishing
    def publish(self, output: str, schema: pa.Schema, batches: Iterable[pa.RecordBatch],
                on_batch: Callable[[pa.RecordBatch], None] | None = None) -> list[OutputFile]:
        """Write the rows as Parquet, then replace the table's rows in one transaction."""
        upload = self._write_upload(output, schema, batches, on_batch)
        try:
            table = self.table(output)
            self._ensure_table(table, schema)
            self._replace(table, output, upload)
        except RelpredictError:
            self.close()
            raise
        except Exception as err:
            self.close()
            raise self._failure(output, err) from None
        shutil.rmtree(upload.folder, ignore_errors=True)
        log.info("snowflake: replaced the rows of %s with %d rows", table.dotted, upload.rows)
        return [OutputFile(table.dotted, upload.rows, upload.bytes)]

    def _failure(self, output: str, err: BaseException) -> DestinationError:
        return DestinationError(f"Publishing {output} to Snowflake (connector {self.conn.name!r}) failed: "
                               f"{_error_text(err, self._secrets)}. The table keeps its previous rows; "
                               f"fix the cause and run `relpredict job resume {self.spec.job_id}`.")

    def _write_upload(self, output: str, schema: pa.Schema, batches: Iterable[pa.RecordBatch],
                      on_batch: Callable[[pa.RecordBatch], None] | None) -> _Upload:
        """The output's rows as Parquet files of about :data:`FILE_BYTES` (at least one file)."""
        upload = _Upload(self.staging.folder / "upload" / output)
        shutil.rmtree(upload.folder, ignore_errors=True)
        upload.folder.mkdir(parents=True)
        for chunk in _chunks(iter(batches), FILE_BYTES):
            path = upload.folder / f"part_{len(upload.files):05d}.parquet"
            with pq.ParquetWriter(path, schema) as writer:
                for batch in chunk:
                    writer.write_batch(batch)
                    upload.rows += batch.num_rows
                    if on_batch is not None:
                        on_batch(batch)
            upload.files.append(path)
            upload.bytes += path.stat().st_size
        return upload

    def _ensure_table(self, table: sql.TableRef, schema: pa.Schema) -> None:
        """Create the table when absent, else check it has exactly the output's columns."""
        cursor = self._cursor()
        rows = self._execute(cursor, sql.columns_sql(table), (table.schema, table.name)).fetchall()
        if not rows:
            self._execute(cursor, sql.create_table_sql(table, schema))
            return
        _check_columns(table, [r[0] for r in rows], schema.names)

    def _replace(self, table: sql.TableRef, output: str, upload: _Upload) -> None:
        """Stage the files, then DELETE + COPY in one transaction (see the module docstring)."""
        cursor = self._cursor()
        stage = sql.TableRef(table.database, table.schema, sql.stage_name(self.spec.job_id, output))
        self._execute(cursor, sql.create_stage_sql(stage))
        self._execute(cursor, sql.put_sql(upload.folder, stage))
        self._execute(cursor, sql.begin_sql())
        try:
            self._execute(cursor, sql.delete_sql(table))
            loaded = _rows_loaded(self._execute(cursor, sql.copy_sql(table, stage)))
            if loaded != upload.rows:
                raise DestinationError(f"COPY INTO {table.dotted} loaded {loaded} rows, not the "
                                      f"{upload.rows} written: nothing was changed.")
            self._execute(cursor, sql.commit_sql())
        except BaseException:
            with contextlib.suppress(Exception):
                self._execute(cursor, sql.rollback_sql())
            raise

    # ----------------------------------------------------------------- manifest
    def write_manifest(self, manifest: dict[str, Any]) -> str:
        """The manifest, last of all, in the job's workspace folder."""
        return self.manifest.write(manifest)

    def read_manifest(self) -> dict[str, Any] | None:
        return self.manifest.read()

    def discard_staging(self) -> None:
        self.close()
        super().discard_staging()


def _chunks(batches: Iterator[pa.RecordBatch], limit: int) -> Iterator[Iterator[pa.RecordBatch]]:
    """Consecutive runs of batches of about ``limit`` Arrow bytes each; one (empty) run at least."""
    pending: list[pa.RecordBatch] = [next(batches, None)]

    def run() -> Iterator[pa.RecordBatch]:
        size = 0
        while pending[0] is not None:
            batch = pending[0]
            yield batch
            size += batch.nbytes
            pending[0] = next(batches, None)
            if size >= limit:
                return

    yield run()
    while pending[0] is not None:
        yield run()


def _rows_loaded(cursor: Any) -> int:
    """The sum of COPY's ``rows_loaded`` column over its files (0 when no file was loaded)."""
    names = [d[0].lower() for d in cursor.description or []]
    if "rows_loaded" not in names:
        return 0
    index = names.index("rows_loaded")
    return sum(int(row[index] or 0) for row in cursor.fetchall())


def _check_columns(table: sql.TableRef, have: list[str], want: list[str]) -> None:
    """An existing table must hold exactly the output's columns (case-insensitive, as loaded)."""
    have_up, want_up = {c.upper() for c in have}, {c.upper() for c in want}
    missing = [c for c in want if c.upper() not in have_up]
    extra = [c for c in have if c.upper() not in want_up]
    if missing or extra:
        what = "; ".join(filter(None, [f"missing {', '.join(missing)}" if missing else "",
                                       f"has {', '.join(extra)} the output lacks" if extra else ""]))
        raise ConfigError(f"The Snowflake table {table.dotted} exists with other columns ({what}): "
                          "replacing its rows would lose or mix columns. Write to a new table, or "
                          "drop this one.")
