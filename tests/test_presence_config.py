"""Presence configurations: presets load, and a bad file is refused with every problem listed."""

from __future__ import annotations

import textwrap

import pytest
from click.testing import CliRunner

from connector.cli import main
from connector.errors import ConfigError
from connector.presence.config import load_config, load_preset, parse_config, preset_names

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
    config = parse_config(
        textwrap.dedent("""
        options: {login_code: "*35*{extension}*{pin}#", logout_code: "*36"}
        states:
          - {id: ready, label: Ready, status: 1, reason_code: "+49,,*60#"}
    """)
    )
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


def _with_state(**extra) -> str:
    state = {"id": "ready", "label": "Ready", "status": 1, **extra}
    return "name: T\nstates:\n  - " + repr(state).replace("'", '"') + "\n"


def test_a_colour_no_text_reads_on_is_refused_naming_the_state_and_the_ratio():
    with pytest.raises(ConfigError) as err:
        parse_config(_with_state(colour="#808080"), source="grey.yaml")
    [problem] = err.value.problems
    assert (problem.state, problem.field) == ("ready", "colour")
    assert "4.5:1" in problem.message and "3.95:1" in problem.message


def test_every_shipped_state_colour_carries_readable_text():
    from connector.presence.contrast import AA_TEXT, contrast

    for name in preset_names():
        for state in load_preset(name).states:
            shown = state.as_dict()
            assert contrast(shown["colour"], shown["text_colour"]) >= AA_TEXT, (name, state.id)


def test_light_state_colours_get_dark_text_and_dark_ones_white():
    config = load_preset("default")
    assert config.state("lunch").as_dict()["text_colour"] == "#1f2933"  # yellow: white would be 1.65:1
    assert config.state("dnd").as_dict()["text_colour"] == "#ffffff"


def test_picklist_text_does_not_repeat_a_label_equal_to_its_status():
    config = load_preset("default")
    assert config.state("offline").display == "Offline"
    assert config.state("on-a-call").display == "On a Call"
    assert config.state("break").display == "Break (Away)"


def test_alert_thresholds_are_one_or_two_rising_times_per_state():
    ok = parse_config(_with_state(alert_after_seconds=[900, 1800]))
    assert ok.state("ready").alert_after_seconds == (900, 1800)
    assert parse_config(ok.to_yaml()).state("ready").alert_after_seconds == (900, 1800)  # round trip
    for bad, why in (
        ([1800, 900], "must come after amber"),
        ([0], "from 1 to 86400"),
        ([60, 120, 180], "at most two"),
        (["soon"], "whole number"),
    ):
        with pytest.raises(ConfigError) as err:
            parse_config(_with_state(alert_after_seconds=bad))
        [problem] = err.value.problems
        assert problem.field == "alert_after_seconds" and why in problem.message, (bad, problem.message)
