"""A job for chosen entities: ``--entities FILE`` (CSV / Parquet of keys, or a graph table) and a
query written ``FOR customers.customer_id IN (...)``. Training is untouched (the model double is
the same); the job writes exactly the listed entities that exist at the anchor time."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from relpredict.errors import SettingsError
from relpredict.jobs import JobStatus, Workflow
from tests.conftest import BINARY, Store
from tests.jobs.fixture_model import register

APRIL = "2024-04-01"
LISTED = [7, 3, 12, 3, 999]  # 3 twice, 999 no customer


def _csv(path: Path, columns: dict[str, list]) -> str:
    pacsv.write_csv(pa.table(columns), path)
    return str(path)


def _settings_error(wf: Workflow, source: str) -> str:
    with pytest.raises(SettingsError) as info:
        wf.dry_run(anchor_time=APRIL, entities=source)
    assert list(info.value.errors) == ["entities"]
    return info.value.errors["entities"]


def test_a_bad_entity_list_is_told_at_setup(store: Store, tmp_path: Path) -> None:
    wf = store.workflow("binary")
    assert "is neither a file nor a table of the graph (customers, products, transactions)" in \
        _settings_error(wf, str(tmp_path / "missing.csv"))
    two = _csv(tmp_path / "two.csv", {"id": [1], "name": ["a"]})
    assert "has the columns id, name, none of them named 'customer_id'" in _settings_error(wf, two)
    empty = tmp_path / "empty.parquet"
    pq.write_table(pa.table({"customer_id": pa.array([None], pa.int64())}), empty)
    assert "holds no keys" in _settings_error(wf, str(empty))
    text = _csv(tmp_path / "text.csv", {"customer_id": ["x1", "x2"]})
    assert "are not of the type of customers.customer_id" in _settings_error(wf, text)


def test_keys_not_in_the_entity_table_are_a_warning_with_their_count(store: Store, tmp_path: Path) -> None:
    wf = store.workflow("binary")
    both = _csv(tmp_path / "keys.csv", {"CUSTOMER_ID": LISTED, "note": ["a"] * 5})
    dry = wf.dry_run(anchor_time=APRIL, entities=both)
    assert any("1 of the 4 keys in the entity list" in w and "not rows of customers" in w
               for w in dry.warnings)
    assert dry.entities == 3 and dry.settings["entities"] == both


@pytest.mark.slow  # runs jobs with worker processes
def test_jobs_write_exactly_the_listed_entities(store: Store, tmp_path: Path) -> None:
    wf = store.workflow("binary")
    keys = _csv(tmp_path / "keys.csv", {"customer_id": LISTED})
    out = store.out / "p.parquet"
    job = wf.run(anchor_time=APRIL, entities=keys, workers=2, shard_size=1, output=str(out),
                 output_types="predictions,embeddings")
    assert job.status() is JobStatus.SUCCEEDED, job.record().error
    for name in ("p_predictions.parquet", "p_embeddings.parquet"):
        assert pq.read_table(out.with_name(name)).column("ENTITY").to_pylist() == [3, 7, 12]
    # a query that lists its entities: the same three, with no --entities
    register(store.ws, "m-listed", BINARY.replace("FOR EACH customers.customer_id",
                                                  "FOR customers.customer_id IN (12, 3, 7, 999)"),
             store.graph_yaml)
    listed = Workflow.create("listed", "m-listed", store.ws)
    job = listed.run(anchor_time=APRIL, output=str(store.out / "q.parquet"))
    assert job.status() is JobStatus.SUCCEEDED, job.record().error
    assert pq.read_table(store.out / "q.parquet").column("ENTITY").to_pylist() == [3, 7, 12]


def test_the_rest_body_and_the_cli_take_the_entity_list() -> None:
    from typer.testing import CliRunner

    from relpredict.api.schemas import JobSettingsIn
    from relpredict.cli.main import app
    from relpredict.service.forms import raw_settings

    assert raw_settings(JobSettingsIn(entities=" keys.csv ").form()).entities == "keys.csv"
    assert raw_settings(JobSettingsIn().form()).entities is None
    help_text = CliRunner().invoke(app, ["job", "run", "--help"], terminal_width=200).output
    assert "--entities" in help_text
