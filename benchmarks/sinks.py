"""Destinations benchmark: rows/s and MB/s writing 1M prediction rows to each destination.

Every destination writes the same Arrow table (binary-classification predictions: ENTITY,
ANCHOR_TIMESTAMP, TARGET_PRED, True_PROB, False_PROB) and is compared, in the same run, with
pyarrow writing that table to local disk. Each figure is the median of ``--repeats`` runs (3).
MB/s divides the bytes of the written Parquet output by the time.

One function per destination, ``bench_<name>(table, scratch, repeats) -> list[Result]``, registered
in ``DESTINATIONS``; each starts (and stops) whatever server it needs on 127.0.0.1.

    .venv/bin/python benchmarks/sinks.py                   # every destination
    .venv/bin/python benchmarks/sinks.py --only local,s3 --rows 200000

S3 (moto's server on 127.0.0.1): the sink publishing the table into one object (multipart
streaming), the sink's whole path (stage 50 shards of 20,000 rows, then publish them), and a bare
boto3 ``upload_fileobj`` of the same Parquet bytes (boto3's managed multipart transfer).

Snowflake (fakesnow's server on 127.0.0.1): the sink replacing a table's rows (Parquet upload
files, PUT, DELETE + COPY INTO in one transaction), the sink's whole path, and a bare connector
PUT + COPY INTO of the same Parquet file.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

SHARD_ROWS = 20_000
MB = 1024 * 1024


@dataclass(frozen=True)
class Result:
    """One measured way of writing the table."""

    destination: str
    method: str
    rows: int
    bytes: int
    seconds: float  # median of the repeats

    def line(self) -> str:
        return (f"{self.destination:<10} {self.method:<46} {self.rows / self.seconds:>12,.0f} "
                f"{self.bytes / MB / self.seconds:>9.1f} {self.seconds:>8.3f}")


def prediction_table(rows: int, seed: int = 0) -> pa.Table:
    """``rows`` binary-classification predictions, as a job writes them."""
    rng = np.random.default_rng(seed)
    prob = rng.random(rows)
    return pa.table({
        "ENTITY": pa.array(np.arange(rows, dtype=np.int64)),
        "ANCHOR_TIMESTAMP": pa.array(np.full(rows, np.datetime64("2024-04-01T00:00:00", "us"))),
        "TARGET_PRED": pa.array(prob >= 0.5),
        "True_PROB": pa.array(prob),
        "False_PROB": pa.array(1.0 - prob),
    })


def median_seconds(run: Callable[[int], None], repeats: int) -> float:
    """The median wall time of ``run(i)`` over ``repeats`` calls (``i`` = the repeat number)."""
    times = []
    for i in range(repeats):
        start = time.perf_counter()
        run(i)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def stage_and_publish_all(sink, table: pa.Table) -> None:
    """What a job does with a sink: stage the table in shards (as workers would), publish them in
    shard order, write the manifest, drop the staging area."""
    shards = range(0, table.num_rows, SHARD_ROWS)
    for n, lo in enumerate(shards):
        sink.write_shard(n, "predictions", table.slice(lo, SHARD_ROWS))
        sink.mark_done(n, {"entities": SHARD_ROWS})
    batches = (b for n in range(len(shards)) for b in sink.read_shard(n, "predictions"))
    sink.publish("predictions", sink.shard_schema(0, "predictions"), batches)
    sink.write_manifest({"job_id": sink.spec.job_id})
    sink.discard_staging()


def parquet_bytes(table: pa.Table) -> bytes:
    buffer = pa.BufferOutputStream()
    pq.write_table(table, buffer)
    return buffer.getvalue().to_pybytes()


# ------------------------------------------------------------------------------------ local
def bench_local(table: pa.Table, scratch: Path, repeats: int) -> list[Result]:
    """The baseline: ``pyarrow.parquet.write_table`` to local disk."""
    from relpredict.sinks import SinkSpec, open_sink, parse_destination

    path = scratch / "local.parquet"
    seconds = median_seconds(lambda i: pq.write_table(table, path), repeats)
    sink = open_sink(SinkSpec("bench", parse_destination(str(scratch / "sink.parquet")), ("predictions",)))
    streamed = median_seconds(
        lambda i: sink.publish("predictions", table.schema, table.to_batches(65_536)), repeats)
    return [Result("local", "pyarrow write_table to disk", table.num_rows, path.stat().st_size, seconds),
            Result("local", "LocalSink.publish (same 65k-row batches)", table.num_rows,
                   (scratch / "sink.parquet").stat().st_size, streamed)]


# ------------------------------------------------------------------------------------ S3
def bench_s3(table: pa.Table, scratch: Path, repeats: int) -> list[Result]:
    """S3 through moto on 127.0.0.1: the sink (publish; stage + publish) and bare boto3."""
    import os

    from tests.servers import running_moto

    from relpredict.sinks import SinkSpec, open_sink, parse_destination

    with running_moto(scratch / "moto") as server:
        os.environ.update(AWS_ENDPOINT_URL=server.endpoint, AWS_ACCESS_KEY_ID="bench",
                          AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION="us-east-1")
        client = server.client()
        client.create_bucket(Bucket="bench")

        def sink(i: int, name: str):
            dest = parse_destination(f"s3://bench/{name}-{i}/predictions.parquet")
            return open_sink(SinkSpec(f"bench-{uuid.uuid4().hex[:8]}", dest, ("predictions",)))

        def publish(i: int) -> None:
            sink(i, "publish").publish("predictions", table.schema, table.to_batches(65_536))

        def stage_and_publish(i: int) -> None:
            s = sink(i, "full")
            stage_and_publish_all(s, table)

        data = parquet_bytes(table)

        def bare(i: int) -> None:
            client.upload_fileobj(io.BytesIO(data), "bench", f"bare-{i}/predictions.parquet")

        publish_s = median_seconds(publish, repeats)
        full_s = median_seconds(stage_and_publish, repeats)
        bare_s = median_seconds(bare, repeats)
        size = client.head_object(Bucket="bench", Key="publish-0/predictions.parquet")["ContentLength"]
        return [
            Result("s3", "S3Sink.publish (multipart stream)", table.num_rows, size, publish_s),
            Result("s3", f"S3Sink stage {-(-table.num_rows // SHARD_ROWS)} shards + publish",
                   table.num_rows, size, full_s),
            Result("s3", "bare boto3 upload_fileobj (same bytes)", table.num_rows, len(data), bare_s),
        ]


# ------------------------------------------------------------------------------------ BigQuery
def bench_bigquery(table: pa.Table, scratch: Path, repeats: int) -> list[Result]:
    """BigQuery through bqemulator on 127.0.0.1: the sink (stage shards, then publish them with
    its default load groups, and with one load per shard) and a bare client load of the same bytes.

    Each run appends to a fresh table; every table's rows are checked with ``SELECT COUNT(*)`` (the
    emulator's ``output_rows`` is wrong). The emulator's venv is built on first use (~1 min).
    """
    from google.cloud import bigquery
    from tests.bigquery_server import running_emulator

    from relpredict.connectors import Connector
    from relpredict.sinks import SinkSpec, TableDestination
    from relpredict.sinks.bigquery import (
        BigQueryConnection,
        BigQuerySink,
        bigquery_schema,
        make_client,
    )

    with running_emulator(scratch / "bqemulator") as server:
        connector = Connector("bench", "bigquery", {"project": server.project, "dataset": "bench",
                                                    "api_endpoint": server.endpoint})
        client = make_client(BigQueryConnection.from_connector(connector))
        client.create_dataset("bench")
        loads: dict[str, int] = {}

        def count(name: str) -> None:
            rows = list(client.query(f"SELECT COUNT(*) FROM `{server.project}.bench.{name}`").result())
            assert rows[0][0] == table.num_rows, (name, rows[0][0], table.num_rows)

        def stage_and_publish(i: int, kind: str, load_bytes: int | None) -> None:
            name = f"{kind}_{i}"
            spec = SinkSpec(f"bench{kind}{i}", TableDestination("bigquery", "bench", name), ("predictions",))
            s = BigQuerySink(spec, connector=connector, staging=scratch / name, load_bytes=load_bytes)
            stage_and_publish_all(s, table)
            loads[kind] = sum(not e["skipped"] for e in s.loads) - 1  # less the manifest's
            count(name)

        data = parquet_bytes(table)

        def bare(i: int) -> None:  # the emulator's loads never create a table: make it first
            client.create_table(bigquery.Table(f"{server.project}.bench.bare_{i}",
                                               schema=bigquery_schema(table.schema)))
            config = bigquery.LoadJobConfig(source_format="PARQUET", write_disposition="WRITE_APPEND")
            client.load_table_from_file(io.BytesIO(data), f"{server.project}.bench.bare_{i}",
                                        job_config=config).result()
            count(f"bare_{i}")

        grouped_s = median_seconds(lambda i: stage_and_publish(i, "grouped", None), repeats)
        per_shard_s = median_seconds(lambda i: stage_and_publish(i, "pershard", 1), repeats)
        bare_s = median_seconds(bare, repeats)
        shards = -(-table.num_rows // SHARD_ROWS)
        return [
            Result("bigquery", f"BigQuerySink stage {shards} shards + {loads['grouped']} load(s)",
                   table.num_rows, len(data), grouped_s),
            Result("bigquery", f"BigQuerySink stage {shards} shards + {loads['pershard']} loads",
                   table.num_rows, len(data), per_shard_s),
            Result("bigquery", "bare load_table_from_file (same bytes)", table.num_rows, len(data),
                   bare_s),
        ]


# ------------------------------------------------------------------------------------ Snowflake
def bench_snowflake(table: pa.Table, scratch: Path, repeats: int) -> list[Result]:
    """Snowflake through fakesnow on 127.0.0.1: the sink (publish alone; stage shards + publish)
    replacing one table's rows each run, and a bare connector ``PUT`` + ``COPY INTO`` of the same
    Parquet file (the bulk path with no transaction, no staging, no checks).

    Every run's row count is checked with ``SELECT COUNT(*)``. fakesnow loads with DuckDB on this
    machine: the figures measure the sink's own overhead, not Snowflake's network or warehouse.
    """
    import os

    from tests.snowflake_server import TIMEOUTS, running_fakesnow

    from relpredict.connectors import Connector
    from relpredict.sinks import SinkSpec, TableDestination
    from relpredict.sinks.snowflake import SnowflakeConnection, SnowflakeSink

    with running_fakesnow(scratch / "fakesnow") as server:
        server.create_schema("BENCH", "OUT")
        os.environ["RELPREDICT_BENCH_SNOWFLAKE_PASSWORD"] = "bench"  # fakesnow accepts any
        connector = Connector("bench", "snowflake", server.settings("BENCH", "OUT"),
                              {"password": "env:RELPREDICT_BENCH_SNOWFLAKE_PASSWORD"})
        connection = SnowflakeConnection.from_connector(connector, **TIMEOUTS)
        client = server.connect("BENCH", "OUT")

        def count(name: str) -> None:
            rows = client.cursor().execute(f"SELECT COUNT(*) FROM {name}").fetchone()[0]
            assert rows == table.num_rows, (name, rows, table.num_rows)

        def sink(i: int, name: str) -> SnowflakeSink:
            spec = SinkSpec(f"bench{name}{i}", TableDestination("snowflake", "bench", name), ("predictions",))
            return SnowflakeSink(spec, staging=scratch / f"{name}-{i}" / "staging", connection=connection)

        def publish(i: int) -> None:
            s = sink(i, "PUBLISHED")
            s.publish("predictions", table.schema, table.to_batches(65_536))
            s.discard_staging()
            count("PUBLISHED")

        def stage_and_publish(i: int) -> None:
            s = sink(i, "STAGED")
            stage_and_publish_all(s, table)
            count("STAGED")

        bare_dir = scratch / "bare"
        bare_dir.mkdir()
        pq.write_table(table, bare_dir / "predictions.parquet")
        client.cursor().execute("CREATE TABLE BARE (ENTITY NUMBER(38,0), ANCHOR_TIMESTAMP TIMESTAMP_NTZ, "
                                'TARGET_PRED BOOLEAN, "True_PROB" FLOAT, "False_PROB" FLOAT)')

        def bare(i: int) -> None:
            cur = client.cursor()
            cur.execute(f"CREATE OR REPLACE TEMPORARY STAGE BARE_{i}")
            cur.execute(f"PUT 'file://{bare_dir.as_posix()}/predictions.parquet' @BARE_{i} "
                        "AUTO_COMPRESS = FALSE")
            cur.execute("TRUNCATE TABLE BARE")
            cur.execute(f"COPY INTO BARE FROM @BARE_{i} FILE_FORMAT = (TYPE = PARQUET) "
                        "MATCH_BY_COLUMN_NAME = CASE_INSENSITIVE")
            count("BARE")

        publish_s = median_seconds(publish, repeats)
        full_s = median_seconds(stage_and_publish, repeats)
        bare_s = median_seconds(bare, repeats)
        client.close()
        size = (bare_dir / "predictions.parquet").stat().st_size
        shards = -(-table.num_rows // SHARD_ROWS)
        return [
            Result("snowflake", "SnowflakeSink.publish (PUT + DELETE/COPY txn)", table.num_rows, size,
                   publish_s),
            Result("snowflake", f"SnowflakeSink stage {shards} shards + publish", table.num_rows, size,
                   full_s),
            Result("snowflake", "bare connector PUT + COPY INTO (same file)", table.num_rows, size,
                   bare_s),
        ]


DESTINATIONS: dict[str, Callable[[pa.Table, Path, int], list[Result]]] = {
    "local": bench_local,
    "s3": bench_s3,
    "bigquery": bench_bigquery,
    "snowflake": bench_snowflake,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", default=",".join(DESTINATIONS),
                        help=f"comma-separated destinations ({', '.join(DESTINATIONS)})")
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = [n for n in names if n not in DESTINATIONS]
    if unknown:
        parser.error(f"unknown destination(s) {unknown}: choose from {', '.join(DESTINATIONS)}")
    if "local" not in names:
        names.insert(0, "local")  # every run carries its own local baseline
    table = prediction_table(args.rows)
    print(f"{args.rows:,} prediction rows, {table.nbytes / MB:.1f} MB in Arrow; median of {args.repeats}")
    print(f"{'dest':<10} {'method':<46} {'rows/s':>12} {'MB/s':>9} {'seconds':>8}")
    with tempfile.TemporaryDirectory(prefix="relpredict-bench-sinks-") as tmp:
        for name in names:
            scratch = Path(tmp) / name
            scratch.mkdir()
            for result in DESTINATIONS[name](table, scratch, args.repeats):
                print(result.line(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
