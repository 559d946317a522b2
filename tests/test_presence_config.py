"""Presence configurations: presets load, and a bad file is refused with every problem listed."""
from __future__ import annotations

import textwrap

import pytest
from click.testing import CliRunner

from connector.cli import main
from connector.errors import ConfigError
from connector.presence_config import load_config, load_preset, parse_config, preset_names

BAD = textwrap.dedent("""
    name: Broken
    colour_scheme: dark
    options:
      pbx_mode: fax
      wrap_up_seconds: 1000
      tracking_interval_seconds: 0
      turbo: true
    states:
      - {id: dnd, label: Do Not Disturb, status: 4, reason_code: "*61"}
      - {id: dnd, label: Pause, status: 3}
      - {id: lunch, label: do not disturb, status: 3}
      - {id: weird, label: Weird, status: 9}
      - {id: hacked, label: Hacked, status: 3, reason_code: "*60; rm -rf /"}
      - {id: fancy, label: Fancy, status: 5, sparkle: yes}
""")


def test_shipped_presets_are_valid():
    assert set(preset_names()) >= {"default", "skype_for_business", "avaya_ip_office", "asterisk", "teams"}
    for name in preset_names():
        config = load_preset(name)
        assert config.ready_state.status == 1


def test_skype_preset_has_the_seed_example_codes():
    config = load_preset("skype_for_business")
    ready, dnd = config.find("Ready for Calls"), config.find("Do Not Disturb")
    assert (ready.reason_code, int(ready.status), ready.display) == ("*60", 1, "Ready for Calls (Online)")
    assert (dnd.reason_code, int(dnd.status)) == ("*61", 4)


def test_avaya_preset_has_the_short_codes_of_the_seed():
    options = load_preset("avaya_ip_office").options
    assert (options.login_code, options.logout_code, options.pbx_mode) == ("*35*{extension}*{pin}#", "*36", "dial")


def test_a_bad_file_is_refused_with_every_problem_listed():
    with pytest.raises(ConfigError) as exc:
        parse_config(BAD, source="broken.yaml")
    found = {(p.state, p.field) for p in exc.value.problems}
    assert found >= {
        (None, "colour_scheme"),  # unknown top-level key
        (None, "options.pbx_mode"),
        (None, "options.wrap_up_seconds"),  # 1000
        (None, "options.tracking_interval_seconds"),  # 0
        (None, "options.turbo"),
        ("dnd", "id"),  # duplicate id
        ("lunch", "label"),  # duplicate label, case-insensitive
        ("weird", "status"),  # unknown status 9
        ("hacked", "reason_code"),  # not dial characters
        ("fancy", "sparkle"),  # unknown state key
        (None, "states"),  # no Ready (status 1) state
    }
    assert all(p.source == "broken.yaml" for p in exc.value.problems)


def test_reason_codes_accept_dial_characters_pauses_and_placeholders():
    config = parse_config(textwrap.dedent("""
        options: {login_code: "*35*{extension}*{pin}#", logout_code: "*36"}
        states:
          - {id: ready, label: Ready, status: 1, reason_code: "+49,,*60#"}
    """))
    assert config.ready_state.reason_code == "+49,,*60#"


def test_config_validate_prints_every_problem_and_exits_non_zero(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text(BAD)
    result = CliRunner().invoke(main, ["config", "validate", str(path)])
    assert result.exit_code == 2
    assert "options.wrap_up_seconds: 1000 is out of range 0-999" in result.output
    assert "state 'hacked', reason_code" in result.output
    assert "a Ready state (status 1, Online) is required" in result.output


def test_config_validate_accepts_a_preset_name():
    result = CliRunner().invoke(main, ["config", "validate", "avaya_ip_office"])
    assert result.exit_code == 0 and "OK" in result.output


def test_a_config_round_trips_through_yaml():
    config = load_preset("asterisk")
    again = parse_config(config.to_yaml())
    assert again.states == config.states and again.options == config.options


def test_unknown_preset_lists_the_known_ones():
    with pytest.raises(ConfigError) as exc:
        load_config("nonesuch")
    assert "default" in exc.value.message
