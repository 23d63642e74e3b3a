"""Thin service functions the REST API and the web pages call, over :mod:`relpredict.jobs`.

The jobs package is the service layer of workflows and jobs; what lives here is only what a server
needs on top of it and the CLI does not: lookups that tell "not found" from "invalid"
(:mod:`.errors`), settings checks that name the field at fault, the sample as a byte stream,
catalog views that never carry secrets, and the recovery of jobs orphaned by a stopped server.
"""

from __future__ import annotations

from relpredict.errors import ConflictError, NotFoundError, SettingsError

__all__ = ["ConflictError", "NotFoundError", "SettingsError"]
