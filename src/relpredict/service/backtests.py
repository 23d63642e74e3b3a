"""Backtests of workflows for every front end: check and record, run here or in the background,
list (:mod:`relpredict.jobs.backtests`). ``python -m relpredict.service.backtests --home HOME ID``
is the background process that runs a recorded backtest's jobs."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from relpredict import jobs
from relpredict.errors import RelpredictError
from relpredict.jobs import RawSettings
from relpredict.jobs import backtests as records
from relpredict.service.jobs import find_workflow
from relpredict.workspace import Workspace

__all__ = ["backtest_workflow", "get_backtest", "list_backtests"]


def backtest_workflow(ws: Workspace, workflow: str, start: str | datetime, end: str | datetime,
                      every: str | None, raw: RawSettings, detach: bool = True,
                      output_roots: Sequence[str | Path] | None = None,
                      on_point: records.Progress | None = None) -> dict[str, Any]:
    """Check the range, step and settings, record the backtest and run its jobs: in a background
    process (``detach``, what the server does) or here, ``on_point`` seeing each anchor's result."""
    find_workflow(ws, workflow)
    record = records.create_backtest(ws, workflow, start, end, every, raw, output_roots=output_roots)
    if detach:
        records.start_detached(ws, record.id)
        return record.to_json()
    return records.run_points(ws, record.id, jobs.create_job, on_point=on_point).to_json()


def get_backtest(ws: Workspace, backtest_id: str) -> dict[str, Any]:
    return records.get_backtest(ws, backtest_id).to_json()


def list_backtests(ws: Workspace, workflow: str) -> list[dict[str, Any]]:
    """A workflow's backtests, newest first, each with its points (anchor, job, both metrics)."""
    return [b.to_json() for b in records.list_backtests(ws, workflow)]


def main(argv: list[str] | None = None) -> int:
    """Run a recorded backtest's remaining jobs (what :func:`backtest_workflow` detaches)."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m relpredict.service.backtests")
    parser.add_argument("--home", required=True)
    parser.add_argument("backtest_id")
    args = parser.parse_args(argv)
    try:
        records.run_points(Workspace.open(args.home), args.backtest_id, jobs.create_job)
    except RelpredictError as err:
        print(f"Error: {err}", file=sys.stderr)  # the backtest's log file
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
