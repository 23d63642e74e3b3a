"""Validation: every finding, triggered on purpose, with its exact count, examples and message."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from relpredict.errors import GraphValidationError, RelpredictError
from relpredict.graph import Finding, Graph
from relpredict.tables import Table

from .conftest import write


def frame(name: str, columns: dict, **meta) -> Table:
    return Table.from_frame(name, pa.table(columns), **meta)


def customers(**meta) -> Table:
    meta.setdefault("primary_key", "customer_id")
    return frame("customers", {"customer_id": [1, 2, 3], "name": ["Ann", "Bob", "Cem"]}, **meta)


def orders(customer_ids: list, **meta) -> Table:
    meta.setdefault("primary_key", "order_id")
    meta.setdefault("foreign_keys", {"customer_id": "customers"})
    return frame("orders", {"order_id": list(range(1, len(customer_ids) + 1)),
                            "customer_id": customer_ids}, **meta)


def only(findings: list[Finding]) -> Finding:
    assert len(findings) == 1, findings
    return findings[0]


def test_clean_graph_has_no_findings() -> None:
    graph = Graph([customers(), orders([1, 2, 2, 3, None],
                                       time_column=None)])
    assert graph.validate() == []
    assert graph.validate(missing_keys="error") == []
    assert graph.check() == []


def test_null_primary_key() -> None:
    graph = Graph([frame("users", {"id": [1, None, 3, None], "x": [1, 2, 3, 4]}, primary_key="id")])
    f = only(graph.validate())
    assert (f.severity, f.code, f.table, f.column, f.count, f.examples) == (
        "error", "null_primary_key", "users", "id", 2, ())
    assert f.message == (
        "Table 'users': primary key 'id' is NULL in 2 row(s). Every row needs a key: fill them "
        "in, filter those rows out in the table's `sql:`, or choose another key column.")


def test_duplicate_primary_key_counts_values_and_orders_examples_by_frequency() -> None:
    ids = [1, 2, 2, 3, 3, 3, 4, 5, 5]
    graph = Graph([frame("users", {"id": ids}, primary_key="id")])
    f = only(graph.validate())
    assert (f.severity, f.code, f.table, f.column, f.count, f.examples) == (
        "error", "duplicate_primary_key", "users", "id", 3, (3, 2, 5))
    assert f.message == (
        "Table 'users': primary key 'id' has 3 duplicated value(s), e.g. 3, 2, 5. A primary key "
        "must be unique: deduplicate the rows or choose another key column.")


def test_duplicate_examples_stop_at_five_but_count_all() -> None:
    ids = [f"k{i}" for i in range(7)] * 2 + ["solo"]
    graph = Graph([frame("t", {"key": ids}, primary_key="key")])
    f = only(graph.validate())
    assert f.count == 7
    assert f.examples == ("k0", "k1", "k2", "k3", "k4")
    assert "has 7 duplicated value(s), e.g. 'k0', 'k1', 'k2', 'k3', 'k4'." in f.message


def test_null_and_duplicate_primary_key_together() -> None:
    graph = Graph([frame("t", {"id": [1, 1, None]}, primary_key="id")])
    assert [(f.code, f.count) for f in graph.validate()] == [
        ("null_primary_key", 1), ("duplicate_primary_key", 1)]


def test_missing_foreign_keys_warn_by_default() -> None:
    graph = Graph([customers(), orders([1, 9, 2, 9, 8, None, 3])])
    f = only(graph.validate())
    assert (f.severity, f.code, f.table, f.column, f.count, f.examples) == (
        "warning", "missing_foreign_key", "orders", "customer_id", 3, (8, 9))
    assert f.message == (
        "Table 'orders': foreign key 'customer_id' has 3 row(s) (2 distinct value(s)) not found in "
        "customers.customer_id, e.g. 8, 9. Those rows are kept but link to nothing (they count for "
        "the table, not for any 'customers' row). Add the missing 'customers' rows or filter these "
        "rows out in the table's `sql:`.")
    assert graph.check() == [f]  # a warning does not fail the check


def test_missing_foreign_keys_are_errors_when_strict() -> None:
    graph = Graph([customers(), orders([1, 9, 2, 9, 8, None, 3])])
    f = only(graph.validate(missing_keys="error"))
    assert (f.severity, f.code, f.count, f.examples) == ("error", "missing_foreign_key", 3, (8, 9))
    assert "(2 distinct value(s))" in f.message
    assert "Those rows are kept" not in f.message
    with pytest.raises(GraphValidationError) as err:
        graph.check(missing_keys="error")
    assert err.value.findings == [f]


def test_unparseable_time_values(tmp_path: Path) -> None:
    path = write(tmp_path / "events.csv", """
        id,happened
        1,2024-01-01
        2,yesterday
        3,2024-02-30
        4,
        5,2024-03-01 12:00:00
    """)
    graph = Graph([Table.from_file("events", path, primary_key="id", time_column="happened")])
    unparseable, null = graph.validate()
    assert (unparseable.severity, unparseable.code, unparseable.table, unparseable.column,
            unparseable.count) == ("error", "unparseable_time", "events", "happened", 2)
    assert sorted(unparseable.examples) == ["2024-02-30", "yesterday"]
    assert unparseable.message.startswith(
        "Table 'events': time column 'happened' has 2 value(s) that are not dates or timestamps, "
        "e.g. ")
    assert "'yesterday'" in unparseable.message and "'2024-02-30'" in unparseable.message
    assert "Use ISO 8601" in unparseable.message and "strptime()" in unparseable.message
    # The empty value is a NULL, reported on its own (a warning), not as unparseable.
    assert (null.severity, null.code, null.count) == ("warning", "null_time", 1)
    # In the final table unparseable values read as NULL; no row is dropped.
    assert graph.row_count("events") == 5
    assert graph.sql("SELECT COUNT(happened) FROM events").fetchall() == [(2,)]


def test_unparseable_end_time_is_an_error_but_its_nulls_are_fine() -> None:
    graph = Graph([frame("spans", {"id": [1, 2, 3], "start": ["2024-01-01"] * 3,
                                   "stop": ["2024-01-02", "never", None]},
                         time_column="start", end_time_column="stop")])
    f = only(graph.validate())
    assert (f.code, f.column, f.count, f.examples) == ("unparseable_time", "stop", 1, ("never",))
    assert "end-time column 'stop' has 1 value(s)" in f.message


@pytest.mark.parametrize(("meta", "role", "column", "hint"), [
    ({"primary_key": "idd"}, "primary key", "idd", " Did you mean 'id'?"),
    ({"time_column": "created"}, "time column", "created", " Did you mean 'created_at'?"),
    ({"end_time_column": "zzz"}, "end-time column", "zzz", ""),
    ({"foreign_keys": {"customerid": "customers"}}, "foreign key", "customerid",
     " Did you mean 'customer_id'?"),
    ({"stypes": {"Name": "text"}}, "semantic type override", "Name", " Did you mean 'name'?"),
])
def test_unknown_column(meta: dict, role: str, column: str, hint: str) -> None:
    table = frame("people", {"id": [1], "name": ["x"], "customer_id": [1],
                             "created_at": ["2024-01-01"]}, **meta)
    graph = Graph([table, customers()])
    f = only(graph.validate())
    assert (f.severity, f.code, f.table, f.column) == ("error", "unknown_column", "people", column)
    assert f.message == (
        f"Table 'people': {role} {column!r} is not a column of the table.{hint} "
        "Columns: id, name, customer_id, created_at.")


def test_unknown_column_skips_the_data_checks_of_that_table() -> None:
    # A duplicated key would be found, but the table's metadata is wrong first.
    graph = Graph([frame("t", {"id": [1, 1]}, primary_key="id", time_column="when")])
    assert [f.code for f in graph.validate()] == ["unknown_column"]


def test_unknown_table_in_foreign_key() -> None:
    graph = Graph([customers(), orders([1], foreign_keys={"customer_id": "customer"})])
    f = only(graph.validate())
    assert (f.severity, f.code, f.table, f.column) == (
        "error", "unknown_table", "orders", "customer_id")
    assert f.message == (
        "Table 'orders', foreign key 'customer_id' points to table 'customer', which is not in the "
        "graph. Did you mean 'customers'? Add that table or fix the name.")
    assert graph.links == []  # a link to a missing table is not a link


def test_link_to_table_without_primary_key() -> None:
    graph = Graph([customers(primary_key=None), orders([1, 2])])
    f = only(graph.validate())
    assert (f.severity, f.code, f.table, f.column) == (
        "error", "link_without_primary_key", "orders", "customer_id")
    assert f.message == (
        "Table 'orders', foreign key 'customer_id' points to table 'customers', which has no "
        "primary key. Declare `primary_key:` on 'customers'.")


def test_foreign_key_type_mismatch() -> None:
    graph = Graph([customers(), orders(["1", "2"])])
    f = only(graph.validate())
    assert (f.severity, f.code, f.table, f.column) == (
        "error", "key_type_mismatch", "orders", "customer_id")
    assert f.message == (
        "Table 'orders': foreign key 'customer_id' has type VARCHAR but the primary key "
        "customers.customer_id it points to has type BIGINT. Cast one of them in the table's "
        "`sql:` so both have the same type.")


def test_integer_widths_are_one_key_family() -> None:
    small = pa.table({"order_id": [1], "customer_id": pa.array([2], pa.int32())})
    graph = Graph([customers(), Table.from_frame("orders", small, primary_key="order_id",
                                                  foreign_keys={"customer_id": "customers"})])
    assert graph.validate() == []


def test_time_column_on_empty_table() -> None:
    empty = pa.table({"id": pa.array([], pa.int64()), "at": pa.array([], pa.timestamp("us"))})
    graph = Graph([Table.from_frame("log", empty, time_column="at")])
    f = only(graph.validate())
    assert (f.severity, f.code, f.table, f.column, f.count) == (
        "error", "time_column_on_empty_table", "log", "at", 0)
    assert f.message == (
        "Table 'log' has a time column 'at' but no rows, so no time range can be derived from it. "
        "Load its data (check the file or the table's `sql:`) or remove the time column.")


def test_numeric_time_column() -> None:
    graph = Graph([frame("log", {"id": [1, 2], "ts": [1700000000, 1700000060]}, time_column="ts")])
    f = only(graph.validate())
    assert (f.severity, f.code, f.table, f.column, f.count) == (
        "error", "time_column_type", "log", "ts", None)
    assert f.message == (
        "Table 'log': time column 'ts' has type BIGINT, not a date or timestamp. Convert it in the "
        "table's `sql:` (e.g. to_timestamp(col) for epoch seconds).")


def test_numeric_time_column_converted_in_sql_is_clean() -> None:
    raw = frame("log", {"id": [1, 2], "ts": [0, 86_400]})
    graph = Graph([raw.with_(sql="SELECT id, to_timestamp(ts) AS ts FROM source", time_column="ts")])
    assert graph.validate() == []
    lo, hi = graph.time_range("log")
    assert (hi - lo).days == 1


def test_null_time_warning() -> None:
    graph = Graph([frame("log", {"id": [1, 2, 3], "at": ["2024-01-01", None, None]},
                         time_column="at")])
    f = only(graph.validate())
    assert (f.severity, f.code, f.table, f.column, f.count) == ("warning", "null_time", "log", "at", 2)
    assert f.message == (
        "Table 'log': time column 'at' is NULL in 2 row(s); those rows are never visible at any "
        "anchor time. Give them a time, or filter them out in `sql:` to silence this warning.")
    assert graph.check() == [f]


def test_check_raises_listing_only_errors() -> None:
    graph = Graph([
        customers(),
        orders([1, 1, 9], primary_key="customer_id"),  # 1 duplicated; 9 missing in customers
        frame("log", {"at": ["2024-01-01", None]}, time_column="at"),
    ])
    with pytest.raises(GraphValidationError) as err:
        graph.check()
    assert isinstance(err.value, RelpredictError)
    codes = [(f.severity, f.code) for f in err.value.findings]
    assert codes == [("error", "duplicate_primary_key"), ("warning", "null_time"),
                     ("warning", "missing_foreign_key")]
    assert str(err.value) == (
        "The graph has 1 validation error(s):\n"
        "  - Table 'orders': primary key 'customer_id' has 1 duplicated value(s), e.g. 1. A primary "
        "key must be unique: deduplicate the rows or choose another key column.")


def test_validation_drops_nothing(tmp_path: Path) -> None:
    path = write(tmp_path / "o.csv", """
        order_id,customer_id,at
        1,1,2024-01-01
        1,9,garbage
        ,2,
    """)
    graph = Graph([customers(), Table.from_file("orders", path, primary_key="order_id",
                                                foreign_keys={"customer_id": "customers"},
                                                time_column="at")])
    before = {t: graph.row_count(t) for t in graph.table_names}
    codes = sorted(f.code for f in graph.validate(missing_keys="error"))
    assert codes == ["duplicate_primary_key", "missing_foreign_key", "null_primary_key",
                     "null_time", "unparseable_time"]
    assert {t: graph.row_count(t) for t in graph.table_names} == before == {
        "customers": 3, "orders": 3}
