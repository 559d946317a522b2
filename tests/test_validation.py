"""One settings-validation vocabulary: every refused setting names its field, wherever it was checked."""

from __future__ import annotations

import textwrap

import pytest

from adapters.asterisk_ami import AsteriskAmiAdapter
from adapters.base import AdapterConfigError, Setting
from adapters.pbx_http import PbxHttpAdapter
from connector import validation
from connector.errors import ConfigError, InvalidInput
from connector.integrations import saved_settings as adapter_settings
from connector.presence.config import parse_config
from connector.salesforce import settings as sf_settings
from connector.settings import Settings
from connector.validation import SettingsInvalid

AMI = {"host": "pbx", "username": "u", "secret": "s3cret-ami"}


@pytest.mark.parametrize(
    "values, field, message",
    [
        ({"host": "pbx", "username": "u"}, "AMI_SECRET", "AMI_SECRET is required"),
        ({**AMI, "port": "70000"}, "AMI_PORT", "AMI_PORT must be between 1 and 65535"),
        ({**AMI, "port": "five"}, "AMI_PORT", "AMI_PORT must be int, got 'five'"),
        ({**AMI, "events": "maybe"}, "AMI_EVENTS", "AMI_EVENTS must be bool, got 'maybe'"),
        ({**AMI, "timeout": "0.1"}, "AMI_TIMEOUT", "AMI_TIMEOUT must be between 0.5 and 60"),
        ({**AMI, "mode": "shout"}, "AMI_MODE", "AMI_MODE must be one of: queue_pause, originate"),
    ],
)
def test_an_adapter_setting_error_names_its_variable(values, field, message):
    with pytest.raises(AdapterConfigError) as exc:
        AsteriskAmiAdapter(values)
    assert exc.value.field == field and str(exc.value) == message
    # the same vocabulary as every other settings error: the API would answer 422 naming the variable
    assert isinstance(exc.value, SettingsInvalid) and exc.value.http_status == 422
    assert exc.value.to_dict()["error"]["field"] == field


def test_a_secret_setting_that_cannot_be_read_is_not_shown():
    with pytest.raises(AdapterConfigError) as exc:
        Setting(int, secret=True).parse("AMI_PIN", "hunter2")
    assert exc.value.field == "AMI_PIN" and "hunter2" not in str(exc.value)


def test_an_adapter_own_rule_names_its_variable_on_the_admin_page_too():
    # PBX_HTTP_USERNAME is checked by the adapter itself, not by Setting: the field still comes with the error
    saved = adapter_settings.Saved(values={"url": "http://phone/{code}", "auth": "basic"})
    with pytest.raises(InvalidInput) as exc:
        adapter_settings.build_checked(PbxHttpAdapter, Settings(database_url="sqlite://"), saved)
    assert exc.value.field == "PBX_HTTP_USERNAME"
    assert exc.value.message == "PBX_HTTP_USERNAME is required with PBX_HTTP_AUTH=basic"


def _sf(**env: str) -> sf_settings.SalesforceSettings:
    base = {"SF_LOGIN_URL": "https://example.my.salesforce.com", "SF_CLIENT_ID": "id", "SF_CLIENT_SECRET": "shh"}
    return sf_settings.load(Settings(database_url="sqlite://", env={**base, **env}))


@pytest.mark.parametrize(
    "env, field, message",
    [
        ({"SF_TIMEOUT_SECONDS": "soon"}, "SF_TIMEOUT_SECONDS", "SF_TIMEOUT_SECONDS must be a number"),
        ({"SF_BACKOFF_MAX_SECONDS": "0"}, "SF_BACKOFF_MAX_SECONDS", "SF_BACKOFF_MAX_SECONDS must be from 1 to 86400"),
        (
            {"SF_LOGIN_URL": "http://login.salesforce.com"},
            "SF_LOGIN_URL",
            "SF_LOGIN_URL must be a full https:// URL (My Domain, test.salesforce.com, ...)",
        ),
        ({"SF_CLIENT_SECRET": ""}, "SF_CLIENT_SECRET", "no complete credentials"),
        ({"SF_FIELD_DATE": "Date c"}, "SF_FIELD_DATE", "SF_FIELD_DATE must be a field API name like Date__c"),
        ({"SF_COUNTER_FIELDS": "naps=Naps__c"}, "SF_COUNTER_FIELDS", "SF_COUNTER_FIELDS: unknown counter 'naps'"),
    ],
)
def test_a_salesforce_settings_error_names_its_sf_variable(env, field, message):
    settings = _sf(**env)
    assert not settings.configured and message in settings.problem  # the sink is off, the app still starts
    with pytest.raises(SettingsInvalid) as exc:
        settings.check()
    assert exc.value.field == field and message in exc.value.message
    assert "shh" not in exc.value.message


def test_complete_salesforce_settings_pass_the_check():
    settings = _sf()
    settings.check()
    assert settings.configured and settings.auth_mode == "client_credentials" and settings.problem == ""


def test_a_presence_config_problem_names_the_file_state_and_field():
    with pytest.raises(ConfigError) as exc:
        parse_config(
            textwrap.dedent("""
            options: {wrap_up_seconds: 1000}
            states:
              - {id: ready, label: Ready, status: 1}
              - {id: lunch, label: Lunch, status: 3, reason_code: "*62; reboot", selectable: "yes please"}
        """),
            source="site.yaml",
        )
    problems = {(p.state, p.field): p for p in exc.value.problems}
    assert problems[("lunch", "reason_code")].source == "site.yaml"
    assert problems[("lunch", "selectable")].message == "must be true or false"
    assert problems[(None, "options.wrap_up_seconds")].as_dict() == {
        "file": "site.yaml",
        "state": None,
        "field": "options.wrap_up_seconds",
        "why": "1000 is out of range 0-999",
    }
    # the error itself is a settings error naming the first problem's field, answered with 422 and every problem
    assert isinstance(exc.value, SettingsInvalid) and exc.value.http_status == 422
    body = exc.value.to_dict()["error"]
    assert body["code"] == "invalid_config" and body["field"] == exc.value.problems[0].field
    assert len(body["problems"]) == 3
    assert "site.yaml: state 'lunch', reason_code: '*62; reboot' may contain only dial characters" in body["message"]


@pytest.mark.parametrize(
    "parse, raw, expected",
    [
        (validation.flag, " On ", True),
        (validation.flag, "0", False),
        (validation.flag, "maybe", "type"),
        (lambda raw: validation.flag(raw, coerce=False), "yes", "type"),
        (lambda raw: validation.whole_number(raw, 1, 10), "7", 7),
        (lambda raw: validation.whole_number(raw, 1, 10), "11", "range"),
        (lambda raw: validation.whole_number(raw, coerce=False), "7", "type"),
        (lambda raw: validation.whole_number(raw, coerce=False), True, "type"),
        (lambda raw: validation.number(raw, 0.5, 60), "2.5", 2.5),
        (lambda raw: validation.number(raw, 0.5, 60), "nan-ish", "type"),
        (lambda raw: validation.choice(raw, ("none", "dial")), "fax", "choice"),
        (lambda raw: validation.text(raw, coerce=False), 2024, "2024"),
        (lambda raw: validation.text(raw, coerce=False), ["a"], "type"),
        (validation.url, "https://login.salesforce.com", "https://login.salesforce.com"),
        (validation.url, "https:///no-host", "url"),
    ],
)
def test_the_shared_parsers_read_a_value_or_say_what_kind_of_wrong_it_is(parse, raw, expected):
    if expected in ("type", "range", "choice", "url"):
        with pytest.raises(validation.BadValue) as exc:
            parse(raw)
        assert exc.value.kind == expected
    else:
        assert parse(raw) == expected
