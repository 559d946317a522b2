"""Adapter secrets stay bound to where they go, and adapters saved on the admin page reach no private
address unless CONNECTOR_ALLOW_PRIVATE_TARGETS lists it (issue 25, findings 3 and 4). Refusals are
tested without sending anything: any connection attempt fails the test."""

from __future__ import annotations

import socket

import pytest
import requests

from connector.auth import accounts
from connector.parts import get_parts
from tests.helpers.signin import PASSWORD, sign_in

HOOK = "https://hooks.acme.example/presence"
TOKEN = "webhook-bearer-token-5150-secret"
AMI_SECRET = "ami-secret-5150"


@pytest.fixture(autouse=True)
def no_adapter_environment(monkeypatch):
    for name in ("WEBHOOK_URL", "WEBHOOK_TOKEN", "WEBHOOK_TIMEOUT", "AMI_HOST", "AMI_PORT", "AMI_SECRET"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def no_traffic(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError(f"a refused destination was contacted: {args!r}")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(requests.Session, "send", refuse)


def admin_of(app):
    if not accounts.list_users(get_parts(app).store):  # a second app on the same store has them already
        accounts.add_user(get_parts(app).store, "ada", PASSWORD, "admin", get_parts(app).clock())
    client = app.test_client()
    token = sign_in(client, "ada")

    def call(method: str, path: str, json=None):
        return client.open(path, method=method, json=json, headers={"X-CSRF-Token": token})

    return call


def setting(admin, adapter: str, env: str) -> dict:
    rows = {a["name"]: a for a in admin("GET", "/admin/api/adapters").get_json()["adapters"]}
    return next(r for r in rows[adapter]["settings"] if r["env"] == env)


# -- finding 3: a changed destination does not take the saved secret along --------------------------


def test_changing_only_the_webhook_url_clears_its_saved_token(make_app):
    admin = admin_of(make_app())
    save = "/admin/api/adapters/webhook"
    assert (
        admin("POST", save, {"values": {"WEBHOOK_URL": HOOK}, "secrets": {"WEBHOOK_TOKEN": TOKEN}}).status_code == 200
    )
    assert setting(admin, "webhook", "WEBHOOK_TOKEN")["set"] is True
    moved = admin("POST", save, {"values": {"WEBHOOK_URL": "https://elsewhere.example/hook"}})
    assert moved.status_code == 200
    assert setting(admin, "webhook", "WEBHOOK_TOKEN")["set"] is False
    assert "WEBHOOK_TOKEN cleared (WEBHOOK_URL changed)" in moved.get_json()["adapter"]["changes"][0]["summary"]
    # given again in the same save, it stays
    both = {"values": {"WEBHOOK_URL": HOOK}, "secrets": {"WEBHOOK_TOKEN": TOKEN}}
    assert admin("POST", save, both).status_code == 200
    assert setting(admin, "webhook", "WEBHOOK_TOKEN")["set"] is True
    # other settings change freely
    assert admin("POST", save, {"values": {"WEBHOOK_TIMEOUT": "8"}}).status_code == 200
    assert setting(admin, "webhook", "WEBHOOK_TOKEN")["set"] is True


def test_changing_the_ami_host_or_port_clears_the_saved_ami_secret(make_app):
    admin = admin_of(make_app())
    save = "/admin/api/adapters/asterisk_ami"
    first = {
        "values": {"AMI_HOST": "pbx.acme.example", "AMI_USERNAME": "presence"},
        "secrets": {"AMI_SECRET": AMI_SECRET},
    }
    assert admin("POST", save, first).status_code == 200
    assert admin("POST", save, {"values": {"AMI_PORT": "5039"}}).status_code == 200
    assert setting(admin, "asterisk_ami", "AMI_SECRET")["set"] is False


def test_a_secret_from_the_environment_must_be_given_again_when_the_page_moves_its_destination(make_app, monkeypatch):
    monkeypatch.setenv("WEBHOOK_TOKEN", TOKEN)
    admin = admin_of(make_app())
    res = admin("POST", "/admin/api/adapters/webhook", {"values": {"WEBHOOK_URL": HOOK}})
    assert res.status_code == 422 and res.get_json()["error"]["field"] == "WEBHOOK_TOKEN"
    assert TOKEN not in res.get_data(as_text=True)
    assert setting(admin, "webhook", "WEBHOOK_URL")["source"] != "page"  # nothing saved


# -- finding 4: no private targets unless listed ---------------------------------------------------

PRIVATE_URLS = [
    "http://127.0.0.1:9/hook",
    "http://0x7f000001:9/hook",
    "http://2130706433/hook",
    "http://0177.0.0.1/hook",
    "http://127.1/hook",
    "http://localhost:9/hook",
    "http://[::1]:9/hook",
    "http://[::ffff:127.0.0.1]/hook",
    "http://169.254.169.254/latest/meta-data",
    "http://10.1.2.3/hook",
    "http://192.168.1.20/hook",
    "http://[fd00::1]/hook",
    "http://0.0.0.0:9/hook",
]


@pytest.mark.parametrize("url", PRIVATE_URLS)
def test_private_loopback_and_link_local_urls_are_refused_without_sending(make_app, no_traffic, url):
    app = make_app()
    admin = admin_of(app)
    res = admin("POST", "/admin/api/adapters/webhook", {"enabled": True, "values": {"WEBHOOK_URL": url}})
    assert res.status_code == 422, url
    error = res.get_json()["error"]
    assert error["field"] == "WEBHOOK_URL" and "CONNECTOR_ALLOW_PRIVATE_TARGETS" in error["message"]
    assert "webhook" not in get_parts(app).dispatcher.adapters
    assert setting(admin, "webhook", "WEBHOOK_URL")["source"] != "page"


def test_an_ami_host_on_the_lan_is_refused_until_it_is_listed(make_app, no_traffic):
    body = {"values": {"AMI_HOST": "10.20.0.5", "AMI_USERNAME": "presence"}, "secrets": {"AMI_SECRET": AMI_SECRET}}
    admin = admin_of(make_app())
    res = admin("POST", "/admin/api/adapters/asterisk_ami", body)
    assert res.status_code == 422 and res.get_json()["error"]["field"] == "AMI_HOST"
    listed = admin_of(make_app(CONNECTOR_ALLOW_PRIVATE_TARGETS="10.20.0.0/16 pbx.lan"))
    assert listed("POST", "/admin/api/adapters/asterisk_ami", body).status_code == 200
    other = {"values": {"AMI_HOST": "192.168.7.7"}, "secrets": {"AMI_SECRET": AMI_SECRET}}
    assert listed("POST", "/admin/api/adapters/asterisk_ami", other).status_code == 422


def test_a_bad_allow_list_stops_start_up_naming_the_setting(make_app):
    with pytest.raises(Exception) as caught:
        make_app(CONNECTOR_ALLOW_PRIVATE_TARGETS="10.0.0.0/99")
    assert "CONNECTOR_ALLOW_PRIVATE_TARGETS" in str(caught.value)


def test_test_connection_says_not_reachable_the_same_way_for_a_closed_port(make_app):
    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    app = make_app(CONNECTOR_ALLOW_PRIVATE_TARGETS="127.0.0.1")
    admin = admin_of(app)
    body = {
        "enabled": True,
        "values": {"AMI_HOST": "127.0.0.1", "AMI_PORT": str(port), "AMI_USERNAME": "presence", "AMI_TIMEOUT": "1"},
        "secrets": {"AMI_SECRET": AMI_SECRET},
    }
    assert admin("POST", "/admin/api/adapters/asterisk_ami", body).status_code == 200
    result = admin("POST", "/admin/api/adapters/asterisk_ami/test").get_json()
    assert result["ok"] is False
    assert result["message"] == f"Asterisk AMI at 127.0.0.1:{port} not reachable"  # no 'refused' vs 'timed out'
