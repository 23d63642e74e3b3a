"""The destination interface every sink implements: local files, S3, Snowflake, BigQuery.

A job's outputs reach a destination in two steps, so that a job killed at any moment can be
resumed without losing or doubling a row:

1. **Staging.** Each shard's worker writes its tables with :meth:`JobSink.write_shard` and then
   :meth:`JobSink.mark_done`; both are atomic (write, then rename), and a shard counts as done only
   once its marker exists. Workers write straight to the staging area, never through the
   coordinator, so the same shard function can run on another machine.
2. **Publishing.** The coordinator streams the staged shards, in shard order, into the final
   file(s) or table(s) with :meth:`JobSink.publish`; a reader never sees a partial file. The
   manifest (:meth:`JobSink.write_manifest`) is written last and marks success.

A sink is made from a picklable :class:`SinkSpec` by :func:`relpredict.sinks.open_sink`, in any
process. It is composed of a :class:`Staging` (where workers put shards: a local folder,
:class:`relpredict.sinks.localfs.LocalStaging`, or an S3 prefix) and the backend's own publishing
and manifest; the staging methods of :class:`JobSink` hand over to its ``staging``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import pyarrow as pa

from relpredict.sinks.naming import AnyDestination, job_destinations, output_destinations

if TYPE_CHECKING:
    from relpredict.connectors import Connector

__all__ = ["JobSink", "OutputFile", "SinkSpec", "Staging"]


@dataclass(frozen=True)
class SinkSpec:
    """Everything a process needs to open a job's sink: picklable plain data, never secrets.

    ``workspace_home`` lets a sink look up its connector (:mod:`relpredict.connectors`) in any
    process; the connector's secrets are read from their references only when a connection opens.
    """

    job_id: str
    destination: AnyDestination
    output_types: tuple[str, ...]
    workspace_home: str | None = None

    @property
    def connector(self) -> str | None:
        """The workspace connector of the destination, if it names one."""
        return getattr(self.destination, "connector", None)

    def targets(self) -> dict[str, AnyDestination]:
        """Where each output type goes (Kumo's ``<name>_predictions`` naming when there are two)."""
        return output_destinations(self.destination, self.output_types)

    def target(self, output: str) -> AnyDestination:
        """Where ``output`` goes: an output type's place, or (``errors``) the errors output's."""
        return job_destinations(self.destination, self.output_types)[output]

    def load_connector(self) -> Connector | None:
        """The destination's connector from the workspace (``None`` when it names none)."""
        if self.connector is None:
            return None
        from relpredict.connectors import get_connector
        from relpredict.errors import ConfigError
        from relpredict.workspace import Workspace

        connector = get_connector(Workspace.open(self.workspace_home), self.connector)
        kind = getattr(self.destination, "scheme", None)
        if connector.kind != kind:
            raise ConfigError(f"The connector {connector.name!r} is of kind {connector.kind}, but this "
                              f"destination needs one of kind {kind}: give a {kind} connector.")
        return connector

    def require_connector(self, backend: str, example: str) -> Connector:
        """The destination's connector, which a table destination must name (``example`` shows how)."""
        connector = self.load_connector()
        if connector is None:
            from relpredict.errors import ConfigError

            raise ConfigError(f"The {backend} destination of job {self.job_id} names no connector: "
                              f"give {example}.")
        return connector

    def job_folder(self, backend: str) -> Path:
        """The job's folder in its workspace (where a table destination stages its output)."""
        if self.workspace_home is None:
            from relpredict.errors import ConfigError

            raise ConfigError(f"Job {self.job_id} has no workspace to stage its {backend} output in.")
        return Path(self.workspace_home) / "artifacts" / "jobs" / self.job_id


@dataclass(frozen=True)
class OutputFile:
    """One published file (or table) and what is in it."""

    path: str
    rows: int
    bytes: int


class Staging(Protocol):
    """Where workers put a job's shards until the coordinator publishes them.

    Each shard's table per output and its done marker are written atomically; a shard counts as
    done only once its marker exists. Rewriting a shard replaces it whole.
    """

    def write_shard(self, shard: int, output: str, table: pa.Table) -> None: ...
    def mark_done(self, shard: int, info: dict[str, Any]) -> None: ...
    def done_shards(self) -> dict[int, dict[str, Any]]: ...
    def read_shard(self, shard: int, output: str, columns: list[str] | None = None,
                   ) -> Iterator[pa.RecordBatch]: ...
    def shard_schema(self, shard: int, output: str) -> pa.Schema: ...
    def discard(self) -> None: ...


class JobSink(ABC):
    """A job's destination: a :class:`Staging` plus the backend's publishing and manifest.

    Each method states the contract every backend keeps (``tests/sinks/contract.py`` checks it).
    """

    def __init__(self, spec: SinkSpec, staging: Staging) -> None:
        self.spec = spec
        self.staging = staging

    @property
    def streams(self) -> bool:
        """Whether :meth:`publish` may run while shards are still being scored: true when nothing
        of an output appears (and no earlier output or manifest changes) until ``publish``
        returns, so a publish that is abandoned mid-way leaves the destination as it was. A
        backend that replaces or appends to a table, or rolls part files, says no."""
        return False

    def write_shard(self, shard: int, output: str, table: pa.Table) -> None:
        """Stage ``table`` as shard ``shard`` of ``output``, atomically; rewriting replaces it."""
        self.staging.write_shard(shard, output, table)

    def mark_done(self, shard: int, info: dict[str, Any]) -> None:
        """Record (atomically) that every output of ``shard`` is staged; ``info`` is JSON data."""
        self.staging.mark_done(shard, info)

    def done_shards(self) -> dict[int, dict[str, Any]]:
        """Shard number → the ``info`` of its done marker, for every shard marked done."""
        return self.staging.done_shards()

    def read_shard(self, shard: int, output: str, columns: list[str] | None = None,
                   ) -> Iterator[pa.RecordBatch]:
        """The staged batches of one shard's output (only ``columns`` when given)."""
        return self.staging.read_shard(shard, output, columns)

    def shard_schema(self, shard: int, output: str) -> pa.Schema:
        """The schema of a staged shard's output (every shard of an output has the same one)."""
        return self.staging.shard_schema(shard, output)

    @abstractmethod
    def publish(self, output: str, schema: pa.Schema, batches: Iterable[pa.RecordBatch],
                on_batch: Callable[[pa.RecordBatch], None] | None = None) -> list[OutputFile]:
        """Stream ``batches`` into the final file(s) of ``output``; each appears only when complete.

        ``on_batch`` sees every batch as it is written (for the sample and the summary).
        """

    @abstractmethod
    def write_manifest(self, manifest: dict[str, Any]) -> str:
        """Write the manifest (atomically, last of all); return where it is."""

    @abstractmethod
    def read_manifest(self) -> dict[str, Any] | None:
        """The manifest of this job at the destination, or ``None`` when there is none yet."""

    def discard_staging(self) -> None:
        """Remove the staging area (after the manifest is written)."""
        self.staging.discard()
