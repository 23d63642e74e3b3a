"""Queries that parse but do not fit the graph: each error says what is wrong and underlines where.

Every case names the text that must be underlined; the test checks the error's line and column,
that the underline covers exactly that text (``length``), and the message fragment.
"""

from __future__ import annotations

import pytest

from relpredict.errors import QueryBindError, QueryError
from relpredict.graph.graph import Graph
from relpredict.query.ast import ColumnRef, Query
from relpredict.query.binder import bind

CUST = "FOR EACH customers.customer_id"
USER = "FOR EACH users.user_id"
TARGET = "PREDICT COUNT(orders.*, 0, 30) > 0"  # a valid temporal target for customers or users


def case(query: str, fragment: str, line: int, col: int, underlined: str, *, id: str):
    return pytest.param(query, fragment, line, col, underlined, id=id)


# (query, message fragment, line, col, the exact underlined text)
CATALOGUE = [
    # --- names
    case(f"PREDICT COUNT(order.*, 0, 30) > 0 {CUST}",
         "Unknown table 'order'. Did you mean 'orders'", 1, 15, "order.*", id="unknown-table-in-agg"),
    case(f"PREDICT USERS.agee {USER}",
         "Unknown column 'agee' in table 'users'. Did you mean 'age'", 1, 9, "USERS.agee",
         id="table-matched-ignoring-case-then-unknown-column"),
    case(f"{TARGET} FOR EACH costumers.customer_id",
         "Unknown table 'costumers'. Did you mean 'customers'", 1, 45, "costumers.customer_id",
         id="unknown-entity-table"),
    case(f"PREDICT users.agee {USER}",
         "Unknown column 'agee' in table 'users'. Did you mean 'age'", 1, 9, "users.agee",
         id="unknown-column"),
    case(f"PREDICT SUM(transactions.prize, 0, 30) {CUST}",
         "Unknown column 'prize' in table 'transactions'. Did you mean 'price'?", 1, 13,
         "transactions.prize", id="unknown-column-in-agg"),
    # --- the entity
    case("PREDICT users.age FOR EACH users.location",
         "FOR EACH needs the primary key of 'users': write users.user_id, not users.location.",
         1, 28, "users.location", id="entity-not-primary-key"),
    case(f"{TARGET} FOR EACH orders.customer_id",
         "write orders.order_id, not orders.customer_id", 1, 45, "orders.customer_id",
         id="entity-foreign-key-column"),
    case(f"{TARGET} FOR EACH DRIVERS.FORENAME",
         "write drivers.driverId, not drivers.forename", 1, 45, "DRIVERS.FORENAME",
         id="entity-not-key-names-as-stored"),
    case("PREDICT weather.temperature FOR EACH weather.day",
         "Table 'weather' has no primary key, so it cannot be the entity of FOR EACH", 1, 38,
         "weather.day", id="entity-without-primary-key"),
    # --- aggregated tables
    case(f"PREDICT COUNT(addresses.*, 0, 30) > 0 {USER}",
         "Table 'addresses' has no time column", 1, 15, "addresses.*", id="agg-no-time-column"),
    case(f"PREDICT COUNT(weather.*, 0, 7) {USER}",
         "Table 'weather' is not linked to the entity table 'users': 'weather' has no foreign key "
         "to 'users'", 1, 15, "weather.*", id="agg-table-not-linked"),
    case(f"PREDICT COUNT(purchases.*, 0, 7) {CUST}",
         "'purchases' has no foreign key to 'customers'. Add one in the graph "
         "(foreign_keys: {<column>: customers})", 1, 15, "purchases.*",
         id="agg-table-linked-elsewhere"),
    case(f"PREDICT COUNT(customers.*, 0, 7) {CUST}",
         "'customers' is the entity table itself", 1, 15, "customers.*", id="agg-of-entity-table"),
    case(f"PREDICT COUNT(transfers.*, 0, 7) {USER}",
         "Table 'transfers' links to 'users' through several foreign keys (sender_id, receiver_id)",
         1, 15, "transfers.*", id="agg-two-fks-to-entity"),
    # --- aggregation types
    case(f"PREDICT SUM(orders.note, 0, 7) {CUST}",
         "SUM needs a numerical column, but orders.note is text", 1, 13, "orders.note",
         id="sum-of-text"),
    case(f"PREDICT AVG(orders.channel, 0, 7) {CUST}",
         "AVG needs a numerical column, but orders.channel is category", 1, 13, "orders.channel",
         id="avg-of-category"),
    case("PREDICT SUM(results.statusId, 0, 30) FOR EACH drivers.driverId",
         "SUM needs a numerical column, but results.statusId is code", 1, 13, "results.statusId",
         id="sum-of-numeric-code"),
    case(f"PREDICT MIN(purchases.type, 0, 7) {USER}",
         "MIN needs a numerical or timestamp column, but purchases.type is category", 1, 13,
         "purchases.type", id="min-of-category"),
    # --- windows
    case(f"{TARGET} {CUST} WHERE COUNT(orders.*, -7, 7) > 0",
         "its windows must end at or before 0 (this one ends at 7). To condition on the future, "
         "use ASSUMING.", 1, 73, "COUNT(orders.*, -7, 7)", id="forward-window-in-where"),
    case(f"PREDICT COUNT(orders.*, -30, 0) {CUST}",
         "A TARGET window looks forward: it must start at 0 or later (this one starts at -30). "
         "For past data, use it in WHERE.", 1, 9, "COUNT(orders.*, -30, 0)",
         id="backward-window-in-target"),
    case(f"PREDICT COUNT(orders.*, -INF, 30) {CUST}",
         "(this one starts at -INF)", 1, 9, "COUNT(orders.*, -INF, 30)", id="minus-inf-in-target"),
    case(f"{TARGET} {USER} ASSUMING COUNT(notifications.*, -7, 7) > 0",
         "An ASSUMING window looks forward: it must start at 0 or later (this one starts at -7). "
         "For past data, move it to WHERE.", 1, 68, "COUNT(notifications.*, -7, 7)",
         id="negative-start-in-assuming"),
    case(f"PREDICT COUNT(orders.*, 30, 30) {CUST}",
         "A window's start must be before its end: (30, 30] is empty.", 1, 9,
         "COUNT(orders.*, 30, 30)", id="empty-window"),
    case(f"{TARGET} {CUST} WHERE COUNT(orders.*, -7, -30) > 0",
         "(-7, -30] is empty", 1, 73, "COUNT(orders.*, -7, -30)", id="reversed-window-in-where"),
    # --- clauses
    case(f"{TARGET} {USER} ASSUMING users.age > 30",
         "ASSUMING states a condition on the future: it needs an aggregation with a forward window",
         1, 68, "users.age > 30", id="assuming-without-aggregation"),
    case(f"PREDICT users.age {USER} WHERE COUNT(orders.*, -30, 0) > 0",
         "A static query (its target has no time window) has no anchor time, so its WHERE cannot "
         "aggregate over time", 1, 48, "COUNT(orders.*, -30, 0)", id="static-query-agg-in-where"),
    case(f"PREDICT users.age > 3 {USER} ASSUMING COUNT(orders.*, 0, 7) > 0",
         "so its ASSUMING cannot aggregate over time", 1, 55, "COUNT(orders.*, 0, 7)",
         id="static-query-agg-in-assuming"),
    case(f"PREDICT users.age {USER} WHERE users.age",
         "WHERE needs a condition (true or false), but this is a numeric value", 1, 48, "users.age",
         id="where-not-a-condition"),
    case(f"{TARGET} {CUST} WHERE COUNT(orders.*, -INF, 0)",
         "WHERE needs a condition (true or false), but this is a numeric value", 1, 73,
         "COUNT(orders.*, -INF, 0)", id="where-bare-aggregation"),
    case(f"PREDICT COUNT(transactions.* WHERE transactions.price, 0, 7) {CUST}",
         "The row filter needs a condition, but this is a numeric value", 1, 36,
         "transactions.price", id="row-filter-not-a-condition"),
    # --- operators and types
    case(f"PREDICT NOT users.age {USER}",
         "NOT combines conditions, but this is a numeric value", 1, 13, "users.age",
         id="not-over-number"),
    case(f"PREDICT users.age > 3 AND users.location {USER}",
         "AND combines conditions, but this is a category value", 1, 27, "users.location",
         id="and-over-category"),
    case(f"PREDICT users.location IS NULL OR users.age {USER}",
         "OR combines conditions, but this is a numeric value", 1, 35, "users.age",
         id="or-over-number"),
    case(f"PREDICT users.age = 'forty' {USER}",
         "= compares values of one kind, not numeric with category", 1, 9, "users.age = 'forty'",
         id="number-equals-string"),
    case(f"PREDICT users.age < 'x' {USER}",
         "< compares numbers or times, not numeric with category", 1, 9, "users.age < 'x'",
         id="number-less-than-string"),
    case(f"PREDICT users.is_premium = 1 {USER}",
         "= compares values of one kind, not boolean with numeric", 1, 9, "users.is_premium = 1",
         id="boolean-equals-number"),
    case(f"PREDICT users.age {USER} WHERE users.joined > 3",
         "> compares numbers or times, not timestamp with numeric", 1, 48, "users.joined > 3",
         id="timestamp-greater-than-number"),
    case(f"PREDICT users.age LIKE '4%' {USER}",
         "LIKE compares text, not numeric with category", 1, 9, "users.age LIKE '4%'",
         id="like-on-number"),
    case(f"PREDICT users.age CONTAINS 'x' {USER}",
         "CONTAINS needs text or a list on its left, not numeric", 1, 9,
         "users.age CONTAINS 'x'", id="contains-on-number"),
    case(f"PREDICT users.location CONTAINS 3 {USER}",
         "CONTAINS looks for text in text, not numeric in category", 1, 9,
         "users.location CONTAINS 3", id="contains-number-in-text"),
    case(f"PREDICT users.location IN ('US', 'DE', 4.5) {USER}",
         "IN compares values of one kind: 4.5 is numeric, the left side is category", 1, 40, "4.5",
         id="in-list-number-among-strings"),
    case(f"PREDICT users.age IN (40, '41') {USER}",
         "'41' is category, the left side is numeric", 1, 27, "'41'", id="in-list-string-among-numbers"),
    case("PREDICT FIRST(results.statusId, 0, 30) = 'DNF' FOR EACH drivers.driverId",
         "= compares values of one kind, not code with category", 1, 9,
         "FIRST(results.statusId, 0, 30) = 'DNF'", id="numeric-code-equals-string"),
    # --- task shape
    case(f"PREDICT SUM(orders.amount, 0, 7) RANK TOP 5 {CUST}",
         "RANK TOP k ranks the items of LIST_DISTINCT(table.foreign_key, ...) or the classes of a "
         "categorical target; this target is numeric. Drop RANK TOP k, or rank a list",
         1, 9, "SUM(orders.amount, 0, 7)", id="rank-on-non-list-distinct"),
    case(f"PREDICT users.is_premium TOP 3 {USER}",
         "this target is boolean", 1, 9, "users.is_premium", id="top-on-boolean"),
    case(f"PREDICT users.age CLASSIFY TOP 3 {USER}",
         "CLASSIFY applies to a list or categorical target, not a numeric one", 1, 9, "users.age",
         id="classify-top-numeric"),
    case(f"PREDICT LIST_DISTINCT(transactions.article_id, 0, 7) {CUST}",
         "This target is a list: add RANK TOP k to rank items, or CLASSIFY", 1, 9,
         "LIST_DISTINCT(transactions.article_id, 0, 7)", id="list-distinct-without-rank"),
    case(f"PREDICT users.interests {USER}",
         "This target is a list", 1, 9, "users.interests", id="list-column-without-classify"),
    case(f"PREDICT SUM(orders.amount, 0, 7) CLASSIFY {CUST}",
         "CLASSIFY applies to a list or categorical target, not a numeric one", 1, 9,
         "SUM(orders.amount, 0, 7)", id="classify-numeric"),
    case(f"PREDICT users.is_premium CLASSIFY {USER}",
         "CLASSIFY applies to a list or categorical target, not a boolean one", 1, 9,
         "users.is_premium", id="classify-boolean"),
    case(f"PREDICT users.user_id {USER}",
         "The target is an ID", 1, 9, "users.user_id", id="target-id-column"),
    case(f"PREDICT LAST(orders.customer_id, 0, 7) {USER}",
         "The target is an ID", 1, 9, "LAST(orders.customer_id, 0, 7)", id="target-last-of-id"),
    case(f"PREDICT users.joined {USER}",
         "The target is a timestamp, which cannot be predicted", 1, 9, "users.joined",
         id="target-timestamp"),
    case(f"PREDICT MAX(orders.created_at, 0, 7) {USER}",
         "The target is a timestamp", 1, 9, "MAX(orders.created_at, 0, 7)",
         id="target-max-of-timestamp"),
    case(f"PREDICT users.bio {USER}",
         "The target is free text", 1, 9, "users.bio", id="target-text"),
    case(f"PREDICT NULL {USER}", "The target is a constant", 1, 9, "NULL", id="target-null"),
    case(f"PREDICT 1 {USER}", "The target is a constant: it reads no table", 1, 9, "1",
         id="target-constant-number"),
    case(f"PREDICT TRUE {USER}", "The target is a constant", 1, 9, "TRUE",
         id="target-constant-boolean"),
    case(f"PREDICT NOT (1 = 2) {USER}", "The target is a constant", 1, 9, "NOT (1 = 2)",
         id="target-constant-condition"),
    # --- reachability
    case(f"PREDICT weather.temperature {USER}",
         "Column weather.temperature is not reachable from the entity row: only 'users' and tables "
         "it points to by a foreign key", 1, 9, "weather.temperature",
         id="target-column-of-unlinked-table"),
    case(f"PREDICT orders.amount {CUST}",
         "Aggregate 'orders' over a time window instead", 1, 9, "orders.amount",
         id="target-column-of-child-table"),
    case(f"{TARGET} {CUST} WHERE orders.amount > 3",
         "Column orders.amount is not reachable from the entity row", 1, 73, "orders.amount",
         id="where-column-of-child-table"),
    case(f"PREDICT COUNT(transactions.* WHERE orders.amount > 0, 0, 7) {CUST}",
         "Column orders.amount is not reachable from the filter of 'transactions'", 1, 36,
         "orders.amount", id="row-filter-column-of-unlinked-table"),
    # --- positions on later lines
    case(f"{TARGET}\n{CUST}\nWHERE COUNT(orders.*, 0, 7) > 0",
         "use ASSUMING", 3, 7, "COUNT(orders.*, 0, 7)", id="line3-forward-window-in-where"),
    case(f"{TARGET}\n{CUST}\nWHERE customers.statuss = 'ACTIVE'",
         "Did you mean 'status'?", 3, 7, "customers.statuss", id="line3-unknown-column"),
    case(f"{TARGET}\n{USER}\nASSUMING COUNT(notifications.*, 0, 7) > 'x'",
         "> compares numbers or times, not numeric with category", 3, 10,
         "COUNT(notifications.*, 0, 7) > 'x'", id="line3-type-mismatch"),
    case(f"{TARGET}\n{USER}\nWHERE users.age > 18\n  AND COUNT(transfers.*, -30, 0) > 0",
         "several foreign keys (sender_id, receiver_id)", 4, 13, "transfers.*",
         id="line4-ambiguous-link"),
    case("-- driver-top3 (AUROC)\n"
         "PREDICT MIN(qualifying.positon, 0, 30, days) <= 3 FOR EACH drivers.driverId",
         "Unknown column 'positon' in table 'qualifying'. Did you mean 'position'?", 2, 13,
         "qualifying.positon", id="line2-after-comment"),
    # An aggregation spanning two lines is underlined to the end of its first line.
    case(f"-- churn\nPREDICT COUNT(orders.*,\n    -30, 0) > 0 {CUST}",
         "A TARGET window looks forward", 2, 9, "COUNT(orders.*,", id="line2-multiline-aggregation"),
]


@pytest.mark.parametrize(("query", "fragment", "line", "col", "underlined"), CATALOGUE)
def test_bind_error_catalogue(graph: Graph, query: str, fragment: str, line: int, col: int,
                              underlined: str) -> None:
    with pytest.raises(QueryBindError) as info:
        bind(query, graph)
    err = info.value
    assert isinstance(err, QueryError)
    assert fragment in err.description
    assert (err.line, err.col, err.length) == (line, col, len(underlined))
    text = query.split("\n")[line - 1]
    assert text[col - 1:col - 1 + err.length] == underlined
    assert err.query == query


def test_catalogue_is_large_and_distinct() -> None:
    assert len(CATALOGUE) >= 20
    assert len({p.values[0] for p in CATALOGUE}) == len(CATALOGUE)


def test_rendered_message_shows_line_and_underline(graph: Graph) -> None:
    query = f"{TARGET}\n{CUST}\nWHERE COUNT(orders.*, 0, 7) > 0"
    with pytest.raises(QueryBindError) as info:
        bind(query, graph)
    err = info.value
    head, shown, marker = str(err).split("\n")
    assert head == f"{err.description} Line 3, Col: 7."
    assert shown == "  WHERE COUNT(orders.*, 0, 7) > 0"
    assert marker == "  " + " " * 6 + "~" * len("COUNT(orders.*, 0, 7)")
    # the tildes sit exactly under the offending aggregation
    start = marker.index("~")
    assert shown[start:start + marker.count("~")] == "COUNT(orders.*, 0, 7)"


def test_rendered_message_on_first_line(graph: Graph) -> None:
    query = f"PREDICT COUNT(order.*, 0, 30) > 0 {CUST}"
    with pytest.raises(QueryBindError) as info:
        bind(query, graph)
    lines = str(info.value).split("\n")
    assert lines[0].endswith("Line 1, Col: 15.")
    assert lines[1] == f"  {query}"
    assert lines[2] == "  " + " " * 14 + "~~~~~~~"


def test_error_without_positions_for_a_hand_built_tree(graph: Graph) -> None:
    tree = Query(ColumnRef("users", "agee"), None, False, ColumnRef("users", "user_id"))
    with pytest.raises(QueryBindError) as info:
        bind(tree, graph)
    err = info.value
    assert err.line is None and err.col is None
    assert str(err) == err.description
    assert "Did you mean 'age'" in str(err)


def test_unknown_table_lists_the_tables(graph: Graph) -> None:
    with pytest.raises(QueryBindError) as info:
        bind(f"PREDICT COUNT(order.*, 0, 30) > 0 {CUST}", graph)
    assert "Tables: customers, regions, users, orders" in info.value.description


def test_unknown_column_lists_the_columns(graph: Graph) -> None:
    with pytest.raises(QueryBindError) as info:
        bind(f"PREDICT users.agee {USER}", graph)
    assert ("Columns: user_id, age, location, gender, is_premium, interests, bio, joined."
            in info.value.description)


def test_no_suggestion_when_nothing_is_near(graph: Graph) -> None:
    with pytest.raises(QueryBindError) as info:
        bind(f"PREDICT COUNT(zzzzqqq.*, 0, 30) > 0 {CUST}", graph)
    assert "Did you mean" not in info.value.description
    assert "Unknown table 'zzzzqqq'." in info.value.description
