"""The dial answer says what really happened, pasted numbers are cleaned, an
enabled adapter that receives nothing says why, and URL settings are checked when saved."""

from __future__ import annotations

import pytest

from adapters.base import AdapterConfigError
from adapters.pbx_http import PbxHttpAdapter
from connector.parts import get_parts
from tests.helpers.api import admin_site
from tests.helpers.signin import signed_in_caller


def pbx(**settings) -> PbxHttpAdapter:
    return PbxHttpAdapter(
        {"url": "http://{phone}/servlet?key=number={code}", "phone_host": "phone-{extension}.lan", **settings}
    )


def _dialling_agent(make_app, preset: str):
    from tests.helpers.api import Api

    app = make_app(ADAPTERS=[pbx()], CONNECTOR_PRESENCE_CONFIG=preset)
    api = Api(app, app.test_client())
    api.agent("edred", extension="3000")
    token = api.token("agent", "edred")
    api.call("POST", "/api/v1/agents/edred/login", token, {"logon_source": "Paired Device", "device": "desk"})
    return api, token


def test_dial_with_pbx_mode_none_says_it_was_not_sent(make_app):
    api, token = _dialling_agent(make_app, "default")  # pbx_mode none
    r = api.call("POST", "/api/v1/agents/edred/dial", token, {"number": "+44 20 7946 0000"})
    assert r.status_code == 200
    assert r.json["dial"] == {
        "number": "+442079460000",
        "sent": False,
        "sent_to": [],
        "message": "not sent: PBX mode is none",
    }


def test_dial_in_dial_mode_names_the_pbx_it_went_to(make_app):
    api, token = _dialling_agent(make_app, "avaya_ip_office")  # pbx_mode dial
    r = api.call("POST", "/api/v1/agents/edred/dial", token, {"number": "(030) 123-45.67"})
    assert r.json["dial"] == {
        "number": "0301234567",
        "sent": True,
        "sent_to": ["pbx_http"],
        "message": "sent to pbx_http",
    }


@pytest.mark.parametrize("number", ["call me", "+44 20 7946 0000 ext 12", "", "1" * 33])
def test_a_number_that_is_not_one_is_still_refused_naming_the_field(make_app, number):
    api, token = _dialling_agent(make_app, "default")
    r = api.call("POST", "/api/v1/agents/edred/dial", token, {"number": number})
    assert r.status_code == 422 and r.json["error"]["field"] == "number"


def test_health_says_why_an_enabled_pbx_adapter_receives_nothing(make_app):
    app = make_app(ADAPTERS=[pbx()], CONNECTOR_PRESENCE_CONFIG="default")
    health = get_parts(app).dispatcher.health()
    assert health["pbx_http"]["why_not"] == "not sent: PBX mode is none"
    dialling = make_app(ADAPTERS=[pbx()], CONNECTOR_PRESENCE_CONFIG="avaya_ip_office")
    assert get_parts(dialling).dispatcher.health()["pbx_http"]["why_not"] is None


def test_the_admin_adapters_card_data_carries_the_reason(make_app):
    site = admin_site(make_app, ADAPTERS=[pbx()])
    admin = signed_in_caller(site)
    card = next(a for a in admin("GET", "/admin/api/adapters").get_json()["adapters"] if a["name"] == "pbx_http")
    assert card["health"]["why_not"] == "not sent: PBX mode is none"


@pytest.mark.parametrize(
    "url, words",
    [
        ("not a url", "must be a full URL"),
        ("ftp://pbx.example.com/dial?code={code}", "must be a full URL"),
        ("http:///dial?code={code}", "must be a full URL"),
        ("https://pbx.example.com/dial", "must contain {code}"),
    ],
)
def test_url_settings_are_checked_naming_the_variable(url, words):
    with pytest.raises(AdapterConfigError) as exc:
        PbxHttpAdapter({"url": url})
    assert exc.value.field == "PBX_HTTP_URL" and words in str(exc.value)


def test_a_bad_url_saved_on_the_admin_page_is_refused(make_app):
    site = admin_site(make_app)
    admin = signed_in_caller(site)
    res = admin("POST", "/admin/api/adapters/pbx_http", {"enabled": True, "values": {"PBX_HTTP_URL": "not a url"}})
    assert res.status_code == 422 and res.get_json()["error"]["field"] == "PBX_HTTP_URL"
    assert "pbx_http" not in get_parts(site).dispatcher.adapters
