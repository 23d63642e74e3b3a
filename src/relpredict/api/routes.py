"""The JSON endpoints under ``/api``: each one calls one service function and returns its view.

Graphs, models and connectors are read-only here (they are made by the CLI); workflows can be
created; jobs can be checked, submitted (they run detached), followed, cancelled, resumed and their
sample downloaded, streamed, by job id only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from relpredict.api.schemas import BacktestIn, ErrorOut, JobSettingsIn, ScheduleIn, WorkflowIn
from relpredict.service import backtests, catalog, schedules
from relpredict.service import jobs as service
from relpredict.service.download import entity_explanation, sample_stream
from relpredict.service.forms import raw_settings
from relpredict.workspace import Workspace

ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorOut} for code in (400, 401, 404, 409, 422)}

router = APIRouter(prefix="/api", responses=ERRORS)


def _ws(request: Request) -> Workspace:
    ws: Workspace = request.app.state.workspace
    return ws


def _roots(request: Request) -> list[Path]:
    """The folders jobs started through this server may write local outputs in."""
    roots: list[Path] = request.app.state.output_roots
    return roots


@router.get("/health", tags=["server"])
def health() -> dict[str, str]:
    """Answers while the server runs (what a start script waits for)."""
    return {"status": "ok"}


# ----------------------------------------------------------------------------------- catalog
@router.get("/graphs", tags=["graphs"])
def list_graphs(request: Request) -> list[dict[str, Any]]:
    return catalog.list_graphs(_ws(request))


@router.get("/graphs/{name}", tags=["graphs"])
def get_graph(name: str, request: Request) -> dict[str, Any]:
    return catalog.get_graph(_ws(request), name)


@router.get("/models", tags=["models"])
def list_models(request: Request) -> list[dict[str, Any]]:
    """Every trained model version, newest first."""
    return catalog.list_models(_ws(request))


@router.get("/models/{ref}", tags=["models"])
def get_model(ref: str, request: Request) -> dict[str, Any]:
    """Model NAME (latest version) or NAME@VERSION."""
    return catalog.get_model(_ws(request), ref)


@router.get("/connectors", tags=["connectors"])
def list_connectors(request: Request) -> list[dict[str, Any]]:
    """Connectors with their settings; secrets by name only, never their values or references."""
    return catalog.list_connectors(_ws(request))


@router.get("/connectors/{name}", tags=["connectors"])
def get_connector(name: str, request: Request) -> dict[str, Any]:
    return catalog.get_connector(_ws(request), name)


# ----------------------------------------------------------------------------------- workflows
@router.get("/workflows", tags=["workflows"])
def list_workflows(request: Request) -> list[dict[str, Any]]:
    return service.list_workflows(_ws(request))


@router.post("/workflows", status_code=201, tags=["workflows"])
def create_workflow(body: WorkflowIn, request: Request) -> dict[str, Any]:
    """Create a workflow of a trained model (checked to load)."""
    wf = service.create_workflow(_ws(request), body.name, body.model)
    return service.workflow_view(_ws(request), wf.name, with_form=False)


@router.get("/workflows/{name}", tags=["workflows"])
def get_workflow(name: str, request: Request, form: bool = True) -> dict[str, Any]:
    """A workflow, its jobs and (``form``) the job settings its task type takes."""
    return service.workflow_view(_ws(request), name, with_form=form)


@router.post("/workflows/{name}/check", tags=["jobs"])
def check_job(name: str, body: JobSettingsIn, request: Request) -> dict[str, Any]:
    """Validate job settings exactly as `relpredict job run` does; nothing is recorded."""
    return service.check_settings(_ws(request), name, raw_settings(body.form()), _roots(request))


@router.post("/workflows/{name}/jobs", status_code=201, tags=["jobs"])
def run_job(name: str, body: JobSettingsIn, request: Request) -> dict[str, Any]:
    """Validate the settings, record the job and start it in the background."""
    job = service.submit_job(_ws(request), name, raw_settings(body.form()), _roots(request))
    return service.job_view(_ws(request), job.id)


# ----------------------------------------------------------------------------------- schedules
@router.get("/schedules", tags=["schedules"])
def list_schedules(request: Request, workflow: str | None = None) -> list[dict[str, Any]]:
    """Every schedule (of one workflow when given) with its next run, in UTC."""
    return schedules.list_schedules(_ws(request), workflow)


@router.post("/workflows/{name}/schedules", status_code=201, tags=["schedules"])
def create_schedule(name: str, body: ScheduleIn, request: Request) -> dict[str, Any]:
    """Run jobs of the workflow at the minutes of a cron expression (UTC), with these settings
    (checked now as a job's are); this server starts them while it runs."""
    return schedules.schedule_workflow(_ws(request), name, body.cron, raw_settings(body.settings.form()),
                                       _roots(request))


@router.delete("/schedules/{schedule_id}", tags=["schedules"])
def delete_schedule(schedule_id: int, request: Request) -> dict[str, Any]:
    """Remove a schedule; the jobs it started stay."""
    return schedules.unschedule(_ws(request), schedule_id)


# ----------------------------------------------------------------------------------- backtests
@router.get("/workflows/{name}/backtests", tags=["backtests"])
def list_backtests(name: str, request: Request) -> list[dict[str, Any]]:
    """The workflow's backtests, newest first: per anchor its job, the realised metric and the
    model's best baseline's on the same entities."""
    return backtests.list_backtests(_ws(request), name)


@router.post("/workflows/{name}/backtests", status_code=201, tags=["backtests"])
def create_backtest(name: str, body: BacktestIn, request: Request) -> dict[str, Any]:
    """Check and record a backtest, and run its jobs one after the other in the background."""
    return backtests.backtest_workflow(_ws(request), name, body.start, body.end, body.every,
                                       raw_settings(body.settings.form()), output_roots=_roots(request))


@router.get("/backtests/{backtest_id}", tags=["backtests"])
def get_backtest(backtest_id: str, request: Request) -> dict[str, Any]:
    return backtests.get_backtest(_ws(request), backtest_id)


# ----------------------------------------------------------------------------------- jobs
@router.get("/jobs", tags=["jobs"])
def list_jobs(request: Request, workflow: str | None = None) -> list[dict[str, Any]]:
    """Jobs, newest first."""
    return service.list_jobs(_ws(request), workflow)


@router.get("/jobs/{job_id}", tags=["jobs"])
def get_job(job_id: str, request: Request) -> dict[str, Any]:
    """Status, stage, progress per worker, warnings, error, and the summary once succeeded."""
    return service.job_view(_ws(request), job_id)


@router.get("/jobs/{job_id}/progress", tags=["jobs"])
def get_progress(job_id: str, request: Request) -> dict[str, Any]:
    view = service.job_view(_ws(request), job_id)
    return {"id": view["id"], "status": view["status"], "stage": view["stage"], **view["progress"]}


@router.get("/jobs/{job_id}/summary", tags=["jobs"])
def get_summary(job_id: str, request: Request) -> dict[str, Any]:
    """A succeeded job's manifest and summary."""
    return service.job_result(_ws(request), job_id)


@router.post("/jobs/{job_id}/cancel", tags=["jobs"])
def cancel_job(job_id: str, request: Request) -> dict[str, Any]:
    return service.cancel_job(_ws(request), job_id)


@router.post("/jobs/{job_id}/resume", tags=["jobs"])
def resume_job(job_id: str, request: Request) -> dict[str, Any]:
    """Run a failed, cancelled or orphaned job again in the background; finished shards are kept."""
    return service.resume_job(_ws(request), job_id)


@router.get("/jobs/{job_id}/explanations", tags=["jobs"])
def get_explanation(job_id: str, request: Request, entity: str = Query(..., max_length=200)) -> dict[str, Any]:
    """One entity's top contributing inputs, from the job's explanations sample."""
    return entity_explanation(_ws(request), job_id, entity)


@router.get("/jobs/{job_id}/sample", tags=["jobs"], response_class=StreamingResponse)
def download_sample(job_id: str, request: Request,
                    output: Literal["predictions", "embeddings", "explanations"] | None = None,
                    format: Literal["csv", "parquet"] = Query("csv")) -> StreamingResponse:
    """The job's sample of one output, streamed as CSV or Parquet."""
    stream = sample_stream(_ws(request), job_id, output, format)
    disposition = f'attachment; filename="{stream.filename}"'
    return StreamingResponse(stream.chunks, media_type=stream.media_type,
                             headers={"Content-Disposition": disposition})
