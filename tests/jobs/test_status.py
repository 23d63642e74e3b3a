"""Pure pieces of the job machinery: state diagram, resume rules, ETA, shard plans, output columns."""

from __future__ import annotations

import pickle
from datetime import datetime

import pyarrow as pa
import pytest

from relpredict.errors import ConflictError
from relpredict.jobs.control import estimate_eta
from relpredict.jobs.runner import backtest_window
from relpredict.jobs.shards import Shard, expected_columns, own_slice, plan_shards
from relpredict.jobs.status import (
    CANCELABLE,
    FINISHED,
    IN_PROGRESS,
    RESUMABLE,
    JobStatus,
    check_transition,
    resume_problem,
)
from relpredict.query.bound import TaskType, Window
from relpredict.sinks import SinkSpec, parse_destination

Q, R, S, F, C = (JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.SUCCEEDED, JobStatus.FAILED,
                 JobStatus.CANCELLED)


def test_groups_partition_the_states() -> None:
    assert IN_PROGRESS | FINISHED == set(JobStatus) and not IN_PROGRESS & FINISHED
    assert CANCELABLE == IN_PROGRESS and RESUMABLE == {F, C}


@pytest.mark.parametrize(("old", "new"), [(Q, R), (Q, C), (Q, F), (R, S), (R, F), (R, C), (R, Q),
                                          (F, Q), (C, Q)])
def test_allowed_moves(old: JobStatus, new: JobStatus) -> None:
    check_transition("j1", old, new)


def test_refused_moves_say_why() -> None:
    with pytest.raises(ConflictError, match=r"^Job j1 is failed and cannot become succeeded\.$"):
        check_transition("j1", F, S)
    with pytest.raises(ConflictError, match=r"^Job j1 already succeeded; start a new job with `relpredict job run`\.$"):
        check_transition("j1", S, Q)


def test_resume_rules() -> None:
    assert resume_problem("j1", F, runner_alive=False) is None
    assert resume_problem("j1", C, runner_alive=False) is None
    assert resume_problem("j1", R, runner_alive=False) is None  # killed with kill -9: orphaned
    assert resume_problem("j1", R, runner_alive=True) == (
        "Job j1 is running (its runner is alive); wait for it or cancel it with "
        "`relpredict job cancel j1` first.")
    assert resume_problem("j1", S, runner_alive=False) == "Job j1 already succeeded: there is nothing to resume."


def test_eta() -> None:
    assert estimate_eta(done_this_run=100, remaining=300, seconds_this_run=10.0) == 30.0
    assert estimate_eta(0, 300, 10.0) is None
    assert estimate_eta(10, 0, 1.0) == 0.0


def test_shard_plan() -> None:
    assert plan_shards(12, 5) == [(0, 5), (5, 10), (10, 12)]
    assert plan_shards(0, 5) == []
    with pytest.raises(ValueError):
        plan_shards(3, 0)


def test_a_shard_is_picklable_plain_data() -> None:
    spec = SinkSpec("j1", parse_destination("/out/p.parquet"), ("predictions",))
    shard = Shard("j1", 3, own_slice(pa.array(range(1000, 2000)), 10, 15), datetime(2024, 1, 1), "m@1",
                  "tests.jobs.fixture_model:load", "/ws", spec, {"threshold": 0.3})
    back = pickle.loads(pickle.dumps(shard))
    assert back.entities.to_pylist() == [1010, 1011, 1012, 1013, 1014] and back.sink == spec
    assert len(pickle.dumps(shard)) < 2000  # a slice travels without its parent's buffer


@pytest.mark.parametrize(("task", "temporal", "output", "columns"), [
    (TaskType.binary, True, "predictions", ["ENTITY", "ANCHOR_TIMESTAMP", "TARGET_PRED", "False_PROB", "True_PROB"]),
    (TaskType.regression, False, "predictions", ["ENTITY", "TARGET_PRED"]),
    (TaskType.multiclass, True, "predictions", ["ENTITY", "ANCHOR_TIMESTAMP", "CLASS", "SCORE", "PREDICTED"]),
    (TaskType.multilabel, True, "predictions", ["ENTITY", "ANCHOR_TIMESTAMP", "CLASS", "SCORE", "PREDICTED"]),
    (TaskType.link_prediction, True, "predictions", ["ENTITY", "ANCHOR_TIMESTAMP", "CLASS", "SCORE"]),
    (TaskType.binary, True, "embeddings", ["ENTITY", "ANCHOR_TIMESTAMP", "EMBEDDINGS"]),
    (TaskType.regression, False, "embeddings", ["ENTITY", "EMBEDDINGS"]),
])
def test_expected_columns_follow_pql_md(task: TaskType, temporal: bool, output: str, columns: list[str]) -> None:
    assert expected_columns(task, temporal, output) == columns


def test_a_forecast_writes_its_timeframe_after_the_anchor_time() -> None:
    assert expected_columns(TaskType.regression, True, "predictions", forecast=True) == [
        "ENTITY", "ANCHOR_TIMESTAMP", "TIMEFRAME", "TARGET_PRED"]
    assert expected_columns(TaskType.regression, True, "embeddings", forecast=True) == [
        "ENTITY", "ANCHOR_TIMESTAMP", "EMBEDDINGS"]


def test_backtest_window() -> None:
    from relpredict.query.bound import BoundQuery

    bq = BoundQuery.__new__(BoundQuery)
    object.__setattr__(bq, "horizon", Window(0, 30, "days"))
    end, reason = backtest_window(bq, datetime(2024, 3, 1), datetime(2024, 3, 31))
    assert end == datetime(2024, 3, 31) and reason is None
    end, reason = backtest_window(bq, datetime(2024, 3, 1), datetime(2024, 3, 30, 23))
    assert end is None and reason == ("the target window ends 2024-03-31 00:00:00, after the latest "
                                      "data (2024-03-30 23:00:00): what happened is not known yet")
    object.__setattr__(bq, "horizon", None)
    assert backtest_window(bq, None, None) == (None, "a static query has no anchor time to look back on")


def test_auto_shard_size() -> None:
    from relpredict.jobs.settings import auto_shard_size

    assert auto_shard_size(1_000_000, 2) == 20_000  # capped
    assert auto_shard_size(30_000, 4) == 7_500  # one shard per worker
    assert auto_shard_size(559, 2) == 280 and auto_shard_size(0, 2) == 1
