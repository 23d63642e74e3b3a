"""The public API is what ``relpredict.__all__`` says: pinned so a change to it is deliberate."""

import relpredict

EXPECTED = {
    "BoundQuery", "ConfigError", "DataError", "Finding", "Graph", "GraphError",
    "GraphValidationError", "Link", "QueryBindError", "QueryError", "QuerySyntaxError",
    "RelpredictError", "SType", "Schedule", "Table", "TaskType", "Workspace", "WorkspaceError",
    "anchor_schedule", "bind", "default_anchor_time", "dump_graph", "labelled_splits",
    "load_graph", "parse", "prediction_table", "to_pql", "training_table",
}


def test_all_is_pinned() -> None:
    assert set(relpredict.__all__) == EXPECTED


def test_every_name_resolves() -> None:
    for name in relpredict.__all__:
        assert getattr(relpredict, name) is not None


def test_errors_share_one_root() -> None:
    for name in EXPECTED:
        obj = getattr(relpredict, name)
        if isinstance(obj, type) and issubclass(obj, Exception):
            assert issubclass(obj, relpredict.RelpredictError)


def test_python_api_end_to_end(tmp_path) -> None:
    import pandas as pd

    customers = pd.DataFrame({"customer_id": [1, 2]})
    orders = pd.DataFrame({
        "order_id": [10, 11, 12],
        "customer_id": [1, 1, 2],
        "ts": pd.to_datetime(["2024-01-01", "2024-01-15", "2024-02-10"]),
    })
    graph = relpredict.Graph([
        relpredict.Table.from_frame("customers", customers, primary_key="customer_id"),
        relpredict.Table.from_frame("orders", orders, primary_key="order_id",
                                    foreign_keys={"customer_id": "customers"}, time_column="ts"),
    ])
    bq = relpredict.bind("PREDICT COUNT(orders.*, 0, 30, days) > 0 FOR EACH customers.customer_id", graph)
    assert bq.task_type is relpredict.TaskType.binary
    labels = relpredict.training_table(bq, graph, [pd.Timestamp("2024-01-01").to_pydatetime()])
    # (2024-01-01, 2024-01-31]: customer 1 has the order of 01-15 (01-01 is at the anchor, excluded).
    assert labels.to_pydict()["TARGET"] == [True, False]
