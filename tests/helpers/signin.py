"""Signing in through the real forms: with the Flask test client, and in a browser page.

Every user a test makes has the one ``PASSWORD``; agents sign in with their PIN. After signing in, the
page session's CSRF token (the same on every page of the session) is what a cookie-authenticated API
or admin call sends back in ``X-CSRF-Token``.
"""

from __future__ import annotations

import re

PASSWORD = "correct-horse-1"


# -- the Flask test client ---------------------------------------------------------------------------


def csrf(client, path: str = "/auth/login") -> str:
    """The CSRF token of the client's page session, read from the ``csrf-token`` meta tag of ``path``."""
    html = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)


def try_pin(client, agent_id: str, pin: str, **environ):
    """Post the agent sign-in form (with its CSRF token); the answer, whatever it is."""
    token = csrf(client, "/auth/agent")
    return client.post(
        "/auth/agent", data={"agent_id": agent_id, "pin": pin, "csrf_token": token}, environ_base=environ
    )


def guess_pins(client, agent_id: str, times: int, clock, address: str = "10.0.0.9") -> None:
    """``times`` wrong PINs from ``address``, each after waiting out the Retry-After of the one before."""
    for _ in range(times):
        res = try_pin(client, agent_id, "0000", REMOTE_ADDR=address)
        if res.status_code == 429:
            clock.advance(int(res.headers["Retry-After"]))
            res = try_pin(client, agent_id, "0000", REMOTE_ADDR=address)
        assert res.status_code == 401


def try_password(client, username: str, password: str, **environ):
    """Post the user sign-in form (with its CSRF token); the answer, whatever it is."""
    token = csrf(client)
    return client.post(
        "/auth/login", data={"username": username, "password": password, "csrf_token": token}, environ_base=environ
    )


def sign_in(client, username: str) -> str:
    """Sign a user in with ``PASSWORD``; returns the signed-in session's CSRF token."""
    res = try_password(client, username, PASSWORD)
    assert res.status_code == 302, res.get_data(as_text=True)
    return csrf(client, "/")


def pin_sign_in(client, agent_id: str, pin: str = "1234") -> str:
    """Sign an agent in with a PIN; returns the signed-in session's CSRF token."""
    res = try_pin(client, agent_id, pin)
    assert res.status_code == 302, res.get_data(as_text=True)
    return csrf(client, "/")


def signed_in_caller(app, username: str = "ada"):
    """A new test client of ``app`` signed in as ``username``; returns ``call(method, path, json=None,
    csrf=True)``, which sends the session's CSRF token unless told not to."""
    client = app.test_client()
    token = sign_in(client, username)

    def call(method: str, path: str, json=None, csrf: bool = True):
        return client.open(path, method=method, json=json, headers={"X-CSRF-Token": token} if csrf else {})

    return call


# -- a browser page (Playwright) -----------------------------------------------------------------------


def browser_sign_in(page, base: str, username: str) -> None:
    page.goto(base + "/auth/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    # wait until the page signed in to has loaded and run its scripts: a click before that would
    # find a visible button whose handler is not attached yet (seen on a loaded machine)
    with page.expect_navigation(wait_until="load"):
        page.click("button[type=submit]")


def browser_agent_sign_in(page, base: str, agent_id: str, pin: str = "1234") -> None:
    page.goto(base + "/softphone")
    page.fill("input[name=agent_id]", agent_id)
    page.fill("input[name=pin]", pin)
    with page.expect_navigation(wait_until="load"):
        page.click("button[type=submit]")
    page.wait_for_url("**/softphone")
