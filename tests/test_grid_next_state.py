"""The dashboard grid carries the state picked for after a call (next_state) and whether a call is up, in
GET /api/v1/agents?view=grid and in the grid stream's snapshot, so a row can say "then Lunch"."""

from __future__ import annotations

import json

import requests

from tests.helpers.web_server import live_server


def _on_a_call(api, agent_id: str) -> dict:
    token = api.token("integration")
    api.call("POST", f"/api/v1/agents/{agent_id}/login", token, json={})
    started = {"call_id": "c1", "event": "started", "direction": "inbound"}
    assert api.call("POST", f"/api/v1/agents/{agent_id}/calls", token, json=started).status_code == 200
    return token


def _grid(api, token) -> dict:
    return {a["id"]: a for a in api.call("GET", "/api/v1/agents?view=grid", token).get_json()["agents"]}


def test_the_grid_shows_a_next_state_picked_during_a_call_until_it_is_cancelled(api):
    api.agent("edred", team="Sales")
    integration = _on_a_call(api, "edred")
    supervisor = api.token("supervisor")
    assert _grid(api, supervisor)["edred"]["on_call"] is True and _grid(api, supervisor)["edred"]["next_state"] is None

    api.call("PUT", "/api/v1/agents/edred/presence", integration, json={"state": "lunch"})
    row = _grid(api, supervisor)["edred"]
    assert (row["state"], row["next_state"], row["on_call"]) == ("on-a-call", "lunch", True)

    assert api.call("DELETE", "/api/v1/agents/edred/next-state", integration, json={}).status_code == 200
    assert _grid(api, supervisor)["edred"]["next_state"] is None


def test_a_supervisor_chooses_after_the_call_or_now_and_the_grid_says_which(api):
    api.agent("maria", team="Support")
    _on_a_call(api, "maria")
    supervisor = api.token("supervisor")
    after = api.call("PUT", "/api/v1/agents/maria/presence", supervisor, json={"state": "meeting"})
    assert after.status_code == 200 and after.get_json()["next_state"]["id"] == "meeting"
    assert _grid(api, supervisor)["maria"]["state"] == "on-a-call"

    now = api.call("PUT", "/api/v1/agents/maria/presence", supervisor, json={"state": "break", "force": True})
    assert now.status_code == 200
    row = _grid(api, supervisor)["maria"]
    assert (row["state"], row["next_state"]) == ("break", None)  # applied at once; the pick for later is gone


def test_the_grid_streams_snapshot_carries_the_next_state(tmp_path):
    with live_server(tmp_path) as server:
        server.agent("edred")
        integration = server.token("integration")
        server.call("POST", "/api/v1/agents/edred/login", integration, {})
        server.call(
            "POST",
            "/api/v1/agents/edred/calls",
            integration,
            {"call_id": "c1", "event": "started", "direction": "inbound"},
        )
        server.call("PUT", "/api/v1/agents/edred/presence", integration, {"state": "lunch"})
        supervisor = server.token("supervisor")
        with requests.get(
            f"{server.url}/api/v1/events?view=grid",
            headers={"Authorization": f"Bearer {supervisor}"},
            stream=True,
            timeout=5,
        ) as res:
            kind = None
            for line in res.iter_lines(chunk_size=1, decode_unicode=True):
                if line.startswith("event: "):
                    kind = line[7:]
                elif line.startswith("data: ") and kind == "snapshot":
                    agents = json.loads(line[6:])["agents"]
                    break
    assert [(a["id"], a["state"], a["on_call"], a["next_state"]) for a in agents] == [
        ("edred", "on-a-call", True, "lunch")
    ]
