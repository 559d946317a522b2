"""Event streams as `serve` runs them (uvicorn + connector.serve.asgi): resume, the per-principal cap, several
instances on one PostgreSQL database, and a burst of connections."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
import requests
from sqlalchemy import select

from connector.auth import accounts
from connector.clock import utc_now
from connector.parts import get_parts
from connector.store.models import EventRow
from tests.helpers.polling import wait_until
from tests.helpers.web_server import asgi_server


class Events:
    """Reads one SSE response: (id, event, data) per event; ids as the server sent them (None when absent)."""

    def __init__(self, response):
        self.response = response
        self.lines = response.iter_lines(chunk_size=1, decode_unicode=True)

    def read(self, wanted: int) -> list[tuple[int | None, str, dict]]:
        events, event_id, kind = [], None, None
        for line in self.lines:
            if line.startswith("id: "):
                event_id = int(line[4:])
            elif line.startswith("event: "):
                kind = line[7:]
            elif line.startswith("data: "):
                events.append((event_id, kind, json.loads(line[6:])))
                event_id = None
                if len(events) >= wanted:
                    break
        return events

    def until(self, predicate, limit: int = 50) -> list[tuple[int | None, str, dict]]:
        seen = []
        while len(seen) < limit:
            seen += self.read(1)
            if predicate(seen[-1]):
                return seen
        raise AssertionError(f"not seen among {seen}")

    def close(self) -> None:
        self.response.close()


def open_stream(base: str, token: str, **headers) -> Events:
    response = requests.get(
        f"{base}/api/v1/events", headers={"Authorization": f"Bearer {token}", **headers}, stream=True, timeout=10
    )
    assert response.status_code == 200, response.text
    return Events(response)


def setup(app, *agent_ids: str) -> str:
    parts = get_parts(app)
    for agent_id in agent_ids:
        accounts.add_agent(parts.store, {"id": agent_id, "name": agent_id.title()}, utc_now())
    return accounts.create_token(parts.store, "supervisor", utc_now(), name="dashboards")


def test_a_stream_resumes_with_last_event_id_and_gets_the_change_made_while_disconnected(make_app):
    app = make_app(CLOCK=utc_now)
    parts = get_parts(app)
    supervisor = setup(app, "edred", "amira")
    amira = accounts.create_token(parts.store, "agent", utc_now(), agent_id="amira", name="amira")
    with asgi_server(app) as base:
        stream = open_stream(base, supervisor)
        [(snapshot_id, kind, _)] = stream.read(1)
        assert kind == "snapshot" and snapshot_id is not None
        parts.service.login("edred", "Paired Device", "deskphone")
        seen = stream.until(lambda e: e[1] == "agent")
        last_id = seen[-1][0]
        stream.close()

        # while no page listens: one change of each agent
        parts.service.set_state("edred", "dnd")
        parts.service.login("amira", "Paired Device", "deskphone")

        resumed = open_stream(base, supervisor, **{"Last-Event-ID": str(last_id)})
        events = resumed.until(lambda e: e[1] == "agent" and e[2]["id"] == "amira")
        assert "snapshot" not in [kind for _, kind, _ in events]
        assert [d["state"]["id"] for _, k, d in events if k == "agent" and d["id"] == "edred"] == ["dnd"]
        assert all(a < b for a, b in zip([i for i, _, _ in events], [i for i, _, _ in events][1:]))
        # and it goes on live after the replay
        parts.service.set_state("edred", "ready")
        assert resumed.until(lambda e: e[1] == "agent")[-1][2]["state"]["id"] == "ready"
        resumed.close()

        # an agent's page resumes with ?lastEventId= (a new EventSource cannot set the header): its own events only
        own = requests.get(
            f"{base}/api/v1/events?lastEventId={last_id}",
            stream=True,
            timeout=10,
            headers={"Authorization": f"Bearer {amira}"},
        )
        mine = Events(own).until(lambda e: e[1] == "agent")
        assert {d.get("agent_id", d.get("id")) for _, _, d in mine} == {"amira"}
        own.close()


def test_the_retention_prune_deletes_exactly_the_events_older_than_the_window(make_app, clock):
    app = make_app(CONNECTOR_EVENTS_RETENTION="3600")
    parts = get_parts(app)
    setup(app, "edred", "bob")
    parts.service.login("edred", "Paired Device", "deskphone")
    clock.advance(minutes=50)
    parts.service.login("bob", "Paired Device", "deskphone")
    clock.advance(minutes=20)  # edred's login is 70 minutes old now, bob's 20
    parts.service.set_state("edred", "dnd")

    def kept() -> list[tuple[str, int]]:
        with parts.store.read() as s:
            return [
                (row.agent_id, round((clock() - row.created_at).total_seconds() / 60))
                for row in s.execute(select(EventRow).order_by(EventRow.id)).scalars()
            ]

    before = kept()
    assert parts.bus.prune() == sum(1 for _, age in before if age > 60) > 0
    assert kept() == [(agent, age) for agent, age in before if age <= 60] and kept()
    remaining = len(kept())
    clock.advance(hours=2)  # everything has aged out
    assert parts.bus.prune() == remaining and kept() == []


def test_resuming_from_before_the_retention_window_gets_resync_then_a_fresh_snapshot(make_app, clock):
    app = make_app(CONNECTOR_EVENTS_RETENTION="3600")
    parts = get_parts(app)
    supervisor = setup(app, "edred")
    with asgi_server(app) as base:
        stream = open_stream(base, supervisor)
        [(old_id, _, _)] = stream.read(1)
        stream.close()
        parts.service.login("edred", "Paired Device", "deskphone")  # missed, then pruned
        clock.advance(hours=2)
        parts.service.set_state("edred", "dnd")
        parts.bus.prune()  # the login's events are older than an hour (the poller may have pruned them already)
        events = open_stream(base, supervisor, **{"Last-Event-ID": str(old_id)})
        (_, first, reason), (snapshot_id, second, snapshot) = events.read(2)
        assert first == "resync" and "no longer kept" in reason["reason"]
        assert second == "snapshot" and snapshot["agents"][0]["state"]["id"] == "dnd"
        assert snapshot_id > old_id
        events.close()


def test_the_per_principal_cap_answers_503_with_a_clear_json_error(make_app):
    app = make_app(CLOCK=utc_now, CONNECTOR_STREAMS_PER_PRINCIPAL="2")
    parts = get_parts(app)
    supervisor = setup(app, "edred")
    other = accounts.create_token(parts.store, "supervisor", utc_now(), name="wallboard")
    with asgi_server(app) as base:
        first, second = open_stream(base, supervisor), open_stream(base, supervisor)
        refused = requests.get(f"{base}/api/v1/events", headers={"Authorization": f"Bearer {supervisor}"}, timeout=10)
        assert refused.status_code == 503
        error = refused.json()["error"]
        assert error["code"] == "too_many_streams" and "CONNECTOR_STREAMS_PER_PRINCIPAL" in error["message"]
        assert "limit is 2" in error["message"]
        # another token is not affected, and the API still answers
        open_stream(base, other).close()
        assert requests.get(f"{base}/healthz", timeout=10).status_code == 200
        # closing a page gives its slot back
        first.close()

        def reopened():
            again = requests.get(
                f"{base}/api/v1/events", headers={"Authorization": f"Bearer {supervisor}"}, stream=True, timeout=10
            )
            if again.status_code == 200:
                return again
            again.close()
            return None

        wait_until(reopened, 5, "the closed stream's slot given back", interval=0.05).close()
        second.close()


def test_a_burst_of_300_connections_all_get_answers(make_app):
    aiohttp = pytest.importorskip("aiohttp")
    app = make_app(CLOCK=utc_now)
    parts = get_parts(app)
    setup(app, *[f"agent{i:03d}" for i in range(30)])
    tokens = [accounts.create_token(parts.store, "supervisor", utc_now(), name=f"wall{i}") for i in range(15)]

    async def burst(base: str) -> list[int]:
        async with aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0), timeout=aiohttp.ClientTimeout(total=60)
        ) as session:

            async def stream(token: str) -> int:
                async with session.get(f"{base}/api/v1/events", headers={"Authorization": f"Bearer {token}"}) as r:
                    while b"event: snapshot" not in await r.content.readuntil(b"\n\n"):
                        pass
                    return r.status

            async def health() -> int:
                async with session.get(f"{base}/healthz") as r:
                    await r.read()
                    return r.status

            streams = [stream(tokens[i % len(tokens)]) for i in range(270)]
            statuses = await asyncio.gather(*streams, *[health() for _ in range(30)])
            return list(statuses)

    with asgi_server(app) as base:
        statuses = asyncio.run(burst(base))
        assert statuses == [200] * 300
        assert requests.get(f"{base}/healthz", timeout=10).status_code == 200


def test_a_stream_on_instance_b_sees_a_change_made_on_instance_a_within_a_second(postgres, tmp_path, make_app):
    url = postgres.new_database()
    a = make_app(CLOCK=utc_now, CONNECTOR_DATABASE_URL=url)
    b = make_app(CLOCK=utc_now, CONNECTOR_DATABASE_URL=url)
    supervisor = setup(a, "edred")
    edred = accounts.create_token(get_parts(a).store, "agent", utc_now(), agent_id="edred", name="edred")
    with asgi_server(b) as base_b:
        stream = open_stream(base_b, supervisor)
        softphone = open_stream(base_b, edred)
        stream.read(1)
        softphone.read(1)
        started = time.monotonic()
        get_parts(a).service.login("edred", "Paired Device", "deskphone")
        agent = stream.until(lambda e: e[1] == "agent")[-1]
        assert time.monotonic() - started < 1.0
        assert agent[2]["id"] == "edred" and agent[2]["logged_in"]
        # an Omni-Channel command published on A reaches the softphone connected to B
        get_parts(a).bus.publish("omni_channel", {"agent_id": "edred", "action": "logout"})
        command = softphone.until(lambda e: e[1] == "omni_channel")[-1]
        assert command[2] == {"agent_id": "edred", "action": "logout"}
        stream.close()
        softphone.close()
