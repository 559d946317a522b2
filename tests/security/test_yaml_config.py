"""Hostile presence configurations are refused before they cost memory."""

from __future__ import annotations

import pytest

from connector.errors import ConfigError
from connector.presence.config import load_preset, parse_config, preset_names

BASE = """name: t
states:
  - {id: ready, label: Ready, status: 1%s}
"""

LAUGHS = """name: lol
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
states:
  - {id: ready, label: Ready, status: 1, adapters: {http: *f}}
"""


def _problem(text: str) -> str:
    with pytest.raises(ConfigError) as err:
        parse_config(text, source="x.yaml")
    return str(err.value)


def test_billion_laughs_is_refused_naming_the_aliases():
    assert "aliases" in _problem(LAUGHS)


def test_an_anchor_alone_is_refused_too():
    assert "anchors" in _problem(BASE % ", adapters: &m {skype: Away}")


def test_a_huge_document_is_refused_by_size():
    assert "KiB" in _problem(BASE % "" + "# " + "x" * 300_000 + "\n")


@pytest.mark.parametrize(
    "mapping",
    [
        ", adapters: {http: [1, 2, 3]}",
        ", adapters: {http: {a: {b: c}}}",
        ", adapters: {http: '%s'}" % ("x" * 500),
        ", adapters: [skype]",
        ", adapters: {'Bad Name!': x}",
    ],
)
def test_adapter_mapping_values_must_be_small_flat_values(mapping):
    assert "adapters" in _problem(BASE % mapping)


def test_api_import_refuses_aliases_with_422(api, parts, client):
    from connector.auth import accounts
    from tests.helpers.signin import PASSWORD, sign_in

    accounts.add_user(parts.store, "ada", PASSWORD, "admin", parts.clock())
    token = sign_in(client, "ada")
    res = client.post("/admin/api/config/import", json={"yaml": LAUGHS}, headers={"X-CSRF-Token": token})
    assert res.status_code == 422 and "aliases" in res.get_json()["error"]["message"]


@pytest.mark.parametrize("name", preset_names())
def test_shipped_presets_still_load(name):
    assert load_preset(name).states
