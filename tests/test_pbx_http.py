"""PBX dial codes over HTTP (desk phones' action URLs), faked with responses, through the dispatcher."""

from __future__ import annotations

import base64

import pytest
import responses
from sqlalchemy import select

from adapters.pbx_http import PbxHttpAdapter
from connector.auth import accounts
from connector.auth.hashing import seal
from connector.parts import get_parts
from connector.store.models import OutboxRow


def pbx(**settings) -> PbxHttpAdapter:
    return PbxHttpAdapter(
        {
            "url": "http://{phone}/servlet?key=number={code}",
            "phone_host": "phone-{extension}.lan",
            "auth": "basic",
            "username": "admin",
            "password": "ph0ne",
            **settings,
        }
    )


def app_with(make_app, adapter, preset="avaya_ip_office", **fields):
    app = make_app(ADAPTERS=[adapter], CONNECTOR_PRESENCE_CONFIG=preset)
    parts = get_parts(app)
    accounts.add_agent(parts.store, {"id": "edred", "name": "Edred", "extension": "3000", **fields}, parts.clock())
    return app, parts, get_parts(app).dispatcher


@responses.activate
def test_yealink_action_urls_carry_reason_codes_and_dialled_numbers(make_app):
    app, parts, dispatcher = app_with(make_app, pbx())
    responses.get("http://phone-3000.lan/servlet", status=200)
    parts.service.login("edred", "Softphone", "browser")
    dispatcher.drain()
    parts.service.set_state("edred", "break")
    dispatcher.drain()
    parts.service.dial("edred", "+49301234")
    dispatcher.drain()
    assert [c.request.url for c in responses.calls] == [
        "http://phone-3000.lan/servlet?key=number=%2A60",
        "http://phone-3000.lan/servlet?key=number=%2A61",
        "http://phone-3000.lan/servlet?key=number=%2B49301234",
    ]
    assert responses.calls[0].request.headers["Authorization"] == "Basic " + base64.b64encode(b"admin:ph0ne").decode()


@responses.activate
def test_snom_with_digest_auth_and_a_post_api_with_headers(make_app):
    snom = PbxHttpAdapter(
        {
            "url": "http://{phone}/command.htm?number={code}",
            "phone_host": "10.0.0.{extension}",
            "auth": "digest",
            "username": "admin",
            "password": "ph0ne",
        }
    )
    responses.get(
        "http://10.0.0.3000/command.htm",
        status=401,
        headers={"WWW-Authenticate": 'Digest realm="snom", nonce="abc123", qop="auth"'},
    )
    responses.get("http://10.0.0.3000/command.htm", status=200)
    from adapters.base import AgentInfo, Change

    snom.push(AgentInfo("edred", extension="3000"), Change("dial", at=None, number="*61"))
    assert len(responses.calls) == 2
    digest = responses.calls[1].request.headers["Authorization"]
    assert digest.startswith("Digest ") and 'username="admin"' in digest and 'realm="snom"' in digest
    api = PbxHttpAdapter(
        {
            "url": "https://pbx.example.com/api/dial?ext={extension}&code={code}",
            "method": "POST",
            "headers": "X-Api-Key: k1; Accept: application/json",
        }
    )
    responses.post("https://pbx.example.com/api/dial", status=202)
    api.push(AgentInfo("edred", extension="3000"), Change("dial", at=None, number="*60"))
    sent = responses.calls[2].request
    assert sent.method == "POST" and sent.url == "https://pbx.example.com/api/dial?ext=3000&code=%2A60"
    assert sent.headers["X-Api-Key"] == "k1"


@responses.activate
def test_login_codes_fill_extension_and_pin_and_the_pin_stays_out_of_errors(make_app, clock):
    app, parts, dispatcher = app_with(make_app, pbx())
    responses.get("http://phone-3000.lan/servlet", status=500)
    responses.get("http://phone-3000.lan/servlet", status=200)
    with parts.store.write() as s:  # what the core writes for a PBX login
        s.add(
            OutboxRow(
                agent_id="edred",
                adapter="pbx_http",
                kind="login",
                source="softphone",
                payload={"extension": "3000", "pin_sealed": seal("4711", parts.settings.secret_key)},
                created_at=clock(),
                next_attempt_at=clock(),
            )
        )
    dispatcher.drain()
    health = dispatcher.health()["pbx_http"]
    assert health["last_error"] == "PBX answered HTTP 500" and "4711" not in str(health)
    clock.advance(2)
    dispatcher.drain()
    assert [c.request.url for c in responses.calls][
        -1
    ] == "http://phone-3000.lan/servlet?key=number=%2A35%2A3000%2A4711%23"
    with parts.store.read() as s:
        row = s.execute(select(OutboxRow)).scalar_one()
        assert row.delivered_at is not None and "pin_sealed" not in row.payload


@responses.activate
def test_not_sent_to_pbx_sends_nothing(make_app):
    app, parts, dispatcher = app_with(make_app, pbx(), preset="default")
    parts.service.login("edred", "Softphone", "browser")
    parts.service.set_state("edred", "break")
    dispatcher.drain()
    assert len(responses.calls) == 0
    with parts.store.read() as s:
        assert s.execute(select(OutboxRow)).scalars().all() == []  # pbx_mode none: no rows at all


@responses.activate
def test_refused_phone_credentials_are_parked_with_a_hint(make_app):
    app, parts, dispatcher = app_with(make_app, pbx())
    responses.get("http://phone-3000.lan/servlet", status=401)
    parts.service.login("edred", "Softphone", "browser")
    dispatcher.drain()
    health = dispatcher.health()["pbx_http"]
    assert health["parked"] == 1 and "PBX refused the credentials (HTTP 401)" in health["last_error"]
    assert "ph0ne" not in str(health)


def test_auth_without_a_username_is_refused():
    from adapters.base import AdapterConfigError

    with pytest.raises(AdapterConfigError, match="PBX_HTTP_USERNAME is required with PBX_HTTP_AUTH=basic"):
        PbxHttpAdapter({"url": "http://x/{code}", "auth": "basic"})


@responses.activate
def test_a_softphone_login_with_pin_reaches_the_phone_as_login_code_then_ready(make_app):
    app, parts, dispatcher = app_with(make_app, pbx(), pin="4711")
    responses.get("http://phone-3000.lan/servlet", status=200)
    parts.service.login("edred", "Softphone", "browser", pin="4711")
    dispatcher.drain()
    parts.service.logout("edred", "Softphone")
    dispatcher.drain()
    assert [c.request.url.split("number=")[1] for c in responses.calls] == [
        "%2A35%2A3000%2A4711%23",
        "%2A60",
        "%2A36",
    ]  # the session's end itself has no reason code
    with parts.store.read() as s:
        rows = s.execute(select(OutboxRow).order_by(OutboxRow.id)).scalars().all()
        assert [r.kind for r in rows] == ["login", "presence", "presence", "logout"]
        assert all("pin_sealed" not in r.payload and r.delivered_at for r in rows)


def test_the_pin_never_reaches_the_log_even_at_debug_level(make_app, caplog):
    import logging
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    class Phone(BaseHTTPRequestHandler):
        paths: list[str] = []

        def do_GET(self):
            Phone.paths.append(self.path)
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Phone)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        caplog.set_level(logging.DEBUG)
        adapter = PbxHttpAdapter({"url": f"http://127.0.0.1:{server.server_port}/servlet?key=number={{code}}"})
        app, parts, dispatcher = app_with(make_app, adapter, pin="4711")
        parts.service.login("edred", "Softphone", "browser", pin="4711")
        dispatcher.drain()
    finally:
        server.shutdown()
        server.server_close()
    assert Phone.paths == ["/servlet?key=number=%2A35%2A3000%2A4711%23", "/servlet?key=number=%2A60"]
    assert "number=%2A60" in caplog.text  # urllib3 does log request lines at DEBUG ...
    assert "4711" not in caplog.text  # ... but not the one with the PIN
