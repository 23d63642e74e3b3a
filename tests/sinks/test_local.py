"""The local sink on real files: the sink contract, then what is local: hidden staging, CSV,
partitions, atomicity."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from relpredict.errors import ConfigError
from relpredict.sinks import JobSink, SinkSpec, open_sink, parse_destination
from relpredict.sinks.formats import lists_as_json
from tests.sinks.contract import OUTPUT, MakeSink, SinkContract


def _table(lo: int, hi: int) -> pa.Table:
    keys = list(range(lo, hi))
    return pa.table({"ENTITY": pa.array(keys, pa.int64()),
                     "EMBEDDINGS": pa.array([[k / 2, -1.0] for k in keys], pa.list_(pa.float32()))})


def _sink(tmp_path: Path, path: str, types: tuple[str, ...] = ("embeddings",), size: int = 1 << 28):
    dest = parse_destination(str(tmp_path / path), partition_bytes=size)
    return open_sink(SinkSpec("job1", dest, types))


class TestLocalSinkContract(SinkContract):
    @pytest.fixture()
    def make_sink(self, tmp_path: Path) -> MakeSink:
        dest = parse_destination(str(tmp_path / "out" / "p.parquet"))
        return lambda job: open_sink(SinkSpec(job, dest, (OUTPUT,)))

    def published(self, sink: JobSink) -> list[int]:
        return pq.read_table(sink.spec.destination.path).column("ENTITY").to_pylist()


def _visible(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))


def test_staging_markers_and_publish_in_shard_order(tmp_path: Path) -> None:
    sink = _sink(tmp_path, "out/emb.parquet")
    for shard, (lo, hi) in enumerate([(0, 3), (3, 5)]):
        sink.write_shard(shard, "embeddings", _table(lo, hi))
        sink.mark_done(shard, {"entities": hi - lo})
    assert sink.done_shards() == {0: {"entities": 3}, 1: {"entities": 2}}
    assert _visible(tmp_path / "out") == []  # staging is hidden until publishing
    seen: list[int] = []
    batches = (b for s in (0, 1) for b in sink.read_shard(s, "embeddings"))
    files = sink.publish("embeddings", sink.shard_schema(0, "embeddings"), batches,
                         on_batch=lambda b: seen.append(b.num_rows))
    assert [(Path(f.path).name, f.rows) for f in files] == [("emb.parquet", 5)]
    assert pq.read_table(tmp_path / "out/emb.parquet").column("ENTITY").to_pylist() == [0, 1, 2, 3, 4]
    assert seen == [3, 2]
    path = sink.write_manifest({"job_id": "job1"})
    assert path == str(tmp_path / "out/emb.manifest.json")
    assert sink.read_manifest() == {"job_id": "job1"}
    sink.discard_staging()
    assert sorted(os.listdir(tmp_path / "out")) == ["emb.manifest.json", "emb.parquet"]


def test_csv_embeddings_are_json_arrays_and_keys_keep_their_type(tmp_path: Path) -> None:
    sink = _sink(tmp_path, "out/emb.csv")
    sink.publish("embeddings", _table(0, 1).schema, _table(0, 3).to_batches())
    text = (tmp_path / "out/emb.csv").read_text().splitlines()
    assert text[0] == '"ENTITY","EMBEDDINGS"'
    assert text[1:] == ['0,"[0,-1]"', '1,"[0.5,-1]"', '2,"[1,-1]"']
    back = pacsv.read_csv(tmp_path / "out/emb.csv")
    assert back.schema.field("ENTITY").type == pa.int64()
    assert [json.loads(v) for v in back.column("EMBEDDINGS").to_pylist()] == [[0, -1], [0.5, -1], [1, -1]]


def test_lists_as_json_on_a_slice_and_with_nulls() -> None:
    array = pa.array([[1.5], None, [], [0.25, 3.0]], pa.list_(pa.float32()))
    assert lists_as_json(array.slice(1)).to_pylist() == [None, "[]", "[0.25,3]"]


def test_partitions_roll_over_at_the_target_size(tmp_path: Path) -> None:
    sink = _sink(tmp_path, "out/{{PARTITION}}.parquet", size=1)  # every batch closes a part
    batches = [b for lo in range(0, 9, 3) for b in _table(lo, lo + 3).to_batches()]
    files = sink.publish("embeddings", batches[0].schema, batches)
    assert [Path(f.path).name for f in files] == ["part_000.parquet", "part_001.parquet", "part_002.parquet"]
    assert [f.rows for f in files] == [3, 3, 3]
    assert pq.read_table(tmp_path / "out").num_rows == 9
    # A later, smaller job in the same folder leaves no stale part behind.
    files = _sink(tmp_path, "out/{{PARTITION}}.parquet").publish("embeddings", batches[0].schema, batches)
    assert _visible(tmp_path / "out") == ["part_000.parquet"] and files[0].rows == 9


def test_empty_output_is_still_a_file_with_its_schema(tmp_path: Path) -> None:
    schema = _table(0, 1).schema
    files = _sink(tmp_path, "out/e.parquet").publish("embeddings", schema, [])
    assert files[0].rows == 0 and pq.read_schema(tmp_path / "out/e.parquet") == schema


def test_a_failure_while_publishing_leaves_no_file(tmp_path: Path) -> None:
    sink = _sink(tmp_path, "out/emb.parquet")

    def batches():
        yield from _table(0, 3).to_batches()
        raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError):
        sink.publish("embeddings", _table(0, 1).schema, batches())
    assert os.listdir(tmp_path / "out") == []  # neither the output nor its temporary file


def test_a_folder_destination_is_refused(tmp_path: Path) -> None:
    (tmp_path / "out" / "emb.parquet").mkdir(parents=True)
    with pytest.raises(ConfigError, match=r"emb\.parquet is a folder: give a file name"):
        _sink(tmp_path, "out/emb.parquet").publish("embeddings", _table(0, 1).schema, [])


def _publish_all(sink: JobSink, shards: int, output: str = "embeddings") -> None:
    batches = (b for s in range(shards) for b in sink.read_shard(s, output))
    sink.publish(output, sink.shard_schema(0, output), batches)


def _stage_job(sink: JobSink, ranges: list[tuple[int, int]]) -> None:
    for shard, (lo, hi) in enumerate(ranges):
        sink.write_shard(shard, "embeddings", _table(lo, hi))
        sink.mark_done(shard, {"entities": hi - lo})


def test_a_crash_between_two_renames_leaves_no_manifest_until_the_resume(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dest = parse_destination(str(tmp_path / "out" / "{{PARTITION}}.parquet"), partition_bytes=1)
    manifest = tmp_path / "out.manifest.json"
    old = open_sink(SinkSpec("jobA", dest, ("embeddings",)))  # an earlier job: 4 parts + manifest
    _stage_job(old, [(100, 101), (101, 102), (102, 103), (103, 104)])
    _publish_all(old, 4)
    old.write_manifest({"job_id": "jobA"})
    assert manifest.is_file() and len(_visible(tmp_path / "out")) == 4

    new = open_sink(SinkSpec("jobB", dest, ("embeddings",)))  # this job: 2 parts
    _stage_job(new, [(0, 3), (3, 5)])
    real_replace, renames = os.replace, []

    def crash_on_the_second_rename(src: object, dst: object) -> None:
        renames.append(dst)
        if len(renames) == 2:
            raise OSError("killed between two renames")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", crash_on_the_second_rename)
    with pytest.raises(OSError, match="killed"):
        _publish_all(new, 2)
    monkeypatch.setattr(os, "replace", real_replace)
    # Job B's part_000 now sits beside job A's part_001..003: no manifest says this is an output.
    assert not manifest.exists()
    assert len(_visible(tmp_path / "out")) == 4

    resumed = open_sink(SinkSpec("jobB", dest, ("embeddings",)))  # `job resume`: a fresh process
    assert sorted(resumed.done_shards()) == [0, 1]
    _publish_all(resumed, 2)
    assert not manifest.exists()  # still none until the manifest is written, last
    resumed.write_manifest({"job_id": "jobB"})
    assert json.loads(manifest.read_text())["job_id"] == "jobB"
    assert _visible(tmp_path / "out") == ["part_000.parquet", "part_001.parquet"]  # A's stale parts gone
    keys = pq.read_table(tmp_path / "out").column("ENTITY").to_pylist()
    assert sorted(keys) == [0, 1, 2, 3, 4]


def test_a_crash_between_two_outputs_leaves_no_manifest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dest = parse_destination(str(tmp_path / "out" / "p.parquet"))
    both = ("predictions", "embeddings")
    old = open_sink(SinkSpec("jobA", dest, both))
    for output in both:
        old.write_shard(0, output, _table(100, 102))
    old.mark_done(0, {"entities": 2})
    for output in both:
        _publish_all(old, 1, output)
    old.write_manifest({"job_id": "jobA"})
    new = open_sink(SinkSpec("jobB", dest, both))
    for output in both:
        new.write_shard(0, output, _table(0, 3))
    new.mark_done(0, {"entities": 3})
    _publish_all(new, 1, "predictions")  # killed here, before the embeddings are renamed in
    assert not (tmp_path / "out" / "p.manifest.json").exists()


def test_lists_as_json_writes_non_finite_values_as_null() -> None:
    array = pa.array([[1.0, float("nan"), None, float("inf")], None, [0.5, -2e-8]], pa.list_(pa.float32()))
    out = lists_as_json(array).to_pylist()
    assert out == ["[1,null,null,null]", None, "[0.5,-2e-8]"]
    assert [json.loads(s) for s in out if s] == [[1, None, None, None], [0.5, -2e-8]]
