"""A third-party adapter, written from the README's "Writing an adapter" and installed as a separate
distribution (an entry point in its own dist-info), runs in the real app through the Host port only."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from connector.auth import accounts
from connector.cli import main
from connector.errors import ConfigError
from connector.parts import get_parts
from connector.presence.config import load_config

ADAPTER = '''
"""A desk-sign adapter: lights a sign per extension, and the sign's button reports breaks back."""
from adapters import Adapter, InboundRejected, Job, Setting

SENT = []


class DeskSignAdapter(Adapter):
    name = "desk_sign"
    prefix = "DESK_SIGN_"
    settings = {"colour_of_ready": Setting(str, default="green")}
    inbound_fields = ("extension", "button")
    inbound_roles = ("integration",)

    def push(self, agent, change):
        if change.kind == "presence":
            colour = self.config["colour_of_ready"] if change.state and change.state.status == 1 else "red"
            SENT.append((agent.extension, colour, change.mapped("desk_sign"), change.key))

    def receive(self, agent_id, event):
        owner = self.host.agent_for_extension(str(event.get("extension", "")))
        if owner != agent_id:
            raise InboundRejected("this sign is not on the agent's desk", field="extension")
        if event.get("button") != "break":
            raise InboundRejected("button must be 'break'", field="button")
        return self.host.set_state(agent_id, "break", source=self.name)

    def jobs(self):
        return [Job("desk-sign-census", lambda: len(self.host.presences()), 60)]

    @classmethod
    def check_mapping(cls, value):
        return [] if value in ("green", "red", "off") else [f"the sign shows green, red or off, not {value!r}"]
'''


@pytest.fixture
def desk_sign(tmp_path, monkeypatch):
    """Install the adapter as its own distribution: a module plus a dist-info with its entry point."""
    (tmp_path / "desk_sign_adapter.py").write_text(textwrap.dedent(ADAPTER))
    info = tmp_path / "desk_sign_adapter-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: desk-sign-adapter\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[presence_connector.adapters]\ndesk_sign = desk_sign_adapter:DeskSignAdapter\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield
    sys.modules.pop("desk_sign_adapter", None)


def test_a_third_party_adapter_is_found_bound_and_fed_through_the_host(desk_sign, make_app, monkeypatch):
    monkeypatch.setenv("DESK_SIGN_COLOUR_OF_READY", "blue")  # its own prefixed setting, from the environment
    app = make_app(CONNECTOR_ADAPTERS="desk_sign")
    parts = get_parts(app)
    import desk_sign_adapter

    accounts.add_agent(parts.store, {"id": "edred", "name": "Edred", "extension": "3000"}, parts.clock())
    assert "desk-sign-census" in [job.id for job in parts.jobs]

    parts.service.login("edred", "Softphone", "browser")
    parts.dispatcher.drain()
    assert desk_sign_adapter.SENT == [("3000", "blue", None, desk_sign_adapter.SENT[0][3])]
    assert desk_sign_adapter.SENT[0][3].startswith("outbox-")

    client = app.test_client()
    integration = {"Authorization": f"Bearer {accounts.create_token(parts.store, 'integration', parts.clock())}"}
    wrong = client.post(
        "/api/v1/adapters/desk_sign/agents/edred/events",
        headers=integration,
        json={"extension": "3001", "button": "break"},
    )
    assert wrong.status_code == 422 and wrong.json["error"]["field"] == "extension"
    pressed = client.post(
        "/api/v1/adapters/desk_sign/agents/edred/events",
        headers=integration,
        json={"extension": "3000", "button": "break"},
    )
    assert pressed.status_code == 200 and pressed.json["state"]["id"] == "break"
    parts.dispatcher.drain()
    assert len(desk_sign_adapter.SENT) == 1  # the sign's own change is not echoed back to it

    agent = {"Authorization": f"Bearer {accounts.create_token(parts.store, 'agent', parts.clock(), agent_id='edred')}"}
    refused = client.post(
        "/api/v1/adapters/desk_sign/agents/edred/events", headers=agent, json={"extension": "3000", "button": "break"}
    )
    assert refused.status_code == 403
    unknown = client.post("/api/v1/adapters/fax/agents/edred/events", headers=integration, json={})
    assert unknown.status_code == 404 and "desk_sign" in unknown.json["error"]["message"]


def test_a_third_party_adapters_own_mapping_check_runs_on_config_validate_and_apply(desk_sign, make_app, tmp_path):
    """The core names no adapter: the desk sign's check_mapping, found through the registry, judges its mappings."""
    default = tmp_path / "ok.yaml"
    text = (Path(__file__).parent.parent / "presence_configs" / "default.yaml").read_text()
    default.write_text(
        text.replace(
            '{id: lunch, label: Lunch, status: 3, colour: "#fbc02d"}',
            '{id: lunch, label: Lunch, status: 3, colour: "#fbc02d", adapters: {desk_sign: red}}',
        )
    )
    assert CliRunner().invoke(main, ["config", "validate", str(default)]).exit_code == 0

    bad = tmp_path / "bad.yaml"
    bad.write_text(default.read_text().replace("adapters: {desk_sign: red}", "adapters: {desk_sign: purple}"))
    result = CliRunner().invoke(main, ["config", "validate", str(bad)])
    assert result.exit_code == 2
    assert "state 'lunch', adapters.desk_sign: the sign shows green, red or off, not 'purple'" in result.output

    configs = get_parts(make_app()).configs  # what the admin editor, import and every apply check with
    with pytest.raises(ConfigError) as caught:
        load_config(str(bad), mapping_checks=configs.mapping_checks)
    assert [(p.field, p.state) for p in caught.value.problems] == [("adapters.desk_sign", "lunch")]
