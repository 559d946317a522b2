"""Agent sessions and the licence audit: each rule through the engine and through the API.

The timed rules (inactivity, connection loss, scheduled log off) also survive a restart.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import UTC, datetime, time, timedelta

import pytest
from sqlalchemy import select

from connector.auth import accounts
from connector.errors import Conflict
from connector.parts import get_parts
from connector.presence.config import load_preset
from connector.presence.engine import AgentSession, Engine, LogonEvent, LogonSource, SessionEnded, StateChanged
from connector.presence.model import PresenceConfig
from connector.reports import queries as reports
from connector.store.models import OutboxRow

T0 = datetime(2026, 3, 6, 9, 0, tzinfo=UTC)


def configured(preset: str = "default", **session) -> PresenceConfig:
    config = load_preset(preset)
    return replace(config, options=replace(config.options, session=replace(config.options.session, **session)))


def apply(parts, config: PresenceConfig) -> None:
    parts.configs.apply(config, created_by="test", origin="test")


def released(decision) -> list[tuple[str, str]]:
    return [
        (e.logon_source, e.device) for e in decision.effects if isinstance(e, LogonEvent) and e.action == "Released"
    ]


# -- logon sources and the export ---------------------------------------------------------------


def test_seed_example_softphone_and_paired_device_are_two_acquired_events(api, clock):
    api.agent("edred", extension="3000")
    integration = api.token("integration")
    api.call("POST", "/api/v1/agents/edred/login", api.token("agent", "edred"), {"device": "browser-1"})
    clock.advance(250)
    r = api.call(
        "POST", "/api/v1/agents/edred/login", integration, {"logon_source": "Paired Device", "device": "deskphone-3000"}
    )
    assert r.status_code == 200 and len(r.json["logons"]) == 2
    admin = api.token("admin")
    events = api.call("GET", "/api/v1/logon-events", admin).json["events"]
    assert [(e["action"], e["logon_source"]) for e in events] == [
        ("Acquired", "Softphone"),
        ("Acquired", "Paired Device"),
    ]
    only_paired = api.call("GET", "/api/v1/logon-events?include=Paired%20Device", admin).json["events"]
    assert [(e["agent_id"], e["logon_source"]) for e in only_paired] == [("edred", "Paired Device")]
    csv_text = api.client.get(
        "/api/v1/logon-events?exclude=Softphone", headers={**admin, "Accept": "text/csv"}
    ).get_data(as_text=True)
    assert csv_text.splitlines()[0] == "at,agent_id,agent_name,action,logon_source,device,actor"
    assert len(csv_text.splitlines()) == 2 and "Paired Device" in csv_text


def test_export_cli_filters_logon_sources(make_app, clock, tmp_path, monkeypatch):
    from click.testing import CliRunner

    from connector.cli import main

    app = make_app()
    parts = get_parts(app)
    accounts.add_agent(parts.store, {"id": "edred"}, clock())
    parts.service.login("edred", LogonSource.SOFTPHONE, "browser-1")
    parts.service.login("edred", LogonSource.PAIRED_DEVICE, "deskphone")
    apply(parts, configured(scheduled_logoff=time(9, 30), heartbeat_grace_seconds=0))
    clock.advance(minutes=31)
    monkeypatch.setenv("CONNECTOR_DATABASE_URL", str(parts.settings.database_url))
    monkeypatch.setenv("CONNECTOR_INSTANCE_PATH", str(tmp_path / "instance"))
    assert parts.service.scheduled_logoff() == 1
    out = CliRunner().invoke(
        main,
        [
            "export",
            "logon-events",
            "--from",
            "2026-03-06",
            "--to",
            "2026-03-06",
            "--include",
            "Softphone",
            "--include",
            "Scheduled Log Off",
            "--exclude",
            "Scheduled Log Off",
            "--format",
            "json",
        ],
    )
    assert out.exit_code == 0, out.output
    import json

    rows = json.loads(out.output)
    assert [(r["action"], r["logon_source"]) for r in rows] == [("Acquired", "Softphone")]


def test_time_in_session_is_derived_from_the_events(api, clock):
    api.agent("edred")
    token = api.token("agent", "edred")
    api.call("POST", "/api/v1/agents/edred/login", token)
    clock.advance(60)
    api.call("POST", "/api/v1/agents/edred/logout", token)
    clock.advance(600)
    api.call("POST", "/api/v1/agents/edred/login", token)
    clock.advance(30)
    assert api.call("GET", "/api/v1/agents/edred/stats", token).json["session_seconds"] == 90


# -- inactivity ---------------------------------------------------------------------------------


def test_engine_logs_out_after_the_inactivity_time_at_the_moment_it_lapsed():
    engine = Engine(configured(inactivity_logout_seconds=600, heartbeat_grace_seconds=0))
    s = engine.login(AgentSession("edred"), T0, LogonSource.API, "crm").session
    s = engine.set_state(s, T0 + timedelta(seconds=100), "dnd", source="api").session
    assert engine.settle(s, T0 + timedelta(seconds=699)).effects == []
    d = engine.settle(s, T0 + timedelta(seconds=5000))
    assert released(d) == [(LogonSource.INACTIVITY, "crm")]
    assert d.state_changes[-1].at == T0 + timedelta(seconds=700)


def test_inactivity_sweep_logs_out_through_the_api_and_after_a_restart(make_app, clock):
    app = make_app()
    parts = get_parts(app)
    apply(parts, configured(inactivity_logout_seconds=300, heartbeat_grace_seconds=0))
    accounts.add_agent(parts.store, {"id": "edred"}, clock())
    accounts.add_agent(parts.store, {"id": "amira"}, clock())
    parts.service.login("edred", LogonSource.API, "crm")
    parts.service.login("amira", LogonSource.API, "crm")
    clock.advance(200)
    parts.service.heartbeat("amira")  # amira is active
    parts.store.dispose()
    clock.advance(150)  # edred idle 350 s; the server restarted meanwhile
    restarted = get_parts(make_app())
    assert restarted.sweeper.settle_due() == 1
    events = reports.logon_events(restarted.reads, clock().date(), clock().date(), include=[LogonSource.INACTIVITY])
    assert [(e["agent_id"], e["at"]) for e in events] == [("edred", "2026-03-06T09:05:00Z")]
    assert restarted.service.presence("amira")["logged_in"] is True


# -- duplicate login ----------------------------------------------------------------------------


def test_engine_duplicate_login_reject_names_where_the_agent_is_logged_in():
    engine = Engine(configured(duplicate_login="reject"))
    s = engine.login(AgentSession("edred"), T0, LogonSource.SOFTPHONE, "browser-A").session
    with pytest.raises(Conflict) as exc:
        engine.login(s, T0, LogonSource.SOFTPHONE, "browser-B")
    assert "browser-A" in exc.value.message and exc.value.code == "already_logged_in"
    assert engine.login(s, T0, LogonSource.SOFTPHONE, "browser-A").effects == []  # same device: idempotent


def test_engine_duplicate_login_takeover_ends_the_old_session_and_says_why():
    engine = Engine(configured(duplicate_login="takeover"))
    s = engine.login(AgentSession("edred"), T0, LogonSource.SOFTPHONE, "browser-A").session
    d = engine.login(s, T0 + timedelta(seconds=5), LogonSource.SOFTPHONE, "browser-B")
    assert released(d) == [(LogonSource.DUPLICATE_LOGIN, "browser-A")]
    notice = next(e for e in d.effects if isinstance(e, SessionEnded))
    assert notice.device == "browser-A" and "browser-B" in notice.reason
    assert [lo.device for lo in d.session.logons] == ["browser-B"]
    assert not any(isinstance(e, StateChanged) for e in d.effects)  # presence carries on


def test_api_duplicate_login_409_then_takeover(api, parts):
    api.agent("edred")
    token = api.token("agent", "edred")
    assert api.call("POST", "/api/v1/agents/edred/login", token, {"device": "browser-A"}).status_code == 200
    r = api.call("POST", "/api/v1/agents/edred/login", token, {"device": "browser-B"})
    assert r.status_code == 409 and "browser-A" in r.json["error"]["message"]
    apply(parts, configured(duplicate_login="takeover"))
    subscription = parts.bus.subscribe()
    r = api.call("POST", "/api/v1/agents/edred/login", token, {"device": "browser-B"})
    assert r.status_code == 200 and [lo["device"] for lo in r.json["logons"]] == ["browser-B"]
    ended = [e for e in iter(lambda: subscription.get(0.01), None) if e["event"] == "session_ended"]
    assert ended and ended[0]["data"]["device"] == "browser-A"
    events = api.call("GET", "/api/v1/logon-events", api.token("admin")).json["events"]
    assert ("Released", "Duplicate Login", "browser-A") in {
        (e["action"], e["logon_source"], e["device"]) for e in events
    }


# -- logout precondition ------------------------------------------------------------------------


def test_logout_only_from_not_ready_like_ipcc(api, parts):
    apply(parts, configured(logout_allowed_statuses=(4,)))  # only from DND (Not Ready)
    api.agent("edred")
    token = api.token("agent", "edred")
    api.call("POST", "/api/v1/agents/edred/login", token)
    r = api.call("POST", "/api/v1/agents/edred/logout", token)
    assert r.status_code == 409 and r.json["error"]["code"] == "logout_not_allowed"
    assert "Ready for Calls (Online)" in r.json["error"]["message"] and "4 (DND)" in r.json["error"]["message"]
    api.call("PUT", "/api/v1/agents/edred/presence", token, {"state": "dnd"})
    assert api.call("POST", "/api/v1/agents/edred/logout", token).status_code == 200
    # a supervisor's logout is not bound by the agent's precondition
    api.call("POST", "/api/v1/agents/edred/login", token)
    assert api.call("POST", "/api/v1/agents/edred/logout", api.token("supervisor")).status_code == 200


# -- connection loss ----------------------------------------------------------------------------


def test_engine_connection_loss_goes_offline_then_back_or_out():
    engine = Engine(configured(heartbeat_grace_seconds=60, reconnect_window_seconds=120))
    s = engine.login(AgentSession("edred"), T0, LogonSource.SOFTPHONE, "browser-A").session
    s = engine.set_state(s, T0 + timedelta(seconds=10), "break").session
    d = engine.settle(s, T0 + timedelta(seconds=80))
    assert [e.current.id for e in d.state_changes] == ["offline"] and d.state_changes[0].at == T0 + timedelta(
        seconds=70
    )
    back = engine.heartbeat(d.session, T0 + timedelta(seconds=100))
    assert back.session.state_id == "break" and back.session.connection_lost_at is None
    gone = engine.settle(d.session, T0 + timedelta(seconds=500))
    assert released(gone) == [(LogonSource.CONNECTION_LOST, "browser-A")]
    assert gone.state_changes[-1].at == T0 + timedelta(seconds=190)


def test_connection_loss_through_the_api_tracks_offline_time_and_survives_a_restart(make_app, clock):
    app = make_app()
    parts = get_parts(app)
    apply(parts, configured(heartbeat_grace_seconds=60, reconnect_window_seconds=120))
    accounts.add_agent(parts.store, {"id": "edred"}, clock())
    client = app.test_client()
    token = {"Authorization": "Bearer " + accounts.create_token(parts.store, "agent", clock(), agent_id="edred")}
    client.post("/api/v1/agents/edred/login", headers=token, json={"device": "browser-A"})
    clock.advance(30)
    assert client.post("/api/v1/agents/edred/heartbeat", headers=token).status_code == 200
    parts.store.dispose()
    clock.advance(100)  # last heartbeat 100 s ago; the server restarted meanwhile
    app = make_app()
    restarted = get_parts(app)
    restarted.sweeper.settle_due()
    view = restarted.service.presence("edred")
    assert view["state"]["id"] == "offline" and view["connection_lost"]
    clock.advance(20)
    r = app.test_client().post("/api/v1/agents/edred/heartbeat", headers=token)
    assert r.json["state"]["id"] == "ready" and not r.json["connection_lost"]
    rows = {r["state_id"]: r["seconds"] for r in reports.time_tracking(restarted.reads, clock().date(), clock().date())}
    assert rows == {"ready": 90 + 0, "offline": 60}
    clock.advance(500)
    restarted.sweeper.settle_due()
    out = reports.logon_events(restarted.reads, clock().date(), clock().date(), include=[LogonSource.CONNECTION_LOST])
    assert len(out) == 1 and restarted.service.presence("edred")["logged_in"] is False


# -- scheduled log off --------------------------------------------------------------------------


def test_scheduled_log_off_once_skips_callers_until_the_call_ends_and_survives_restart(make_app, clock):
    app = make_app(CONNECTOR_TIMEZONE="Europe/Berlin")
    parts = get_parts(app)
    apply(parts, configured(scheduled_logoff=time(18, 0), heartbeat_grace_seconds=0))
    for agent_id in ("edred", "amira"):
        accounts.add_agent(parts.store, {"id": agent_id}, clock())
        parts.service.login(agent_id, LogonSource.PAIRED_DEVICE, f"deskphone-{agent_id}")
    clock.now = datetime(2026, 3, 6, 16, 55, tzinfo=UTC)  # 17:55 in Berlin
    parts.service.call_event("amira", "c1", "started", "inbound")
    assert parts.service.scheduled_logoff() == 0  # not yet 18:00
    clock.now = datetime(2026, 3, 6, 17, 0, 40, tzinfo=UTC)  # 18:00:40
    assert parts.service.scheduled_logoff() == 1  # edred; amira is on a call
    assert parts.service.presence("amira")["logoff_pending"] is True
    assert parts.service.scheduled_logoff() == 0  # does not fire twice
    clock.advance(120)
    parts.service.call_event("amira", "c1", "ended", "inbound", 300)
    assert parts.service.presence("amira")["logged_in"] is False  # logged off when the call ended, no wrap-up
    clock.advance(60)
    parts.service.login("edred", LogonSource.PAIRED_DEVICE, "deskphone-edred")  # back for a late shift
    parts.store.dispose()
    restarted = get_parts(make_app(CONNECTOR_TIMEZONE="Europe/Berlin"))
    assert restarted.service.scheduled_logoff() == 0  # the restart does not log edred off again
    events = reports.logon_events(
        restarted.reads, clock().date(), clock().date(), include=[LogonSource.SCHEDULED_LOG_OFF]
    )
    assert [(e["agent_id"], e["at"]) for e in events] == [
        ("edred", "2026-03-06T17:00:00Z"),
        ("amira", "2026-03-06T17:02:40Z"),
    ]


# -- PBX short-code login -----------------------------------------------------------------------


def test_pbx_short_code_login_checks_the_pin_and_sends_no_code_back_to_the_pbx(api, parts):
    api.agent("edred", extension="3000", pin="73915")
    apply(parts, load_preset("avaya_ip_office"))
    parts.service.outbox_targets = lambda config: ["pbx", "teams"]
    pbx = api.token("integration")
    r = api.call("POST", "/api/v1/pbx/login", pbx, {"extension": "3000", "pin": "11111"})
    assert r.status_code == 403 and r.json["error"]["field"] == "pin" and "11111" not in r.get_data(as_text=True)
    r = api.call("POST", "/api/v1/pbx/login", pbx, {"extension": "3000", "pin": "12"})
    assert r.status_code == 422 and r.json["error"]["field"] == "pin"
    r = api.call("POST", "/api/v1/pbx/login", pbx, {"extension": "3000", "pin": "73915"})
    assert r.status_code == 200 and r.json["logons"][0]["logon_source"] == "PBX Short Code"
    assert api.call("POST", "/api/v1/pbx/logout", pbx, {"extension": "3000"}).json["logged_in"] is False
    with parts.store.read() as s:
        sent = [(row.adapter, row.kind) for row in s.execute(select(OutboxRow).order_by(OutboxRow.id)).scalars()]
    assert not [kind for adapter, kind in sent if adapter == "pbx"]  # the PBX did it itself: no echo
    assert [kind for adapter, kind in sent if adapter == "teams"].count("presence") == 2
    r = api.call("POST", "/api/v1/pbx/login", pbx, {"extension": "9999", "pin": "73915"})
    assert r.status_code == 404 and r.json["error"]["field"] == "extension"


def test_softphone_login_sends_the_pbx_login_code_with_a_sealed_pin_shown_nowhere(api, parts, caplog, tmp_path):
    caplog.set_level(logging.DEBUG)
    api.agent("edred", extension="3000", pin="73915")
    apply(parts, load_preset("avaya_ip_office"))
    parts.service.outbox_targets = lambda config: ["pbx"]
    token = api.token("agent", "edred")
    r = api.call("POST", "/api/v1/agents/edred/login", token)
    assert r.status_code == 422 and r.json["error"]["field"] == "pin"
    assert api.call("POST", "/api/v1/agents/edred/login", token, {"pin": "73915"}).status_code == 200
    api.call("PUT", "/api/v1/agents/edred/presence", token, {"state": "dnd"})
    api.call("POST", "/api/v1/agents/edred/logout", token)
    with parts.store.read() as s:
        rows = s.execute(select(OutboxRow).order_by(OutboxRow.id)).scalars().all()
        assert [row.kind for row in rows] == ["login", "presence", "presence", "presence", "logout"]
        assert rows[0].payload["extension"] == "3000"
        from connector.auth.hashing import unseal

        assert unseal(rows[0].payload["pin_sealed"], parts.settings.secret_key) == "73915"
    export = api.client.get("/api/v1/logon-events", headers={**api.token("admin"), "Accept": "text/csv"})
    db_bytes = (tmp_path / "presence.db").read_bytes() + (tmp_path / "presence.db-wal").read_bytes()
    for place in (caplog.text, export.get_data(as_text=True), db_bytes.decode("latin-1")):
        assert "73915" not in place


# -- counters -----------------------------------------------------------------------------------


def test_instantaneous_counters_per_agent_per_day(api, clock):
    api.agent("edred")
    token, pbx = api.token("agent", "edred"), api.token("integration")
    api.call("POST", "/api/v1/agents/edred/login", token)
    for n, (direction, duration) in enumerate([("inbound", 60), ("inbound", 0), ("outbound", 30), ("internal", 20)]):
        api.call(
            "POST", "/api/v1/agents/edred/calls", pbx, {"call_id": f"c{n}", "event": "started", "direction": direction}
        )
        clock.advance(10)
        api.call(
            "POST",
            "/api/v1/agents/edred/calls",
            pbx,
            {"call_id": f"c{n}", "event": "ended", "direction": direction, "duration_seconds": duration},
        )
        if n == 0:
            api.call("POST", "/api/v1/agents/edred/wrap-up/extend", token, {"seconds": 30})
        clock.advance(120)
        api.call("POST", "/api/v1/agents/edred/heartbeat", token)
    stats = api.call("GET", "/api/v1/agents/edred/stats?date=2026-03-06", token).json["counters"]
    assert stats == {
        "calls_inbound_answered": 1,
        "calls_outbound_answered": 1,
        "calls_internal_answered": 1,
        "calls_ring_only": 1,
        "wrap_ups_completed": 2,
        "wrap_ups_extended": 1,
        "logins": 1,
    }
    r = api.call("GET", "/api/v1/agents/edred/stats?date=06.03.2026", token)
    assert r.status_code == 422 and r.json["error"]["field"] == "date"
