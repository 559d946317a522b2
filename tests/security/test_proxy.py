"""Behind a trusted TLS-terminating proxy, cookies are Secure and the embedded
softphone's cookie is SameSite=None; Partitioned; headers from anyone else are ignored."""

from __future__ import annotations

import re

import pytest

from tests.helpers.api import Api

PROXY = {"REMOTE_ADDR": "10.1.2.3"}
FORWARDED = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.7", "X-Forwarded-Host": "connector.example"}
EMBEDDED_NEXT = "/softphone?sfdcIframeOrigin=https://acme.lightning.force.com"


def _embedded_sign_in(client, environ):
    html = client.get(
        "/auth/agent", query_string={"next": EMBEDDED_NEXT}, headers=FORWARDED, environ_base=environ
    ).get_data(as_text=True)
    token = re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)
    res = client.post(
        "/auth/agent",
        headers=FORWARDED,
        environ_base=environ,
        data={"agent_id": "edred", "pin": "1234", "csrf_token": token, "next": EMBEDDED_NEXT},
    )
    assert res.status_code == 302
    return next(h for h in res.headers.getlist("Set-Cookie") if h.startswith("session="))


@pytest.fixture
def proxied(make_app):
    app = make_app(CONNECTOR_TRUSTED_PROXIES="10.0.0.0/8", CONNECTOR_FRAME_ANCESTORS="https://*.lightning.force.com")
    Api(app, app.test_client()).agent("edred", pin="1234")
    return app


def test_embedded_softphone_behind_a_trusted_proxy_gets_a_third_party_cookie(proxied):
    cookie = _embedded_sign_in(proxied.test_client(), PROXY)
    assert "Secure" in cookie and "SameSite=None" in cookie and "Partitioned" in cookie


def test_forwarded_headers_from_an_untrusted_address_are_ignored(proxied):
    cookie = _embedded_sign_in(proxied.test_client(), {"REMOTE_ADDR": "198.51.100.1"})
    assert "Secure" not in cookie and "SameSite=Lax" in cookie


def test_the_guessing_limits_see_the_client_address_the_proxy_reports(make_app):
    app = make_app(CONNECTOR_TRUSTED_PROXIES="10.0.0.0/8", CONNECTOR_SIGNIN_ADDRESS_FREE_TRIES="1")
    Api(app, app.test_client()).agent("edred", pin="1234")
    client = app.test_client()
    from tests.helpers.signin import csrf

    for _ in range(2):
        client.post(
            "/auth/agent",
            data={"agent_id": "x", "pin": "0000", "csrf_token": csrf(client, "/auth/agent")},
            headers={"X-Forwarded-For": "203.0.113.7"},
            environ_base=PROXY,
        )
    blocked = client.post(
        "/auth/agent",
        data={"agent_id": "edred", "pin": "1234", "csrf_token": csrf(client, "/auth/agent")},
        headers={"X-Forwarded-For": "203.0.113.7"},
        environ_base=PROXY,
    )
    assert blocked.status_code == 429
    other = client.post(
        "/auth/agent",
        data={"agent_id": "edred", "pin": "1234", "csrf_token": csrf(client, "/auth/agent")},
        headers={"X-Forwarded-For": "203.0.113.8"},
        environ_base=PROXY,
    )
    assert other.status_code == 302  # another client behind the same proxy is not blocked


def test_secure_cookies_can_be_forced(make_app):
    app = make_app(CONNECTOR_SECURE_COOKIES="on")
    Api(app, app.test_client()).agent("edred", pin="1234")
    from tests.helpers.signin import try_pin

    res = try_pin(app.test_client(), "edred", "1234")
    assert "Secure" in next(h for h in res.headers.getlist("Set-Cookie") if h.startswith("session="))


def test_a_bad_trusted_proxies_setting_is_refused_naming_it(make_app):
    from connector.errors import SettingsInvalid

    with pytest.raises(SettingsInvalid) as err:
        make_app(CONNECTOR_TRUSTED_PROXIES="10.0.0.0/8 not-an-ip")
    assert err.value.field == "CONNECTOR_TRUSTED_PROXIES"
