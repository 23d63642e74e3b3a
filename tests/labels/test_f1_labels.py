"""The three RelBench rel-f1 entity tasks written in PQL: label counts per split match RelBench.

Needs the F1 data (../shared/data/f1 next to the repository, or $RELPREDICT_F1_DATA).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from relpredict.graph import Graph, load_graph
from relpredict.labels.labels import anchor_schedule, split_tables
from relpredict.query.binder import bind
from relpredict.query.bound import BoundQuery, TaskType
from tests.conftest import F1, F1_YAML, needs_f1

pytestmark = needs_f1

VAL_START, TEST_START = datetime(2005, 1, 1), datetime(2010, 1, 1)

DNF = """PREDICT COUNT(results.* WHERE results.statusId != 1, 0, 30, days) > 0
FOR EACH drivers.driverId ASSUMING COUNT(results.*, 0, 30, days) > 0"""
TOP3 = "PREDICT MIN(qualifying.position, 0, 30, days) <= 3 FOR EACH drivers.driverId"
POSITION = "PREDICT AVG(results.positionOrder, 0, 60, days) FOR EACH drivers.driverId"


@pytest.fixture(scope="module")
def f1() -> Iterator[Graph]:
    graph = load_graph(F1_YAML, data=F1)
    yield graph
    graph.close()


def splits(query: str, graph: Graph) -> tuple[BoundQuery, dict[str, pa.Table]]:
    bq = bind(query, graph)
    schedule = anchor_schedule(bq, graph, val_start=VAL_START, test_start=TEST_START)
    return bq, split_tables(bq, graph, schedule)


@pytest.mark.parametrize(("query", "task", "counts"), [
    (DNF, TaskType.binary, (11_411, 566, 702)),
    (TOP3, TaskType.binary, (1_353, 588, 726)),
    (POSITION, TaskType.regression, (7_453, 499, 760)),
], ids=["driver-dnf", "driver-top3", "driver-position"])
def test_split_sizes_match_relbench(f1: Graph, query: str, task: TaskType,
                                    counts: tuple[int, int, int]) -> None:
    bq, tables = splits(query, f1)
    assert bq.task_type is task
    assert tuple(tables[name].num_rows for name in ("train", "val", "test")) == counts


def test_driver_position_target_statistics(f1: Graph) -> None:
    _, tables = splits(POSITION, f1)
    target = tables["train"].column("TARGET")
    assert pc.mean(target).as_py() == pytest.approx(13.90, abs=0.005)
    assert pc.stddev(target, ddof=0).as_py() == pytest.approx(7.0253, abs=5e-5)
