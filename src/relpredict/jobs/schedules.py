"""Schedules: jobs of a workflow started at the minutes of a cron expression (UTC).

A schedule is a row of the workspace's ``schedules`` table: the workflow, the cron expression
(:mod:`relpredict.jobs.cron`), the job settings as given (checked when the schedule is made; a
blank anchor time means the latest data at each run; a relative local output is stored absolute,
against the folder the schedule was made in, so a scheduler started elsewhere writes where the
user meant) and ``last_slot``, the latest minute a run
was claimed for. A :class:`Scheduler` (in ``relpredict serve``, or ``relpredict scheduler``
alone) ticks about once a minute: for each schedule whose latest due slot is after
``last_slot``, it claims that slot with one conditional ``UPDATE`` (``... WHERE last_slot = the
value read``) and starts a job only when the claim changed the row. So a slot runs at most once,
whichever scheduler or restart gets there first; slots missed while no scheduler ran collapse
into one run, of the latest of them, at the next start.

>>> from relpredict.jobs.schedules import create_schedule, Scheduler     # doctest: +SKIP
>>> create_schedule(ws, "churn-weekly", "0 6 * * 1", RawSettings(output="out/churn.parquet"))  # doctest: +SKIP
>>> Scheduler(ws, launch).run(stop)                                       # doctest: +SKIP
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from relpredict.errors import ConfigError, NotFoundError, RelpredictError
from relpredict.jobs import store
from relpredict.jobs.cron import Cron, parse_cron
from relpredict.jobs.settings import RawSettings
from relpredict.sinks.naming import Destination, parse_destination
from relpredict.workspace import Workspace

__all__ = ["Fired", "Schedule", "Scheduler", "absolute_output", "claim_slot", "create_schedule", "delete_schedule",
           "get_schedule", "list_schedules", "raw_from_json", "settings_json", "utc_now"]

log = logging.getLogger(__name__)
Launch = Callable[["Schedule"], str]  # starts the schedule's job; returns its id


def utc_now() -> datetime:
    """The current time as a naive UTC datetime (how cron minutes are compared)."""
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass(frozen=True)
class Schedule:
    """One schedule as recorded (see the ``schedules`` table)."""

    id: int
    workflow: str
    cron: str
    settings: dict[str, Any]  # fields of RawSettings as given
    created_at: str
    last_slot: str  # ISO minute: the latest slot claimed (at first: the creation minute)
    last_job: str | None
    last_error: str | None

    def parsed(self) -> Cron:
        return parse_cron(self.cron)

    def due_slot(self, now: datetime) -> datetime | None:
        """The latest slot at or before ``now`` and after ``last_slot`` (None: nothing due)."""
        slot = self.parsed().latest_at_or_before(now)
        last = datetime.fromisoformat(self.last_slot)
        return slot if slot is not None and slot > last else None

    def next_run(self, now: datetime) -> datetime | None:
        """When it runs next: a due slot runs at the next tick, else the next slot after ``now``."""
        return self.due_slot(now) or self.parsed().next_after(max(now, datetime.fromisoformat(self.last_slot)))

    def raw(self) -> RawSettings:
        return raw_from_json(self.settings)

    def to_json(self, now: datetime | None = None) -> dict[str, Any]:
        out = asdict(self)
        nxt = self.next_run(now or utc_now())
        out["next_run"] = nxt.isoformat() if nxt else None
        return out


def raw_from_json(data: dict[str, Any]) -> RawSettings:
    """RawSettings from a stored dict (fields it does not know are refused by name)."""
    known = {f.name for f in fields(RawSettings)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(f"Unknown job setting(s) {', '.join(unknown)} in a schedule: the job "
                          f"settings are {', '.join(sorted(known))}.")
    return RawSettings(**data)


def settings_json(raw: RawSettings) -> dict[str, Any]:
    """The settings that differ from the defaults (a default stays a default for later runs)."""
    default = RawSettings()
    out = {}
    for f in fields(RawSettings):
        value = _plain(getattr(raw, f.name))
        if _key(value) != _key(_plain(getattr(default, f.name))):
            out[f.name] = value
    return out


def _key(value: Any) -> Any:
    """What a default is compared by: ["a", "b"] as "a,b", an empty list or text as None."""
    if isinstance(value, list):
        value = ",".join(str(v) for v in value)
    return value if value not in ("", None) else None


def _plain(value: Any) -> Any:
    """A setting as JSON: a time as ISO text, a sequence (or "a,b" of output types) as a list."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, tuple | list):
        return list(value)
    return value


def _from_row(row: Any) -> Schedule:
    return Schedule(row["id"], row["workflow"], row["cron"], json.loads(row["settings"]),
                    row["created_at"], row["last_slot"], row["last_job"], row["last_error"])


def _minute(at: datetime) -> str:
    return at.replace(second=0, microsecond=0).isoformat()


def create_schedule(ws: Workspace, workflow: str, cron: str, raw: RawSettings,
                    now: datetime | None = None) -> Schedule:
    """Record a schedule (the settings are checked by the caller, as ``job run`` checks them);
    no slot at or before ``now`` ever runs."""
    parsed = parse_cron(cron)
    store.get_workflow(ws, workflow)
    with ws.db() as con:
        cur = con.execute("INSERT INTO schedules (workflow, cron, settings, created_at, last_slot) "
                          "VALUES (?, ?, ?, ?, ?)",
                          (workflow, parsed.text, json.dumps(settings_json(absolute_output(raw))), store.now_iso(),
                           _minute(now or utc_now())))
        new_id = int(cur.lastrowid or 0)
    return get_schedule(ws, new_id)


def absolute_output(raw: RawSettings) -> RawSettings:
    """``raw`` with a relative local output made absolute against the current folder (``~``
    expanded); other outputs, and none, unchanged."""
    if not raw.output:
        return raw
    dest = parse_destination(raw.output, raw.file_type, raw.partition_bytes, raw.connector)
    if not isinstance(dest, Destination) or dest.scheme != "local":
        return raw
    return replace(raw, output=str(Path(dest.path).expanduser().absolute()))  # as a job reads it


def get_schedule(ws: Workspace, schedule_id: int) -> Schedule:
    with ws.db() as con:
        row = con.execute("SELECT * FROM schedules WHERE id = ?", (schedule_id,)).fetchone()
    if row is None:
        raise NotFoundError(f"No schedule {schedule_id} in the workspace {ws.home}; "
                            "`relpredict workflow schedules` lists them.")
    return _from_row(row)


def list_schedules(ws: Workspace, workflow: str | None = None) -> list[Schedule]:
    sql, params = "SELECT * FROM schedules", tuple[str, ...]()
    if workflow is not None:
        store.get_workflow(ws, workflow)
        sql, params = sql + " WHERE workflow = ?", (workflow,)
    with ws.db() as con:
        rows = con.execute(sql + " ORDER BY id", params).fetchall()
    return [_from_row(r) for r in rows]


def delete_schedule(ws: Workspace, schedule_id: int) -> Schedule:
    """Remove a schedule (its jobs stay); an unknown id is a NotFoundError."""
    found = get_schedule(ws, schedule_id)
    with ws.db() as con:
        con.execute("DELETE FROM schedules WHERE id = ?", (schedule_id,))
    return found


def claim_slot(ws: Workspace, schedule: Schedule, slot: datetime) -> bool:
    """Move the schedule's ``last_slot`` from the value read to ``slot`` in one conditional
    UPDATE; True only for the one caller whose update changed the row."""
    with ws.db() as con:
        cur = con.execute("UPDATE schedules SET last_slot = ?, last_job = NULL, last_error = NULL "
                          "WHERE id = ? AND last_slot = ?", (_minute(slot), schedule.id, schedule.last_slot))
        return cur.rowcount == 1


def _record_run(ws: Workspace, schedule_id: int, job_id: str | None, error: str | None) -> None:
    with ws.db() as con:
        con.execute("UPDATE schedules SET last_job = ?, last_error = ? WHERE id = ?",
                    (job_id, error, schedule_id))


@dataclass(frozen=True)
class Fired:
    """What one tick did for a schedule: the slot it claimed and the job started (or why not)."""

    schedule_id: int
    slot: datetime
    job_id: str | None
    error: str | None


class Scheduler:
    """Starts the due jobs of every schedule of a workspace with ``launch`` (the service layer's
    starts a detached job: :func:`relpredict.service.schedules.scheduler`); ``clock`` gives naive
    UTC now."""

    def __init__(self, ws: Workspace, launch: Launch, clock: Callable[[], datetime] = utc_now) -> None:
        self.ws, self.clock, self.launch = ws, clock, launch

    def tick(self) -> list[Fired]:
        """Claim and start each schedule's latest due slot (at most one run per schedule)."""
        now, fired = self.clock(), []
        for schedule in list_schedules(self.ws):
            slot = schedule.due_slot(now)
            if slot is None or not claim_slot(self.ws, schedule, slot):
                continue
            job_id, error = None, None
            try:
                job_id = self.launch(schedule)
            except RelpredictError as err:  # bad settings now (a deleted model...): told on the row
                error = str(err)
            except Exception as err:  # anything else: told on the row too, the next slot runs
                error = f"The scheduled job could not start ({type(err).__name__}: {err})."
            _record_run(self.ws, schedule.id, job_id, error)
            log.info("schedule %s slot %s: %s", schedule.id, slot, job_id or error)
            fired.append(Fired(schedule.id, slot, job_id, error))
        return fired

    def run(self, stop: threading.Event, interval: float = 20.0) -> None:
        """Tick every ``interval`` seconds until ``stop`` is set (a slot is a minute, so a tick
        within it is enough; a tick that fails is logged and the next one tries again)."""
        while not stop.is_set():
            try:
                self.tick()
            except Exception:  # keep the server's thread alive: the next tick retries
                log.exception("scheduler tick failed")
            stop.wait(interval)

    def start_thread(self, interval: float = 20.0) -> tuple[threading.Thread, threading.Event]:
        """Run :meth:`run` in a daemon thread; set the returned event to stop it."""
        stop = threading.Event()
        thread = threading.Thread(target=self.run, args=(stop, interval), name="relpredict-scheduler",
                                  daemon=True)
        thread.start()
        return thread, stop
