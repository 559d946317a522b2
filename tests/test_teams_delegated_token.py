"""The delegated refresh token of Teams change notifications (issue 26): Microsoft returns a new refresh token on
each redeem (https://learn.microsoft.com/en-us/entra/identity-platform/refresh-tokens); the newest is kept sealed
in the store, shared by the instances and used after a restart; an invalid_grant is parked with its reason in
adapter health and the log. The token endpoint is faked with ``responses`` at a loopback address."""

from __future__ import annotations

import itertools
import json
import logging
from urllib.parse import parse_qs

import pytest
import responses
from sqlalchemy import select

from adapters.base import AdapterError
from adapters.teams import TeamsAdapter
from connector.auth import accounts
from connector.integrations.runtime import adapters_health
from connector.observe.metrics import REGISTRY
from connector.parts import get_parts
from connector.store.models import SharedValue
from tests.helpers.signin import PASSWORD, signed_in_caller

LOGIN = "http://127.0.0.1:9"  # nothing listens there: every call is answered by the fake below
FIRST = "refresh-configured-0f1e2d3c"


class TokenEndpoint:
    """Microsoft's token endpoint for the refresh_token grant: each redeem answers a new refresh token (the old
    one stays valid, as documented), unless the token was revoked: 400 invalid_grant (AADSTS50173)."""

    def __init__(self, rsps: responses.RequestsMock):
        self.valid = {FIRST}
        self.sent: list[str] = []
        self._n = itertools.count(1)
        rsps.add_callback(responses.POST, f"{LOGIN}/tenant-1/oauth2/v2.0/token", callback=self.token)

    def token(self, request):
        form = {k: v[0] for k, v in parse_qs(request.body).items()}
        if form["grant_type"] == "client_credentials":  # the app's own token (setting presence)
            return (200, {}, json.dumps({"token_type": "Bearer", "expires_in": 3599, "access_token": "tok-app"}))
        assert form["grant_type"] == "refresh_token" and "offline_access" in form["scope"]
        sent = form["refresh_token"]
        self.sent.append(sent)
        if sent not in self.valid:
            body = {
                "error": "invalid_grant",
                # Microsoft's description may quote what it was sent: never repeated by the connector
                "error_description": f"AADSTS50173: The provided grant has expired due to it being revoked ({sent})",
                "error_codes": [50173],
            }
            return (400, {}, json.dumps(body))
        n = next(self._n)
        newer = f"refresh-rotated-{n}-9a8b7c6d"
        self.valid.add(newer)
        return (
            200,
            {},
            json.dumps(
                {"token_type": "Bearer", "expires_in": 3599, "access_token": f"tok-{n}", "refresh_token": newer}
            ),
        )


def teams(token: str = FIRST) -> TeamsAdapter:
    return TeamsAdapter(
        {
            "tenant_id": "tenant-1",
            "client_id": "11111111-2222-3333-4444-555555555555",
            "client_secret": "very-secret",
            "user_key": "agent_id",
            "login_url": LOGIN,
            "notification_url": "https://connector.example.com/api/v1/adapters/teams/notifications",
            "delegated_refresh_token": token,
        }
    )


@pytest.fixture
def endpoint():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield TokenEndpoint(rsps)


def start(make_app, token: str = FIRST):
    """An instance of the connector (call again: a restart, or a second instance on the same store)."""
    adapter = teams(token)
    app = make_app(ADAPTERS=[adapter], CONNECTOR_PRESENCE_CONFIG="teams")
    return app, adapter, get_parts(app)


def teams_health(app) -> dict:
    return next(a for a in adapters_health(app)["adapters"] if a["name"] == "teams")


def stored_text(parts) -> str:
    with parts.store.read() as s:
        return json.dumps([[r.key, r.value] for r in s.execute(select(SharedValue)).scalars()])


def test_each_rotated_refresh_token_is_kept_sealed_and_a_restart_and_a_second_instance_use_the_newest(
    make_app, endpoint
):
    app, adapter, parts = start(make_app)
    assert adapter.subscriptions.token() == "tok-1"
    assert endpoint.sent == [FIRST]
    adapter.subscriptions._token = None  # the access token expired: redeem again, with the rotated token
    assert adapter.subscriptions.token() == "tok-2"
    assert endpoint.sent == [FIRST, "refresh-rotated-1-9a8b7c6d"]
    stored = stored_text(parts)
    assert "teams:delegated-refresh-token" in stored  # kept in the store...
    assert "refresh-rotated" not in stored and FIRST not in stored  # ...sealed
    health = teams_health(app)
    assert (health["delegated_token"], health["delegated_token_rotations"]) == ("rotated", 2)

    # a restart on the same store (the setting still holds the first token): the newest is used
    app2, restarted, parts2 = start(make_app)
    assert restarted.subscriptions.token() == "tok-3"
    assert endpoint.sent[-1] == "refresh-rotated-2-9a8b7c6d"
    # and the old instance, redeeming after the other one rotated, uses what that one kept
    adapter.subscriptions._token = None
    adapter.subscriptions.token()
    assert endpoint.sent[-1] == "refresh-rotated-3-9a8b7c6d"


def test_a_new_configured_refresh_token_starts_a_new_chain(make_app, endpoint):
    app, adapter, parts = start(make_app)
    adapter.subscriptions.token()
    endpoint.valid.add("refresh-new-consent-5e5e")
    app2, resaved, parts2 = start(make_app, "refresh-new-consent-5e5e")  # saved on the admin page after a sign-in
    resaved.subscriptions.token()
    assert endpoint.sent[-1] == "refresh-new-consent-5e5e"


def test_an_invalid_grant_is_parked_in_health_and_the_log_and_the_token_is_never_shown(make_app, endpoint, caplog):
    app, adapter, parts = start(make_app)
    accounts.add_agent(parts.store, {"id": "fa8bf3dc-eca7-46b7-bad1-db199b62afc3", "name": "Edred"}, parts.clock())
    adapter.subscriptions.token()
    endpoint.valid.clear()  # consent revoked, the user's password changed: every refresh token refused
    adapter.subscriptions._token = None
    before = (
        REGISTRY.get_sample_value(
            "connector_adapter_credentials_refused_total",
            {"adapter": "teams", "credential": "TEAMS_DELEGATED_REFRESH_TOKEN"},
        )
        or 0
    )
    caplog.set_level(logging.INFO)
    adapter.maintain_subscriptions()
    health = teams_health(app)
    assert health["delegated_token"] == "parked"
    assert "invalid_grant, AADSTS50173" in health["delegated_token_refused"]
    assert "invalid_grant, AADSTS50173" in health["subscription_error"]
    assert "TEAMS_DELEGATED_REFRESH_TOKEN" in health["subscription_error"]  # what to do about it
    assert [r.levelname for r in caplog.records if "parked" in r.getMessage()] == ["WARNING"]
    refused = REGISTRY.get_sample_value(
        "connector_adapter_credentials_refused_total",
        {"adapter": "teams", "credential": "TEAMS_DELEGATED_REFRESH_TOKEN"},
    )
    assert refused == before + 1

    calls = len(endpoint.sent)
    adapter.subscriptions._token = None
    adapter.maintain_subscriptions()  # parked: the refused token is not sent again every renewal
    other = start(make_app)[1]  # nor by another instance, or after a restart
    with pytest.raises(AdapterError, match="parked"):
        other.subscriptions.token()
    assert len(endpoint.sent) == calls
    with pytest.raises(AdapterError):
        adapter.check()  # the admin page's connection check tries it again, and is refused again
    assert len(endpoint.sent) == calls + 1

    # the tokens appear nowhere: logs, health (API and admin page), the store's text
    accounts.add_user(parts.store, "ada", PASSWORD, "admin", parts.clock())
    admin = signed_in_caller(app, "ada")
    page = admin("GET", "/admin/api/adapters").get_data(as_text=True)
    shown = page + json.dumps(adapters_health(app)) + caplog.text + stored_text(parts)
    for secret in endpoint.sent:
        assert secret not in shown
    assert "very-secret" not in shown


def test_a_successful_connection_check_unparks(make_app, endpoint):
    app, adapter, parts = start(make_app)
    endpoint.valid.clear()
    with pytest.raises(AdapterError):
        adapter.subscriptions.token()
    assert teams_health(app)["delegated_token"] == "parked"
    endpoint.valid.add(FIRST)  # e.g. the user's sign-in was restored
    assert "delegated token (Presence.Read.All) issued" in adapter.check()
    assert teams_health(app)["delegated_token"] == "rotated"
