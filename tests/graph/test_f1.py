"""Acceptance on the real Formula 1 data: the example graph loads as RelBench's rel-f1."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest

from relpredict.graph import Graph, load_graph
from relpredict.graph.summary import summarize
from relpredict.tables import SType
from tests.conftest import F1, F1_YAML, needs_f1

pytestmark = needs_f1


@pytest.fixture(scope="module")
def f1() -> Iterator[Graph]:
    graph = load_graph(F1_YAML, data=F1)
    yield graph
    graph.close()


def test_tables_and_links(f1: Graph) -> None:
    assert f1.name == "rel_f1"
    assert f1.table_names == ["circuits", "drivers", "constructors", "races", "results",
                              "standings", "constructor_results", "constructor_standings",
                              "qualifying"]
    assert len(f1.links) == 13
    assert f1.validate() == []
    assert f1.validate(missing_keys="error") == []


def test_races_time_range(f1: Graph) -> None:
    lo, hi = f1.time_range("races")
    assert lo.year == 1950 and hi.year == 2025
    assert f1.columns("races")["date"] == "TIMESTAMP"
    assert list(f1.columns("races")) == ["raceId", "year", "round", "circuitId", "name", "date"]


def test_results_columns(f1: Graph) -> None:
    columns = f1.columns("results")
    assert columns["date"] == "TIMESTAMP"
    for dropped in ("positionText", "time", "fastestLapTime", "fastestLapSpeed"):
        assert dropped not in columns
    assert f1.stypes("results")["statusId"] is SType.categorical
    # Every result took its race's time.
    mismatched = f1.sql("SELECT COUNT(*) FROM results s JOIN races r USING (raceId) "
                        "WHERE s.date <> r.date").fetchall()
    assert mismatched == [(0,)]


def test_qualifying_is_one_day_before_the_race(f1: Graph) -> None:
    (qualify_id, race_id, qualifying_date), = f1.sql(
        "SELECT qualifyId, raceId, date FROM qualifying ORDER BY qualifyId LIMIT 1").fetchall()
    (race_date,), = f1.sql("SELECT date FROM races WHERE raceId = $1", params=[race_id]).fetchall()
    assert isinstance(race_date, datetime)
    assert qualifying_date == race_date - timedelta(days=1)
    for dropped in ("q1", "q2", "q3"):
        assert dropped not in f1.columns("qualifying")


def test_dropped_urls_and_null_markers(f1: Graph) -> None:
    assert "url" not in f1.columns("circuits")
    assert "number" not in f1.columns("drivers")
    assert f1.columns("results")["position"] == "BIGINT"  # \N read as NULL, not text


def test_summary(f1: Graph) -> None:
    summary = {s.name: s for s in summarize(f1)}
    races = summary["races"]
    assert (races.primary_key, races.foreign_keys, races.time_column) == (
        "raceId", {"circuitId": "circuits"}, "date")
    assert races.rows == f1.row_count("races") > 1000
    assert summary["circuits"].time_min is None
