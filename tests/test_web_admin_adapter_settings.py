"""Adapters enabled and configured on the admin page: stored, validated, write-only secrets, applied live.

The webhook example adapter is the remote (faked with ``responses``); the store is the test's SQLite file.
"""

from __future__ import annotations

import json
import logging

import pytest
import responses
from sqlalchemy import select

from connector.auth import accounts
from connector.parts import get_parts
from connector.store.models import AdapterSettingsChange, AdapterSettingsRow, OutboxRow
from tests.helpers.api import admin_site
from tests.helpers.signin import pin_sign_in, sign_in, signed_in_caller

HOOK = "https://hooks.acme.example/presence"
TOKEN = "webhook-bearer-token-5150-secret"
SAVE = "/admin/api/adapters/webhook"


@pytest.fixture(autouse=True)
def no_webhook_environment(monkeypatch):
    for name in ("WEBHOOK_URL", "WEBHOOK_TOKEN", "WEBHOOK_TIMEOUT"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def site(make_app):
    return admin_site(make_app)


@pytest.fixture
def admin(site):
    return signed_in_caller(site)


def _webhook(admin) -> dict:
    return next(a for a in admin("GET", "/admin/api/adapters").get_json()["adapters"] if a["name"] == "webhook")


def _setting(adapter: dict, env: str) -> dict:
    return next(s for s in adapter["settings"] if s["env"] == env)


def _rows(app, adapter="webhook"):
    with get_parts(app).store.read() as s:
        rows = s.execute(select(OutboxRow).where(OutboxRow.adapter == adapter).order_by(OutboxRow.id)).scalars().all()
        s.expunge_all()
        return rows


def _enable(admin, **extra):
    body = {"enabled": True, "values": {"WEBHOOK_URL": HOOK}, "secrets": {"WEBHOOK_TOKEN": TOKEN}, **extra}
    return admin("POST", SAVE, body)


@pytest.mark.parametrize("who", ["supervisor", "agent"])
def test_agents_and_supervisors_cannot_save_adapter_settings(site, who):
    client = site.test_client()
    token = sign_in(client, "sue") if who == "supervisor" else pin_sign_in(client, "edred")
    res = client.post(SAVE, json={"enabled": True, "values": {"WEBHOOK_URL": HOOK}}, headers={"X-CSRF-Token": token})
    assert res.status_code == 403
    assert "webhook" not in get_parts(site).dispatcher.adapters
    with get_parts(site).store.read() as s:
        assert s.execute(select(AdapterSettingsRow)).first() is None


def test_saving_needs_the_csrf_token(admin, site):
    refused = admin("POST", SAVE, {"enabled": True, "values": {"WEBHOOK_URL": HOOK}}, csrf=False)
    assert refused.status_code == 403 and refused.get_json()["error"]["field"] == "X-CSRF-Token"
    assert _webhook(admin)["enabled"] is False and "webhook" not in get_parts(site).dispatcher.adapters


def test_enabled_on_the_page_the_next_change_is_delivered_without_a_restart(admin, site, caplog):
    caplog.set_level(logging.DEBUG)
    service, dispatcher = get_parts(site).service, get_parts(site).dispatcher
    service.login("edred", "Softphone", "browser")
    assert _rows(site) == []  # not enabled yet: no rows for it
    res = _enable(admin)
    assert res.status_code == 200 and res.get_json()["adapter"]["enabled"] is True
    service.set_state("edred", "break")
    assert [r.payload["state"]["id"] for r in _rows(site)] == ["break"]
    with responses.RequestsMock() as rsps:
        rsps.post(HOOK, json={})
        dispatcher.drain()
        [call] = rsps.calls
    assert call.request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert json.loads(call.request.body) == {
        "agent": "edred",
        "state": "break",
        "at": get_parts(site).clock().isoformat(),
    }
    assert all(r.delivered_at is not None for r in _rows(site))
    assert TOKEN not in caplog.text


def test_a_saved_secret_is_never_shown_back_only_as_set(admin, site, caplog):
    caplog.set_level(logging.DEBUG)
    saved = _enable(admin)
    bodies = [saved.get_data(as_text=True)]
    for path in ("/admin", "/admin/api/adapters"):
        bodies.append(admin("GET", path).get_data(as_text=True))
    api = site.test_client().get("/api/v1/adapters", headers=_bearer(site))
    assert api.status_code == 200
    bodies.append(api.get_data(as_text=True))
    assert all(TOKEN not in body for body in bodies) and TOKEN not in caplog.text
    token = _setting(_webhook(admin), "WEBHOOK_TOKEN")
    assert token == {
        "env": "WEBHOOK_TOKEN",
        "label": "Token",
        "required": False,
        "secret": True,
        "set": True,
        "source": "page",
        "help": "sent as 'Authorization: Bearer <token>'",
    }
    with get_parts(site).store.read() as s:
        row = s.get(AdapterSettingsRow, "webhook")
        assert TOKEN not in str(row.sealed) and set(row.sealed) == {"token"}
        changes = s.execute(select(AdapterSettingsChange)).scalars().all()
        assert [(c.adapter, c.changed_by) for c in changes] == [("webhook", "ada")]
        assert TOKEN not in changes[0].summary and "WEBHOOK_TOKEN replaced" in changes[0].summary
        assert f"WEBHOOK_URL = {HOOK}" in changes[0].summary


def _bearer(app) -> dict:
    parts = get_parts(app)
    return {"Authorization": f"Bearer {accounts.create_token(parts.store, 'admin', parts.clock())}"}


def test_an_empty_secret_field_keeps_the_secret_and_clear_removes_it(admin, site):
    _enable(admin)
    kept = admin("POST", SAVE, {"values": {"WEBHOOK_TIMEOUT": "7"}, "secrets": {"WEBHOOK_TOKEN": ""}})
    assert kept.status_code == 200
    assert _setting(kept.get_json()["adapter"], "WEBHOOK_TOKEN")["set"] is True
    assert get_parts(site).dispatcher.adapters["webhook"].config == {"url": HOOK, "token": TOKEN, "timeout": 7.0}
    cleared = admin("POST", SAVE, {"clear": ["WEBHOOK_TOKEN"]}).get_json()["adapter"]
    assert _setting(cleared, "WEBHOOK_TOKEN")["set"] is False
    assert get_parts(site).dispatcher.adapters["webhook"].config["token"] is None


@pytest.mark.parametrize(
    "body, field, words",
    [
        ({"enabled": True}, "WEBHOOK_URL", "WEBHOOK_URL is required"),
        (
            {"enabled": True, "values": {"WEBHOOK_URL": HOOK, "WEBHOOK_TIMEOUT": "soon"}},
            "WEBHOOK_TIMEOUT",
            "must be float",
        ),
        (
            {"enabled": True, "values": {"WEBHOOK_URL": HOOK, "WEBHOOK_TIMEOUT": "600"}},
            "WEBHOOK_TIMEOUT",
            "between 0.5 and 60",
        ),
        ({"enabled": True, "values": {"WEBHOOK_NOPE": "x"}}, "WEBHOOK_NOPE", "has no setting"),
        ({"enabled": True, "values": {"WEBHOOK_TOKEN": TOKEN}}, "WEBHOOK_TOKEN", "belongs in 'secrets'"),
        ({"enabled": "yes"}, "enabled", "true or false"),
    ],
)
def test_a_bad_value_is_refused_naming_the_setting_and_nothing_changes(admin, site, body, field, words):
    res = admin("POST", SAVE, body)
    assert res.status_code == 422
    error = res.get_json()["error"]
    assert error["field"] == field and words in error["message"]
    assert TOKEN not in res.get_data(as_text=True)
    assert "webhook" not in get_parts(site).dispatcher.adapters
    with get_parts(site).store.read() as s:
        assert s.execute(select(AdapterSettingsRow)).first() is None
        assert s.execute(select(AdapterSettingsChange)).first() is None


def test_a_bad_value_for_a_running_adapter_keeps_the_running_one(admin, site):
    _enable(admin)
    running = get_parts(site).dispatcher.adapters["webhook"]
    res = admin("POST", SAVE, {"values": {"WEBHOOK_TIMEOUT": "-1"}})
    assert res.status_code == 422 and res.get_json()["error"]["field"] == "WEBHOOK_TIMEOUT"
    assert get_parts(site).dispatcher.adapters["webhook"] is running
    assert _setting(_webhook(admin), "WEBHOOK_TIMEOUT")["value"] == 5.0


def test_disabled_no_new_rows_and_the_queued_ones_wait_in_health_until_enabled_again(admin, site):
    service, dispatcher = get_parts(site).service, get_parts(site).dispatcher
    _enable(admin)
    service.login("edred", "Softphone", "browser")  # queued, not delivered yet
    assert admin("POST", SAVE, {"enabled": False}).status_code == 200
    assert "webhook" not in dispatcher.adapters
    service.set_state("edred", "break")
    assert len(_rows(site)) == 1
    with responses.RequestsMock() as rsps:  # no request may reach the webhook
        dispatcher.drain()
        assert len(rsps.calls) == 0
    health = _webhook(admin)
    assert health["enabled"] is False and health["health"]["queue_depth"] == 1
    assert _enable(admin).status_code == 200
    with responses.RequestsMock() as rsps:
        rsps.post(HOOK, json={})
        dispatcher.drain()
        assert [b'"state": "ready"' in c.request.body for c in rsps.calls] == [True]
    assert _webhook(admin)["health"]["queue_depth"] == 0


def test_saved_settings_survive_a_restart(make_app):
    first = admin_site(make_app)
    _enable(signed_in_caller(first))
    again = admin_site(make_app)  # a restart on the same store
    adapter = get_parts(again).dispatcher.adapters["webhook"]
    assert adapter.config == {"url": HOOK, "token": TOKEN, "timeout": 5.0}
    shown = _webhook(signed_in_caller(again))
    assert shown["enabled"] is True and shown["enabled_by"] == "page"
    assert [c["by"] for c in shown["changes"]] == ["ada"]


def test_page_values_override_the_environment_which_stays_the_default(make_app, monkeypatch):
    monkeypatch.setenv("WEBHOOK_URL", "https://env.acme.example/hook")
    app = admin_site(make_app, CONNECTOR_ADAPTERS="webhook")
    admin = signed_in_caller(app)
    adapters = get_parts(app).dispatcher.adapters
    assert adapters["webhook"].config["url"] == "https://env.acme.example/hook"
    url = _setting(_webhook(admin), "WEBHOOK_URL")
    assert (url["source"], url["saved"]) == ("environment", None)
    admin("POST", SAVE, {"values": {"WEBHOOK_URL": HOOK}})
    assert get_parts(app).dispatcher.adapters["webhook"].config["url"] == HOOK
    admin("POST", SAVE, {"values": {"WEBHOOK_URL": ""}})  # empty: back to the environment
    assert get_parts(app).dispatcher.adapters["webhook"].config["url"] == "https://env.acme.example/hook"
    admin("POST", SAVE, {"enabled": False})  # the page may disable what CONNECTOR_ADAPTERS enables
    assert "webhook" not in get_parts(app).dispatcher.adapters
    assert "webhook" not in get_parts(admin_site(make_app, CONNECTOR_ADAPTERS="webhook")).dispatcher.adapters
