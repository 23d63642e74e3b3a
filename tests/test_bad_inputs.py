"""A catalogue of bad inputs through the CLI and the REST API (issue 14).

Every case must: exit non-zero (CLI) or answer 4xx (REST); say what was wrong (each case names a
piece of the expected message); print no traceback; start no job; write no file outside its
destination (the test's folder, the workspace and the graph's data are compared before and after).

The CLI runs in this process through ``relpredict.cli.main.main`` (what the console script runs,
with its error handling) and the REST API through FastAPI's TestClient on 127.0.0.1; jobs load the
model test double (``tests/jobs/fixture_model.py``), so nothing here trains or scores.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
from fastapi.testclient import TestClient

from relpredict.api import create_app
from relpredict.connectors import Connector, add_connector
from relpredict.jobs import JobStatus, RawSettings, create_job
from relpredict.jobs import store as job_store
from relpredict.jobs.control import finish
from relpredict.workspace import Workspace
from tests.cli_helpers import run_cli
from tests.conftest import Store
from tests.jobs.fixture_model import LOADER

BASE = "http://127.0.0.1:8000"
APRIL = "2024-04-15"
ORS = " OR ".join(f"customers.customer_id = {i}" for i in range(10_001))
DEEP = "(" * 101 + "customers.age > 1" + ")" * 101
NOTS = "NOT " * 101 + "customers.age > 1"
IGNORED = ("metadata.db", "metadata.db-wal", "metadata.db-shm", "leases.lock")


@pytest.fixture(autouse=True)
def _loader_seam(model_loader_seam: None) -> None:
    """Jobs load the test double."""


@pytest.fixture(scope="module")
def env(graph_yaml: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A workspace with workflow ``wf`` (binary), a failed job, a running job (its runner: this
    process) holding ``held.parquet``, odd graph files, and the paths the cases name.

    Shared by every case (set up once): each case asserts it changed no file and recorded no job,
    so a case that did would fail itself rather than the next one."""
    tmp_path = tmp_path_factory.mktemp("bad_inputs")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RELPREDICT_MODEL_LOADER", LOADER)
        patch.setenv("RP_DEAD_KEY", "AKIADEADDEAD")  # the keys of the connector to a closed port
        patch.setenv("RP_DEAD_SECRET", "dead-secret-never-echoed")
        store = Store(Workspace.open(tmp_path / "ws"), graph_yaml, tmp_path / "out")
        yield from _setup(store, tmp_path)


def _setup(store: Store, tmp_path: Path) -> Iterator[dict[str, Any]]:
    store.workflow("binary", "wf")
    out = tmp_path / "out"
    out.mkdir()
    (out / "mine.parquet").write_bytes(b"someone else's file")
    (out / "folder.parquet").mkdir()
    (out / "plain").write_text("a file, not a folder")
    failed, _ = create_job("wf", RawSettings(anchor_time=APRIL, output=str(out / "f.parquet")), store.ws)
    finish(store.ws, failed.id, JobStatus.FAILED, error="Worker 0 failed: boom.")
    running, _ = create_job("wf", RawSettings(anchor_time=APRIL, output=str(out / "held.parquet")), store.ws)
    me = psutil.Process()  # its runner is alive (this process): it holds held.parquet, can't resume
    job_store.update_job(store.ws, running.id, JobStatus.RUNNING, runner_pid=me.pid,
                         runner_started=me.create_time())
    data = store.graph_yaml.parent
    graphs = tmp_path / "graphs"
    graphs.mkdir()
    for name in ("customers", "products", "transactions"):
        os.symlink(data / f"{name}.parquet", graphs / f"{name}.parquet")
    (graphs / "header.csv").write_text("a,b\n")
    (graphs / "empty.csv").write_text("")
    yamls = {
        "dup": "name: d\ntables:\n  customers: {file: customers.parquet}\n  customers: {file: products.parquet}\n",
        "sql": "name: d\ntables:\n  customers:\n    file: customers.parquet\n    sql: \"SELECT * FROM source; "
               f"COPY (SELECT 1) TO '{tmp_path / 'pwned.csv'}'\"\n",
        "attach": "name: d\ntables:\n  c:\n    file: customers.parquet\n    sql: \"ATTACH 'x.db'\"\n",
        "header": "name: d\ntables:\n  h: {file: header.csv}\n",
        "empty": "name: d\ntables:\n  h: {file: empty.csv}\n",
        "notyaml": "name: [unclosed\n",
        "notables": "name: d\n",
    }
    for name, text in yamls.items():
        (graphs / f"{name}.yaml").write_text(text)
    os.symlink(tmp_path.parent, tmp_path / "escape")  # a symlink out of the allowed roots
    zero = tmp_path / "zero"
    zero.mkdir()
    (zero / "metadata.db").write_bytes(b"")
    _broken_models(store)
    add_connector(store.ws, Connector("dead", "s3", {"endpoint_url": f"http://127.0.0.1:{_closed_port()}"},
                                      {"aws_access_key_id": "env:RP_DEAD_KEY",
                                       "aws_secret_access_key": "env:RP_DEAD_SECRET"}))
    yield {"home": str(store.ws.home), "graph": str(store.graph_yaml), "data": str(data), "out": str(out),
           "tmp": str(tmp_path), "graphs": str(graphs), "failed": failed.id, "running": running.id,
           "zero": str(zero), "store": store}


BROKEN = {"empty-list": "[]", "cut": '{"format": 1, "name": "cut", "ver', "no-codec": '{"format": 1}',
          "bad-platt": None}


def _broken_models(store: Store) -> None:
    """Model versions whose artifact is damaged, recorded as training records them."""
    for name, text in BROKEN.items():
        folder = store.ws.artifacts / "models" / name / "v1"
        folder.mkdir(parents=True)
        if text is None:  # a whole document but for its calibration
            text = json.dumps({"format": 1, "name": name, "version": 1, "platt": {"a": "x", "b": 0}})
        (folder / "model.json").write_text(text)
        with store.ws.db() as con:
            con.execute("INSERT INTO models VALUES (?, 1, 'lightgbm', 'q', 'binary_classification', ?, '{}', "
                        "'2024-01-01T00:00:00Z')", (name, f"models/{name}/v1"))


def _closed_port() -> int:
    """A port of 127.0.0.1 nobody listens on (bound, then closed): connections are refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _snapshot(*folders: str) -> dict[str, tuple[int, float]]:
    seen = {}
    for folder in folders:
        for root, _, files in os.walk(folder):
            for name in files:
                if name in IGNORED:
                    continue
                path = os.path.join(root, name)
                stat = os.lstat(path)
                seen[path] = (stat.st_size, stat.st_mtime)
    return seen


def _jobs(store: Store) -> int:
    return len(job_store.list_jobs(store.ws))


def _fill(value: str, env: dict[str, Any]) -> str:
    for key in ("home", "graph", "data", "out", "tmp", "graphs", "failed", "running", "zero"):
        value = value.replace("{" + key + "}", env[key])
    return value


_cli = run_cli


H = ["--home", "{home}"]
G = ["--graph", "{graph}"]
RUN = ["job", "run", "wf", "--anchor-time", APRIL, *H]
Q = "PREDICT COUNT(transactions.*, 0, 30, days) > 0 FOR EACH customers.customer_id"
QW = Q + " WHERE "

CLI_CASES: list[tuple[str, list[str], str]] = [
    # --- queries: long, deep, huge, wrong
    ("10001 OR-ed conditions", ["query", "check", QW + ORS, *G], "more than 10,000 conditions"),
    ("101 nested parentheses", ["query", "check", QW + DEEP, *G], "nests more than 100 levels"),
    ("101 nested NOTs", ["query", "check", QW + NOTS, *G], "nests more than 100 levels"),
    ("huge window", ["query", "check", "PREDICT COUNT(transactions.*, 0, 99999999999999, days) > 0 "
                     "FOR EACH customers.customer_id", *G], "100 years"),
    ("window of 1201 months", ["query", "check", "PREDICT COUNT(transactions.*, 0, 1201, months) > 0 "
                               "FOR EACH customers.customer_id", *G], "100 years"),
    ("window start far back", ["query", "check", QW + "COUNT(transactions.*, -99999999, 0, days) > 0", *G],
     "100 years"),
    ("1e999 threshold", ["query", "check", "PREDICT SUM(transactions.price, 0, 30, days) > 1e999 "
                         "FOR EACH customers.customer_id", *G], "1e999 is too large"),
    ("1e999 in WHERE", ["query", "check", QW + "customers.age > 1e999", *G], "too large"),
    ("41-digit number", ["query", "check", QW + "customers.age > " + "9" * 41, *G], "too large"),
    ("'yesterday' vs a time", ["query", "check", QW + "customers.created_at > 'yesterday'", *G],
     "not a date or time"),
    ("'now' vs a time", ["query", "check", QW + "customers.created_at < 'now'", *G], "not a date or time"),
    ("month 13", ["query", "check", QW + "customers.created_at > '2024-13-01'", *G], "not a date or time"),
    ("RANK TOP 1001", ["query", "check", "PREDICT LIST_DISTINCT(transactions.product_id, 0, 30, days) "
                       "RANK TOP 1001 FOR EACH customers.customer_id", *G], "beyond 1,000"),
    ("unknown column", ["query", "check", QW + "customers.agee > 1", *G], "Unknown column"),
    ("unknown table", ["query", "check", QW + "clients.age > 1", *G], "clients"),
    ("PREDICT alone", ["query", "check", "PREDICT", *G], "Expecting"),
    ("empty query", ["query", "check", "", *G], "Empty query"),
    ("text after the query", ["query", "check", Q + " LIMIT 5", *G], "Unexpected text"),
    ("number compared with text", ["query", "check", QW + "customers.status > 3", *G], "compares"),
    ("window start after its end", ["query", "check", "PREDICT COUNT(transactions.*, 30, 0, days) > 0 "
                                    "FOR EACH customers.customer_id", *G], "start must be before its end"),
    ("unknown time unit", ["query", "check", "PREDICT COUNT(transactions.*, 0, 30, years) > 0 "
                           "FOR EACH customers.customer_id", *G], "Unknown time unit 'years'"),
    ("entity not a primary key", ["query", "check", "PREDICT COUNT(transactions.*, 0, 30, days) > 0 "
                                  "FOR EACH customers.age", *G], "primary key"),
    # --- graphs
    ("infer a missing folder", ["graph", "infer", "{tmp}/nofolder", "--out", "{tmp}/g.yaml"], "is not a folder"),
    ("missing graph file", ["query", "check", Q, "--graph", "{tmp}/nope.yaml"], "does not exist"),
    ("graph not YAML", ["graph", "inspect", "{graphs}/notyaml.yaml"], "not valid YAML"),
    ("graph without tables", ["graph", "inspect", "{graphs}/notables.yaml"], "tables"),
    ("table defined twice", ["graph", "inspect", "{graphs}/dup.yaml"], "'customers' is given twice"),
    ("sql with a COPY", ["graph", "inspect", "{graphs}/sql.yaml"], "exactly one SELECT"),
    ("sql that ATTACHes", ["graph", "inspect", "{graphs}/attach.yaml"], "exactly one SELECT"),
    ("header-only CSV", ["graph", "inspect", "{graphs}/header.yaml"], "only a header line"),
    ("empty CSV", ["graph", "inspect", "{graphs}/empty.yaml"], "is empty"),
    ("missing data folder", ["graph", "inspect", "{graph}", "--data", "{tmp}/nodata"], "does not exist"),
    # --- label tables
    ("--max-eval 0", ["query", "labels", Q, *G, "--max-eval", "0", "--out", "{tmp}/l.parquet"],
     "--max-eval) must be at least 1"),
    ("--max-eval -3", ["query", "labels", Q, *G, "--max-eval", "-3", "--out", "{tmp}/l.parquet"],
     "at least 1"),
    ("test before validation", ["query", "labels", Q, *G, "--val-start", "2024-05-01", "--test-start",
                                "2024-03-01", "--out", "{tmp}/l.parquet"], "is not before the test start"),
    ("test start after the data", ["query", "labels", Q, *G, "--test-start", "2030-01-01", "--out",
                                   "{tmp}/l.parquet"], "after the last fully observed target window"),
    ("validation start 9999-12-31", ["query", "labels", Q, *G, "--val-start", "9999-12-31", "--out",
                                     "{tmp}/l.parquet"], "after the last fully observed"),
    ("validation start before the data", ["query", "labels", Q, *G, "--val-start", "1900-01-01", "--out",
                                          "{tmp}/l.parquet"], "not after the data start"),
    ("validation window past the test start", ["query", "labels", Q, *G, "--val-start", "2024-04-20",
                                               "--test-start", "2024-04-25", "--out", "{tmp}/l.parquet"],
     "No validation anchor fits"),
    ("--val-start yesterday", ["query", "labels", Q, *G, "--val-start", "yesterday", "--out",
                               "{tmp}/l.parquet"], "not an ISO 8601"),
    ("labels onto a graph input", ["query", "labels", Q, *G, "--out", "{data}/transactions.parquet"],
     "data the graph reads"),
    ("labels onto a folder", ["query", "labels", Q, *G, "--out", "{out}"], "is an existing folder"),
    ("labels under a file", ["query", "labels", Q, *G, "--out", "{out}/plain/l.parquet"], "is a file, not a folder"),
    ("labels name with a newline", ["query", "labels", Q, *G, "--out", "{tmp}/l\n.parquet"], "control character"),
    # --- demo data, serve, workspace
    ("demo-data onto a file", ["demo-data", "{out}/mine.parquet", "--customers", "10"], "is an existing file"),
    ("demo-data under a file", ["demo-data", "{out}/plain/demo", "--customers", "10"], "is a file, not a folder"),
    ("demo-data with 5 customers", ["demo-data", "{tmp}/demo", "--customers", "5"], "at least 10"),
    ("serve --port 99999", ["serve", "--port", "99999", *H], "--port"),
    ("serve --port 0", ["serve", "--port", "0", *H], "--port"),
    ("serve 0.0.0.0 without a token", ["serve", "--host", "0.0.0.0", *H], "access token"),
    ("serve with a short token", ["serve", "--host", "0.0.0.0", "--token", "abc123", *H], "at least 16"),
    ("serve --output-root missing", ["serve", "--output-root", "{tmp}/nope", *H], "does not exist"),
    ("serve --output-root a file", ["serve", "--output-root", "{out}/plain", *H], "is a file"),
    ("0-byte metadata.db", ["workflow", "list", "--home", "{zero}"], "empty (0 bytes)"),
    # --- connectors
    ("credentials in a URL setting", ["connector", "add", "m", "--kind", "s3", "--set",
                                      "endpoint_url=http://KEY:SECRET@127.0.0.1:9000", *H], "--secret"),
    ("unknown connector kind", ["connector", "add", "m", "--kind", "ftp", *H], "Unknown connector kind"),
    ("unknown connector setting", ["connector", "add", "m", "--kind", "s3", "--set", "endpoint=x", *H],
     "has no setting"),
    ("plain secret value", ["connector", "add", "m", "--kind", "s3", "--secret",
                            "aws_secret_access_key=hunter2", *H], "env:"),
    ("test an unknown connector", ["connector", "test", "nope", *H], "No connector named"),
    ("test a connector whose server is down", ["connector", "test", "dead", *H], "did not answer"),
    ("user name inside a URL setting", ["connector", "add", "m", "--kind", "s3", "--set",
                                        "endpoint_url=https://KEY@minio.example", *H], "credentials"),
    ("connector missing a setting", ["connector", "add", "b", "--kind", "bigquery", *H], "needs the setting"),
    # --- workflows
    ("workflow with a bad name", ["workflow", "create", "a b", "--model", "m-wf", *H], "name"),
    ("workflow of an unknown model", ["workflow", "create", "w2", "--model", "nope", *H], "nope"),
    ("workflow name taken", ["workflow", "create", "wf", "--model", "m-wf", *H], "already"),
    # --- job settings
    ("unknown workflow", ["job", "run", "nope", *H], "nope"),
    ("anchor 'yesterday'", ["job", "run", "wf", "--anchor-time", "yesterday", *H], "not an ISO 8601"),
    ("anchor 9999-12-31", ["job", "run", "wf", "--anchor-time", "9999-12-31", *H], "too far in the future"),
    ("anchor before the data", ["job", "run", "wf", "--anchor-time", "1900-01-01", *H], "before the data starts"),
    ("threshold 2", [*RUN, "--threshold", "2"], "between 0 and 1"),
    ("threshold nan", [*RUN, "--threshold", "nan"], "between 0 and 1"),
    ("classes on a binary task", [*RUN, "--num-classes", "3"], "does not apply"),
    ("top k on a binary task", [*RUN, "--top-k", "5"], "does not apply"),
    ("output types with an empty entry", [*RUN, "--output-types", "predictions,,predictions"], "empty entry"),
    ("output type twice", [*RUN, "--output-types", "predictions,predictions"], "given twice"),
    ("unknown output type", [*RUN, "--output-types", "scores"], "Unknown output type"),
    ("no output type", [*RUN, "--output-types", ","], "No output type"),
    ("0 workers", [*RUN, "--workers", "0"], "1 to 4"),
    ("9 workers", [*RUN, "--workers", "9"], "1 to 4"),
    ("shard size 0", [*RUN, "--shard-size", "0"], "shard size"),
    ("max errors -1", [*RUN, "--max-errors", "-1"], "--max-errors"),
    ("max errors not a number", [*RUN, "--max-errors", "some"], "Invalid value for '--max-errors'"),
    # --- damaged model artifacts
    ("model.json holding []", ["models", "show", "empty-list", *H], "model.json of model empty-list@1 is damaged"),
    ("model.json cut short", ["models", "show", "cut", *H], "is unreadable"),
    ("model.json missing a section", ["models", "show", "no-codec", *H], "Retrain the model"),
    ("a bad calibration", ["models", "show", "bad-platt", *H], "Retrain the model"),
    ("sample cap 0", [*RUN, "--sample-cap-mb", "0"], "sample cap"),
    ("partition size 0", [*RUN, "--output", "{out}/{{PARTITION}}.parquet", "--partition-size-mb", "0"],
     "partition size"),
    ("file type xlsx", [*RUN, "--output", "{out}/p", "--file-type", "xlsx"], "Unknown file type"),
    ("unknown extension", [*RUN, "--output", "{out}/p.txt"], "Cannot tell the file type"),
    ("extension contradicts file type", [*RUN, "--output", "{out}/p.csv", "--file-type", "parquet"],
     "does not match"),
    ("PARTITION inside a name", [*RUN, "--output", "{out}/x{{PARTITION}}.parquet"], "whole file name"),
    ("other placeholder", [*RUN, "--output", "{out}/{{DATE}}.parquet"], "placeholder"),
    ("gs:// destination", [*RUN, "--output", "gs://b/p.parquet"], "not supported yet"),
    ("ftp:// destination", [*RUN, "--output", "ftp://h/p.parquet"], "Unknown destination scheme"),
    ("S3 without a key", [*RUN, "--output", "s3://bucket"], "needs a bucket and an object name"),
    ("S3 empty folder name", [*RUN, "--output", "s3://bucket/a//p.parquet"], "empty folder name"),
    ("S3 parts without a folder", [*RUN, "--output", "s3://bucket/{{PARTITION}}.parquet"], "needs a folder"),
    ("a file type on a table", [*RUN, "--output", "snowflake://wh/T", "--file-type", "csv"], "does not apply"),
    ("Snowflake without a table", [*RUN, "--output", "snowflake://wh"], "needs a connector and a table"),
    ("SQL in a table name", [*RUN, "--output", "snowflake://wh/x; DROP TABLE y"], "is not allowed"),
    ("BigQuery partition decorator", [*RUN, "--output", "bigquery://bq/t$1"], "partition decorator"),
    ("missing connector", [*RUN, "--output", "snowflake://nope/T"], "No connector named"),
    ("connector on a local output", [*RUN, "--output", "{out}/p.parquet", "--connector", "x"], "connector"),
    ("NUL in the output", [*RUN, "--output", "{out}/p\x00.parquet"], "control character"),
    ("output onto a graph input", [*RUN, "--output", "{data}/transactions.parquet"], "which the model's graph reads"),
    ("... even with --overwrite", [*RUN, "--output", "{data}/transactions.parquet", "--overwrite"],
     "which the model's graph reads"),
    ("parts into the data folder", [*RUN, "--output", "{data}/{{PARTITION}}.parquet", "--overwrite"],
     "graph reads"),
    ("a stranger's file", [*RUN, "--output", "{out}/mine.parquet"], "--overwrite"),
    ("a stranger's file, dry run", [*RUN, "--output", "{out}/mine.parquet", "--dry-run"], "--overwrite"),
    ("an existing folder as the file", [*RUN, "--output", "{out}/folder.parquet"], "is an existing folder"),
    ("... in a dry run", [*RUN, "--output", "{out}/folder.parquet", "--dry-run"], "is an existing folder"),
    ("a file in the way", [*RUN, "--output", "{out}/plain/p.parquet"], "is a file, not a folder"),
    ("... in a dry run", [*RUN, "--output", "{out}/plain/p.parquet", "--dry-run"], "is a file, not a folder"),
    ("inside the workspace", [*RUN, "--output", "{home}/artifacts/p.parquet"], "inside the workspace"),
    ("a destination another job writes", [*RUN, "--output", "{out}/held.parquet"], "is writing"),
    ("... in a dry run", [*RUN, "--output", "{out}/held.parquet", "--dry-run"], "is writing"),
    ("filter syntax error", [*RUN, "--filter", "customers.age >"], "Expecting"),
    ("filter unknown column", [*RUN, "--filter", "customers.agee > 1"], "Unknown column"),
    ("filter of 10001 conditions", [*RUN, "--filter", ORS], "more than 10,000 conditions"),
    ("filter nested 101 deep", [*RUN, "--filter", DEEP], "nests more than 100"),
    ("filter 'yesterday'", [*RUN, "--filter", "customers.created_at > 'yesterday'"], "not a date or time"),
    ("filter 1e999", [*RUN, "--filter", "customers.age < 1e999"], "too large"),
    # --- job control
    ("status of an unknown job", ["job", "status", "j20990101000000abcdef", *H], "No job"),
    ("jobs of an unknown workflow", ["job", "list", "--workflow", "nope", *H], "No workflow named 'nope'"),
    ("dry run of an unknown workflow", ["job", "run", "nope", "--dry-run", *H], "nope"),
    ("watch a failed job", ["job", "watch", "{failed}", *H], "failed"),
    ("resume a running job", ["job", "resume", "{running}", *H], "{running}"),
    ("cancel a failed job", ["job", "cancel", "{failed}", *H], "nothing to cancel"),
    ("summary of a failed job", ["job", "summary", "{failed}", *H], "has no result"),
    ("download an unknown job", ["job", "download", "nope", "--out", "{tmp}/s.csv", *H], "No job"),
    ("download without a sample", ["job", "download", "{failed}", "--out", "{tmp}/s.csv", *H], "no sample"),
    ("download onto a folder", ["job", "download", "{failed}", "--out", "{out}", *H], "is an existing folder"),
    ("download under a file", ["job", "download", "{failed}", "--out", "{out}/plain/s.csv", *H],
     "is a file, not a folder"),
    ("download the other output", ["job", "download", "{failed}", "--output", "embeddings", "--out",
                                   "{tmp}/s.csv", *H], "no embeddings output"),
]


@pytest.mark.parametrize(("args", "expected"), [(a, e) for _, a, e in CLI_CASES],
                         ids=[name for name, _, _ in CLI_CASES])
def test_cli_refuses(env: dict[str, Any], capsys: pytest.CaptureFixture[str], args: list[str],
                     expected: str) -> None:
    store: Store = env["store"]
    jobs = _jobs(store)
    folders = (env["tmp"], env["data"])
    before = _snapshot(*folders)
    code, text = _cli([_fill(a, env) for a in args], capsys)
    assert code != 0, text
    assert _fill(expected, env) in text, text
    assert "Traceback" not in text and 'File "' not in text, text
    assert "KEY:SECRET" not in text and "hunter2" not in text  # secrets never echoed
    assert _jobs(store) == jobs
    assert _snapshot(*folders) == before
    assert not (Path(env["tmp"]) / "pwned.csv").exists()


# ----------------------------------------------------------------------------------- REST
J = "j20990101000000abcdef"


def _job_body(**more: Any) -> dict[str, Any]:
    return {"anchor_time": APRIL, **more}


REST_CASES: list[tuple[str, str, str, dict[str, Any], int, str]] = [
    # --- the guard
    ("foreign Host", "get", "/api/workflows", {"headers": {"Host": "evil.example"}}, 421, "does not answer"),
    ("foreign Host on a page", "get", "/workflows", {"headers": {"Host": "rebind.example"}}, 421, "does not answer"),
    ("foreign Origin", "post", "/api/workflows/wf/jobs",
     {"json": _job_body(), "headers": {"Origin": "http://evil.example"}}, 403, "not from this server"),
    ("Origin null", "post", f"/api/jobs/{J}/cancel", {"json": {}, "headers": {"Origin": "null"}}, 403, "'null'"),
    ("cross-site text/plain cancel", "post", f"/api/jobs/{J}/cancel",
     {"content": b"x", "headers": {"Content-Type": "text/plain"}}, 403, "Content-Type: application/json"),
    ("body-less resume", "post", f"/api/jobs/{J}/resume", {}, 403, "neither an Origin nor a Referer"),
    ("form post", "post", "/api/workflows", {"data": {"name": "x", "model": "m-binary"}}, 403, "Referer"),
    ("foreign Referer", "post", f"/api/jobs/{J}/cancel",
     {"headers": {"Referer": "http://evil.example/x"}}, 403, "evil.example"),
    ("other port Origin", "post", "/api/workflows", {"json": {"name": "x", "model": "m-binary"},
                                                     "headers": {"Origin": "http://127.0.0.1:9999"}},
     403, "127.0.0.1:9999"),
    # --- body shapes
    ("unknown top-level field", "post", "/api/workflows/wf/check", {"json": _job_body(wrokers=2)}, 422,
     "Unknown field 'wrokers'"),
    ("unknown destination field", "post", "/api/workflows/wf/check",
     {"json": _job_body(destination={"pth": "x.parquet"})}, 422, "'destination.pth'"),
    ("unknown workflow field", "post", "/api/workflows", {"json": {"name": "w", "model": "m", "x": 1}}, 422,
     "Unknown field 'x'"),
    ("invalid JSON", "post", "/api/workflows/wf/check",
     {"content": b"{nope", "headers": {"Content-Type": "application/json"}}, 422, "not valid JSON"),
    ("workers as text", "post", "/api/workflows/wf/check", {"json": _job_body(workers="two")}, 422, "two"),
    ("workflow without a model", "post", "/api/workflows", {"json": {"name": "w"}}, 422, "model"),
    ("unknown destination kind", "post", "/api/workflows/wf/check",
     {"json": _job_body(destination={"kind": "ftp"})}, 422, "ftp"),
    # --- settings
    ("0 workers", "post", "/api/workflows/wf/check", {"json": _job_body(workers=0)}, 422, "1 to 4"),
    ("threshold 5", "post", "/api/workflows/wf/check", {"json": _job_body(threshold=5)}, 422, "between 0 and 1"),
    ("doubled output types", "post", "/api/workflows/wf/check",
     {"json": _job_body(output_types=["predictions", "predictions"])}, 422, "given twice"),
    ("empty output type", "post", "/api/workflows/wf/check",
     {"json": _job_body(output_types=["predictions", ""])}, 422, "empty entry"),
    ("unknown output type", "post", "/api/workflows/wf/check", {"json": _job_body(output_types=["scores"])},
     422, "Unknown output type"),
    ("top k on binary", "post", "/api/workflows/wf/check", {"json": _job_body(top_k=3)}, 422, "does not apply"),
    ("classes on binary", "post", "/api/workflows/wf/check", {"json": _job_body(num_classes=2)}, 422,
     "does not apply"),
    ("anchor yesterday", "post", "/api/workflows/wf/check", {"json": _job_body(anchor_time="yesterday")},
     422, "not an ISO 8601"),
    ("anchor 9999-12-31", "post", "/api/workflows/wf/jobs", {"json": _job_body(anchor_time="9999-12-31")},
     422, "too far in the future"),
    ("filter 10001 conditions", "post", "/api/workflows/wf/check", {"json": _job_body(entity_filter=ORS)},
     422, "more than 10,000"),
    ("filter nested 101 deep", "post", "/api/workflows/wf/jobs", {"json": _job_body(entity_filter=DEEP)},
     422, "nests more than 100"),
    ("filter yesterday", "post", "/api/workflows/wf/check",
     {"json": _job_body(entity_filter="customers.created_at > 'yesterday'")}, 422, "not a date or time"),
    ("shard size 0", "post", "/api/workflows/wf/check", {"json": _job_body(shard_size=0)}, 422, "shard size"),
    # --- destinations
    ("local kind with an s3 path", "post", "/api/workflows/wf/check",
     {"json": _job_body(destination={"kind": "local", "path": "s3://b/p.parquet"})}, 422, "fits the URL"),
    ("s3 kind with a bigquery path", "post", "/api/workflows/wf/check",
     {"json": _job_body(destination={"kind": "s3", "path": "bigquery://bq/t"})}, 422, "an s3:// URL"),
    ("snowflake kind with a path", "post", "/api/workflows/wf/check",
     {"json": _job_body(destination={"kind": "snowflake", "path": "s3://b/k.csv"})}, 422, "not a path"),
    ("bigquery without connector and table", "post", "/api/workflows/wf/check",
     {"json": _job_body(destination={"kind": "bigquery"})}, 422, "needs a connector"),
    ("SQL in a table", "post", "/api/workflows/wf/jobs",
     {"json": _job_body(destination={"kind": "snowflake", "connector": "wh", "table": "x; DROP TABLE y"})},
     422, "is not allowed"),
    ("/etc/cron.d", "post", "/api/workflows/wf/jobs",
     {"json": _job_body(destination={"path": "/etc/cron.d/x.csv"})}, 422, "outside the folders"),
    ("dot-dot escape", "post", "/api/workflows/wf/jobs",
     {"json": _job_body(destination={"path": "{out}/../../../x.csv"})}, 422, "outside the folders"),
    ("relative path outside", "post", "/api/workflows/wf/check",
     {"json": _job_body(destination={"path": "../../x.csv"})}, 422, "outside the folders"),
    ("symlink escape", "post", "/api/workflows/wf/jobs",
     {"json": _job_body(destination={"path": "{tmp}/escape/p.parquet"})}, 422, "outside the folders"),
    ("NUL in a path", "post", "/api/workflows/wf/check",
     {"json": _job_body(destination={"path": "{out}/p\u0000.parquet"})}, 422, "control character"),
    ("onto a graph input", "post", "/api/workflows/wf/jobs",
     {"json": _job_body(destination={"path": "{data}/transactions.parquet", "overwrite": True})}, 422,
     "graph reads"),
    ("a stranger's file", "post", "/api/workflows/wf/jobs",
     {"json": _job_body(destination={"path": "{out}/mine.parquet"})}, 422, "overwrite"),
    ("an existing folder", "post", "/api/workflows/wf/check",
     {"json": _job_body(destination={"path": "{out}/folder.parquet"})}, 422, "is an existing folder"),
    ("a file in the way", "post", "/api/workflows/wf/check",
     {"json": _job_body(destination={"path": "{out}/plain/p.parquet"})}, 422, "is a file, not a folder"),
    ("a destination another job writes", "post", "/api/workflows/wf/jobs",
     {"json": _job_body(destination={"path": "{out}/held.parquet"})}, 409, "is writing"),
    # --- names and states
    ("unknown workflow check", "post", "/api/workflows/nope/check", {"json": {}}, 404, "nope"),
    ("unknown workflow run", "post", "/api/workflows/nope/jobs", {"json": {}}, 404, "nope"),
    ("unknown job", "get", f"/api/jobs/{J}", {}, 404, "No job"),
    ("unknown job progress", "get", f"/api/jobs/{J}/progress", {}, 404, "No job"),
    ("unknown job summary", "get", f"/api/jobs/{J}/summary", {}, 404, "No job"),
    ("unknown job sample", "get", f"/api/jobs/{J}/sample", {}, 404, "No job"),
    ("cancel an unknown job", "post", f"/api/jobs/{J}/cancel", {"json": {}}, 404, "No job"),
    ("cancel a failed job", "post", "/api/jobs/{failed}/cancel", {"json": {}}, 409, "nothing to cancel"),
    ("resume a running job", "post", "/api/jobs/{running}/resume", {"json": {}}, 409, "{running}"),
    ("summary of a failed job", "get", "/api/jobs/{failed}/summary", {}, 409, "has no result"),
    ("sample as xlsx", "get", "/api/jobs/{failed}/sample?format=xlsx", {}, 422, "xlsx"),
    ("sample of ../../x", "get", "/api/jobs/{failed}/sample?output=../../x", {}, 422, "../../x"),
    ("sample of a failed job", "get", "/api/jobs/{failed}/sample", {}, 404, "no sample"),
    ("workflow with a bad name", "post", "/api/workflows", {"json": {"name": "a b", "model": "m-wf"}},
     422, "name"),
    ("workflow of an unknown model", "post", "/api/workflows", {"json": {"name": "w2", "model": "nope"}},
     422, "nope"),
    ("workflow name taken", "post", "/api/workflows", {"json": {"name": "wf", "model": "m-wf"}}, 409,
     "already"),
    ("unknown graph", "get", "/api/graphs/nope", {}, 404, "nope"),
    ("unknown model", "get", "/api/models/nope", {}, 404, "nope"),
    ("unknown connector", "get", "/api/connectors/nope", {}, 404, "nope"),
    ("max errors -1", "post", "/api/workflows/wf/jobs", {"json": _job_body(max_errors=-1)}, 422, "--max-errors"),
    ("max errors as text", "post", "/api/workflows/wf/jobs", {"json": _job_body(max_errors="many")}, 422,
     "The field 'max_errors': Input should be a valid integer"),
    ("a damaged model's page: []", "get", "/models/empty-list", {}, 400, "Retrain the model"),
    ("a damaged model's page: cut", "get", "/models/cut", {}, 400, "model.json"),
    ("a damaged model's page: missing section", "get", "/models/no-codec", {}, 400, "Retrain the model"),
    ("a damaged model's page", "get", "/models/bad-platt", {}, 400, "Retrain the model"),
]


def _fill_any(value: Any, env: dict[str, Any]) -> Any:
    if isinstance(value, str):
        return _fill(value, env)
    if isinstance(value, dict):
        return {k: _fill_any(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill_any(v, env) for v in value]
    return value


@pytest.mark.parametrize(("method", "url", "kwargs", "status", "expected"),
                         [c[1:] for c in REST_CASES], ids=[c[0] for c in REST_CASES])
def test_rest_refuses(env: dict[str, Any], method: str, url: str, kwargs: dict[str, Any], status: int,
                      expected: str) -> None:
    store: Store = env["store"]
    roots = [Path(env["tmp"]), Path(env["data"])]  # the data folder too: its own check must refuse
    client = TestClient(create_app(store.ws, output_roots=roots), base_url=BASE)
    jobs = _jobs(store)
    folders = (env["tmp"], env["data"])
    before = _snapshot(*folders)
    answer = getattr(client, method)(_fill(url, env), **_fill_any(kwargs, env))
    assert answer.status_code == status, answer.text
    if answer.headers["content-type"].startswith("text/html"):  # a page: the message in HTML
        message = answer.text
    else:
        body = answer.json()
        message = body["detail"] + " " + " ".join(body.get("errors", {}).values())
    assert _fill(expected, env) in message, message
    assert "Traceback" not in answer.text
    assert answer.headers["x-frame-options"] == "DENY"
    assert _jobs(store) == jobs
    assert _snapshot(*folders) == before


def test_the_catalogue_is_long_enough() -> None:
    assert len(CLI_CASES) + len(REST_CASES) >= 150
    names = [c[0] for c in CLI_CASES] + [c[0] for c in REST_CASES]
    assert len(set(names)) > 140  # distinct cases, not one case many times
