"""End to end in headless Chromium: `relpredict serve` with a real trained model, the workflow page,
the Run Batch Prediction Job dialog, the live job page, and the sample download.

The server runs as a subprocess on a free 127.0.0.1 port over a workspace holding a LightGBM model
trained on the job tests' small store; jobs run with the real model loader. Screenshots of the
workflow page, the dialog, the finished job page, a job's drift table and explanation, the
workflow page's backtest chart and schedules, and the model page's reliability diagram go to
``test-artifacts/``.

Needs Debian's ``chromium`` and ``chromium-driver`` (``.ci/run`` installs them). Without them the
test skips, except in CI (``CI`` set, see ``tests/conftest.py``), where it fails: CI must run it.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pandas as pd
import pyarrow.parquet as pq
import pytest

from tests.conftest import BINARY, REPO, in_ci, write_store

ARTIFACTS = REPO / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
RELPREDICT = str(Path(sys.executable).with_name("relpredict"))
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--no-first-run", "--disable-quic", "--disable-component-update", "--disable-sync",
                  "--window-size=1280,1100")
# Ports Chromium refuses (ERR_UNSAFE_PORT) that an OS might hand out.
UNSAFE_PORTS = {5060, 5061, 6000, 6566, 6665, 6666, 6667, 6668, 6669, 6697, 10080}
WAIT = 90.0

pytestmark = pytest.mark.slow  # a server, a trained model and Chromium


def _need_chromium() -> None:
    if Path(CHROMIUM).is_file() and Path(CHROMEDRIVER).is_file():
        return
    message = (f"Chromium is not installed ({CHROMIUM}, {CHROMEDRIVER}): "
               "apt-get install -y chromium chromium-driver")
    if in_ci():
        pytest.fail(message + " (CI must run the browser test; .ci/run installs it)")
    pytest.skip(message)


def _free_port() -> int:
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if port not in UNSAFE_PORTS:
            return port


@dataclass
class Server:
    url: str
    home: Path
    out: Path
    downloads: Path


def _workspace(folder: Path) -> Path:
    """A workspace with a LightGBM churn model trained on the small store, and its workflow."""
    from relpredict.graph.yaml_io import load_graph
    from relpredict.jobs import Workflow
    from relpredict.model.artifact import load_model, save_model
    from relpredict.model.fit import TrainOptions, train_model
    from relpredict.workspace import Workspace

    graph_yaml = write_store(folder)
    ws = Workspace.open(folder / "ws")
    graph = load_graph(graph_yaml)
    model = train_model(graph, BINARY, TrainOptions(kind="lightgbm", max_eval=2, history_k=4))
    save_model(ws, model, "churn", graph)
    Workflow.create("churn-batch", "churn", ws, loader="relpredict.model.artifact:load_model")
    assert load_model(ws, "churn").kind == "lightgbm"
    return ws.home


def _wait_healthy(url: str, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"relpredict serve exited: {log.read_text()}")
        try:
            if httpx.get(f"{url}/api/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise AssertionError(f"relpredict serve did not answer: {log.read_text()}")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    _need_chromium()
    folder = tmp_path_factory.mktemp("e2e")
    home = _workspace(folder)
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k != "RELPREDICT_MODEL_LOADER"}
    log = folder / "server.log"
    out = folder / "out"
    out.mkdir()  # the dialog's job writes here: an output root of the server (jobs may write nowhere else)
    with open(log, "wb") as sink:
        proc = subprocess.Popen([RELPREDICT, "serve", "--port", str(port), "--home", str(home),
                                 "--output-root", str(out)],
                                stdout=sink, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, proc, log)
        downloads = folder / "downloads"
        downloads.mkdir()
        yield Server(url, home, out, downloads)
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture(scope="module")
def browser(server: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    options.add_experimental_option("prefs", {"download.default_directory": str(server.downloads),
                                              "download.prompt_for_download": False})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.execute_cdp_cmd("Browser.setDownloadBehavior",
                           {"behavior": "allow", "downloadPath": str(server.downloads)})
    ARTIFACTS.mkdir(exist_ok=True)
    try:
        yield driver
    finally:
        driver.quit()


def _wait(driver: object, condition: object, timeout: float = WAIT) -> object:
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.1).until(condition)


def _type(driver: object, element_id: str, text: str) -> None:
    from selenium.webdriver.common.by import By

    field = driver.find_element(By.ID, element_id)
    field.clear()
    field.send_keys(text)


def _open_dialog(driver: object, server: Server) -> None:
    from selenium.webdriver.common.by import By

    driver.get(f"{server.url}/workflows/churn-batch")
    driver.find_element(By.ID, "run-job").click()
    _wait(driver, lambda d: d.find_element(By.ID, "job-dialog").get_attribute("open") is not None)


def test_bad_settings_are_shown_next_to_their_fields_and_start_no_job(browser: object, server: Server) -> None:
    from selenium.webdriver.common.by import By

    _open_dialog(browser, server)
    _type(browser, "anchor_time", "2024-13-45")
    browser.find_element(By.ID, "submit-job").click()
    error = _wait(browser, lambda d: d.find_element(By.ID, "error-anchor_time").text or None)
    assert error == ("The anchor time '2024-13-45' is not an ISO 8601 date or datetime "
                     "(e.g. 2024-02-27 or 2024-02-27T13:00:00Z).")
    assert browser.find_element(By.ID, "anchor_time").get_attribute("aria-invalid") == "true"
    assert browser.find_element(By.ID, "error-workers").text == ""
    assert "/workflows/churn-batch" in browser.current_url

    browser.find_element(By.CSS_SELECTOR, "input[name=dest_kind][value=snowflake]").click()
    assert browser.find_element(By.ID, "dest_table").is_displayed()
    assert not browser.find_element(By.ID, "dest_path").is_displayed()
    _type(browser, "anchor_time", "2024-04-01")
    browser.find_element(By.ID, "submit-job").click()
    table_error = _wait(browser, lambda d: d.find_element(By.ID, "error-destination-table").text or None)
    assert table_error.startswith("A Snowflake destination needs a table")
    assert browser.find_element(By.ID, "error-destination-connector").text.startswith(
        "A Snowflake destination needs a connector")
    assert browser.find_element(By.ID, "error-anchor_time").text == ""
    assert httpx.get(f"{server.url}/api/jobs").json() == []


def test_run_a_job_from_the_dialog_and_watch_it_succeed(browser: object, server: Server) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    browser.get(f"{server.url}/workflows/churn-batch")
    assert "binary classification" in browser.find_element(By.ID, "task-type").text
    browser.save_screenshot(str(ARTIFACTS / "workflow-page.png"))
    _open_dialog(browser, server)
    assert "(default: the latest data)" in browser.find_element(By.ID, "anchor_time").get_attribute("placeholder")
    assert not browser.find_elements(By.ID, "top_k")  # binary: only the threshold
    _type(browser, "anchor_time", "2024-04-01")
    _type(browser, "threshold", "0.3")
    browser.find_element(By.CSS_SELECTOR, "input[name=dest_kind][value=local]").click()
    _type(browser, "dest_path", str(server.out / "churn.parquet"))
    Select(browser.find_element(By.ID, "dest_file_type")).select_by_value("parquet")
    _type(browser, "workers", "2")
    browser.find_element(By.ID, "out-embeddings").click()
    browser.find_element(By.CSS_SELECTOR, "details.field summary").click()
    _type(browser, "shard_size", "15")  # 4 shards: the bar moves in steps
    browser.save_screenshot(str(ARTIFACTS / "job-dialog.png"))
    browser.find_element(By.ID, "submit-job").click()

    _wait(browser, lambda d: "/jobs/" in d.current_url)
    job_id = browser.current_url.rsplit("/", 1)[1]
    _wait(browser, lambda d: d.find_element(By.ID, "status").text in ("succeeded", "failed", "cancelled"))
    assert browser.find_element(By.ID, "status").text == "succeeded", browser.find_element(By.ID, "error").text
    seen = browser.execute_script("return window.relpredictProgress;")
    assert seen[-1] == 60 and min(seen) < 60, seen  # the bar moved to full
    assert browser.find_element(By.ID, "progress").get_attribute("aria-valuenow") == "100"
    assert "60 / 60 entities (4 of 4 shards)" in browser.find_element(By.ID, "progress-text").text
    assert len(browser.find_elements(By.CSS_SELECTOR, "#workers .worker")) == 2
    _wait(browser, lambda d: d.find_element(By.ID, "results").is_displayed())
    assert "60 rows" in browser.find_element(By.ID, "rows-predictions").text
    assert str(server.out / "churn_predictions.parquet") in browser.find_element(By.ID, "output-predictions").text
    assert browser.find_elements(By.CSS_SELECTOR, "#output-predictions svg.histogram rect")
    assert browser.find_element(By.ID, "backtest").text.startswith("auroc = ")
    browser.save_screenshot(str(ARTIFACTS / "job-finished.png"))

    browser.find_element(By.ID, "download-predictions-csv").click()
    sample = _downloaded(server.downloads, f"{job_id}_predictions_sample.csv")
    frame = pd.read_csv(sample)
    assert len(frame) == 60 and frame["ENTITY"].tolist() == list(range(1, 61))
    assert (frame["TARGET_PRED"] == (frame["True_PROB"] >= 0.3)).all()
    written = pq.read_table(server.out / "churn_predictions.parquet").to_pandas()
    assert written["True_PROB"].round(9).tolist() == frame["True_PROB"].round(9).tolist()
    assert pq.read_table(server.out / "churn_embeddings.parquet").num_rows == 60


def test_the_dialogs_entity_list_and_metadata_columns_reach_the_job(browser: object, server: Server,
                                                                   tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    _open_dialog(browser, server)
    _type(browser, "anchor_time", "2024-04-01")
    browser.find_element(By.CSS_SELECTOR, "input[name=dest_kind][value=local]").click()
    _type(browser, "dest_path", str(server.out / "listed.parquet"))
    browser.find_element(By.CSS_SELECTOR, "details.field summary").click()
    missing = tmp_path / "missing.csv"
    _type(browser, "entities", str(missing))
    for field in ("MODEL_VERSION", "JOB_TIMESTAMP"):
        browser.find_element(By.ID, f"meta-{field}").click()
    browser.find_element(By.ID, "submit-job").click()
    error = _wait(browser, lambda d: d.find_element(By.ID, "error-entities").text or None)
    assert error.startswith(f"The entity list {missing} is neither a file nor a table of the graph")

    keys = tmp_path / "keys.csv"
    keys.write_text("customer_id\n3\n7\n12\n")
    _type(browser, "entities", str(keys))
    browser.find_element(By.ID, "submit-job").click()
    _wait(browser, lambda d: "/jobs/" in d.current_url)
    job_id = browser.current_url.rsplit("/", 1)[1]
    _wait(browser, lambda d: d.find_element(By.ID, "status").text in ("succeeded", "failed", "cancelled"))
    assert browser.find_element(By.ID, "status").text == "succeeded", browser.find_element(By.ID, "error").text
    view = httpx.get(f"{server.url}/api/jobs/{job_id}").json()
    assert view["settings"]["entities"] == str(keys)
    assert view["settings"]["metadata_fields"] == ["JOB_TIMESTAMP", "MODEL_VERSION"]
    written = pq.read_table(server.out / "listed.parquet")
    assert written.column("ENTITY").to_pylist() == [3, 7, 12]
    assert set(written.column("MODEL_VERSION").to_pylist()) == {"churn@1"}
    assert written.column_names[-2:] == ["JOB_TIMESTAMP", "MODEL_VERSION"]


def _downloaded(folder: Path, name: str, timeout: float = 30.0) -> Path:
    """The downloaded file once Chromium has finished writing it."""
    deadline = time.monotonic() + timeout
    path = folder / name
    while time.monotonic() < deadline:
        if path.is_file() and not list(folder.glob("*.crdownload")):
            return path
        time.sleep(0.1)
    raise AssertionError(f"no download {name} in {folder}: {sorted(os.listdir(folder))}")


def test_create_a_workflow_from_the_workflows_page(browser: object, server: Server) -> None:
    from selenium.webdriver.common.by import By

    browser.get(f"{server.url}/workflows")
    _type(browser, "wf-name", "bad name")
    browser.find_element(By.CSS_SELECTOR, "#workflow-form button[type=submit]").click()
    error = _wait(browser, lambda d: d.find_element(By.ID, "error-name").text or None)
    assert error.startswith("The workflow name 'bad name' must start with a letter or digit")
    _type(browser, "wf-name", "churn-weekly")
    browser.find_element(By.CSS_SELECTOR, "#workflow-form button[type=submit]").click()
    _wait(browser, lambda d: d.current_url.endswith("/workflows/churn-weekly"))
    assert browser.find_element(By.ID, "model-ref").text.startswith("churn@1")


def test_drift_explanation_backtest_schedule_and_calibration(browser: object, server: Server) -> None:
    """A job with explanations shows its drift table and an entity's explanation; a backtest's
    line chart and a schedule show on the workflow page; the model page draws its reliability
    diagram. Started through the REST API, looked at in the browser (screenshots)."""
    from selenium.webdriver.common.by import By

    api = f"{server.url}/api"
    job = httpx.post(f"{api}/workflows/churn-batch/jobs", timeout=60, json={
        "anchor_time": "2024-04-01", "output_types": ["predictions", "explanations"], "explain_k": 4,
        "destination": {"path": str(server.out / "explained.parquet")}})
    assert job.status_code == 201, job.text
    backtest = httpx.post(f"{api}/workflows/churn-batch/backtests", timeout=60,
                          json={"start": "2024-03-01", "end": "2024-03-31", "every": "30d"})
    assert backtest.status_code == 201, backtest.text
    schedule = httpx.post(f"{api}/workflows/churn-batch/schedules", timeout=60,
                          json={"cron": "0 6 * * 1", "settings": {"threshold": 0.3}})
    assert schedule.status_code == 201, schedule.text

    browser.get(f"{server.url}/jobs/{job.json()['id']}")
    _wait(browser, lambda d: d.find_element(By.ID, "status").text in ("succeeded", "failed", "cancelled"))
    assert browser.find_element(By.ID, "status").text == "succeeded", browser.find_element(By.ID, "error").text
    rows = _wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#drift-table tr"))
    assert len(rows) >= 3 and rows[0].text.split() == ["Input", "PSI", "Flag"]  # the score, then features
    assert browser.find_elements(By.CSS_SELECTOR, "#score-drift-chart svg rect.reference")
    browser.execute_script("arguments[0].scrollIntoView();", browser.find_element(By.ID, "drift"))
    browser.save_screenshot(str(ARTIFACTS / "job-drift.png"))
    _type(browser, "explain-entity", "7")
    browser.find_element(By.ID, "explain-button").click()
    explained = _wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#explanation-table tr")[1:])
    assert [r.text.split()[0] for r in explained] == ["1", "2", "3", "4"]
    browser.execute_script("arguments[0].scrollIntoView();", browser.find_element(By.ID, "explain-box"))
    browser.save_screenshot(str(ARTIFACTS / "job-explanation.png"))

    url = f"{api}/backtests/{backtest.json()['id']}"
    points = _wait(browser, lambda _: _backtest_points(url, 2), 240)
    assert [p["value"] is not None for p in points] == [True, True], points
    browser.get(f"{server.url}/workflows/churn-batch")
    chart = browser.find_element(By.ID, f"backtest-chart-{backtest.json()['id']}")
    assert len(chart.find_elements(By.CSS_SELECTOR, "circle.dot.model")) == 2
    assert chart.find_elements(By.CSS_SELECTOR, "polyline.line.model")
    row = browser.find_element(By.ID, f"schedule-{schedule.json()['id']}")
    assert "0 6 * * 1" in row.text and "threshold=0.3" in row.text
    browser.execute_script("arguments[0].scrollIntoView();", chart)
    browser.save_screenshot(str(ARTIFACTS / "workflow-backtest-schedule.png"))

    browser.get(f"{server.url}/models/churn")
    diagram = browser.find_element(By.ID, "reliability-chart")
    assert diagram.find_elements(By.CSS_SELECTOR, "circle.dot.split-val")
    assert browser.find_element(By.ID, "candidates").is_displayed()
    browser.save_screenshot(str(ARTIFACTS / "model-calibration.png"))


def _backtest_points(url: str, count: int) -> list[dict[str, object]] | None:
    """The backtest's points once it has ``count`` of them (None before: ``_wait`` asks again)."""
    points: list[dict[str, object]] = httpx.get(url).json()["points"]
    return points if len(points) >= count else None


def test_chromium_is_required_in_ci() -> None:
    """The skip above is for developer machines only (documented contract of this module)."""
    assert shutil.which("chromium") or not in_ci()
