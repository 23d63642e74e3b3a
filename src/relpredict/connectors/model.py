"""What a connector is and which settings and secrets each kind takes. Pure: no I/O.

Settings are plain values kept in the workspace. Secrets are *references* (``env:VAR`` or
``file:/path``): anything else is refused, because a value given where a reference belongs would
otherwise end up in the metadata database. Errors about a secret name the secret and, at most,
its reference, never the text the user gave (it may be the secret itself).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from relpredict.errors import ConfigError
from relpredict.suggest import did_you_mean

KINDS = ("s3", "snowflake", "bigquery")

# Non-secret settings each kind accepts; the first tuple holds the required ones.
SETTINGS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "s3": ((), ("endpoint_url", "region", "profile")),
    "snowflake": (("account", "user"),
                  ("role", "warehouse", "database", "schema", "host", "port", "protocol",
                   "authenticator")),
    "bigquery": (("project",), ("dataset", "location", "api_endpoint")),
}

# Secret names each kind accepts (each is a reference, never a value).
SECRETS: dict[str, tuple[str, ...]] = {
    "s3": ("aws_access_key_id", "aws_secret_access_key", "aws_session_token"),
    "snowflake": ("password", "private_key", "private_key_passphrase", "token"),
    "bigquery": ("credentials_file", "token"),
}

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$")
_ENV_VAR = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

__all__ = ["KINDS", "SECRETS", "SETTINGS", "Connector", "SecretRef", "parse_secret_ref",
           "validate_connector"]


@dataclass(frozen=True)
class SecretRef:
    """Where a secret lives: ``kind`` is ``env`` or ``file``; ``target`` the variable or path."""

    kind: str
    target: str

    def __str__(self) -> str:
        return f"{self.kind}:{self.target}"


@dataclass(frozen=True)
class Connector:
    """A named connection: ``kind`` (s3 | snowflake | bigquery), settings, secret references."""

    name: str
    kind: str
    settings: dict[str, Any] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)

    def secret_refs(self) -> dict[str, SecretRef]:
        """Each secret's parsed reference."""
        return {name: parse_secret_ref(name, ref) for name, ref in self.secrets.items()}


def parse_secret_ref(name: str, ref: str) -> SecretRef:
    """``env:VAR`` or ``file:/path`` → a :class:`SecretRef`; anything else is refused.

    The message never repeats ``ref``: a user who typed the secret itself must not see it echoed
    into a terminal log or a job record.
    """
    text = (ref or "").strip()
    kind, sep, target = text.partition(":")
    kind = kind.lower()
    if sep and kind == "env" and _ENV_VAR.match(target):
        return SecretRef("env", target)
    if sep and kind == "file" and target.strip():
        return SecretRef("file", str(Path(target.strip()).expanduser().absolute()))
    raise ConfigError(f"The secret {name!r} must be a reference, env:VARIABLE or file:/path/to/file, "
                      "not a value: relpredict never stores secrets. Put the secret in an environment "
                      f"variable or a file and give e.g. --secret {name}=env:MY_{name.upper()}.")


def _refuse_url_credentials(kind: str, key: str, value: str) -> None:
    """A URL setting with ``user:password@`` would keep a secret in plain text: refuse it (without
    repeating it) and point to ``--secret``."""
    if "://" not in value:
        return
    scheme, rest = value.split("://", 1)
    authority = rest.split("/", 1)[0]
    if "@" not in authority:
        return
    host = authority.rsplit("@", 1)[1]
    secrets = " ".join(f"--secret {n}=env:VAR" for n in SECRETS[kind][:2]) or "--secret NAME=env:VAR"
    raise ConfigError(f"The setting {key} holds credentials inside its URL ({scheme}://…@{host}): "
                      "they would be stored and shown in plain text. Remove them from the URL "
                      f"and give them as secret references instead, e.g. {secrets}.")


def validate_connector(connector: Connector) -> Connector:
    """Check the name, kind, settings and secret references; return it with references normalised."""
    if not _NAME.match(connector.name or ""):
        raise ConfigError(f"The connector name {connector.name!r} must start with a letter or digit and "
                          "use only letters, digits, '_' and '-' (at most 63 characters).")
    if connector.kind not in KINDS:
        raise ConfigError(f"Unknown connector kind {connector.kind!r}:{did_you_mean(connector.kind, KINDS)} "
                          f"Choose one of {', '.join(KINDS)}.")
    required, optional = SETTINGS[connector.kind]
    allowed = required + optional
    for key in connector.settings:
        if key not in allowed:
            raise ConfigError(f"A {connector.kind} connector has no setting {key!r}."
                              f"{did_you_mean(key, allowed)} Its settings are {', '.join(allowed)}.")
    missing = [k for k in required if not str(connector.settings.get(k) or "").strip()]
    if missing:
        raise ConfigError(f"A {connector.kind} connector needs the setting(s) {', '.join(missing)}: "
                          f"give --set {missing[0]}=VALUE.")
    for key, value in connector.settings.items():
        _refuse_url_credentials(connector.kind, key, str(value or ""))
    names = SECRETS[connector.kind]
    for key in connector.secrets:
        if key not in names:
            raise ConfigError(f"A {connector.kind} connector has no secret {key!r}."
                              f"{did_you_mean(key, names)} Its secrets are {', '.join(names)}.")
    refs = {k: str(parse_secret_ref(k, v)) for k, v in connector.secrets.items()}
    return Connector(connector.name, connector.kind, dict(connector.settings), refs)
