"""The workspace folder: created on open, placed by argument or RELPREDICT_HOME, migrated once."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from relpredict.errors import WorkspaceError
from relpredict.workspace import MIGRATIONS, Workspace


def test_open_creates_database_and_artifacts(tmp_path: Path) -> None:
    ws = Workspace.open(tmp_path / "ws")
    assert ws.home == (tmp_path / "ws").resolve()
    assert ws.db_path == ws.home / "metadata.db" and ws.db_path.is_file()
    assert ws.artifacts == ws.home / "artifacts" and ws.artifacts.is_dir()
    assert ws.schema_version() == len(MIGRATIONS) >= 2
    with ws.db() as con:
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        assert {"graphs", "models"} <= set(tables)
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_home_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RELPREDICT_HOME", str(tmp_path / "env-home"))
    ws = Workspace.open()
    assert ws.home == (tmp_path / "env-home").resolve()
    assert (tmp_path / "env-home" / "metadata.db").is_file()


def test_explicit_home_wins_over_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RELPREDICT_HOME", str(tmp_path / "env-home"))
    ws = Workspace.open(tmp_path / "explicit")
    assert ws.home == (tmp_path / "explicit").resolve()
    assert not (tmp_path / "env-home").exists()


def test_default_home_is_dot_relpredict(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RELPREDICT_HOME", raising=False)
    monkeypatch.chdir(tmp_path)
    ws = Workspace.open()
    assert ws.home == (tmp_path / ".relpredict").resolve()
    assert ws.db_path.is_file()


def test_open_is_idempotent_and_keeps_data(tmp_path: Path) -> None:
    ws = Workspace.open(tmp_path)
    with ws.db() as con:
        con.execute("INSERT INTO graphs VALUES ('g', '/x/graph.yaml', NULL, '2024-01-01T00:00:00Z')")
    again = Workspace.open(tmp_path)
    assert again == ws
    assert again.schema_version() == len(MIGRATIONS)
    with again.db() as con:
        assert [tuple(r) for r in con.execute("SELECT name, yaml_path FROM graphs")] == [
            ("g", "/x/graph.yaml")]


def test_db_rolls_back_on_error(tmp_path: Path) -> None:
    ws = Workspace.open(tmp_path)
    with pytest.raises(RuntimeError), ws.db() as con:
        con.execute("INSERT INTO graphs VALUES ('g', '/y', NULL, 'now')")
        raise RuntimeError("boom")
    with ws.db() as con:
        assert con.execute("SELECT COUNT(*) FROM graphs").fetchone()[0] == 0


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    Workspace.open(tmp_path)
    with sqlite3.connect(tmp_path / "metadata.db") as con:
        con.execute("PRAGMA user_version = 99")
    con.close()
    with pytest.raises(WorkspaceError) as err:
        Workspace.open(tmp_path)
    assert str(err.value) == (
        f"The workspace {tmp_path.resolve()} was written by a newer relpredict (schema 99, this "
        f"one knows {len(MIGRATIONS)}). Upgrade relpredict.")


def test_unusable_database_and_folder(tmp_path: Path) -> None:
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "metadata.db").write_bytes(b"this is not a sqlite database" * 100)
    with pytest.raises(WorkspaceError, match=r"The workspace database .*metadata\.db is unusable"):
        Workspace.open(tmp_path / "bad")
    (tmp_path / "file").write_text("x")
    with pytest.raises(WorkspaceError, match=r"Cannot create the workspace folder .*file/ws"):
        Workspace.open(tmp_path / "file" / "ws")
