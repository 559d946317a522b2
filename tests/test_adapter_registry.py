"""The adapter interface and registry: entry points, settings validation, the README example."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import responses
from click.testing import CliRunner

from adapters.base import AdapterConfigError, UnknownAdapter
from adapters.registry import adapter_class, available
from connector.auth import accounts
from connector.cli import main
from connector.parts import get_parts

ROOT = Path(__file__).resolve().parent.parent


def test_built_in_adapters_are_found_through_entry_points():
    assert {"pbx_http", "asterisk_ami", "teams", "skype", "omni-channel", "webhook"} <= set(available())


def test_an_unknown_adapter_name_lists_the_known_ones():
    with pytest.raises(UnknownAdapter) as caught:
        adapter_class("teamz")
    assert "no adapter named 'teamz'; known adapters:" in str(caught.value) and "teams" in str(caught.value)


def test_an_unknown_name_in_the_environment_stops_the_app_with_a_clear_error(make_app):
    from connector.errors import InvalidInput

    with pytest.raises(InvalidInput, match="no adapter named 'teamz'"):
        make_app(CONNECTOR_ADAPTERS="teamz")


def test_settings_are_validated_once_naming_the_variable(make_app, monkeypatch):
    from connector.errors import InvalidInput

    monkeypatch.setenv("WEBHOOK_URL", "https://hooks.example.com/presence")
    monkeypatch.setenv("WEBHOOK_TIMEOUT", "600")
    with pytest.raises(InvalidInput, match="WEBHOOK_TIMEOUT must be between 0.5 and 60"):
        make_app(CONNECTOR_ADAPTERS="webhook")
    monkeypatch.delenv("WEBHOOK_URL")
    monkeypatch.delenv("WEBHOOK_TIMEOUT")
    with pytest.raises(InvalidInput, match="WEBHOOK_URL is required"):
        make_app(CONNECTOR_ADAPTERS="webhook")
    with pytest.raises(AdapterConfigError, match="PBX_HTTP_AUTH must be one of: none, basic, digest"):
        adapter_class("pbx_http")({"url": "http://x/{code}", "auth": "ntlm"})


def test_the_readme_shows_the_example_adapter_as_it_is():
    code = (ROOT / "adapters/examples/webhook.py").read_text()
    assert f"```python\n{code}```" in (ROOT / "README.md").read_text()


@responses.activate
def test_the_example_adapter_delivers_through_the_dispatcher(make_app, monkeypatch):
    monkeypatch.setenv("WEBHOOK_URL", "https://hooks.example.com/presence")
    monkeypatch.setenv("WEBHOOK_TOKEN", "hook-secret")
    responses.post("https://hooks.example.com/presence", status=503)
    responses.post("https://hooks.example.com/presence", status=204)
    app = make_app(CONNECTOR_ADAPTERS="webhook")
    parts = get_parts(app)
    accounts.add_agent(parts.store, {"id": "edred", "name": "Edred"}, parts.clock())
    parts.service.login("edred", "Softphone", "browser")
    get_parts(app).dispatcher.drain()
    assert get_parts(app).dispatcher.health()["webhook"]["last_error"] == "webhook answered HTTP 503"
    parts.clock.advance(2)
    get_parts(app).dispatcher.drain()
    assert json.loads(responses.calls[1].request.body) == {
        "agent": "edred",
        "state": "ready",
        "at": "2026-03-06T09:00:00+00:00",
    }
    assert responses.calls[1].request.headers["Authorization"] == "Bearer hook-secret"


def test_cli_shows_adapter_status_and_tests_connections(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CONNECTOR_INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.setenv("CONNECTOR_ADAPTERS", "webhook")
    monkeypatch.setenv("WEBHOOK_URL", "http://127.0.0.1:9/presence")
    monkeypatch.setenv("WEBHOOK_TOKEN", "hook-secret")
    runner = CliRunner()
    status = runner.invoke(main, ["adapters", "status", "--json"])
    assert status.exit_code == 0, status.output
    [webhook] = json.loads(status.output)
    assert webhook["name"] == "webhook" and webhook["queue_depth"] == 0
    assert webhook["settings"]["WEBHOOK_TOKEN"] == "(set)" and "hook-secret" not in status.output
    tested = runner.invoke(main, ["adapters", "test", "webhook"])
    assert tested.exit_code == 0 and "no connection check" in tested.output
    missing = runner.invoke(main, ["adapters", "test", "teams"])
    assert missing.exit_code == 2 and "adapter 'teams' is not enabled; enabled: webhook" in missing.output
    listed = runner.invoke(main, ["adapters", "list"])
    assert "asterisk_ami: AMI_HOST*" in listed.output
