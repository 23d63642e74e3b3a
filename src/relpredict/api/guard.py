"""What keeps other web pages and other names away from the server, with or without a token.

* **Host.** Only the names the server was started for are accepted (``127.0.0.1``, ``localhost``,
  ``::1``, the ``--host`` given and each ``--allow-host``); any other ``Host`` header is refused
  with 421, so a page on another name that resolves to this machine (DNS rebinding) gets nothing.
* **Origin.** Every state-changing request (POST, PUT, PATCH, DELETE) that names an ``Origin``
  must come from this server's own origin (the scheme-less ``host:port`` of the request).
  Without ``Origin`` a same-origin ``Referer`` will do; with neither, only a request a web page
  cannot send across sites without asking first is accepted: one with a JSON body
  (``Content-Type: application/json``) or an ``Authorization`` header. A cross-site form or a
  ``text/plain`` / body-less post (``/api/jobs/ID/cancel``) is refused with 403.
* **Headers.** Every response says ``X-Frame-Options: DENY``, ``X-Content-Type-Options: nosniff``,
  ``Referrer-Policy: same-origin`` and a ``Content-Security-Policy`` that allows this server's
  own scripts and styles only (the API docs also load Swagger UI from its CDN).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable, Iterable
from urllib.parse import urlsplit

from fastapi import FastAPI, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse

__all__ = ["CSP", "DOCS_CSP", "LOOPBACK_NAMES", "install_request_guard", "normal_host"]

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
       "frame-ancestors 'none'")
DOCS_CSP = ("default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
            "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
            "img-src 'self' data: https://fastapi.tiangolo.com; connect-src 'self'; "
            "object-src 'none'; base-uri 'none'; frame-ancestors 'none'")
_HEADERS = {"X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "same-origin"}


def normal_host(value: str) -> str:
    """A host name without port or IPv6 brackets, lower case: ``[::1]:8000`` → ``::1``."""
    text = value.strip().lower()
    if text.startswith("["):
        return text[1:].split("]", 1)[0]
    if text.count(":") == 1:
        text = text.split(":", 1)[0]
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return text.rstrip(".")


def _is_api(path: str) -> bool:
    from relpredict.api.auth import is_api_path

    return is_api_path(path)


def _refuse(request: Request, status: int, message: str) -> Response:
    if _is_api(request.url.path):
        return JSONResponse({"detail": message, "errors": {}}, status_code=status)
    from html import escape

    return HTMLResponse(f"<!doctype html><title>Refused</title><p>{escape(message)}</p>",
                        status_code=status)


def _netloc(url: str) -> str | None:
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    return parts.netloc.lower() if parts.scheme in ("http", "https") and parts.netloc else None


def _origin_problem(request: Request) -> str | None:
    """Why a state-changing request may come from another site, or None when it is fine."""
    own = request.headers.get("host", "").strip().lower()
    origin = request.headers.get("origin")
    if origin is not None:
        if _netloc(origin) == own:
            return None
        return (f"This request comes from the web page at {origin!r}, not from this server "
                f"({own}): relpredict accepts changes only from its own pages or from scripts. "
                "Open the page on this server, or call the API without an Origin header.")
    referer = request.headers.get("referer")
    if referer is not None:
        if _netloc(referer) == own:
            return None
        return (f"This request was sent from the page {referer!r}, not from this server ({own}): "
                "relpredict accepts changes only from its own pages or from scripts.")
    kind = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if kind == "application/json" or "authorization" in request.headers:
        return None
    shown = kind or "no body"
    return (f"A {request.method} with {shown} and neither an Origin nor a Referer header could have "
            "been sent by any web page, so it is refused: scripts send it with the header "
            "'Content-Type: application/json' (a body of {} will do) or with a token in "
            "'Authorization: Bearer TOKEN'.")


def install_request_guard(app: FastAPI, hosts: Iterable[str]) -> None:
    """Check Host (always) and Origin (state-changing requests), and add the security headers.

    Install it after every other middleware, so it runs first and its headers reach every answer.
    """
    allowed = frozenset(normal_host(h) for h in (*LOOPBACK_NAMES, *hosts) if h and h.strip())
    app.state.allowed_hosts = allowed

    @app.middleware("http")
    async def _guard(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        host = request.headers.get("host", "")
        if normal_host(host) not in allowed:
            names = ", ".join(sorted(allowed))
            response = _refuse(request, 421, (
                f"This server does not answer to the name {host!r}: it was started for {names}. "
                "Open it by one of those names, or start it with --allow-host NAME."))
        elif request.method in UNSAFE_METHODS and (problem := _origin_problem(request)):
            response = _refuse(request, 403, problem)
        else:
            response = await call_next(request)
        for name, value in _HEADERS.items():
            response.headers.setdefault(name, value)
        docs = request.url.path.startswith(("/docs", "/redoc"))
        response.headers.setdefault("Content-Security-Policy", DOCS_CSP if docs else CSP)
        return response
