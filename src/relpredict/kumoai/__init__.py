"""A kumoai-shaped SDK over relpredict: ``import relpredict.kumoai as kumo``.

The names a Kumo SDK script uses, with kumoai's signatures, each a thin layer over relpredict's
own Python API and service layer: tables read by relpredict's sources (local files, S3, Snowflake,
BigQuery through workspace connectors), real training (:mod:`relpredict.model.fit`, saved as a
model version in the workspace) and real batch prediction jobs (:mod:`relpredict.service.jobs`:
1-4 worker processes, resumable, visible at ``relpredict serve``)::

    import relpredict.kumoai as kumo
    from relpredict.kumoai.artifact_export.config import OutputConfig

    kumo.init(url="http://127.0.0.1:8000/api", api_key="unused")
    connector = kumo.S3Connector(root_dir="s3://bucket/store/")       # or a local folder
    customers = kumo.Table.from_source_table(connector["customers"], primary_key="customer_id",
                                             time_column="signup_time").infer_metadata()
    ...
    graph = kumo.Graph(tables={"customers": customers, ...},
                       edges=[kumo.Edge("transactions", "customer_id", "customers"), ...])
    pquery = kumo.PredictiveQuery(graph=graph, query="PREDICT ... FOR EACH customers.customer_id")
    pquery.validate(verbose=True)
    trainer = kumo.Trainer(pquery.suggest_model_plan())
    training_job = trainer.fit(graph=graph, train_table=pquery.generate_training_table(), non_blocking=False)
    job = trainer.predict(graph=graph, prediction_table=pquery.generate_prediction_table(),
                          output_config=OutputConfig(output_types={"predictions"}),
                          training_job_id=training_job.job_id, num_workers=2, non_blocking=True)
    result = job.attach()
    result.predictions_df()

How it maps (and where it differs, each difference an error that says so):

- ``init(url, api_key)``: ``url`` is the relpredict server the ``tracking_url`` s point at; no
  API key is needed (local workspace: ``home=`` or ``$RELPREDICT_HOME``).
- Connectors: ``S3Connector(root_dir)`` (an ``s3://`` root, endpoint and keys from the AWS chain
  or ``connector=NAME``; or a local folder), ``FileUploadConnector`` (files read in place),
  ``SnowflakeConnector(name)`` / ``BigQueryConnector(name)`` name a workspace connector (secrets
  by reference: credential values are refused). Databricks, Glue, GCS and ADLS are refused.
- ``Table`` / ``Graph`` / ``Edge`` / ``link`` build a relpredict graph; ``infer_metadata`` guesses
  missing keys and time columns as ``relpredict graph infer`` does.
- ``PredictiveQuery``: ``validate``, ``get_task_type`` (Kumo's task names),
  ``suggest_model_plan(run_mode)`` (fast: LightGBM only; normal: the GNN + LightGBM blend; best:
  the blend with twice the epochs), ``generate_training_table`` / ``generate_prediction_table``
  (built when asked: ``non_blocking=True`` returns a finished job).
- ``Trainer.fit`` trains and saves model ``pq-<hash>`` (``custom_tags={"model_name": ...}``); its
  ``job_id`` is the model reference ``NAME@VERSION``. ``Trainer.predict`` runs a job of workflow
  ``NAME-vVERSION`` on the model's training graph (another graph is refused) with the threshold,
  classes, workers and ``OutputConfig`` given; ``BatchPredictionJob`` has ``status``,
  ``progress``, ``attach``, ``cancel``, ``result``, ``future`` and ``tracking_url`` (the job's
  page); the result has ``summary``, ``predictions_df``, ``embeddings_df`` and ``export`` (which
  runs the job again, same model and settings, into the new destination).
- Not available: online serving, ``holdout_df``, ``warm_start``, cancelling a training run.
"""

from relpredict.kumoai._session import init
from relpredict.kumoai.artifact_export.config import OutputConfig
from relpredict.kumoai.connector import (
    ADLSConnector,
    BigQueryConnector,
    Connector,
    DatabricksConnector,
    FileUploadConnector,
    GCSConnector,
    GlueConnector,
    S3Connector,
    SnowflakeConnector,
    SourceColumn,
    SourceTable,
)
from relpredict.kumoai.graph import Column, Edge, Graph, Table
from relpredict.kumoai.plan import ModelPlan
from relpredict.kumoai.pquery import (
    PredictionTable,
    PredictionTableJob,
    PredictiveQuery,
    TaskType,
    TrainingTable,
    TrainingTableJob,
)
from relpredict.kumoai.trainer import (
    BatchPredictionJob,
    BatchPredictionJobResult,
    BatchPredictionJobSummary,
    JobStatus,
    Trainer,
    TrainingJob,
    TrainingJobResult,
)

__all__ = ["ADLSConnector", "BatchPredictionJob", "BatchPredictionJobResult", "BatchPredictionJobSummary",
           "BigQueryConnector", "Column", "Connector", "DatabricksConnector", "Edge", "FileUploadConnector",
           "GCSConnector", "GlueConnector", "Graph", "JobStatus", "ModelPlan", "OutputConfig",
           "PredictionTable", "PredictionTableJob", "PredictiveQuery", "S3Connector", "SnowflakeConnector",
           "SourceColumn", "SourceTable", "Table", "TaskType", "Trainer", "TrainingJob", "TrainingJobResult",
           "TrainingTable", "TrainingTableJob", "init"]
