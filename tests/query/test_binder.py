"""Binding valid queries: every PQL.md example fits the example graph, with the task PQL.md derives."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from relpredict.graph.graph import Graph
from relpredict.query.binder import bind
from relpredict.query.bound import BoundQuery, TaskType, Window
from relpredict.query.parser import parse
from relpredict.query.printer import to_pql

B, R, MC, ML, LP = (TaskType.binary, TaskType.regression, TaskType.multiclass,
                    TaskType.multilabel, TaskType.link_prediction)


@dataclass(frozen=True)
class Expect:
    task: TaskType
    entity: tuple[str, str]
    facts: tuple[str, ...]
    horizon: Window | None
    kind: str
    rank_top: int | None = None
    item: tuple[str, str] | None = None


CUST = ("customers", "customer_id")
USER = ("users", "user_id")
DRIVER = ("drivers", "driverId")

# Verbatim from PQL.md ("Examples that must parse, validate and run" and the rel-f1 tasks), with
# what binding must derive from each (task types per PQL.md's "Task type" table).
PQL_MD_EXAMPLES = [
    ("PREDICT COUNT(orders.*, 0, 30, days) > 0 FOR EACH customers.customer_id",
     Expect(B, CUST, ("orders",), Window(0, 30, "days"), "boolean")),
    ("PREDICT COUNT(transactions.*, 0, 7, days) = 0 FOR EACH customers.customer_id\n"
     "    WHERE COUNT(transactions.*, -7, 0, days) > 0",
     Expect(B, CUST, ("transactions",), Window(0, 7, "days"), "boolean")),
    ("PREDICT SUM(transactions.price, 0, 30, days) FOR EACH customers.customer_id",
     Expect(R, CUST, ("transactions",), Window(0, 30, "days"), "numeric")),
    ("PREDICT FIRST(purchases.type, 0, 7) FOR EACH users.user_id",
     Expect(MC, USER, ("purchases",), Window(0, 7, "days"), "category")),
    ("PREDICT LIST_DISTINCT(transactions.article_id, 0, 7) RANK TOP 10 FOR EACH customers.customer_id",
     Expect(LP, CUST, ("transactions",), Window(0, 7, "days"), "list", 10,
            ("articles", "article_id"))),
    ("PREDICT COUNT(transactions.* WHERE transactions.price > 10, 0, 7, days) FOR EACH users.user_id",
     Expect(R, USER, ("transactions",), Window(0, 7, "days"), "numeric")),
    ("PREDICT COUNT(orders.*, 0, 30, days) > 0 FOR EACH users.user_id\n"
     "    ASSUMING COUNT(notifications.*, 0, 7, days) > 0",
     Expect(B, USER, ("orders",), Window(0, 30, "days"), "boolean")),
    ("PREDICT users.age FOR EACH users.user_id",
     Expect(R, USER, (), None, "numeric")),
    ("PREDICT (users.age > 40 OR users.location = 'US') AND NOT users.gender = 'male' "
     "FOR EACH users.user_id",
     Expect(B, USER, (), None, "boolean")),
    ("PREDICT COUNT(orders.*, 0, 30, days) > 0 FOR EACH customers.customer_id\n"
     "    WHERE customers.status = 'ACTIVE' AND COUNT(orders.*, -90, 0) > 0",
     Expect(B, CUST, ("orders",), Window(0, 30, "days"), "boolean")),
    ("-- driver-dnf (AUROC)\n"
     "PREDICT COUNT(results.* WHERE results.statusId != 1, 0, 30, days) > 0\n"
     "FOR EACH drivers.driverId ASSUMING COUNT(results.*, 0, 30, days) > 0",
     Expect(B, DRIVER, ("results",), Window(0, 30, "days"), "boolean")),
    ("-- driver-top3 (AUROC)\n"
     "PREDICT MIN(qualifying.position, 0, 30, days) <= 3 FOR EACH drivers.driverId",
     Expect(B, DRIVER, ("qualifying",), Window(0, 30, "days"), "boolean")),
    ("-- driver-position (MAE)\n"
     "PREDICT AVG(results.positionOrder, 0, 60, days) FOR EACH drivers.driverId",
     Expect(R, DRIVER, ("results",), Window(0, 60, "days"), "numeric")),
]
IDS = [f"example{i}" for i in range(1, 11)] + ["f1-driver-dnf", "f1-driver-top3", "f1-driver-position"]


@pytest.mark.parametrize(("text", "expect"), PQL_MD_EXAMPLES, ids=IDS)
def test_pql_md_examples_bind(graph: Graph, text: str, expect: Expect) -> None:
    bound = bind(text, graph)
    assert isinstance(bound, BoundQuery)
    assert bound.task_type is expect.task
    assert (bound.entity_table, bound.entity_key) == expect.entity
    assert bound.fact_tables == expect.facts
    assert bound.horizon == expect.horizon
    assert bound.is_temporal is (expect.horizon is not None)
    assert bound.target_kind == expect.kind
    assert bound.rank_top == expect.rank_top
    assert (bound.item_table, bound.item_key) == (expect.item or (None, None))
    assert bound.entity_time == graph[expect.entity[0]].time_column


@pytest.mark.parametrize(("text", "expect"), PQL_MD_EXAMPLES, ids=IDS)
def test_round_trip_through_canonical_text(graph: Graph, text: str, expect: Expect) -> None:
    bound = bind(text, graph)
    tree = parse(text)
    assert bound.query == tree
    assert bound.text == to_pql(tree)
    assert parse(bound.text) == tree
    again = bind(bound.text, graph)
    assert again.text == bound.text
    assert (again.task_type, again.fact_tables, again.horizon) == (
        bound.task_type, bound.fact_tables, bound.horizon)


def test_bind_accepts_a_parsed_tree(graph: Graph) -> None:
    text = PQL_MD_EXAMPLES[0][0]
    bound = bind(parse(text), graph)
    assert bound.text == to_pql(parse(text))
    assert bound.task_type is B


def test_where_assuming_and_target_are_the_tree_parts(graph: Graph) -> None:
    bound = bind(PQL_MD_EXAMPLES[6][0], graph)
    tree = parse(PQL_MD_EXAMPLES[6][0])
    assert bound.target == tree.target
    assert bound.where is None
    assert bound.assuming == tree.assuming
    # ASSUMING's window does not count towards the horizon or the fact tables.
    assert bound.fact_tables == ("orders",)

    bound = bind(PQL_MD_EXAMPLES[9][0], graph)
    assert bound.where == parse(PQL_MD_EXAMPLES[9][0]).where
    assert bound.assuming is None


def test_static_query_has_no_horizon(graph: Graph) -> None:
    bound = bind("PREDICT users.age FOR EACH users.user_id", graph)
    assert bound.horizon is None
    assert bound.is_temporal is False
    assert bound.fact_tables == ()
    assert bound.entity_time == "joined"


@pytest.mark.parametrize(("text", "task", "kind"), [
    # LIST_DISTINCT with CLASSIFY: multilabel
    ("PREDICT LIST_DISTINCT(transactions.article_id, 0, 7) CLASSIFY FOR EACH customers.customer_id",
     ML, "list"),
    ("PREDICT LIST_DISTINCT(purchases.type, 0, 30) CLASSIFY FOR EACH users.user_id", ML, "list"),
    # a multicategorical (list) column with CLASSIFY: multilabel
    ("PREDICT users.interests CLASSIFY FOR EACH users.user_id", ML, "list"),
    # a boolean column: binary
    ("PREDICT users.is_premium FOR EACH users.user_id", B, "boolean"),
    # FIRST / LAST of a numeric column: regression
    ("PREDICT FIRST(purchases.amount, 0, 7) FOR EACH users.user_id", R, "numeric"),
    ("PREDICT LAST(orders.amount, 0, 14, days) FOR EACH customers.customer_id", R, "numeric"),
    # LAST of a categorical column: multiclass; a categorical column: multiclass
    ("PREDICT LAST(orders.channel, 0, 7) FOR EACH users.user_id", MC, "category"),
    ("PREDICT users.location FOR EACH users.user_id", MC, "category"),
    ("PREDICT users.location CLASSIFY FOR EACH users.user_id", MC, "category"),
    # COUNT / COUNT_DISTINCT / MAX of anything countable: regression
    ("PREDICT COUNT_DISTINCT(transactions.article_id, 0, 7) FOR EACH customers.customer_id",
     R, "numeric"),
    ("PREDICT COUNT_DISTINCT(orders.channel, 0, 7) FOR EACH customers.customer_id", R, "numeric"),
    ("PREDICT MAX(orders.amount, 0, 7) FOR EACH customers.customer_id", R, "numeric"),
    # conditions of every shape: binary
    ("PREDICT users.location IN ('US', 'DE') FOR EACH users.user_id", B, "boolean"),
    ("PREDICT users.age IS NOT NULL FOR EACH users.user_id", B, "boolean"),
    ("PREDICT users.location STARTS WITH 'U' FOR EACH users.user_id", B, "boolean"),
    ("PREDICT users.interests CONTAINS 'golf' FOR EACH users.user_id", B, "boolean"),
    ("PREDICT users.bio LIKE '%dog%' FOR EACH users.user_id", B, "boolean"),
    ("PREDICT LIST_DISTINCT(transactions.article_id, 0, 7) CONTAINS 100 "
     "FOR EACH customers.customer_id", B, "boolean"),
    ("PREDICT users.age > 40 OR TRUE FOR EACH users.user_id", B, "boolean"),
    ("PREDICT users.joined > '2024-01-03' FOR EACH users.user_id", B, "boolean"),
    ("PREDICT FIRST(purchases.type, 0, 7) = 'book' FOR EACH users.user_id", B, "boolean"),
    ("PREDICT SUM(orders.amount, 0, 7) > 10 AND COUNT(purchases.*, 0, 7) = 0 "
     "FOR EACH users.user_id", B, "boolean"),
    # a categorical code stored as a number (F1's statusId) compares with numbers
    ("PREDICT FIRST(results.statusId, 0, 30) FOR EACH drivers.driverId", MC, "code"),
    ("PREDICT FIRST(results.statusId, 0, 30) IN (1, 2) FOR EACH drivers.driverId", B, "boolean"),
])
def test_derived_task_type(graph: Graph, text: str, task: TaskType, kind: str) -> None:
    bound = bind(text, graph)
    assert bound.task_type is task
    assert bound.target_kind == kind


def test_horizon_is_the_furthest_target_window(graph: Graph) -> None:
    bound = bind("PREDICT COUNT(orders.*, 0, 2, weeks) > COUNT(purchases.*, 0, 10, days) "
                 "FOR EACH users.user_id", graph)
    assert bound.horizon == Window(0, 2, "weeks")
    assert bound.fact_tables == ("orders", "purchases")
    bound = bind("PREDICT SUM(orders.amount, 0, 36, hours) FOR EACH customers.customer_id", graph)
    assert bound.horizon == Window(0, 36, "hours")


def test_keywords_case_insensitive_and_default_unit(graph: Graph) -> None:
    bound = bind("predict count(orders.*, 0, 30) > 0 for each customers.customer_id "
                 "where customers.status = 'ACTIVE'", graph)
    assert bound.task_type is B
    assert bound.horizon == Window(0, 30, "days")


def test_where_may_reach_back_to_minus_infinity(graph: Graph) -> None:
    bound = bind("PREDICT COUNT(orders.*, 0, 30) > 0 FOR EACH customers.customer_id "
                 "WHERE COUNT(orders.*, -INF, 0) > 2", graph)
    assert bound.horizon == Window(0, 30, "days")
    assert bound.where is not None


def test_static_query_where_uses_columns(graph: Graph) -> None:
    bound = bind("PREDICT users.age FOR EACH users.user_id WHERE users.location = 'US'", graph)
    assert bound.task_type is R
    assert not bound.is_temporal


@pytest.mark.parametrize("text", [
    # target: a column of the table the entity points to
    "PREDICT regions.population FOR EACH customers.customer_id",
    "PREDICT regions.region_name = 'EU' FOR EACH customers.customer_id",
    # WHERE: a column of the table the entity points to
    "PREDICT COUNT(orders.*, 0, 30) > 0 FOR EACH customers.customer_id WHERE regions.region_name = 'EU'",
    # row filter: a column of a table the aggregated table points to (articles), and of the entity
    "PREDICT COUNT(transactions.* WHERE articles.colour = 'red', 0, 7) FOR EACH customers.customer_id",
    "PREDICT COUNT(transactions.* WHERE articles.in_stock, 0, 7) FOR EACH customers.customer_id",
    "PREDICT SUM(orders.amount WHERE customers.status = 'ACTIVE', 0, 7) FOR EACH customers.customer_id",
])
def test_columns_one_foreign_key_hop_away(graph: Graph, text: str) -> None:
    bound = bind(text, graph)
    assert bound.entity_table == "customers"


def test_one_hop_target_kinds(graph: Graph) -> None:
    assert bind("PREDICT regions.population FOR EACH customers.customer_id",
                graph).task_type is R
    assert bind("PREDICT regions.region_name FOR EACH customers.customer_id",
                graph).task_type is MC


def test_entity_without_time_column(graph: Graph) -> None:
    bound = bind("PREDICT COUNT(results.*, 0, 30) > 0 FOR EACH drivers.driverId", graph)
    assert bound.entity_time is None
    assert bound.is_temporal
