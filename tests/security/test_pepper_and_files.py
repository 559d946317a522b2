"""PIN and password hashes need a key kept outside the database; old hashes keep
working and are upgraded at the next sign-in; the store and the instance secrets are 0600."""

from __future__ import annotations

import stat
from pathlib import Path

from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash

from connector.auth import accounts
from connector.parts import get_parts
from connector.store.models import Agent, User
from tests.helpers.signin import PASSWORD, try_password, try_pin


def _verifies(hashed: str, secret: str) -> bool:
    try:
        return check_password_hash(hashed, secret)
    except ValueError:  # werkzeug does not know the peppered form at all
        return False


def _pin_hash(store, agent_id="edred") -> str:
    with store.read() as s:
        return s.get(Agent, agent_id).pin_hash


def test_a_leaked_database_alone_does_not_verify_a_pin(app, parts, clock):
    accounts.add_agent(parts.store, {"id": "edred", "name": "Edred", "pin": "1234"}, clock())
    stored = _pin_hash(parts.store)
    # what an attacker with the database (and not the instance's pepper) would try:
    assert not _verifies(stored, "1234")
    assert not _verifies(stored.split("$", 1)[1], "1234")
    assert try_pin(app.test_client(), "edred", "1234").status_code == 302


def test_hashes_made_before_the_pepper_keep_working_and_are_upgraded(app, parts, clock):
    accounts.add_agent(parts.store, {"id": "edred", "name": "Edred"}, clock())
    accounts.add_user(parts.store, "sue", "placeholder-1", "supervisor", clock())
    legacy_pin = generate_password_hash("1234", method="scrypt:1024:8:1")
    legacy_password = generate_password_hash(PASSWORD, method="scrypt:1024:8:1")
    with parts.store.write() as s:
        s.get(Agent, "edred").pin_hash = legacy_pin
        s.execute(select(User).where(User.username == "sue")).scalar_one().password_hash = legacy_password
    assert try_pin(app.test_client(), "edred", "1234").status_code == 302
    assert try_password(app.test_client(), "sue", PASSWORD).status_code == 302
    assert _pin_hash(parts.store) != legacy_pin and not _verifies(_pin_hash(parts.store), "1234")
    with parts.store.read() as s:
        assert s.execute(select(User.password_hash).where(User.username == "sue")).scalar_one() != legacy_password
    assert try_pin(app.test_client(), "edred", "1234").status_code == 302  # the upgraded hash verifies


def test_the_pepper_can_come_from_the_environment_and_must_match(make_app, clock):
    first = make_app(CONNECTOR_PEPPER="pepper-one")
    accounts.add_agent(get_parts(first).store, {"id": "edred", "name": "Edred", "pin": "1234"}, clock())
    assert try_pin(first.test_client(), "edred", "1234").status_code == 302
    other = make_app(CONNECTOR_PEPPER="pepper-two")  # an instance with another pepper cannot verify
    assert try_pin(other.test_client(), "edred", "1234").status_code == 401


def test_store_and_instance_secrets_are_readable_by_the_owner_only(make_app, tmp_path):
    app = make_app(CONNECTOR_SECRET_KEY="")
    instance = Path(app.instance_path)
    for path in (tmp_path / "presence.db", instance / "secret_key", instance / "pepper"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    get_parts(app).service.agents()
    wal = tmp_path / "presence.db-wal"
    if wal.exists():
        assert stat.S_IMODE(wal.stat().st_mode) == 0o600
