"""The contract every job sink keeps, written once and run against each backend.

A backend's test file subclasses :class:`SinkContract` (``class TestLocalSinkContract(SinkContract)``)
and provides two things: a ``make_sink`` fixture (a factory: job id → a *fresh* sink of one
destination, as a new process would open it) and :meth:`SinkContract.published` (the ENTITY keys
at the destination, read back with another client). Each test then holds for the backend:

* **stage**: a shard counts as staged only once its done marker exists; markers carry their info;
* **rewrite a shard**: writing a shard again replaces it whole;
* **publish**: the staged shards stream, in shard order, into the destination (every row once);
* **resume after a crash**: a new sink of the same job sees the finished shards; a crash in the
  middle of publishing, then a publish from the start, leaves every row exactly once;
* **manifest last**: there is none until it is written, it reads back as written, and discarding
  the staging area keeps it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import pyarrow as pa
import pytest

from relpredict.sinks import JobSink

MakeSink = Callable[[str], JobSink]
OUTPUT = "predictions"
RANGES = [(0, 3), (3, 5), (5, 9)]  # the entity keys of shards 0, 1, 2


def shard_table(lo: int, hi: int) -> pa.Table:
    """A predictions shard: keys ``lo..hi-1`` and a score per key."""
    keys = list(range(lo, hi))
    return pa.table({"ENTITY": pa.array(keys, pa.int64()),
                     "TARGET_PRED": pa.array([k / 10 for k in keys], pa.float64())})


def stage(sink: JobSink, ranges: list[tuple[int, int]] = RANGES, first: int = 0) -> None:
    for shard, (lo, hi) in enumerate(ranges, start=first):
        sink.write_shard(shard, OUTPUT, shard_table(lo, hi))
        sink.mark_done(shard, {"entities": hi - lo})


def staged_batches(sink: JobSink) -> Iterator[pa.RecordBatch]:
    return (b for s in sorted(sink.done_shards()) for b in sink.read_shard(s, OUTPUT))


def publish(sink: JobSink, batches: Iterator[pa.RecordBatch] | None = None,
            on_batch: Callable[[pa.RecordBatch], None] | None = None) -> int:
    """Publish the staged shards (or ``batches``); return the rows the sink reports."""
    files = sink.publish(OUTPUT, shard_table(0, 1).schema,
                         staged_batches(sink) if batches is None else batches, on_batch)
    return sum(f.rows for f in files)


def new_job_id() -> str:
    """A job id of its own per test: a destination may remember ids (BigQuery's load job labels)."""
    return f"j{uuid.uuid4().hex[:10]}"


class SinkContract:
    """The tests every backend runs (see the module docstring)."""

    @pytest.fixture()
    def make_sink(self) -> MakeSink:
        raise NotImplementedError("a backend's contract class provides make_sink")

    def published(self, sink: JobSink) -> list[int]:
        """The ENTITY keys of the published output, in the destination's order."""
        raise NotImplementedError

    # ----------------------------------------------------------------- stage
    def test_a_shard_is_staged_once_its_marker_exists(self, make_sink: MakeSink) -> None:
        job = new_job_id()
        sink = make_sink(job)
        assert sink.done_shards() == {}
        stage(sink, RANGES[:2])
        sink.write_shard(2, OUTPUT, shard_table(5, 9))  # written, not marked: not done
        assert sink.done_shards() == {0: {"entities": 3}, 1: {"entities": 2}}
        assert [b.num_rows for b in sink.read_shard(1, OUTPUT)] == [2]
        assert sink.shard_schema(0, OUTPUT) == shard_table(0, 1).schema
        assert sink.read_shard(0, OUTPUT, columns=["ENTITY"]).__next__().schema.names == ["ENTITY"]

    def test_rewriting_a_shard_replaces_it_whole(self, make_sink: MakeSink) -> None:
        job = new_job_id()
        sink = make_sink(job)
        sink.write_shard(0, OUTPUT, shard_table(0, 5))
        sink.write_shard(0, OUTPUT, shard_table(0, 2))
        assert sum(b.num_rows for b in sink.read_shard(0, OUTPUT)) == 2

    # ----------------------------------------------------------------- publish
    def test_publish_streams_the_shards_in_order(self, make_sink: MakeSink) -> None:
        job = new_job_id()
        sink = make_sink(job)
        stage(sink)
        seen: list[int] = []
        assert publish(sink, on_batch=lambda b: seen.append(b.num_rows)) == 9
        assert seen == [3, 2, 4]
        assert self.published(sink) == list(range(9))

    # ----------------------------------------------------------------- resume
    def test_a_new_sink_of_the_job_sees_the_finished_shards(self, make_sink: MakeSink) -> None:
        job = new_job_id()
        stage(make_sink(job), RANGES[:2])  # the first run is killed after two shards
        again = make_sink(job)
        assert sorted(again.done_shards()) == [0, 1]
        stage(again, RANGES[2:], first=2)  # the resume runs the rest
        assert publish(again) == 9
        assert self.published(again) == list(range(9))
        assert make_sink(new_job_id()).done_shards() == {}  # staging is the job's own

    def test_a_crash_while_publishing_then_a_publish_writes_every_row_once(
            self, make_sink: MakeSink) -> None:
        job = new_job_id()
        sink = make_sink(job)
        stage(sink)

        def crashing() -> Iterator[pa.RecordBatch]:
            batches = staged_batches(sink)
            yield next(batches)
            yield next(batches)
            raise RuntimeError("the coordinator died")

        with pytest.raises(RuntimeError, match="the coordinator died"):
            publish(sink, crashing())
        assert sink.read_manifest() is None
        resumed = make_sink(job)
        publish(resumed)
        assert self.published(resumed) == list(range(9))

    # ----------------------------------------------------------------- manifest
    def test_the_manifest_is_written_last_and_outlives_the_staging(self, make_sink: MakeSink) -> None:
        job = new_job_id()
        sink = make_sink(job)
        assert sink.read_manifest() is None
        stage(sink)
        publish(sink)
        assert sink.read_manifest() is None  # published, but not promised yet
        where = sink.write_manifest({"job_id": job, "rows": 9})
        assert isinstance(where, str) and where
        sink.discard_staging()
        fresh = make_sink(job)
        assert fresh.read_manifest() == {"job_id": job, "rows": 9}
        assert fresh.done_shards() == {}
