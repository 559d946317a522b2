"""Stream tokens are scoped to the stream and the Omni-Channel reports, and every open event stream ends
with its credential: revoked, expired, password changed, PIN reset, disabled, signed out (issue 25,
findings 6 and 7). The streams run as `serve` runs them (uvicorn + connector.serve.asgi) and, for one
case, on a plain WSGI server (the thread stream)."""

from __future__ import annotations

import re
import threading
import time

import pytest
import requests
from werkzeug.serving import make_server

from connector.auth import accounts
from connector.auth.stream_tokens import StreamTokens
from connector.clock import utc_now
from connector.parts import get_parts
from connector.serve.asgi import ConnectorAsgi
from tests.helpers.api import Api
from tests.helpers.signin import PASSWORD
from tests.helpers.web_server import uvicorn_server

TOKENS = "/api/v1/omni-channel/stream-tokens"
SF_USER = "005000000000001AAA"


@pytest.fixture
def served(make_app):
    """A real `serve` front on a real clock; yields (base URL, Api)."""
    app = make_app(CLOCK=utc_now)
    api = Api(app, app.test_client())
    api.agent("edred", pin="1234", salesforce_user_id=SF_USER)
    api.agent("ann", pin="5678")
    with uvicorn_server(ConnectorAsgi(app, threads=4)) as base:
        yield base, api


def stream_token(api: Api) -> str:
    reply = api.call("POST", TOKENS, api.token("integration"), {"salesforce_user_id": SF_USER})
    assert reply.status_code == 200
    return reply.get_json()["token"]


class OpenStream:
    def __init__(self, base: str, headers: dict | None = None, query: str = "", session=None):
        http = session or requests
        self.response = http.get(f"{base}/api/v1/events{query}", headers=headers or {}, stream=True, timeout=5)
        assert self.response.status_code == 200, self.response.text
        self.lines = self.response.iter_lines(chunk_size=1, decode_unicode=True)
        for line in self.lines:
            if line.startswith("event: snapshot"):
                break

    def ends_after(self, action) -> float:
        """Run ``action``; the server ends the stream (it is built to within a second: the bus polls every
        0.1 s). A stream that stays open fails the test with a read timeout after 5 s: keepalives come
        every 15 s, so a live stream would sit there. Returns the seconds it took."""
        start = time.monotonic()
        action()
        for _ in self.lines:
            pass
        return time.monotonic() - start

    def still_open(self, api: Api, agent_id: str) -> bool:
        """A change reaches it: it has not ended."""
        if api.parts.service.presence(agent_id)["logged_in"]:
            api.parts.service.set_state(agent_id, "dnd", force=True)
        else:
            api.parts.service.login(agent_id, "Paired Device", "desk phone")
        for line in self.lines:
            if line.startswith("event: "):
                return True
        return False


def web_session(base: str, username: str) -> requests.Session:
    http = requests.Session()
    page = http.get(f"{base}/auth/login", timeout=5).text
    token = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
    res = http.post(
        f"{base}/auth/login",
        data={"username": username, "password": PASSWORD, "csrf_token": token},
        allow_redirects=False,
        timeout=5,
    )
    assert res.status_code == 302
    return http


# -- finding 7: a stream token is not an agent credential -----------------------------------------


def test_a_stream_token_is_refused_everywhere_but_the_stream_and_the_omni_reports(served):
    base, api = served
    api.parts.service.login("edred", "Paired Device", "desk phone")
    bearer = {"Authorization": f"Bearer {stream_token(api)}"}
    refused = [
        ("PUT", "/api/v1/agents/edred/presence", {"state": "dnd"}),  # the fast path hands it to Flask
        ("POST", "/api/v1/agents/edred/dial", {"number": "1234"}),
        ("POST", "/api/v1/agents/edred/login", {"logon_source": "Softphone"}),
        ("POST", "/api/v1/agents/edred/logout", {}),
        ("GET", "/api/v1/agents/edred/presence", None),
        ("GET", "/api/v1/agents", None),
    ]
    for method, path, body in refused:
        reply = requests.request(method, base + path, headers=bearer, json=body, timeout=5)
        assert reply.status_code == 403, (path, reply.text)
        error = reply.json()["error"]
        assert error["code"] == "stream_token_scope" and "stream" in error["message"], path
    assert api.parts.service.presence("edred")["state"]["id"] != "dnd"
    report = requests.post(
        f"{base}/api/v1/agents/edred/omni-channel", headers=bearer, json={"event": "typing"}, timeout=5
    )
    assert report.status_code == 404 and "not enabled" in report.json()["error"]["message"]  # in scope
    OpenStream(base, bearer).response.close()


@pytest.mark.parametrize("change", ["pin_reset", "disabled"])
def test_a_pin_reset_or_a_disable_invalidates_the_agents_stream_tokens(served, change):
    base, api = served
    token = stream_token(api)
    if change == "pin_reset":
        accounts.reset_pin(api.parts.store, "edred", "4321")
    else:
        accounts.set_agent_active(api.parts.store, "edred", False)
        accounts.set_agent_active(api.parts.store, "edred", True)  # enabled again: the old token stays dead
    reply = requests.get(f"{base}/api/v1/events?stream_token={token}", timeout=5)
    assert reply.status_code == 401 and reply.json()["error"]["field"] == "stream_token"
    OpenStream(base, query=f"?stream_token={stream_token(api)}").response.close()  # a new one works


# -- finding 6: open streams end with their credential ---------------------------------------------


def test_revoking_an_api_token_ends_its_open_streams_and_no_other(served):
    base, api = served
    token = accounts.create_token(api.parts.store, "supervisor", utc_now(), name="wallboard")
    other = OpenStream(base, api.token("supervisor"))
    mine = OpenStream(base, {"Authorization": f"Bearer {token}"})
    token_id = accounts.list_tokens(api.parts.store)[0]["id"]
    assert mine.ends_after(lambda: accounts.revoke_token(api.parts.store, token_id, utc_now()))
    assert other.still_open(api, "edred")


def test_a_password_change_and_a_sign_out_end_the_users_streams(served):
    base, api = served
    accounts.add_user(api.parts.store, "sue", PASSWORD, "supervisor", utc_now())
    first, second = web_session(base, "sue"), web_session(base, "sue")
    stream = OpenStream(base, session=first)
    token = re.search(r'name="csrf-token" content="([^"]+)"', second.get(f"{base}/dashboard", timeout=5).text)
    sign_out = lambda: second.post(f"{base}/auth/logout", data={"csrf_token": token.group(1)}, timeout=5)  # noqa: E731
    other = OpenStream(base, session=second)
    assert other.ends_after(sign_out)  # signing out ends that session's streams
    assert stream.still_open(api, "edred")  # not the other session's
    assert stream.ends_after(lambda: accounts.set_password(api.parts.store, "sue", "another-pass-1"))


def test_a_stream_token_stream_ends_when_the_token_expires(served):
    base, api = served
    short = StreamTokens("test-secret", 2, utc_now).issue("edred")[0]
    stream = OpenStream(base, query=f"?stream_token={short}")
    assert stream.ends_after(lambda: None)


@pytest.mark.parametrize("change", ["pin_reset", "disabled"])
def test_a_pin_reset_or_a_disable_ends_the_agents_open_streams(served, change):
    base, api = served
    agent_token = OpenStream(base, api.token("agent", agent_id="edred"))
    by_stream_token = OpenStream(base, query=f"?stream_token={stream_token(api)}")
    if change == "pin_reset":
        assert by_stream_token.ends_after(lambda: accounts.reset_pin(api.parts.store, "edred", "4321"))
        assert agent_token.still_open(api, "edred")  # an API token is not the PIN
    else:
        assert by_stream_token.ends_after(lambda: accounts.set_agent_active(api.parts.store, "edred", False))
        assert agent_token.ends_after(lambda: None)


def test_the_thread_stream_of_a_plain_wsgi_server_ends_with_its_token_too(make_app):
    app = make_app(CLOCK=utc_now)
    store = get_parts(app).store
    token = accounts.create_token(store, "supervisor", utc_now())
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        stream = OpenStream(f"http://127.0.0.1:{server.server_port}", {"Authorization": f"Bearer {token}"})
        token_id = accounts.list_tokens(store)[0]["id"]
        assert stream.ends_after(lambda: accounts.revoke_token(store, token_id, utc_now()))
    finally:
        server.shutdown()
