"""The Omni-Channel round trip with Open CTI absent from the page.

The real connector is served on one local port; a harness page is served from another origin (so CORS is
exercised) and loads the real PresenceConnectorBridge.js static resource with a fake omniToolkitAPI. Its
token source calls the harness server, which asks the connector for a stream token with an integration
token — what the Apex controller does through the Named Credential in the org.
"""

from __future__ import annotations

import json
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from adapters.omni_channel import OmniChannelAdapter
from connector.auth import accounts
from connector.clock import utc_now
from connector.presence.config import build_config, load_preset
from connector.store.models import ConsoleCommand, OutboxRow, StateInterval
from tests.helpers.browser import ConsoleErrors, chromium_browser
from tests.helpers.polling import wait_until
from tests.helpers.web_server import live_server

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect
pytestmark = pytest.mark.browser

BRIDGE_JS = (
    Path(__file__).resolve().parent.parent
    / "salesforce"
    / "force-app"
    / "main"
    / "default"
    / "staticresources"
    / "PresenceConnectorBridge.js"
)
USER_ID = "005000000000042AAA"
STATUSES = {"Available": "0N5000000000001AAA", "Busy": "0N5000000000002AAA", "Break": "0N5000000000003AAA"}

HARNESS = """<!doctype html><html><head><meta charset="utf-8"><title>Omni bridge harness</title>
<script src="/bridge.js"></script></head><body><p id="state"></p><script>
var names = %(names)s;
window.applied = []; window.status = null; window.holding = false; window.held = [];
window.toolkit = {
  setServicePresenceStatus: function (o) {
    window.applied.push("set:" + o.statusId);
    return new Promise(function (resolve) {
      var done = function () {
        window.status = o.statusId; resolve({statusId: o.statusId});
        // Omni fires omniChannelStatusChanged for our own change too; the component reports it
        window.bridge.statusChanged(o.statusId, names[o.statusId]);
      };
      if (window.holding) window.held.push(done); else done();
    });
  },
  logout: function () { window.applied.push("logout"); window.status = null; return Promise.resolve(); },
  getServicePresenceStatusId: function () {
    return window.status ? Promise.resolve({statusId: window.status}) : Promise.reject(new Error("offline"));
  }
};
window.release = function () { window.holding = false; window.held.splice(0).forEach(function (f) { f(); }); };
window.agentPicks = function (id) { window.status = id; return window.bridge.statusChanged(id, names[id]); };
window.bridge = PresenceConnectorBridge.create({
  toolkit: window.toolkit,
  fetchToken: function () { return fetch("/token", {method: "POST"}).then(function (r) { return r.json(); }); },
  onState: function (text) { document.getElementById("state").textContent = text; }
});
window.bridge.start();
</script></body></html>"""


class Harness:
    """The page's own origin: the harness, the bridge script, and a token endpoint standing in for Apex."""

    def __init__(self):
        self.connector_url = ""
        self.integration_token = ""
        harness = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # the stream token must not reach any log
                pass

            def _send(self, status, body: bytes, kind: str):
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                if self.path == "/":
                    names = {sid[:15]: name for name, sid in STATUSES.items()}
                    self._send(200, (HARNESS % {"names": json.dumps(names)}).encode(), "text/html")
                elif self.path == "/bridge.js":
                    self._send(200, BRIDGE_JS.read_bytes(), "text/javascript")
                else:
                    self._send(204, b"", "text/plain")  # the browser's favicon.ico

            def do_POST(self):
                request = urllib.request.Request(
                    harness.connector_url + "/api/v1/omni-channel/stream-tokens",
                    method="POST",
                    data=json.dumps({"salesforce_user_id": USER_ID}).encode(),
                    headers={
                        "Authorization": f"Bearer {harness.integration_token}",
                        "Content-Type": "application/json",
                    },
                )
                with urllib.request.urlopen(request, timeout=5) as answer:
                    self._send(200, answer.read(), "application/json")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://localhost:{self.server.server_port}"  # another origin than 127.0.0.1:<connector>
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()


def omni_config():
    data = load_preset("default").to_dict()
    data["options"]["omni_channel_sync"] = True
    mapping = {"ready": "Available", "dnd": "Busy", "break": "Break"}
    for state in data["states"]:
        if state["id"] in mapping:
            name = mapping[state["id"]]
            state["adapters"] = {"omni_channel": {"developer_name": name, "id": STATUSES[name]}}
    return build_config(data, "test")


def rows(parts):
    with parts.store.read() as s:
        return [
            (r.id, r.payload.get("state", {}) and r.payload["state"]["id"], r.delivered_at, r.last_error)
            for r in s.query(OutboxRow).filter_by(adapter="omni-channel").order_by(OutboxRow.id)
        ]


def test_the_omni_round_trip_works_without_open_cti_and_counts_delivery_on_acknowledgement(tmp_path, caplog):
    harness = Harness()
    adapter = OmniChannelAdapter({"ack_seconds": 1.0})
    try:
        with live_server(
            tmp_path,
            ADAPTERS=[adapter],
            CONNECTOR_CORS_ORIGINS=harness.url,
            CONNECTOR_DISPATCH_BACKOFF="0.5",
            CONNECTOR_DISPATCH_MAX_BACKOFF="1",
        ) as server:
            _round_trip(server, harness)
    finally:
        harness.close()
    # the stream token travels in the Authorization header of the fetch reader, never in a URL
    assert "GET /api/v1/events HTTP" in caplog.text and "stream_token=" not in caplog.text


def _round_trip(server, harness):
    parts = server.parts
    parts.configs.apply(omni_config(), "test", "test")
    accounts.add_agent(parts.store, {"id": "omar", "name": "Omar", "salesforce_user_id": USER_ID}, utc_now())
    harness.connector_url = server.url
    harness.integration_token = server.token("integration")
    api = server.token("integration")
    parts.dispatcher.start()
    try:
        # no console open: the login's command is not acknowledged, the row stays undelivered with the reason
        assert server.call("POST", "/api/v1/agents/omar/login", api, {"logon_source": "CRM"})[0] == 200
        reason = "no acknowledgement from omar's console within 1 s"
        wait_until(
            lambda: any(r[3] and reason in r[3] for r in rows(parts)), 15, "the unacknowledged login row", interval=0.05
        )
        assert [r[2] for r in rows(parts)] == [None]
        assert reason in (parts.dispatcher.health()["omni-channel"]["last_error"] or "")

        with chromium_browser() as browser:
            context = browser.new_context()
            watcher = ConsoleErrors(context)
            page = context.new_page()
            page.goto(harness.url + "/")
            assert page.evaluate("typeof window.sforce") == "undefined"  # no Open CTI on this page
            # the retried login reaches the fake toolkit and is delivered once acknowledged
            page.wait_for_function("window.applied.indexOf('set:0N5000000000001') >= 0")
            wait_until(lambda: rows(parts)[0][2] is not None, 15, "the login row delivered", interval=0.05)

            # a supervisor's change: applied in the console, delivered only after the acknowledgement
            page.evaluate("window.holding = true")
            assert (
                server.call("PUT", "/api/v1/agents/omar/presence", server.token("supervisor"), {"state": "break"})[0]
                == 200
            )
            page.wait_for_function("window.held.length === 1")
            [(row_id, state, delivered_at, _)] = [r for r in rows(parts) if r[1] == "break"]
            with parts.store.read() as s:
                command = s.get(ConsoleCommand, f"outbox-{row_id}")
                assert command is not None and command.acked_at is None
            assert delivered_at is None  # the toolkit has not answered: no acknowledgement yet
            page.evaluate("window.release()")
            wait_until(
                lambda: [r for r in rows(parts) if r[0] == row_id][0][2] is not None,
                15,
                "the break row delivered",
                interval=0.05,
            )
            assert page.evaluate("window.applied") == ["set:0N5000000000001", "set:0N5000000000003"]
            presence = server.call("GET", "/api/v1/agents/omar/presence", api)[1]
            assert presence["state"]["id"] == "break"  # Omni's confirmation of our change changed nothing

            # the agent picks Busy in Omni: the connector follows, with source omni-channel, not sent back
            page.evaluate(f"window.agentPicks('{STATUSES['Busy'][:15]}')")
            wait_until(
                lambda: server.call("GET", "/api/v1/agents/omar/presence", api)[1]["state"]["id"] == "dnd",
                15,
                "the change made in Omni",
                interval=0.05,
            )
            with parts.store.read() as s:
                latest = s.query(StateInterval).filter_by(agent_id="omar").order_by(StateInterval.id.desc()).first()
                assert (latest.state_id, latest.source) == ("dnd", "omni-channel")
            assert page.evaluate("window.applied.length") == 2
            assert page.locator("#state").text_content() == ""  # the bridge reports no problem
            context.close()
        assert watcher.errors == []
    finally:
        parts.dispatcher.stop()
