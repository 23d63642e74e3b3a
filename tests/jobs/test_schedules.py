"""Schedules: the cron parser against hand-listed minutes, and the scheduler over a real workspace
database with a fake clock: it fires at the right minutes, never twice for one slot (a restart is a
new scheduler over the same workspace), and slots missed while no scheduler ran give one run."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from relpredict.errors import ConfigError
from relpredict.jobs import Job, JobStatus, RawSettings, Workflow
from relpredict.jobs import store as records
from relpredict.jobs.cron import parse_cron
from relpredict.jobs.schedules import (
    Schedule,
    Scheduler,
    claim_slot,
    create_schedule,
    delete_schedule,
    get_schedule,
    list_schedules,
    utc_now,
)
from relpredict.workspace import Workspace
from tests.conftest import Store


def _minutes(expr: str, start: datetime, count: int) -> list[datetime]:
    out, at = [], start
    cron = parse_cron(expr)
    for _ in range(count):
        nxt = cron.next_after(at)
        assert nxt is not None
        out.append(nxt)
        at = nxt
    return out


def test_cron_fires_at_the_listed_minutes() -> None:
    # 2024-03-01 is a Friday.
    assert _minutes("0 6 * * 1", datetime(2024, 3, 1, 12), 2) == [datetime(2024, 3, 4, 6), datetime(2024, 3, 11, 6)]
    assert _minutes("*/20 9-10 * * *", datetime(2024, 3, 1, 10, 30), 3) == [
        datetime(2024, 3, 1, 10, 40), datetime(2024, 3, 2, 9, 0), datetime(2024, 3, 2, 9, 20)]
    assert _minutes("30 0 1,15 feb *", datetime(2024, 1, 20), 3) == [
        datetime(2024, 2, 1, 0, 30), datetime(2024, 2, 15, 0, 30), datetime(2025, 2, 1, 0, 30)]
    assert _minutes("0 0 29 2 *", datetime(2024, 3, 1), 1) == [datetime(2028, 2, 29)]
    # day of the month OR day of the week when both are restricted; 7 is Sunday like 0
    assert _minutes("0 12 13 * 7", datetime(2024, 9, 10), 3) == [
        datetime(2024, 9, 13, 12), datetime(2024, 9, 15, 12), datetime(2024, 9, 22, 12)]
    assert parse_cron("0 6 * * mon-fri").latest_at_or_before(datetime(2024, 3, 3, 23)) == datetime(2024, 3, 1, 6)
    assert parse_cron("15 * * * *").latest_at_or_before(datetime(2024, 3, 3, 10, 15, 59)) == datetime(2024, 3, 3, 10, 15)


@pytest.mark.parametrize(("expr", "message"), [
    ("0 6 * *", "has 4 field(s); it needs 5"),
    ("60 * * * *", "The minute field of the cron expression '60 * * * *' has '60': give a number 0-59"),
    ("0 6 * * funday", "The day of the week field"),
    ("0 10-6 * * *", "The hour range '10-6' of the cron expression '0 10-6 * * *' runs backwards"),
    ("0 0 31 4 *", "never fires"),
])
def test_bad_cron_expressions_say_what_to_write(expr: str, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_cron(expr)
    assert message in str(err.value)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def _setup(tmp_path: Path) -> tuple[Workspace, Schedule, list[tuple[int, str]]]:
    ws = Workspace.open(tmp_path / "ws")
    records.create_workflow(ws, "wf", "m")
    sched = create_schedule(ws, "wf", "*/15 * * * *", RawSettings(workers=2), now=datetime(2024, 5, 6, 10, 2))
    return ws, sched, []


def _scheduler(ws: Workspace, clock: Clock, started: list[tuple[int, str]]) -> Scheduler:
    def launch(s: Schedule) -> str:
        started.append((s.id, clock.now.isoformat()))
        assert s.raw().workers == 2 and s.raw().anchor_time is None  # blank anchor: latest data
        return f"job{len(started)}"

    return Scheduler(ws, launch, clock=clock)


def test_a_schedule_fires_at_its_minutes_once_per_slot_across_restarts(tmp_path: Path) -> None:
    ws, sched, started = _setup(tmp_path)
    clock = Clock(datetime(2024, 5, 6, 10, 14, 59))
    first = _scheduler(ws, clock, started)
    assert first.tick() == []  # created 10:02: the first slot is 10:15
    assert sched.to_json(clock.now)["next_run"] == "2024-05-06T10:15:00"
    clock.now = datetime(2024, 5, 6, 10, 15, 3)
    fired = first.tick()
    assert [(f.slot, f.job_id) for f in fired] == [(datetime(2024, 5, 6, 10, 15), "job1")]
    clock.now = datetime(2024, 5, 6, 10, 15, 40)
    assert first.tick() == []  # the same slot: never twice
    restarted = _scheduler(ws, clock, started)  # a new scheduler over the same workspace
    assert restarted.tick() == []
    clock.now = datetime(2024, 5, 6, 10, 29)
    assert restarted.tick() == []
    clock.now = datetime(2024, 5, 6, 10, 30)
    assert [f.slot for f in restarted.tick()] == [datetime(2024, 5, 6, 10, 30)]
    assert started == [(sched.id, "2024-05-06T10:15:03"), (sched.id, "2024-05-06T10:30:00")]
    row = get_schedule(ws, sched.id)
    assert (row.last_slot, row.last_job, row.last_error) == ("2024-05-06T10:30:00", "job2", None)


def test_slots_missed_while_down_run_once_on_start(tmp_path: Path) -> None:
    ws, sched, started = _setup(tmp_path)
    clock = Clock(datetime(2024, 5, 6, 13, 7))  # 10:15 ... 13:00 were missed: 12 slots
    again = _scheduler(ws, clock, started)
    assert [f.slot for f in again.tick()] == [datetime(2024, 5, 6, 13, 0)]
    assert again.tick() == [] and _scheduler(ws, clock, started).tick() == []
    assert len(started) == 1
    assert get_schedule(ws, sched.id).to_json(clock.now)["next_run"] == "2024-05-06T13:15:00"


def test_a_slot_is_claimed_by_one_caller_only(tmp_path: Path) -> None:
    ws, sched, _ = _setup(tmp_path)
    slot = datetime(2024, 5, 6, 10, 15)
    assert claim_slot(ws, sched, slot) is True
    assert claim_slot(ws, sched, slot) is False  # read before the first claim: its update misses


def test_a_launch_that_fails_is_told_on_the_schedule_and_the_next_slot_runs(tmp_path: Path) -> None:
    ws, sched, _ = _setup(tmp_path)
    clock = Clock(datetime(2024, 5, 6, 10, 15))

    def refuse(s: Schedule) -> str:
        raise ConfigError("No model named 'm'.")

    assert [f.error for f in Scheduler(ws, refuse, clock=clock).tick()] == ["No model named 'm'."]
    assert get_schedule(ws, sched.id).last_error == "No model named 'm'."
    clock.now += timedelta(minutes=15)
    assert [f.job_id for f in _scheduler(ws, clock, []).tick()] == ["job1"]
    assert get_schedule(ws, sched.id).last_error is None


def test_unschedule_removes_it(tmp_path: Path) -> None:
    ws, sched, _ = _setup(tmp_path)
    delete_schedule(ws, sched.id)
    assert list_schedules(ws) == []
    with pytest.raises(ConfigError, match=f"No schedule {sched.id} in the workspace"):
        get_schedule(ws, sched.id)


@pytest.mark.slow
def test_relpredict_scheduler_starts_the_job_of_a_due_schedule(store: Store) -> None:
    """A schedule whose slots passed while no scheduler ran: `relpredict scheduler` starts one job
    at start (a real detached job of the test double), then nothing more for those slots."""
    store.workflow("binary", "churn")
    earlier = utc_now() - timedelta(hours=2)
    sched = create_schedule(store.ws, "churn", "*/5 * * * *", RawSettings(threshold=0.4), now=earlier)
    log = store.ws.home / "scheduler.log"
    with open(log, "wb") as sink:
        proc = subprocess.Popen([str(Path(sys.executable).with_name("relpredict")), "scheduler",
                                 "--home", str(store.ws.home), "--interval", "1"],
                                stdout=sink, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and get_schedule(store.ws, sched.id).last_job is None:
            time.sleep(0.2)
        job_id = get_schedule(store.ws, sched.id).last_job
        assert job_id, log.read_text()
        assert Job(job_id, store.ws).wait(timeout=60) is JobStatus.SUCCEEDED
        time.sleep(1.5)  # another tick: the claimed slot does not run again
        assert [j.id for j in Workflow.get("churn", store.ws).jobs()] == [job_id]
        assert Job(job_id, store.ws).record().settings.threshold == 0.4
    finally:
        proc.terminate()
        proc.wait(10)


def test_schedule_commands(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from relpredict.cli.main import app

    store.workflow("binary", "churn")
    monkeypatch.setenv("COLUMNS", "200")
    home = ["--home", str(store.ws.home)]
    runner = CliRunner()
    made = runner.invoke(app, ["workflow", "schedule", "churn", "--cron", "0 6 * * 1", "--threshold", "0.3", *home])
    assert made.exit_code == 0, made.output
    assert "Schedule 1: workflow churn at '0 6 * * 1' (UTC), next run" in made.output
    assert get_schedule(store.ws, 1).settings == {"threshold": 0.3}
    listed = runner.invoke(app, ["workflow", "schedules", *home]).output
    assert "0 6 * * 1" in listed and "T06:00:00" in listed
    bad = runner.invoke(app, ["workflow", "schedule", "churn", "--cron", "0 6 * * 1", "--workers", "9", *home])
    assert bad.exit_code != 0 and list_schedules(store.ws) != [] and len(list_schedules(store.ws)) == 1
    gone = runner.invoke(app, ["workflow", "unschedule", "1", *home])
    assert "Removed schedule 1 of workflow churn" in gone.output and list_schedules(store.ws) == []


def test_workflow_schedule_in_python(store: Store) -> None:
    wf = store.workflow("binary", "churn")
    made = wf.schedule("30 5 1 * *", workers=2)
    assert [s.id for s in wf.schedules()] == [made.id] and made.settings == {"workers": 2}
    with pytest.raises(ConfigError, match="The number of parallel workers must be 1 to 4"):
        wf.schedule("30 5 1 * *", workers=7)
    with pytest.raises(ConfigError, match="never fires"):
        wf.schedule("0 0 30 2 *")


def test_a_relative_output_is_kept_absolute_against_the_folder_the_schedule_was_made_in(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A scheduler started in another folder writes where the user meant; URLs stay as given."""
    ws = Workspace.open(tmp_path / "ws")
    records.create_workflow(ws, "wf", "m")
    made_in = tmp_path / "project"
    made_in.mkdir()
    monkeypatch.chdir(made_in)
    local = create_schedule(ws, "wf", "0 6 * * 1", RawSettings(output="out/churn.parquet"))
    parts = create_schedule(ws, "wf", "0 6 * * 1", RawSettings(output="file://parts/{{PARTITION}}.csv"))
    s3 = create_schedule(ws, "wf", "0 6 * * 1", RawSettings(output="s3://bucket/out/churn.parquet"))
    monkeypatch.chdir(tmp_path)
    assert get_schedule(ws, local.id).raw().output == str(made_in / "out" / "churn.parquet")
    assert get_schedule(ws, parts.id).raw().output == str(made_in / "parts" / "{{PARTITION}}.csv")
    assert get_schedule(ws, s3.id).raw().output == "s3://bucket/out/churn.parquet"


def test_serve_names_the_schedules_whose_output_is_outside_its_output_roots(tmp_path: Path) -> None:
    from relpredict.service.schedules import outside_roots

    ws = Workspace.open(tmp_path / "ws")
    records.create_workflow(ws, "wf", "m")
    allowed, other = tmp_path / "allowed", tmp_path / "other"
    allowed.mkdir()
    create_schedule(ws, "wf", "0 6 * * 1", RawSettings(output=str(allowed / "a.parquet")))
    outside = create_schedule(ws, "wf", "*/5 * * * *", RawSettings(output=str(other / "b.csv")))
    parts = create_schedule(ws, "wf", "0 7 * * *", RawSettings(output=str(other / "p" / "{{PARTITION}}.parquet")))
    create_schedule(ws, "wf", "0 8 * * *", RawSettings())  # the job's own folder
    create_schedule(ws, "wf", "0 9 * * *", RawSettings(output="s3://bucket/b.parquet"))
    lines = outside_roots(ws, [allowed])
    assert len(lines) == 2, lines
    assert lines[0].startswith(f"Schedule {outside.id} (workflow wf, '*/5 * * * *') will fail at every run: "
                               f"The destination {other / 'b.csv'} is outside the folders this server may "
                               f"write to")
    assert f"Give a path inside {allowed.resolve()}" in lines[0]
    assert lines[1].startswith(f"Schedule {parts.id} ") and "the folder of the part files" in lines[1]
    assert outside_roots(ws, [allowed, other]) == []
