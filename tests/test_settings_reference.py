"""Every setting declared once (connector/settings.py), range-checked at start-up, and README's reference
table made from the declarations."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from connector import settings as settings_mod
from connector import validation
from connector.cli import main
from connector.parts import get_parts
from connector.validation import SettingsInvalid

ROOT = Path(__file__).resolve().parent.parent
NAME = re.compile(r"^(CONNECTOR|SF)_[A-Z_]+$")


# -- (a) a value out of range stops start-up, naming the variable ----------------------------------------


@pytest.mark.parametrize(
    "name, raw, allowed",
    [
        ("CONNECTOR_EVENTS_RETENTION", "-5", "from 1 to 604800 seconds"),
        ("CONNECTOR_DISPATCH_BACKOFF", "nan", "a number of seconds from 0.01 to 3600"),
        ("CONNECTOR_EVENTS_POLL", "0", "from 0.01 to 60 seconds"),
        ("CONNECTOR_DISPATCH_MAX_BACKOFF", "inf", "a number of seconds from 0.01 to 86400"),
        ("CONNECTOR_DISPATCH_LEASE", "-1", "from 1 to 86400 seconds"),
        ("CONNECTOR_STREAMS_PER_PRINCIPAL", "0", "from 1 to 100000"),
        ("CONNECTOR_SCHEDULER", "sometimes", "on or off"),
        ("CONNECTOR_AGENT_CALLS", "maybe", "on or off"),
        ("CONNECTOR_TIMEZONE", "Mars/Olympus", "a time zone name like Europe/Berlin"),
        ("CONNECTOR_DISPATCH_CONCURRENCY_WEBHOOK", "65", "from 1 to 64"),
    ],
)
def test_a_value_out_of_range_refuses_start_up_naming_the_variable(make_app, name, raw, allowed):
    with pytest.raises(SettingsInvalid) as refused:
        make_app(**{name: raw})
    assert refused.value.field == name and refused.value.http_status == 422
    assert f"{name} must be" in refused.value.message and allowed in refused.value.message


def test_every_refused_setting_is_listed_at_once(make_app):
    with pytest.raises(SettingsInvalid) as refused:
        make_app(CONNECTOR_EVENTS_RETENTION="-5", CONNECTOR_DISPATCH_BACKOFF="nan", CONNECTOR_EVENTS_POLL="0")
    fields = {p.field for p in refused.value.problems}
    assert fields == {"CONNECTOR_EVENTS_RETENTION", "CONNECTOR_DISPATCH_BACKOFF", "CONNECTOR_EVENTS_POLL"}


def test_a_secret_setting_is_never_echoed_when_refused(make_app):
    with pytest.raises(SettingsInvalid) as refused:
        make_app(CONNECTOR_DATABASE_URL="not a url: hunter2")
    assert refused.value.field == "CONNECTOR_DATABASE_URL" and "hunter2" not in refused.value.message


def test_a_command_refuses_to_start_with_one_line_per_refused_setting(tmp_path, monkeypatch):
    monkeypatch.setenv("CONNECTOR_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("CONNECTOR_INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.setenv("CONNECTOR_EVENTS_POLL", "0")
    monkeypatch.setenv("CONNECTOR_EVENTS_RETENTION", "-5")
    result = CliRunner().invoke(main, ["agents", "list"], catch_exceptions=False)
    assert result.exit_code == 2
    assert "error (CONNECTOR_EVENTS_POLL): CONNECTOR_EVENTS_POLL must be from 0.01 to 60 seconds" in result.output
    assert "error (CONNECTOR_EVENTS_RETENTION)" in result.output
    assert not (tmp_path / "cli.db").exists()  # refused before the store was opened


@pytest.mark.parametrize(
    "env, line",
    [
        ({"CONNECTOR_EVENTS_POLL": "0"}, "error (CONNECTOR_EVENTS_POLL): CONNECTOR_EVENTS_POLL must be from 0.01"),
        ({"PORT": "http"}, "error (PORT): PORT must be a whole number from 0 to 65535"),
    ],
)
def test_serve_refuses_to_start_naming_the_variable(tmp_path, env, line):
    cli = str(Path(sys.executable).parent / "presence-connector")
    base = {k: v for k, v in os.environ.items() if not k.startswith(("CONNECTOR_", "SF_", "PORT", "HOST"))}
    base |= {"CONNECTOR_DATABASE_URL": f"sqlite:///{tmp_path / 'serve.db'}", "CONNECTOR_INSTANCE_PATH": str(tmp_path)}
    done = subprocess.run(
        [cli, "serve"], env=base | env, cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 2 and line in done.stderr, done.stderr


def test_valid_values_and_defaults_reach_the_parts_as_before(make_app):
    defaults = get_parts(make_app())
    assert (defaults.bus.poll_interval, defaults.bus.retention_seconds, defaults.bus.streams_per_principal) == (
        0.1,
        3600.0,
        20,
    )
    assert (defaults.dispatcher.base_backoff, defaults.dispatcher.max_backoff) == (2.0, 300.0)
    assert defaults.dispatcher.lease.total_seconds() == 60.0
    assert defaults.session_lifetimes.idle == 12 * 3600 and defaults.sign_in.policy.free == 3
    assert defaults.settings.run_scheduler is True and defaults.settings.value("CONNECTOR_AGENT_CALLS") is False
    tuned = get_parts(
        make_app(
            CONNECTOR_EVENTS_POLL="0.25",
            CONNECTOR_EVENTS_RETENTION="60",
            CONNECTOR_DISPATCH_BACKOFF="0.5",
            CONNECTOR_SESSION_IDLE_HOURS="1.5",
            CONNECTOR_SIGNIN_DAILY_ALERT="20",
            CONNECTOR_SCHEDULER="off",
        )
    )
    assert (tuned.bus.poll_interval, tuned.bus.retention_seconds, tuned.dispatcher.base_backoff) == (0.25, 60.0, 0.5)
    assert tuned.session_lifetimes.idle == 5400 and tuned.sign_in.policy.daily_alert == 20
    assert tuned.settings.run_scheduler is False


@pytest.mark.parametrize("raw", ["nan", "inf", "-inf", "NaN"])
def test_finite_number_refuses_nan_and_inf(raw):
    with pytest.raises(validation.BadValue):
        validation.finite_number(raw, 0, 10)
    assert validation.finite_number("2.5", 0, 10) == 2.5


# -- (b) every variable read anywhere in connector/ is declared ----------------------------------------------


def _names_in_source() -> dict[str, str]:
    """Every string literal (f-string parts too) in connector/ that looks like one of our variables."""
    found = {}
    for path in (ROOT / "connector").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and NAME.match(node.value):
                found.setdefault(node.value, str(path.relative_to(ROOT)))
    return found


def test_every_variable_named_in_the_source_is_declared():
    found = _names_in_source()
    assert "CONNECTOR_EVENTS_POLL" in found and "SF_LOGIN_URL" in found  # the scan sees them
    undeclared = []
    for name, where in sorted(found.items()):
        try:
            settings_mod.declared(name)
        except LookupError:
            undeclared.append(f"{name} ({where})")
    assert not undeclared, f"read but not declared in connector/settings.py: {undeclared}"


def test_no_module_reads_a_declared_setting_around_the_declarations():
    raw_read = re.compile(r"""(\.get\(\s*|environ\[\s*)["'](CONNECTOR|SF)_""")
    for path in (ROOT / "connector").rglob("*.py"):
        if path.name == "settings.py" and path.parent.name == "connector":
            continue
        text = path.read_text()
        assert not raw_read.search(text), f"{path.relative_to(ROOT)} reads a setting without its declaration"


def test_the_declarations_are_complete_and_unique():
    names = [d.name for d in settings_mod.DECLARED]
    assert len(names) == len(set(names))
    for spec in settings_mod.DECLARED:
        assert spec.group in settings_mod.GROUPS and spec.help, spec.name
        if spec.type in (int, float):
            assert spec.range is not None, f"{spec.name}: a number needs a range"
        if spec.type in (int, float) and spec.default is not None:
            assert spec.parse(str(spec.default)) == spec.default, f"{spec.name}: the default is refused"
    assert settings_mod.declared("CONNECTOR_DISPATCH_CONCURRENCY_PBX_HTTP") is settings_mod.DISPATCH_CONCURRENCY
    assert settings_mod.DISPATCH_CONCURRENCY.name_for("omni-channel") == "CONNECTOR_DISPATCH_CONCURRENCY_OMNI_CHANNEL"


# -- (c) README's settings reference is what the declarations generate ---------------------------------------


def test_the_readme_settings_reference_is_generated_from_the_declarations():
    readme = (ROOT / "README.md").read_text()
    begin, end = "<!-- settings:begin -->\n", "<!-- settings:end -->"
    assert readme.count(begin) == 1 and readme.count(end) == 1
    table = readme.split(begin, 1)[1].split(end, 1)[0]
    assert table == settings_mod.reference_table(), (
        "README's settings reference differs from the declarations: "
        "run `presence-connector settings reference` and paste it between the markers"
    )
    result = CliRunner().invoke(main, ["settings", "reference"], catch_exceptions=False)
    assert result.exit_code == 0 and result.output == table
    for spec in settings_mod.DECLARED:
        assert f"| `{spec.name}`" in table
