"""The PQL parser and printer: trees, positions, canonical text and round trips."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from relpredict.query.ast import (
    AGGREGATIONS,
    COMPARISON_OPS,
    TIME_UNITS,
    Aggregation,
    BoolOp,
    ColumnRef,
    Comparison,
    Expr,
    InList,
    IsNull,
    Literal,
    Not,
    Query,
    aggregations,
    column_refs,
    walk,
)
from relpredict.query.parser import parse, parse_expression
from relpredict.query.printer import to_pql
from relpredict.query.tokens import KEYWORDS, TokenKind, tokenize

# Verbatim from PQL.md ("Examples that must parse, validate and run" and the rel-f1 tasks).
PQL_MD_EXAMPLES = [
    "PREDICT COUNT(orders.*, 0, 30, days) > 0 FOR EACH customers.customer_id",
    "PREDICT COUNT(transactions.*, 0, 7, days) = 0 FOR EACH customers.customer_id\n"
    "    WHERE COUNT(transactions.*, -7, 0, days) > 0",
    "PREDICT SUM(transactions.price, 0, 30, days) FOR EACH customers.customer_id",
    "PREDICT FIRST(purchases.type, 0, 7) FOR EACH users.user_id",
    "PREDICT LIST_DISTINCT(transactions.article_id, 0, 7) RANK TOP 10 FOR EACH customers.customer_id",
    "PREDICT COUNT(transactions.* WHERE transactions.price > 10, 0, 7, days) FOR EACH users.user_id",
    "PREDICT COUNT(orders.*, 0, 30, days) > 0 FOR EACH users.user_id\n"
    "    ASSUMING COUNT(notifications.*, 0, 7, days) > 0",
    "PREDICT users.age FOR EACH users.user_id",
    "PREDICT (users.age > 40 OR users.location = 'US') AND NOT users.gender = 'male' "
    "FOR EACH users.user_id",
    "PREDICT COUNT(orders.*, 0, 30, days) > 0 FOR EACH customers.customer_id\n"
    "    WHERE customers.status = 'ACTIVE' AND COUNT(orders.*, -90, 0) > 0",
    "-- driver-dnf (AUROC)\n"
    "PREDICT COUNT(results.* WHERE results.statusId != 1, 0, 30, days) > 0\n"
    "FOR EACH drivers.driverId ASSUMING COUNT(results.*, 0, 30, days) > 0",
    "-- driver-top3 (AUROC)\n"
    "PREDICT MIN(qualifying.position, 0, 30, days) <= 3 FOR EACH drivers.driverId",
    "-- driver-position (MAE)\n"
    "PREDICT AVG(results.positionOrder, 0, 60, days) FOR EACH drivers.driverId",
]

GOLDEN = [
    line
    for line in (Path(__file__).parent / "golden.pql").read_text().splitlines()
    if line.strip() and not line.startswith("--")
]


def col(table: str, column: str) -> ColumnRef:
    return ColumnRef(table, column)


def count(table: str, start: float | None, end: float, unit: str = "days") -> Aggregation:
    return Aggregation("COUNT", col(table, "*"), None, start, end, unit)


# --------------------------------------------------------------------------- examples and golden


@pytest.mark.parametrize("text", PQL_MD_EXAMPLES)
def test_pql_md_examples_round_trip(text: str) -> None:
    query = parse(text)
    canonical = to_pql(query)
    assert parse(canonical) == query
    assert to_pql(parse(canonical)) == canonical


def test_pql_md_examples_appear_in_golden_file_in_canonical_form() -> None:
    canonical = {to_pql(parse(text)) for text in PQL_MD_EXAMPLES}
    assert canonical <= set(GOLDEN)


@pytest.mark.parametrize("line", GOLDEN)
def test_golden_line_prints_back_identically(line: str) -> None:
    assert to_pql(parse(line)) == line


def test_golden_file_is_not_trivially_small() -> None:
    assert len(GOLDEN) >= 30


# --------------------------------------------------------------------------- exact trees


def test_driver_dnf_tree() -> None:
    query = parse(PQL_MD_EXAMPLES[10])
    row_filter = Comparison("!=", col("results", "statusId"), Literal(1))
    target_agg = Aggregation("COUNT", col("results", "*"), row_filter, 0.0, 30.0, "days")
    assert query == Query(
        target=Comparison(">", target_agg, Literal(0)),
        rank_top=None,
        classify=False,
        entity=col("drivers", "driverId"),
        where=None,
        assuming=Comparison(">", count("results", 0, 30), Literal(0)),
    )


def test_rank_top_and_default_unit() -> None:
    query = parse(PQL_MD_EXAMPLES[4])
    assert query.rank_top == 10 and query.classify is False
    assert query.target == Aggregation(
        "LIST_DISTINCT", col("transactions", "article_id"), None, 0.0, 7.0, "days"
    )


def test_classify() -> None:
    query = parse("PREDICT LIST_DISTINCT(o.p, 0, 7) CLASSIFY FOR EACH u.id")
    assert query.classify is True and query.rank_top is None


def test_static_target_is_a_bare_column() -> None:
    assert parse("PREDICT users.age FOR EACH users.user_id").target == col("users", "age")


def test_minus_inf_start_is_none_and_window_bounds_are_floats() -> None:
    agg = parse("PREDICT u.a FOR EACH u.id WHERE COUNT(o.*, -INF, -0.5, Hours) > 0").where
    assert isinstance(agg, Comparison) and isinstance(agg.left, Aggregation)
    assert (agg.left.start, agg.left.end, agg.left.unit) == (None, -0.5, "hours")
    assert isinstance(agg.left.end, float)


@pytest.mark.parametrize(
    ("written", "unit"),
    [("day", "days"), ("DAYS", "days"), ("Week", "weeks"), ("months", "months"),
     ("second", "seconds"), ("MINUTE", "minutes"), ("hour", "hours")],
)  # fmt: skip
def test_units_accept_singular_and_plural_in_any_case(written: str, unit: str) -> None:
    query = parse(f"PREDICT SUM(o.a, 0, 3, {written}) FOR EACH u.id")
    assert isinstance(query.target, Aggregation) and query.target.unit == unit


def test_keywords_and_aggregations_are_case_insensitive_names_are_not() -> None:
    lower = parse("predict count(Orders.*, 0, 30) > 0 for each Users.Id where Users.X is not null")
    upper = parse("PREDICT COUNT(Orders.*, 0, 30) > 0 FOR EACH Users.Id WHERE Users.X IS NOT NULL")
    assert lower == upper
    assert lower.entity == col("Users", "Id")
    assert lower != parse("PREDICT COUNT(orders.*, 0, 30) > 0 FOR EACH Users.Id")


def test_not_equal_spellings_and_word_operators() -> None:
    assert parse_expression("t.a <> 1") == parse_expression("t.a != 1")
    assert parse_expression("t.a starts with 'x'") == Comparison(
        "STARTS WITH", col("t", "a"), Literal("x")
    )
    assert parse_expression("t.a ENDS WITH 'x'").op == "ENDS WITH"  # type: ignore[union-attr]
    assert parse_expression("t.a CONTAINS 'x'").op == "CONTAINS"  # type: ignore[union-attr]
    assert parse_expression("t.a LIKE 'x%'").op == "LIKE"  # type: ignore[union-attr]


def test_every_comparison_op_parses_to_itself() -> None:
    for op in COMPARISON_OPS:
        assert parse_expression(f"t.a {op} 1") == Comparison(op, col("t", "a"), Literal(1))


def test_in_list_is_null_and_negations() -> None:
    assert parse_expression("t.a NOT IN ('x', -1, 2.5, TRUE, NULL)") == InList(
        col("t", "a"),
        (Literal("x"), Literal(-1), Literal(2.5), Literal(True), Literal(None)),
        negated=True,
    )
    assert parse_expression("t.a IS NOT NULL") == IsNull(col("t", "a"), negated=True)
    assert parse_expression("t.a IS NULL") == IsNull(col("t", "a"), negated=False)


def test_precedence_or_below_and_below_not_below_comparison() -> None:
    a, b, c = (Comparison("=", col("t", n), Literal(1)) for n in "abc")
    assert parse_expression("t.a = 1 OR t.b = 1 AND t.c = 1") == BoolOp(
        "OR", a, BoolOp("AND", b, c)
    )
    assert parse_expression("NOT t.a = 1 AND t.b = 1") == BoolOp("AND", Not(a), b)
    assert parse_expression("NOT (t.a = 1 AND t.b = 1)") == Not(BoolOp("AND", a, b))
    assert parse_expression("t.a = 1 AND t.b = 1 AND t.c = 1") == BoolOp(
        "AND", BoolOp("AND", a, b), c
    )


def test_parentheses_leave_no_node_and_are_printed_only_when_needed() -> None:
    assert parse_expression("((t.a))") == col("t", "a")
    assert to_pql(parse_expression("(t.a = 1) AND (t.b = 2)")) == "t.a = 1 AND t.b = 2"
    assert to_pql(parse_expression("t.a = 1 OR (t.b = 2 OR t.c = 3)")) == (
        "t.a = 1 OR (t.b = 2 OR t.c = 3)"
    )


def test_literals_keep_their_type() -> None:
    values = [parse_expression(text) for text in ("1", "1.0", "-3", "TRUE", "NULL", "'it''s'")]
    assert [v.value for v in values] == [1, 1.0, -3, True, None, "it's"]  # type: ignore[union-attr]
    assert [type(v.value) for v in values[:2]] == [int, float]  # type: ignore[union-attr]
    assert Literal(True) != Literal(1) and Literal(1.0) != Literal(1)


def test_comments_and_whitespace_are_ignored() -> None:
    text = "-- churn\nPREDICT  COUNT(orders.*,0,30)>0 -- target\n\tFOR EACH users.id -- end"
    assert parse(text) == parse("PREDICT COUNT(orders.*, 0, 30, days) > 0 FOR EACH users.id")


def test_quoted_identifiers_and_keyword_named_columns() -> None:
    query = parse('PREDICT "order items"."a ""b""" > 0 FOR EACH "Users".rank')
    assert query.target == Comparison(">", col("order items", 'a "b"'), Literal(0))
    assert query.entity == col("Users", "rank")
    assert to_pql(query) == 'PREDICT "order items"."a ""b""" > 0 FOR EACH Users.rank'


def test_table_named_like_an_aggregation_or_keyword() -> None:
    assert parse_expression("sum.x > 0") == Comparison(">", col("sum", "x"), Literal(0))
    assert parse_expression("not.x AND true.y") == BoolOp("AND", col("not", "x"), col("true", "y"))


def test_nested_aggregation_filter_and_parenthesised_operands() -> None:
    expr = parse_expression("SUM(o.a WHERE o.s IN ('p') AND o.b > 1, 0, 7) > (2)")
    assert isinstance(expr, Comparison) and isinstance(expr.left, Aggregation)
    assert isinstance(expr.left.filter, BoolOp)
    assert expr.right == Literal(2)


# --------------------------------------------------------------------------- positions


MULTILINE = """\
-- weekly churn
PREDICT COUNT(orders.*, 0, 30, days) > 0
FOR EACH customers.customer_id
  WHERE customers.status = 'ACTIVE'
    AND COUNT(orders.* WHERE orders.amount > 10, -90, 0) > 0
ASSUMING NOT customers.email IS NULL"""


def test_node_positions_in_a_multiline_query() -> None:
    query = parse(MULTILINE)
    assert (query.line, query.col) == (2, 1)
    target = query.target
    assert isinstance(target, Comparison) and isinstance(target.left, Aggregation)
    assert (target.line, target.col, target.length) == (2, 9, 32)
    assert (target.left.line, target.left.col, target.left.length) == (2, 9, 28)
    assert (target.left.column.line, target.left.column.col) == (2, 15)
    assert (target.right.line, target.right.col) == (2, 40)
    assert (query.entity.line, query.entity.col, query.entity.length) == (3, 10, 21)


def test_positions_of_where_and_assuming_parts() -> None:
    query = parse(MULTILINE)
    where = query.where
    assert isinstance(where, BoolOp) and (where.line, where.col) == (4, 9)
    status, recent = where.left, where.right
    assert isinstance(status, Comparison) and isinstance(recent, Comparison)
    assert (status.right.line, status.right.col, status.right.length) == (4, 28, 8)
    assert isinstance(recent.left, Aggregation)
    assert (recent.left.line, recent.left.col) == (5, 9)
    row_filter = recent.left.filter
    assert row_filter is not None and (row_filter.line, row_filter.col) == (5, 30)
    assumed = query.assuming
    assert isinstance(assumed, Not) and (assumed.line, assumed.col) == (6, 10)
    assert isinstance(assumed.expr, IsNull) and (assumed.expr.line, assumed.expr.col) == (6, 14)


def test_positions_are_not_part_of_equality() -> None:
    assert parse(MULTILINE) == parse(to_pql(parse(MULTILINE)))
    assert Literal(1, line=3, col=4) == Literal(1)


def test_tokens_carry_kind_text_line_col_and_length() -> None:
    tokens = tokenize("predict\n  \"a b\".x <= 'q''r' -- c")
    summary = [(t.kind, t.text, t.value, t.line, t.col, t.length) for t in tokens]
    assert summary == [
        (TokenKind.KEYWORD, "predict", "PREDICT", 1, 1, 7),
        (TokenKind.QUOTED_IDENT, '"a b"', "a b", 2, 3, 5),
        (TokenKind.SYMBOL, ".", ".", 2, 8, 1),
        (TokenKind.IDENT, "x", "x", 2, 9, 1),
        (TokenKind.SYMBOL, "<=", "<=", 2, 11, 2),
        (TokenKind.STRING, "'q''r'", "q'r", 2, 14, 6),
        (TokenKind.EOF, "", "", 2, 25, 1),
    ]


def test_numbers_tokenize_with_fraction_and_exponent() -> None:
    values = [t.value for t in tokenize("30 2.5 1e-07 6E+3 7.") if t.kind is TokenKind.NUMBER]
    assert values == ["30", "2.5", "1e-07", "6E+3", "7"]


# --------------------------------------------------------------------------- tree helpers


def test_walk_aggregations_and_column_refs() -> None:
    query = parse(MULTILINE)
    aggs = aggregations(query)
    assert [a.column for a in aggs] == [col("orders", "*"), col("orders", "*")]
    assert aggregations(query.assuming) == [] and aggregations(None) == []
    tables = [c.table for c in column_refs(query.where)]
    assert tables == ["customers", "orders", "orders"]
    assert next(iter(walk(query))) is query
    assert sum(isinstance(n, Literal) for n in walk(query)) == 4  # 0, 'ACTIVE', 10, 0


def test_to_pql_prints_expressions_too() -> None:
    expr = parse_expression("count(o.*, -inf, 0, day) = 0 or NOT t.b in (1)")
    assert to_pql(expr) == "COUNT(o.*, -INF, 0, days) = 0 OR NOT t.b IN (1)"


def test_printer_quotes_only_names_that_need_it() -> None:
    query = Query(col("t", "x"), None, False, col("my table", "id"), where=None)
    assert to_pql(query) == 'PREDICT t.x FOR EACH "my table".id'
    assert to_pql(Literal(1e16)) == "1e+16"
    assert to_pql(Literal(0.1)) == "0.1"


def test_printer_refuses_numbers_pql_cannot_write() -> None:
    with pytest.raises(ValueError, match="no syntax"):
        to_pql(Literal(float("nan")))


# --------------------------------------------------------------------------- property: round trip

_plain = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True)
_odd = st.text(st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")), min_size=1, max_size=8).filter(
    lambda s: s != "*"  # `t.*` is COUNT-only syntax, not a column name
)
_names = st.one_of(_plain, _plain, st.sampled_from(sorted(KEYWORDS)), _odd)
_columns = st.builds(ColumnRef, _names, _names)
_strings = st.text(st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")), max_size=10)
_values = st.one_of(
    st.integers(-(10**20), 10**20),
    st.floats(allow_nan=False, allow_infinity=False),
    _strings,
    st.booleans(),
    st.none(),
    st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31)),
)
_literals = st.builds(Literal, _values)
# Window bounds beyond 100 years (1,200 months) are refused (parser.MAX_WINDOW).
_bounds = st.one_of(st.integers(-1000, 1000).map(float), st.floats(-1200, 1200))


@st.composite
def _aggregations(draw: st.DrawFn, filters: st.SearchStrategy[Expr]) -> Aggregation:
    func = draw(st.sampled_from(AGGREGATIONS))
    column = draw(_columns)
    if func == "COUNT" and draw(st.booleans()):
        column = ColumnRef(column.table, "*")
    row_filter = draw(st.none() | filters)
    start = draw(st.none() | _bounds)
    return Aggregation(
        func, column, row_filter, start, draw(_bounds), draw(st.sampled_from(TIME_UNITS))
    )


def _exprs(atoms: st.SearchStrategy[Expr]) -> st.SearchStrategy[Expr]:
    def extend(inner: st.SearchStrategy[Expr]) -> st.SearchStrategy[Expr]:
        return st.one_of(
            st.builds(Comparison, st.sampled_from(COMPARISON_OPS), inner, inner),
            st.builds(
                InList, inner, st.lists(_literals, min_size=1, max_size=3).map(tuple), st.booleans()
            ),
            st.builds(IsNull, inner, st.booleans()),
            st.builds(Not, inner),
            st.builds(BoolOp, st.sampled_from(["AND", "OR"]), inner, inner),
        )

    return st.recursive(atoms, extend, max_leaves=8)


_row_exprs = _exprs(st.one_of(_literals, _columns))
_full_exprs = _exprs(st.one_of(_literals, _columns, _aggregations(_row_exprs)))
_queries = st.builds(
    Query,
    target=_full_exprs,
    rank_top=st.none() | st.integers(1, 1000),  # parser.MAX_TOP
    classify=st.just(False),
    entity=_columns,
    where=st.none() | _full_exprs,
    assuming=st.none() | _full_exprs,
    entity_keys=st.none() | st.lists(_literals, min_size=1, max_size=3).map(tuple),
    forecast=st.none() | st.integers(1, 10_000),  # parser.MAX_TIMEFRAMES
)


@settings(max_examples=300, deadline=None)
@given(_queries, st.booleans())
def test_printed_random_trees_parse_back_to_the_same_tree(query: Query, classify: bool) -> None:
    if classify and query.rank_top is None:
        top = query.entity_keys[0].value if query.entity_keys else None  # some CLASSIFY TOP k
        k = top if isinstance(top, int) and not isinstance(top, bool) and 0 < top <= 1000 else None
        query = Query(query.target, None, True, query.entity, query.where, query.assuming,
                      query.entity_keys, k, query.forecast)
    text = to_pql(query)
    assert parse(text) == query
    assert to_pql(parse(text)) == text
