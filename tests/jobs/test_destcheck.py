"""Destinations checked at setup, before any job is recorded: input data, other files, writability."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from relpredict.errors import SettingsError
from relpredict.jobs import RawSettings
from relpredict.jobs import store as job_store
from relpredict.service import jobs as service
from relpredict.service.forms import DestinationForm, JobForm, raw_settings
from tests.conftest import Store

APRIL = "2024-04-15"


def _refused(store: Store, match: str, **settings: object) -> str:
    """Check, dry-run and create all refuse ``settings`` with ``match``; no job, nothing written."""
    if not job_store.list_workflows(store.ws):
        store.workflow("binary", "wf")
    raw = RawSettings(anchor_time=APRIL, **settings)  # type: ignore[arg-type]
    messages = []
    for call in (service.check_settings, service.dry_run, service.create_job):
        with pytest.raises(SettingsError) as caught:
            call(store.ws, "wf", raw)
        messages.append(caught.value.errors["destination"])
        assert match in messages[-1], (call.__name__, messages[-1])
    assert job_store.list_jobs(store.ws) == []
    return messages[0]


def _data(store: Store) -> Path:
    return store.graph_yaml.parent


# ----------------------------------------------------------------------------------- item 2
@pytest.mark.parametrize("name", ["transactions.parquet", "customers.parquet"])
def test_an_output_onto_a_file_the_graph_reads_is_refused(store: Store, name: str) -> None:
    before = (_data(store) / name).read_bytes()
    _refused(store, "which the model's graph reads", output=str(_data(store) / name), overwrite=True)
    assert (_data(store) / name).read_bytes() == before


def test_a_partition_folder_holding_the_input_is_refused(store: Store) -> None:
    _refused(store, "which the model's graph reads",
             output=str(_data(store) / "{{PARTITION}}.parquet"), overwrite=True)


def test_an_output_inside_a_folder_the_graph_reads_is_refused(store: Store, tmp_path: Path) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    for name in ("customers", "products", "transactions"):
        (folder / f"{name}.parquet").write_bytes((_data(store) / f"{name}.parquet").read_bytes())
    (folder / "tx").mkdir()
    os.replace(folder / "transactions.parquet", folder / "tx" / "a.parquet")
    yaml = (_data(store) / "graph.yaml").read_text().replace("file: transactions.parquet", "file: tx\n    format: parquet")
    (folder / "graph.yaml").write_text(yaml)
    store.graph_yaml = folder / "graph.yaml"
    message = _refused(store, "inside the folder", output=str(folder / "tx" / "new.parquet"), overwrite=True)
    assert str(folder / "tx") in message
    assert sorted(p.name for p in (folder / "tx").iterdir()) == ["a.parquet"]


def test_an_existing_file_no_job_wrote_needs_overwrite(store: Store, tmp_path: Path) -> None:
    mine = tmp_path / "report.parquet"
    mine.write_bytes(b"my own file")
    message = _refused(store, "already exists and no relpredict job wrote it", output=str(mine))
    assert "--overwrite" in message and mine.read_bytes() == b"my own file"
    service.check_settings(store.ws, "wf", RawSettings(anchor_time=APRIL, output=str(mine), overwrite=True))


def test_a_folder_of_foreign_files_for_parts_needs_overwrite(store: Store, tmp_path: Path) -> None:
    (tmp_path / "parts").mkdir()
    (tmp_path / "parts" / "notes.txt").write_text("mine")
    _refused(store, "no relpredict job wrote", output=str(tmp_path / "parts" / "{{PARTITION}}.parquet"))


def test_a_file_a_job_wrote_is_replaced_without_overwrite(store: Store, tmp_path: Path) -> None:
    store.workflow("binary", "wf")
    out = tmp_path / "p.parquet"
    out.write_bytes(b"old output")
    manifest = {"job_id": "j1", "outputs": {"predictions": {"files": [{"path": str(out)}]}}}
    (tmp_path / "p.manifest.json").write_text(json.dumps(manifest))
    service.check_settings(store.ws, "wf", RawSettings(anchor_time=APRIL, output=str(out)))


def test_the_workspace_itself_is_no_destination(store: Store) -> None:
    _refused(store, "inside the workspace", output=str(store.ws.home / "metadata.parquet"), overwrite=True)
    _refused(store, "inside the workspace", output=str(store.ws.artifacts / "x.parquet"))


# ----------------------------------------------------------------------------------- item 3
def test_an_existing_folder_used_as_a_file_is_refused(store: Store, tmp_path: Path) -> None:
    (tmp_path / "out.parquet").mkdir()
    _refused(store, "is an existing folder, not a file", output=str(tmp_path / "out.parquet"))


def test_a_file_in_the_way_of_a_folder_is_refused(store: Store, tmp_path: Path) -> None:
    (tmp_path / "plain").write_text("x")
    _refused(store, "is a file, not a folder", output=str(tmp_path / "plain" / "sub" / "p.parquet"))


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere")
def test_an_unwritable_folder_is_refused(store: Store, tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        _refused(store, "is not writable", output=str(locked / "p.parquet"))
    finally:
        locked.chmod(0o700)


@pytest.mark.parametrize("path", ["out/p\x00.parquet", "out/p\n.parquet", "s3://b/k\x00.csv"])
def test_control_characters_are_refused(store: Store, path: str) -> None:
    _refused(store, "control character", output=path)


@pytest.mark.parametrize(("kind", "path", "hint"), [
    ("local", "s3://bucket/p.parquet", "choose the kind that fits"),
    ("local", "snowflake://wh/T", "choose the kind that fits"),
    ("s3", "bigquery://bq/t", "an s3:// URL"),
    ("snowflake", "s3://bucket/p.parquet", "not a path"),
])
def test_a_kind_that_contradicts_the_path_is_refused(kind: str, path: str, hint: str) -> None:
    form = JobForm(destination=DestinationForm(kind=kind, path=path, connector="c", table="T"))
    with pytest.raises(SettingsError) as caught:
        raw_settings(form)
    assert hint in caught.value.errors["destination.path"]


def test_overwrite_travels_from_the_form(store: Store) -> None:
    form = JobForm(destination=DestinationForm(path="x.parquet", overwrite=True))
    assert raw_settings(form).overwrite is True


def test_a_file_left_by_a_crashed_publish_is_replaced_without_overwrite(store: Store, tmp_path: Path) -> None:
    store.workflow("binary", "wf")
    out = tmp_path / "p.parquet"
    out.write_bytes(b"half of a publish")  # the manifest was withdrawn, the staging folder is left
    (tmp_path / ".relpredict-staging-j1" / "done").mkdir(parents=True)
    service.check_settings(store.ws, "wf", RawSettings(anchor_time=APRIL, output=str(out)))
