"""Graph tables that live only on S3 (moto), Snowflake (fakesnow) and BigQuery (bqemulator).

The demo store is put there (products as CSV and transactions as two Parquet parts on S3,
customers in Snowflake, returns in BigQuery); a tiny LightGBM model trained from those tables, and
a 2-worker job run from it, must give exactly the predictions of the same tables read from local
files. A job reads each source once, at setup: its workers read the job's copy even when the
sources are gone by then, and the copy is dropped when the job succeeds.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from relpredict.connectors import Connector, add_connector
from relpredict.demo.generator import generate
from relpredict.errors import ConfigError, DataError
from relpredict.graph.yaml_io import load_graph
from relpredict.jobs import JobStatus, Workflow
from relpredict.jobs.settings import RawSettings
from relpredict.jobs.sources import sources_folder
from relpredict.jobs.workflows import create_job
from relpredict.model.artifact import save_model
from relpredict.model.fit import TrainOptions, train_model
from relpredict.sinks.sources import SourceCache
from relpredict.tables.table import ConnectorSource
from relpredict.workspace import Workspace
from tests.bigquery_server import running_emulator
from tests.conftest import in_ci
from tests.servers import running_moto
from tests.snowflake_server import running_fakesnow

pytestmark = pytest.mark.slow  # three servers, a trained model, jobs with workers

QUERY = ("PREDICT COUNT(transactions.*, 0, 30, days) = 0 FOR EACH customers.customer_id "
         "WHERE COUNT(transactions.*, -60, 0, days) > 0")
ANCHOR = "2024-10-01"
KEY_ID, KEY_SECRET = "AKIDSOURCES0001", "lake-secret-never-logged-4471"
SF_PASSWORD = "sf-source-password-never-logged-2209"
BUCKET = "lake"

REMOTE_YAML = """\
name: demo_store_remote
tables:
  customers:
    snowflake: {connector: wh, table: CUSTOMERS}
    primary_key: customer_id
    time_column: signup_time
  products:
    s3: {connector: lake, path: s3://lake/store/products.csv}
    primary_key: product_id
  transactions:
    s3: {connector: lake, path: "s3://lake/store/transactions/*.parquet"}
    primary_key: transaction_id
    foreign_keys: {customer_id: customers, product_id: products}
    time_column: timestamp
  returns:
    bigquery: {connector: bq, query: "SELECT * FROM store.returns"}
    primary_key: return_id
    foreign_keys: {transaction_id: transactions}
    time_column: timestamp
"""

SF_TYPES = {pa.int64(): "NUMBER(38,0)", pa.float64(): "FLOAT", pa.string(): "VARCHAR",
            pa.timestamp("us"): "TIMESTAMP_NTZ"}
BQ_TYPES = {pa.int64(): "INT64", pa.float64(): "FLOAT64", pa.string(): "STRING",
            pa.timestamp("us"): "DATETIME"}


@dataclass
class Remote:
    ws: Workspace
    demo: Path
    remote_yaml: Path
    moto: object
    sf: object


def _put_s3(moto: object, demo: Path) -> None:
    s3 = moto.client()  # type: ignore[attr-defined]
    s3.create_bucket(Bucket=BUCKET)
    buf = io.BytesIO()
    pacsv.write_csv(pq.read_table(demo / "products.parquet"), buf)
    s3.put_object(Bucket=BUCKET, Key="store/products.csv", Body=buf.getvalue())
    tx = pq.read_table(demo / "transactions.parquet")
    half = tx.num_rows // 2
    for i, part in enumerate((tx.slice(0, half), tx.slice(half))):
        out = io.BytesIO()
        pq.write_table(part, out)
        s3.put_object(Bucket=BUCKET, Key=f"store/transactions/part-{i}.parquet", Body=out.getvalue())
    s3.put_object(Bucket=BUCKET, Key="store/transactions/_SUCCESS", Body=b"x")  # skipped by the glob


def _put_snowflake(sf: object, demo: Path) -> None:
    sf.create_schema("RP", "STORE")  # type: ignore[attr-defined]
    con = sf.connect("RP", "STORE")  # type: ignore[attr-defined]
    table = pq.read_table(demo / "customers.parquet")
    cols = ", ".join(f'"{f.name}" {SF_TYPES[f.type]}' for f in table.schema)
    cur = con.cursor()
    cur.execute(f"CREATE TABLE CUSTOMERS ({cols})")
    marks = ", ".join(["%s"] * table.num_columns)
    cur.executemany(f"INSERT INTO CUSTOMERS VALUES ({marks})",
                    [tuple(r.values()) for r in table.to_pylist()])
    con.close()


def _put_bigquery(bq: object, demo: Path, ws: Workspace) -> None:
    from google.cloud import bigquery

    from relpredict.sinks.bigquery import BigQueryConnection, make_client

    connector = Connector("bq", "bigquery", {"project": bq.project, "api_endpoint": bq.endpoint})  # type: ignore[attr-defined]
    add_connector(ws, connector)
    client = make_client(BigQueryConnection.from_connector(connector))
    client.create_dataset("store")
    table = pq.read_table(demo / "returns.parquet")
    schema = [bigquery.SchemaField(f.name, BQ_TYPES[f.type]) for f in table.schema]
    client.create_table(bigquery.Table(f"{bq.project}.store.returns", schema=schema))  # type: ignore[attr-defined]
    buf = io.BytesIO()
    pq.write_table(table, buf)
    buf.seek(0)
    config = bigquery.LoadJobConfig(source_format="PARQUET", write_disposition="WRITE_APPEND")
    client.load_table_from_file(buf, "store.returns", job_config=config).result(timeout=60)


def _connectors(ws: Workspace, moto: object, sf: object, endpoint: str | None = None) -> None:
    """``lake`` (S3, keys by reference) and ``wh`` (Snowflake, password by reference)."""
    add_connector(ws, Connector("lake", "s3", {"endpoint_url": endpoint or moto.endpoint},  # type: ignore[attr-defined]
                                {"aws_access_key_id": "env:RP_SRC_KEY_ID",
                                 "aws_secret_access_key": "env:RP_SRC_KEY_SECRET"}), replace=True)
    add_connector(ws, Connector("wh", "snowflake", sf.settings("RP", "STORE"),  # type: ignore[attr-defined]
                                {"password": "env:RP_SRC_SF_PASSWORD"}), replace=True)


def _server(cm: object, what: str) -> object:
    try:
        return cm.__enter__()  # type: ignore[attr-defined]
    except Exception as err:
        message = f"{what} is unavailable: {err}"
        pytest.fail(message) if in_ci() else pytest.skip(message)


@pytest.fixture(scope="module")
def remote(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Remote]:
    """The demo store on the three servers and a workspace whose connectors reach them."""
    root = tmp_path_factory.mktemp("sources")
    demo = root / "demo"
    generate(demo, customers=150, seed=0)
    env = {"RP_SRC_KEY_ID": KEY_ID, "RP_SRC_KEY_SECRET": KEY_SECRET, "RP_SRC_SF_PASSWORD": SF_PASSWORD}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    servers = [running_moto(root / "moto"), running_fakesnow(root / "fakesnow"), running_emulator(root / "bq")]
    started = []
    try:
        moto = _server(servers[0], "moto")
        started.append(servers[0])
        sf = _server(servers[1], "fakesnow")
        started.append(servers[1])
        bq = _server(servers[2], "The BigQuery emulator")
        started.append(servers[2])
        ws = Workspace.open(root / "ws")
        _put_s3(moto, demo)
        _put_snowflake(sf, demo)
        _put_bigquery(bq, demo, ws)
        _connectors(ws, moto, sf)
        (root / "remote.yaml").write_text(REMOTE_YAML)
        yield Remote(ws, demo, root / "remote.yaml", moto, sf)
    finally:
        for cm in reversed(started):
            cm.__exit__(None, None, None)
        for k, v in saved.items():
            os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)


@pytest.fixture(scope="module")
def models(remote: Remote) -> dict[str, object]:
    """One tiny LightGBM model from the local files, one from the servers, each with a workflow."""
    options = TrainOptions(kind="lightgbm", seed=0, max_eval=2, history_k=4)
    out = {}
    for name, graph in (("local", load_graph(remote.demo / "graph.yaml")),
                        ("remote", load_graph(remote.remote_yaml))):
        graph.sources = SourceCache(remote.ws)
        model = train_model(graph, QUERY, options)
        save_model(remote.ws, model, name, graph)
        Workflow.create(name, name, remote.ws)
        out[name] = model
    return out


def test_tables_from_the_servers_equal_the_local_files(remote: Remote) -> None:
    local = load_graph(remote.demo / "graph.yaml")
    there = load_graph(remote.remote_yaml)
    there.sources = SourceCache(remote.ws)
    for table in local:
        assert there.columns(table.name) == local.columns(table.name), table.name
        key = table.primary_key
        a = there.sql(f"SELECT * FROM {table.name} ORDER BY {key}").to_arrow_table()
        b = local.sql(f"SELECT * FROM {table.name} ORDER BY {key}").to_arrow_table()
        assert a.equals(b), table.name
    assert not list((remote.ws.artifacts).glob(".source-*"))  # fetched copies dropped after loading


def _job_output(remote: Remote, out: Path, **settings: object) -> pa.Table:
    """Run a job of the remote model whose sources are unreachable once it is set up."""
    job, _ = create_job("remote", RawSettings(workers=2, shard_size=25, anchor_time=ANCHOR, output=str(out),
                                              **settings), remote.ws)  # type: ignore[arg-type]
    folder = sources_folder(remote.ws, job.id)
    assert len(list(folder.glob("*/source.json"))) == 4  # each source fetched once, at setup
    # From here on the sources are unreachable: the runner and its workers must read the copies.
    _connectors(remote.ws, remote.moto, remote.sf, endpoint="http://127.0.0.1:9")
    os.environ["RP_SRC_SF_PASSWORD"] = "wrong"
    try:
        job.start(detach=True)  # a runner process of its own loads the graph again, then 2 workers
        assert job.wait(timeout=300) is JobStatus.SUCCEEDED, job.record().error
    finally:
        _connectors(remote.ws, remote.moto, remote.sf)
        os.environ["RP_SRC_SF_PASSWORD"] = SF_PASSWORD
    assert not folder.exists()  # dropped when the job succeeded
    return pq.read_table(out).sort_by("ENTITY")


def test_model_and_job_from_the_servers_predict_as_from_local_files(remote: Remote, models: dict) -> None:
    assert models["remote"].metrics == models["local"].metrics
    got = _job_output(remote, remote.demo.parent / "out" / "churn.parquet")
    assert got.num_rows > 40
    local = load_graph(remote.demo / "graph.yaml")
    want = models["local"].predict(local, datetime.fromisoformat(ANCHOR), got.column("ENTITY"))
    assert got.column_names == want.column_names
    for col in want.column_names:
        a, b = got.column(col), want.column(col)
        if pa.types.is_floating(a.type):
            np.testing.assert_allclose(a.to_numpy(), b.to_numpy(), rtol=0, atol=1e-9)
        else:
            assert a.to_pylist() == b.to_pylist(), col
    # Shards on Dask workers (a local cluster on 127.0.0.1) read the job's copies too.
    on_dask = _job_output(remote, remote.demo.parent / "out" / "dask.parquet", dask="local")
    assert on_dask.equals(got)


def test_errors_name_the_table_and_never_a_secret(remote: Remote, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RELPREDICT_NET_ATTEMPTS", "2")  # the dead endpoint below: fail fast
    def load(source: ConnectorSource) -> str:
        from relpredict.graph.graph import Graph
        from relpredict.tables.table import Table

        graph = Graph([Table("orders", source)], sources=SourceCache(remote.ws))
        with pytest.raises(DataError) as info:
            graph.con  # noqa: B018 - loading is what fails
        message = str(info.value)
        assert message.startswith("Table 'orders'"), message
        for secret in (KEY_SECRET, SF_PASSWORD):
            assert secret not in message
        return message

    assert "No connector named 'lakee'" in load(ConnectorSource("s3", "lakee", path="s3://lake/store/x.csv"))
    assert "Did you mean 'lake'" in load(ConnectorSource("s3", "lakee", path="s3://lake/store/x.csv"))
    assert "which is a snowflake connector" in load(ConnectorSource("s3", "wh", path="s3://lake/x.csv"))
    assert "no object matches s3://lake/store/nothing/*.parquet" in load(
        ConnectorSource("s3", "lake", path="s3://lake/store/nothing/*.parquet"))
    assert "objects of s3://lake/store/ are not all .csv or all .parquet" in load(
        ConnectorSource("s3", "lake", path="s3://lake/store/"))
    missing = load(ConnectorSource("snowflake", "wh", table="NO_SUCH_TABLE"))
    assert "cannot read snowflake table NO_SUCH_TABLE through connector 'wh'" in missing
    assert "relpredict connector test wh" in missing
    bad = load(ConnectorSource("bigquery", "bq", query="SELECT no_such_column FROM store.returns"))
    assert "cannot read bigquery query SELECT no_such_column" in bad
    add_connector(remote.ws, Connector("dead", "s3", {"endpoint_url": "http://127.0.0.1:9"},
                                       {"aws_access_key_id": "env:RP_SRC_KEY_ID",
                                        "aws_secret_access_key": "env:RP_SRC_KEY_SECRET"}), replace=True)
    assert "Check the path, the endpoint and the credentials" in load(
        ConnectorSource("s3", "dead", path="s3://lake/store/products.csv"))
    with pytest.raises(ConfigError, match="exactly one SELECT"):
        ConnectorSource("snowflake", "wh", query="DELETE FROM CUSTOMERS")
