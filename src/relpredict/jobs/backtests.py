"""Backtests over time: a workflow's settings run at several past anchors, one normal job each.

``relpredict workflow backtest WF --from T1 --to T2 [--every 30d]`` runs a job at each anchor
T1, T1 + every, ... up to T2 (default step: the query's target window), in this process, one after
the other. Each job writes its outputs (with ``--output``, to a destination of its own named
with its anchor, :func:`point_output`) and computes its realised metric as any job whose target
window is past does (:mod:`relpredict.jobs.summary`); beside it, the model's best baseline
(:mod:`relpredict.model.baselines`, kept in the artifact) is scored on the same entities, at the
same anchor, against the same labels, so the table and the workflow page's chart say whether the
model stayed ahead of the obvious prediction over time. A backtest and its points are rows of the
workspace's ``backtests`` / ``backtest_points`` tables.
"""

from __future__ import annotations

import json
import re
import secrets
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from relpredict.errors import ConfigError, NotFoundError, RelpredictError, SettingsError
from relpredict.jobs import store
from relpredict.jobs.prepare import Prepared, job_dir
from relpredict.jobs.settings import RawSettings, parse_anchor_time
from relpredict.jobs.status import SUCCESSFUL
from relpredict.jobs.summary import Backtest, backtest_metric
from relpredict.workspace import Workspace

__all__ = ["BacktestPoint", "BacktestRecord", "anchors_between", "baseline_score", "create_backtest",
           "get_backtest", "list_backtests", "parse_every", "plan_anchors", "point_output", "run_backtest",
           "run_points", "start_detached"]

MAX_ANCHORS = 60
_EVERY = re.compile(r"^\s*(\d+)\s*(h|d|w|mo|months?|hours?|days?|weeks?)\s*$", re.IGNORECASE)


def parse_every(text: str) -> pd.DateOffset:
    """``12h``, ``30d``, ``2w`` or ``3mo`` (calendar months) as a step between anchors."""
    match = _EVERY.match(text or "")
    if not match or int(match.group(1)) == 0:
        raise ConfigError(f"The step between anchors {text!r} is not a positive number and a unit: "
                          "give e.g. 12h, 30d, 2w or 3mo.")
    n, unit = int(match.group(1)), match.group(2).lower()
    if unit.startswith("mo"):
        return pd.DateOffset(months=n)
    hours = {"h": 1, "d": 24, "w": 24 * 7}[unit[0]]
    return pd.DateOffset(hours=n * hours)


def anchors_between(start: datetime, end: datetime, every: pd.DateOffset) -> list[datetime]:
    """``start``, ``start + every``, ... while not after ``end`` (at most :data:`MAX_ANCHORS`)."""
    if end < start:
        raise ConfigError(f"The backtest ends ({end}) before it starts ({start}): give --to after --from.")
    out, at = [], pd.Timestamp(start)
    while at <= pd.Timestamp(end):
        out.append(at.to_pydatetime())
        if len(out) > MAX_ANCHORS:
            raise ConfigError(f"A backtest from {start} to {end} every {_shown(every)} has more than "
                              f"{MAX_ANCHORS} anchors (a job each): take a longer --every or a shorter range.")
        at = at + every
    return out


def _shown(every: pd.DateOffset) -> str:
    kwds = every.kwds
    return f"{kwds['months']} month(s)" if "months" in kwds else f"{pd.Timedelta(**kwds)}"


@dataclass(frozen=True)
class BacktestPoint:
    """One anchor of a backtest: its job and both metrics (None: not known, see ``error``)."""

    anchor: str
    job_id: str | None
    metric: str | None
    value: float | None
    entities: int | None
    baseline: str | None
    baseline_value: float | None
    error: str | None


@dataclass(frozen=True)
class BacktestRecord:
    id: str
    workflow: str
    settings: dict[str, Any]  # from, to, every, and the job settings given
    created_at: str
    points: list[BacktestPoint]

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "workflow": self.workflow, "settings": self.settings,
                "created_at": self.created_at, "points": [p.__dict__ for p in self.points]}


def baseline_score(prepared: Prepared, anchor: datetime, entities: pa.Array,
                   settings: Any) -> tuple[str | None, str | None, float | None]:
    """(baseline name, metric, value) of the model's best baseline at ``anchor`` on the labelled
    ones of ``entities``, scored as the job's backtest scores the model; a model without a kept
    baseline (or whose target window is not past) gives Nones."""
    from relpredict.labels.labels import training_table
    from relpredict.model.output import format_predictions
    from relpredict.model.predictor import TrainedModel

    model = prepared.model
    base = model.baseline if isinstance(model, TrainedModel) else None
    if not isinstance(model, TrainedModel) or base is None:
        return None, None, None
    labels = training_table(prepared.bound, prepared.graph, [anchor])
    labels = labels.filter(pc.is_in(labels.column("ENTITY"), value_set=entities))
    rows = model.rows(labels.column("ENTITY"), anchor)
    bq = model.bound_query(prepared.graph)
    if model.ranker is not None:
        inputs: Any = model.ranker.pairs(bq, prepared.graph, rows, model.codec.items)
    else:
        inputs = model.history_and_past(bq, prepared.graph, rows, past=True)[1] or [[] for _ in range(rows.num_rows)]
    options = settings.predict_options()
    table = format_predictions(model, rows, base.predict(model.codec, inputs), threshold=options.threshold,
                               num_classes=options.num_classes, top_k=options.top_k)
    collect = Backtest(model.task_type, labels, settings.top_k or settings.num_classes)
    for batch in table.to_batches():
        collect.add(batch)
    preds = pa.Table.from_batches(collect.parts) if collect.parts else None
    metric, value, _ = backtest_metric(model.task_type, preds, labels, collect.k)
    return base.name, metric, value


Progress = Callable[[BacktestPoint], None]
CreateJob = Callable[..., tuple[Any, Prepared]]
""":func:`relpredict.jobs.workflows.create_job` (passed in: that module builds on this one)."""


def run_backtest(ws: Workspace, workflow: str, start: str | datetime, end: str | datetime,
                 every: str | None, raw: RawSettings, create: CreateJob, loader: str | None = None,
                 on_point: Progress | None = None) -> BacktestRecord:
    """Run a job of ``raw`` at each anchor from ``start`` to ``end`` (step ``every``; default the
    query's target window) here, one after the other, and record each one's metrics."""
    record = create_backtest(ws, workflow, start, end, every, raw, loader)
    return run_points(ws, record.id, create, loader, on_point)


def create_backtest(ws: Workspace, workflow: str, start: str | datetime, end: str | datetime,
                    every: str | None, raw: RawSettings, loader: str | None = None,
                    output_roots: Sequence[str | Path] | None = None) -> BacktestRecord:
    """Check and record a backtest (its anchors and job settings); :func:`run_points` runs it.
    The settings, the range and the step are checked before any job exists."""
    from relpredict.jobs.schedules import settings_json

    anchors = plan_anchors(ws, workflow, start, end, every, raw, loader, output_roots)
    backtest_id = "b" + datetime.now(UTC).strftime("%Y%m%d%H%M%S") + secrets.token_hex(3)
    settings = {"from": anchors[0].isoformat(), "to": anchors[-1].isoformat(),
                "every": every or "the target window", "anchors": [a.isoformat() for a in anchors],
                "job": settings_json(raw)}
    with ws.db() as con:
        con.execute("INSERT INTO backtests VALUES (?, ?, ?, ?)",
                    (backtest_id, workflow, json.dumps(settings), store.now_iso()))
    return get_backtest(ws, backtest_id)


def run_points(ws: Workspace, backtest_id: str, create: CreateJob, loader: str | None = None,
               on_point: Progress | None = None) -> BacktestRecord:
    """Run the job of each anchor of the backtest that has no point yet, in order, here."""
    from relpredict.jobs.schedules import raw_from_json

    record = get_backtest(ws, backtest_id)
    raw, done = raw_from_json(record.settings["job"]), {p.anchor for p in record.points}
    for anchor in record.settings["anchors"]:
        if anchor not in done:
            job, prepared = create(record.workflow, point_output(raw, datetime.fromisoformat(anchor)), ws, loader)
            _run_point(ws, backtest_id, job, prepared, on_point)
    return get_backtest(ws, backtest_id)


def start_detached(ws: Workspace, backtest_id: str) -> int:
    """Run the backtest's jobs in a background process of its own session; return its pid."""
    folder = ws.artifacts / "backtests"
    folder.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "relpredict.service.backtests", "--home", str(ws.home), backtest_id]
    with open(folder / f"{backtest_id}.log", "ab") as log:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True, close_fds=True)
    return proc.pid


def plan_anchors(ws: Workspace, workflow: str, start: str | datetime, end: str | datetime,
                 every: str | None, raw: RawSettings, loader: str | None = None,
                 output_roots: Sequence[str | Path] | None = None) -> list[datetime]:
    """The anchors of a backtest, after checking the job settings at the first one and that the
    target window after the last one is in the data (else its metric could not be known)."""
    from relpredict.jobs.prepare import prepare
    from relpredict.jobs.runner import backtest_window
    from relpredict.labels.labels import fact_time_range

    if raw.anchor_time not in (None, ""):
        raise SettingsError({"anchor_time": "A backtest sets each job's anchor time itself (--from, "
                             "--to, --every): leave --anchor-time out."})
    first, last = _time(start, "from"), _time(end, "to")
    try:
        step = parse_every(every) if every else None
    except ConfigError as err:
        raise SettingsError({"every": str(err)}) from None
    prepared = prepare(ws, workflow, point_output(raw, first), "check", loader, output_roots)[0]
    try:
        step = step or _window_step(prepared)
        anchors = anchors_between(first, last, step)
        data_end = fact_time_range(prepared.bound, prepared.graph)[1]
        _, why = backtest_window(prepared.bound, anchors[-1], data_end)
    finally:
        prepared.close()
    if why:
        raise SettingsError({"to": f"The last anchor {anchors[-1]} cannot be measured: {why}. End "
                             "the backtest one target window before the latest data."})
    return anchors


def point_output(raw: RawSettings, anchor: datetime) -> RawSettings:
    """The settings of the job at ``anchor``: its anchor time, and an output (if given) of its own,
    named with the anchor, so that no anchor's job replaces another's files or table:
    ``out/preds.parquet`` → ``out/preds_20240301.parquet`` (``_20240301T120000`` off midnight),
    ``out/{{PARTITION}}.parquet`` → ``out_20240301/``, ``snowflake://wh/SCORES`` →
    ``SCORES_20240301``."""
    from relpredict.sinks.naming import destination_text, parse_destination, suffixed

    out = replace(raw, anchor_time=anchor)
    if not raw.output:
        return out
    try:
        dest = parse_destination(raw.output, raw.file_type, raw.partition_bytes, raw.connector)
    except ConfigError:
        return out  # told as the job's own settings error when it is checked
    tag = anchor.strftime("%Y%m%d" if anchor.time() == datetime.min.time() else "%Y%m%dT%H%M%S")
    return replace(out, output=destination_text(suffixed(dest, "_" + tag)))


def _run_point(ws: Workspace, backtest_id: str, job: Any, prepared: Prepared,
               on_point: Progress | None) -> BacktestPoint:
    """Run one anchor's job here, then score the baseline on its entities; record the point."""
    try:
        try:
            job.start()
        except RelpredictError:
            pass  # recorded on the job (failed, with its error): the point says so, the next runs
        rec = job.record()
        anchor = rec.settings.anchor_time
        bt = (rec.summary or {}).get("backtest") or {}
        error = rec.error if rec.status not in SUCCESSFUL else bt.get("skipped")
        name = bmetric = bvalue = None
        if rec.status in SUCCESSFUL and bt.get("metric"):
            keys = pq.read_table(job_dir(ws, job.id) / "entities.parquet").column("ENTITY").combine_chunks()
            name, bmetric, bvalue = baseline_score(prepared, anchor, keys, rec.settings)
        point = BacktestPoint(anchor.isoformat(), job.id, bt.get("metric") or bmetric, bt.get("value"),
                              bt.get("entities"), name, bvalue, error)
    finally:
        prepared.close()
    with ws.db() as con:
        con.execute("INSERT INTO backtest_points VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (backtest_id, point.anchor, point.job_id, point.metric, point.value, point.entities,
                     point.baseline, point.baseline_value, point.error))
    if on_point is not None:
        on_point(point)
    return point


def _window_step(prepared: Prepared) -> pd.DateOffset:
    from relpredict.labels.labels import step_offset

    horizon = prepared.bound.horizon
    if horizon is None:
        raise ConfigError("The model's query is static (it has no time window): a backtest over "
                          "anchor times needs a temporal query.")
    return step_offset(horizon)


def _time(value: str | datetime, option: str) -> datetime:
    try:
        return parse_anchor_time(value)
    except ConfigError as err:
        raise SettingsError({option: f"--{option}: {err}"}) from None


def get_backtest(ws: Workspace, backtest_id: str) -> BacktestRecord:
    with ws.db() as con:
        row = con.execute("SELECT * FROM backtests WHERE id = ?", (backtest_id,)).fetchone()
        points = con.execute("SELECT * FROM backtest_points WHERE backtest_id = ? ORDER BY anchor",
                             (backtest_id,)).fetchall()
    if row is None:
        raise NotFoundError(f"No backtest {backtest_id!r} in the workspace {ws.home}; "
                            "`relpredict workflow show WF` lists a workflow's backtests.")
    return BacktestRecord(row["id"], row["workflow"], json.loads(row["settings"]), row["created_at"],
                          [BacktestPoint(p["anchor"], p["job_id"], p["metric"], p["value"], p["entities"],
                                         p["baseline"], p["baseline_value"], p["error"]) for p in points])


def list_backtests(ws: Workspace, workflow: str) -> list[BacktestRecord]:
    """A workflow's backtests, newest first."""
    store.get_workflow(ws, workflow)
    with ws.db() as con:
        ids = [r[0] for r in con.execute("SELECT id FROM backtests WHERE workflow = ? "
                                         "ORDER BY created_at DESC, id DESC", (workflow,))]
    return [get_backtest(ws, i) for i in ids]
