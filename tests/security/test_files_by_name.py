"""Files by name only (issue 25, finding 5): the configuration import takes preset names and uploaded
YAML, never a path, and echoes nothing of a file; the Skype credentials file must lie in
SKYPE_CREDENTIALS_DIR, and no answer tells whether a path outside it exists."""

from __future__ import annotations

import pytest

from adapters.base import AdapterConfigError
from adapters.skype import SkypeAdapter
from connector.auth import accounts
from connector.parts import get_parts
from tests.helpers.signin import PASSWORD, sign_in

SECRET_YAML = "name: Private Thing\nstates:\n  - id: leaked-state-id\n    label: leaked label\n"


@pytest.fixture
def admin(make_app):
    app = make_app()
    accounts.add_user(get_parts(app).store, "ada", PASSWORD, "admin", get_parts(app).clock())
    client = app.test_client()
    token = sign_in(client, "ada")
    return lambda path, body: client.post(path, json=body, headers={"X-CSRF-Token": token})


def test_the_config_import_takes_preset_names_and_never_a_path(admin, tmp_path):
    private = tmp_path / "private.yaml"
    private.write_text(SECRET_YAML)
    relative = "../" * 12 + str(private)[1:-5]
    for name in (relative, str(private)[:-5], str(private), "../presence_configs/default"):
        res = admin("/admin/api/config/import", {"preset": name})
        assert res.status_code == 422, name
        text = res.get_data(as_text=True)
        assert "leaked" not in text and "Private Thing" not in text
        assert "unknown preset" in text and res.get_json()["error"]["field"] == "preset"
    assert admin("/admin/api/config/import", {"preset": "default"}).status_code == 200


def test_the_skype_credentials_file_must_be_in_its_directory_and_outside_paths_all_answer_alike(tmp_path):
    allowed = tmp_path / "creds"
    allowed.mkdir()
    (allowed / "skype.txt").write_text("edred@example.com:Pa55word\n")
    outside = tmp_path / "other.txt"
    outside.write_text("not credentials\n")
    base = {"domain": "example.com", "credentials_dir": str(allowed)}
    messages = set()
    for name in (str(outside), str(tmp_path / "missing.txt"), "../other.txt", "../missing.txt", "/etc/passwd"):
        with pytest.raises(AdapterConfigError) as caught:
            SkypeAdapter({**base, "credentials_file": name})
        messages.add(caught.value.message)
    assert messages == {"SKYPE_CREDENTIALS_FILE must name a file in SKYPE_CREDENTIALS_DIR"}
    assert SkypeAdapter({**base, "credentials_file": "skype.txt"})._passwords == {"edred@example.com": "Pa55word"}
    with pytest.raises(AdapterConfigError, match="SKYPE_CREDENTIALS_DIR is not set"):
        SkypeAdapter({"domain": "example.com", "credentials_file": str(allowed / "skype.txt")})


def test_the_admin_page_cannot_set_the_credentials_directory(admin):
    res = admin("/admin/api/adapters/skype", {"values": {"SKYPE_CREDENTIALS_DIR": "/"}})
    assert res.status_code == 422 and res.get_json()["error"]["field"] == "SKYPE_CREDENTIALS_DIR"
