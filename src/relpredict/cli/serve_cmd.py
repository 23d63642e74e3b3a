"""``relpredict serve``: the REST API, the web pages and detached job runners on one port.

Binds 127.0.0.1 by default. Any other address is reachable from other machines, so it needs an
access token (``--token`` or ``RELPREDICT_TOKEN``, at least 16 characters); with a token, every
request must carry it. The server answers only to the names it was started for, and jobs it starts
write local outputs only inside ``--output-root`` folders (:mod:`relpredict.api.guard`).
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


MIN_TOKEN = 16
WILDCARDS = ("0.0.0.0", "::", "")


def check_bind(host: str, token: str | None) -> None:
    """Refuse a non-loopback address without a token (anyone on the network could run jobs) or
    with a token shorter than :data:`MIN_TOKEN` characters (it could be guessed)."""
    if is_loopback(host):
        return
    given = (token or "").strip()
    if not given:
        raise ConfigError(f"Serving on {host} makes relpredict reachable from other machines: give an "
                          f"access token with --token TOKEN or {TOKEN_ENV}=TOKEN (every request must "
                          "then carry it), or bind 127.0.0.1.")
    if len(given) < MIN_TOKEN:
        raise ConfigError(f"The access token is {len(given)} characters long; serving on {host} needs "
                          f"at least {MIN_TOKEN} so it cannot be guessed: make one with "
                          "`openssl rand -hex 16`.")


def served_hosts(host: str, allow: list[str]) -> list[str]:
    """The Host names the server answers to besides loopback: ``--host``, each ``--allow-host``,
    and for a wildcard bind (0.0.0.0, ::) this machine's names and interface addresses."""
    names = [host, *allow]
    if host.strip("[]") in WILDCARDS:
        import socket

        import psutil

        names += [socket.gethostname(), socket.getfqdn()]
        names += [a.address.split("%", 1)[0] for addrs in psutil.net_if_addrs().values()
                  for a in addrs if a.family in (socket.AF_INET, socket.AF_INET6)]
    return [n for n in names if n and n.strip("[]") not in WILDCARDS]


def check_output_roots(roots: list[Path]) -> list[Path]:
    """Each ``--output-root`` resolved; one that is a file or missing is refused."""
    out = []
    for root in roots:
        path = root.expanduser().resolve()
        if not path.is_dir():
            what = "is a file" if path.exists() else "does not exist"
            raise ConfigError(f"--output-root {root} {what}: give an existing folder jobs may write "
                              "their outputs in (create it first).")
        out.append(path)
    return out


def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind; other than loopback needs a token."),
    port: int = typer.Option(8000, "--port", min=1, max=65535, help="Port to listen on (1-65535)."),
    home: Path | None = typer.Option(None, "--home", help="Workspace folder (default: $RELPREDICT_HOME or ./.relpredict)."),
    token: str | None = typer.Option(None, "--token", envvar=TOKEN_ENV, show_envvar=True,
                                     help="Access token every request must carry (Bearer header, or open /?token=TOKEN once); at least 16 characters off loopback."),
    output_root: list[Path] = typer.Option([], "--output-root", help="Folder jobs started here may write local outputs in (repeatable; default: the workspace's outputs/ folder and the current folder)."),
    allow_host: list[str] = typer.Option([], "--allow-host", help="Another name this server is reached by (repeatable); other Host headers are refused."),
) -> None:
    """Serve the web app and the REST API (docs at /docs) and start scheduled jobs; jobs run in
    background processes."""
    import uvicorn
    from rich.markup import escape

    from relpredict.api import create_app
    from relpredict.service.schedules import outside_roots

    check_bind(host, token)
    roots = check_output_roots(output_root) if output_root else None
    ws = Workspace.open(home)
    if roots is None:
        from relpredict.api.app import default_output_roots

        roots = default_output_roots(ws)
        roots[0].mkdir(parents=True, exist_ok=True)
    app = create_app(ws, token=(token or "").strip() or None, hosts=served_hosts(host, allow_host),
                     output_roots=roots, scheduler=True)
    shown = f"[{host}]" if ":" in host else host
    hint = "?token=…" if token else ""
    console = make_console()
    for line in outside_roots(ws, roots):
        console.print(f"[yellow]Warning:[/yellow] {escape(line)}", highlight=False)
    console.print(f"relpredict serving workspace {ws.home} on http://{shown}:{port}/{hint} "
                  f"(API docs at /docs); scheduled jobs start while it runs. Ctrl-C stops the server; "
                  "running jobs go on.", highlight=False)
    uvicorn.run(app, host=host, port=port, log_level="warning")
