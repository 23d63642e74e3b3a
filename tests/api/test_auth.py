"""The access token: every API call and page needs it once the server has one; binding rules."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from relpredict.api import create_app
from relpredict.api.auth import COOKIE
from relpredict.cli.serve_cmd import check_bind, is_loopback
from relpredict.errors import ConfigError
from tests.api.conftest import BASE
from tests.conftest import Store

TOKEN = "tok-4f9c2b7e1d0a"
GUARDED = ["/api/health", "/api/models", "/api/workflows", "/api/jobs", "/api/connectors",
           "/api/jobs/x/sample", "/workflows", "/models", "/", "/static/app.css", "/docs",
           "/openapi.json"]


@pytest.fixture()
def guarded(store: Store) -> TestClient:
    return TestClient(create_app(store.ws, token=TOKEN), follow_redirects=False, base_url=BASE)


@pytest.mark.parametrize("path", GUARDED)
def test_no_token_is_401(guarded: TestClient, path: str) -> None:
    answer = guarded.get(path)
    assert answer.status_code == 401
    assert "access token" in answer.text


def test_wrong_token_is_401_everywhere(guarded: TestClient) -> None:
    bad = {"Authorization": "Bearer nope"}
    assert guarded.get("/api/models", headers=bad).status_code == 401
    assert guarded.get("/api/models", headers={"Authorization": TOKEN}).status_code == 401  # no scheme
    assert guarded.post("/api/workflows", json={"name": "x", "model": "y"}).status_code == 401
    assert guarded.get("/workflows?token=nope").status_code == 401
    guarded.cookies.set(COOKIE, "nope")
    assert guarded.get("/workflows").status_code == 401


def test_bearer_header_opens_the_api(guarded: TestClient) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    assert guarded.get("/api/health", headers=headers).json() == {"status": "ok"}
    assert guarded.get("/api/models", headers=headers).json() == []
    assert guarded.get("/api/jobs/nope/sample", headers=headers).status_code == 404


def test_token_in_the_url_sets_a_cookie_and_leaves_the_url(guarded: TestClient) -> None:
    answer = guarded.get(f"/workflows?token={TOKEN}&x=1")
    assert answer.status_code == 303 and answer.headers["location"] == "/workflows?x=1"
    cookie = answer.headers["set-cookie"]
    assert f"{COOKIE}={TOKEN}" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert guarded.get("/workflows").status_code == 200  # the client keeps the cookie
    assert guarded.get("/api/workflows").status_code == 200
    assert TOKEN not in guarded.get("/workflows").text


def test_no_token_no_guard(store: Store) -> None:
    assert TestClient(create_app(store.ws), base_url=BASE).get("/api/health").status_code == 200


def test_loopback_and_bind_rules() -> None:
    for host in ("127.0.0.1", "127.0.0.2", "::1", "localhost", "[::1]"):
        assert is_loopback(host), host
        check_bind(host, None)
    for host in ("0.0.0.0", "::", "192.168.1.5", "example.org"):
        assert not is_loopback(host), host
        with pytest.raises(ConfigError, match="access token"):
            check_bind(host, None)
        with pytest.raises(ConfigError):
            check_bind(host, "  ")
        check_bind(host, TOKEN)


def test_serve_refuses_a_public_address_without_a_token(tmp_path: Path) -> None:
    relpredict = str(Path(sys.executable).with_name("relpredict"))
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    done = subprocess.run([relpredict, "serve", "--host", "0.0.0.0", "--home", str(tmp_path / "ws")],
                          capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 1
    assert "Serving on 0.0.0.0 makes relpredict reachable from other machines" in done.stderr
