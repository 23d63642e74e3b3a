"""The access token: when the server has one, every request must carry it.

A script sends ``Authorization: Bearer TOKEN``. A browser opens any page once with ``?token=TOKEN``:
the server answers with an HttpOnly, SameSite=Strict cookie and redirects to the same page without
the token (a path of this server only, never another site), so the token leaves the address bar and scripts on the page cannot read it. Tokens are
compared in constant time.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from urllib.parse import urlencode

from fastapi import FastAPI, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse

__all__ = ["COOKIE", "install_token_guard", "is_api_path", "local_path"]

COOKIE = "relpredict_token"
MESSAGE = ("This relpredict server needs its access token: send the header 'Authorization: Bearer "
           "TOKEN', or open /?token=TOKEN once in the browser.")


def is_api_path(path: str) -> bool:
    """Whether a path answers JSON (the API and its schema) rather than a page."""
    return path.startswith(("/api/", "/docs", "/openapi.json", "/redoc")) or path == "/api"


def _same(given: str | None, token: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), token.encode())


def _bearer(request: Request) -> str | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" else None


def _denied(request: Request) -> Response:
    if is_api_path(request.url.path):
        return JSONResponse({"detail": MESSAGE, "errors": {}}, status_code=401,
                            headers={"WWW-Authenticate": "Bearer"})
    return HTMLResponse(f"<!doctype html><title>Access token needed</title><p>{MESSAGE}</p>",
                        status_code=401)


def _enter_with_cookie(request: Request, token: str) -> Response:
    """``?token=`` was right: set the cookie and go to the same URL without the token."""
    query = urlencode([(k, v) for k, v in request.query_params.multi_items() if k != "token"])
    target = local_path(request.url.path) + (f"?{query}" if query else "")
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(COOKIE, token, httponly=True, samesite="strict", path="/")
    return response


def local_path(path: str) -> str:
    """``path`` when it is a path of this server; ``/`` for anything a browser could read as
    another site (``//evil.example``, ``/\\evil.example``, a scheme, control characters)."""
    if (not path.startswith("/") or path.startswith(("//", "/\\")) or "\\" in path
            or any(ord(ch) < 32 or ch == "\x7f" for ch in path) or "://" in path):
        return "/"
    return path


def install_token_guard(app: FastAPI, token: str | None) -> None:
    """Require ``token`` on every request of ``app`` (nothing to do when it is None)."""
    if not token:
        return

    @app.middleware("http")
    async def _guard(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        if "token" in request.query_params and request.method == "GET":
            if _same(request.query_params["token"], token):
                return _enter_with_cookie(request, token)
            return _denied(request)
        if _same(_bearer(request), token) or _same(request.cookies.get(COOKIE), token):
            return await call_next(request)
        return _denied(request)
