"""The application of ``relpredict serve``: API routes, pages, static files, errors, token.

Errors keep the library's messages (what the CLI prints after ``Error:``) and get a status by
their class (:mod:`relpredict.errors`): unknown names 404, a job state that forbids the action
409, invalid settings 422 (with the message of each field), a failing destination (S3,
Snowflake, BigQuery) 502, any other relpredict error 400. Pages get the same message in an HTML
page.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles

from relpredict import __version__
from relpredict.api.auth import install_token_guard, is_api_path
from relpredict.api.guard import install_request_guard
from relpredict.api.routes import router
from relpredict.errors import (
    GENERAL,
    ConflictError,
    DestinationError,
    NotFoundError,
    RelpredictError,
    SettingsError,
)
from relpredict.service.jobs import recover_orphans
from relpredict.workspace import Workspace

__all__ = ["create_app", "default_output_roots", "error_status"]

STATIC = Path(__file__).resolve().parents[1] / "web" / "static"


def error_status(err: RelpredictError) -> int:
    """The HTTP status of a library error (see the module docstring)."""
    if isinstance(err, NotFoundError):
        return 404
    if isinstance(err, ConflictError):
        return 409
    if isinstance(err, SettingsError):
        return 422
    if isinstance(err, DestinationError):
        return 502
    return 400


def create_app(workspace: Workspace, token: str | None = None, hosts: Sequence[str] = (),
               output_roots: Sequence[str | Path] | None = None, scheduler: bool = False) -> FastAPI:
    """The app serving ``workspace``; with ``token``, every request must carry it.

    It answers only to ``127.0.0.1``, ``localhost``, ``::1`` and ``hosts``, refuses state-changing
    requests from other sites (:mod:`relpredict.api.guard`), and lets jobs write local outputs only
    inside ``output_roots`` (default: the workspace's ``outputs/`` folder and the current folder).
    On start it marks jobs whose runner process is gone as failed, so they can be resumed; with
    ``scheduler`` it also starts the workspace's scheduled jobs while it runs.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.recovered = recover_orphans(workspace)
        stop = None
        if scheduler:  # `relpredict serve`: start the schedules' jobs (jobs/schedules.py)
            from relpredict.service.schedules import scheduler as make_scheduler

            _, stop = make_scheduler(workspace, app.state.output_roots).start_thread()
        try:
            yield
        finally:
            if stop is not None:
                stop.set()

    app = FastAPI(title="relpredict", version=__version__, lifespan=lifespan,
                  description="Workflows, batch prediction jobs, models, graphs and connectors.")
    app.state.workspace = workspace
    app.state.output_roots = default_output_roots(workspace) if output_roots is None else [
        Path(root).expanduser().resolve() for root in output_roots]
    app.state.recovered = []
    app.include_router(router)
    _pages(app)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.add_exception_handler(RelpredictError, _library_error)
    app.add_exception_handler(RequestValidationError, _shape_error)
    app.add_exception_handler(Exception, _unexpected_error)
    install_token_guard(app, token)
    install_request_guard(app, hosts)  # last installed runs first: Host before the token
    return app


def default_output_roots(workspace: Workspace) -> list[Path]:
    """Where a served job may write without ``--output-root``: ``<workspace>/outputs``, the cwd."""
    return [(workspace.home / "outputs").resolve(), Path.cwd().resolve()]


def _pages(app: FastAPI) -> None:
    from relpredict.web.pages import router as pages

    app.include_router(pages)


async def _library_error(request: Request, err: Exception) -> Response:
    if not isinstance(err, RelpredictError):  # registered for RelpredictError only
        raise err
    status = error_status(err)
    if not is_api_path(request.url.path):
        from relpredict.web.pages import error_page

        return error_page(request, str(err), status)
    errors = err.errors if isinstance(err, SettingsError) else {}
    return JSONResponse({"detail": str(err), "errors": errors}, status_code=status)


async def _unexpected_error(request: Request, err: Exception) -> Response:
    """A failure no check foresaw: JSON (or an error page) with its kind, never a bare 500."""
    message = (f"The server failed unexpectedly ({type(err).__name__}) while answering "
               f"{request.method} {request.url.path}. This is a bug: please report it.")
    if not is_api_path(request.url.path):
        from relpredict.web.pages import error_page

        return error_page(request, message, 500)
    return JSONResponse({"detail": message, "errors": {}}, status_code=500)


async def _shape_error(request: Request, err: Exception) -> Response:
    """A body of the wrong shape (text where a number belongs): 422, each field named."""
    if not isinstance(err, RequestValidationError):
        raise err
    errors = {}
    for item in err.errors():
        loc = [str(p) for p in item.get("loc", ()) if p not in ("body", "query", "path")]
        field = ".".join(loc) or GENERAL
        if item.get("type") == "extra_forbidden":
            errors[field] = (f"Unknown field {field!r}: this request has no such setting. Check its "
                             "spelling against the API docs (/docs).")
        elif item.get("type") == "missing":
            errors[field] = f"The field {field!r} is required: give it in the request body."
        elif item.get("type") == "json_invalid":
            errors[field] = "The request body is not valid JSON: send a JSON object."
        else:
            errors[field] = f"The field {field!r}: {item.get('msg', 'Invalid value')} (not {item.get('input')!r})."
    detail = next(iter(errors.values()), "The request is invalid.")
    return JSONResponse({"detail": detail, "errors": errors}, status_code=422)
