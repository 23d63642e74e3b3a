"""``relpredict connector …``: named connections to S3, Snowflake and BigQuery.

Secrets are given as references (``--secret password=env:SNOWFLAKE_PASSWORD`` or
``--secret private_key=file:/path/key.p8``) and read only when a connection opens; the workspace
stores the reference, never the secret.
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table as RichTable

from relpredict.cli.console import make_console
from relpredict.errors import ConfigError
from relpredict.workspace import Workspace

app = typer.Typer(help="Connections to S3, Snowflake and BigQuery: add, list, test, remove.",
                  no_args_is_help=True)

HOME = typer.Option(None, "--home", help="Workspace folder (default: $RELPREDICT_HOME or ./.relpredict).")
NAME = typer.Argument(..., help="The connector's name (letters, digits, '_', '-').")


def _pairs(values: list[str] | None, option: str, secret: bool = False) -> dict[str, str]:
    """``KEY=VALUE`` options as a dict; a malformed one is named (a secret's value never is)."""
    out: dict[str, str] = {}
    for item in values or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            shown = "a value without KEY=" if secret else repr(item)
            raise ConfigError(f"{option} takes KEY=VALUE, not {shown}: e.g. {option} "
                              + ("password=env:SNOWFLAKE_PASSWORD." if secret else "account=acme."))
        out[key.strip()] = value.strip()
    return out


@app.command("add")
def add(
    name: str = NAME,
    kind: str = typer.Option(..., "--kind", help="s3, snowflake or bigquery."),
    settings: list[str] | None = typer.Option(None, "--set", help="A non-secret setting KEY=VALUE, e.g. account=acme (repeatable)."),
    secrets: list[str] | None = typer.Option(None, "--secret", help="A secret reference NAME=env:VAR or NAME=file:/path, e.g. password=env:SNOWFLAKE_PASSWORD (repeatable)."),
    replace: bool = typer.Option(False, "--replace", help="Overwrite a connector of the same name."),
    home: Path | None = HOME,
) -> None:
    """Add a connector: settings are stored, secrets only as references."""
    from relpredict.connectors import Connector, add_connector

    connector = Connector(name, kind.strip().lower(), _pairs(settings, "--set"),
                          _pairs(secrets, "--secret", secret=True))
    saved = add_connector(Workspace.open(home), connector, replace=replace)
    make_console().print(f"Added {saved.kind} connector [bold]{escape(saved.name)}[/bold]. Check it with "
                         f"[bold]relpredict connector test {escape(saved.name)}[/bold].", highlight=False)


@app.command("list")
def list_(home: Path | None = HOME) -> None:
    """List the connectors: kind, settings and secret references (never secret values)."""
    from relpredict.connectors import list_connectors

    table = RichTable("Connector", "Kind", "Settings", "Secrets (references)")
    for c in list_connectors(Workspace.open(home)):
        table.add_row(escape(c.name), c.kind,
                      escape(", ".join(f"{k}={v}" for k, v in sorted(c.settings.items()))),
                      escape(", ".join(f"{k}={v}" for k, v in sorted(c.secrets.items()))))
    make_console().print(table)


@app.command("test")
def test(
    name: str = NAME,
    bucket: str | None = typer.Option(None, "--bucket", help="S3: list this bucket (default: list the buckets)."),
    home: Path | None = HOME,
) -> None:
    """Open a connection with the connector and make one cheap call."""
    from relpredict.connectors import get_connector, test_connector

    connector = get_connector(Workspace.open(home), name)
    options = {"bucket": bucket} if bucket else {}
    report = test_connector(connector, options)
    make_console().print(f"Connector [bold]{escape(name)}[/bold] works: {escape(report)}", highlight=False)


@app.command("remove")
def remove(name: str = NAME, home: Path | None = HOME) -> None:
    """Forget a connector."""
    from relpredict.connectors import remove_connector

    remove_connector(Workspace.open(home), name)
    make_console().print(f"Removed connector {escape(name)}.", highlight=False)
