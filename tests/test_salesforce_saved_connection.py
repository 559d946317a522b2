"""The Salesforce connection saved on the admin page (endpoints; Salesforce faked with ``responses``)."""

from __future__ import annotations

import logging

import pytest
import responses

from connector.parts import get_parts
from connector.store.models import AdapterSettingsRow
from tests.helpers.fakes.salesforce import CLIENT_SECRET, LOGIN_URL, FakeOrg, add_totals
from tests.test_web_admin import admin  # noqa: F401  (the signed-in admin client)

CONNECTION = {"values": {"SF_LOGIN_URL": LOGIN_URL, "SF_CLIENT_ID": "connected-app-id"}}


@pytest.fixture
def org():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield FakeOrg(rsps)


def test_an_incomplete_connection_is_refused_naming_the_setting_and_nothing_is_saved(admin, parts):  # noqa: F811
    res = admin("POST", "/admin/api/salesforce/connection", CONNECTION)
    assert res.status_code == 422
    assert res.get_json()["error"]["field"] == "SF_CLIENT_SECRET"
    with parts.store.read() as s:
        assert s.query(AdapterSettingsRow).count() == 0
    assert not parts.salesforce.settings.configured


def test_a_secret_sent_as_a_plain_value_is_refused(admin):  # noqa: F811
    body = {"values": {**CONNECTION["values"], "SF_CLIENT_SECRET": CLIENT_SECRET}}
    res = admin("POST", "/admin/api/salesforce/connection", body)
    assert (res.status_code, res.get_json()["error"]["field"]) == (422, "SF_CLIENT_SECRET")
    assert CLIENT_SECRET not in res.get_data(as_text=True)


def test_the_saved_connection_is_used_at_once_sealed_in_the_store_and_never_sent_back(
    admin,  # noqa: F811
    parts,
    org,
    caplog,
):
    keys = add_totals(parts, agents=1, states=("ready",))
    caplog.set_level(logging.DEBUG)
    res = admin(
        "POST", "/admin/api/salesforce/connection", {**CONNECTION, "secrets": {"SF_CLIENT_SECRET": CLIENT_SECRET}}
    )
    assert res.status_code == 200
    assert res.get_json()["status"]["configured"] is True
    assert parts.salesforce.flush(force=True).written == 1
    assert sorted(org.records) == keys and org.token_forms[-1]["client_secret"] == CLIENT_SECRET
    with parts.store.read() as s:
        row = s.get(AdapterSettingsRow, "@salesforce")
        assert CLIENT_SECRET not in str(row.sealed) and row.values["SF_CLIENT_ID"] == "connected-app-id"
    status = admin("GET", "/admin/api/salesforce").get_data(as_text=True)
    secret_row = next(
        r for r in admin("GET", "/admin/api/salesforce").get_json()["settings"] if r["env"] == "SF_CLIENT_SECRET"
    )
    assert secret_row == {
        "env": "SF_CLIENT_SECRET",
        "label": "Client secret",
        "secret": True,
        "help": "client credentials and username-password",
        "source": "page",
        "set": True,
    }
    assert CLIENT_SECRET not in status and CLIENT_SECRET not in caplog.text


def test_another_instance_on_the_same_store_picks_the_saved_connection_up_without_a_restart(
    admin,  # noqa: F811
    make_app,
    org,
):
    other = get_parts(make_app())  # started before the save, without SF_* settings
    assert not other.salesforce.settings.configured
    keys = add_totals(other, agents=1, states=("ready",))
    body = {**CONNECTION, "secrets": {"SF_CLIENT_SECRET": CLIENT_SECRET}}
    assert admin("POST", "/admin/api/salesforce/connection", body).status_code == 200
    report = other.salesforce.tick()  # its next tick reads the saved connection and flushes with it
    assert report is not None and report.written == 1
    assert sorted(org.records) == keys


def test_back_to_the_environment_forgets_the_saved_values(admin, parts, org):  # noqa: F811
    body = {**CONNECTION, "secrets": {"SF_CLIENT_SECRET": CLIENT_SECRET}}
    assert admin("POST", "/admin/api/salesforce/connection", body).status_code == 200
    res = admin("POST", "/admin/api/salesforce/connection", {"reset": True})
    assert res.status_code == 200 and res.get_json()["status"]["configured"] is False
    assert not parts.salesforce.settings.configured
