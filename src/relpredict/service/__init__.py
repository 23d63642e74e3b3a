"""The one service layer the CLI, the REST API and the web pages call.

:mod:`.jobs`: workflows and jobs (create, check settings, run here or detached, cancel, resume,
plain-data views, recovery of jobs orphaned by a stopped server); :mod:`.catalog`: read-only views
of graphs, models and connectors (secrets by name only); :mod:`.forms`: the job dialog's values as
the CLI's settings; :mod:`.download`: a job's sample as a byte stream. Errors are the library's own
(:mod:`relpredict.errors`), re-exported here.
"""

from __future__ import annotations

from relpredict.errors import ConflictError, NotFoundError, SettingsError

__all__ = ["ConflictError", "NotFoundError", "SettingsError"]
