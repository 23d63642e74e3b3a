"""The one error tree of relpredict.

Every error a user can meet is a ``RelpredictError``; its message says what was wrong, where,
and what to do. Each is raised where the problem is found, with its own class, so that a caller
never has to catch one error to re-raise it as another. The CLI prints the message without a
traceback and exits non-zero; the REST API answers with the same text and the status in brackets.

::

    RelpredictError                                                                    (400)
    ├── ConfigError            bad settings, options or YAML
    │   ├── SettingsError          job settings are invalid; ``errors`` maps field → message (422)
    │   ├── NotFoundError          no workflow / job / model / graph / connector of that name (404)
    │   └── ConflictError          the job's state forbids the action (cancel a finished job)  (409)
    ├── DataError              a table's data cannot be read or is unusable
    ├── DestinationError       S3, Snowflake or BigQuery failed or refused a request          (502)
    ├── GraphError             tables and links that do not form a valid graph
    │   └── GraphValidationError   validation found errors (carries the findings)
    ├── QueryError             a predictive query is malformed or does not fit the graph
    │   ├── QuerySyntaxError       the text does not parse (line, column, underline)
    │   └── QueryBindError         the query parses but does not fit the graph
    └── WorkspaceError         the workspace (metadata database, artifacts) is unusable

``SettingsError``, ``NotFoundError`` and ``ConflictError`` are ``ConfigError`` s: each is a value the
user gave (a name, a setting, an action) that cannot be used, and code that catches
``ConfigError`` keeps catching them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from relpredict.graph.validate import Finding


class RelpredictError(Exception):
    """Base of every error relpredict raises on purpose."""


class ConfigError(RelpredictError):
    """Settings, command-line options or a YAML file are invalid."""


GENERAL = "_"
"""The key of :attr:`SettingsError.errors` for a problem no single field explains."""


class SettingsError(ConfigError):
    """Invalid job settings: ``errors`` maps a field name (or ``"_"``) to its message.

    The message of the error itself is the first field's (what the CLI prints).
    """

    def __init__(self, errors: dict[str, str]) -> None:
        self.errors = dict(errors)
        super().__init__(next(iter(self.errors.values()), "The job settings are invalid."))


class NotFoundError(ConfigError):
    """Nothing of that name or id exists in the workspace."""


class ConflictError(ConfigError):
    """The action does not fit the current state of the job."""


class DataError(RelpredictError):
    """A table's data cannot be read or cannot be used as declared."""


class DestinationError(RelpredictError):
    """A destination (S3, Snowflake, BigQuery) failed or refused a request; its text never holds
    a secret. A server answers 502: the fault is in the service behind relpredict."""


class GraphError(RelpredictError):
    """Tables and links do not form a valid graph."""


class GraphValidationError(GraphError):
    """Validation of a graph found errors; ``findings`` holds every finding (errors and warnings)."""

    def __init__(self, findings: Sequence[Finding]) -> None:
        self.findings = list(findings)
        errors = [f for f in self.findings if f.severity == "error"]
        lines = [f"The graph has {len(errors)} validation error(s):"]
        lines += [f"  - {f.message}" for f in errors]
        super().__init__("\n".join(lines))


class QueryError(RelpredictError):
    """A predictive query is malformed or does not fit the graph.

    ``line`` and ``col`` (1-based) point at the offending text when known; ``length`` is the
    number of characters underlined.
    """

    def __init__(
        self,
        message: str,
        *,
        query: str | None = None,
        line: int | None = None,
        col: int | None = None,
        length: int = 1,
        **context: Any,
    ) -> None:
        self.description = message
        self.query = query
        self.line = line
        self.col = col
        self.length = max(1, length)
        self.context = context
        super().__init__(self._render())

    def _render(self) -> str:
        if self.line is None or self.col is None:
            return self.description
        head = f"{self.description} Line {self.line}, Col: {self.col}."
        if not self.query:
            return head
        lines = self.query.splitlines() or [""]
        text = lines[self.line - 1] if 0 < self.line <= len(lines) else ""
        marker = " " * (self.col - 1) + "~" * self.length
        return f"{head}\n  {text}\n  {marker}"


class QuerySyntaxError(QueryError):
    """The query text does not parse."""


class QueryBindError(QueryError):
    """The query parses but names tables or columns, windows or types that do not fit the graph."""


class WorkspaceError(RelpredictError):
    """The workspace (metadata database or artifacts folder) cannot be used."""


class ArtifactError(WorkspaceError):
    """A stored model artifact cannot be used (corrupt, incomplete, or from an incompatible
    version); the message names the artifact and says to retrain."""
