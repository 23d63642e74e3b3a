"""Partial success: a poison entity goes to the errors output (ENTITY, ERROR) and the others get
their predictions; the job ends succeeded_with_errors, or fails beyond --max-errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from relpredict.errors import RelpredictError, SettingsError
from relpredict.jobs import Job, JobStatus, RawSettings
from relpredict.jobs import store as job_store
from relpredict.jobs.partial import TooManyErrors, error_limit, score_isolating
from relpredict.jobs.shards import NonFiniteScore, Shard, score_shard
from relpredict.query.bound import TaskType
from relpredict.service import jobs as service
from relpredict.sinks.base import SinkSpec
from relpredict.sinks.naming import errors_destination, parse_destination
from tests.conftest import Store

APRIL = "2024-04-15"


class _Poisoned:
    """Scores ``key * 10`` per entity in bulk and raises when a poison key is in the batch."""

    def __init__(self, poison: set[int]) -> None:
        self.poison, self.calls = poison, 0

    def __call__(self, entities: pa.Array) -> dict[str, pa.Table]:
        self.calls += 1
        keys = entities.to_pylist()
        bad = self.poison & set(keys)
        if bad:
            raise ValueError(f"cannot score entity {min(bad)}")
        return {"predictions": pa.table({"ENTITY": pa.array(keys, pa.int64()),
                                         "TARGET_PRED": pa.array([k * 10.0 for k in keys])})}


def _describe(err: BaseException) -> str:
    return f"{type(err).__name__}: {err}"


def test_bisection_isolates_the_poison_entities_and_keeps_the_order() -> None:
    score = _Poisoned({3, 12})
    entities = pa.array(range(1, 17), pa.int64())
    tables, errors = score_isolating(score, entities, 5, _describe)
    assert tables["predictions"].column("ENTITY").to_pylist() == [k for k in range(1, 17) if k not in (3, 12)]
    assert tables["predictions"].column("TARGET_PRED").to_pylist()[:3] == [10.0, 20.0, 40.0]
    assert errors == [(3, "ValueError: cannot score entity 3"), (12, "ValueError: cannot score entity 12")]
    assert score.calls <= 1 + 2 * 2 * 4  # the bulk call, then about 2 k log2(n)


def test_no_error_is_one_bulk_call_and_a_limit_of_0_fails_as_before() -> None:
    score = _Poisoned(set())
    tables, errors = score_isolating(score, pa.array(range(100), pa.int64()), 0, _describe)
    assert score.calls == 1 and errors == [] and tables["predictions"].num_rows == 100
    with pytest.raises(ValueError, match="cannot score entity 7"):
        score_isolating(_Poisoned({7}), pa.array(range(10), pa.int64()), 0, _describe)


def test_more_bad_entities_than_the_limit_stop_the_isolation() -> None:
    score = _Poisoned({1, 2, 3, 40})
    with pytest.raises(TooManyErrors, match=r"More than 2 entities of the shard failed to score .*entity 1: "
                                            r"ValueError: cannot score entity 1.*--max-errors"):
        score_isolating(score, pa.array(range(64), pa.int64()), 2, _describe)


def test_our_own_errors_are_never_taken_for_one_entitys() -> None:
    def broken(entities: pa.Array) -> dict[str, pa.Table]:
        raise RelpredictError("the model returned the wrong columns")

    with pytest.raises(RelpredictError, match="wrong columns"):
        score_isolating(broken, pa.array(range(8), pa.int64()), 5, _describe)


def test_the_default_limit_is_a_thousandth_of_the_entities() -> None:
    assert [error_limit(None, n) for n in (60, 999, 1000, 25_000)] == [0, 0, 1, 25]
    assert error_limit(7, 60) == 7


class _NaNModel:
    """A model double whose regression score is NaN for entity 5 (a feature it cannot take)."""

    task_type, is_temporal = TaskType.regression, False

    def predict(self, graph: Any, anchor: Any, entities: pa.Array, **options: Any) -> pa.Table:
        keys = entities.to_pylist()
        return pa.table({"ENTITY": entities, "TARGET_PRED": [float("nan") if k == 5 else k / 2 for k in keys]})


def test_a_nan_score_is_that_entitys_error(tmp_path: Path) -> None:
    spec = SinkSpec("j1", parse_destination(str(tmp_path / "p.parquet")), ("predictions",))
    shard = Shard("j1", 0, pa.array(range(1, 9), pa.int64()), None, "m@1", "x:y", str(tmp_path), spec,
                  max_errors=1)
    tables, errors = score_shard(_NaNModel(), None, shard)
    assert tables["predictions"].column("ENTITY").to_pylist() == [1, 2, 3, 4, 6, 7, 8]
    assert errors == [(5, f"{NonFiniteScore.__name__}: the model returned TARGET_PRED = nan, not a finite number")]


def test_errors_go_beside_the_outputs() -> None:
    assert errors_destination(parse_destination("out/p.parquet")).path == "out/p_errors.parquet"
    assert errors_destination(parse_destination("s3://b/out/{{PARTITION}}.csv")).path == (
        "s3://b/out_errors/{{PARTITION}}.csv")
    assert errors_destination(parse_destination("snowflake://wh/SCORES")).table == "SCORES_errors"


def test_max_errors_is_a_whole_number_0_or_more(store: Store) -> None:
    store.workflow("binary", "wf")
    for bad in (-1, 1.5, True):
        with pytest.raises(SettingsError) as caught:
            service.check_settings(store.ws, "wf", RawSettings(anchor_time=APRIL, max_errors=bad))  # type: ignore[arg-type]
        assert "--max-errors" in caught.value.errors["max_errors"]


@pytest.mark.slow  # a whole job with worker processes
def test_a_poison_entity_goes_to_the_errors_output_and_the_job_succeeds_with_errors(
        store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    wf = store.workflow("binary", name="wf")
    monkeypatch.setenv("RELPREDICT_FIXTURE_FAIL_ON", "17")
    out = store.out / "p.parquet"
    job = wf.run(workers=2, shard_size=20, output=str(out), anchor_time=APRIL, max_errors=1)
    assert job.status() is JobStatus.SUCCEEDED_WITH_ERRORS, job.record().error
    predicted = pq.read_table(out).column("ENTITY").to_pylist()
    assert 17 not in predicted and len(predicted) == len(set(predicted)) == 59
    errors = pq.read_table(store.out / "p_errors.parquet").to_pylist()
    assert [e["ENTITY"] for e in errors] == [17]
    assert errors[0]["ERROR"] == "RuntimeError: fixture failure on entity 17"
    manifest = json.loads((store.out / "p.manifest.json").read_text())
    assert manifest["errors"] == 1 and manifest["outputs"]["errors"]["rows"] == 1
    view = service.job_view(store.ws, job.id)
    assert view["status"] == "succeeded_with_errors" and view["summary"]["errors"] == 1
    assert job.result().summary["entities"] == 60


@pytest.mark.slow  # a whole job with worker processes
def test_beyond_max_errors_the_job_fails_and_a_resume_after_the_fix_rescores_those_shards(
        store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    wf = store.workflow("regression", name="wf")
    monkeypatch.setenv("RELPREDICT_FIXTURE_FAIL_ON", "17")
    out = store.out / "p.parquet"
    with pytest.raises(RelpredictError, match="fixture failure on entity 17"):
        wf.run(workers=1, shard_size=20, output=str(out), max_errors=0)
    (rec,) = job_store.list_jobs(store.ws)
    assert rec.status is JobStatus.FAILED and not out.exists()
    monkeypatch.delenv("RELPREDICT_FIXTURE_FAIL_ON")
    job = Job(rec.id, store.ws).resume()
    assert job.status() is JobStatus.SUCCEEDED and pq.read_table(out).num_rows == 60
    assert not (store.out / "p_errors.parquet").exists()


def test_a_failure_everywhere_is_not_isolated_entity_by_entity() -> None:
    calls = []

    def broken(entities: pa.Array) -> dict[str, pa.Table]:
        calls.append(len(entities))
        raise MemoryError("the model cannot run at all") if len(calls) > 99 else ValueError("broken model")

    with pytest.raises(ValueError, match="broken model"):
        score_isolating(broken, pa.array(range(20_000), pa.int64()), 20, _describe)
    assert calls == [20_000, 1, 1, 1]  # the bulk call and three probes, then the bulk call's error
