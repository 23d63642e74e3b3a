"""Destination parsing and Kumo's output naming: pure path arithmetic, every message checked."""

from __future__ import annotations

from dataclasses import asdict

import pytest

from relpredict.errors import ConfigError
from relpredict.sinks import (
    Destination,
    TableDestination,
    check_table_name,
    destination_from_json,
    output_destinations,
    parse_destination,
    part_name,
)

BOTH = ("predictions", "embeddings")


def test_file_type_from_extension_or_option() -> None:
    assert parse_destination("out/preds.parquet") == Destination("out/preds.parquet", "parquet")
    assert parse_destination("out/preds.CSV").file_type == "csv"
    assert parse_destination("out/preds", "csv") == Destination("out/preds.csv", "csv")
    assert parse_destination("out/preds").path == "out/preds.parquet"
    assert parse_destination("file://out/p.csv").path == "out/p.csv"


def test_one_output_goes_exactly_where_the_destination_says() -> None:
    dest = parse_destination("out/preds.parquet")
    assert output_destinations(dest, ("embeddings",)) == {"embeddings": dest}


def test_two_outputs_get_kumo_suffixes() -> None:
    dest = parse_destination("out/preds.parquet")
    paths = {k: d.path for k, d in output_destinations(dest, BOTH).items()}
    assert paths == {"predictions": "out/preds_predictions.parquet",
                     "embeddings": "out/preds_embeddings.parquet"}


def test_partitioned_suffix_goes_on_the_folder() -> None:
    dest = parse_destination("out/{{PARTITION}}.parquet")
    assert dest.partitioned and dest.folder == "out"
    paths = {k: d.path for k, d in output_destinations(dest, BOTH).items()}
    assert paths == {"predictions": "out_predictions/{{PARTITION}}.parquet",
                     "embeddings": "out_embeddings/{{PARTITION}}.parquet"}
    assert output_destinations(dest, BOTH)["embeddings"].file_for_part(12) == "out_embeddings/part_012.parquet"


def test_part_names_sort_in_order() -> None:
    assert [part_name(i) for i in (0, 1, 999)] == ["part_000", "part_001", "part_999"]
    assert part_name(1000) == "part_1000"
    with pytest.raises(ValueError):
        part_name(-1)


def test_manifest_sits_beside_the_output() -> None:
    assert parse_destination("out/preds.parquet").manifest_path() == "out/preds.manifest.json"
    assert parse_destination("out/{{PARTITION}}.csv").manifest_path() == "out.manifest.json"


@pytest.mark.parametrize(("path", "file_type", "message"), [
    ("", None, "The destination path is empty: give --output PATH, e.g. out/preds.parquet."),
    ("gs://bucket/p.parquet", None, "Google Cloud Storage destinations (gs://bucket/p.parquet) are not "
     "supported yet: give a local path, s3://bucket/key, snowflake://CONNECTOR/TABLE or "
     "bigquery://CONNECTOR/TABLE."),
    ("ftp://host/p.csv", None, "Unknown destination scheme 'ftp' in ftp://host/p.csv: give a local "
     "path, s3://bucket/key, snowflake://CONNECTOR/TABLE or bigquery://CONNECTOR/TABLE."),
    ("out/p.json", None, "Cannot tell the file type of out/p.json from '.json': give --file-type csv "
     "or --file-type parquet, or end the path in .csv or .parquet."),
    ("out/p", "xlsx", "Unknown file type 'xlsx': choose csv or parquet."),
    ("out/p.csv", "parquet", "The file type parquet does not match the destination out/p.csv (.csv): "
     "end the path in .parquet or choose --file-type csv."),
    ("out/day_{{PARTITION}}.parquet", None, "{{PARTITION}} must be the whole file name of the "
     "destination, e.g. out/{{PARTITION}}.parquet, not out/day_{{PARTITION}}.parquet."),
    ("out/{{DATE}}.parquet", None, "The destination out/{{DATE}}.parquet has a placeholder other than "
     "{{PARTITION}}, the only one supported."),
])
def test_destination_errors(path: str, file_type: str | None, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_destination(path, file_type)
    assert str(err.value) == message


def test_partition_size_must_be_positive() -> None:
    with pytest.raises(ConfigError, match=r"^The partition size must be positive, not 0 bytes\.$"):
        parse_destination("out/{{PARTITION}}.parquet", partition_bytes=0)


# ----------------------------------------------------------------------------------- S3 and tables
def test_s3_paths_follow_the_local_rules() -> None:
    dest = parse_destination("s3://bkt/pre/preds.csv", connector="minio")
    assert dest == Destination("s3://bkt/pre/preds.csv", "csv", connector="minio")
    assert dest.scheme == "s3" and dest.folder == "s3://bkt/pre"
    assert dest.manifest_path() == "s3://bkt/pre/preds.manifest.json"
    assert parse_destination("S3://bkt/pre/preds").path == "s3://bkt/pre/preds.parquet"
    paths = {k: d.path for k, d in output_destinations(dest, BOTH).items()}
    assert paths == {"predictions": "s3://bkt/pre/preds_predictions.csv",
                     "embeddings": "s3://bkt/pre/preds_embeddings.csv"}


def test_s3_partitioned_parts_manifest_and_suffixes() -> None:
    dest = parse_destination("s3://bkt/a/out/{{PARTITION}}.parquet")
    assert dest.partitioned and dest.folder == "s3://bkt/a/out"
    assert dest.file_for_part(3) == "s3://bkt/a/out/part_003.parquet"
    assert dest.manifest_path() == "s3://bkt/a/out.manifest.json"
    emb = output_destinations(dest, BOTH)["embeddings"]
    assert emb.file_for_part(0) == "s3://bkt/a/out_embeddings/part_000.parquet"


@pytest.mark.parametrize(("path", "message"), [
    ("s3://bkt", "The S3 destination s3://bkt needs a bucket and an object name, e.g. "
     "s3://my-bucket/predictions/churn.parquet."),
    ("s3:///p.csv", "The S3 destination s3:///p.csv needs a bucket and an object name, e.g. "
     "s3://my-bucket/predictions/churn.parquet."),
    ("s3://bkt/{{PARTITION}}.parquet", "Partitioned S3 output needs a folder inside the bucket for its "
     "parts, e.g. s3://bkt/churn/{{PARTITION}}.parquet, not s3://bkt/{{PARTITION}}.parquet."),
    ("s3://bkt/a//p.csv", "The S3 destination s3://bkt/a//p.csv has an empty folder name ('//'): "
     "remove it."),
])
def test_s3_errors(path: str, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_destination(path)
    assert str(err.value) == message


def test_table_destinations_and_their_names() -> None:
    dest = parse_destination("snowflake://wh/SCORES")
    assert dest == TableDestination("snowflake", "wh", "SCORES")
    assert (dest.name, dest.namespace, dest.url) == ("SCORES", None, "snowflake://wh/SCORES")
    bq = parse_destination("bigquery://gcp/ds_1.scores_x")
    assert (bq.kind, bq.connector, bq.namespace, bq.name) == ("bigquery", "gcp", "ds_1", "scores_x")
    names = {k: d.table for k, d in output_destinations(bq, BOTH).items()}
    assert names == {"predictions": "ds_1.scores_x_predictions", "embeddings": "ds_1.scores_x_embeddings"}
    assert parse_destination("snowflake://wh/S.T$1").table == "S.T$1"  # Snowflake allows '$'
    assert destination_from_json(asdict(bq)) == bq
    assert destination_from_json(asdict(bq)) == bq
    assert destination_from_json(asdict(parse_destination("s3://b/k/p.csv"))) == parse_destination("s3://b/k/p.csv")


@pytest.mark.parametrize(("path", "kwargs", "message"), [
    ("snowflake://wh/x; DROP TABLE y", {}, "The table name 'x; DROP TABLE y' is not allowed"),
    ('snowflake://wh/"S".T', {}, "The schema name '\"S\"' is not allowed"),
    ("bigquery://gcp/ds.t-1", {}, "The table name 't-1' is not allowed"),
    ("bigquery://gcp/ds.t$20240101", {}, "The table name 't$20240101' in bigquery://gcp/ds.t$20240101 has a "
     "'$', which BigQuery reads as a partition decorator"),
    ("bigquery://gcp/p.ds.t", {}, "The table 'p.ds.t' in bigquery://gcp/p.ds.t has 3 parts: give "
     "bigquery://CONNECTOR/TABLE or bigquery://CONNECTOR/DATASET.TABLE"),
    ("snowflake://wh", {}, "The destination snowflake://wh needs a connector and a table"),
    ("snowflake://w h/T", {}, "The connector name 'w h' in snowflake://w h/T must start"),
    ("snowflake://wh/T", {"connector": "other"}, "The destination snowflake://wh/T names the connector "
     "'wh', but --connector gives 'other'"),
    ("snowflake://wh/T", {"file_type": "csv"}, "A file type (csv) does not apply to the table destination"),
    ("out/p.csv", {"connector": "wh"}, "A connector (wh) applies to s3://, snowflake:// and bigquery:// "
     "destinations, not to the local path out/p.csv: leave --connector out."),
])
def test_table_and_connector_errors(path: str, kwargs: dict, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_destination(path, **kwargs)
    assert str(err.value).startswith(message)


def test_table_name_check_allows_identifiers_only() -> None:
    assert check_table_name("_a$1") == "_a$1"
    with pytest.raises(ConfigError):
        check_table_name("a" * 256)
    with pytest.raises(ConfigError):
        check_table_name("1abc")
