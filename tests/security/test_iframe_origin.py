"""The sfdcIframeOrigin allow-list matches the host name (and port) only."""

from __future__ import annotations

import pytest

from tests.helpers.signin import pin_sign_in


@pytest.fixture
def console_app(make_app, clock):
    from tests.helpers.api import Api

    app = make_app(CONNECTOR_FRAME_ANCESTORS="https://*.lightning.force.com https://crm.example.com:8443")
    Api(app, app.test_client()).agent("edred", pin="1234")
    return app


def _script_src(res) -> str:
    csp = res.headers["Content-Security-Policy"]
    return next(p for p in csp.split("; ") if p.startswith("script-src"))


@pytest.mark.parametrize(
    "origin",
    [
        "https://evil.example *.lightning.force.com",
        "https://evil.example%20*.lightning.force.com",
        "https://evil.example/.lightning.force.com",
        "https://user@acme.lightning.force.com",
        "https://evil.example#.lightning.force.com",
        "https://evil.example?.lightning.force.com",
        "http://acme.lightning.force.com",
        "https://acme.lightning.force.com:444",
        "https://lightning.force.com",
        "https://acme.lightning.force.com.evil.example",
        "https://acme.lightning.force.com;script-src *",
        "https://crm.example.com",
    ],
)
def test_bypass_attempts_add_nothing_to_the_csp(console_app, origin):
    client = console_app.test_client()
    pin_sign_in(client, "edred")
    res = client.get("/softphone", query_string={"sfdcIframeOrigin": origin, "mode": "Lightning"})
    assert _script_src(res) == "script-src 'self'"


@pytest.mark.parametrize(
    "origin, rebuilt",
    [
        ("https://acme.lightning.force.com", "https://acme.lightning.force.com"),
        ("https://ACME.Lightning.Force.com/", "https://acme.lightning.force.com"),
        ("https://acme.lightning.force.com:443", "https://acme.lightning.force.com"),
        ("https://crm.example.com:8443", "https://crm.example.com:8443"),
    ],
)
def test_allowed_console_origins_are_rebuilt_from_host_and_port(console_app, origin, rebuilt):
    client = console_app.test_client()
    pin_sign_in(client, "edred")
    res = client.get("/softphone", query_string={"sfdcIframeOrigin": origin, "mode": "Lightning"})
    assert _script_src(res) == f"script-src 'self' {rebuilt}"
