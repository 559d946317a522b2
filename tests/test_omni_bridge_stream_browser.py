"""The Omni bridge's event stream in a real browser: read with fetch, token in a header, resumed with
Last-Event-ID, and every asynchronous callback run through the ``wrap`` the console gives ($A.getCallback).

The page and a stand-in for the connector's event stream share one local server, so what the bridge sends
(URL, headers) is seen exactly; the full round trip against the real connector is in
test_omni_bridge_browser.py.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.helpers.browser import ConsoleErrors, chromium_browser
from tests.helpers.polling import wait_until
from tests.test_omni_bridge_browser import BRIDGE_JS

pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.browser  # skipped without Debian's chromium (tests/conftest.py)

TOKEN = "pcs1.stream-token-for-omar"
PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>bridge stream</title>
<script src="/bridge.js"></script></head><body><p id="state"></p><script>
// $A.getCallback stand-in: counts how deep we are inside wrapped callbacks
window.depth = 0; window.outside = []; window.applied = [];
function wrap(fn) {
  return function () { window.depth += 1; try { return fn.apply(this, arguments); } finally { window.depth -= 1; } };
}
function inside(what) { if (window.depth === 0) window.outside.push(what); }
window.bridge = PresenceConnectorBridge.create({
  wrap: wrap,
  toolkit: {
    setServicePresenceStatus: function (o) { inside("toolkit"); window.applied.push(o.statusId); return Promise.resolve(); },
    logout: function () { inside("toolkit"); return Promise.resolve(); }
  },
  fetchToken: function () {
    inside("fetchToken");
    return Promise.resolve({token: "__TOKEN__", agent_id: "omar", expires_in: 900,
                            events_url: location.origin + "/events", report_url: location.origin + "/report"});
  },
  onState: function (text) { inside("onState"); document.getElementById("state").textContent = text; }
});
window.bridge.start();
</script></body></html>""".replace("__TOKEN__", TOKEN)


def command(event_id: int, command_id: str, status_id: str) -> bytes:
    data = {
        "action": "set_status",
        "agent_id": "omar",
        "command_id": command_id,
        "service_presence_status_id": status_id,
    }
    return f"id: {event_id}\nevent: omni_channel\ndata: {json.dumps(data)}\n\n".encode()


class StreamServer:
    """The page, the bridge script, and an event stream that drops after its first event."""

    def __init__(self):
        self.streams: list[dict] = []  # the path and headers of each stream request
        self.reports: list[dict] = []
        self.closing = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, body: bytes, kind: str):
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                if self.path == "/":
                    return self._send(PAGE.encode(), "text/html")
                if self.path == "/bridge.js":
                    return self._send(BRIDGE_JS.read_bytes(), "text/javascript")
                if not self.path.startswith("/events"):
                    return self._send(b"", "text/plain")
                server.streams.append(
                    {
                        "path": self.path,
                        "authorization": self.headers.get("Authorization"),
                        "last_event_id": self.headers.get("Last-Event-ID"),
                    }
                )
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                if len(server.streams) == 1:  # the first stream: one command split over two writes, then a drop
                    first = b"retry: 100\n\n" + command(41, "c-41", "0N5000000000001AAA")
                    self.wfile.write(first[:30])
                    self.wfile.flush()
                    time.sleep(0.05)
                    self.wfile.write(first[30:])
                    self.wfile.flush()
                    return None
                self.wfile.write(command(42, "c-42", "0N5000000000003AAA"))
                self.wfile.flush()
                while not server.closing.wait(0.2):  # held open, with keepalives, until the test ends
                    self.wfile.write(b": keepalive\n\n")
                    self.wfile.flush()
                return None

            def do_POST(self):
                length = int(self.headers.get("Content-Length", "0"))
                server.reports.append(
                    {"authorization": self.headers.get("Authorization"), **json.loads(self.rfile.read(length))}
                )
                self._send(b"{}", "application/json")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.closing.set()
        self.server.shutdown()


def test_the_bridge_reads_its_stream_with_fetch_token_in_a_header_resuming_with_last_event_id():
    stream = StreamServer()
    try:
        with chromium_browser() as browser:
            context = browser.new_context()
            watcher = ConsoleErrors(context)
            page = context.new_page()
            page.goto(stream.url + "/")
            page.wait_for_function("window.applied.length === 2")
            wait_until(lambda: len(stream.reports) == 2, 15, "both acknowledgements")

            # the commands before and after the drop, each applied once (15-character Ids)
            assert page.evaluate("window.applied") == ["0N5000000000001", "0N5000000000003"]
            # the token in the Authorization header, never in the URL; the second stream resumes after 41
            assert [s["path"] for s in stream.streams] == ["/events", "/events"]
            assert {s["authorization"] for s in stream.streams} == {f"Bearer {TOKEN}"}
            assert [s["last_event_id"] for s in stream.streams] == [None, "41"]
            assert [(r["command_id"], r["ok"], r["authorization"]) for r in stream.reports] == [
                ("c-41", True, f"Bearer {TOKEN}"),
                ("c-42", True, f"Bearer {TOKEN}"),
            ]
            # the token fetch, every toolkit call and every state shown ran inside the wrap ($A.getCallback)
            assert page.evaluate("window.outside") == []
            assert page.locator("#state").text_content() == ""
            context.close()
        assert watcher.errors == []
    finally:
        stream.close()
