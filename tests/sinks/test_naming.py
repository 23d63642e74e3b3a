"""Destination parsing and Kumo's output naming: pure path arithmetic, every message checked."""

from __future__ import annotations

import pytest

from relpredict.errors import ConfigError
from relpredict.sinks import Destination, output_destinations, parse_destination, part_name

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
    ("s3://bucket/p.parquet", None, "S3 destinations (s3://bucket/p.parquet) are not supported yet: "
     "this version writes local CSV or Parquet files. Give a local path."),
    ("snowflake://acct/db", None, "Snowflake destinations (snowflake://acct/db) are not supported yet: "
     "this version writes local CSV or Parquet files. Give a local path."),
    ("ftp://host/p.csv", None, "Unknown destination scheme 'ftp' in ftp://host/p.csv: give a local path."),
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
