"""The shipped presets wire the adapters up with mappings the adapters understand."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from adapters.skype import skype_availability
from adapters.teams import teams_target
from connector.cli import main
from connector.presence.config import load_preset
from presence_configs import __path__ as preset_dirs


@pytest.mark.parametrize("preset, switch", [("teams", "teams_sync"), ("skype_for_business", "skype_sync")])
def test_presence_presets_switch_their_adapter_on_and_map_every_state(preset, switch):
    config = load_preset(preset)
    assert getattr(config.options, switch) is True
    for state in config.states:
        brief = state.as_dict()
        if preset == "teams":
            assert teams_target(brief)[0] in ("session", "preferred", "clear")
        else:
            assert skype_availability(brief) in ("Online", "Busy", "DoNotDisturb", "Away", "Offwork")


def test_teams_preset_puts_dnd_and_away_in_preferred_presence_and_calls_in_the_session():
    config = load_preset("teams")
    assert teams_target(config.state("dnd").as_dict()) == ("preferred", "DoNotDisturb", "DoNotDisturb")
    assert teams_target(config.state("on-a-call").as_dict()) == ("session", "Busy", "InACall")
    assert teams_target(config.state("away").as_dict()) == ("preferred", "Away", "Away")
    assert teams_target(config.state("logged-out").as_dict()) == ("preferred", "Offline", "OffWork")
    assert teams_target(None)[0] == "clear"  # the session ended


@pytest.mark.parametrize("preset", ["asterisk", "avaya_ip_office"])
def test_pbx_presets_send_to_the_pbx(preset):
    config = load_preset(preset)
    assert config.options.pbx_mode == "dial"
    if preset == "asterisk":
        paused = {s.id: s.adapters.get("asterisk", {}).get("paused") for s in config.states}
        assert paused["ready"] is False and paused["break"] is True


@pytest.mark.parametrize("preset", ["teams", "skype_for_business", "asterisk", "avaya_ip_office"])
def test_presets_pass_config_validate(preset):
    path = f"{list(preset_dirs)[0]}/{preset}.yaml"
    result = CliRunner().invoke(main, ["config", "validate", path])
    assert result.exit_code == 0, result.output
