"""Plain-data views of workflows and jobs: what ``job list`` prints, ``/api/jobs`` returns and the
pages show. Pure functions of records and settings (no workspace, no files), so they are tested
as dicts; :mod:`relpredict.service.jobs` loads what they read.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from relpredict.jobs import JobProgress, store
from relpredict.jobs.settings import MAX_WORKERS, DataRange, TaskInfo
from relpredict.query.bound import TaskType


def iso(value: datetime | None) -> str | None:
    """A time as the dialog shows it (``2024-06-30 00:00:00``), or None."""
    return value.isoformat(sep=" ") if value else None


def task_settings(task: TaskInfo) -> list[str]:
    """The per-task settings that apply to this task type (the others are refused)."""
    out = []
    if task.task_type in (TaskType.binary, TaskType.multilabel):
        out.append("threshold")
    if task.task_type in (TaskType.multiclass, TaskType.multilabel):
        out.append("num_classes")
    if task.task_type is TaskType.link_prediction:
        out.append("top_k")
    return out


def task_form(model_ref: str, query_text: str, task: TaskInfo, data: DataRange) -> dict[str, Any]:
    """What the job dialog offers for a model's task: defaults, the data's range, its settings."""
    return {
        "model_ref": model_ref, "query": query_text, "task_type": task.task_type.value,
        "is_temporal": task.is_temporal,
        "default_anchor_time": iso(data.end) if task.is_temporal else None,
        "data_start": iso(data.start), "data_end": iso(data.end),
        "task_settings": task_settings(task), "max_workers": MAX_WORKERS,
        "default_top_k": task.rank_top if task.task_type is TaskType.link_prediction else None,
        "num_classes": task.num_classes,
    }


def job_row(rec: store.JobRecord) -> dict[str, Any]:
    """A job's short view (one line of ``job list``)."""
    return {"id": rec.id, "workflow": rec.workflow, "model": rec.model_ref,
            "status": rec.status.value, "stage": rec.stage.value,
            "entities_total": rec.entities_total, "created_at": rec.created_at,
            "ended_at": rec.ended_at}


def progress_view(p: JobProgress) -> dict[str, Any]:
    """A job's progress, overall and per worker."""
    return {"entities_done": p.entities_done, "entities_total": p.entities_total,
            "fraction": p.fraction, "shards_done": p.shards_done, "shards_total": p.shards_total,
            "eta_seconds": p.eta_seconds, "elapsed_seconds": p.elapsed_seconds,
            "workers": [{"worker": w.worker, "entities_done": w.entities_done,
                         "entities_total": w.entities_total, "error": w.error} for w in p.workers]}
