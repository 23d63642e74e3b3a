"""Errors a server must tell apart: each keeps the library's message, only its class is added.

A lookup by name raises the library's ``ConfigError`` whether the name is unknown or a value is
bad; a server answers the first with 404 and the second with 4xx of another kind, so the service
re-raises lookups as :class:`NotFoundError` and state conflicts as :class:`ConflictError`, with
the very message the CLI prints::

    RelpredictError
    ├── NotFoundError       no workflow / job / model / graph / connector of that name
    ├── ConflictError       the job's state forbids the action (cancel a finished job, ...)
    └── ConfigError
        └── SettingsError   job settings are invalid; ``errors`` maps each field to its message
"""

from __future__ import annotations

from relpredict.errors import ConfigError, RelpredictError

__all__ = ["ConflictError", "NotFoundError", "SettingsError"]

GENERAL = "_"
"""The key of :attr:`SettingsError.errors` for a problem no single field explains."""


class NotFoundError(RelpredictError):
    """Nothing of that name or id exists in the workspace."""


class ConflictError(RelpredictError):
    """The action does not fit the current state of the job."""


class SettingsError(ConfigError):
    """Invalid job settings: ``errors`` maps a field name (or ``"_"``) to the CLI's message."""

    def __init__(self, errors: dict[str, str]) -> None:
        self.errors = dict(errors)
        super().__init__(next(iter(self.errors.values()), "The job settings are invalid."))
