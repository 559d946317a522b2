"""CONNECTOR_PASSWORD_HASH_COST: full-cost scrypt by default, a cheap cost for the test suite, and
hashes that verify whatever cost was selected when they were made."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from connector.auth import accounts
from connector.errors import InvalidInput
from connector.parts import get_parts
from connector.settings import from_environment
from connector.store.models import Agent, User


def stored_hash(parts, username: str) -> str:
    with parts.store.read() as s:
        return s.execute(select(User.password_hash).where(User.username == username)).scalar_one()


def method_of(hashed: str) -> str:
    """werkzeug's "method$salt$digest" inside the peppered "p1$..." form."""
    return hashed.removeprefix("p1$")


def test_without_the_setting_passwords_are_hashed_at_full_cost(tmp_path):
    assert from_environment(str(tmp_path), {"CONNECTOR_SECRET_KEY": "k"}).password_hash_cost == "standard"


def test_hashes_made_at_either_cost_verify_after_a_restart_with_the_other(make_app, clock):
    cheap = get_parts(make_app())  # conftest selects the test cost
    accounts.add_user(cheap.store, "cheap-user", "cheap-password", "admin", clock())
    accounts.add_agent(cheap.store, {"id": "edred", "pin": "4321"}, clock())
    assert method_of(stored_hash(cheap, "cheap-user")).startswith("scrypt:1024:8:1$")

    full = get_parts(make_app(CONNECTOR_PASSWORD_HASH_COST="standard"))
    assert accounts.authenticate_user(full.store, "cheap-user", "cheap-password").role == "admin"
    assert accounts.authenticate_agent_pin(full.store, "edred", "4321").agent_id == "edred"
    assert accounts.authenticate_user(full.store, "cheap-user", "wrong-password") is None
    accounts.add_user(full.store, "full-user", "full-password", "supervisor", clock())
    assert method_of(stored_hash(full, "full-user")).startswith("scrypt:32768:8:1$")  # werkzeug's default, as before

    again = get_parts(make_app())
    assert accounts.authenticate_user(again.store, "full-user", "full-password").role == "supervisor"
    with again.store.read() as s:
        assert "4321" not in s.get(Agent, "edred").pin_hash


def test_an_unknown_cost_stops_the_app_naming_the_setting(make_app):
    with pytest.raises(InvalidInput) as caught:
        make_app(CONNECTOR_PASSWORD_HASH_COST="cheap")
    assert caught.value.field == "CONNECTOR_PASSWORD_HASH_COST"
    assert "standard, test" in caught.value.message
