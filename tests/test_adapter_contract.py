"""The adapter contract, as one table run against every built-in adapter (the way apprise tests its plugins).

Each HTTP adapter is driven through ``push`` with the remote's answer faked by ``responses``; the
rule for what the dispatcher then does comes from ``adapters.base``:

* 2xx -> delivered;
* 400/403/404 -> ``AdapterError(retryable=False)``: the row is parked, a retry would fail the same way;
* 401 -> retryable (an expired token: the next attempt gets a fresh one);
* 429 and 5xx -> retryable, the remote's ``Retry-After`` (seconds) carried as ``retry_after``;
* a timeout or a refused connection -> retryable;
* whatever happens, no secret (password, token, client secret, PIN) is in the error's message.

Where an adapter deviates from the rule on purpose, its row says so, with the reason. The remote's
error answers echo the request URL and the simulated network failures carry it (as requests' own
messages do), so an adapter that passed either through would leak a PIN placed in a URL.
Asterisk AMI is TCP: its cases run against the local AMI peer at the end of the file.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
import requests
import responses

from adapters.asterisk_ami import AsteriskAmiAdapter
from adapters.base import Adapter, AdapterError, AgentInfo, Change
from adapters.examples.webhook import WebhookAdapter
from adapters.omni_channel import OmniChannelAdapter
from adapters.pbx_http import PbxHttpAdapter
from adapters.registry import available
from adapters.skype import SkypeAdapter
from adapters.teams import TeamsAdapter
from tests.helpers.cluster import Receiver
from tests.helpers.fakes import ucwa
from tests.helpers.fakes.ami import AmiPeer
from tests.helpers.ports import free_port

NOW = datetime(2026, 3, 6, 9, 0, tzinfo=UTC)
READY = {"id": "ready", "label": "Ready for Calls", "status": 1, "reason_code": "*60", "adapters": {}}
BREAK = {"id": "break", "label": "Break", "status": 3, "reason_code": "*61", "adapters": {"omni_channel": "Break"}}
PIN = "97531"


@dataclass(frozen=True)
class Outcome:
    delivered: bool = False
    retryable: bool | None = None
    retry_after: float | None = None


DELIVERED = Outcome(delivered=True)
PARKED = Outcome(retryable=False)
RETRY = Outcome(retryable=True)


@dataclass(frozen=True)
class Case:
    """One answer of the remote (an HTTP status and headers, or a network failure) and the rule's outcome."""

    id: str
    expected: Outcome
    status: int = 200
    headers: dict = field(default_factory=dict)
    failure: type[requests.RequestException] | None = None


CASES = [
    Case("200", DELIVERED, 200),
    Case("204", DELIVERED, 204),
    Case("400", PARKED, 400),
    Case("401", RETRY, 401),
    Case("403", PARKED, 403),
    Case("404", PARKED, 404),
    Case("429-retry-after", Outcome(retryable=True, retry_after=7), 429, {"Retry-After": "7"}),
    Case("500", RETRY, 500),
    Case("502", RETRY, 502),
    Case("503", RETRY, 503),
    Case("503-retry-after", Outcome(retryable=True, retry_after=30), 503, {"Retry-After": "30"}),
    Case("timeout", RETRY, failure=requests.ConnectTimeout),
    Case("connection-error", RETRY, failure=requests.ConnectionError),
]


@dataclass(frozen=True)
class Target:
    """How to build one adapter, which request of its push the case answers, and where it deviates."""

    adapter: str  # the registered name
    build: Callable[..., Adapter]  # (tmp_path) -> adapter
    method: str
    url: str  # the request the case answers (query string ignored)
    agent: AgentInfo
    change: Change
    secrets: tuple[str, ...]  # setting values (and a PIN) that must never be in a message
    prepare: Callable[[], None] = lambda: None  # the remote's other answers, all successful
    success_body: dict | None = None  # what a 2xx answer carries when the adapter reads it
    deviations: dict[str, Outcome] = field(default_factory=dict)
    skip: dict[str, str] = field(default_factory=dict)  # case id -> why it does not apply
    attempts: dict[str, int] = field(default_factory=dict)  # case id -> requests made (default 1)


# -- webhook (adapters/examples/webhook.py) ----------------------------------------------------------
WEBHOOK_URL = "https://hooks.example.com/presence"
WEBHOOK = Target(
    "webhook",
    lambda tmp: WebhookAdapter({"url": WEBHOOK_URL, "token": "whk-SECRET-token"}),
    "POST",
    WEBHOOK_URL,
    AgentInfo("edred"),
    Change("presence", at=NOW, state=READY),
    secrets=("whk-SECRET-token",),
    # a fixed bearer token: a 401 will come back for the same token, an admin must change WEBHOOK_TOKEN
    deviations={"401": PARKED},
)

# -- pbx_http: a login short code with the agent's PIN in the URL ------------------------------------
PBX_URL = "http://phone-3000.lan/servlet"
PBX = Target(
    "pbx_http",
    lambda tmp: PbxHttpAdapter(
        {
            "url": "http://{phone}/servlet?key=number={code}",
            "phone_host": "phone-{extension}.lan",
            "auth": "basic",
            "username": "admin",
            "password": "ph0ne-SECRET",
        }
    ),
    "GET",
    PBX_URL,
    AgentInfo("edred", extension="3000"),
    Change(
        "login",
        at=NOW,
        extension="3000",
        pin=PIN,
        options=SimpleNamespace(pbx_mode="dial", login_code="*35*{extension}*{pin}#"),
    ),
    secrets=("ph0ne-SECRET", PIN),
    # the phone's own user and password: refused credentials stay refused until an admin fixes them
    deviations={"401": PARKED},
)

# -- teams: Graph setPresence, and the client-credentials token before it ----------------------------
TEAMS_TOKEN_URL = "https://login.microsoftonline.com/tenant-1/oauth2/v2.0/token"
TEAMS_SET = "https://graph.microsoft.com/v1.0/users/edred@example.com/presence/setPresence"
TEAMS_TOKEN = {"token_type": "Bearer", "expires_in": 3599, "access_token": "graph-SECRET-token"}


def teams(tmp) -> TeamsAdapter:
    return TeamsAdapter(
        {"tenant_id": "tenant-1", "client_id": "11111111-2222-3333-4444-555555555555", "client_secret": "client-SECRET"}
    )


TEAMS_AGENT = AgentInfo("edred", email="edred@example.com")
TEAMS = Target(
    "teams",
    teams,
    "POST",
    TEAMS_SET,
    TEAMS_AGENT,
    Change("presence", at=NOW, state=READY),
    secrets=("client-SECRET", "graph-SECRET-token"),
    prepare=lambda: responses.post(TEAMS_TOKEN_URL, json=TEAMS_TOKEN),
)
TEAMS_LOGIN = Target(
    "teams",
    teams,
    "POST",
    TEAMS_TOKEN_URL,
    TEAMS_AGENT,
    Change("presence", at=NOW, state=READY),
    secrets=("client-SECRET", "graph-SECRET-token"),
    prepare=lambda: responses.post(TEAMS_SET, status=200),
    success_body=TEAMS_TOKEN,
    # Microsoft answers wrong client credentials with 401 (or 400): a new token request cannot fix them
    deviations={"401": PARKED},
    skip={"204": "a token endpoint answers 200 with the token"},
)


# -- skype: UCWA presence, after the agent's sign-in -------------------------------------------------
def skype(tmp) -> SkypeAdapter:
    creds = tmp / "skype.txt"
    creds.write_text("edred@example.com:Pa55-SECRET-word\n")
    return SkypeAdapter({"domain": "example.com", "credentials_file": str(creds), "credentials_dir": str(creds.parent)})


SKYPE = Target(
    "skype",
    skype,
    "POST",
    ucwa.PRESENCE,
    AgentInfo("edred", email="edred@example.com"),
    Change("presence", at=NOW, state=READY),
    secrets=("Pa55-SECRET-word", "cwt=SECRET-ticket"),
    prepare=lambda: ucwa.serve_sign_in(token="cwt=SECRET-ticket"),
    # 401/404 may mean the UCWA application expired: the adapter signs in again and retries once;
    # the same answer the second time then follows the rule
    attempts={"401": 2, "404": 2},
)

# -- omni-channel: the SOQL lookup of the ServicePresenceStatus Id -----------------------------------
OMNI_QUERY = "https://acme.my.salesforce.com/services/data/v61.0/query"


class Published:
    """The part of the Host port the outbound side uses: records the commands sent to the console
    component, which acknowledges each one at once."""

    def __init__(self):
        self.events: list[tuple[str, dict]] = []
        self.results: dict[str, dict] = {}

    def send_command(self, agent_id: str, command_id: str, kind: str, data: dict) -> None:
        self.events.append(("omni_channel", {"agent_id": agent_id, "action": kind, **data}))
        self.results[command_id] = {"acked": True, "ok": True, "error": None, "error_code": None}

    def command_result(self, command_id: str) -> dict | None:
        return self.results.get(command_id)

    def salesforce_query(self):
        return None  # the adapter's own OMNI_* connection is the one under test

    def now(self):
        return NOW

    def remember(self, key: str, value: object, ttl: float | None = None) -> None:
        self.results[key] = value

    def recall(self, key: str) -> object | None:
        return self.results.get(key)


def omni(tmp) -> OmniChannelAdapter:
    adapter = OmniChannelAdapter(
        {"instance_url": "https://acme.my.salesforce.com", "access_token": "00Dxx!SECRET-session"}
    )
    adapter.bind(Published())
    return adapter


OMNI = Target(
    "omni-channel",
    omni,
    "GET",
    OMNI_QUERY,
    AgentInfo("edred"),
    Change("presence", at=NOW, state=BREAK),
    secrets=("00Dxx!SECRET-session",),
    success_body={"records": [{"Id": "0N5000000000003AAA", "DeveloperName": "Break"}], "done": True},
    skip={"204": "a SOQL query answers 200 with its records"},
)

TARGETS = {
    "webhook": WEBHOOK,
    "pbx_http": PBX,
    "teams-graph": TEAMS,
    "teams-login": TEAMS_LOGIN,
    "skype": SKYPE,
    "omni-channel": OMNI,
}


def answer(case: Case, success_body: dict | None):
    def reply(request):
        if case.failure is not None:  # requests' own messages name the URL, query string included
            return case.failure(f"HTTPConnectionPool: Max retries exceeded with url: {request.url}")
        if case.status < 300:
            return case.status, {}, json.dumps(success_body) if success_body is not None else ""
        # a remote that echoes the request, as many error pages do
        return case.status, case.headers, json.dumps({"error": {"message": f"cannot handle {request.url}"}})

    return reply


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
@pytest.mark.parametrize("target", TARGETS.values(), ids=list(TARGETS))
@responses.activate
def test_the_remotes_answer_decides_delivered_retried_or_parked(target: Target, case: Case, tmp_path):
    if case.id in target.skip:
        pytest.skip(target.skip[case.id])
    expected = target.deviations.get(case.id, case.expected)
    adapter = target.build(tmp_path)
    responses.add_callback(target.method, target.url, callback=answer(case, target.success_body))
    target.prepare()
    if expected.delivered:
        adapter.push(target.agent, target.change)
    else:
        with pytest.raises(AdapterError) as caught:
            adapter.push(target.agent, target.change)
        error = caught.value
        assert (error.retryable, error.retry_after) == (expected.retryable, expected.retry_after), str(error)
        for secret in target.secrets:
            assert secret not in str(error)
    answered = [
        c for c in responses.calls if c.request.method == target.method and c.request.url.split("?")[0] == target.url
    ]
    assert len(answered) == target.attempts.get(case.id, 1)


def test_delivered_means_the_remote_got_the_change():
    """Spot checks that the table's 'delivered' rows really carried the change (not only 'no error')."""
    with responses.RequestsMock() as rsps:
        rsps.post(TEAMS_TOKEN_URL, json=TEAMS_TOKEN)
        rsps.post(TEAMS_SET, status=200)
        TEAMS.build(None).push(TEAMS_AGENT, TEAMS.change)
        assert json.loads(rsps.calls[1].request.body)["availability"] == "Available"
        rsps.get(PBX_URL, status=200)
        PBX.build(None).push(PBX.agent, PBX.change)
        assert rsps.calls[2].request.url == f"{PBX_URL}?key=number=%2A35%2A3000%2A{PIN}%23"
        rsps.get(OMNI_QUERY, json=OMNI.success_body)
        adapter = OMNI.build(None)
        adapter.push(OMNI.agent, OMNI.change)
        assert adapter.host.events == [
            (
                "omni_channel",
                {
                    "agent_id": "edred",
                    "action": "set_status",
                    "service_presence_status_id": "0N5000000000003AAA",
                    "developer_name": "Break",
                },
            )
        ]


def test_the_table_covers_every_built_in_adapter():
    covered = {target.adapter for target in TARGETS.values()} | {"asterisk_ami"}  # AMI: below, over TCP
    assert set(available()) <= covered


# -- Asterisk AMI (TCP) against the local peer ---------------------------------------------------------
def ami(port: int, secret: str = "s3cret-AMI") -> AsteriskAmiAdapter:
    return AsteriskAmiAdapter(
        {"host": "127.0.0.1", "port": str(port), "username": "connector", "secret": secret, "timeout": "2"}
    )


@pytest.fixture
def peer():
    peer = AmiPeer(secret="s3cret-AMI")
    yield peer
    peer.close()


def test_ami_accepted_login_delivers(peer):
    ami(peer.port).push(AgentInfo("edred", extension="3000"), Change("presence", at=NOW, state=READY))
    assert [a["Interface"] for a in peer.actions_named("QueuePause")] == ["PJSIP/3000"]


def test_ami_refused_login_is_parked_without_the_secret(peer):
    # Asterisk refuses the same AMI_USERNAME/AMI_SECRET every time: only an admin can fix them
    with pytest.raises(AdapterError) as caught:
        ami(peer.port, secret="wrong-SECRET").push(
            AgentInfo("edred", extension="3000"), Change("presence", at=NOW, state=READY)
        )
    assert caught.value.retryable is False and caught.value.retry_after is None
    assert "refused the AMI login for 'connector'" in str(caught.value)
    assert "wrong-SECRET" not in str(caught.value)
    assert peer.actions_named("QueuePause") == []


def test_ami_peer_not_listening_is_retried_without_the_secret():
    port = free_port()
    with pytest.raises(AdapterError) as caught:
        ami(port).push(AgentInfo("edred", extension="3000"), Change("presence", at=NOW, state=READY))
    assert caught.value.retryable is True
    assert str(caught.value) == f"Asterisk AMI at 127.0.0.1:{port} not reachable"
    assert "s3cret-AMI" not in str(caught.value)


def test_an_adapter_keeps_its_http_connection_open_between_deliveries():
    """``self.http``: the webhook example's changes go over one kept-alive connection to a real local
    server (not a new TCP connection per change), and several threads can share the session."""
    from concurrent.futures import ThreadPoolExecutor

    receiver = Receiver()
    try:
        webhook = WebhookAdapter({"url": receiver.url})
        for _ in range(5):
            webhook.push(AgentInfo("edred"), Change("presence", at=NOW, state=READY))
        assert len(receiver.posts) == 5
        assert len({p["connection"] for p in receiver.posts}) == 1
        with ThreadPoolExecutor(4) as pool:
            list(
                pool.map(lambda _: webhook.push(AgentInfo("edred"), Change("presence", at=NOW, state=READY)), range(40))
            )
        assert len(receiver.posts) == 45
        assert len({p["connection"] for p in receiver.posts}) <= 5  # at most one more per thread
    finally:
        receiver.stop()
