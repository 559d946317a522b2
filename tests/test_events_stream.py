"""GET /api/v1/events over a real HTTP server: a change reaches a subscriber at once."""

from __future__ import annotations

import json
import threading

import requests
from werkzeug.serving import make_server

from connector.auth import accounts
from connector.clock import utc_now
from connector.parts import get_parts


class Stream:
    """One line iterator per response (a second iter_lines would drop what the first buffered)."""

    def __init__(self, response):
        self.response = response
        self.lines = response.iter_lines(chunk_size=1, decode_unicode=True)


def read_events(stream: Stream, wanted: int) -> list[tuple[str, dict]]:
    events, kind = [], None
    for line in stream.lines:
        if line.startswith("event: "):
            kind = line[7:]
        elif line.startswith("data: "):
            events.append((kind, json.loads(line[6:])))
            if len(events) >= wanted:
                return events
    return events


def test_a_presence_change_streams_to_subscribers_and_agents_see_only_their_own(make_app):
    app = make_app(CLOCK=utc_now)
    parts = get_parts(app)
    for agent_id in ("edred", "amira"):
        accounts.add_agent(parts.store, {"id": agent_id}, utc_now())
    supervisor = accounts.create_token(parts.store, "supervisor", utc_now())
    amira = accounts.create_token(parts.store, "agent", utc_now(), agent_id="amira")
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    try:
        sup = Stream(
            requests.get(
                f"{base}/api/v1/events", headers={"Authorization": f"Bearer {supervisor}"}, stream=True, timeout=5
            )
        )
        own = Stream(
            requests.get(f"{base}/api/v1/events", headers={"Authorization": f"Bearer {amira}"}, stream=True, timeout=5)
        )
        assert sup.response.headers["Content-Type"].startswith("text/event-stream")
        snapshot = read_events(sup, 1)[0]
        assert snapshot[0] == "snapshot" and {a["id"] for a in snapshot[1]["agents"]} == {"edred", "amira"}
        assert [a["id"] for a in read_events(own, 1)[0][1]["agents"]] == ["amira"]

        parts.service.login("edred", "Paired Device", "deskphone")
        parts.service.login("amira", "Paired Device", "deskphone")
        kinds = read_events(sup, 6)
        assert ("presence", "edred") in {(k, d.get("agent_id")) for k, d in kinds}
        agent_events = [d for k, d in kinds if k == "agent"]
        assert agent_events[0]["id"] == "edred" and agent_events[0]["state"]["id"] == "ready"
        mine = read_events(own, 3)
        assert {d.get("agent_id", d.get("id")) for _, d in mine} == {"amira"}
        sup.response.close()
        own.response.close()
    finally:
        server.shutdown()
