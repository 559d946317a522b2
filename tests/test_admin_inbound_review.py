"""The admin editor's inbound rules through its JSON endpoints: "Review changes" lists each changed key of a rule,
a rule removed says so, and a bad value is a 422 naming the field that changes nothing."""

from __future__ import annotations

import pytest

from connector.auth import accounts
from connector.parts import get_parts
from tests.helpers.signin import PASSWORD, signed_in_caller


@pytest.fixture
def admin(make_app):
    app = make_app(CONNECTOR_PRESENCE_CONFIG="teams")
    parts = get_parts(app)
    accounts.add_user(parts.store, "ada", PASSWORD, "admin", parts.clock())
    return signed_in_caller(app, "ada"), parts


def test_the_review_lists_each_changed_key_of_an_inbound_rule_and_a_removed_rule(admin):
    call, parts = admin
    config = call("GET", "/admin/api/config").get_json()["config"]
    assert {s["source"] for s in call("GET", "/admin/api/config").get_json()["inbound_sources"]} >= {
        "teams",
        "omni-channel",
        "pbx",
    }
    config["inbound"]["teams"]["map"]["DoNotDisturb"] = "dnd"
    config["inbound"]["teams"]["on_end"] = "stay"
    res = call("POST", "/admin/api/config/validate", {"config": config})
    assert res.status_code == 200, res.get_json()
    assert [(c["item"], c["field"], c["before"], c["after"]) for c in res.get_json()["changes"]] == [
        ("inbound from Teams", "map.DoNotDisturb", None, "dnd"),
        ("inbound from Teams", "on_end", "return", "stay"),
    ]
    del config["inbound"]["teams"]
    res = call("POST", "/admin/api/config/validate", {"config": config})
    assert [(c["field"], c["after"]) for c in res.get_json()["changes"]] == [("rule", "removed")]


def test_a_bad_inbound_value_is_refused_naming_the_field_and_changes_nothing(admin):
    call, parts = admin
    before = parts.configs.history(1)[0]["version"]
    config = call("GET", "/admin/api/config").get_json()["config"]
    config["inbound"]["teams"]["over_call"] = "sometimes"
    config["inbound"]["teams"]["map"]["InAMeeting"] = "no-such-state"
    res = call("POST", "/admin/api/config", {"config": config})
    assert res.status_code == 422
    fields = {p["field"] for p in res.get_json()["error"]["problems"]}
    assert fields == {"inbound.teams.over_call", "inbound.teams.map.InAMeeting"}
    assert parts.configs.history(1)[0]["version"] == before
    assert parts.configs.active().inbound_rule("teams").over_call == "never"
