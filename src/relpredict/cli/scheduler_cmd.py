"""``relpredict scheduler``: start the jobs of the workspace's schedules, without the web server.

``relpredict serve`` runs the same scheduler in a thread; both can run at once over one workspace
(each slot is claimed once, :mod:`relpredict.jobs.schedules`).
"""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from types import FrameType

import typer

from relpredict.cli.console import make_console
from relpredict.workspace import Workspace


def scheduler(
    home: Path | None = typer.Option(None, "--home", help="Workspace folder (default: $RELPREDICT_HOME or ./.relpredict)."),
    interval: float = typer.Option(20.0, "--interval", min=1.0, help="Seconds between looks at the schedules."),
) -> None:
    """Start scheduled jobs when they are due (missed slots run once, at start) until stopped."""
    from relpredict.jobs.schedules import list_schedules
    from relpredict.service.schedules import scheduler as make_scheduler

    ws = Workspace.open(home)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    make_console().print(f"relpredict scheduler over workspace {ws.home}: {len(list_schedules(ws))} "
                         "schedule(s). Ctrl-C stops it; running jobs go on.", highlight=False)
    try:
        make_scheduler(ws).run(stop, interval)
    except KeyboardInterrupt:
        stop.set()
