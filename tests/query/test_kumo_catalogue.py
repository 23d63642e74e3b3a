"""Kumo's documented query forms, adapted to the demo store (and to rel-f1 when its data is there).

Each query is written the way Kumo's docs write it (docs.kumo.ai "pquery-structure", "task-types",
"rank", "commands-and-operators", the predictive-query examples, and KumoRFM's "querying" and
"prediction types" pages: ``FOR users.user_id=1``, upper-case names, double-quoted strings, ...),
with the table and column names of the demo store. Each must parse, bind and give the task type
Kumo gives it; its canonical text must bind to the same task again. The refused forms are listed
with the message they get and the text it underlines.

Demo store: customers (customer_id, signup_time, region, age, segment, acquisition_channel),
products (product_id, category, brand, price; static), transactions (transaction_id,
customer_id → customers, product_id → products, price, quantity, timestamp, channel), returns
(return_id, transaction_id → transactions, timestamp, reason, refund).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pandas as pd
import pytest

from relpredict.demo.generator import generate
from relpredict.errors import QueryBindError, QueryError, QuerySyntaxError
from relpredict.graph.graph import Graph
from relpredict.graph.yaml_io import load_graph
from relpredict.labels.labels import (
    anchor_schedule,
    default_anchor_time,
    prediction_table,
    training_table,
)
from relpredict.query.binder import _Binder, bind
from relpredict.query.bound import TaskType
from relpredict.query.parser import parse, parse_expression
from relpredict.query.printer import to_pql
from tests.conftest import F1, F1_YAML, needs_f1

B, R, MC, ML, LP = (TaskType.binary, TaskType.regression, TaskType.multiclass,
                    TaskType.multilabel, TaskType.link_prediction)

EACH = "FOR EACH customers.customer_id"
ACTIVE = "WHERE COUNT(transactions.*, -30, 0, days) > 0"


def q(text: str, task: TaskType, *, id: str):
    return pytest.param(text, task, id=id)


# (query as Kumo writes it, task type)
DEMO = [
    # --- pquery-structure / task-types / predictive-query-tutorial, upper-case names as in the docs
    q("PREDICT SUM(TRANSACTIONS.PRICE, 0, 30, days) FOR EACH CUSTOMERS.CUSTOMER_ID", R,
      id="ltv-upper-case"),
    q("PREDICT SUM(TRANSACTIONS.PRICE,0,30,days)\nFOR EACH CUSTOMERS.CUSTOMER_ID", R,
      id="ltv-no-spaces"),
    q("PREDICT COUNT(TRANSACTIONS.*,0,30,days) = 0\nFOR EACH CUSTOMERS.CUSTOMER_ID", B,
      id="churn-upper-case"),
    q("PREDICT COUNT(transactions.*, 0, 30, days) = 0\nFOR EACH customers.customer_id\n"
      "WHERE COUNT(transactions.*, -90, 0, days) > 0", B, id="churn-active"),
    q("PREDICT COUNT(transactions.*, 0, 30, days) > 0 FOR EACH customers.customer_id", B,
      id="will-buy"),
    q("PREDICT SUM(TRANSACTIONS.PRICE, 10, 30) FOR EACH CUSTOMERS.CUSTOMER_ID", R,
      id="window-10-30-default-unit"),
    q("PREDICT SUM(transactions.price, 0, 1, months) FOR EACH customers.customer_id", R,
      id="unit-months"),
    q("PREDICT COUNT(transactions.*, 0, 12, hours) > 0 FOR EACH customers.customer_id", B,
      id="unit-hours"),
    q("PREDICT customers.age FOR EACH customers.customer_id", R, id="static-regression"),
    q("PREDICT customers.segment FOR EACH customers.customer_id", MC, id="static-multiclass"),
    q("PREDICT customers.age > 40 FOR EACH customers.customer_id", B, id="static-binary"),
    q('PREDICT customers.region = "eu" FOR EACH customers.customer_id', B,
      id="static-double-quoted"),
    q("PREDICT products.category FOR EACH products.product_id", MC, id="static-item-category"),
    q("PREDICT products.price FOR EACH products.product_id", R, id="static-item-price"),
    q("PREDICT FIRST(transactions.channel, 0, 7) FOR EACH customers.customer_id", MC,
      id="next-channel-multiclass"),
    q("PREDICT LAST(transactions.channel, 0, 30) = \"web\" FOR EACH customers.customer_id", B,
      id="last-equals-double-quoted"),
    q("PREDICT AVG(transactions.price, 0, 30) FOR EACH customers.customer_id", R, id="avg"),
    q("PREDICT MAX(transactions.price, 0, 30) > 100 FOR EACH customers.customer_id", B,
      id="max-condition"),
    q("PREDICT MIN(transactions.quantity, 0, 30, days) FOR EACH customers.customer_id", R,
      id="min"),
    q("PREDICT COUNT_DISTINCT(transactions.product_id, 0, 30) FOR EACH customers.customer_id", R,
      id="count-distinct"),
    q("PREDICT LAST(LOAN.AMOUNT, 0, 30) = 2 FOR EACH CUSTOMERS.CUSTOMER_ID"
      .replace("LOAN.AMOUNT", "TRANSACTIONS.QUANTITY"), B, id="commands-boolean-operator"),
    # --- commands-and-operators: ASSUMING, CLASSIFY, RANK TOP K
    q("PREDICT SUM(TRANSACTIONS.PRICE, 0, 30)\nFOR EACH CUSTOMERS.CUSTOMER_ID\n"
      "ASSUMING COUNT(TRANSACTIONS.* WHERE TRANSACTIONS.CHANNEL = \"app\", 0, 7) > 2", R,
      id="assuming"),
    q("PREDICT LIST_DISTINCT(TRANSACTIONS.PRODUCT_ID, 0, 30) CLASSIFY\n"
      "FOR EACH CUSTOMERS.CUSTOMER_ID", ML, id="classify-list"),
    q("PREDICT LIST_DISTINCT(transactions.product_id, 0, 30) RANK TOP 12\n"
      "FOR EACH customers.customer_id", LP, id="rank-top-12"),
    q("PREDICT LIST_DISTINCT(transactions.product_id, 0, 7) RANK TOP 10 FOR EACH "
      "customers.customer_id", LP, id="task-types-link-prediction"),
    q("PREDICT LIST_DISTINCT(transactions.product_id, 0, 30) TOP 10 FOR EACH customers.customer_id",
      LP, id="top-without-rank"),
    q("PREDICT LIST_DISTINCT(transactions.channel, 0, 30) RANK TOP 2 FOR EACH customers.customer_id",
      ML, id="rank-categorical-list-as-classes"),
    q("PREDICT LIST_DISTINCT(transactions.channel, 0, 30) CLASSIFY TOP 2 FOR EACH "
      "customers.customer_id", ML, id="classify-top-list"),
    q("PREDICT FIRST(transactions.channel, 0, 30) CLASSIFY TOP 2 FOR EACH customers.customer_id",
      MC, id="classify-top-multiclass"),
    q("PREDICT FIRST(transactions.channel, 0, 30) RANK TOP 2 FOR EACH customers.customer_id", MC,
      id="rank-categorical-value-as-classes"),
    q("PREDICT customers.segment CLASSIFY FOR EACH customers.customer_id", MC,
      id="classify-static-category"),
    q("PREDICT LIST_DISTINCT(transactions.channel, 0, 30) CONTAINS \"app\" "
      "FOR EACH customers.customer_id", B, id="rank-page-contains-condition"),
    # --- predictive-query examples: LTV, active customers, top-25, high-value, fraud-like
    q("PREDICT SUM(transactions.price, 0, 365, days) FOR EACH customers.customer_id", R,
      id="lifetime-value"),
    q(f"PREDICT SUM(transactions.price, 0, 30, days) {EACH} {ACTIVE}", R, id="active-ltv"),
    q(f"PREDICT COUNT(transactions.*, 0, 30, days) = 0 {EACH} {ACTIVE}", B, id="active-churn"),
    q(f"PREDICT LIST_DISTINCT(transactions.product_id, 0, 30, days) RANK TOP 25 {EACH} {ACTIVE}",
      LP, id="top-25-purchases"),
    q("PREDICT LIST_DISTINCT(transactions.product_id WHERE transactions.price > 50, 0, 30, days) "
      f"RANK TOP 25 {EACH}", LP, id="top-25-high-value"),
    q("PREDICT COUNT(returns.*, 0, 30, days) > 0 FOR EACH transactions.transaction_id "
      "WHERE transactions.channel = \"web\"", B, id="fraud-like-where-double-quoted"),
    q("PREDICT COUNT(transactions.*, 0, 7, days) FOR EACH products.product_id", R,
      id="item-demand"),
    q("PREDICT SUM(transactions.quantity, 0, 7) FOR EACH products.product_id "
      "WHERE products.category = \"toys\"", R, id="item-demand-filtered"),
    q("PREDICT COUNT(transactions.* WHERE products.category = \"electronics\", 0, 30) > 0 "
      f"{EACH}", B, id="inline-filter-parent-column"),
    q("PREDICT COUNT(returns.*, 0, 30) > 0 FOR EACH transactions.transaction_id "
      "WHERE products.category IN (\"toys\", \"books\")", B, id="where-parent-column"),
    # --- KumoRFM: FOR t.pk = v / IN (...), with and without WHERE
    q("PREDICT COUNT(transactions.*, 0, 30, days)>0 FOR customers.customer_id=1", B,
      id="rfm-single-id"),
    q("PREDICT COUNT(transactions.*, 0, 30, days)>0 FOR customers.customer_id IN (1, 2, 3 )", B,
      id="rfm-id-list"),
    q("PREDICT COUNT(transactions.*, 0, 30, days) > 0\nFOR customers.customer_id=1 "
      "WHERE COUNT(transactions.*, -30, 0, days) > 0", B, id="rfm-id-with-where"),
    q("PREDICT SUM(transactions.price, 0, 30, days)\nFOR products.product_id=42", R,
      id="rfm-item-revenue"),
    q("PREDICT COUNT(transactions.*, 0, 90, days) = 0\nFOR customers.customer_id=42", B,
      id="rfm-churn-90"),
    q("PREDICT customers.age FOR customers.customer_id IN (1, 2)", R, id="rfm-static"),
    q("PREDICT LIST_DISTINCT(transactions.product_id, 0, 30, days) RANK TOP 10 "
      "FOR customers.customer_id IN (1, 2, 3)", LP, id="rfm-rank"),
    q("PREDICT FIRST(transactions.channel, 0, 7, days) FOR customers.customer_id = 7", MC,
      id="rfm-multiclass"),
    # --- operators: NOT LIKE, NOT CONTAINS, IS IN, STARTS/ENDS WITH, -INFINITY, dates, 2FOR
    q("PREDICT COUNT(transactions.* WHERE transactions.channel NOT LIKE \"we%\", 0, 30) > 0 "
      f"{EACH}", B, id="not-like"),
    q("PREDICT COUNT(transactions.*, 0, 30) > 0 FOR EACH customers.customer_id "
      "WHERE customers.acquisition_channel NOT CONTAINS \"soc\"", B, id="not-contains"),
    q("PREDICT COUNT(transactions.*, 0, 30) > 0 FOR EACH customers.customer_id "
      "WHERE customers.segment IS IN (\"vip\", \"premium\")", B, id="is-in"),
    q("PREDICT COUNT(transactions.*, 0, 30) > 0 FOR EACH customers.customer_id "
      "WHERE customers.segment IS NOT IN ('budget')", B, id="is-not-in"),
    q("PREDICT COUNT(transactions.*, 0, 30) > 0 FOR EACH customers.customer_id "
      "WHERE customers.region STARTS WITH \"us\" OR customers.region ENDS WITH 'am'", B,
      id="starts-ends-with"),
    q("PREDICT COUNT(transactions.*, 0, 30) > 0 FOR EACH customers.customer_id "
      "WHERE COUNT(transactions.*, -INFINITY, 0) > 5", B, id="minus-infinity"),
    q("PREDICT COUNT(transactions.*, 0, 30) > 0 FOR EACH customers.customer_id "
      "WHERE COUNT(transactions.*, -INF, 0, days) > 5", B, id="minus-inf"),
    q("PREDICT COUNT(transactions.*, 0, 30) > 0 FOR EACH customers.customer_id "
      "WHERE customers.signup_time > 2024-01-01", B, id="unquoted-date"),
    q("PREDICT COUNT(transactions.* WHERE transactions.timestamp <= 2024-06-30T12:00:00, 0, 30) "
      f"> 0 {EACH}", B, id="unquoted-datetime-in-filter"),
    q("PREDICT COUNT(transactions.*, 0, 30) > 2FOR EACH customers.customer_id", B,
      id="number-glued-to-for"),
    q("PREDICT COUNT(transactions.*, 0, 30) > 0 FOR EACH customers.customer_id "
      "WHERE COUNT(transactions.*, -30, 0) > 1AND customers.age >= 18", B,
      id="number-glued-to-and"),
    q("PREDICT (customers.age > 40 OR customers.region = \"eu\") AND NOT customers.segment = 'vip' "
      "FOR EACH customers.customer_id", B, id="boolean-combination"),
    q("PREDICT COUNT(transactions.*, 0, 30) > 0 FOR EACH customers.customer_id "
      "WHERE customers.segment != \"budget\" AND customers.age IS NOT NULL", B,
      id="not-equal-and-is-not-null"),
    # --- comments, case, layout
    q("-- churn, as pasted from Kumo's docs\nPREDICT COUNT(transactions.*, 0, 30, days) = 0\n"
      "FOR EACH customers.customer_id", B, id="leading-comment"),
    q("-- ltv\n-- second comment line\nPREDICT SUM(transactions.price, 0, 30) -- target\n"
      "FOR EACH customers.customer_id -- entity", R, id="comments-everywhere"),
    q("predict count(Transactions.*, 0, 30) > 0 for each Customers.Customer_Id", B,
      id="mixed-case-everything"),
    q("-- weekly revenue, next 8 weeks\nPREDICT SUM(transactions.price, 0, 7, days)\n"
      "FORECAST 8 TIMEFRAMES\nFOR EACH customers.customer_id", R, id="comment-then-forecast"),
    # --- forecasting: FORECAST N TIMEFRAMES (KumoRFM's forecasting page, Kumo's forecast_length)
    q("PREDICT SUM(transactions.price, 0, 7, days)\nFORECAST 4 TIMEFRAMES\n"
      "FOR EACH customers.customer_id", R, id="forecast-4-weeks"),
    q("PREDICT SUM(TRANSACTIONS.PRICE, 0, 7, days) FORECAST 8 TIMEFRAMES FOR customers.customer_id=42",
      R, id="forecast-rfm-single-entity"),
    q("PREDICT COUNT(transactions.*, 0, 1, months) FORECAST 12 TIMEFRAMES FOR EACH "
      f"customers.customer_id {ACTIVE}", R, id="forecast-monthly-count-active"),
    q("PREDICT SUM(transactions.quantity, 0, 1, days) FORECAST 10000 TIMEFRAMES FOR EACH "
      "products.product_id", R, id="forecast-most-timeframes"),
    q("PREDICT AVG(transactions.price, 0, 30) forecast 1 timeframe FOR EACH customers.customer_id",
      R, id="forecast-one-timeframe-lower-case"),
]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Graph]:
    folder = tmp_path_factory.mktemp("demo")
    generate(folder, customers=200, seed=0)
    graph = load_graph(folder / "graph.yaml")
    yield graph
    graph.close()


def test_catalogue_is_large() -> None:
    assert len(DEMO) + len(F1_QUERIES) >= 60
    assert len(DEMO) >= 60
    assert len({p.values[0] for p in DEMO}) == len(DEMO)


@pytest.mark.parametrize(("text", "task"), DEMO)
def test_kumo_query_parses_binds_and_has_its_task_type(demo: Graph, text: str,
                                                       task: TaskType) -> None:
    parse(text)
    bq = bind(text, demo)
    assert bq.task_type is task
    again = bind(bq.text, demo)  # the canonical text (names as stored) binds to the same task
    assert again.task_type is task and again.text == bq.text
    assert to_pql(parse(bq.text)) == bq.text


# --------------------------------------------------------------------------- what they bind to


def test_upper_case_names_bind_to_the_names_as_stored(demo: Graph) -> None:
    bq = bind("PREDICT SUM(TRANSACTIONS.PRICE, 0, 30, days) FOR EACH CUSTOMERS.CUSTOMER_ID", demo)
    assert bq.text == "PREDICT SUM(transactions.price, 0, 30, days) FOR EACH customers.customer_id"
    assert (bq.entity_table, bq.entity_key, bq.fact_tables) == (
        "customers", "customer_id", ("transactions",))


def test_for_key_list_is_typed_deduplicated_and_printed(demo: Graph) -> None:
    bq = bind("PREDICT COUNT(transactions.*, 0, 30) > 0 FOR customers.customer_id IN (3, 1, 3)",
              demo)
    assert bq.entity_keys == (3, 1)
    assert bq.text.endswith("FOR customers.customer_id IN (3, 1, 3)")
    one = bind("PREDICT COUNT(transactions.*, 0, 30) > 0 FOR customers.customer_id=5", demo)
    assert one.entity_keys == (5,) and one.text.endswith("FOR customers.customer_id = 5")
    assert bind(f"PREDICT COUNT(transactions.*, 0, 30) > 0 {EACH}", demo).entity_keys is None


def test_for_key_list_restricts_prediction_but_not_training(demo: Graph) -> None:
    listed = bind("PREDICT COUNT(transactions.*, 0, 30) = 0 FOR customers.customer_id "
                  "IN (1, 2, 3, 999999)", demo)
    every = bind("PREDICT COUNT(transactions.*, 0, 30) = 0 FOR EACH customers.customer_id", demo)
    anchor = default_anchor_time(every, demo)
    everyone = set(prediction_table(every, demo, anchor).column("ENTITY").to_pylist())
    assert set(prediction_table(listed, demo, anchor).column("ENTITY").to_pylist()) == (
        {1, 2, 3} & everyone)  # an unknown key gets no row
    anchors = anchor_schedule(every, demo).train[-2:]
    assert training_table(listed, demo, anchors).equals(training_table(every, demo, anchors))


def test_for_key_list_with_where_keeps_only_listed_entities_that_pass(demo: Graph) -> None:
    text = f"PREDICT COUNT(transactions.*, 0, 30) = 0 FOR customers.customer_id IN ({{}}) {ACTIVE}"
    every = bind(f"PREDICT COUNT(transactions.*, 0, 30) = 0 {EACH} {ACTIVE}", demo)
    anchor = default_anchor_time(every, demo)
    active = prediction_table(every, demo, anchor).column("ENTITY").to_pylist()
    inactive = sorted(set(range(1, 201)) - set(active))[:2]
    keys = [*active[:3], *inactive]
    listed = bind(text.format(", ".join(map(str, keys))), demo)
    assert prediction_table(listed, demo, anchor).column("ENTITY").to_pylist() == sorted(active[:3])


def test_static_query_with_key_list(demo: Graph) -> None:
    bq = bind("PREDICT customers.age FOR customers.customer_id IN (2, 1)", demo)
    assert prediction_table(bq, demo).column("ENTITY").to_pylist() == [1, 2]
    assert training_table(bq, demo).num_rows == 200


def test_classify_top_and_rank_over_classes_carry_the_number_of_classes(demo: Graph) -> None:
    ranked = bind("PREDICT LIST_DISTINCT(transactions.channel, 0, 30) RANK TOP 2 " + EACH, demo)
    assert (ranked.task_type, ranked.num_classes, ranked.rank_top, ranked.item_table) == (
        ML, 2, None, None)
    top = bind("PREDICT FIRST(transactions.channel, 0, 30) CLASSIFY TOP 3 " + EACH, demo)
    assert (top.task_type, top.num_classes) == (MC, 3)
    assert "CLASSIFY TOP 3" in top.text
    link = bind("PREDICT LIST_DISTINCT(transactions.product_id, 0, 30) TOP 10 " + EACH, demo)
    assert (link.rank_top, link.num_classes, link.item_table) == (10, None, "products")
    assert "RANK TOP 10" in link.text
    assert bind("PREDICT customers.segment CLASSIFY " + EACH, demo).num_classes is None


def test_labels_of_the_new_operators_are_right(demo: Graph) -> None:
    """NOT LIKE, NOT CONTAINS, IS IN, dates and double quotes give the same rows as pandas."""
    customers = demo.sql("SELECT * FROM customers").df()
    cases = {
        "customers.region NOT LIKE \"us%\"": ~customers.region.str.startswith("us"),
        "customers.acquisition_channel NOT CONTAINS 'ar'":
            ~customers.acquisition_channel.str.contains("ar"),
        "customers.segment IS IN (\"vip\", 'premium')": customers.segment.isin(["vip", "premium"]),
        "customers.signup_time > 2023-07-01": customers.signup_time > pd.Timestamp("2023-07-01"),
        "NOT customers.region STARTS WITH \"eu\"": ~customers.region.str.startswith("eu"),
    }
    for condition, mask in cases.items():
        bq = bind(f"PREDICT customers.age {EACH} WHERE {condition}", demo)
        got = sorted(prediction_table(bq, demo).column("ENTITY").to_pylist())
        assert got == sorted(customers.customer_id[mask].tolist()), condition


def test_date_literal_in_a_window_filter_matches_the_quoted_date(demo: Graph) -> None:
    where = "WHERE COUNT(transactions.* WHERE transactions.timestamp > {}, -INFINITY, 0) > 3"
    target = f"PREDICT COUNT(transactions.*, 0, 7) > 0 {EACH}"
    unquoted = bind(f"{target} {where.format('2024-03-01')}", demo)
    quoted = bind(f"{target} {where.format(repr('2024-03-01'))}", demo)
    assert unquoted.text != quoted.text
    anchor = default_anchor_time(unquoted, demo)
    rows = prediction_table(unquoted, demo, anchor)
    assert 0 < rows.num_rows < 200
    assert rows.equals(prediction_table(quoted, demo, anchor))


def test_double_quoted_strings_in_a_job_filter_expression() -> None:
    """``--filter`` text goes through parse_expression, so Kumo's quoting works there too."""
    expr = parse_expression('customers.region = "eu" AND customers.segment NOT LIKE "b%"')
    assert to_pql(expr) == "customers.region = 'eu' AND NOT customers.segment LIKE 'b%'"
    assert to_pql(parse_expression("customers.signup_time >= 2024-01-01")) == (
        "customers.signup_time >= 2024-01-01")


def test_unquoted_dates_keep_their_time() -> None:
    expr = parse_expression("t.x < 2024-01-31T13:05")
    assert expr.right.value == datetime(2024, 1, 31, 13, 5)  # type: ignore[union-attr]
    assert to_pql(expr) == "t.x < 2024-01-31T13:05:00"


# --------------------------------------------------------------------------- refused, with messages

REFUSED = [
    ("PREDICT SUM(transactions.price, 0, 7, days) FOR EACH customers.customer_id FORECAST 4 "
     "TIMEFRAMES",
     "FORECAST N TIMEFRAMES comes right after the target (and RANK / CLASSIFY), before FOR: "
     "PREDICT SUM(orders.amount, 0, 7, days) FORECAST 4 TIMEFRAMES FOR EACH customers.customer_id.",
     "FORECAST"),
    ("PREDICT SUM(transactions.price, 0, 7, days) FORECAST 10001 TIMEFRAMES FOR EACH "
     "customers.customer_id",
     "FORECAST 10001 TIMEFRAMES is beyond 10,000, the most timeframes a forecast may have: give "
     "a smaller number.", "10001"),
    ("PREDICT SUM(transactions.price, 0, 7, days) FORECAST 0 TIMEFRAMES FOR EACH "
     "customers.customer_id",
     "FORECAST needs a positive whole number of timeframes, e.g. FORECAST 4 TIMEFRAMES.", "0"),
    ("PREDICT SUM(transactions.price, 0, 7, days) FORECAST 4 WEEKS FOR EACH customers.customer_id",
     "FORECAST 4 needs the word TIMEFRAMES after it, e.g. FORECAST 4 TIMEFRAMES.", "WEEKS"),
    ("PREDICT LIST_DISTINCT(transactions.product_id) RANK TOP 10 FOR EACH customers.customer_id",
     "LIST_DISTINCT without a time window (static link prediction) is not supported yet: its "
     "labels would be the very links the model reads. Give it a window ahead of the anchor time "
     "instead, e.g. LIST_DISTINCT(transactions.product_id, 0, 30, days) RANK TOP 10.",
     "LIST_DISTINCT(transactions.product_id)"),
    ("PREDICT MAX(SUM(transactions.price, 0, 7), 0, 30) FOR EACH customers.customer_id",
     "Aggregations cannot be nested: MAX(...) aggregates a table.column, not SUM(...), and this "
     "is not supported.", "SUM"),
    ("PREDICT COUNT(transactions.* WHERE SUM(transactions.price, 0, 7) > 3, 0, 30) "
     "FOR EACH customers.customer_id",
     "An aggregation cannot be nested in the row condition of COUNT(...): the condition reads "
     "one row at a time. Use the row's own columns (or those of tables it points to), and put "
     "conditions on aggregations in the query's WHERE, e.g. WHERE SUM(transactions.price, 0, 7, "
     "days) > 0.", "SUM(transactions.price, 0, 7)"),
    ("PREDICT COUNT(transactions.*, 0, 30) > 0 FOR EACH customers.customer_id "
     "WHERE customers.age NOT > 3",
     "NOT goes before the whole comparison: write NOT a > b (or use != for 'not equal').", "NOT"),
    ("PREDICT COUNT(transactions.*, 0, 30) > 0 FOR EACH customers.customer_id "
     "WHERE customers.age NOT NULL",
     "Write IS NOT NULL (or IS NULL) to test for a missing value.", "NOT"),
    ("PREDICT COUNT(transactions.*, 0, 30) > 0 FOR EACH customers.customer_id = 3",
     "FOR EACH predicts for every entity; to list keys drop EACH: FOR customers.customer_id = 1",
     "="),
    ("PREDICT COUNT(transactions.*, 0, 30) > 0 FOR customers.customer_id",
     "Expecting EACH after FOR (FOR EACH table.primary_key), or a key list "
     "(FOR customers.customer_id = 1, FOR customers.customer_id IN (1, 2)).",
     "customers"),
    ("PREDICT COUNT(transactions.*, 0, 30) > 0 FOR customers.customer_id = customers.age",
     "Expecting a key after FOR customers.customer_id =", "customers"),
    ("PREDICT SUM(transactions.price, 0, 30days) FOR EACH customers.customer_id",
     "Invalid number '30days'; separate a number from the next word", "30days"),
    ("PREDICT COUNT(transactions.*, 0, 30) > 0 FOR EACH customers.customer_id "
     "WHERE customers.signup_time > 2024-02-30",
     "Invalid date 2024-02-30; write a real date as YYYY-MM-DD", "2024-02-30"),
    ("PREDICT COUNT(transactions.*, 0, 30) > 0 FOR EACH customers.customer_id "
     "WHERE customers.signup_time > 2024-01-01T10",
     "Invalid date '2024-01-01T10'; write YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS]", "2024-01-01T10"),
    ("PREDICT LIST_DISTINCT(transactions.product_id, 0, 30) RANK 10 FOR EACH "
     "customers.customer_id", "RANK needs TOP k, e.g. RANK TOP 10.", "10"),
    ("PREDICT LIST_DISTINCT(transactions.product_id, 0, 30) TOP 10 CLASSIFY FOR EACH "
     "customers.customer_id",
     "Use either RANK TOP k or CLASSIFY, not both; to return k classes write CLASSIFY TOP k.",
     "CLASSIFY"),
    # bind errors
    ("PREDICT COUNT(transactions.*, 0, 30) > 0 FOR customers.customer_id IN (1, 'two')",
     "customers.customer_id is a whole number (BIGINT), so its keys are written as numbers: "
     "'two' is category. Write e.g. FOR customers.customer_id = 42.", "'two'"),
    ("PREDICT COUNT(transactions.*, 0, 30) > 0 FOR customers.customer_id = NULL",
     "A key of customers.customer_id cannot be NULL", "NULL"),
    ("PREDICT COUNT(transactions.*, 0, 30) > 0 FOR customers.age IN (30, 40)",
     "FOR needs the primary key of 'customers': write customers.customer_id, not "
     "customers.age.", "customers.age"),
    ("PREDICT COUNT(transactions.*, 0, 30) > 0 FOR EACH customers.customer_id "
     "WHERE customers.age > 2024-01-01",
     "> compares numbers or times, not numeric with timestamp.", "customers.age > 2024-01-01"),
    ("PREDICT SUM(transactions.price, 0, 30) RANK TOP 5 FOR EACH customers.customer_id",
     "RANK TOP k ranks the items of LIST_DISTINCT(table.foreign_key, ...) or the classes of a "
     "categorical target; this target is numeric.", "SUM(transactions.price, 0, 30)"),
    ("PREDICT LIST_DISTINCT(transactions.product_id, 0, 30) FOR EACH customers.customer_id",
     "This target is a list: add RANK TOP k to rank items, or CLASSIFY for multilabel "
     "classification.", "LIST_DISTINCT(transactions.product_id, 0, 30)"),
    ("PREDICT SUM(transactions.channel, 0, 30) FOR EACH customers.customer_id",
     "SUM needs a numerical column, but transactions.channel is category.",
     "transactions.channel"),
    ("PREDICT COUNT(transactions.*, 0, 30) > 0 FOR EACH customers.customer_id "
     "WHERE COUNT(transactions.*, 0, 7) > 0",
     "To condition on the future, use ASSUMING.", "COUNT(transactions.*, 0, 7)"),
    ("PREDICT TRANSACTIONS.PRIZE FOR EACH CUSTOMERS.CUSTOMER_ID",
     "Unknown column 'PRIZE' in table 'transactions'. Did you mean 'price'?",
     "TRANSACTIONS.PRIZE"),
    ("PREDICT COUNT(returns.*, 0, 30) > 0 FOR EACH customers.customer_id",
     "Table 'returns' is not linked to the entity table 'customers'", "returns.*"),
    ("PREDICT COUNT(transactions.*, 0, 7, days) > 0 FORECAST 4 TIMEFRAMES FOR EACH "
     "customers.customer_id",
     "FORECAST N TIMEFRAMES forecasts a number per time window, but this target is a condition "
     "(binary classification): forecast a numeric aggregation, e.g. SUM(orders.amount, 0, 7, "
     "days) or COUNT(orders.*, 0, 7, days), without a comparison.",
     "COUNT(transactions.*, 0, 7, days) > 0"),
    ("PREDICT FIRST(transactions.channel, 0, 7) FORECAST 2 TIMEFRAMES FOR EACH "
     "customers.customer_id",
     "FORECAST N TIMEFRAMES forecasts a number per time window, but this target is category "
     "(multiclass classification)", "FIRST(transactions.channel, 0, 7)"),
    ("PREDICT customers.age FORECAST 4 TIMEFRAMES FOR EACH customers.customer_id",
     "FORECAST N TIMEFRAMES repeats the target's time window N times, but this target has no "
     "window: forecast an aggregation over one, e.g. SUM(orders.amount, 0, 7, days) FORECAST 4 "
     "TIMEFRAMES.", "customers.age"),
]


@pytest.mark.parametrize(("text", "fragment", "underlined"), REFUSED,
                         ids=[f"refused-{i}" for i in range(len(REFUSED))])
def test_refused_forms_say_why_and_what_to_write(demo: Graph, text: str, fragment: str,
                                                 underlined: str) -> None:
    with pytest.raises(QueryError) as info:
        bind(text, demo)
    err = info.value
    assert isinstance(err, QuerySyntaxError | QueryBindError)
    assert fragment in err.description
    assert err.line is not None and err.col is not None
    line = text.split("\n")[err.line - 1]
    assert line[err.col - 1:err.col - 1 + err.length] == underlined


# --------------------------------------------------------------------------- names that differ in case


class _Twins:
    """Just the name lookups of a graph with tables ``orders`` and ``Orders`` and columns ``amount``
    and ``Amount``. A DuckDB-backed graph cannot hold such twins (DuckDB's names are
    case-insensitive: it renames the second column ``Amount_1``), so resolution is tested alone."""

    table_names = ["users", "orders", "Orders"]
    _columns = {"users": {"user_id": "BIGINT"},
                "orders": {"order_id": "BIGINT", "amount": "DOUBLE", "Amount": "DOUBLE"},
                "Orders": {"order_id": "BIGINT", "amount": "DOUBLE", "Amount": "DOUBLE"}}

    def columns(self, table: str) -> dict[str, str]:
        return self._columns[table]


def _resolved(text: str) -> str:
    return to_pql(_Binder(text, parse(text), _Twins()).query)  # type: ignore[arg-type]


def test_exact_spelling_wins_over_a_case_twin() -> None:
    assert _resolved("PREDICT SUM(Orders.Amount, 0, 7) FOR EACH USERS.USER_ID") == (
        "PREDICT SUM(Orders.Amount, 0, 7, days) FOR EACH users.user_id")
    assert _resolved("PREDICT SUM(orders.amount, 0, 7) FOR EACH users.user_id").startswith(
        "PREDICT SUM(orders.amount")


@pytest.mark.parametrize(("text", "fragment", "underlined"), [
    ("PREDICT SUM(ORDERS.amount, 0, 7) FOR EACH users.user_id",
     "Table 'ORDERS' is ambiguous: it matches 'orders', 'Orders', which differ only in case. "
     "Write the name exactly as stored.", "ORDERS.amount"),
    ("PREDICT SUM(orders.AMOUNT, 0, 7) FOR EACH users.user_id",
     "Column 'AMOUNT' in table 'orders' is ambiguous: it matches 'amount', 'Amount'", "orders.AMOUNT"),
])
def test_ambiguous_names_list_their_candidates(text: str, fragment: str, underlined: str) -> None:
    with pytest.raises(QueryBindError) as info:
        _resolved(text)
    err = info.value
    assert fragment in err.description
    assert text[err.col - 1:err.col - 1 + err.length] == underlined


# --------------------------------------------------------------------------- rel-f1

F1_QUERIES = [
    q("-- driver-dnf (AUROC)\nPREDICT COUNT(results.* WHERE results.statusId != 1, 0, 30, days) > 0"
      "\nFOR EACH drivers.driverId ASSUMING COUNT(results.*, 0, 30, days) > 0", B, id="f1-dnf"),
    q("PREDICT MIN(QUALIFYING.POSITION, 0, 30, days) <= 3 FOR EACH DRIVERS.DRIVERID", B,
      id="f1-top3-upper-case"),
    q("PREDICT AVG(results.positionOrder, 0, 60, days) FOR drivers.driverId IN (1, 4, 20)", R,
      id="f1-position-listed-drivers"),
    q("PREDICT LIST_DISTINCT(results.constructorId, 0, 365, days) RANK TOP 3 "
      "FOR EACH drivers.driverId", LP, id="f1-next-constructor"),
    q("PREDICT COUNT(results.*, 0, 30) > 0 FOR EACH drivers.driverId "
      "WHERE drivers.nationality IS IN (\"British\", \"German\") AND drivers.dob > 1980-01-01", B,
      id="f1-where-double-quoted-and-date"),
]


@pytest.fixture(scope="module")
def f1() -> Iterator[Graph]:
    graph = load_graph(F1_YAML, data=F1)
    yield graph
    graph.close()


@needs_f1
@pytest.mark.parametrize(("text", "task"), F1_QUERIES)
def test_kumo_query_on_f1(f1: Graph, text: str, task: TaskType) -> None:
    bq = bind(text, f1)
    assert bq.task_type is task
    assert bind(bq.text, f1).task_type is task
