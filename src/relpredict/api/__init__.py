"""The REST API and the web pages of ``relpredict serve``.

:func:`create_app` builds one FastAPI application: JSON endpoints under ``/api`` (OpenAPI schema at
``/docs``), server-rendered pages from :mod:`relpredict.web`, and an optional access token that
guards both. Route handlers only translate HTTP to calls of :mod:`relpredict.service` /
:mod:`relpredict.jobs` and back; errors become 4xx responses with the CLI's messages.
"""

from __future__ import annotations

from relpredict.api.app import create_app

__all__ = ["create_app"]
