"""Network calls to S3, Snowflake and BigQuery: timeouts, bounded retries with backoff, job events.

Every call a sink (or ``connector test``) makes over the network has a connect timeout and a read
timeout, and a transient failure (throttling, a 5xx answer, a reset or refused connection, a
timeout) is retried a bounded number of times with exponential backoff. Each retry is reported
as an event of the job (``events.jsonl`` in the job's workspace folder, shown by ``job status``
and ``GET /api/jobs/ID``), so a slow destination is visible while the job waits on it. When the
retries run out the caller's error says the server did not answer, and where.

The numbers are :class:`NetPolicy`; ``RELPREDICT_CONNECT_TIMEOUT``, ``RELPREDICT_READ_TIMEOUT``
and ``RELPREDICT_NET_ATTEMPTS`` override them (seconds, seconds, attempts in all).
``connector test`` uses the shorter :data:`PROBE` policy: it answers within seconds.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeVar

from relpredict.sinks.base import SinkSpec

__all__ = ["DEFAULT", "PROBE", "JobEvents", "NetPolicy", "policy", "read_events", "with_retries"]

log = logging.getLogger(__name__)
T = TypeVar("T")
EVENTS_FILE = "events.jsonl"


@dataclass(frozen=True)
class NetPolicy:
    """Timeouts (seconds) and retries of one kind of network call."""

    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    attempts: int = 5  # in all, the first one included
    first_delay: float = 0.5  # before the first retry; doubled each time
    max_delay: float = 8.0

    def delay(self, retry: int) -> float:
        """Seconds to wait before retry number ``retry`` (1, 2, ...)."""
        return min(self.max_delay, self.first_delay * 2.0 ** (retry - 1))

    @property
    def budget(self) -> float:
        """The longest a call can take, every attempt timing out: the bound on a dead server."""
        waits = sum(self.delay(r) for r in range(1, self.attempts))
        return self.attempts * (self.connect_timeout + self.read_timeout) + waits

    def from_env(self) -> NetPolicy:
        """This policy with the ``RELPREDICT_*`` overrides of the environment applied."""
        changes: dict[str, Any] = {}
        for name, field, kind in (("RELPREDICT_CONNECT_TIMEOUT", "connect_timeout", float),
                                  ("RELPREDICT_READ_TIMEOUT", "read_timeout", float),
                                  ("RELPREDICT_NET_ATTEMPTS", "attempts", int)):
            value = os.environ.get(name)
            if value:
                try:
                    changes[field] = max(kind(value), kind(1) if kind is int else 0.1)
                except ValueError:
                    log.warning("ignoring %s=%r: not a number", name, value)
        return replace(self, **changes)


DEFAULT = NetPolicy()
PROBE = NetPolicy(connect_timeout=5.0, read_timeout=5.0, attempts=2)


def policy(probe: bool = False) -> NetPolicy:
    """The policy for a job's calls (``probe``: for ``connector test``), with the overrides."""
    return (PROBE if probe else DEFAULT).from_env()


class JobEvents:
    """The event log of one job: JSON lines appended by any of its processes.

    An event is a report, not work: failing to write one never fails the job.
    """

    def __init__(self, path: Path | None) -> None:
        self.path = path

    @classmethod
    def of(cls, spec: SinkSpec | None) -> JobEvents:
        if spec is None or spec.workspace_home is None:
            return cls(None)
        return cls(Path(spec.workspace_home) / "artifacts" / "jobs" / spec.job_id / EVENTS_FILE)

    def add(self, kind: str, message: str) -> None:
        log.warning("%s: %s", kind, message)
        if self.path is None:
            return
        line = json.dumps({"at": _now(), "kind": kind, "pid": os.getpid(), "message": message})
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "a", encoding="utf-8") as fh:  # one short append per event
                fh.write(line + "\n")
        except OSError as err:
            log.warning("cannot record the event in %s: %s", self.path, err)


def _now() -> str:
    from datetime import UTC, datetime

    return datetime.now(UTC).replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


def read_events(job_folder: Path, limit: int = 50) -> list[dict[str, Any]]:
    """The last ``limit`` events of the job whose workspace folder is ``job_folder``."""
    path = job_folder / EVENTS_FILE
    if not path.is_file():
        return []
    events = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines()[-limit:]:
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # a line cut by a kill
    return events


def with_retries(what: str, call: Callable[[], T], transient: Callable[[BaseException], bool],
                 events: JobEvents | None = None, policy: NetPolicy = DEFAULT,
                 describe: Callable[[BaseException], str] | None = None) -> T:
    """``call()``, retried on a ``transient`` failure up to ``policy.attempts`` in all.

    ``what`` names the call in the events (``S3 PUT of s3://b/k``); ``describe`` turns an error
    into text for them (it must leave out any secret). The last failure is raised as it is.
    """
    for attempt in range(1, policy.attempts + 1):
        try:
            return call()
        except Exception as err:
            if attempt >= policy.attempts or not transient(err):
                raise
            delay = policy.delay(attempt)
            text = describe(err) if describe else f"{type(err).__name__}: {err}"
            (events or JobEvents(None)).add(
                "retry", f"{what} failed ({text}); retry {attempt} of {policy.attempts - 1} in "
                         f"{delay:g} s")
            time.sleep(delay)
    raise AssertionError("unreachable")  # the loop returns or raises
