"""Malformed queries: each error says what was expected, and where (line, column, underline)."""

from __future__ import annotations

import pytest

from relpredict.errors import QueryError, QuerySyntaxError
from relpredict.query.parser import parse, parse_expression

E = "FOR EACH u.id"  # a valid tail, to keep the cases short

# (query, message fragment, line, col)
CATALOGUE = [
    ("", "Empty query", 1, 1),
    ("  -- only a comment\n", "Empty query", 2, 1),
    ("SELECT * FROM users", "A query must start with PREDICT", 1, 1),
    ("PREDICT users.age users.user_id", "Expecting FOR EACH after the target.", 1, 19),
    ("PREDICT users.age", "Expecting FOR EACH after the target.", 1, 18),
    ("PREDICT u.a FOR u.id", "Expecting EACH after FOR", 1, 17),
    ("PREDICT u.a FOR EACH WHERE u.b = 1", "Expecting the entity after FOR EACH", 1, 22),
    ("PREDICT u.a FOR EACH customers", "Expecting . and the primary key after 'customers'", 1, 22),
    ("PREDICT u.a FOR EACH users.*", "The entity must be one column", 1, 28),
    (f"PREDICT SUM(o.a, 0, 30 {E}", "Expecting ) to close SUM(...)", 1, 24),
    (f"PREDICT SUM(o.a, 0, 30, days, 5) {E}", "Expecting ) to close SUM(...)", 1, 29),
    (f"PREDICT SUM(o.a, 0, 30, fortnights) {E}", "Unknown time unit 'fortnights'; use one of seconds, minutes, hours, days, weeks, months.", 1, 25),
    (f"PREDICT SUM(o.a, 0, 30, ) {E}", "Expecting a time unit after the window end", 1, 25),
    (f"PREDICT LIST_DISTINCT(o.p, 0, 7) RANK {E}", "RANK needs TOP k", 1, 39),
    (f"PREDICT LIST_DISTINCT(o.p, 0, 7) RANK TOP 0 {E}", "TOP needs a positive whole number", 1, 43),
    (f"PREDICT LIST_DISTINCT(o.p, 0, 7) RANK TOP 2.5 {E}", "TOP needs a positive whole number", 1, 43),
    (f"PREDICT LIST_DISTINCT(o.p, 0, 7) RANK TOP 5 CLASSIFY {E}", "not both", 1, 45),
    (f"PREDICT LIST_DISTINCT(o.p, 0, 7) CLASSIFY RANK TOP 5 {E}", "not both", 1, 43),
    (f"PREDICT SUM(orders.*, 0, 30) {E}", "table.* is only allowed in COUNT; SUM needs a column", 1, 20),
    (f"PREDICT u.* {E}", "table.* is only allowed inside COUNT", 1, 11),
    (f"PREDICT COUNT(*, 0, 30) {E}", "Expecting table.column in COUNT(...)", 1, 15),
    (f"PREDICT SUM(amount, 0, 30) {E}", "'amount' needs its table", 1, 13),
    (f"PREDICT u.country = 'US {E}", "Unterminated string; close it with '", 1, 21),
    (f'PREDICT "my table.a > 0 {E}', "Unterminated quoted identifier", 1, 9),
    (f'PREDICT "".a > 0 {E}', "Empty quoted identifier", 1, 9),
    (f"PREDICT u.a $ 3 {E}", "Unexpected character '$'", 1, 13),
    (f"PREDICT u.a = `x` {E}", "use ' for strings", 1, 15),
    (f"PREDICT SUM(o.a, 0, 30days) {E}", "Invalid number '30days'", 1, 21),
    (f"PREDICT u.a {E} LIMIT 10", "Unexpected text after the query: 'LIMIT'", 1, 27),
    (f"PREDICT u.a {E} WHERE u.b = 1 WHERE u.c = 2", "at most one WHERE clause", 1, 41),
    (f"PREDICT u.a {E} ASSUMING u.b = 1 WHERE u.c = 2", "WHERE must come before ASSUMING", 1, 44),
    (f"PREDICT SUM(o.a, 0) {E}", "Expecting a time window end (a number) in SUM(...)", 1, 19),
    (f"PREDICT SUM(o.a, 0, days) {E}", "Expecting a time window end (a number) in SUM(...)", 1, 21),
    (f"PREDICT SUM(o.a, 0, INF) {E}", "Expecting a time window end (a number) in SUM(...)", 1, 21),
    (f"PREDICT SUM(o.a, abc, 30) {E}", "A window start must be a number or -INF", 1, 18),
    (f"PREDICT SUM(o.a, INF, 30) {E}", "A window start must be a number or -INF", 1, 18),
    (f"PREDICT SUM(o.a) {E}", "Expecting , and a time window after the column: SUM(o.a, start, end[, unit])", 1, 16),
    (f"PREDICT SUMM(o.a, 0, 30) {E}", "Unknown aggregation 'SUMM'; did you mean SUM?", 1, 9),
    (f"PREDICT count_distinkt(o.a, 0, 30) {E}", "did you mean COUNT_DISTINCT?", 1, 9),
    (f"PREDICT FOO(o.a, 0, 30) {E}", "use one of SUM, AVG, MIN, MAX, COUNT", 1, 9),
    (f"PREDICT FORECAST SUM(o.a, 0, 30) {E}", "FORECAST N TIMEFRAMES comes right after the target", 1, 9),
    (f"PREDICT SUM(o.a, 0, 30) {E} FORECAST 4", "FORECAST N TIMEFRAMES comes right after the target", 1, 39),
    (f"PREDICT SUM(o.a, 0, 30) FORECAST 2.5 TIMEFRAMES {E}", "FORECAST needs a positive whole number", 1, 34),
    (f"PREDICT SUM(o.a, 0, 30) FORECAST 3 {E}", "FORECAST 3 needs the word TIMEFRAMES", 1, 36),
    (f"PREDICT NOT {E}", "Expecting a condition after NOT.", 1, 13),
    (f"PREDICT u.a IN () {E}", "IN needs at least one value", 1, 17),
    (f"PREDICT u.a IN ('x', u.b) {E}", "An IN list holds only constants", 1, 22),
    (f"PREDICT u.a IN ('x' 'y') {E}", "Expecting , or ) in the IN list.", 1, 21),
    (f"PREDICT u.a IN 'x' {E}", "Expecting ( after IN", 1, 16),
    (f"PREDICT u.age > {E}", "Expecting a value after >.", 1, 17),
    (f"PREDICT u.name STARTS 'A' {E}", "Expecting WITH after STARTS", 1, 23),
    (f"PREDICT u.a IS 3 {E}", "Expecting NULL or NOT NULL after IS", 1, 16),
    (f"PREDICT 1 < u.a < 5 {E}", "Comparisons cannot be chained; join them with AND.", 1, 17),
    (f"PREDICT u.a = 1 AND {E}", "Expecting a condition after AND.", 1, 21),
    (f"PREDICT u.a = 1 OR OR u.b = 2 {E}", "Expecting a condition after OR.", 1, 20),
    (f"PREDICT (u.a > 40 OR u.b = 1 {E}", "Expecting ) to close the ( at line 1, col 9.", 1, 30),
    (f"PREDICT () {E}", "Expecting an expression after (.", 1, 10),
    (f"PREDICT u.a = - {E}", "Expecting a number after -.", 1, 17),
    (f"PREDICT u.a {E} WHERE", "Expecting a condition after WHERE.", 1, 32),
    (f"PREDICT {E}", "Expecting the target after PREDICT", 1, 9),
    (f"PREDICT u.) {E}", "Expecting a column name after 'u.'", 1, 11),
    (f"PREDICT COUNT(o.* WHERE , 0, 7) {E}", "Expecting a row condition after WHERE in COUNT(...)", 1, 25),
    (f"PREDICT COUNT(o.* WHERE SUM(o.a, 0, 1) > 0, 0, 7) {E}", "cannot be nested", 1, 25),
    ("PREDICT COUNT(orders.*, 0, 30, days) > 0\nFOR EACH customers.customer_id\nWHERE customers.status = ",
     "Expecting a value after =.", 3, 26),
    ("PREDICT COUNT(orders.*, 0, 30, days) > 0\n  FOR EACH customers.customer_id\n"
     "  WHERE COUNT(orders.*, -30, 0, fortnight) > 0", "Unknown time unit 'fortnight'", 3, 33),
    ("PREDICT users.age\n-- a comment\nFOR users.user_id", "Expecting EACH after FOR", 3, 5),
]  # fmt: skip


@pytest.mark.parametrize(("text", "fragment", "line", "col"), CATALOGUE)
def test_malformed_query_names_the_problem_and_its_place(
    text: str, fragment: str, line: int, col: int
) -> None:
    with pytest.raises(QuerySyntaxError) as info:
        parse(text)
    error = info.value
    assert fragment in error.description
    assert (error.line, error.col) == (line, col)
    assert error.query == text


def test_catalogue_is_large_and_covers_distinct_messages() -> None:
    assert len(CATALOGUE) >= 20
    assert len({fragment for _, fragment, _, _ in CATALOGUE}) >= 40


def test_rendered_message_underlines_the_offending_token() -> None:
    text = "PREDICT SUM(orders.amount, 0, 30, fortnights) FOR EACH users.user_id"
    with pytest.raises(QuerySyntaxError) as info:
        parse(text)
    assert str(info.value).splitlines() == [
        "Unknown time unit 'fortnights'; use one of seconds, minutes, hours, days, weeks, "
        "months. Line 1, Col: 35.",
        f"  {text}",
        "  " + " " * 34 + "~" * len("fortnights"),
    ]


def test_missing_paren_underlines_the_token_where_it_was_expected() -> None:
    text = "PREDICT COUNT(orders.*, 0, 30\nFOR EACH users.user_id"
    with pytest.raises(QuerySyntaxError) as info:
        parse(text)
    assert str(info.value).splitlines() == [
        "Expecting ) to close COUNT(...). Line 2, Col: 1.",
        "  FOR EACH users.user_id",
        "  ~~~",
    ]


def test_unterminated_string_underlines_to_the_end_of_the_line() -> None:
    with pytest.raises(QuerySyntaxError) as info:
        parse("PREDICT u.a = 'abc\nFOR EACH u.id")
    assert (info.value.line, info.value.col, info.value.length) == (1, 15, 4)


def test_error_at_end_of_query_points_just_past_the_last_character() -> None:
    with pytest.raises(QuerySyntaxError) as info:
        parse("PREDICT users.age")
    assert str(info.value).splitlines()[-1] == "  " + " " * 17 + "~"


def test_syntax_errors_are_query_errors() -> None:
    with pytest.raises(QueryError):
        parse("PREDICT")
    assert issubclass(QuerySyntaxError, QueryError)


@pytest.mark.parametrize(
    ("text", "fragment", "col"),
    [
        ("", "Empty expression", 1),
        ("u.a = 1 u.b", "Unexpected text after the expression", 9),
        ("FOR", "Expecting a condition", 1),
    ],
)
def test_parse_expression_errors(text: str, fragment: str, col: int) -> None:
    with pytest.raises(QuerySyntaxError) as info:
        parse_expression(text)
    assert fragment in info.value.description and info.value.col == col
