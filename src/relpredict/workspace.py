"""The workspace: where relpredict keeps its state between commands.

A folder (``./.relpredict`` by default; ``--home`` or ``RELPREDICT_HOME`` moves it) holding a
SQLite metadata database (``metadata.db``) and an ``artifacts/`` folder. Models, workflows and
jobs are recorded in the database; their files live under ``artifacts/``. The schema is created
and migrated forward on open, so any version of relpredict can open an older workspace.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from relpredict.errors import WorkspaceError

ENV_HOME = "RELPREDICT_HOME"
DEFAULT_HOME = ".relpredict"

# Each entry migrates the schema one version forward; never edit an entry that has shipped.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE graphs (
        name TEXT PRIMARY KEY,          -- user-chosen name
        yaml_path TEXT NOT NULL,        -- absolute path of the graph YAML
        data_dir TEXT,                  -- data folder given with --data, if any
        registered_at TEXT NOT NULL     -- ISO 8601 UTC
    );
    """,
    """
    CREATE TABLE models (
        name TEXT NOT NULL,             -- user-chosen name (relpredict train --name)
        version INTEGER NOT NULL,       -- 1, 2, ... per name; a new training run adds a version
        kind TEXT NOT NULL,             -- gnn | lightgbm | blend
        query TEXT NOT NULL,            -- canonical PQL text
        task_type TEXT NOT NULL,
        path TEXT NOT NULL,             -- artifact folder, relative to the workspace
        metrics TEXT NOT NULL,          -- JSON: validation and test metrics
        created_at TEXT NOT NULL,       -- ISO 8601 UTC
        PRIMARY KEY (name, version)
    );
    """,
    """
    CREATE TABLE workflows (
        name TEXT PRIMARY KEY,          -- user-chosen name (relpredict workflow create)
        model TEXT NOT NULL,            -- model as given: NAME (latest version per job) or NAME@VERSION
        created_at TEXT NOT NULL        -- ISO 8601 UTC
    );
    CREATE TABLE jobs (
        id TEXT PRIMARY KEY,
        workflow TEXT NOT NULL REFERENCES workflows (name),
        model_ref TEXT NOT NULL,        -- NAME@VERSION resolved when the job was created
        loader TEXT NOT NULL,           -- import string of the model loader (module:function)
        status TEXT NOT NULL,           -- queued | running | succeeded | failed | cancelled
        stage TEXT NOT NULL,            -- queued | loading data | ... | done
        settings TEXT NOT NULL,         -- JSON of the validated settings; never secrets
        warnings TEXT NOT NULL,         -- JSON list of strings
        error TEXT,                     -- why the job failed
        entities_total INTEGER,
        shards_total INTEGER,
        runner_pid INTEGER,             -- process that runs the job, with its start time to tell
        runner_started REAL,            --   a live runner from a reused pid
        cancel_requested INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL,       -- ISO 8601 UTC, like every time below
        started_at TEXT,
        stage_started_at TEXT,
        ended_at TEXT,
        summary TEXT                    -- JSON, once succeeded
    );
    CREATE INDEX jobs_by_workflow ON jobs (workflow, created_at);
    CREATE TABLE job_workers (          -- the current run's workers (reset by resume)
        job_id TEXT NOT NULL REFERENCES jobs (id),
        worker INTEGER NOT NULL,
        pid INTEGER,
        entities_done INTEGER NOT NULL,
        entities_total INTEGER NOT NULL,
        error TEXT,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (job_id, worker)
    );
    CREATE TABLE job_shards (           -- shards whose outputs are staged (mirror of done markers)
        job_id TEXT NOT NULL REFERENCES jobs (id),
        shard INTEGER NOT NULL,
        entities INTEGER NOT NULL,
        seconds REAL,
        done_at TEXT NOT NULL,
        PRIMARY KEY (job_id, shard)
    );
    """,
    """
    CREATE TABLE connectors (           -- connections to S3, Snowflake, BigQuery (relpredict connector)
        name TEXT PRIMARY KEY,
        kind TEXT NOT NULL,             -- s3 | snowflake | bigquery
        settings TEXT NOT NULL,         -- JSON of non-secret settings (account, project, endpoint...)
        secrets TEXT NOT NULL,          -- JSON: secret name -> reference (env:VAR or file:/path), never a value
        created_at TEXT NOT NULL        -- ISO 8601 UTC
    );
    """,
    """
    CREATE TABLE schedules (            -- recurring jobs of a workflow (relpredict workflow schedule)
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        workflow TEXT NOT NULL REFERENCES workflows (name),
        cron TEXT NOT NULL,             -- five fields, UTC
        settings TEXT NOT NULL,         -- JSON of the job settings as given; never secrets
        created_at TEXT NOT NULL,       -- ISO 8601 UTC, like every time below
        last_slot TEXT NOT NULL,        -- the latest slot claimed (a run started for it); at first
                                        --   the creation minute, so no earlier slot ever runs
        last_job TEXT,                  -- the job the latest slot started
        last_error TEXT                 -- why the latest slot started no job
    );
    CREATE TABLE backtests (            -- a workflow's settings run at several past anchors
        id TEXT PRIMARY KEY,
        workflow TEXT NOT NULL REFERENCES workflows (name),
        settings TEXT NOT NULL,         -- JSON: from, to, every and the job settings
        created_at TEXT NOT NULL
    );
    CREATE TABLE backtest_points (      -- one job per anchor
        backtest_id TEXT NOT NULL REFERENCES backtests (id),
        anchor TEXT NOT NULL,           -- ISO 8601
        job_id TEXT,
        metric TEXT,                    -- the realised metric's name (auroc, mae, ...)
        value REAL,                     -- the job's realised metric
        entities INTEGER,               -- labelled entities it was measured on
        baseline TEXT,                  -- the model's best baseline
        baseline_value REAL,            -- its metric on the same entities and labels
        error TEXT,
        PRIMARY KEY (backtest_id, anchor)
    );
    """,
)


@dataclass(frozen=True)
class Workspace:
    """An opened workspace folder."""

    home: Path

    @classmethod
    def open(cls, home: str | Path | None = None) -> Workspace:
        """Open (creating if needed) the workspace at ``home``, ``$RELPREDICT_HOME`` or ``./.relpredict``."""
        path = Path(home or os.environ.get(ENV_HOME) or DEFAULT_HOME).expanduser()
        try:
            (path / "artifacts").mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise WorkspaceError(
                f"Cannot create the workspace folder {path}: {err.strerror}. Choose another "
                f"place with --home or {ENV_HOME}."
            ) from err
        ws = cls(path.resolve())
        if ws.db_path.is_file() and ws.db_path.stat().st_size == 0:
            raise WorkspaceError(
                f"The workspace database {ws.db_path} is empty (0 bytes): it was truncated or is not a "
                "relpredict workspace, and opening it would silently start a new, empty one. Restore "
                "it from a backup, or delete the file to start afresh.")
        ws._migrate()
        return ws

    @property
    def db_path(self) -> Path:
        return self.home / "metadata.db"

    @property
    def artifacts(self) -> Path:
        return self.home / "artifacts"

    @contextmanager
    def db(self) -> Iterator[sqlite3.Connection]:
        """A connection in one transaction: committed on success, rolled back on error."""
        con = sqlite3.connect(self.db_path, timeout=30)
        con.row_factory = sqlite3.Row
        try:
            con.execute("PRAGMA foreign_keys = ON")
            yield con
            con.commit()
        except BaseException:
            con.rollback()
            raise
        finally:
            con.close()

    def schema_version(self) -> int:
        with self.db() as con:
            return int(con.execute("PRAGMA user_version").fetchone()[0])

    def _migrate(self) -> None:
        try:
            with self.db() as con:
                con.execute("PRAGMA journal_mode = WAL")
                version = int(con.execute("PRAGMA user_version").fetchone()[0])
                if version > len(MIGRATIONS):
                    raise WorkspaceError(
                        f"The workspace {self.home} was written by a newer relpredict (schema "
                        f"{version}, this one knows {len(MIGRATIONS)}). Upgrade relpredict."
                    )
                for number in range(version, len(MIGRATIONS)):
                    con.executescript(MIGRATIONS[number])
                    con.execute(f"PRAGMA user_version = {number + 1}")
        except sqlite3.DatabaseError as err:
            raise WorkspaceError(f"The workspace database {self.db_path} is unusable: {err}.") from err
