"""Single sign-on with OpenID Connect against providers on 127.0.0.1 (tests/helpers/oidc.py): the code flow
with PKCE, state and nonce; ID tokens from another issuer, for another audience, expired, replayed or
forged refused with a clear page; accounts matched by the configured claim; the popup's one-use hand-over;
logout; and the PIN web sign-in switched off while PBX PINs keep working."""

from __future__ import annotations

import logging
import re
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from connector.auth import accounts, hashing
from connector.errors import SettingsInvalid
from connector.parts import get_parts
from tests.helpers.oidc import RogueProvider, browser_steps, mock_provider
from tests.helpers.signin import PASSWORD, csrf

SECRET = "client-secret-never-shown"


@pytest.fixture(scope="module")
def provider():
    with mock_provider() as running:
        yield running


@pytest.fixture
def rogue():
    running = RogueProvider()
    yield running
    running.close()


@pytest.fixture
def sso_app(make_app, provider):
    def build(**settings):
        app = make_app(
            CONNECTOR_OIDC_ISSUER=settings.pop("issuer", provider.url),
            CONNECTOR_OIDC_CLIENT_ID="presence-connector",
            CONNECTOR_OIDC_CLIENT_SECRET=SECRET,
            **settings,
        )
        parts = get_parts(app)
        now = parts.clock()
        accounts.add_agent(
            parts.store,
            {
                "id": "edred",
                "name": "Edred",
                "email": "Edred@Example.com",
                "salesforce_user_id": "005000000000001AAA",
                "pin": "1234",
                "extension": "201",
            },
            now,
        )
        accounts.add_user(parts.store, "sue@example.com", PASSWORD, "supervisor", now)
        return app

    return build


def _signed_in_as(client) -> dict | None:
    with client.session_transaction() as session:
        return session.get("principal")


def test_an_agent_signs_in_with_the_provider_and_lands_on_the_softphone(sso_app, provider):
    client = sso_app().test_client()
    provider.user("edred-sub", email="edred@example.com", name="Edred")
    res = browser_steps(client, provider, "edred-sub", "/auth/oidc/start?as=agent")
    assert res.status_code == 302 and res.headers["Location"] == "/softphone"
    assert _signed_in_as(client) == {"name": "edred", "role": "agent", "agent_id": "edred"}
    assert client.get("/softphone").status_code == 200


def test_a_supervisor_signs_in_and_lands_on_the_dashboard(sso_app, provider):
    client = sso_app().test_client()
    provider.user("sue-sub", email="sue@example.com")
    res = browser_steps(client, provider, "sue-sub")
    assert res.headers["Location"] == "/dashboard"
    assert client.get("/dashboard").status_code == 200


def test_single_sign_on_computes_no_password_hash(sso_app, provider, monkeypatch):
    client = sso_app().test_client()
    provider.user("edred-sub", email="edred@example.com")

    def no_hash(*args, **kwargs):
        raise AssertionError("a password hash was computed")

    monkeypatch.setattr(hashing, "check_password_hash", no_hash)
    monkeypatch.setattr(hashing, "generate_password_hash", no_hash)
    assert browser_steps(client, provider, "edred-sub", "/auth/oidc/start?as=agent").status_code == 302
    assert _signed_in_as(client)["name"] == "edred"


def test_the_flow_sends_pkce_state_and_nonce_and_the_provider_checks_the_verifier(sso_app, rogue):
    client = sso_app(issuer=rogue.url).test_client()
    rogue.claims = {"sub": "x", "email": "edred@example.com"}
    res = client.get("/auth/oidc/start?as=agent")
    asked = parse_qs(urlsplit(res.headers["Location"]).query)
    assert asked["code_challenge_method"] == ["S256"] and len(asked["code_challenge"][0]) >= 43
    assert asked["state"][0] and asked["nonce"][0] and asked["scope"] == ["openid email profile"]
    back = urlsplit(requests.get(res.headers["Location"], allow_redirects=False).headers["Location"])
    assert client.get(f"{back.path}?{back.query}").status_code == 302
    assert rogue.pkce_checked == 1 and _signed_in_as(client)["name"] == "edred"


def test_a_callback_with_another_state_is_refused(sso_app, rogue):
    client = sso_app(issuer=rogue.url).test_client()
    rogue.claims = {"sub": "x", "email": "edred@example.com"}
    res = client.get("/auth/oidc/start")
    back = urlsplit(requests.get(res.headers["Location"], allow_redirects=False).headers["Location"])
    forged = re.sub(r"state=[^&]+", "state=someone-elses", back.query)
    page = client.get(f"{back.path}?{forged}")
    assert page.status_code == 400 and "state does not match" in page.get_data(as_text=True)
    assert _signed_in_as(client) is None


@pytest.mark.parametrize(
    "mode, words",
    [
        ("wrong_issuer", "issued by another identity provider"),
        ("wrong_audience", "issued for another application"),
        ("expired", "has expired"),
        ("wrong_nonce", "nonce does not match"),
        ("wrong_key", "signature does not match"),
    ],
)
def test_an_id_token_that_fails_a_check_is_refused_with_a_clear_page(sso_app, rogue, mode, words):
    client = sso_app(issuer=rogue.url).test_client()
    rogue.claims = {"sub": "x", "email": "edred@example.com"}
    rogue.mode = mode
    res = client.get("/auth/oidc/start?as=agent")
    back = urlsplit(requests.get(res.headers["Location"], allow_redirects=False).headers["Location"])
    page = client.get(f"{back.path}?{back.query}")
    text = page.get_data(as_text=True)
    assert page.status_code == 401 and words in text, text
    assert _signed_in_as(client) is None
    assert client.get("/softphone").status_code == 302  # still signed out


def test_a_provider_whose_discovery_names_another_issuer_is_refused(sso_app, rogue):
    rogue.advertised_issuer = "https://login.example.com"
    client = sso_app(issuer=rogue.url).test_client()
    page = client.get("/auth/oidc/start")
    assert page.status_code == 502 and "CONNECTOR_OIDC_ISSUER must be exactly" in page.get_data(as_text=True)


def test_nobody_is_created_silently_and_the_page_says_what_to_do(sso_app, provider):
    app = sso_app()
    client = app.test_client()
    provider.user("stranger-sub", email="stranger@example.com")
    page = browser_steps(client, provider, "stranger-sub", "/auth/oidc/start?as=agent")
    text = page.get_data(as_text=True)
    assert page.status_code == 403 and "No Presence Connector account matches your email" in text
    assert "Ask an admin to add you" in text
    assert [a["id"] for a in accounts.list_agents(get_parts(app).store)] == ["edred"]


def test_an_admin_may_turn_on_creating_agents_for_people_the_provider_vouches_for(sso_app, provider):
    app = sso_app(CONNECTOR_OIDC_AUTO_CREATE="on")
    client = app.test_client()
    provider.user("new-sub", email="newbie@example.com", name="New Bie")
    res = browser_steps(client, provider, "new-sub", "/auth/oidc/start?as=agent")
    assert res.status_code == 302 and _signed_in_as(client)["agent_id"] == "newbie@example.com"
    created = {a["id"]: a for a in accounts.list_agents(get_parts(app).store)}["newbie@example.com"]
    assert created["name"] == "New Bie" and created["email"] == "newbie@example.com"


def test_agents_are_matched_by_their_salesforce_user_id(sso_app, provider):
    client = sso_app(CONNECTOR_OIDC_MATCH_CLAIM="user_id").test_client()
    provider.user("sf-sub", user_id="005000000000001", email="not-the-same@example.com")
    assert browser_steps(client, provider, "sf-sub", "/auth/oidc/start?as=agent").status_code == 302
    assert _signed_in_as(client)["name"] == "edred"


def test_a_match_claim_only_the_userinfo_endpoint_sends_is_read_from_there(sso_app, rogue):
    # Salesforce: the ID token has no user_id; its userinfo endpoint has it (for the same subject)
    app = sso_app(issuer=rogue.url, CONNECTOR_OIDC_MATCH_CLAIM="user_id")
    client, other = app.test_client(), app.test_client()
    rogue.claims = {"sub": "https://login.salesforce.com/id/00D/005000000000001AAA"}
    rogue.userinfo = {"sub": rogue.claims["sub"], "user_id": "005000000000001AAA"}
    res = client.get("/auth/oidc/start?as=agent")
    back = urlsplit(requests.get(res.headers["Location"], allow_redirects=False).headers["Location"])
    assert client.get(f"{back.path}?{back.query}").status_code == 302
    assert _signed_in_as(client)["name"] == "edred"

    rogue.userinfo = {"sub": "someone-else", "user_id": "005000000000001AAA"}  # not this person's: ignored
    res = other.get("/auth/oidc/start?as=agent")
    back = urlsplit(requests.get(res.headers["Location"], allow_redirects=False).headers["Location"])
    page = other.get(f"{back.path}?{back.query}")
    assert page.status_code == 403 and "did not send the &#39;user_id&#39; claim" in page.get_data(as_text=True)


def test_a_roles_claim_sets_the_users_role_and_one_without_a_role_is_refused(sso_app, provider):
    app = sso_app(CONNECTOR_OIDC_ROLES_CLAIM="roles")
    client = app.test_client()
    provider.user("sue-admin", email="sue@example.com", roles=["Admin", "Readers"])
    assert browser_steps(client, provider, "sue-admin").headers["Location"] == "/admin"
    assert _signed_in_as(client)["role"] == "admin"

    other = app.test_client()
    provider.user("sue-none", email="sue@example.com", roles=["Readers"])
    page = browser_steps(other, provider, "sue-none")
    assert page.status_code == 403 and "gives you no role" in page.get_data(as_text=True)


def test_a_disabled_agent_is_refused(sso_app, provider):
    app = sso_app()
    accounts.set_agent_active(get_parts(app).store, "edred", False)
    client = app.test_client()
    provider.user("edred-sub", email="edred@example.com")
    page = browser_steps(client, provider, "edred-sub", "/auth/oidc/start?as=agent")
    assert page.status_code == 403 and "disabled" in page.get_data(as_text=True)


def test_the_popup_hands_its_sign_in_to_the_softphone_once(sso_app, provider):
    app = sso_app()
    popup, softphone = app.test_client(), app.test_client()
    provider.user("edred-sub", email="edred@example.com")
    page = browser_steps(popup, provider, "edred-sub", "/auth/oidc/start?as=agent&popup=1&next=/softphone")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and _signed_in_as(popup) is None  # the popup keeps no session itself
    code = re.search(r'data-code="([^"]+)"', html).group(1)

    token = csrf(softphone, "/auth/agent")
    without_csrf = softphone.post("/auth/oidc/redeem", json={"code": code})
    assert without_csrf.status_code == 403
    res = softphone.post("/auth/oidc/redeem", json={"code": code}, headers={"X-CSRF-Token": token})
    assert res.status_code == 200 and res.get_json() == {"next": "/softphone"}
    assert softphone.get("/softphone").status_code == 200

    again = app.test_client()
    token = csrf(again, "/auth/agent")
    replay = again.post("/auth/oidc/redeem", json={"code": code}, headers={"X-CSRF-Token": token})
    assert replay.status_code == 400 and replay.get_json()["error"]["code"] == "used"
    forged = again.post("/auth/oidc/redeem", json={"code": code[:-2] + "xx"}, headers={"X-CSRF-Token": token})
    assert forged.status_code == 400 and forged.get_json()["error"]["field"] == "code"


def test_logout_ends_the_session_and_the_providers(sso_app, provider):
    client = sso_app().test_client()
    provider.user("sue-sub", email="sue@example.com")
    browser_steps(client, provider, "sue-sub")
    token = csrf(client, "/dashboard")
    res = client.post("/auth/logout", data={"csrf_token": token})
    target = urlsplit(res.headers["Location"])
    assert f"{target.scheme}://{target.netloc}" == provider.url and target.path == "/oauth2/end_session"
    assert parse_qs(target.query)["post_logout_redirect_uri"] == ["http://localhost/auth/login"]
    assert client.get("/dashboard").status_code == 302  # signed out here


def test_pin_web_sign_in_can_be_switched_off_while_pbx_pins_keep_working(sso_app, api):
    app = sso_app(CONNECTOR_PIN_SIGNIN="off")
    client = app.test_client()
    page = client.get("/auth/agent").get_data(as_text=True)
    assert 'name="pin"' not in page and "Sign in with single sign-on" in page
    token = csrf(client, "/auth/agent")
    refused = client.post("/auth/agent", data={"agent_id": "edred", "pin": "1234", "csrf_token": token})
    assert refused.status_code == 403 and _signed_in_as(client) is None
    pbx = accounts.create_token(get_parts(app).store, "integration", get_parts(app).clock())
    res = client.post(
        "/api/v1/pbx/login", json={"extension": "201", "pin": "1234"}, headers={"Authorization": f"Bearer {pbx}"}
    )
    assert res.status_code == 200, res.get_data(as_text=True)


def test_the_client_secret_appears_in_no_page_and_no_log(sso_app, rogue, caplog):
    caplog.set_level(logging.DEBUG)
    client = sso_app(issuer=rogue.url).test_client()
    rogue.mode = "wrong_audience"
    res = client.get("/auth/oidc/start")
    back = urlsplit(requests.get(res.headers["Location"], allow_redirects=False).headers["Location"])
    pages = [res.get_data(as_text=True), client.get(f"{back.path}?{back.query}").get_data(as_text=True)]
    pages.append(client.get("/auth/agent").get_data(as_text=True))
    assert all(SECRET not in page for page in pages)
    assert SECRET not in caplog.text and SECRET not in res.headers["Location"]


def test_without_an_issuer_there_is_no_sso_button_and_start_says_so(client):
    assert "single sign-on" not in client.get("/auth/agent").get_data(as_text=True)
    page = client.get("/auth/oidc/start")
    assert page.status_code == 404 and "CONNECTOR_OIDC_ISSUER" in page.get_data(as_text=True)


def test_an_issuer_without_a_client_id_stops_start_up(make_app):
    with pytest.raises(SettingsInvalid) as refused:
        make_app(CONNECTOR_OIDC_ISSUER="https://login.example.com")
    assert refused.value.problems[0].field == "CONNECTOR_OIDC_CLIENT_ID"


def test_the_softphone_in_the_console_keeps_its_sso_session_in_a_partitioned_third_party_cookie(sso_app, provider):
    app = sso_app()
    popup, frame = app.test_client(), app.test_client()
    provider.user("edred-sub", email="edred@example.com")
    html = browser_steps(popup, provider, "edred-sub", "/auth/oidc/start?as=agent&popup=1").get_data(as_text=True)
    code = re.search(r'data-code="([^"]+)"', html).group(1)
    https = {"base_url": "https://connector.example"}
    console = "/auth/agent?next=/softphone%3FsfdcIframeOrigin%3Dhttps%3A%2F%2Facme.lightning.force.com"
    page = frame.get(console, **https).get_data(as_text=True)
    assert 'data-popup="1"' in page  # the sign-in page inside the console opens the popup
    token = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
    res = frame.post("/auth/oidc/redeem", json={"code": code}, headers={"X-CSRF-Token": token}, **https)
    cookie = res.headers["Set-Cookie"]
    assert res.status_code == 200 and "SameSite=None" in cookie and "Secure" in cookie and "Partitioned" in cookie
