"""Long and deep expressions: thousands of OR-ed conditions work; beyond the limits, a message."""

from __future__ import annotations

import pytest

from relpredict.errors import QueryBindError, QuerySyntaxError
from relpredict.graph.graph import Graph
from relpredict.query.ast import BoolOp, chain
from relpredict.query.binder import bind
from relpredict.query.parser import MAX_CONDITIONS, MAX_NESTING, parse, parse_expression
from relpredict.query.printer import to_pql

HEAD = "PREDICT COUNT(orders.*, 0, 30, days) > 0 FOR EACH customers.customer_id WHERE "


def _ors(n: int) -> str:
    return " OR ".join(f"customers.customer_id = {i}" for i in range(n))


@pytest.mark.parametrize("n", [600, 5000])
def test_thousands_of_or_ed_conditions_parse_print_and_bind(graph: Graph, n: int) -> None:
    text = HEAD + _ors(n)
    tree = parse(text)
    assert isinstance(tree.where, BoolOp) and len(chain(tree.where)) == n
    assert to_pql(tree) == text
    bound = bind(text, graph)
    assert len(chain(bound.where)) == n  # type: ignore[arg-type]


def test_mixed_chains_keep_their_meaning() -> None:
    text = "a.x = 1 OR a.x = 2 AND a.y = 3 OR NOT (a.x = 4 OR a.x = 5)"
    assert to_pql(parse_expression(to_pql(parse_expression(text)))) == to_pql(parse_expression(text))
    assert [type(e).__name__ for e in chain(parse_expression(text))] == ["Comparison", "BoolOp", "Not"]


def test_more_conditions_than_the_limit_are_refused() -> None:
    with pytest.raises(QuerySyntaxError, match=f"more than {MAX_CONDITIONS:,} conditions") as caught:
        parse(HEAD + _ors(MAX_CONDITIONS + 1))
    assert "IN (v1, v2, ...)" in str(caught.value)


@pytest.mark.parametrize("opening", ["(", "NOT "])
def test_nesting_deeper_than_the_limit_is_refused(opening: str) -> None:
    depth = MAX_NESTING + 1
    closing = ")" * depth if opening == "(" else ""
    with pytest.raises(QuerySyntaxError, match=f"nests more than {MAX_NESTING} levels"):
        parse(HEAD + opening * depth + "customers.customer_id = 1" + closing)
    ok = MAX_NESTING // 2
    parse(HEAD + opening * ok + "customers.customer_id = 1" + (")" * ok if opening == "(" else ""))


@pytest.mark.parametrize("window", ["0, 99999999999999, days", "0, 1201, months", "-40000, 0, days",
                                    "0, 900000, hours"])
def test_windows_beyond_100_years_are_refused(window: str) -> None:
    with pytest.raises(QuerySyntaxError, match="100 years"):
        parse(f"PREDICT COUNT(orders.*, {window}) > 0 FOR EACH customers.customer_id")


@pytest.mark.parametrize("number", ["1e999", "-1e999", "1" + "0" * 40])
def test_numbers_too_large_are_refused(number: str) -> None:
    with pytest.raises(QuerySyntaxError, match=f"The number {number.lstrip('-')} is too large"):
        parse(HEAD + f"customers.customer_id > {number}")


@pytest.mark.parametrize("text", ["'yesterday'", "'now'", "'2024-13-01'", "'31/12/2024'"])
def test_a_string_compared_with_a_time_must_be_a_time(graph: Graph, text: str) -> None:
    with pytest.raises(QueryBindError, match="is not a date or time"):
        bind(HEAD + f"customers.signup > {text}", graph)
    bind(HEAD + "customers.signup > '2024-01-31 10:00:00'", graph)


@pytest.mark.parametrize("top", ["RANK TOP 1001", "CLASSIFY TOP 5000"])
def test_top_k_beyond_the_limit_is_refused(top: str) -> None:
    with pytest.raises(QuerySyntaxError, match="beyond 1,000"):
        parse(f"PREDICT LIST_DISTINCT(orders.product_id, 0, 30, days) {top} FOR EACH customers.customer_id")
