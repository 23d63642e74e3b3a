"""The Snowflake sink's SQL as exact strings: names, types, the load statements, refusals."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from relpredict.errors import ConfigError
from relpredict.sinks import snowflake_sql as sql
from relpredict.sinks.snowflake import SnowflakeConnection, scrub

T = sql.TableRef.of("rp", "out", "scores_predictions")
STAGE = sql.TableRef("RP", "OUT", sql.stage_name("job-1", "predictions"))


def test_names_are_upper_cased_as_snowflake_resolves_them_unquoted_and_quoted() -> None:
    assert T == sql.TableRef("RP", "OUT", "SCORES_PREDICTIONS")
    assert T.sql == '"RP"."OUT"."SCORES_PREDICTIONS"'
    assert T.dotted == "RP.OUT.SCORES_PREDICTIONS"
    assert sql.stage_name("job-1", "predictions") == "RELPREDICT_JOB_1_PREDICTIONS"


@pytest.mark.parametrize("name", ["x; DROP TABLE y", 'a"b', "a.b", "", "1abc", "a b", "t--"])
def test_names_that_could_carry_sql_are_refused(name: str) -> None:
    with pytest.raises(ConfigError, match="so a name can never carry SQL"):
        sql.TableRef.of("RP", "OUT", name)
    with pytest.raises(ConfigError, match="schema name"):
        sql.TableRef.of("RP", name, "T")


def test_columns_keep_their_case_and_quotes_are_doubled() -> None:
    assert sql.quote_column("True_PROB") == '"True_PROB"'
    assert sql.quote_column('x"; DROP TABLE y; --') == '"x""; DROP TABLE y; --"'
    with pytest.raises(ConfigError, match=r"^The column name 'a\\nb' cannot be written to Snowflake"):
        sql.quote_column("a\nb")


def test_create_table_maps_every_output_type() -> None:
    schema = pa.schema([
        ("ENTITY", pa.int64()), ("ANCHOR_TIMESTAMP", pa.timestamp("us")),
        ("TARGET_PRED", pa.bool_()), ("True_PROB", pa.float64()), ("SCORE", pa.float32()),
        ("CLASS", pa.string()), ("EMBEDDINGS", pa.list_(pa.float32())),
        ("AT_UTC", pa.timestamp("us", tz="UTC")), ("DAY", pa.date32()), ("NONE", pa.null()),
        ("AMOUNT", pa.decimal128(12, 2)),
    ])
    assert sql.create_table_sql(T, schema) == (
        'CREATE TABLE IF NOT EXISTS "RP"."OUT"."SCORES_PREDICTIONS" ("ENTITY" NUMBER(38,0), '
        '"ANCHOR_TIMESTAMP" TIMESTAMP_NTZ, "TARGET_PRED" BOOLEAN, "True_PROB" FLOAT, "SCORE" FLOAT, '
        '"CLASS" VARCHAR, "EMBEDDINGS" ARRAY, "AT_UTC" TIMESTAMP_TZ, "DAY" DATE, "NONE" VARCHAR, '
        '"AMOUNT" NUMBER(12,2))')


def test_a_type_snowflake_cannot_hold_is_refused_by_name() -> None:
    field = pa.field("M", pa.map_(pa.string(), pa.int64()))
    with pytest.raises(ConfigError, match=r"^The column M has the type map<string, int64>"):
        sql.snowflake_type(field)


def test_the_load_statements() -> None:
    assert sql.context_sql() == "SELECT CURRENT_DATABASE(), CURRENT_SCHEMA()"
    assert sql.columns_sql(T) == ('SELECT COLUMN_NAME, DATA_TYPE FROM "RP".INFORMATION_SCHEMA.COLUMNS '
                                  "WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s ORDER BY ORDINAL_POSITION")
    assert sql.create_stage_sql(STAGE) == \
        'CREATE OR REPLACE TEMPORARY STAGE "RP"."OUT"."RELPREDICT_JOB_1_PREDICTIONS"'
    assert sql.begin_sql() == "BEGIN"
    assert sql.delete_sql(T) == 'DELETE FROM "RP"."OUT"."SCORES_PREDICTIONS"'
    assert sql.copy_sql(T, STAGE) == (
        'COPY INTO "RP"."OUT"."SCORES_PREDICTIONS" FROM @"RP"."OUT"."RELPREDICT_JOB_1_PREDICTIONS" '
        "FILE_FORMAT = (TYPE = PARQUET USE_LOGICAL_TYPE = TRUE) MATCH_BY_COLUMN_NAME = CASE_INSENSITIVE "
        "ON_ERROR = ABORT_STATEMENT FORCE = TRUE")
    assert sql.commit_sql() == "COMMIT"
    assert sql.rollback_sql() == "ROLLBACK"


def test_put_uploads_the_folder_and_refuses_paths_a_literal_cannot_carry(tmp_path: Path) -> None:
    folder = tmp_path / "up load"
    assert sql.put_sql(folder, STAGE) == (
        f"PUT 'file://{folder.resolve().as_posix()}/*.parquet' "
        '@"RP"."OUT"."RELPREDICT_JOB_1_PREDICTIONS" AUTO_COMPRESS = FALSE OVERWRITE = TRUE PARALLEL = 4')
    with pytest.raises(ConfigError, match="holds a quote, a backslash or a control character"):
        sql.put_sql(tmp_path / "it's", STAGE)


def test_connect_arguments_from_settings_and_each_kind_of_secret() -> None:
    conn = SnowflakeConnection("wh", (("account", "acme"), ("user", "etl"), ("role", "R"),
                                      ("database", "DB"), ("port", "8080"), ("protocol", "http")))
    assert conn.connect_kwargs({"password": "pw"}) == {
        "account": "acme", "user": "etl", "role": "R", "database": "DB", "protocol": "http",
        "port": 8080, "password": "pw", "application": "relpredict",
        # the default network policy (10 s connect, 60 s read, 5 tries, waits 0.5 + 1 + 2 + 4 s):
        # a socket waits 60 s, a login 10 + 60 s, a whole call 5 * 70 + 7.5 = 357.5 -> 358 s
        "socket_timeout": 60, "login_timeout": 70, "network_timeout": 358}
    assert conn.connect_kwargs({"token": "tok"})["authenticator"] == "oauth"
    assert "password" not in conn.connect_kwargs({})


def test_a_key_pair_becomes_der_bytes_and_a_bad_key_is_not_quoted() -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.BestAvailableEncryption(b"pass")).decode()
    conn = SnowflakeConnection("wh", (("account", "a"), ("user", "u")))
    der = conn.connect_kwargs({"private_key": pem, "private_key_passphrase": "pass"})["private_key"]
    assert serialization.load_der_private_key(der, None).private_numbers() == key.private_numbers()
    with pytest.raises(ConfigError) as err:
        conn.connect_kwargs({"private_key": "not-a-key-SECRETVALUE"})
    assert "SECRETVALUE" not in str(err.value) and "'private_key' of connector 'wh'" in str(err.value)


def test_a_bad_port_is_named() -> None:
    conn = SnowflakeConnection("wh", (("account", "a"), ("port", "http")))
    with pytest.raises(ConfigError, match=r"^The port 'http' of connector 'wh' is not a port number"):
        conn.connect_kwargs({})


def test_scrub_hides_every_secret_value() -> None:
    assert scrub("login failed for s3cr3t-pw (s3cr3t)", ["s3cr3t", "s3cr3t-pw", "x"]) == \
        "login failed for *** (***)"
