"""Which login host each OAuth flow may use, against a token endpoint that behaves as Salesforce documents:

* the client credentials flow is not supported on login.salesforce.com / test.salesforce.com
  (``invalid_grant: request not supported on this domain``; help article 000886201) — only My Domain;
* the JWT bearer ``aud`` must be https://login.salesforce.com for production and
  https://test.salesforce.com for a sandbox (OAuth 2.0 JWT Bearer Flow for Server-to-Server Integration).
"""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlparse

import jwt
import pytest
import responses
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from connector.parts import get_parts
from connector.salesforce.settings import jwt_audience
from connector.salesforce.status import status_text, sync_status
from tests.helpers.fakes.salesforce import add_totals

INSTANCE_URL = "https://acme.my.salesforce.com"
GENERIC = ("login.salesforce.com", "test.salesforce.com")


class SalesforceLogin:
    """The token endpoint of one login host, refusing what Salesforce refuses there."""

    def __init__(self, rsps: responses.RequestsMock, host: str, sandbox: bool):
        self.host, self.sandbox, self.forms = host, sandbox, []
        rsps.add_callback(responses.POST, f"https://{host}/services/oauth2/token", callback=self._token)

    def _token(self, request):
        form = {k: v[0] for k, v in parse_qs(request.body).items()}
        self.forms.append(form)
        if form["grant_type"] == "client_credentials" and self.host in GENERIC:
            return (
                400,
                {},
                json.dumps({"error": "invalid_grant", "error_description": "request not supported on this domain"}),
            )
        if form["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer":
            aud = jwt.decode(form["assertion"], options={"verify_signature": False})["aud"]
            expected = "https://test.salesforce.com" if self.sandbox else "https://login.salesforce.com"
            if aud != expected:
                return 400, {}, json.dumps({"error": "invalid_grant", "error_description": "audience is invalid"})
        return 200, {}, json.dumps({"access_token": "00Dxx!tok", "instance_url": INSTANCE_URL, "token_type": "Bearer"})


@pytest.mark.parametrize("host", GENERIC)
def test_client_credentials_on_a_generic_login_host_is_refused_before_any_call(make_app, host):
    app = make_app(SF_LOGIN_URL=f"https://{host}", SF_CLIENT_ID="connected-app-id", SF_CLIENT_SECRET="s3cret-value")
    add_totals(get_parts(app), agents=1, states=("ready",))
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        login = SalesforceLogin(rsps, host, sandbox=host.startswith("test"))
        report = get_parts(app).salesforce.flush()
        status = sync_status(get_parts(app).salesforce)
    assert login.forms == [] and report.configured is False  # no token request at all
    assert status["configured"] is False
    assert status["detail"].startswith("SF_LOGIN_URL: the client credentials flow works only on your My Domain")
    assert f"{host} answers invalid_grant" in status["detail"]
    assert "s3cret-value" not in status_text(status)


def test_the_admin_page_names_sf_login_url_for_client_credentials_on_login_salesforce_com(make_app):
    from connector.auth import accounts
    from tests.helpers.signin import PASSWORD, sign_in

    app = make_app(SF_LOGIN_URL="https://login.salesforce.com", SF_CLIENT_ID="id", SF_CLIENT_SECRET="secret-1")
    accounts.add_user(get_parts(app).store, "ada", PASSWORD, "admin", get_parts(app).clock())
    client = app.test_client()
    sign_in(client, "ada")
    status = client.get("/admin/api/salesforce").get_json()
    assert status["configured"] is False and status["detail"].startswith("SF_LOGIN_URL:")


def test_client_credentials_on_my_domain_logs_in(make_app):
    app = make_app(SF_LOGIN_URL="https://acme.my.salesforce.com", SF_CLIENT_ID="id", SF_CLIENT_SECRET="secret")
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        login = SalesforceLogin(rsps, "acme.my.salesforce.com", sandbox=False)
        get_parts(app).salesforce.connection.login()
    assert [f["grant_type"] for f in login.forms] == ["client_credentials"]


@pytest.mark.parametrize(
    "host, sandbox",
    [
        ("acme--dev.my.salesforce.com", True),  # older sandbox My Domain (no ".sandbox.")
        ("acme--uat.sandbox.my.salesforce.com", True),  # enhanced domains
        ("test.salesforce.com", True),
        ("acme.my.salesforce.com", False),
        ("login.salesforce.com", False),
    ],
)
def test_the_jwt_audience_follows_the_login_host(make_app, tmp_path, host, sandbox):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = tmp_path / "server.key"
    pem.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    app = make_app(
        SF_LOGIN_URL=f"https://{host}",
        SF_CLIENT_ID="id",
        SF_USERNAME="integration@acme.example",
        SF_PRIVATE_KEY_FILE=str(pem),
    )
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        login = SalesforceLogin(rsps, host, sandbox=sandbox)
        get_parts(app).salesforce.connection.login()  # raises AuthenticationFailed on invalid_grant
    assert len(login.forms) == 1


def test_sf_jwt_audience_overrides_the_derived_one(make_app):
    app = make_app(
        SF_LOGIN_URL="https://acme--dev.my.salesforce.com",
        SF_CLIENT_ID="id",
        SF_USERNAME="u",
        SF_PRIVATE_KEY_FILE="/nonexistent",
        SF_JWT_AUDIENCE="https://acme.my.site.com/customers",
    )
    assert get_parts(app).salesforce.settings.jwt_audience == "https://acme.my.site.com/customers"
    assert jwt_audience(urlparse("https://ACME--DEV.my.salesforce.com").hostname) == "https://test.salesforce.com"


def test_the_username_password_flow_is_flagged_as_deprecated_in_the_status(make_app):
    app = make_app(
        SF_LOGIN_URL="https://acme.my.salesforce.com",
        SF_CLIENT_ID="id",
        SF_CLIENT_SECRET="secret",
        SF_USERNAME="integration@acme.example",
        SF_PASSWORD="pw",
    )
    status = sync_status(get_parts(app).salesforce)
    assert status["connection"]["auth_mode"] == "password"
    assert "being deprecated by Salesforce" in status["notice"]
    assert "being deprecated by Salesforce" in status_text(status)
