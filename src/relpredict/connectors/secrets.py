"""Reading a connector's secrets at the moment a connection opens, never earlier, never stored.

Errors say which secret of which connector could not be read and from which reference (the name of
a variable or a path is not secret); they never carry the secret's value.
"""

from __future__ import annotations

import os
from pathlib import Path

from relpredict.connectors.model import Connector, SecretRef, parse_secret_ref
from relpredict.errors import ConfigError

__all__ = ["resolve_secret", "resolve_secrets"]


def resolve_secret(connector: str, name: str, ref: SecretRef | str) -> str:
    """The value behind one reference: the variable's value, or the file's text (trailing newline
    stripped, as editors add one)."""
    parsed = ref if isinstance(ref, SecretRef) else parse_secret_ref(name, ref)
    where = f"The secret {name!r} of connector {connector!r} refers to {parsed}"
    if parsed.kind == "env":
        value = os.environ.get(parsed.target)
        if value is None or value == "":
            raise ConfigError(f"{where}, which is not set (or empty) in this environment: set "
                              f"{parsed.target} where relpredict runs, or change the reference.")
        return value
    try:
        return Path(parsed.target).read_text().rstrip("\r\n")
    except OSError as err:
        raise ConfigError(f"{where}, which cannot be read ({err.strerror or type(err).__name__}): "
                          "check the path and its permissions.") from None


def resolve_secrets(connector: Connector) -> dict[str, str]:
    """Every secret of ``connector``, read now from its environment variable or file."""
    return {name: resolve_secret(connector.name, name, ref)
            for name, ref in connector.secret_refs().items()}
