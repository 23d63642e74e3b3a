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


def test_a_sink_refuses_a_connector_of_another_kind(tmp_path) -> None:
    import pytest

    from relpredict.connectors import Connector, add_connector
    from relpredict.errors import ConfigError
    from relpredict.sinks import parse_destination
    from relpredict.workspace import Workspace

    ws = Workspace.open(tmp_path / "ws")
    add_connector(ws, Connector("wh", "snowflake", {"account": "a", "user": "u"}))
    spec = SinkSpec("j1", parse_destination("s3://bkt/p.csv", connector="wh"), ("predictions",),
                    workspace_home=str(ws.home))
    with pytest.raises(ConfigError, match=r"^The connector 'wh' is of kind snowflake, but this "
                                          r"destination needs one of kind s3: give a s3 connector\.$"):
        spec.load_connector()


def test_s3_endpoint_and_region_precedence(monkeypatch) -> None:
    from relpredict.connectors import Connector
    from relpredict.sinks.s3 import S3Config

    for var in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(var, raising=False)
    assert S3Config.from_connector(None) == S3Config()  # plain AWS: the SDK's own chain
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
    assert S3Config.from_connector(None).endpoint_url == "http://127.0.0.1:1"
    assert S3Config.from_connector(None).region == "us-east-1"  # S3-compatible stores need one
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:2")
    monkeypatch.setenv("AWS_REGION", "eu-west-3")
    assert S3Config.from_connector(None) == S3Config("http://127.0.0.1:2", "eu-west-3")
    lake = Connector("lake", "s3", {"endpoint_url": "http://127.0.0.1:3", "profile": "p"},
                     {"aws_access_key_id": "env:LAKE_ID", "aws_secret_access_key": "env:LAKE_KEY"})
    monkeypatch.setenv("LAKE_ID", "id-123")
    monkeypatch.setenv("LAKE_KEY", "key-456")
    config = S3Config.from_connector(lake)
    assert (config.endpoint_url, config.profile, config.access_key, config.secret_key) == (
        "http://127.0.0.1:3", "p", "id-123", "key-456")
    assert "key-456" not in repr(config) and "id-123" not in repr(config)


def test_job_creation_checks_the_connector_before_recording_anything(tmp_path) -> None:
    import pytest

    from relpredict.connectors import Connector, add_connector
    from relpredict.errors import ConfigError
    from relpredict.jobs.prepare import check_connector
    from relpredict.sinks import parse_destination
    from relpredict.workspace import Workspace

    ws = Workspace.open(tmp_path / "ws")
    add_connector(ws, Connector("wh", "snowflake", {"account": "a", "user": "u"}))
    check_connector(ws, parse_destination("snowflake://wh/SCORES"))  # fine
    check_connector(ws, parse_destination("/tmp/out.parquet"))  # no connector: nothing to check
    with pytest.raises(ConfigError, match="Unknown connector 'wx'.*'wh'|'wx'.*Did you mean 'wh'"):
        check_connector(ws, parse_destination("snowflake://wx/SCORES"))
    with pytest.raises(ConfigError, match="is of kind snowflake, but this destination needs one of kind bigquery"):
        check_connector(ws, parse_destination("bigquery://wh/scores"))
