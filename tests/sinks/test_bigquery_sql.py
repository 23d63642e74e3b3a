"""The BigQuery sink's names, load job ids, column types and SQL, as exact strings (no server)."""

from __future__ import annotations

from types import SimpleNamespace

import pyarrow as pa
import pytest

from relpredict.errors import ConfigError
from relpredict.sinks import bigquery_sql as sql


def test_load_job_ids_are_deterministic_and_safe() -> None:
    assert sql.load_job_id("j1", "predictions", 3) == "relpredict_j1_predictions_00003"
    assert sql.load_job_id("j1", "predictions", 3, last=3) == "relpredict_j1_predictions_00003"
    assert sql.load_job_id("j1", "embeddings", 0, last=12) == "relpredict_j1_embeddings_00000_00012"
    assert sql.load_job_id("j1", "embeddings", 0, attempt=2) == "relpredict_j1_embeddings_00000_r2"
    assert sql.load_job_id("j.1 x", "predictions", 0) == "relpredict_j_1_x_predictions_00000"
    assert len(sql.load_job_id("j" * 2000, "predictions", 0)) == 1024
    assert sql.manifest_load_id("j1") == "relpredict_j1_manifest"


def test_label_values_are_lowercase_and_short() -> None:
    assert sql.label_value("relpredict_J1_predictions_00003") == "relpredict_j1_predictions_00003"
    long = sql.label_value("relpredict_" + "x" * 100)
    assert len(long) == 63 and long.startswith("h") and long == sql.label_value("relpredict_" + "x" * 100)


def test_column_types_of_every_output_column() -> None:
    schema = pa.schema([("ENTITY", pa.int64()), ("ANCHOR_TIMESTAMP", pa.timestamp("us")),
                        ("AT_UTC", pa.timestamp("us", tz="UTC")), ("TARGET_PRED", pa.bool_()),
                        ("SCORE", pa.float64()), ("CLASS", pa.string()), ("NONE", pa.null()),
                        ("EMBEDDINGS", pa.list_(pa.float32()))])
    assert sql.column_types(schema) == [
        ("ENTITY", "INT64", "NULLABLE"), ("ANCHOR_TIMESTAMP", "DATETIME", "NULLABLE"),
        ("AT_UTC", "TIMESTAMP", "NULLABLE"), ("TARGET_PRED", "BOOL", "NULLABLE"),
        ("SCORE", "FLOAT64", "NULLABLE"), ("CLASS", "STRING", "NULLABLE"), ("NONE", "STRING", "NULLABLE"),
        ("EMBEDDINGS", "FLOAT64", "REPEATED")]
    with pytest.raises(ConfigError, match="list of lists"):
        sql.column_types(pa.schema([("x", pa.list_(pa.list_(pa.int64())))]))
    with pytest.raises(ConfigError, match="is not allowed"):
        sql.column_types(pa.schema([("a`, b", pa.int64())]))


@pytest.mark.parametrize(("check", "name"), [
    (sql.check_table_name, "x; DROP TABLE y"), (sql.check_table_name, "t$20240101"),
    (sql.check_table_name, "a`b"), (sql.check_dataset_name, "ds-1"),
    (sql.check_project_name, "Acme"), (sql.check_column_name, "1st"),
])
def test_unsafe_names_are_refused(check, name: str) -> None:
    with pytest.raises(ConfigError, match="is not allowed"):
        check(name)


def test_table_refs_and_the_manifest_query() -> None:
    ref = sql.table_ref("scores", "acme", "analytics", "bq")
    assert ref == sql.TableRef("acme", "analytics", "scores")
    assert ref.ref == "acme.analytics.scores" and ref.quoted == "`acme.analytics.scores`"
    assert sql.table_ref("other.t", "acme", None, "bq").ref == "acme.other.t"
    with pytest.raises(ConfigError, match=r"names no dataset and connector 'bq' has none: give "
                                          r"bigquery://bq/DATASET\.t"):
        sql.table_ref("t", "acme", None, "bq")
    with pytest.raises(ConfigError, match="too many parts"):
        sql.table_ref("p.ds.t", "acme", "ds", "bq")
    manifests = sql.TableRef("acme", "analytics", sql.MANIFEST_TABLE)
    assert sql.manifest_query_sql(manifests) == (
        "SELECT manifest FROM `acme.analytics.relpredict_manifests` WHERE job_id = @job "
        "ORDER BY written_at LIMIT 1")


def test_an_existing_table_must_have_the_outputs_columns() -> None:
    fields = [SimpleNamespace(name="entity", field_type="INTEGER", mode="NULLABLE"),
              SimpleNamespace(name="EMBEDDINGS", field_type="FLOAT", mode="REPEATED")]
    have = sql.signature(fields)
    assert have == {"ENTITY": ("INT64", "NULLABLE"), "EMBEDDINGS": ("FLOAT64", "REPEATED")}
    ref = sql.TableRef("acme", "ds", "t")
    sql.check_columns(ref, have, dict(have))
    want = {"ENTITY": ("STRING", "NULLABLE"), "SCORE": ("FLOAT64", "NULLABLE")}
    with pytest.raises(ConfigError) as err:
        sql.check_columns(ref, have, want)
    assert str(err.value) == (
        "The BigQuery table acme.ds.t exists with other columns (missing SCORE; has EMBEDDINGS the "
        "output lacks; ENTITY is INT64 NULLABLE not STRING NULLABLE): appending would fail. Write to "
        "a new table, or fix the table's columns.")
