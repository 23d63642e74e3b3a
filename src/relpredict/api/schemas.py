"""Request bodies of the REST API (responses are the service's plain JSON views).

Pydantic checks only the shapes (a number where a number belongs); every rule about values is the
jobs' settings validation, reached through :func:`relpredict.service.forms.raw_settings`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from relpredict.service.forms import DestinationForm, JobForm


class _Strict(BaseModel):
    """A request body: a field it does not know is a 422 naming that field (never ignored)."""

    model_config = ConfigDict(extra="forbid")


class WorkflowIn(_Strict):
    """A new workflow: its name and the model it runs (``NAME`` or ``NAME@VERSION``)."""

    name: str = Field(description="Letters, digits, '_', '.', '-'.")
    model: str = Field(description="Model NAME (its latest version at each job) or NAME@VERSION.")


class DestinationIn(_Strict):
    """Where the outputs go; blank fields take the CLI's defaults."""

    kind: Literal["local", "s3", "snowflake", "bigquery"] = "local"
    path: str | None = Field(None, description="local path or s3://bucket/key; a file name of "
                             "{{PARTITION}} writes part_000, part_001, ... Blank (local): the workspace.")
    file_type: Literal["csv", "parquet"] | None = Field(None, description="Default: from the extension.")
    connector: str | None = Field(None, description="Workspace connector (Snowflake, BigQuery, optional for S3).")
    table: str | None = Field(None, description="[SCHEMA.]TABLE (Snowflake) or [DATASET.]TABLE (BigQuery).")
    overwrite: bool = Field(False, description="Local: replace an existing file no relpredict job wrote.")

    def form(self) -> DestinationForm:
        return DestinationForm(**self.model_dump())


class JobSettingsIn(_Strict):
    """Every setting of `relpredict job run`; null means the CLI's default."""

    anchor_time: str | None = Field(None, description="ISO 8601 date or datetime; default: the latest data.")
    threshold: float | None = Field(None, description="Binary / multilabel classification.")
    num_classes: int | None = Field(None, description="Multiclass / multilabel: classes per entity.")
    top_k: int | None = Field(None, description="Link prediction: items per entity.")
    output_types: list[str] = Field(default_factory=lambda: ["predictions"],
                                    description="predictions, embeddings and/or explanations.")
    metadata_fields: list[str] = Field(default_factory=list, description="Columns appended to every "
                                       "output: JOB_TIMESTAMP, MODEL_VERSION, JOB_ID, ANCHOR_TIMESTAMP.")
    destination: DestinationIn = Field(default_factory=DestinationIn)
    workers: int = Field(1, description="Parallel worker processes, 1 to 4.")
    entity_filter: str | None = Field(None, description="Extra WHERE on the entities.")
    entities: str | None = Field(None, description="Predict only these entities: a CSV or Parquet "
                                 "file of keys on the server, or a table of the graph.")
    partition_size_mb: int | None = Field(None, description="Target size of one part file.")
    sample_cap_mb: int | None = Field(None, description="Keep at most this much of each output.")
    shard_size: int | None = Field(None, description="Entities per shard (unit of work and resume).")
    max_errors: int | None = Field(None, description="Entities that may fail to score (they go to the "
                                   "errors output) before the job fails; default 0.1 % of them.")
    dask: str | None = Field(None, description="Dask scheduler tcp://HOST:PORT (or local): run the "
                             "shards as tasks on that cluster; null: local worker processes.")
    explain_k: int | None = Field(None, description="Explanations: inputs per entity (default 5).")
    explain_exact: bool = Field(False, description="Explanations: LightGBM's exact TreeSHAP (slower) "
                                "instead of path contributions.")
    webhook: str | None = Field(None, description="POST a JSON notice here when the job ends (or env:VAR).")
    on_finish: str | None = Field(None, description="Shell command run when the job ends.")
    timeout_seconds: float | None = Field(None, description="Cancel the job after this many seconds.")

    def form(self) -> JobForm:
        values = self.model_dump(exclude={"destination", "output_types", "metadata_fields"})
        return JobForm(**values, output_types=tuple(self.output_types),
                       metadata_fields=tuple(self.metadata_fields),
                       destination=self.destination.form())


class ErrorOut(BaseModel):
    """Every 4xx answer: the CLI's message, and for settings the message of each bad field."""

    detail: str
    errors: dict[str, str] = Field(default_factory=dict)


class ScheduleIn(_Strict):
    """A schedule: a cron expression (UTC) and the settings of each job it starts (a blank anchor
    time: the latest data at each run)."""

    cron: str = Field(description="minute hour day-of-month month day-of-week, e.g. '0 6 * * 1'.")
    settings: JobSettingsIn = Field(default_factory=JobSettingsIn)


class BacktestIn(_Strict):
    """A backtest: the workflow's job at each anchor from ``start`` to ``end`` (ISO 8601), step
    ``every`` (12h, 30d, 2w, 3mo; default the query's target window); the job settings as a job's
    without an anchor time."""

    start: str = Field(description="The first anchor time, e.g. 2024-01-01.")
    end: str = Field(description="The last anchor time; its target window must be in the data.")
    every: str | None = Field(None, description="12h, 30d, 2w or 3mo; default: the target window.")
    settings: JobSettingsIn = Field(default_factory=JobSettingsIn)
