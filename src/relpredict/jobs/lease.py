"""One job at a time per destination: the lease a job holds on what it writes.

A job's lease is its record: from setup (the record is created) until it ends, a job holds every
place it writes (each output file, part folder or table, and its manifest). Another job of the
same workspace that would write any of them is refused at setup, and so is a resume while another
job holds them. A lease expires by itself when its holder cannot write any more: the job finished
(succeeded, failed, cancelled), its runner process is dead, or it was queued more than
:data:`QUEUED_GRACE_SECONDS` ago and no runner ever took it.

Taking a lease (checking every live job, then recording the new one) happens under an exclusive
lock file in the workspace, so two setups at the same moment cannot both win. Jobs of *other*
workspaces are not seen.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import psutil

from relpredict.errors import ConflictError
from relpredict.jobs import store
from relpredict.jobs.settings import JobSettings
from relpredict.jobs.status import IN_PROGRESS, JobStatus
from relpredict.sinks.naming import Destination, TableDestination, job_destinations
from relpredict.workspace import Workspace

__all__ = ["QUEUED_GRACE_SECONDS", "check_free", "dead_runner_error", "destination_keys", "lease_lock",
           "live", "runner_alive", "settle"]

QUEUED_GRACE_SECONDS = 30.0


def destination_keys(settings: JobSettings) -> set[str]:
    """Every place a job of ``settings`` writes, as comparable strings (local paths resolved)."""
    keys: set[str] = set()
    base = settings.destination
    for dest in job_destinations(base, settings.output_types).values():
        if isinstance(dest, TableDestination):
            keys.add(dest.url)
        elif isinstance(dest, Destination):
            keys.add(_place(dest.folder if dest.partitioned else dest.path, dest))
    if isinstance(base, Destination):
        keys.add(_place(base.manifest_path(), base))
    return keys


def _place(path: str, dest: Destination) -> str:
    return path if dest.scheme == "s3" else str(Path(path).resolve())


def runner_alive(rec: store.JobRecord) -> bool:
    """Whether the process recorded as the job's runner still runs (and is the same process)."""
    if rec.runner_pid is None:
        return False
    try:
        proc = psutil.Process(rec.runner_pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        return rec.runner_started is None or abs(proc.create_time() - rec.runner_started) < 1.0
    except psutil.Error:
        return False


def dead_runner_error(rec: store.JobRecord) -> str:
    return (f"The job's runner process (pid {rec.runner_pid}) is gone: it was killed, or its machine "
            f"stopped, while the job was {rec.status.value}. Finished shards are kept: run "
            f"`relpredict job resume {rec.id}` to run the rest.")


def settle(ws: Workspace, rec: store.JobRecord) -> store.JobRecord:
    """``rec`` as it really is: a queued or running job whose runner died is failed (resumable),
    recorded as soon as anyone looks, so no view shows it running with an ETA forever."""
    if rec.status not in IN_PROGRESS or rec.runner_pid is None or runner_alive(rec):
        return rec
    return store.fail_dead_run(ws, rec, dead_runner_error(rec))


def live(rec: store.JobRecord) -> bool:
    """Whether a process works on the job, or (queued, no runner yet) is about to."""
    if rec.status not in IN_PROGRESS:
        return False
    if rec.runner_pid is not None:
        return runner_alive(rec)
    since = store.parse_iso(rec.stage_started_at) or store.parse_iso(rec.created_at)
    age = (datetime.now(UTC).replace(tzinfo=None) - since).total_seconds() if since else 0.0
    return rec.status is JobStatus.QUEUED and age < QUEUED_GRACE_SECONDS


def check_free(ws: Workspace, settings: JobSettings, exclude: str | None = None) -> None:
    """Raise a :class:`ConflictError` when a live job other than ``exclude`` writes the same place."""
    mine = destination_keys(settings)
    for rec in store.list_jobs(ws):
        if rec.id == exclude or rec.status not in IN_PROGRESS:
            continue
        shared = mine & destination_keys(rec.settings)
        if shared and live(rec):
            place = min(shared, key=lambda k: (k.endswith(".manifest.json"), k))
            raise ConflictError(
                f"Job {rec.id} ({rec.status.value}) is writing {place}: two jobs writing one "
                f"destination at once would mix or double their rows. Wait for it to end "
                f"(`relpredict job watch {rec.id}`), cancel it (`relpredict job cancel {rec.id}`), "
                "or choose another output.")


@contextmanager
def lease_lock(ws: Workspace) -> Iterator[None]:
    """Hold the workspace's lease lock (exclusive, released when the block ends)."""
    path = ws.home / "leases.lock"
    with open(path, "a+") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
