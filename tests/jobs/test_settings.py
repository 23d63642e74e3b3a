"""Job settings: every validation message, checked word for word; defaults per task. Pure."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from relpredict.errors import ConfigError, SettingsError
from relpredict.jobs.settings import (
    DataRange,
    JobSettings,
    RawSettings,
    TaskInfo,
    parse_anchor_time,
    validate_settings,
)
from relpredict.query.bound import TaskType

DATA = DataRange(datetime(2024, 1, 1), datetime(2024, 6, 30, 12), ("transactions",))
BINARY = TaskInfo(TaskType.binary, True)
REGRESSION = TaskInfo(TaskType.regression, True)
MULTICLASS = TaskInfo(TaskType.multiclass, True, num_classes=3)
MULTILABEL = TaskInfo(TaskType.multilabel, True, num_classes=40)
LINK = TaskInfo(TaskType.link_prediction, True, rank_top=12)
STATIC = TaskInfo(TaskType.regression, False)


def check(task: TaskInfo = BINARY, **raw) -> tuple[JobSettings, list[str]]:
    return validate_settings(RawSettings(**raw), task, DATA, "/ws/jobs/j1/output/wf.parquet")


def message(task: TaskInfo = BINARY, **raw) -> str:
    with pytest.raises(ConfigError) as err:
        check(task, **raw)
    return str(err.value)


@pytest.mark.parametrize(("text", "expected"), [
    ("2024-02-27", datetime(2024, 2, 27)),
    ("2024-02-27T13:00:00Z", datetime(2024, 2, 27, 13)),
    ("2024-02-27T15:00:00+02:00", datetime(2024, 2, 27, 13)),
    ("2024-02-27 13:30", datetime(2024, 2, 27, 13, 30)),
    (" 2024-02-27T13:00:00.5 ", datetime(2024, 2, 27, 13, 0, 0, 500000)),
])
def test_anchor_time_iso_8601(text: str, expected: datetime) -> None:
    assert parse_anchor_time(text) == expected


def test_defaults() -> None:
    settings, warnings = check()
    assert warnings == []
    assert settings.anchor_time == DATA.end and not settings.anchor_given
    assert settings.threshold == 0.5 and settings.num_classes is None and settings.top_k is None
    assert settings.output_types == ("predictions",) and settings.workers == 1
    assert settings.destination.path == "/ws/jobs/j1/output/wf.parquet"
    assert settings.sample_cap_bytes == 1024 ** 3
    assert JobSettings.from_json(settings.to_json()) == settings


def test_task_defaults() -> None:
    assert check(MULTICLASS)[0].num_classes == 3  # all classes ...
    assert check(MULTILABEL)[0].num_classes == 10  # ... at most 10
    assert check(LINK)[0].top_k == 12  # the query's RANK TOP k
    assert check(REGRESSION)[0].threshold is None
    assert check(STATIC)[0].anchor_time is None


def test_output_types_and_destination(tmp_path: Path) -> None:
    settings, _ = check(output_types="embeddings, predictions", output=str(tmp_path / "p"),
                        file_type="csv", workers=4)
    assert settings.output_types == ("predictions", "embeddings")
    assert settings.destination.path == str(tmp_path / "p.csv") and settings.workers == 4
    relative, _ = check(output="rel/p.parquet")
    assert Path(relative.destination.path).is_absolute()


def test_anchor_after_the_data_is_a_warning() -> None:
    settings, warnings = check(anchor_time="2024-08-01")
    assert settings.anchor_time == datetime(2024, 8, 1) and settings.anchor_given
    assert warnings == ["The anchor time 2024-08-01 00:00:00 is after the latest data (2024-06-30 "
                        "12:00:00 in transactions): predictions use the history up to 2024-06-30 "
                        "12:00:00 as if nothing happened since."]


@pytest.mark.parametrize(("task", "raw", "expected"), [
    (BINARY, {"anchor_time": "2024-13-01"},
     "The anchor time '2024-13-01' is not an ISO 8601 date or datetime (e.g. 2024-02-27 or "
     "2024-02-27T13:00:00Z)."),
    (BINARY, {"anchor_time": "yesterday"},
     "The anchor time 'yesterday' is not an ISO 8601 date or datetime (e.g. 2024-02-27 or "
     "2024-02-27T13:00:00Z)."),
    (BINARY, {"anchor_time": "2023-12-31T23:59:59Z"},
     "The anchor time 2023-12-31 23:59:59 is before the data starts (2024-01-01 00:00:00): no "
     "history exists then. Choose an anchor time on or after 2024-01-01 00:00:00."),
    (STATIC, {"anchor_time": "2024-02-01"},
     "The model's query is static (it has no time window), so a job has no anchor time: leave the "
     "anchor time blank."),
    (BINARY, {"threshold": 1.5}, "The threshold must be between 0 and 1, not 1.5."),
    (BINARY, {"threshold": -0.1}, "The threshold must be between 0 and 1, not -0.1."),
    (REGRESSION, {"threshold": 0.3},
     "The threshold does not apply to this model's task, regression: it is for binary (and "
     "multilabel) classification. Leave it out."),
    (BINARY, {"num_classes": 2},
     "The number of classes does not apply to this model's task, binary classification: it is for "
     "multiclass and multilabel classification. Leave it out."),
    (MULTICLASS, {"num_classes": 4},
     "The number of classes to return must be 1 to 3; the model knows 3 classes, not 4."),
    (MULTILABEL, {"num_classes": 11},
     "The number of classes to return must be 1 to 10; the model knows 40 classes, not 11."),
    (MULTILABEL, {"num_classes": 0},
     "The number of classes to return must be 1 to 10; the model knows 40 classes, not 0."),
    (MULTICLASS, {"top_k": 5},
     "The number of items per entity (top k) does not apply to this model's task, multiclass "
     "classification: it is for link prediction. Leave it out."),
    (LINK, {"top_k": 0}, "The number of items per entity must be 1 to 1000, not 0."),
    (LINK, {"top_k": 1001}, "The number of items per entity must be 1 to 1000, not 1001."),
    (BINARY, {"output_types": "predictions,scores"},
     "Unknown output type 'scores': choose predictions, embeddings and/or explanations "
     "(comma-separated)."),
    (BINARY, {"output_types": " , "},
     "No output type given: choose predictions, embeddings and/or explanations "
     "(--output-types predictions,embeddings)."),
    (BINARY, {"workers": 0}, "The number of parallel workers must be 1 to 4, not 0."),
    (BINARY, {"workers": 5}, "The number of parallel workers must be 1 to 4, not 5."),
    (BINARY, {"output": "gs://b/p.parquet"},
     "Google Cloud Storage destinations (gs://b/p.parquet) are not supported yet: give a local path, "
     "s3://bucket/key, snowflake://CONNECTOR/TABLE or bigquery://CONNECTOR/TABLE."),
    (BINARY, {"output": "snowflake://wh/x; DROP TABLE y"},
     "The table name 'x; DROP TABLE y' is not allowed: use letters, digits, '_' and '$', starting "
     "with a letter or '_' (at most 255 characters). Quotes, spaces, ';' and other characters are "
     "refused so a name can never carry SQL."),
    (BINARY, {"output": "out/p.csv", "file_type": "parquet"},
     "The file type parquet does not match the destination out/p.csv (.csv): end the path in "
     ".parquet or choose --file-type csv."),
    (BINARY, {"file_type": "json"}, "Unknown file type 'json': choose csv or parquet."),
    (BINARY, {"sample_cap_bytes": 0}, "The sample cap must be a positive number of bytes, not 0."),
    (BINARY, {"shard_size": -5}, "The shard size must be a positive number of entities, not -5."),
    (BINARY, {"metadata_fields": "JOB_TIMESTAMP,training_job_id"},
     "Unknown metadata field 'training_job_id': choose from JOB_TIMESTAMP, ANCHOR_TIMESTAMP, "
     "MODEL_VERSION, JOB_ID (comma-separated)."),
    (BINARY, {"metadata_fields": ["job_id", "JOB_ID"]},
     "The metadata field JOB_ID is given twice: name each field once."),
    (BINARY, {"metadata_fields": "JOB_ID,,MODEL_VERSION"},
     "The metadata fields 'JOB_ID,,MODEL_VERSION' have an empty entry (two commas, or a comma at an "
     "end): name each field once, from JOB_TIMESTAMP, ANCHOR_TIMESTAMP, MODEL_VERSION, JOB_ID."),
    (STATIC, {"metadata_fields": "ANCHOR_TIMESTAMP"},
     "The metadata field ANCHOR_TIMESTAMP does not apply: the model's query is static (it has no "
     "time window), so its outputs have no anchor time. Leave it out."),
])
def test_each_bad_setting_has_its_message(task: TaskInfo, raw: dict, expected: str) -> None:
    assert message(task, **raw) == expected


def test_no_time_in_the_target_tables() -> None:
    with pytest.raises(ConfigError) as err:
        validate_settings(RawSettings(), BINARY, DataRange(None, None, ("orders",)), "/x.parquet")
    assert str(err.value) == ("Cannot default the anchor time: the target's tables (orders) have no "
                              "rows with a time. Give one.")


def test_entity_filter_syntax_error_points_into_the_filter() -> None:
    with pytest.raises(SettingsError) as err:
        check(entity_filter="customers.status = ")
    assert str(err.value) == ("Expecting a value after =. Line 1, Col: 19.\n"
                              "  customers.status =\n"
                              "                    ~")
    assert err.value.errors == {"entity_filter": str(err.value)}
    assert check(entity_filter="  customers.status = 'ACTIVE' ")[0].entity_filter == "customers.status = 'ACTIVE'"


def test_every_bad_field_is_told_at_once_in_field_order() -> None:
    with pytest.raises(SettingsError) as err:
        check(LINK, workers=9, anchor_time="yesterday", threshold=0.2, output="out/p.csv",
              file_type="json", sample_cap_bytes=0)
    assert list(err.value.errors) == ["anchor_time", "threshold", "destination", "workers",
                                      "sample_cap_mb"]
    assert err.value.errors["workers"] == "The number of parallel workers must be 1 to 4, not 9."
    assert str(err.value) == err.value.errors["anchor_time"]  # the CLI prints the first


def test_the_filter_check_reports_under_the_entity_filter() -> None:
    def bind(text: str) -> None:
        raise ConfigError(f"Unknown column in {text}")

    with pytest.raises(SettingsError) as err:
        validate_settings(RawSettings(entity_filter=" customers.x = 1 ", workers=0), BINARY, DATA,
                          "/x.parquet", check_filter=bind)
    assert err.value.errors == {"entity_filter": "Unknown column in customers.x = 1",
                                "workers": "The number of parallel workers must be 1 to 4, not 0."}


def test_metadata_fields_in_their_order_any_case_and_through_the_record() -> None:
    assert check()[0].metadata_fields == () and check(metadata_fields=" ")[0].metadata_fields == ()
    settings, _ = check(metadata_fields=" model_version, JOB_TIMESTAMP ")
    assert settings.metadata_fields == ("JOB_TIMESTAMP", "MODEL_VERSION")
    assert check(metadata_fields=["JOB_ID", "anchor_timestamp"])[0].metadata_fields == (
        "ANCHOR_TIMESTAMP", "JOB_ID")
    assert settings.to_json()["metadata_fields"] == ["JOB_TIMESTAMP", "MODEL_VERSION"]
    assert JobSettings.from_json(settings.to_json()) == settings
    older = {k: v for k, v in settings.to_json().items() if k != "metadata_fields"}  # a record from before
    assert JobSettings.from_json(older).metadata_fields == ()


def test_a_bad_metadata_field_is_told_under_its_own_field() -> None:
    with pytest.raises(SettingsError) as err:
        check(metadata_fields="SCORE_TIME", workers=0)
    assert list(err.value.errors) == ["metadata_fields", "workers"]


def test_explain_exact_is_a_flag_kept_on_the_record() -> None:
    settings, _ = check(output_types="predictions,explanations", explain_exact=True)
    assert settings.explain_exact and JobSettings.from_json(settings.to_json()) == settings
    assert not check()[0].explain_exact
    old = check()[0].to_json()
    del old["explain_exact"]  # a record from before the setting
    assert not JobSettings.from_json(old).explain_exact
    assert "explain_exact is true or false" in message(explain_exact="yes")
