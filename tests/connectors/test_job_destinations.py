"""Job settings accept S3 and table destinations and store them without secrets."""

from __future__ import annotations

from relpredict.jobs.settings import (
    DataRange,
    JobSettings,
    RawSettings,
    TaskInfo,
    validate_settings,
)
from relpredict.query.bound import TaskType
from relpredict.sinks import Destination, SinkSpec, TableDestination

TASK = TaskInfo(TaskType.regression, is_temporal=False)
DATA = DataRange(None, None)


def _settings(**raw: object) -> JobSettings:
    return validate_settings(RawSettings(**raw), TASK, DATA, "/tmp/default.parquet")[0]


def test_s3_destination_keeps_its_url_and_connector() -> None:
    settings = _settings(output="s3://bkt/p/{{PARTITION}}.csv", connector="lake")
    assert settings.destination == Destination("s3://bkt/p/{{PARTITION}}.csv", "csv", connector="lake")
    assert JobSettings.from_json(settings.to_json()) == settings


def test_table_destination_round_trips_through_the_job_record() -> None:
    settings = _settings(output="snowflake://wh/PUBLIC.SCORES", output_types="predictions,embeddings")
    assert settings.destination == TableDestination("snowflake", "wh", "PUBLIC.SCORES")
    assert JobSettings.from_json(settings.to_json()) == settings
    spec = SinkSpec("j1", settings.destination, settings.output_types, workspace_home="/ws")
    assert spec.connector == "wh"
    assert {k: d.table for k, d in spec.targets().items()} == {
        "predictions": "PUBLIC.SCORES_predictions", "embeddings": "PUBLIC.SCORES_embeddings"}
