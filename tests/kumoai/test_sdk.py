"""The kumoai-shaped SDK on a small local demo store, without training: names and signatures
build the same relpredict graph, query and label tables; what relpredict cannot do is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

import relpredict.kumoai as kumo
from relpredict.demo.generator import generate
from relpredict.errors import ConfigError, NotFoundError
from relpredict.graph.yaml_io import load_graph
from relpredict.kumoai import _session
from relpredict.kumoai.artifact_export.config import OutputConfig
from relpredict.labels.labels import anchor_schedule, labelled_splits
from relpredict.query.binder import bind

QUERY = "PREDICT COUNT(transactions.*, 0, 30, days) = 0 FOR EACH customers.customer_id"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("kumo") / "store"
    generate(folder, customers=60, seed=1)
    return folder


@pytest.fixture()
def connector(demo: Path, tmp_path: Path) -> kumo.S3Connector:
    kumo.init(url="http://127.0.0.1:8123/api", api_key="not-needed", home=tmp_path / "ws")
    return kumo.S3Connector(root_dir=str(demo))


def _graph(connector: kumo.S3Connector) -> kumo.Graph:
    customers = kumo.Table.from_source_table(connector["customers"], primary_key="customer_id").infer_metadata()
    transactions = kumo.Table.from_source_table(connector["transactions"]).infer_metadata()
    graph = kumo.Graph(tables={"customers": customers, "transactions": transactions})
    return graph.link("customers", "customer_id", "transactions")  # written the other way round


def test_a_script_must_call_init_first(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_session, "_SESSION", None)
    with pytest.raises(ConfigError, match=r"not initialised: call kumo.init\(\) first"):
        kumo.S3Connector(root_dir="/tmp")


def test_tables_graph_and_query_are_relpredict_ones(connector: kumo.S3Connector, demo: Path) -> None:
    assert {"customers", "products", "transactions", "returns"} <= set(connector.table_names())
    assert list(connector["customers"].head(3).columns)[:2] == ["customer_id", "signup_time"]
    graph = _graph(connector)
    transactions = graph.tables["transactions"]
    assert (transactions.primary_key, transactions.time_column) == ("transaction_id", "timestamp")
    assert graph.tables["customers"].time_column == "signup_time"
    assert graph.edges == [kumo.Edge("transactions", "customer_id", "customers")]
    pquery = kumo.PredictiveQuery(graph=graph, query=QUERY)
    assert pquery.validate(verbose=False) is pquery
    assert pquery.get_task_type() is kumo.TaskType.BINARY_CLASSIFICATION
    local = load_graph(demo / "graph.yaml")
    bq = bind(QUERY, local)
    want = labelled_splits(bq, local, anchor_schedule(bq, local)).to_pandas()
    got = pquery.generate_training_table(non_blocking=True).result().data_df()
    assert got.equals(want)
    table = pquery.generate_prediction_table()
    assert table.anchor_time == local.time_range("transactions")[1]
    assert len(table.data_df()) == 60


def test_stype_and_column_choices_reach_the_graph(connector: kumo.S3Connector) -> None:
    graph = _graph(connector)
    graph.tables["transactions"]["channel"].stype = "text"
    assert graph.to_relpredict().stypes("transactions")["channel"].value == "text"
    narrow = kumo.Table(connector["customers"], columns=["customer_id", "region"], primary_key="customer_id")
    assert list(kumo.Graph({"customers": narrow}).to_relpredict().columns("customers")) == ["customer_id", "region"]
    with pytest.raises(ConfigError, match="has no column 'nope'"):
        kumo.Table(connector["customers"], columns=["nope"])


def test_model_plans_map_to_train_options(connector: kumo.S3Connector) -> None:
    pquery = kumo.PredictiveQuery(graph=_graph(connector), query=QUERY)
    fast = pquery.suggest_model_plan(run_mode="fast")
    assert fast.options().kind == "lightgbm"
    plan = pquery.suggest_model_plan()
    plan.optimization.max_epochs = 3
    plan.neighbor_sampling.num_neighbors = [8, 4]
    options = plan.options()
    assert (options.kind, options.gnn.max_epochs, options.gnn.fanout) == ("auto", 3, (8, 4))
    with pytest.raises(ConfigError, match=r"model plan setting OptimizationPlan.loss"):
        plan.optimization.loss = "focal"


def test_what_relpredict_cannot_do_is_refused_plainly(connector: kumo.S3Connector) -> None:
    with pytest.raises(ConfigError, match=r"^relpredict cannot do a DatabricksConnector connector: "):
        kumo.DatabricksConnector(name="db")
    with pytest.raises(ConfigError, match=r"never takes a secret as a value: add the connector once"):
        kumo.SnowflakeConnector(name="wh", account="a", credentials={"user": "u", "password": "p"})
    with pytest.raises(NotFoundError, match="No connector named 'wh'"):
        kumo.SnowflakeConnector(name="wh")
    with pytest.raises(ConfigError, match="takes predictions and/or embeddings"):
        OutputConfig(output_types={"scores"}).types()
    with pytest.raises(NotFoundError, match=r"no table 'orders'"):
        connector["orders"]
    with pytest.raises(ConfigError, match=r"Snowpark Container Services"):
        kumo.init(snowflake_credentials={"user": "u"})
    with pytest.raises(ConfigError, match=r"needs a trained model: call fit\(\) first"):
        kumo.Trainer(kumo.ModelPlan()).predict(graph=_graph(connector), prediction_table=None)


def test_tracking_urls_name_the_relpredict_pages(connector: kumo.S3Connector) -> None:
    assert kumo.TrainingJobResult("churn@2").tracking_url == "http://127.0.0.1:8123/models/churn@2"
