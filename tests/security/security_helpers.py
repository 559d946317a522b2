"""Helpers of the security tests: people to sign in as, and signing in through the real forms."""

from __future__ import annotations

import re

import pytest

from connector.auth import accounts

PASSWORD = "correct-horse-1"


def csrf(client, path: str = "/auth/login") -> str:
    html = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)


def try_pin(client, agent_id: str, pin: str, **environ):
    token = csrf(client, "/auth/agent")
    return client.post(
        "/auth/agent", data={"agent_id": agent_id, "pin": pin, "csrf_token": token}, environ_base=environ
    )


def try_password(client, username: str, password: str, **environ):
    token = csrf(client)
    return client.post(
        "/auth/login", data={"username": username, "password": password, "csrf_token": token}, environ_base=environ
    )


def sign_in(client, username: str) -> str:
    res = try_password(client, username, PASSWORD)
    assert res.status_code == 302, res.get_data(as_text=True)
    return csrf(client, "/admin" if username == "ada" else "/auth/login")


def pin_sign_in(client, agent_id: str, pin: str = "1234") -> str:
    res = try_pin(client, agent_id, pin)
    assert res.status_code == 302, res.get_data(as_text=True)
    return csrf(client, "/softphone")


@pytest.fixture
def people(parts, api):
    now = parts.clock()
    api.agent("edred", pin="1234", team="Sales", extension="201")
    api.agent("maria", pin="5678", team="Support", extension="202")
    accounts.add_user(parts.store, "sue", PASSWORD, "supervisor", now)
    accounts.add_user(parts.store, "ada", PASSWORD, "admin", now)
    return parts
