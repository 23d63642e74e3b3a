"""Connectors: validation, storage as references only, secrets read at use time, the CLI."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from relpredict.cli.main import app
from relpredict.connectors import (
    Connector,
    add_connector,
    get_connector,
    list_connectors,
    remove_connector,
    resolve_secrets,
)
from relpredict.errors import ConfigError
from relpredict.workspace import Workspace

SECRET = "s3cr3t-Value-that-must-never-leak"


@pytest.fixture()
def ws(tmp_path: Path) -> Workspace:
    return Workspace.open(tmp_path / "ws")


def _snowflake(**secrets: str) -> Connector:
    return Connector("wh", "snowflake", {"account": "acme", "user": "etl", "role": "LOADER"},
                     secrets or {"password": "env:SF_PASSWORD"})


def test_add_get_list_remove(ws: Workspace) -> None:
    add_connector(ws, _snowflake())
    add_connector(ws, Connector("lake", "s3", {"endpoint_url": "http://127.0.0.1:9000"}))
    assert get_connector(ws, "wh") == _snowflake()
    assert [c.name for c in list_connectors(ws)] == ["lake", "wh"]
    with pytest.raises(ConfigError, match=r"^A connector named 'wh' already exists"):
        add_connector(ws, _snowflake())
    remove_connector(ws, "wh")
    assert [c.name for c in list_connectors(ws)] == ["lake"]


def test_unknown_connector_suggests_the_closest_name(ws: Workspace) -> None:
    add_connector(ws, _snowflake())
    with pytest.raises(ConfigError) as err:
        get_connector(ws, "whh")
    assert "No connector named 'whh'" in str(err.value) and "Did you mean 'wh'?" in str(err.value)


@pytest.mark.parametrize(("connector", "message"), [
    (Connector("x y", "s3"), "The connector name 'x y' must start with a letter or digit"),
    (Connector("c", "snowflak"), "Unknown connector kind 'snowflak': Did you mean 'snowflake'?"),
    (Connector("c", "snowflake", {"account": "a"}), "A snowflake connector needs the setting(s) user"),
    (Connector("c", "s3", {"endpiont_url": "x"}), "A s3 connector has no setting 'endpiont_url'. "
     "Did you mean 'endpoint_url'?"),
    (Connector("c", "bigquery", {"project": "p"}, {"password": "env:X"}),
     "A bigquery connector has no secret 'password'."),
])
def test_invalid_connectors(ws: Workspace, connector: Connector, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        add_connector(ws, connector)
    assert str(err.value).startswith(message)


@pytest.mark.parametrize("ref", [SECRET, "env:", "env:1BAD", "vault:x", "file:", ""])
def test_a_secret_must_be_a_reference_and_is_never_echoed(ws: Workspace, ref: str) -> None:
    with pytest.raises(ConfigError) as err:
        add_connector(ws, _snowflake(password=ref))
    assert str(err.value).startswith("The secret 'password' must be a reference, env:VARIABLE or "
                                     "file:/path/to/file, not a value")
    assert SECRET not in str(err.value)
    assert list_connectors(ws) == []


def test_secrets_resolve_at_use_time_from_env_and_file(ws: Workspace, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    key = tmp_path / "key.p8"
    key.write_text(SECRET + "-file\n")
    add_connector(ws, _snowflake(password="env:SF_PASSWORD", private_key=f"file:{key}"))
    connector = get_connector(ws, "wh")
    assert connector.secrets == {"password": "env:SF_PASSWORD", "private_key": f"file:{key}"}
    monkeypatch.setenv("SF_PASSWORD", SECRET)
    assert resolve_secrets(connector) == {"password": SECRET, "private_key": SECRET + "-file"}
    monkeypatch.setenv("SF_PASSWORD", SECRET + "-rotated")  # read again at each use
    assert resolve_secrets(connector)["password"] == SECRET + "-rotated"


def test_unresolvable_secrets_name_the_reference_only(ws: Workspace, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SF_PASSWORD", raising=False)
    add_connector(ws, _snowflake())
    with pytest.raises(ConfigError) as err:
        resolve_secrets(get_connector(ws, "wh"))
    assert str(err.value) == ("The secret 'password' of connector 'wh' refers to env:SF_PASSWORD, "
                              "which is not set (or empty) in this environment: set SF_PASSWORD "
                              "where relpredict runs, or change the reference.")
    missing = tmp_path / "nope.p8"
    add_connector(ws, _snowflake(private_key=f"file:{missing}"), replace=True)
    with pytest.raises(ConfigError, match=f"refers to file:{missing}, which cannot be read"):
        resolve_secrets(get_connector(ws, "wh"))


def _db_text(ws: Workspace) -> str:
    con = sqlite3.connect(ws.db_path)
    try:
        return "\n".join(str(row) for table in ("connectors",)
                         for row in con.execute(f"SELECT * FROM {table}"))
    finally:
        con.close()


def test_cli_add_list_remove_and_no_secret_in_the_database(ws: Workspace,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SF_PASSWORD", SECRET)
    monkeypatch.setenv("COLUMNS", "200")
    runner = CliRunner()
    home = ["--home", str(ws.home)]
    out = runner.invoke(app, ["connector", "add", "wh", "--kind", "snowflake", "--set", "account=acme",
                              "--set", "user=etl", "--secret", "password=env:SF_PASSWORD", *home],
                        catch_exceptions=False)
    assert out.exit_code == 0, out.output
    assert "Added snowflake connector wh" in out.output
    listed = runner.invoke(app, ["connector", "list", *home], catch_exceptions=False).output
    assert "account=acme" in listed and "password=env:SF_PASSWORD" in listed
    bad = runner.invoke(app, ["connector", "add", "x", "--kind", "snowflake", "--set", "account=a",
                              "--set", "user=u", "--secret", f"password={SECRET}", *home])
    assert bad.exit_code != 0 and SECRET not in (bad.output + str(bad.exception))
    assert "env:SF_PASSWORD" in _db_text(ws) and SECRET not in ws.db_path.read_bytes().decode("latin-1")
    assert runner.invoke(app, ["connector", "remove", "wh", *home]).exit_code == 0
    assert get_connector.__name__ and list_connectors(ws) == []
