"""When a job ends: its timeout, its webhook and its ``--on-finish`` command.

* **Timeout** (``--timeout``): a :class:`Watchdog` thread asks the job to cancel when its run has
  lasted that long; the runner then stops its workers between shards as for any cancel, and the
  job ends ``cancelled`` with the error "timed out after N s" (resumable like any cancelled job).
* **Webhook** (``--webhook URL`` or ``env:VAR``): one JSON POST per finished run (:func:`body`:
  job id, workflow, model, status, error, outputs with rows and files, entity count, drift flags,
  backtest). Retried with exponential backoff on a connection error or a 5xx answer. Never the
  job's settings, so neither the webhook URL nor a connector's secret is in it.
* **Command** (``--on-finish "..."``): run through the shell with ``RELPREDICT_JOB_ID``,
  ``RELPREDICT_JOB_STATUS`` and ``RELPREDICT_JOB_NOTICE`` (a JSON file holding the webhook's body).

Both run in a background thread after the job's final status is recorded, so a slow or broken
receiver never holds a job up or changes its outcome; what happened goes to the job folder's
``notify.log`` (the URL's host only, never its path or query).
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlsplit

from relpredict.jobs import store
from relpredict.jobs.prepare import job_dir
from relpredict.jobs.status import JobStatus
from relpredict.workspace import Workspace

RETRIES = 4
BACKOFF_SECONDS = 0.5  # then 1, 2, 4
POST_TIMEOUT_SECONDS = 10.0
COMMAND_TIMEOUT_SECONDS = 600.0

__all__ = ["Watchdog", "body", "job_ended", "post_json"]


class Watchdog:
    """Requests a cancel of ``job_id`` after ``seconds`` (nothing when ``seconds`` is None)."""

    def __init__(self, ws: Workspace, job_id: str, seconds: float | None) -> None:
        self.ws, self.job_id, self.seconds = ws, job_id, seconds
        self.fired = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @classmethod
    def start(cls, ws: Workspace, job_id: str, seconds: float | None) -> Watchdog:
        dog = cls(ws, job_id, seconds)
        if seconds is not None:
            dog._thread = threading.Thread(target=dog._run, name=f"relpredict-timeout-{job_id}", daemon=True)
            dog._thread.start()
        return dog

    def _run(self) -> None:
        if not self._stop.wait(self.seconds) and self.seconds is not None:
            self.fired = True
            store.update_job(self.ws, self.job_id, cancel_requested=True)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)


def job_ended(ws: Workspace, job_id: str, watchdog: Watchdog | None = None) -> threading.Thread | None:
    """After a run: the timeout's message on a job it cancelled, then the notifications (in a
    background thread, returned; None when the job has none)."""
    if watchdog is not None:
        watchdog.stop()
    rec = store.get_job(ws, job_id)
    if watchdog is not None and watchdog.fired and rec.status is JobStatus.CANCELLED:
        rec = store.update_job(ws, job_id, error=f"Timed out after {watchdog.seconds:g} s (--timeout); "
                               f"finished shards are kept: `relpredict job resume {job_id}` runs the rest.")
    if not rec.settings.webhook and not rec.settings.on_finish:
        return None
    thread = threading.Thread(target=_notify, args=(ws, rec), name=f"relpredict-notify-{job_id}")
    thread.start()
    return thread


def body(rec: store.JobRecord) -> dict[str, Any]:
    """The webhook's JSON body: what the job did, nothing of its settings (so no secret)."""
    summary = rec.summary or {}
    drift = summary.get("drift") or {}
    outputs = {name: {"rows": out.get("rows"), "files": [f.get("path") for f in out.get("files", [])]}
               for name, out in (summary.get("outputs") or {}).items()}
    return {"job_id": rec.id, "workflow": rec.workflow, "model": rec.model_ref, "status": rec.status.value,
            "error": rec.error, "entities": summary.get("entities", rec.entities_total),
            "outputs": outputs, "drift": {"available": drift.get("available", False),
                                          "flags": drift.get("flags", {}), "max_psi": drift.get("max_psi")},
            "backtest": summary.get("backtest"), "ended_at": rec.ended_at}


def _notify(ws: Workspace, rec: store.JobRecord) -> None:
    log = job_dir(ws, rec.id) / "notify.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    data = body(rec)

    def note(line: str) -> None:
        with log.open("a") as f:
            f.write(f"{store.now_iso()} {line}\n")

    if rec.settings.webhook:
        url = _resolve(rec.settings.webhook)
        if url is None:
            note(f"webhook: the environment variable {rec.settings.webhook[4:]} is not set; nothing sent")
        else:
            note(f"webhook to {urlsplit(url).hostname}: {post_json(url, data)}")
    if rec.settings.on_finish:
        note(f"on-finish command: {_run_command(rec, data, log.with_name('notice.json'))}")


def _resolve(webhook: str) -> str | None:
    return os.environ.get(webhook[4:]) if webhook.startswith("env:") else webhook


def post_json(url: str, data: dict[str, Any], retries: int = RETRIES,
              backoff: float = BACKOFF_SECONDS) -> str:
    """POST ``data``; retry a connection error or a 5xx with backoff. Returns what happened."""
    payload = json.dumps(data, default=str).encode()
    outcome = "not sent"
    for attempt in range(retries + 1):
        request = urllib.request.Request(url, payload, method="POST",
                                         headers={"Content-Type": "application/json",
                                                  "User-Agent": "relpredict"})
        try:
            with urllib.request.urlopen(request, timeout=POST_TIMEOUT_SECONDS) as answer:  # noqa: S310 (http(s) checked in settings)
                return f"HTTP {answer.status} after {attempt + 1} attempt(s)"
        except urllib.error.HTTPError as err:
            outcome = f"HTTP {err.code}"
            if err.code < 500:
                return f"{outcome} (not retried)"
        except (urllib.error.URLError, OSError) as err:
            outcome = f"{type(err).__name__}"
        if attempt < retries:
            time.sleep(backoff * 2 ** attempt)
    return f"{outcome} after {retries + 1} attempts; gave up"


def _run_command(rec: store.JobRecord, data: dict[str, Any], notice: Any) -> str:
    notice.write_text(json.dumps(data, indent=1, default=str))
    env = {**os.environ, "RELPREDICT_JOB_ID": rec.id, "RELPREDICT_JOB_STATUS": rec.status.value,
           "RELPREDICT_JOB_NOTICE": str(notice)}
    try:
        done = subprocess.run(rec.settings.on_finish or "", shell=True, env=env,  # noqa: S602 (the user's own command)
                              timeout=COMMAND_TIMEOUT_SECONDS, capture_output=True)
    except subprocess.TimeoutExpired:
        return f"still running after {COMMAND_TIMEOUT_SECONDS:g} s; stopped"
    return f"exit status {done.returncode}"
