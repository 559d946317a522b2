"""A configuration change (CLI ``config apply``, the admin page's editor, ``ensure`` at
start-up) re-times every open session in the same transaction: a timed rule switched on, off or changed
while agents are logged in takes effect at the right time, recorded like any other."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from click.testing import CliRunner
from sqlalchemy import select

from connector.auth import accounts
from connector.cli import main
from connector.parts import get_parts
from connector.presence.config import load_preset
from connector.presence.engine import LogonSource
from connector.presence.model import PresenceConfig
from connector.reports import queries as reports
from connector.store.models import AgentSessionRow, StateInterval
from tests.helpers.signin import PASSWORD, sign_in

T0 = datetime(2026, 3, 6, 9, 0, tzinfo=UTC)


def configured(preset: str = "default", wrap_up_seconds: int | None = None, **session) -> PresenceConfig:
    config = load_preset(preset)
    options = replace(config.options, session=replace(config.options.session, **session))
    if wrap_up_seconds is not None:
        options = replace(options, wrap_up_seconds=wrap_up_seconds)
    return replace(config, options=options)


def started(make_app, config: PresenceConfig | None = None):
    parts = get_parts(make_app())
    if config is not None:
        parts.configs.apply(config, created_by="test", origin="test")
    accounts.add_agent(parts.store, {"id": "edred"}, parts.clock())
    accounts.add_agent(parts.store, {"id": "amira"}, parts.clock())
    return parts


def released(parts, source: str = LogonSource.INACTIVITY) -> list[tuple[str, str]]:
    day = parts.clock().date()
    return [
        (e["agent_id"], e["at"])
        for e in reports.logon_events(parts.reads, day, day, include=[source])
        if e["action"] == "Released"
    ]


def next_due(parts, agent_id: str) -> datetime | None:
    with parts.store.read() as s:
        return s.get(AgentSessionRow, agent_id).next_due_at


def test_inactivity_switched_on_logs_out_idle_agents_when_it_is_due(make_app, clock):
    parts = started(make_app, configured(inactivity_logout_seconds=0, heartbeat_grace_seconds=0))
    parts.service.login("edred", LogonSource.API, "crm")
    parts.service.login("amira", LogonSource.API, "crm")
    clock.advance(100)
    parts.service.heartbeat("amira")  # amira active at +100, edred idle since +0
    clock.advance(1)
    parts.configs.apply(configured(inactivity_logout_seconds=2, heartbeat_grace_seconds=0), "test", "test")
    # edred idle for 101 s: due when the rule was switched on (not 99 s before it existed); amira at +102
    assert next_due(parts, "edred") == T0 + timedelta(seconds=101)
    assert next_due(parts, "amira") == T0 + timedelta(seconds=102)
    clock.advance(2)
    assert parts.sweeper.settle_due() == 2
    assert released(parts) == [("edred", "2026-03-06T09:01:41Z"), ("amira", "2026-03-06T09:01:42Z")]
    assert [a["logged_in"] for a in parts.service.agents()] == [False, False]
    # Ready time stops counting at the logout, also when read later
    clock.advance(60)
    rows = reports.time_tracking(parts.reads, clock().date(), clock().date(), agent_id="amira")
    assert [(r["state_id"], r["seconds"]) for r in rows] == [("ready", 102)]
    # and the agent can log in again (no 409 not_logged_in on every change)
    assert parts.service.login("amira", LogonSource.API, "crm").view["logged_in"] is True
    assert parts.service.set_state("amira", "break").view["state"]["id"] == "break"


def test_inactivity_shortened_applies_the_shorter_time_and_lengthened_the_longer(make_app, clock):
    parts = started(make_app, configured(inactivity_logout_seconds=600, heartbeat_grace_seconds=0))
    parts.service.login("edred", LogonSource.API, "crm")
    clock.advance(30)
    parts.configs.apply(configured(inactivity_logout_seconds=60, heartbeat_grace_seconds=0), "test", "test")
    clock.advance(31)  # +61
    assert parts.sweeper.settle_due() == 1
    assert released(parts) == [("edred", "2026-03-06T09:01:00Z")]

    parts.service.login("amira", LogonSource.API, "crm")  # at +61
    parts.configs.apply(configured(inactivity_logout_seconds=300, heartbeat_grace_seconds=0), "test", "test")
    assert next_due(parts, "amira") == T0 + timedelta(seconds=361)
    clock.advance(100)
    assert parts.sweeper.settle_due() == 0 and parts.service.presence("amira")["logged_in"] is True


def test_inactivity_switched_off_keeps_agents_logged_in(make_app, clock):
    parts = started(make_app, configured(inactivity_logout_seconds=60, heartbeat_grace_seconds=0))
    parts.service.login("edred", LogonSource.API, "crm")
    clock.advance(30)
    parts.configs.apply(configured(inactivity_logout_seconds=0, heartbeat_grace_seconds=0), "test", "test")
    assert next_due(parts, "edred") is None
    clock.advance(3600)
    parts.sweeper.settle_due()
    assert parts.service.presence("edred")["logged_in"] is True and released(parts) == []


def test_heartbeat_grace_switched_on_puts_a_silent_softphone_offline_when_due(make_app, clock):
    parts = started(make_app, configured(heartbeat_grace_seconds=0))
    parts.service.login("edred", LogonSource.SOFTPHONE, "browser")
    clock.advance(10)
    parts.configs.apply(configured(heartbeat_grace_seconds=30, reconnect_window_seconds=300), "test", "test")
    assert next_due(parts, "edred") == T0 + timedelta(seconds=30)
    clock.advance(21)
    assert parts.sweeper.settle_due() == 1
    with parts.store.read() as s:
        offline = s.execute(select(StateInterval).where(StateInterval.state_id == "offline")).scalar_one()
    assert (offline.started_at, offline.source, offline.cause) == (
        T0 + timedelta(seconds=30),
        "system",
        "connection lost",
    )
    # switched off again while offline: the reconnect window still ends the lost session
    parts.configs.apply(configured(heartbeat_grace_seconds=0, reconnect_window_seconds=300), "test", "test")
    assert next_due(parts, "edred") == T0 + timedelta(seconds=330)


def test_a_running_wrap_up_ends_as_scheduled_when_wrap_up_is_switched_off(make_app, clock):
    parts = started(make_app, configured(heartbeat_grace_seconds=0))  # wrap-up 30 s
    parts.service.login("edred", LogonSource.PAIRED_DEVICE, "desk")
    parts.service.call_event("edred", "c1", "started", "inbound")
    clock.advance(20)
    parts.service.call_event("edred", "c1", "ended", "inbound", 20)  # wrap-up until +50
    clock.advance(5)
    parts.configs.apply(configured(heartbeat_grace_seconds=0, wrap_up_seconds=0), "test", "test")
    assert next_due(parts, "edred") == T0 + timedelta(seconds=50)
    clock.advance(30)
    assert parts.sweeper.settle_due() == 1
    with parts.store.read() as s:
        ready = (
            s.execute(select(StateInterval).where(StateInterval.state_id == "ready").order_by(StateInterval.id.desc()))
            .scalars()
            .first()
        )
    assert (ready.started_at, ready.cause) == (T0 + timedelta(seconds=50), "wrap-up ended")


def test_config_apply_on_the_command_line_re_times_sessions(make_app, clock, tmp_path, monkeypatch):
    clock.now = datetime.now(UTC).replace(microsecond=0)  # the CLI process runs on the real clock
    parts = started(make_app, configured(heartbeat_grace_seconds=0))
    parts.service.login("edred", LogonSource.API, "crm")
    path = tmp_path / "inactive.yaml"
    path.write_text(configured(inactivity_logout_seconds=5, heartbeat_grace_seconds=0).to_yaml())
    monkeypatch.setenv("CONNECTOR_DATABASE_URL", str(parts.settings.database_url))
    monkeypatch.setenv("CONNECTOR_INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.delenv("CONNECTOR_PRESENCE_CONFIG", raising=False)
    out = CliRunner().invoke(main, ["config", "apply", str(path)])
    assert out.exit_code == 0, out.output
    due = next_due(parts, "edred")
    assert due is not None and clock() + timedelta(seconds=5) <= due <= datetime.now(UTC) + timedelta(seconds=5)
    clock.now = due + timedelta(seconds=1)
    assert parts.sweeper.settle_due() == 1 and len(released(parts)) == 1


def test_the_admin_editor_re_times_sessions(make_app, clock):
    parts = started(make_app, configured(heartbeat_grace_seconds=0))
    accounts.add_user(parts.store, "ada", PASSWORD, "admin", clock())
    parts.service.login("edred", LogonSource.API, "crm")
    clock.advance(10)
    client = make_app().test_client()
    token = sign_in(client, "ada")
    body = {"config": configured(inactivity_logout_seconds=20, heartbeat_grace_seconds=0).to_dict()}
    res = client.post("/admin/api/config", json=body, headers={"X-CSRF-Token": token})
    assert res.status_code == 200, res.get_data(as_text=True)
    assert next_due(parts, "edred") == T0 + timedelta(seconds=20)
    clock.advance(11)
    assert parts.sweeper.settle_due() == 1 and released(parts) == [("edred", "2026-03-06T09:00:20Z")]


def test_a_configuration_applied_at_start_up_re_times_sessions(make_app, clock, tmp_path):
    parts = started(make_app, configured(heartbeat_grace_seconds=0))
    parts.service.login("edred", LogonSource.API, "crm")
    parts.store.dispose()
    clock.advance(100)
    path = tmp_path / "inactive.yaml"
    path.write_text(configured(inactivity_logout_seconds=50, heartbeat_grace_seconds=0).to_yaml())
    restarted = get_parts(make_app(CONNECTOR_PRESENCE_CONFIG=str(path)))
    assert restarted.configs.active().options.session.inactivity_logout_seconds == 50
    assert next_due(restarted, "edred") == T0 + timedelta(seconds=100)  # idle 100 s: due when it came into force
    assert restarted.sweeper.settle_due() == 1
    assert released(restarted) == [("edred", "2026-03-06T09:01:40Z")]
    assert json.dumps(restarted.service.presence("edred")["logged_in"]) == "false"
