"""Page routes: each renders one template from the same service views the JSON API returns.

Pages are rendered with the data of the moment; the scripts then keep them current through the
API (the job page polls ``/api/jobs/ID``), so a reload always shows where things stand.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from relpredict.service import backtests, catalog, schedules
from relpredict.service import jobs as service
from relpredict.sinks.naming import PARTITION
from relpredict.web.charts import backtest_chart, reliability_chart
from relpredict.workspace import Workspace

__all__ = ["error_page", "router"]

TEMPLATES = Jinja2Templates(directory=Path(__file__).resolve().parent / "templates")
TEMPLATES.env.globals["PARTITION"] = PARTITION
router = APIRouter(include_in_schema=False)


def _ws(request: Request) -> Workspace:
    ws: Workspace = request.app.state.workspace
    return ws


def _page(request: Request, template: str, http_status: int = 200, **context: Any) -> HTMLResponse:
    return TEMPLATES.TemplateResponse(request, template, context, status_code=http_status)


def error_page(request: Request, message: str, status: int) -> HTMLResponse:
    """The library's message in a page (the JSON API sends it as ``detail``)."""
    return _page(request, "error.html", status, message=message, status=status)


@router.get("/")
def home() -> Response:
    return RedirectResponse("/workflows", status_code=303)


@router.get("/models", response_class=HTMLResponse)
def models(request: Request) -> HTMLResponse:
    return _page(request, "models.html", models=catalog.list_models(_ws(request)))


@router.get("/models/{ref}", response_class=HTMLResponse)
def model(ref: str, request: Request) -> HTMLResponse:
    view = catalog.model_page(_ws(request), ref)
    reliability = (view.get("metrics") or {}).get("reliability") or {}
    return _page(request, "model.html", model=view,
                 reliability=reliability_chart(reliability, "reliability-chart") if reliability else None)


@router.get("/workflows", response_class=HTMLResponse)
def workflows(request: Request) -> HTMLResponse:
    names = sorted({m["name"] for m in catalog.list_models(_ws(request))})
    return _page(request, "workflows.html", workflows=service.list_workflows(_ws(request)),
                 model_names=names)


@router.get("/workflows/{name}", response_class=HTMLResponse)
def workflow(name: str, request: Request) -> HTMLResponse:
    view = service.workflow_view(_ws(request), name)
    return _page(request, "workflow.html", wf=view, form=view["form"],
                 connectors=catalog.list_connectors(_ws(request)),
                 schedules=schedules.list_schedules(_ws(request), name),
                 backtests=[{**b, "chart": backtest_chart(b["points"], f"backtest-chart-{b['id']}")}
                            for b in backtests.list_backtests(_ws(request), name)])


@router.get("/jobs/{job_id}", response_class=HTMLResponse)
def job(job_id: str, request: Request) -> HTMLResponse:
    return _page(request, "job.html", job=service.job_view(_ws(request), job_id))
