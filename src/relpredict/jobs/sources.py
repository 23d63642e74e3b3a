"""A job's source tables: the graph of a job reads its connector tables (S3, Snowflake, BigQuery)
once, when the job is set up, into ``artifacts/jobs/<job>/sources/``; the runner and every shard
worker read that copy, a resume scores from the same snapshot, and the copy goes when the job
succeeds (:class:`relpredict.sinks.sources.SourceCache`). A settings check and a dry run (no job
yet) fetch for their own look and keep nothing.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from relpredict.graph.graph import Graph
from relpredict.jobs.protocols import JobModel
from relpredict.sinks.network import EVENTS_FILE
from relpredict.sinks.sources import SourceCache
from relpredict.workspace import Workspace

PREVIEW_IDS = ("check", "dry-run")  # the job ids prepare() is given when no job is recorded

__all__ = ["PREVIEW_IDS", "drop_job_sources", "job_graph", "job_sources", "remote_sources",
           "sources_folder"]


def sources_folder(ws: Workspace, job_id: str) -> Path:
    """Where the job keeps its copies of connector tables."""
    return ws.artifacts / "jobs" / job_id / "sources"


def job_sources(ws: Workspace, job_id: str, fetch: bool = True) -> SourceCache:
    """The job's source reader; ``fetch=False`` (shard workers) reads the job's copy only."""
    if job_id in PREVIEW_IDS:
        return SourceCache(ws)
    folder = sources_folder(ws, job_id)
    return SourceCache(ws, folder, fetch, events=folder.parent / EVENTS_FILE)


def job_graph(ws: Workspace, model: JobModel, job_id: str, fetch: bool = True) -> Graph:
    """The model's graph, reading connector tables through the job's copies."""
    graph = model.load_graph()
    graph.sources = job_sources(ws, job_id, fetch)
    return graph


def remote_sources(ws: Workspace, home: str, job_id: str) -> SourceCache:
    """A Dask worker's reader: the job's copies in its workspace folder ``home`` (the
    coordinator's), never the source; ``ws`` is the worker's own (unpacked) workspace."""
    return SourceCache(ws, Path(home) / "artifacts" / "jobs" / job_id / "sources", fetch=False)


def drop_job_sources(ws: Workspace, job_id: str) -> None:
    """Delete the job's copies (it succeeded, or was never recorded)."""
    if job_id not in PREVIEW_IDS:
        shutil.rmtree(sources_folder(ws, job_id), ignore_errors=True)
