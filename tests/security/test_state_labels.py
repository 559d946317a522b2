"""State labels are one bounded line of printable text, checked when saved."""

from __future__ import annotations

import pytest

from connector.auth import accounts
from connector.errors import ConfigError
from connector.presence.config import parse_config
from tests.helpers.signin import PASSWORD, sign_in

DOC = 'name: t\nstates:\n  - {id: ready, label: "%s", status: 1}\n'


@pytest.mark.parametrize(
    "label",
    ["Ready\\r\\nSet-Cookie: x", "Ready\\nNext", "Ready\\u2028", "Ready\\x85", "Ready\\x00", "Ready\\u202e", "R" * 201],
)
def test_bad_labels_are_refused_naming_the_field(label):
    with pytest.raises(ConfigError) as err:
        parse_config(DOC % label, source="t.yaml")
    assert err.value.problems[0].field == "label"


def test_a_plain_label_of_200_characters_is_fine():
    assert parse_config(DOC % ("Ready " + "é" * 194)).states[0].label.startswith("Ready")


def test_the_admin_editor_refuses_a_label_with_a_line_break(client, parts):
    accounts.add_user(parts.store, "ada", PASSWORD, "admin", parts.clock())
    token = sign_in(client, "ada")
    config = client.get("/admin/api/config").get_json()["config"]
    config["states"][0]["label"] = "Ready\u2028for calls"
    res = client.post("/admin/api/config", json={"config": config}, headers={"X-CSRF-Token": token})
    assert res.status_code == 422 and res.get_json()["error"]["field"] == "label"
    assert "\u2028" not in str(client.get("/admin/api/config").get_json())


def test_an_active_configuration_stored_before_the_upgrade_keeps_working(make_app, api):
    """A label accepted by the old rules is refused when saved again, not when the store is read."""
    from connector.parts import get_parts
    from connector.presence.config import build_config

    old = build_config(
        {"name": "old", "states": [{"id": "ready", "label": "R" * 250, "status": 1}]}, "old.yaml", stored=True
    )
    get_parts(api.app).configs.apply(old, created_by="before", origin="old.yaml")
    restarted = make_app()
    assert get_parts(restarted).configs.active().states[0].label == "R" * 250
    api.agent("edred")
    res = api.call("GET", "/api/v1/presence-states", api.token("agent", "edred"))
    assert res.status_code == 200 and res.get_json()["name"] == "old"
