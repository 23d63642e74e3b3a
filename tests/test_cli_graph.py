"""The `relpredict graph` commands, run as a user runs them: a subprocess, exit codes, output."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import F1, F1_YAML, needs_f1


def relpredict(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "160", "NO_COLOR": "1", "TERM": "dumb"}
    return subprocess.run([sys.executable, "-m", "relpredict.cli.main", *map(str, args)],
                          capture_output=True, text=True, cwd=cwd, env=env, timeout=60)


def flat(text: str) -> str:
    """Output with line wrapping undone, for matching messages that Rich may have wrapped."""
    return " ".join(text.split())


def test_help() -> None:
    done = relpredict("--help")
    assert done.returncode == 0, done.stderr
    assert "graph" in done.stdout and "demo-data" in done.stdout
    done = relpredict("graph", "--help")
    assert done.returncode == 0
    assert "infer" in done.stdout and "inspect" in done.stdout


def test_console_script_prints_the_version() -> None:
    script = Path(sys.executable).parent / "relpredict"
    if not script.exists():
        pytest.skip("no console script next to the interpreter")
    done = subprocess.run([str(script), "--version"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == "relpredict 0.1.0"


@needs_f1
def test_inspect_f1() -> None:
    done = relpredict("graph", "inspect", F1_YAML, "--data", F1)
    assert done.returncode == 0, done.stderr
    assert "9 tables" in done.stdout
    assert "13 links" in done.stdout
    assert "results.driverId → drivers" in done.stdout
    assert "1950-05-13" in done.stdout  # the first race
    assert "Validation: no findings." in done.stdout
    assert done.stderr == ""


def test_inspect_reports_a_duplicate_key_without_traceback(tmp_path: Path) -> None:
    (tmp_path / "users.csv").write_text("user_id,name\n1,a\n2,b\n2,c\n[x],d\n[x],e\n")
    (tmp_path / "g.yaml").write_text("tables:\n  users: {file: users.csv, primary_key: user_id}\n")
    done = relpredict("graph", "inspect", tmp_path / "g.yaml")
    assert done.returncode == 1
    assert "Traceback" not in done.stdout + done.stderr
    err = flat(done.stderr)
    assert err.startswith("Error: The graph has 1 validation error(s):")
    # The data values are quoted as they are, even those that look like Rich markup.
    assert ("Table 'users': primary key 'user_id' has 2 duplicated value(s), e.g. '2', '[x]'. "
            "A primary key must be unique") in err
    assert "Validation: 1 finding(s)" in done.stdout
    assert "error Table 'users'" in flat(done.stdout)


def test_inspect_warning_exits_zero_and_strict_keys_fails(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("a_id\n1\n2\n")
    (tmp_path / "b.csv").write_text("b_id,a_id\n1,1\n2,3\n")
    (tmp_path / "g.yaml").write_text(
        "tables:\n  a: {file: a.csv, primary_key: a_id}\n"
        "  b: {file: b.csv, primary_key: b_id, foreign_keys: {a_id: a}}\n")
    done = relpredict("graph", "inspect", tmp_path / "g.yaml")
    assert done.returncode == 0, done.stderr
    assert "warning Table 'b': foreign key 'a_id' has 1 row(s)" in flat(done.stdout)
    done = relpredict("graph", "inspect", tmp_path / "g.yaml", "--strict-keys")
    assert done.returncode == 1
    assert "Error: The graph has 1 validation error(s):" in flat(done.stderr)


def test_config_errors_are_messages(tmp_path: Path) -> None:
    done = relpredict("graph", "inspect", tmp_path / "missing.yaml")
    assert done.returncode == 1
    assert flat(done.stderr) == f"Error: Graph file {tmp_path / 'missing.yaml'} does not exist."



@pytest.mark.parametrize(("args", "message"), [
    (("graph", "inspect"), "Error: Missing argument 'graph_yaml'."),
    (("graph", "bogus"), "Error: No such command 'bogus'."),
    (("graph", "inspect", "g.yaml", "--nope"), "Error: No such option: --nope"),
])
def test_usage_errors_exit_2_without_traceback(
    args: tuple[str, ...], message: str, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # In-process (the subprocess tests above cover start-up); main() is the console script.
    from relpredict.cli.main import main

    monkeypatch.setattr(sys, "argv", ["relpredict", *args])
    with pytest.raises(SystemExit) as exit_:
        main()
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Usage: relpredict graph" in err


def test_infer_then_inspect(tmp_path: Path) -> None:
    folder = tmp_path / "shop"
    folder.mkdir()
    (folder / "customers.csv").write_text("customer_id,name\n1,a\n2,b\n")
    (folder / "orders.csv").write_text(
        "order_id,customer_id,created_at\n1,1,2024-01-01 10:00:00\n2,2,2024-01-02 11:00:00\n")
    out = tmp_path / "proposed.yaml"
    done = relpredict("graph", "infer", folder, "--out", out)
    assert done.returncode == 0, done.stderr
    assert "Wrote" in done.stdout and "2 tables, 1 links" in flat(done.stdout)
    text = out.read_text()
    assert text.startswith(f"# Proposed by `relpredict graph infer {folder}`")
    assert "#   orders: link customer_id → customers.customer_id" in text
    doc = yaml.safe_load(text)
    assert doc["data"] == str(folder.resolve())
    assert doc["tables"]["orders"] == {
        "file": "orders.csv", "primary_key": "order_id", "time_column": "created_at",
        "foreign_keys": {"customer_id": "customers"}}
    done = relpredict("graph", "inspect", out)
    assert done.returncode == 0, done.stderr
    assert "2 tables" in done.stdout and "1 links" in done.stdout
    assert "Validation: no findings." in done.stdout



def test_infer_prints_yaml_without_out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    from relpredict.cli.main import main

    (tmp_path / "customers.csv").write_text("customer_id,name\n1,a\n2,b\n")
    monkeypatch.setattr(sys, "argv", ["relpredict", "graph", "infer", str(tmp_path)])
    main()  # success returns normally
    doc = yaml.safe_load(capsys.readouterr().out)
    assert doc == {"name": tmp_path.name, "data": str(tmp_path.resolve()),
                   "tables": {"customers": {"file": "customers.csv", "primary_key": "customer_id"}}}
