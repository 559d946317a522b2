"""Inbound rules for the other adapters (issue 26): Omni-Channel and the PBX follow the configuration's
``inbound:`` section like Teams; the admin editor validates it like the rest of the configuration."""

from __future__ import annotations

from adapters.asterisk_ami import AsteriskAmiAdapter
from adapters.omni_channel import OmniChannelAdapter
from connector.auth import accounts
from connector.parts import get_parts
from connector.presence.config import build_config, load_preset
from tests.helpers.api import Api
from tests.helpers.signin import PASSWORD, sign_in


def omni_rules(**rule):
    data = load_preset("default").to_dict()
    for state in data["states"]:
        if state["id"] in ("ready", "break", "dnd"):
            state["adapters"] = {"omni_channel": {"ready": "Available", "break": "Break", "dnd": "Busy"}[state["id"]]}
    data["inbound"] = {"omni-channel": rule}
    return build_config(data, "test")


def setup(make_app, **rule):
    app = make_app(ADAPTERS=[OmniChannelAdapter({})])
    parts = get_parts(app)
    parts.configs.apply(omni_rules(**rule), "test", "test")
    accounts.add_agent(parts.store, {"id": "edred", "name": "Edred"}, parts.clock())
    parts.service.login("edred", "Softphone", "browser")
    api = Api(app, app.test_client())
    return parts, api, api.token("agent", agent_id="edred")


def status_changed(api, token, name: str):
    return api.call(
        "POST", "/api/v1/agents/edred/omni-channel", token, {"event": "statusChanged", "developer_name": name}
    )


def test_an_omni_change_over_a_supervisors_state_is_refused_when_the_rule_says_so(make_app):
    parts, api, token = setup(make_app, over_supervisor=False)
    parts.service.set_state("edred", "dnd", source="supervisor")
    reply = status_changed(api, token, "Break")
    assert reply.status_code == 200 and reply.get_json()["state"]["id"] == "dnd"  # refused: nothing changed
    parts.service.set_state("edred", "ready")
    reply = status_changed(api, token, "Break")
    assert reply.get_json()["state"]["id"] == "break"
    assert reply.get_json()["state_from"] == "Omni-Channel"


def test_omni_changes_can_be_switched_off_and_mapped_by_the_rule(make_app):
    parts, api, token = setup(make_app, apply=False)
    assert status_changed(api, token, "Break").get_json()["state"]["id"] == "ready"
    parts.configs.apply(omni_rules(map={"Break": "lunch"}), "test", "test")
    assert status_changed(api, token, "Break").get_json()["state"]["id"] == "lunch"


def test_the_admin_editor_refuses_a_bad_inbound_rule_naming_the_field(client, parts, api):
    accounts.add_user(parts.store, "ada", PASSWORD, "admin", parts.clock())
    csrf = sign_in(client, "ada")
    config = load_preset("teams").to_dict()
    config["inbound"]["teams"]["on_end"] = "later"
    config["inbound"]["teams"]["from_statuses"] = [9]
    reply = client.post("/admin/api/config/validate", json={"config": config}, headers={"X-CSRF-Token": csrf})
    assert reply.status_code == 422
    fields = {p["field"] for p in reply.get_json()["error"]["problems"]}
    assert fields == {"inbound.teams.on_end", "inbound.teams.from_statuses"}


def test_a_pause_made_on_the_phone_follows_the_pbx_rule(make_app):
    adapter = AsteriskAmiAdapter({"host": "127.0.0.1", "username": "connector", "secret": "s3cret"})
    app = make_app(ADAPTERS=[adapter], CONNECTOR_PRESENCE_CONFIG="asterisk")
    parts = get_parts(app)
    data = load_preset("asterisk").to_dict()
    data["inbound"] = {"pbx": {"from_statuses": [1]}}  # a pause on the phone applies only from Ready
    parts.configs.apply(build_config(data, "test"), "test", "test")
    accounts.add_agent(parts.store, {"id": "edred", "name": "Edred", "extension": "3000"}, parts.clock())
    parts.service.login("edred", "Paired Device", "deskphone")
    parts.service.set_state("edred", "break")
    pause = {"Event": "QueueMemberPause", "Interface": "PJSIP/3000", "Paused": "1", "PausedReason": "Follow-up"}
    assert adapter.on_event(pause) is None  # refused: the agent is on a break
    assert parts.service.presence("edred")["state"]["id"] == "break"
    parts.service.set_state("edred", "ready")
    assert adapter.on_event({**pause, "PausedReason": "Do Not Disturb"}) == "dnd"
    assert parts.service.presence("edred")["state_from"] == "PBX"
