"""Schedules over REST and on the workflow page: made with the job settings checked as a job's,
listed with the next run, removed; a bad cron expression or setting is a 422 naming its field."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.conftest import Store


def test_schedule_list_show_and_remove(client: TestClient, store: Store) -> None:
    store.workflow("binary", "churn")
    body = {"cron": "0 6 * * 1", "settings": {"threshold": 0.3, "workers": 2}}
    made = client.post("/api/workflows/churn/schedules", json=body)
    assert made.status_code == 201, made.text
    s = made.json()
    # only what differs from the defaults is kept: a default stays a default at later runs
    assert (s["workflow"], s["cron"], s["settings"]) == ("churn", "0 6 * * 1", {"threshold": 0.3, "workers": 2})
    assert s["next_run"].endswith("T06:00:00") and s["last_job"] is None
    assert [x["id"] for x in client.get("/api/schedules", params={"workflow": "churn"}).json()] == [s["id"]]
    page = client.get("/workflows/churn").text
    assert f'id="schedule-{s["id"]}"' in page and "<code>0 6 * * 1</code>" in page
    assert "<code>threshold=0.3</code>" in page

    gone = client.request("DELETE", f"/api/schedules/{s['id']}", json={})
    assert gone.status_code == 200 and client.get("/api/schedules").json() == []
    assert client.request("DELETE", f"/api/schedules/{s['id']}", json={}).status_code == 404
    assert 'id="no-schedules"' in client.get("/workflows/churn").text


def test_bad_cron_and_bad_settings_are_422_by_field(client: TestClient, store: Store) -> None:
    store.workflow("binary", "churn")
    bad_cron = client.post("/api/workflows/churn/schedules", json={"cron": "0 6 * *"})
    assert bad_cron.status_code == 422
    assert "has 4 field(s); it needs 5" in bad_cron.json()["errors"]["cron"]
    bad_setting = client.post("/api/workflows/churn/schedules",
                              json={"cron": "0 6 * * 1", "settings": {"workers": 9}})
    assert bad_setting.status_code == 422
    assert bad_setting.json()["errors"] == {"workers": "The number of parallel workers must be 1 to 4, not 9."}
    assert client.post("/api/workflows/nope/schedules", json={"cron": "0 6 * * 1"}).status_code == 404
    assert client.get("/api/schedules").json() == []
