"""The admin editor's guardrails at the endpoints: system states stay, and the review lists the changes."""

from __future__ import annotations

import pytest

from connector.presence.config import load_preset
from tests.test_web_admin import admin  # noqa: F401  (the signed-in admin client)


def _without(config: dict, state_id: str) -> dict:
    config["states"] = [s for s in config["states"] if s["id"] != state_id]
    return config


@pytest.mark.parametrize(
    ("state_id", "why"),
    [
        ("logged-out", "'Logged Out' (logged-out, status 7 Logout) is a system state and cannot be removed"),
        ("on-a-call", "'On a Call' (on-a-call, status 6 On a call) is a system state and cannot be removed"),
        ("ready", "a Ready state (status 1, Online) is required"),  # the last Ready: the validator's own rule
    ],
)
def test_removing_a_system_state_is_refused_by_the_server_naming_it_and_nothing_is_applied(
    admin,  # noqa: F811
    parts,
    state_id,
    why,
):
    before = parts.configs.history(1)[0]["version"]
    config = _without(load_preset("default").to_dict(), state_id)
    if state_id == "on-a-call":
        config["options"]["active_call"] = False  # so the only problem is the removal itself
    for path in ("/admin/api/config/validate", "/admin/api/config"):
        res = admin("POST", path, {"config": config})
        assert res.status_code == 422, res.get_json()
        error = res.get_json()["error"]
        assert error["field"] == "states"
        assert [p["why"] for p in error["problems"]] == [why]
    assert parts.configs.history(1)[0]["version"] == before
    assert parts.configs.active().find(state_id) is not None


def test_the_status_of_a_system_state_is_read_only_on_the_server(admin, parts):  # noqa: F811
    config = load_preset("default").to_dict()
    logged_out = next(s for s in config["states"] if s["id"] == "logged-out")
    logged_out["status"] = 2
    res = admin("POST", "/admin/api/config", {"config": config})
    assert res.status_code == 422
    error = res.get_json()["error"]
    assert (error["field"], error["problems"][0]["state"]) == ("status", "logged-out")
    assert parts.configs.active().state("logged-out").status == 7


def test_one_of_two_ready_states_may_go_but_not_the_last_one(admin, parts):  # noqa: F811
    config = load_preset("default").to_dict()
    config["states"].insert(1, {"id": "ready-outbound", "label": "Ready (outbound)", "status": 1, "colour": "#1b5e20"})
    assert admin("POST", "/admin/api/config", {"config": config}).status_code == 200
    assert admin("POST", "/admin/api/config", {"config": _without(config, "ready")}).status_code == 200
    assert [s.id for s in parts.configs.active().states if s.status == 1] == ["ready-outbound"]
    res = admin("POST", "/admin/api/config/validate", {"config": _without(config, "ready-outbound")})
    assert res.status_code == 422


def test_a_label_of_a_system_state_may_change_and_the_review_lists_every_change(admin, parts):  # noqa: F811
    config = load_preset("default").to_dict()
    next(s for s in config["states"] if s["id"] == "logged-out")["label"] = "Signed out"
    config["states"] = [s for s in config["states"] if s["id"] != "training"]
    config["states"].append({"id": "coaching", "label": "Coaching", "status": 5, "colour": "#00838f"})
    config["options"]["wrap_up_seconds"] = 45
    res = admin("POST", "/admin/api/config/validate", {"config": config})
    assert res.status_code == 200
    changes = {(c["what"], c["item"], c["field"], c["before"], c["after"]) for c in res.get_json()["changes"]}
    assert changes == {
        ("changed", "Signed out", "label", "Logged Out", "Signed out"),
        ("removed", "Training", "state", "training", None),
        ("added", "Coaching", "state", None, "coaching"),
        ("option", "options", "wrap_up_seconds", 30, 45),
    }
    assert parts.configs.active().state("logged-out").label == "Logged Out"  # validate applies nothing


def test_the_editor_is_told_which_states_are_system_states(admin):  # noqa: F811
    body = admin("GET", "/admin/api/config").get_json()
    assert body["system_states"] == {"1": ["ready"], "6": ["on-a-call"], "7": ["logged-out"]}
