"""Chaos benchmark: SIGKILLs and server outages during batch jobs, then ``job resume``, on every
destination; every entity must be written exactly once, with the values of a clean run.

For each destination (local file, S3 single object, S3 ``{{PARTITION}}`` parts, a Snowflake table,
a BigQuery table; the servers are moto, fakesnow and bqemulator on 127.0.0.1, started here):

1. a clean run gives the reference output (entity → values);
2. ``--kills`` runs (5 by default) are each started as ``relpredict job run`` and, after a seeded
   random delay within the clean run's duration, the runner (its whole process group) or one
   live worker is killed with SIGKILL; ``relpredict job resume`` then runs until the job
   succeeds (a kill that comes after the job ended does not count and the run is repeated);
3. for the cloud destinations, one more run whose server is stopped mid-job: the job must fail
   by itself in bounded time; the server is restarted on the same port (empty, as emulators are:
   the bucket, schema or dataset is made again, as an operator would), and the job is resumed.

After each run the output is read back from the destination itself and compared with the clean
run: rows lost (entities missing), rows doubled (entities more than once), values differing, and
mixed outputs under a manifest (files or parts beside the manifest that it does not name, a
manifest of another job, or row counts that differ from the manifest's).

Jobs score with the model test double of the test suite (``tests/jobs/fixture_model.py``: a fixed
function of the entity key and its history, ``RELPREDICT_FIXTURE_DELAY`` seconds per shard so a
kill lands mid-run): what is measured is the job machinery (shards, workers, staging, publishing,
manifests, leases, resume), which is the same for every model.

    .venv/bin/python benchmarks/chaos.py                          # every destination, 5 kills each
    .venv/bin/python benchmarks/chaos.py --only local,s3 --kills 8 --seed 3
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests.conftest import QUERIES, write_store  # noqa: E402
from tests.jobs.fixture_model import LOADER, register  # noqa: E402
from tests.servers import free_port, stop, wait_until  # noqa: E402

from relpredict.connectors import Connector, add_connector  # noqa: E402
from relpredict.jobs import Workflow  # noqa: E402
from relpredict.jobs import store as job_store  # noqa: E402
from relpredict.workspace import Workspace  # noqa: E402

RELPREDICT = str(Path(sys.executable).with_name("relpredict"))
ANCHOR = "2024-04-15"
SHARD = 5  # 60 entities → 12 shards
VALUE = "True_PROB"
BUCKET = "chaos"
JOB_SECONDS = 300  # a run that takes longer is a hang: reported, never waited for forever


# ----------------------------------------------------------------------------------- servers
@dataclass
class Server:
    """A server process on a fixed port of 127.0.0.1, restartable on the same port."""

    name: str
    start_cmd: Callable[[], subprocess.Popen[bytes]]
    ready: Callable[[], bool]
    prepare: Callable[[], None]  # make the bucket / schema / dataset (again, after a restart)
    log: Path
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = self.start_cmd()
        wait_until(self.ready, self.proc, self.log, self.name, 60)
        self.prepare()

    def stop(self) -> None:
        if self.proc is not None:
            stop(self.proc)
            self.proc = None


def _popen(cmd: list[str], log: Path, **kw: Any) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:
        return subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, **kw)


def moto_server(scratch: Path) -> tuple[Server, str]:
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    log = scratch / "moto.log"

    def ready() -> bool:
        try:
            import urllib.request

            urllib.request.urlopen(endpoint + "/", timeout=1)
            return True
        except OSError as err:
            return "HTTP Error" in str(err)

    def prepare() -> None:
        import boto3

        boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="testing",
                     aws_secret_access_key="testing").create_bucket(Bucket=BUCKET)

    cmd = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    return Server("moto", lambda: _popen(cmd, log), ready, prepare, log), endpoint


def fakesnow_server(scratch: Path) -> tuple[Server, dict[str, Any]]:
    from tests.snowflake_server import FAKESNOW, TIMEOUTS, SnowflakeServer
    from tests.snowflake_server import _ready as snow_ready

    port = free_port()
    log = scratch / "fakesnow.log"
    info = SnowflakeServer("127.0.0.1", port, log)
    cmd = [str(FAKESNOW), "-s", "--host", "127.0.0.1", "-p", str(port)]
    server = Server("fakesnow", lambda: _popen(cmd, log, cwd=scratch),
                    lambda: snow_ready("127.0.0.1", port), lambda: info.create_schema("RP", "CHAOS"), log)
    return server, {"settings": info.settings("RP", "CHAOS"), "info": info, "timeouts": TIMEOUTS}


def bigquery_server(scratch: Path) -> tuple[Server, dict[str, Any]]:
    from tests.bigquery_server import PROJECT, VENV, build_venv
    from tests.bigquery_server import _ready as bq_ready

    binary = build_venv()
    rest, grpc = free_port(), free_port()
    endpoint = f"http://127.0.0.1:{rest}"
    log = scratch / "bqemulator.log"
    env = {**os.environ, "HOME": str(VENV / "duckdb-home"), "TMPDIR": str(scratch)}
    cmd = [str(binary), "start", "--rest-host", "127.0.0.1", "--rest-port", str(rest), "--grpc-host",
           "127.0.0.1", "--grpc-port", str(grpc), "--project", PROJECT, "--log-level", "warning"]

    def prepare() -> None:
        _bq_client(endpoint, PROJECT).create_dataset("chaos", exists_ok=True)

    server = Server("bqemulator", lambda: _popen(cmd, log, env=env, cwd=scratch),
                    lambda: bq_ready(endpoint, PROJECT), prepare, log)
    return server, {"endpoint": endpoint, "project": PROJECT}


def _bq_client(endpoint: str, project: str) -> Any:
    from google.api_core.client_options import ClientOptions
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import bigquery

    return bigquery.Client(project=project, credentials=AnonymousCredentials(),
                           client_options=ClientOptions(api_endpoint=endpoint))


# ----------------------------------------------------------------------------------- destinations
@dataclass
class Destination:
    """Where one destination's jobs write, and how to read a job's output back from there."""

    name: str
    output: Callable[[int], str]  # run number → --output
    read: Callable[[str, str], tuple[pa.Table, int]]  # (job id, output) → rows, mixed count
    connector: str | None = None
    server: Server | None = None


def _manifest_mixed(manifest: dict[str, Any] | None, job_id: str, present: set[str], rows: int) -> int:
    """1 when what lies under the manifest is not what it names (or it is another job's)."""
    if manifest is None:
        return 1
    named = {f["path"] for o in manifest["outputs"].values() for f in o["files"]}
    counted = sum(o["rows"] for o in manifest["outputs"].values())
    return int(manifest["job_id"] != job_id or named != present or counted != rows)


def local_destination(scratch: Path) -> Destination:
    folder = scratch / "local-out"

    def read(job_id: str, output: str) -> tuple[pa.Table, int]:
        manifest_path = folder / "p.manifest.json"
        manifest = json.loads(manifest_path.read_text()) if manifest_path.is_file() else None
        present = {str(p) for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")
                   and p != manifest_path}
        table = pq.read_table(folder / "p.parquet")
        return table, _manifest_mixed(manifest, job_id, present, table.num_rows)

    return Destination("local", lambda run: str(folder / "p.parquet"), read)


def s3_destination(name: str, prefix: str, file_name: str, endpoint: str, server: Server) -> Destination:
    import boto3

    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    partitioned = "{{PARTITION}}" in file_name
    manifest_key = f"{prefix}.manifest.json" if partitioned else f"{prefix}/p.manifest.json"

    def read(job_id: str, output: str) -> tuple[pa.Table, int]:
        pages = client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
        keys = [o["Key"] for page in pages for o in page.get("Contents", [])]
        data = [k for k in keys if "/.relpredict-staging/" not in f"/{k}" and not k.endswith("/")
                and k != manifest_key and not k.endswith(".manifest.json")]
        try:
            manifest = json.loads(client.get_object(Bucket=BUCKET, Key=manifest_key)["Body"].read())
        except client.exceptions.NoSuchKey:
            manifest = None
        tables = [pq.read_table(pa.BufferReader(client.get_object(Bucket=BUCKET, Key=k)["Body"].read()))
                  for k in sorted(data)]
        table = pa.concat_tables(tables) if tables else pa.table({})
        return table, _manifest_mixed(manifest, job_id, {f"s3://{BUCKET}/{k}" for k in data}, table.num_rows)

    return Destination(name, lambda run: f"s3://{BUCKET}/{prefix}/{file_name}", read, "lake", server)


def snowflake_destination(ws: Workspace, snow: dict[str, Any], server: Server) -> Destination:
    def read(job_id: str, output: str) -> tuple[pa.Table, int]:
        con = snow["info"].connect("RP", "CHAOS")
        try:
            cur = con.cursor().execute('SELECT * FROM "SCORES"')
            names = [d[0] for d in cur.description]
            rows = cur.fetchall()
        finally:
            con.close()
        table = pa.table({n: [r[i] for r in rows] for i, n in enumerate(names)})
        path = ws.artifacts / "jobs" / job_id / "snowflake-manifest.json"
        manifest = json.loads(path.read_text()) if path.is_file() else None
        mixed = int(manifest is None or manifest["job_id"] != job_id
                    or manifest["outputs"]["predictions"]["rows"] != table.num_rows)
        return table, mixed

    return Destination("snowflake", lambda run: "snowflake://wh/SCORES", read, "wh", server)


def bigquery_destination(bq: dict[str, Any], server: Server) -> Destination:
    def read(job_id: str, output: str) -> tuple[pa.Table, int]:
        client = _bq_client(bq["endpoint"], bq["project"])
        name = output.rsplit("/", 1)[1]
        table = client.query(f"SELECT * FROM `{bq['project']}.{name}`").to_arrow(create_bqstorage_client=False)
        rows = list(client.query(f"SELECT manifest FROM `{bq['project']}.chaos.relpredict_manifests` "
                                 "WHERE job_id = @j", job_config=_param(job_id)).result())
        mixed = int(len(rows) != 1 or json.loads(rows[0][0])["outputs"]["predictions"]["rows"] != table.num_rows)
        return table, mixed

    # one table per run: BigQuery appends, so every job writes a table of its own
    return Destination("bigquery", lambda run: f"bigquery://bq/chaos.scores_{run}", read, "bq", server)


def _param(job_id: str) -> Any:
    from google.cloud import bigquery

    return bigquery.QueryJobConfig(query_parameters=[bigquery.ScalarQueryParameter("j", "STRING", job_id)])


# ----------------------------------------------------------------------------------- running jobs
@dataclass
class Tally:
    """What one destination's runs came to."""

    runs: int = 0
    kills: Counter[str] = field(default_factory=Counter)
    survived: int = 0
    lost: int = 0
    doubled: int = 0
    differing: int = 0
    mixed: int = 0
    outage: str = "-"
    notes: list[str] = field(default_factory=list)


class Chaos:
    def __init__(self, scratch: Path, seed: int, delay: float) -> None:
        self.scratch, self.rng = scratch, random.Random(seed)
        self.ws = Workspace.open(scratch / "ws")
        (scratch / "store").mkdir(parents=True, exist_ok=True)
        graph_yaml = write_store(scratch / "store")
        register(self.ws, "m", QUERIES["binary"], graph_yaml)
        os.environ["RELPREDICT_MODEL_LOADER"] = LOADER  # this process loads the double too
        Workflow.create("wf", "m", self.ws)
        self.env = {**os.environ, "RELPREDICT_HOME": str(self.ws.home), "RELPREDICT_MODEL_LOADER": LOADER,
                    "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
                    "RELPREDICT_FIXTURE_DELAY": str(delay), "AWS_ACCESS_KEY_ID": "testing",
                    "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
                    "RELPREDICT_CONNECT_TIMEOUT": "2", "RELPREDICT_READ_TIMEOUT": "5",
                    "RELPREDICT_NET_ATTEMPTS": "3"}

    def _start(self, dest: Destination, run: int) -> subprocess.Popen[bytes]:
        cmd = [RELPREDICT, "job", "run", "wf", "--anchor-time", ANCHOR, "--workers", "2",
               "--shard-size", str(SHARD), "--output", dest.output(run)]
        if dest.connector and dest.name.startswith("s3"):
            cmd += ["--connector", dest.connector]
        log = open(self.scratch / f"{dest.name}-{run}.log", "ab")  # noqa: SIM115 - closed by _finish
        proc = subprocess.Popen(cmd, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        proc.log = log  # type: ignore[attr-defined]
        return proc

    def _finish(self, proc: subprocess.Popen[bytes], seconds: float = JOB_SECONDS) -> int:
        try:
            code = proc.wait(seconds)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            code = proc.wait()
        proc.log.close()  # type: ignore[attr-defined]
        return code

    def _job_id(self, before: set[str]) -> str | None:
        new = [r.id for r in job_store.list_jobs(self.ws) if r.id not in before]
        return new[0] if new else None

    def _resume(self, job_id: str, tally: Tally, dest: Destination) -> bool:
        for _ in range(4):
            rec = job_store.get_job(self.ws, job_id)
            if rec.status.value.startswith("succeeded"):
                return True
            done = subprocess.run([RELPREDICT, "job", "resume", job_id], env=self.env, capture_output=True,
                                  text=True, timeout=JOB_SECONDS)
            if done.returncode == 0:
                return True
            tally.notes.append(f"{dest.name}: resume of {job_id} exited {done.returncode}: "
                               f"{' '.join(done.stdout.split())[-200:]}")
        return False

    def clean(self, dest: Destination, tally: Tally) -> tuple[dict[Any, float], float]:
        before = {r.id for r in job_store.list_jobs(self.ws)}
        start = time.monotonic()
        code = self._finish(self._start(dest, 0))
        seconds = time.monotonic() - start
        job_id = self._job_id(before)
        if code != 0 or job_id is None:
            raise RuntimeError(f"the clean {dest.name} run failed (exit {code}); see {self.scratch}")
        table, mixed = dest.read(job_id, dest.output(0))
        tally.mixed += mixed
        return dict(zip(table.column("ENTITY").to_pylist(), table.column(VALUE).to_pylist())), seconds

    def killed_run(self, dest: Destination, run: int, reference: dict[Any, float], seconds: float,
                   tally: Tally) -> bool:
        """One run killed at a random moment; False when it ended before the kill came."""
        before = {r.id for r in job_store.list_jobs(self.ws)}
        target = self.rng.choice(["runner", "worker"])
        delay = self.rng.uniform(0.3, seconds * 1.05)
        proc = self._start(dest, run)
        time.sleep(delay)
        job_id = self._job_id(before)
        if proc.poll() is not None or job_id is None:  # it ended before the kill: no kill landed
            self._finish(proc)
            if job_id is not None:
                self._verify(dest, job_id, run, reference, tally)
            return False
        killed = self._kill(proc, job_id, target)
        self._finish(proc)
        if killed is None:
            return False
        tally.kills[killed] += 1
        if self._resume(job_id, tally, dest) and self._verify(dest, job_id, run, reference, tally):
            tally.survived += 1
        return True

    def _kill(self, proc: subprocess.Popen[bytes], job_id: str, target: str) -> str | None:
        if target == "worker":
            pids = [w.pid for w in job_store.workers(self.ws, job_id) if w.pid and _alive(w.pid)]
            if pids:
                try:
                    os.kill(self.rng.choice(pids), signal.SIGKILL)
                    return "worker"
                except ProcessLookupError:
                    pass
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # the runner and its workers
        except ProcessLookupError:
            return None
        return "runner"

    def outage(self, dest: Destination, run: int, reference: dict[Any, float], tally: Tally) -> int:
        """Stop the destination's server while the job uses it (S3: while workers stage shards;
        tables: while publishing); the job must fail by itself; restart the server, resume.
        Returns the next run number."""
        assert dest.server is not None
        stage = "predicting" if dest.name.startswith("s3") else "writing"
        for _ in range(3):  # a job that ends before the server stops is tried again
            before = {r.id for r in job_store.list_jobs(self.ws)}
            proc = self._start(dest, run)
            job_id = self._await(proc, before, stage)
            if job_id is None:
                self._finish(proc)
                run += 1
                continue
            time.sleep(self.rng.uniform(0.0, 0.3))
            dest.server.stop()
            stopped = time.monotonic()
            code = self._finish(proc, 240)
            failed_after = time.monotonic() - stopped
            dest.server.start()
            status = job_store.get_job(self.ws, job_id).status.value
            ok = self._resume(job_id, tally, dest) and self._verify(dest, job_id, run, reference, tally)
            ended = f"failed in {failed_after:.0f} s" if code != 0 else "finished anyway"
            tally.outage = f"stopped while {stage}: {ended} ({status}), resumed {'ok' if ok else 'NOT ok'}"
            return run + 1
        tally.outage = f"never caught the job while {stage}"
        return run

    def _await(self, proc: subprocess.Popen[bytes], before: set[str], stage: str) -> str | None:
        """The new job's id once it runs ``stage`` (predicting: with a shard done); None if it
        ended first."""
        while proc.poll() is None:
            job_id = self._job_id(before)
            if job_id is not None:
                rec = job_store.get_job(self.ws, job_id)
                shards = job_store.entities_done(self.ws, job_id)[1]
                if rec.status.value == "running" and rec.stage.value == stage and (
                        stage != "predicting" or shards >= 1):
                    return job_id
            time.sleep(0.05)
        return None

    def _verify(self, dest: Destination, job_id: str, run: int, reference: dict[Any, float],
                tally: Tally) -> bool:
        tally.runs += 1
        try:
            table, mixed = dest.read(job_id, dest.output(run))
        except Exception as err:  # nothing readable: every row is lost
            tally.notes.append(f"{dest.name} run {run}: output unreadable ({type(err).__name__}: {err})")
            tally.lost += len(reference)
            return False
        keys = table.column("ENTITY").to_pylist() if table.num_rows else []
        values = table.column(VALUE).to_pylist() if table.num_rows else []
        counts = Counter(keys)
        lost = len(set(reference) - set(counts))
        doubled = sum(n - 1 for n in counts.values() if n > 1)
        differing = sum(1 for k, v in zip(keys, values) if k in reference and abs(v - reference[k]) > 1e-9)
        tally.lost, tally.doubled, tally.differing = tally.lost + lost, tally.doubled + doubled, tally.differing + differing
        tally.mixed += mixed
        return not (lost or doubled or differing or mixed)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except OSError:
        return False


# ----------------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default="local,s3,s3-parts,snowflake,bigquery")
    parser.add_argument("--kills", type=int, default=5, help="kills that land, per destination")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--delay", type=float, default=0.3, help="seconds per shard of the model double")
    parser.add_argument("--scratch", type=Path, default=None)
    args = parser.parse_args(argv)
    scratch = args.scratch or Path(tempfile.mkdtemp(prefix="relpredict-chaos-"))
    chaos = Chaos(scratch, args.seed, args.delay)
    wanted = args.only.split(",")
    servers: list[Server] = []
    results: dict[str, Tally] = {}
    try:
        for dest in _destinations(chaos, scratch, wanted, servers):
            results[dest.name] = tally = Tally()
            start = time.monotonic()
            reference, seconds = chaos.clean(dest, tally)
            run, landed = 1, 0
            while landed < args.kills and run <= 4 * args.kills:
                landed += chaos.killed_run(dest, run, reference, seconds, tally)
                run += 1
            if dest.server is not None:
                run = chaos.outage(dest, run, reference, tally)
            print(f"{dest.name}: done in {time.monotonic() - start:.0f} s", file=sys.stderr, flush=True)
    finally:
        for server in servers:
            server.stop()
    _print(results)
    for tally in results.values():
        for note in tally.notes:
            print("note:", note)
    bad = any(t.lost or t.doubled or t.differing or t.mixed or t.survived < sum(t.kills.values())
              for t in results.values())
    return 1 if bad else 0


def _destinations(chaos: Chaos, scratch: Path, wanted: list[str], servers: list[Server]) -> list[Destination]:
    out = []
    if "local" in wanted:
        out.append(local_destination(scratch))
    if {"s3", "s3-parts"} & set(wanted):
        moto, endpoint = moto_server(scratch)
        moto.start()
        servers.append(moto)
        add_connector(chaos.ws, Connector("lake", "s3", {"endpoint_url": endpoint}))
        if "s3" in wanted:
            out.append(s3_destination("s3", "single", "p.parquet", endpoint, moto))
        if "s3-parts" in wanted:
            out.append(s3_destination("s3-parts", "parts", "{{PARTITION}}.parquet", endpoint, moto))
    if "snowflake" in wanted:
        server, snow = fakesnow_server(scratch)
        server.start()
        servers.append(server)
        add_connector(chaos.ws, Connector("wh", "snowflake", snow["settings"], {"password": "env:SF_PASSWORD"}))
        chaos.env["SF_PASSWORD"] = "unused"
        out.append(snowflake_destination(chaos.ws, snow, server))
    if "bigquery" in wanted:
        server, bq = bigquery_server(scratch)
        server.start()
        servers.append(server)
        add_connector(chaos.ws, Connector("bq", "bigquery", {"project": bq["project"], "dataset": "chaos",
                                                             "api_endpoint": bq["endpoint"]}))
        out.append(bigquery_destination(bq, server))
    return out


def _print(results: dict[str, Tally]) -> None:
    head = (f"{'destination':<11} {'runs':>4} {'kills (runner/worker)':>22} {'survived':>8} {'lost':>5} "
            f"{'doubled':>7} {'differing':>9} {'mixed':>5}  server stopped mid-job")
    print(head)
    print("-" * len(head))
    for name, t in results.items():
        kills = f"{sum(t.kills.values())} ({t.kills['runner']}/{t.kills['worker']})"
        print(f"{name:<11} {t.runs:>4} {kills:>22} {t.survived:>8} {t.lost:>5} {t.doubled:>7} "
              f"{t.differing:>9} {t.mixed:>5}  {t.outage}")


if __name__ == "__main__":
    sys.exit(main())
