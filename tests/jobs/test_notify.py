"""A job's notifications and limits: one webhook POST per job to a local HTTP server on
127.0.0.1 (its body names the job and never the webhook URL), the --on-finish command with the
job's id and status, and a --timeout that cancels a job cleanly with its reason (slow: jobs
with worker processes)."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from relpredict.jobs import JobStatus
from relpredict.jobs.notify import post_json
from tests.conftest import Store

pytestmark = pytest.mark.slow  # jobs with worker processes, an HTTP server


class _Receiver(BaseHTTPRequestHandler):
    posts: list[dict] = []
    fail_first = 0

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        data = self.rfile.read(int(self.headers["Content-Length"]))
        if _Receiver.fail_first > 0:
            _Receiver.fail_first -= 1
            self.send_response(503)
            self.end_headers()
            return
        _Receiver.posts.append(json.loads(data))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture()
def receiver() -> object:
    _Receiver.posts, _Receiver.fail_first = [], 0
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _wait_for(check: object, seconds: float = 15.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not check():
        time.sleep(0.05)


def test_the_webhook_receives_exactly_one_post_per_job(store: Store, receiver: object) -> None:
    url = f"http://127.0.0.1:{receiver.server_port}/hook/s3cr3t-path"
    wf = store.workflow("binary")
    jobs = [wf.run(output=str(store.out / f"p{i}.parquet"), webhook=url, workers=2, shard_size=20)
            for i in range(2)]
    _wait_for(lambda: len(_Receiver.posts) >= 2)
    time.sleep(1.0)  # nothing more arrives
    assert sorted(p["job_id"] for p in _Receiver.posts) == sorted(j.id for j in jobs)
    for post in _Receiver.posts:
        assert post["status"] == "succeeded" and post["entities"] == 60
        assert post["outputs"]["predictions"]["rows"] == 60
        assert set(post["drift"]) == {"available", "flags", "max_psi"}
        assert "s3cr3t" not in json.dumps(post)  # the URL (a secret) is never in the body


def test_a_failing_receiver_is_retried_with_backoff(receiver: object) -> None:
    _Receiver.fail_first = 2
    outcome = post_json(f"http://127.0.0.1:{receiver.server_port}/", {"job_id": "j1"}, backoff=0.01)
    assert outcome == "HTTP 204 after 3 attempt(s)"
    assert _Receiver.posts == [{"job_id": "j1"}]


def test_on_finish_runs_the_command_with_the_job_id_and_status(store: Store, tmp_path: Path) -> None:
    marker = tmp_path / "finished.txt"
    wf = store.workflow("binary")
    job = wf.run(output=str(store.out / "p.parquet"),
                 on_finish=f'echo "$RELPREDICT_JOB_ID $RELPREDICT_JOB_STATUS" > {marker}')
    _wait_for(marker.is_file)
    _wait_for(lambda: marker.read_text().strip() != "")
    assert marker.read_text().split() == [job.id, "succeeded"]


def test_a_timeout_cancels_the_job_cleanly(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RELPREDICT_FIXTURE_DELAY", "1.0")
    wf = store.workflow("binary")
    started = time.monotonic()
    job = wf.run(output=str(store.out / "p.parquet"), timeout_seconds=2.0, shard_size=5)
    assert time.monotonic() - started < 15  # twelve 1-second shards would take longer
    rec = job.record()
    assert rec.status is JobStatus.CANCELLED
    assert rec.error.startswith("Timed out after 2 s (--timeout)")
    assert not (store.out / "p.parquet").exists()  # nothing published
