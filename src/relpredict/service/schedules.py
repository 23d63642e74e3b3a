"""Schedules of workflows for every front end: make (settings checked as ``job run`` checks
them), list with the next run, remove (:mod:`relpredict.jobs.schedules`)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from relpredict.errors import SettingsError
from relpredict.jobs import RawSettings
from relpredict.jobs import schedules as records
from relpredict.service.jobs import check_settings, find_workflow
from relpredict.workspace import Workspace

__all__ = ["list_schedules", "outside_roots", "schedule_workflow", "scheduler", "unschedule"]


def schedule_workflow(ws: Workspace, workflow: str, cron: str, raw: RawSettings,
                      output_roots: Sequence[str | Path] | None = None) -> dict[str, Any]:
    """Check the cron expression and the job settings, then record the schedule; a bad
    expression is a SettingsError of ``cron``, a bad setting one of that setting."""
    from relpredict.errors import ConfigError
    from relpredict.jobs.cron import parse_cron

    find_workflow(ws, workflow)
    try:
        parse_cron(cron)
    except ConfigError as err:
        raise SettingsError({"cron": str(err)}) from None
    check_settings(ws, workflow, raw, output_roots)
    return records.create_schedule(ws, workflow, cron, raw).to_json()


def list_schedules(ws: Workspace, workflow: str | None = None) -> list[dict[str, Any]]:
    """Every schedule (of one workflow when given) with its next run, in UTC."""
    return [s.to_json() for s in records.list_schedules(ws, workflow)]


def unschedule(ws: Workspace, schedule_id: int) -> dict[str, Any]:
    """Remove a schedule; the jobs it started stay."""
    return records.delete_schedule(ws, schedule_id).to_json()


def scheduler(ws: Workspace, output_roots: Sequence[str | Path] | None = None) -> records.Scheduler:
    """The scheduler of ``relpredict serve`` / ``relpredict scheduler``: each due slot starts a
    detached job, its settings checked again (``output_roots``: a server's)."""
    from relpredict.service.jobs import submit_job

    def launch(schedule: records.Schedule) -> str:
        return submit_job(ws, schedule.workflow, schedule.raw(), output_roots).id

    return records.Scheduler(ws, launch)


def outside_roots(ws: Workspace, output_roots: Sequence[str | Path]) -> list[str]:
    """A line for each schedule whose local output lies outside ``output_roots``: a server with
    these roots refuses every run of it, so ``relpredict serve`` says so when it starts, not at
    the first slot. Settings that fail otherwise are told when the schedule runs."""
    from relpredict.errors import ConfigError
    from relpredict.jobs.destcheck import check_output_roots
    from relpredict.jobs.settings import parse_output_types
    from relpredict.sinks.naming import parse_destination

    out = []
    for schedule in records.list_schedules(ws):
        raw = schedule.raw()
        if not raw.output:
            continue  # the job's own folder, always allowed
        try:  # a relative output (of a schedule older than absolute_output) resolves here as at a run
            dest = parse_destination(raw.output, raw.file_type, raw.partition_bytes, raw.connector)
            check_output_roots(dest, parse_output_types(raw.output_types), output_roots)
        except SettingsError as err:
            out.append(f"Schedule {schedule.id} (workflow {schedule.workflow}, '{schedule.cron}') will "
                       f"fail at every run: {err.errors['destination']}")
        except ConfigError:
            continue
    return out
