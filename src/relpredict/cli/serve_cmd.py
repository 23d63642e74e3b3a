"""``relpredict serve``: the REST API, the web pages and detached job runners on one port.

Binds 127.0.0.1 by default. Any other address is reachable from other machines, so it needs an
access token (``--token`` or ``RELPREDICT_TOKEN``); with a token, every request must carry it.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path

import typer

from relpredict.cli.console import make_console
from relpredict.errors import ConfigError
from relpredict.workspace import Workspace

TOKEN_ENV = "RELPREDICT_TOKEN"


def is_loopback(host: str) -> bool:
    """Whether ``host`` is reachable from this machine only (127.0.0.0/8, ::1, localhost)."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(host: str, token: str | None) -> None:
    """Refuse a non-loopback address without a token: anyone on the network could run jobs."""
    if not is_loopback(host) and not (token or "").strip():
        raise ConfigError(f"Serving on {host} makes relpredict reachable from other machines: give an "
                          f"access token with --token TOKEN or {TOKEN_ENV}=TOKEN (every request must "
                          "then carry it), or bind 127.0.0.1.")


def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind; other than loopback needs a token."),
    port: int = typer.Option(8000, "--port", help="Port to listen on."),
    home: Path | None = typer.Option(None, "--home", help="Workspace folder (default: $RELPREDICT_HOME or ./.relpredict)."),
    token: str | None = typer.Option(None, "--token", envvar=TOKEN_ENV, show_envvar=True,
                                     help="Access token every request must carry (Bearer header, or open /?token=TOKEN once)."),
) -> None:
    """Serve the web app and the REST API (docs at /docs); jobs run in background processes."""
    import uvicorn

    from relpredict.api import create_app

    check_bind(host, token)
    ws = Workspace.open(home)
    app = create_app(ws, token=(token or "").strip() or None)
    shown = f"[{host}]" if ":" in host else host
    hint = "?token=…" if token else ""
    make_console().print(f"relpredict serving workspace {ws.home} on http://{shown}:{port}/{hint} "
                         f"(API docs at /docs). Ctrl-C stops the server; running jobs go on.",
                         highlight=False)
    uvicorn.run(app, host=host, port=port, log_level="warning")
