"""kumoai's ``Trainer``, model plans, training and batch prediction jobs over relpredict's trainer
(:mod:`relpredict.model.fit`), model artifacts and batch jobs (:mod:`relpredict.service.jobs`).

Training runs here (``non_blocking=True``: in a thread of this process); a batch prediction job
is a real relpredict job of a workflow named after the model, run in this process or (with
``non_blocking=True``) in a background runner process of its own, with 1-4 worker processes.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import time
from dataclasses import dataclass, field, fields, replace
from enum import Enum
from typing import Any

import pandas as pd

from relpredict.errors import ConfigError, ConflictError, NotFoundError, RelpredictError
from relpredict.jobs.settings import RawSettings
from relpredict.jobs.status import SUCCESSFUL
from relpredict.jobs.status import JobStatus as RPStatus
from relpredict.kumoai._session import session, unsupported
from relpredict.kumoai.artifact_export.config import OutputConfig
from relpredict.kumoai.connector import (
    BigQueryConnector,
    FileUploadConnector,
    S3Connector,
    SnowflakeConnector,
)
from relpredict.kumoai.graph import Graph
from relpredict.kumoai.plan import ModelPlan
from relpredict.kumoai.pquery import PredictionTable, TrainingTable
from relpredict.service import jobs as service

__all__ = ["BatchPredictionJob", "BatchPredictionJobResult", "BatchPredictionJobSummary", "JobStatus",
           "ModelPlan", "Trainer", "TrainingJob", "TrainingJobResult"]

POLL_SECONDS = 0.5
_THREADS = concurrent.futures.ThreadPoolExecutor(max_workers=2, thread_name_prefix="kumoai")


class JobStatus(str, Enum):
    """Kumo's job states."""

    NOT_STARTED = "NOT_STARTED"
    RUNNING = "RUNNING"
    DONE = "DONE"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"

    @classmethod
    def of(cls, status: RPStatus) -> JobStatus:
        if status in SUCCESSFUL:
            return cls.DONE
        return {RPStatus.QUEUED: cls.NOT_STARTED, RPStatus.RUNNING: cls.RUNNING,
                RPStatus.FAILED: cls.FAILED, RPStatus.CANCELLED: cls.CANCELLED}[status]


# ----------------------------------------------------------------------------------- training
@dataclass(frozen=True)
class TrainingJobResult:
    """A trained model: ``job_id`` is its relpredict reference ``NAME@VERSION``."""

    job_id: str

    @property
    def id(self) -> str:
        return self.job_id

    @property
    def tracking_url(self) -> str:
        return session().page(f"/models/{self.job_id}")

    def _model(self) -> Any:
        from relpredict.model.artifact import load_model

        return load_model(session().workspace, self.job_id)

    def metrics(self) -> dict[str, Any]:
        """The chosen model's validation and test (holdout) metrics; every candidate's are in
        ``relpredict models show NAME@VERSION``."""
        metrics = self._model().metrics
        return {k: metrics[k] for k in ("val", "test") if k in metrics}

    def holdout_df(self) -> pd.DataFrame:
        return unsupported("TrainingJobResult.holdout_df()", "generate the training table "
                           "(pquery.generate_training_table().data_df()) and predict its test rows")

    def launch_online_serving_endpoint(self, *args: Any, **kwargs: Any) -> Any:
        return unsupported("online serving", "run batch prediction jobs (Trainer.predict)")


class TrainingJob:
    """A training run started with ``non_blocking=True`` (or an earlier one, by id)."""

    def __init__(self, job_id: str | None = None, future: concurrent.futures.Future[Any] | None = None) -> None:
        if future is None:
            if job_id is None:
                raise ConfigError("TrainingJob needs a job id (a model reference NAME@VERSION).")
            future = concurrent.futures.Future()
            future.set_result(TrainingJobResult(job_id))
        self._future = future

    @property
    def job_id(self) -> str:
        return self.result().job_id

    id = job_id

    def status(self) -> JobStatus:
        if not self._future.done():
            return JobStatus.RUNNING
        return JobStatus.FAILED if self._future.exception() else JobStatus.DONE

    def result(self) -> TrainingJobResult:
        result: TrainingJobResult = self._future.result()
        return result

    attach = result

    def future(self) -> concurrent.futures.Future[Any]:
        return self._future

    def cancel(self) -> None:
        unsupported("cancelling a training run", "stop the Python process that trains")


def _model_name(query: str) -> str:
    return "pq-" + hashlib.sha256(query.encode()).hexdigest()[:10]


class Trainer:
    """Trains a model for a predictive query and runs batch prediction jobs of it."""

    def __init__(self, model_plan: ModelPlan | None = None) -> None:
        self.model_plan = model_plan or ModelPlan()
        self._training_job_id: str | None = None

    @classmethod
    def load(cls, job_id: str) -> Trainer:
        trainer = cls()
        TrainingJobResult(job_id)._model()  # an unknown reference fails now
        trainer._training_job_id = job_id
        return trainer

    @property
    def is_trained(self) -> bool:
        return self._training_job_id is not None

    def fit(self, graph: Graph, train_table: TrainingTable | Any, non_blocking: bool = False,
            custom_tags: dict[str, str] | None = None, warm_start: Any = None) -> Any:
        """Train on ``graph`` for ``train_table``'s query; the model is saved in the workspace as
        ``custom_tags["model_name"]`` (default ``pq-<hash of the query>``), next version."""
        if warm_start is not None:
            unsupported("Trainer.fit(warm_start=...)", "train again; each run adds a model version")
        table = train_table.result() if hasattr(train_table, "result") else train_table
        name = (custom_tags or {}).get("model_name") or _model_name(table.pquery.query)
        if non_blocking:
            return TrainingJob(future=_THREADS.submit(self._fit, graph, table, name))
        return self._fit(graph, table, name)

    def _fit(self, graph: Graph, table: TrainingTable, name: str) -> TrainingJobResult:
        from relpredict.model.artifact import save_model
        from relpredict.model.fit import train_model

        rp_graph = graph.to_relpredict()
        options = self.model_plan.options()
        options = replace(options, val_start=table.val_start or options.val_start,
                          test_start=table.test_start or options.test_start)
        model = save_model(session().workspace, train_model(rp_graph, table.pquery.query, options), name, rp_graph)
        self._training_job_id = model.ref
        return TrainingJobResult(model.ref)

    def predict(self, graph: Graph, prediction_table: PredictionTable | Any,
                output_config: OutputConfig | None = None, training_job_id: str | None = None,
                binary_classification_threshold: float | None = None,
                num_classes_to_return: int | None = None, num_workers: int = 1,
                non_blocking: bool = False, output_types: set[str] | None = None,
                output_connector: Any = None, output_table_name: str | None = None,
                output_metadata_fields: list[str] | None = None) -> Any:
        """Run a batch prediction job of the trained model (kumoai's ``Trainer.predict``).

        Returns the :class:`BatchPredictionJobResult` (blocking) or a running
        :class:`BatchPredictionJob` (``non_blocking=True``). The model predicts on the graph it
        was trained on, which ``graph`` must describe.
        """
        ref = training_job_id or self._training_job_id
        if ref is None:
            raise ConfigError("Trainer.predict needs a trained model: call fit() first or give "
                              "training_job_id= (a model reference NAME@VERSION).")
        config = output_config or OutputConfig(output_types or {"predictions"}, output_connector,
                                               output_table_name, output_metadata_fields)
        table = prediction_table.result() if hasattr(prediction_table, "result") else prediction_table
        _check_same_graph(graph, ref)
        raw = _settings(table, config, binary_classification_threshold, num_classes_to_return, num_workers)
        ws = session().workspace
        workflow = _workflow(ws, ref)
        job = service.create_job(ws, workflow, raw)
        if non_blocking:
            job.start(detach=True)
            return BatchPredictionJob(job.id)
        job.start(detach=False)
        return BatchPredictionJob(job.id).result()


def _check_same_graph(graph: Graph, ref: str) -> None:
    from relpredict.model.artifact import graph_spec

    recorded = TrainingJobResult(ref)._model().info.get("graph")
    if graph_spec(graph.to_relpredict()) != recorded:
        unsupported("predicting on a graph other than the model's training graph", "relpredict "
                    "jobs read the tables the model was trained on; train a model on the new graph")


def _workflow(ws: Any, ref: str) -> str:
    """The workflow of model ``ref`` (``NAME@VERSION`` → workflow ``NAME-vVERSION``), made once."""
    name = ref.replace("@", "-v")
    try:
        service.find_workflow(ws, name)
    except NotFoundError:
        service.create_workflow(ws, name, ref)
    return name


def _settings(table: PredictionTable, config: OutputConfig, threshold: float | None,
              num_classes: int | None, workers: int) -> RawSettings:
    if config.output_metadata_fields:
        if "metadata_fields" not in {f.name for f in fields(RawSettings)}:
            unsupported("output_metadata_fields", "leave them out")
    output, connector = _destination(config)
    extra: dict[str, Any] = {"metadata_fields": ",".join(config.output_metadata_fields)} if config.output_metadata_fields else {}
    return RawSettings(anchor_time=table.anchor_time, threshold=threshold, num_classes=num_classes,
                       output_types=",".join(config.types()), output=output, connector=connector,
                       workers=workers, **extra)


def _destination(config: OutputConfig) -> tuple[str | None, str | None]:
    """The job's ``--output`` (and ``--connector``) for an output connector and table name."""
    target, name = config.output_connector, config.output_table_name
    if target is None:
        return None, None  # the job's own folder: read with predictions_df()
    if not name:
        raise ConfigError("OutputConfig(output_connector=...) needs output_table_name=.")
    if isinstance(target, S3Connector):
        if target.root_dir is None:
            raise ConfigError("An S3Connector output needs a root_dir to write under.")
        return f"{target.root_dir}{name}.parquet", None if target.is_local else target.connector
    if isinstance(target, SnowflakeConnector):
        return f"snowflake://{target.name}/{name}", None
    if isinstance(target, BigQueryConnector):
        return f"bigquery://{target.name}/{name}", None
    if isinstance(target, FileUploadConnector):
        return unsupported("writing to a FileUploadConnector", "give an S3Connector (an s3:// or a "
                           "local root_dir), a SnowflakeConnector or a BigQueryConnector")
    return unsupported(f"writing to a {type(target).__name__}", "use S3, Snowflake or BigQuery")


# ----------------------------------------------------------------------------------- batch jobs
@dataclass(frozen=True)
class BatchPredictionJobSummary:
    """What a finished job reports: entities predicted and relpredict's whole summary."""

    num_entities_predicted: int
    details: dict[str, Any] = field(repr=False)  # relpredict's job summary (outputs, drift, ...)


class _JobHandle:
    """A relpredict job by id, with its web page."""

    def __init__(self, job_id: str) -> None:
        self.job_id = job_id
        self._job = service.find_job(session().workspace, job_id)

    @property
    def id(self) -> str:
        return self.job_id

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.job_id!r})"

    @property
    def tracking_url(self) -> str:
        """The job's page on the relpredict server (``kumo.init(url=...)``)."""
        return session().page(f"/jobs/{self.job_id}")


class BatchPredictionJob(_JobHandle):
    """A batch prediction job by id (relpredict's job id)."""

    def status(self) -> JobStatus:
        return JobStatus.of(self._job.status())

    def progress(self) -> Any:
        """relpredict's progress snapshot (stage, entities and shards done, per worker, ETA)."""
        return self._job.progress()

    def cancel(self) -> JobStatus:
        return JobStatus.of(self._job.cancel())

    def attach(self) -> BatchPredictionJobResult:
        """Follow the job, printing its stage and progress, until it ends; its result."""
        print(f"Attaching to batch prediction job {self.job_id}. To track this job in the web app, "
              f"visit {self.tracking_url}")
        last = None
        while self.status() in (JobStatus.NOT_STARTED, JobStatus.RUNNING):
            p = self.progress()
            line = f"{p.stage.value}: {p.entities_done}/{p.entities_total or '?'} entities"
            if line != last:
                print(line)
                last = line
            time.sleep(POLL_SECONDS)
        return self.result()

    def result(self) -> BatchPredictionJobResult:
        """Wait for the job; its result, or an error with the job's own message."""
        status = self._job.wait()
        if status not in SUCCESSFUL:
            rec = self._job.record()
            raise RelpredictError(f"Batch prediction job {self.job_id} {status.value}"
                                  f"{': ' + rec.error if rec.error else ''}.")
        return BatchPredictionJobResult(self.job_id)

    def future(self) -> concurrent.futures.Future[Any]:
        return _THREADS.submit(self.result)


class BatchPredictionJobResult(_JobHandle):
    """A finished batch prediction job: its summary, its outputs as frames, export elsewhere."""

    def summary(self) -> BatchPredictionJobSummary:
        result = self._job.result()
        return BatchPredictionJobSummary(int(result.summary.get("entities") or 0), dict(result.summary))

    def _frame(self, output: str) -> pd.DataFrame:
        result = self._job.result()
        if output not in result.samples:
            raise NotFoundError(f"Job {self.job_id} wrote no {output}; its outputs: "
                                f"{', '.join(result.samples)}.")
        table = result.sample(output)
        rows = result.manifest.get("outputs", {}).get(output, {}).get("rows")
        if rows is not None and rows != table.num_rows:
            raise ConflictError(f"Job {self.job_id}'s {output} hold {rows} rows; the workspace keeps "
                                f"{table.num_rows} (its sample is capped): read them from the job's "
                                "destination instead.")
        return table.to_pandas()

    def predictions_df(self) -> pd.DataFrame:
        return self._frame("predictions")

    def embeddings_df(self) -> pd.DataFrame:
        return self._frame("embeddings")

    def export(self, output_config: OutputConfig, non_blocking: bool = False) -> Any:
        """Write the outputs to another destination: relpredict runs the job again with the same
        model and settings (so the same rows) and the new destination."""
        rec = self._job.record()
        settings = rec.settings
        output, connector = _destination(output_config)
        raw = RawSettings(anchor_time=settings.anchor_time, threshold=settings.threshold,
                          num_classes=settings.num_classes, top_k=settings.top_k,
                          output_types=",".join(output_config.types()), output=output,
                          connector=connector, workers=settings.workers,
                          entity_filter=settings.entity_filter)
        job = service.create_job(session().workspace, rec.workflow, raw)
        if non_blocking:
            job.start(detach=True)
            return BatchPredictionJob(job.id)
        job.start(detach=False)
        return BatchPredictionJob(job.id).result()
