"""Batch prediction: workflows of a trained model, and the jobs that run them.

>>> from relpredict.jobs import Job, Workflow
>>> job = Workflow.get("churn-weekly").run(workers=2, output="out/churn.parquet")  # doctest: +SKIP
>>> job.status(), job.progress().fraction, job.result().summary["backtest"]     # doctest: +SKIP

Owns workflow and job records (:mod:`.store`), their states (:mod:`.status`), settings
(:mod:`.settings`), preparation, the runner and its workers, and the Python objects
:class:`Workflow` and :class:`Job` (:mod:`.workflows`); front ends reach them through
:mod:`relpredict.service`.

A job validates its settings (:mod:`relpredict.jobs.settings`), builds its entity list, scores it
in shards on 1–4 worker processes (:mod:`relpredict.jobs.shards`), publishes the outputs through a
sink (:mod:`relpredict.sinks`), keeps a sample and a summary in the workspace, and writes the
manifest last. A killed job resumes with its finished shards kept (:mod:`relpredict.jobs.runner`).
"""

from __future__ import annotations

from relpredict.jobs.control import JobProgress
from relpredict.jobs.dryrun import DryRun
from relpredict.jobs.settings import JobSettings, RawSettings
from relpredict.jobs.status import CANCELABLE, FINISHED, IN_PROGRESS, RESUMABLE, JobStatus, Stage
from relpredict.jobs.workflows import Job, JobResult, Workflow, create_job

__all__ = ["CANCELABLE", "DryRun", "FINISHED", "IN_PROGRESS", "Job", "JobProgress", "JobResult",
           "JobSettings", "JobStatus", "RESUMABLE", "RawSettings", "Stage", "Workflow", "create_job"]
