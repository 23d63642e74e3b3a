"""The server safe by default: Host and Origin checks, security headers, output roots, tokens."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from relpredict.api import create_app
from relpredict.api.auth import local_path
from relpredict.api.guard import CSP
from relpredict.cli.serve_cmd import check_bind, served_hosts
from relpredict.errors import ConfigError
from relpredict.jobs import store as job_store
from tests.api.conftest import BASE
from tests.conftest import Store

APRIL = "2024-04-15"
JOB = "j20990101000000abcdef"


def _jobs(store: Store) -> int:
    return len(job_store.list_jobs(store.ws))


# ----------------------------------------------------------------------------------- Host
@pytest.mark.parametrize("host", ["evil.example", "attacker.example:8000", "127.0.0.1.nip.io",
                                  "testserver", "192.168.1.5"])
def test_a_foreign_host_is_refused(store: Store, host: str) -> None:
    client = TestClient(create_app(store.ws), base_url=BASE)
    answer = client.get("/api/health", headers={"Host": host})
    assert answer.status_code == 421
    assert host in answer.json()["detail"] and "--allow-host" in answer.json()["detail"]
    page = client.get("/workflows", headers={"Host": host})
    assert page.status_code == 421 and "does not answer to the name" in page.text


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.1:8000", "localhost:9", "LOCALHOST", "[::1]:80"])
def test_loopback_names_are_served(store: Store, host: str) -> None:
    client = TestClient(create_app(store.ws), base_url=BASE)
    assert client.get("/api/health", headers={"Host": host}).status_code == 200


def test_the_host_given_and_allowed_names_are_served(store: Store) -> None:
    client = TestClient(create_app(store.ws, hosts=["10.1.2.3", "box.lan"]), base_url=BASE)
    assert client.get("/api/health", headers={"Host": "10.1.2.3:8000"}).status_code == 200
    assert client.get("/api/health", headers={"Host": "box.lan"}).status_code == 200
    assert client.get("/api/health", headers={"Host": "other.lan"}).status_code == 421


def test_served_hosts_of_a_wildcard_bind_are_this_machines() -> None:
    names = served_hosts("0.0.0.0", ["box.lan"])
    assert "box.lan" in names and "127.0.0.1" in names and "0.0.0.0" not in names
    assert served_hosts("192.168.1.5", []) == ["192.168.1.5"]


# ----------------------------------------------------------------------------------- Origin
def test_a_cross_site_text_plain_post_to_cancel_is_refused(client: TestClient, store: Store) -> None:
    # What a hostile page can send without a preflight: a text/plain form post, no Origin known.
    for headers in ({"Content-Type": "text/plain"}, {}, {"Content-Type": "application/x-www-form-urlencoded"},
                    {"Content-Type": "multipart/form-data; boundary=x"}):
        answer = client.post(f"/api/jobs/{JOB}/cancel", content=b"x=1", headers=headers)
        assert answer.status_code == 403, headers
        assert "Content-Type: application/json" in answer.json()["detail"]
    answer = client.post(f"/api/jobs/{JOB}/cancel", content=b"x",
                         headers={"Content-Type": "text/plain", "Origin": "http://evil.example"}, timeout=30)
    assert answer.status_code == 403 and "http://evil.example" in answer.json()["detail"]
    answer = client.post(f"/api/jobs/{JOB}/resume",
                         headers={"Referer": "http://evil.example/page", "Content-Type": "text/plain"})
    assert answer.status_code == 403 and "evil.example/page" in answer.json()["detail"]


@pytest.mark.parametrize("origin", ["http://evil.example", "null", "http://127.0.0.1:9999",
                                    "http://localhost:8000", "file://", "http://127.0.0.1:8000.evil.example"])
def test_a_foreign_origin_is_refused_even_with_json(client: TestClient, store: Store, origin: str) -> None:
    store.workflow("binary", "wf")
    body = {"anchor_time": APRIL, "destination": {"path": str(store.out / "p.parquet")}}
    for url in ("/api/workflows/wf/jobs", "/api/workflows/wf/check", f"/api/jobs/{JOB}/cancel"):
        answer = client.post(url, json=body, headers={"Origin": origin})
        assert answer.status_code == 403, (url, origin)
        assert "not from this server" in answer.json()["detail"]
    assert _jobs(store) == 0


def test_same_origin_and_scripts_are_accepted(client: TestClient) -> None:
    own = {"Origin": BASE}
    assert client.post(f"/api/jobs/{JOB}/cancel", headers=own).status_code == 404  # passed the guard
    assert client.post(f"/api/jobs/{JOB}/cancel", headers={"Referer": f"{BASE}/jobs/x"}).status_code == 404
    assert client.post(f"/api/jobs/{JOB}/cancel", json={}).status_code == 404
    assert client.post(f"/api/jobs/{JOB}/cancel", headers={"Authorization": "Bearer x"}).status_code == 404
    assert client.get("/api/jobs", headers={"Origin": "http://evil.example"}).status_code == 200  # reads


def test_every_response_has_the_security_headers(client: TestClient) -> None:
    for url in ("/api/health", "/workflows", "/static/app.css", "/api/jobs/nope", "/nope"):
        answer = client.get(url)
        assert answer.headers["x-frame-options"] == "DENY", url
        assert answer.headers["content-security-policy"] == CSP, url
        assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
        assert answer.headers["x-content-type-options"] == "nosniff"
    refused = client.get("/api/health", headers={"Host": "evil.example"})
    assert refused.headers["x-frame-options"] == "DENY"
    assert "cdn.jsdelivr.net" in client.get("/docs").headers["content-security-policy"]


# ----------------------------------------------------------------------------------- output roots
@pytest.mark.parametrize("where", ["/etc/cron.d/x.csv", "{out}/../../x.csv", "{tmp}/../elsewhere/p.parquet",
                                   "/tmp/{{PARTITION}}.parquet", "{link}/p.parquet"])
def test_a_job_through_the_api_cannot_write_outside_the_roots(client: TestClient, store: Store,
                                                              tmp_path: Path, where: str) -> None:
    store.workflow("binary", "wf")
    outside = tmp_path.parent / f"outside-{tmp_path.name}"
    outside.mkdir()
    os.symlink(outside, tmp_path / "link")  # a symlink inside the root pointing out of it
    path = (where.replace("{out}", str(store.out)).replace("{tmp}", str(tmp_path))
            .replace("{link}", str(tmp_path / "link")))
    body = {"anchor_time": APRIL, "destination": {"path": path}}
    for url in ("/api/workflows/wf/check", "/api/workflows/wf/jobs"):
        answer = client.post(url, json=body)
        assert answer.status_code == 422, (url, answer.text)
        message = answer.json()["errors"]["destination"]
        assert "outside the folders this server may write to" in message and "--output-root" in message
    assert _jobs(store) == 0
    assert list(outside.iterdir()) == []


def test_inside_the_roots_and_the_default_are_accepted(client: TestClient, store: Store) -> None:
    store.workflow("binary", "wf")
    for path in (str(store.out / "sub" / "p.parquet"), str(store.out / "{{PARTITION}}.parquet"), None):
        answer = client.post("/api/workflows/wf/check", json={"anchor_time": APRIL,
                                                              "destination": {"path": path}})
        assert answer.status_code == 200, (path, answer.text)


def test_default_roots_are_the_workspace_outputs_and_the_current_folder(store: Store) -> None:
    app = create_app(store.ws)
    assert app.state.output_roots == [(store.ws.home / "outputs").resolve(), Path.cwd().resolve()]


# ----------------------------------------------------------------------------------- tokens, redirects
def test_short_tokens_are_refused_off_loopback() -> None:
    with pytest.raises(ConfigError, match="at least 16"):
        check_bind("0.0.0.0", "short-token")
    check_bind("0.0.0.0", "x" * 16)
    check_bind("127.0.0.1", "short")  # loopback: any token


@pytest.mark.parametrize(("path", "target"), [("/workflows", "/workflows"), ("//evil.example", "/"),
                                              ("/\\evil.example", "/"), ("/a\\b", "/")])
def test_local_path_keeps_to_this_server(path: str, target: str) -> None:
    assert local_path(path) == target


def test_token_login_redirects_only_to_this_server(store: Store) -> None:
    token = "tok-4f9c2b7e1d0a-long"
    client = TestClient(create_app(store.ws, token=token), base_url=BASE, follow_redirects=False)
    answer = client.get(f"{BASE}//evil.example/x?token={token}")
    assert answer.status_code == 303
    location = answer.headers["location"]
    assert location.startswith("/") and not location.startswith("//")


def test_an_unforeseen_failure_is_a_json_500_not_a_bare_one(store: Store) -> None:
    app = create_app(store.ws)

    @app.get("/api/boom")
    def boom() -> None:  # a route that fails in a way no check foresaw
        raise RuntimeError("internal detail")

    answer = TestClient(app, base_url=BASE, raise_server_exceptions=False).get("/api/boom")
    assert answer.status_code == 500
    assert "failed unexpectedly (RuntimeError)" in answer.json()["detail"]
    assert "Traceback" not in answer.text


@pytest.mark.slow
def test_a_real_server_refuses_foreign_hosts_and_cross_site_posts(tmp_path: Path) -> None:
    import socket
    import subprocess
    import sys
    import time

    import httpx

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    from relpredict.jobs import RawSettings
    from relpredict.jobs import store as records
    from relpredict.jobs.schedules import create_schedule
    from relpredict.workspace import Workspace

    ws = Workspace.open(tmp_path / "ws")  # a schedule the server's output roots will refuse
    records.create_workflow(ws, "wf", "m")
    elsewhere = tmp_path.parent / f"{tmp_path.name}-elsewhere" / "out.parquet"
    create_schedule(ws, "wf", "0 6 * * 1", RawSettings(output=str(elsewhere)))
    relpredict = str(Path(sys.executable).with_name("relpredict"))
    log = tmp_path / "serve.log"
    with open(log, "wb") as sink:
        server = subprocess.Popen([relpredict, "serve", "--port", str(port), "--home", str(tmp_path / "ws")],
                                  cwd=tmp_path, stdout=sink, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/api/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.2)
        assert httpx.get(f"{url}/api/health", headers={"Host": "rebind.example"}, timeout=30).status_code == 421
        cancel = httpx.post(f"{url}/api/jobs/{JOB}/cancel", content=b"x",
                            headers={"Content-Type": "text/plain", "Origin": "http://evil.example"}, timeout=30)
        assert cancel.status_code == 403
        assert httpx.post(f"{url}/api/jobs/{JOB}/cancel", json={}, timeout=30).status_code == 404  # a script
        assert httpx.get(f"{url}/workflows", timeout=30).headers["x-frame-options"] == "DENY"
    finally:
        server.terminate()
        server.wait(10)
    said = log.read_text()
    assert "Warning: Schedule 1 (workflow wf, '0 6 * * 1') will fail at every run: The destination" in said, said
    assert str(elsewhere) in said and "--output-root" in said
