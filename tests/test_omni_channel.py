"""The Omni-Channel bridge: statuses resolved by SOQL, sent to the console component, acknowledged,
reported back, drift."""

from __future__ import annotations

import threading

import pytest
import responses

from adapters.omni_channel import OmniChannelAdapter
from connector.auth import accounts
from connector.parts import get_parts
from connector.presence.config import build_config, load_preset

INSTANCE = "https://acme.my.salesforce.com"
QUERY = f"{INSTANCE}/services/data/v61.0/query"
STATUSES = {
    "records": [
        {"Id": "0N5000000000001AAA", "DeveloperName": "Available"},
        {"Id": "0N5000000000002AAA", "DeveloperName": "Busy"},
        {"Id": "0N5000000000003AAA", "DeveloperName": "Break"},
    ],
    "done": True,
}


def omni_config():
    data = load_preset("default").to_dict()
    data["options"]["omni_channel_sync"] = True
    mapping = {
        "ready": "Available",
        "dnd": "Busy",
        "break": "Break",
        "lunch": "Break",
        "on-a-call": {"developer_name": "Busy", "id": "0N5000000000002"},
    }
    for state in data["states"]:
        if state["id"] in mapping:
            state["adapters"] = {"omni_channel": mapping[state["id"]]}
    return build_config(data, "test")


class Console:
    """The PresenceConnectorOmni component as the connector sees it: it receives the agent's commands on
    the live events and acknowledges them through the API (``answer``: "ok", a failure dict, or None = silent)."""

    def __init__(self, app, agent_id: str, answer: object = "ok"):
        self.parts = get_parts(app)
        self.client = app.test_client()
        self.auth = {
            "Authorization": "Bearer "
            + accounts.create_token(self.parts.store, "agent", self.parts.clock(), agent_id=agent_id)
        }
        self.agent_id, self.answer = agent_id, answer
        self.commands: list[dict] = []
        self.acks: list[int] = []
        self._sub = self.parts.bus.subscribe()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            event = self._sub.get(0.02)
            if event is None or event["event"] != "omni_channel" or event["data"]["agent_id"] != self.agent_id:
                continue
            self.commands.append(event["data"])
            if self.answer is None:
                continue
            result = {"ok": True} if self.answer == "ok" else {"ok": False, **self.answer}
            reply = self.client.post(
                f"/api/v1/agents/{self.agent_id}/omni-channel",
                headers=self.auth,
                json={"event": "ack", "command_id": event["data"]["command_id"], **result},
            )
            self.acks.append(reply.status_code)

    def sent(self) -> list[dict]:
        """The commands received, without their ids (those are the outbox keys)."""
        return [{k: v for k, v in c.items() if k != "command_id"} for c in self.commands]

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self._sub.close()


@pytest.fixture
def omni(make_app):
    adapter = OmniChannelAdapter({"instance_url": INSTANCE, "access_token": "00Dxx!session"})
    app = make_app(ADAPTERS=[adapter])
    parts = get_parts(app)
    parts.configs.apply(omni_config(), "test", "test")
    accounts.add_agent(
        parts.store, {"id": "edred", "name": "Edred", "salesforce_user_id": "005000000000001AAA"}, parts.clock()
    )
    console = Console(app, "edred")
    yield app, parts, adapter, console
    console.close()


def outbox(app, agent_id="edred") -> list[dict]:
    """The agent's Omni-Channel outbox rows as an admin sees them."""
    from connector.store.models import OutboxRow

    with get_parts(app).store.read() as s:
        return [
            {
                "delivered": r.delivered_at is not None,
                "attempts": r.attempts,
                "error": r.last_error,
                "parked": r.next_attempt_at is None and r.delivered_at is None,
            }
            for r in s.query(OutboxRow).filter_by(adapter="omni-channel", agent_id=agent_id).order_by(OutboxRow.id)
        ]


@responses.activate
def test_states_are_sent_to_the_console_as_resolved_omni_statuses_and_delivered_on_acknowledgement(omni):
    app, parts, adapter, console = omni
    responses.get(QUERY, json=STATUSES)
    parts.service.login("edred", "Softphone", "browser")
    get_parts(app).dispatcher.drain()
    parts.service.set_state("edred", "break")
    get_parts(app).dispatcher.drain()
    parts.service.set_state("edred", "lunch")
    get_parts(app).dispatcher.drain()
    parts.service.logout("edred", "Softphone")
    get_parts(app).dispatcher.drain()
    assert console.sent() == [
        {
            "agent_id": "edred",
            "action": "set_status",
            "service_presence_status_id": "0N5000000000001AAA",
            "developer_name": "Available",
        },
        {
            "agent_id": "edred",
            "action": "set_status",
            "service_presence_status_id": "0N5000000000003AAA",
            "developer_name": "Break",
        },
        {
            "agent_id": "edred",
            "action": "set_status",
            "service_presence_status_id": "0N5000000000003AAA",
            "developer_name": "Break",
        },
        {"agent_id": "edred", "action": "logout"},
    ]
    assert console.acks == [200] * 4 and all(row["delivered"] for row in outbox(app))
    assert len({c["command_id"] for c in console.commands}) == 4
    assert len(responses.calls) == 1  # the statuses are cached
    request = responses.calls[0].request
    assert request.headers["Authorization"] == "Bearer 00Dxx!session"
    assert "SELECT+Id%2C+DeveloperName+FROM+ServicePresenceStatus" in request.url


@responses.activate
def test_a_status_missing_in_salesforce_is_parked_naming_it(omni):
    app, parts, adapter, console = omni
    responses.get(QUERY, json={"records": [], "done": True})
    parts.service.login("edred", "Softphone", "browser")
    get_parts(app).dispatcher.drain()
    health = get_parts(app).dispatcher.health()["omni-channel"]
    assert health["parked"] == 1 and health["last_error"] == "Salesforce has no ServicePresenceStatus 'Available'"
    from connector.integrations.runtime import adapters_health

    [shown] = adapters_health(app)["adapters"]
    assert shown["settings"]["OMNI_ACCESS_TOKEN"] == "(set)" and "00Dxx" not in str(shown)


@responses.activate
def test_omni_changes_made_in_the_console_reach_the_engine_and_confirmations_do_not(omni):
    app, parts, adapter, console = omni
    responses.get(QUERY, json=STATUSES)
    from tests.helpers.api import Api

    api = Api(app, app.test_client())
    agent = api.token("agent", agent_id="edred")
    parts.service.login("edred", "Softphone", "browser")
    get_parts(app).dispatcher.drain()  # we asked Omni for Available
    reply = api.call(
        "POST", "/api/v1/agents/edred/omni-channel", agent, {"event": "statusChanged", "developer_name": "Available"}
    )
    assert reply.status_code == 200 and reply.get_json()["state"]["id"] == "ready"
    reply = api.call(
        "POST",
        "/api/v1/agents/edred/omni-channel",
        agent,
        {"event": "statusChanged", "service_presence_status_id": "0N5000000000003AAA"},
    )
    assert reply.status_code == 200 and reply.get_json()["state"]["id"] == "break"
    get_parts(app).dispatcher.drain()
    assert [e.get("developer_name") for e in console.commands] == ["Available"]  # not echoed back to Omni
    bad = api.call(
        "POST", "/api/v1/agents/edred/omni-channel", agent, {"event": "statusChanged", "developer_name": "Training"}
    )
    assert bad.status_code == 422 and bad.get_json()["error"]["field"] == "developer_name"
    other = api.call("POST", "/api/v1/agents/ann/omni-channel", agent, {"event": "logout"})
    assert other.status_code == 403
    out = api.call("POST", "/api/v1/agents/edred/omni-channel", api.token("integration"), {"event": "logout"})
    assert out.status_code == 200 and out.get_json()["logged_in"] is False
    assert not parts.service.presence("edred")["logged_in"]


@responses.activate
def test_reconciliation_reports_agents_whose_omni_status_drifted(omni):
    app, parts, adapter, console = omni
    accounts.add_agent(
        parts.store, {"id": "ann", "name": "Ann", "salesforce_user_id": "005000000000002AAA"}, parts.clock()
    )
    parts.service.login("edred", "Softphone", "browser")
    parts.service.login("ann", "Softphone", "browser")
    parts.service.set_state("ann", "break")
    responses.get(
        QUERY,
        json={
            "records": [
                {"UserId": "005000000000001AAA", "ServicePresenceStatus": {"DeveloperName": "Available"}},
                {"UserId": "005000000000002AAA", "ServicePresenceStatus": {"DeveloperName": "Available"}},
            ],
            "done": True,
        },
    )
    [(job_id, job, seconds)] = [j for j in parts.jobs if j[0] == "omni-channel-reconcile"]
    assert job() == [{"agent_id": "ann", "expected": "Break", "omni_channel": "Available"}]
    assert "IsCurrentState+%3D+true" in responses.calls[0].request.url
    assert get_parts(app).dispatcher.health()["omni-channel"]["drift"][0]["agent_id"] == "ann"


@responses.activate
def test_without_omni_settings_statuses_are_read_through_the_shared_salesforce_connection(make_app):
    from tests.helpers.fakes.salesforce import DATA_URL, SF_ENV, FakeOrg

    FakeOrg(responses.mock)
    responses.get(DATA_URL + "/query/", json=STATUSES)
    adapter = OmniChannelAdapter({})
    app = make_app(ADAPTERS=[adapter], **SF_ENV)
    parts = get_parts(app)
    parts.configs.apply(omni_config(), "test", "test")
    accounts.add_agent(parts.store, {"id": "edred", "name": "Edred"}, parts.clock())
    console = Console(app, "edred")
    parts.service.login("edred", "Softphone", "browser")
    get_parts(app).dispatcher.drain()
    console.close()
    assert console.commands[0]["service_presence_status_id"] == "0N5000000000001AAA"
    [query] = [c.request for c in responses.calls if "/query" in c.request.url]
    assert "ServicePresenceStatus" in query.url and query.headers["Authorization"].startswith("Bearer 00Dxx!token-")


def _omni_app(make_app, ack_seconds: float = 8.0):
    adapter = OmniChannelAdapter(
        {"instance_url": INSTANCE, "access_token": "00Dxx!session", "ack_seconds": ack_seconds}
    )
    app = make_app(ADAPTERS=[adapter])
    parts = get_parts(app)
    parts.configs.apply(omni_config(), "test", "test")
    accounts.add_agent(
        parts.store, {"id": "edred", "name": "Edred", "salesforce_user_id": "005000000000001AAA"}, parts.clock()
    )
    return app, parts


@responses.activate
def test_without_an_open_console_the_row_stays_undelivered_and_health_says_why(make_app):
    responses.get(QUERY, json=STATUSES)
    app, parts = _omni_app(make_app, ack_seconds=0.3)
    parts.service.login("edred", "Softphone", "browser")
    parts.dispatcher.drain()
    [row] = outbox(app)
    assert not row["delivered"] and not row["parked"] and row["attempts"] == 1
    reason = (
        "no acknowledgement from edred's console within 0.3 s (is the console open with the Presence "
        "Connector Omni utility loaded?)"
    )
    assert row["error"] == reason and parts.dispatcher.health()["omni-channel"]["last_error"] == reason


@responses.activate
def test_a_retry_resends_the_same_command_id_and_a_late_acknowledgement_completes_it(make_app):
    responses.get(QUERY, json=STATUSES)
    app, parts = _omni_app(make_app, ack_seconds=0.3)
    console = Console(app, "edred", answer=None)
    parts.service.login("edred", "Softphone", "browser")
    parts.dispatcher.drain()
    [first] = console.commands
    auth = console.auth
    reply = app.test_client().post(
        "/api/v1/agents/edred/omni-channel",
        headers=auth,
        json={"event": "ack", "command_id": first["command_id"], "ok": True},
    )
    assert reply.status_code == 200 and reply.get_json()["id"] == "edred"
    parts.clock.advance(seconds=10)  # the back-off is over
    parts.dispatcher.drain()
    console.close()
    assert outbox(app)[0]["delivered"] and outbox(app)[0]["attempts"] == 2
    # the late acknowledgement completed the command: the retry needs no second answer
    assert [c["command_id"] for c in console.commands] == [first["command_id"]]


@responses.activate
@pytest.mark.parametrize(
    "failure, parked",
    [
        ({"error": "Omni-Channel is not available on this page", "error_code": "toolkit"}, False),
        ({"error": "invalid status id 0N5000000000001", "error_code": "invalid_status"}, True),
    ],
)
def test_a_failure_the_console_reports_is_retried_or_parked_with_its_reason(make_app, failure, parked):
    responses.get(QUERY, json=STATUSES)
    app, parts = _omni_app(make_app)
    console = Console(app, "edred", answer=failure)
    parts.service.login("edred", "Softphone", "browser")
    parts.dispatcher.drain()
    console.close()
    [row] = outbox(app)
    assert console.acks == [200]
    assert not row["delivered"] and row["parked"] is parked
    assert row["error"] == f"edred's console could not set status: {failure['error']}"


def test_acknowledgements_are_checked_and_scoped_to_the_agents_own_commands(omni):
    app, parts, adapter, console = omni
    from tests.helpers.api import Api

    api = Api(app, app.test_client())
    api.agent("ann")
    host = get_parts(app).dispatcher.host
    host.send_command("ann", "outbox-77", "logout", {})
    edred = api.token("agent", agent_id="edred")
    cases = [
        ({"event": "ack", "command_id": "outbox-77", "ok": True}, "command_id"),  # ann's command
        ({"event": "ack", "command_id": "outbox-404", "ok": True}, "command_id"),
        ({"event": "ack", "command_id": "outbox-77", "ok": "yes"}, "ok"),
        ({"event": "ack", "command_id": "outbox-77", "ok": False}, "error"),
        ({"event": "ack", "ok": True}, "command_id"),
        ({"event": "workAccepted", "work_item_id": "not an id"}, "work_item_id"),
        ({"event": "typing"}, "event"),
    ]
    for event, field in cases:
        reply = api.call("POST", "/api/v1/agents/edred/omni-channel", edred, event)
        assert (reply.status_code, reply.get_json()["error"]["field"]) == (422, field), event
    assert host.command_result("outbox-77") == {"acked": False, "ok": None, "error": None, "error_code": None}


def test_work_accepted_in_omni_is_published_and_leaves_presence_alone(omni):
    app, parts, adapter, console = omni
    from tests.helpers.api import Api

    api = Api(app, app.test_client())
    parts.service.login("edred", "Softphone", "browser")
    sub = parts.bus.subscribe()
    reply = api.call(
        "POST",
        "/api/v1/agents/edred/omni-channel",
        api.token("agent", agent_id="edred"),
        {"event": "workAccepted", "work_item_id": "500000000000001AAA", "work_id": "0Bz000000000001"},
    )
    assert reply.status_code == 200 and reply.get_json()["state"]["id"] == "ready"
    published = [e for e in iter(lambda: sub.get(0.05), None) if e["event"] == "omni_channel_work"]
    sub.close()
    assert [e["data"]["work_item_id"] for e in published] == ["500000000000001AAA"]
    assert parts.service.presence("edred")["state"]["id"] == "ready"


@responses.activate
def test_a_late_confirmation_reaching_another_instance_is_recognised_as_ours(omni, make_app):
    """What was sent to Omni is remembered in the store: a confirmation arriving at another instance of the
    connector (another process behind the load balancer) does not undo the agent's newer change."""
    app, parts, adapter, console = omni
    responses.get(QUERY, json=STATUSES)
    second = make_app(ADAPTERS=[OmniChannelAdapter({"instance_url": INSTANCE, "access_token": "00Dxx!session"})])
    parts.service.login("edred", "Softphone", "browser")
    parts.service.set_state("edred", "break")
    get_parts(app).dispatcher.drain()  # Available, then Break went to Omni, acknowledged
    parts.service.set_state("edred", "ready")  # the agent moves on before Omni's confirmation of Break arrives
    integration = {"Authorization": "Bearer " + accounts.create_token(parts.store, "integration", parts.clock())}
    late = second.test_client().post(
        "/api/v1/agents/edred/omni-channel",
        headers=integration,
        json={"event": "statusChanged", "developer_name": "Break"},
    )
    assert late.status_code == 200 and late.get_json()["state"]["id"] == "ready"
