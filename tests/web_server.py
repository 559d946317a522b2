"""The real app served on 127.0.0.1 in a background thread, with a real clock, for browser tests."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path

from werkzeug.serving import make_server

from connector import create_app
from connector.auth import accounts
from connector.clock import utc_now
from connector.jobs import scheduler
from connector.parts import get_parts

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "screenshots"
PASSWORD = "correct-horse-1"


class LiveServer:
    def __init__(self, app, server):
        self.app = app
        self.server = server
        self.parts = get_parts(app)
        self.url = f"http://127.0.0.1:{server.server_port}"

    def agent(self, agent_id: str, pin: str = "1234", team: str = "Sales", name: str | None = None) -> str:
        accounts.add_agent(
            self.parts.store, {"id": agent_id, "name": name or agent_id.title(), "team": team, "pin": pin}, utc_now()
        )
        return agent_id

    def user(self, username: str, role: str) -> str:
        accounts.add_user(self.parts.store, username, PASSWORD, role, utc_now())
        return username

    def token(self, role: str) -> str:
        return accounts.create_token(self.parts.store, role, utc_now())

    def call(self, method: str, path: str, token: str, body: dict | None = None) -> tuple[int, dict]:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(
            self.url + path,
            data=data,
            method=method,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(req, timeout=5) as res:
                return res.status, json.loads(res.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())


@contextmanager
def chromium_browser():
    """Debian's headless chromium through Playwright, closed afterwards."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@contextmanager
def live_server(tmp_path: Path, **settings):
    config = {
        "TESTING": True,
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "CLOCK": utc_now,
        "CONNECTOR_DATABASE_URL": f"sqlite:///{tmp_path / 'presence.db'}",
        "CONNECTOR_TIMEZONE": "UTC",
        "CONNECTOR_SECRET_KEY": "browser-test-secret",
        "CONNECTOR_PASSWORD_HASH_COST": "test",
        **settings,
    }
    app = create_app(config)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    jobs = scheduler.start(app)  # wrap-up ends, like in production
    try:
        yield LiveServer(app, server)
    finally:
        jobs.shutdown(wait=False)
        server.shutdown()
        get_parts(app).store.dispose()


@contextmanager
def asgi_server(app):
    """The app as ``serve`` runs it (uvicorn + connector.serve.asgi) on 127.0.0.1, in a background thread.

    Yields the base URL. No scheduler or dispatcher: the test drives those itself.
    """
    from connector.serve.asgi import ConnectorAsgi

    with uvicorn_server(ConnectorAsgi(app, threads=8), lifespan="on") as base:
        yield base


@contextmanager
def uvicorn_server(asgi_app, lifespan: str = "off"):
    """Any ASGI app on a real uvicorn server on 127.0.0.1, in a background thread; yields the base URL."""
    import socket
    import time

    import uvicorn

    sock = socket.create_server(("127.0.0.1", 0), backlog=4096)
    config = uvicorn.Config(
        asgi_app,
        http="httptools",
        loop="asyncio",
        lifespan=lifespan,
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=1,
        proxy_headers=False,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


class ConsoleErrors:
    """Collects console errors and uncaught page errors of every page of a browser context."""

    def __init__(self, context):
        self.errors: list[str] = []
        self.expected: list[str] = []
        context.on("page", self._watch)

    def expect_refusals(self, *statuses: int) -> None:
        """Chromium logs every 4xx answer as a console error; a test that provokes a refusal says which."""
        self.expected += [f"status of {code} " for code in statuses]

    def expect_network_loss(self) -> None:
        self.expected.append("net::ERR_")

    def _console(self, page, msg) -> None:
        if msg.type != "error":
            return
        if any(fragment in msg.text for fragment in self.expected):
            return
        self.errors.append(f"{page.url}: {msg.text}")

    def _watch(self, page) -> None:
        page.on("console", lambda msg: self._console(page, msg))
        page.on("pageerror", lambda exc: self.errors.append(f"{page.url}: {exc}"))


def sign_in(page, base: str, username: str) -> None:
    page.goto(base + "/auth/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    # wait until the page signed in to has loaded and run its scripts: a click before that would
    # find a visible button whose handler is not attached yet (seen on a loaded machine)
    with page.expect_navigation(wait_until="load"):
        page.click("button[type=submit]")


def agent_sign_in(page, base: str, agent_id: str, pin: str = "1234") -> None:
    page.goto(base + "/softphone")
    page.fill("input[name=agent_id]", agent_id)
    page.fill("input[name=pin]", pin)
    with page.expect_navigation(wait_until="load"):
        page.click("button[type=submit]")
    page.wait_for_url("**/softphone")


#: axe-core impacts a page state may not have (only "minor" findings are tolerated)
AXE_FAILING_IMPACTS = ("critical", "serious", "moderate")


def assert_accessible(page, where: str = "") -> None:
    """axe-core (vendored in axe-playwright-python, never a CDN) on the page as it is now:
    no critical, serious or moderate violation."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    bad = [v for v in results.response["violations"] if v.get("impact") in AXE_FAILING_IMPACTS]
    lines = [
        f"{v['id']} ({v['impact']}): {v['help']} -> "
        + "; ".join(" ".join(map(str, n["target"])) for n in v["nodes"][:4])
        for v in bad
    ]
    assert not bad, f"axe-core on {where or page.url}:\n" + "\n".join(lines)


def screenshot(page, name: str) -> None:
    """Every page state a test photographs is also checked with axe-core."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
    assert_accessible(page, name)


class CuttableProxy:
    """A TCP relay in front of the server that the test can cut (the network drops) and restore."""

    def __init__(self, target_port: int):
        import socket

        self.target_port = target_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.up = threading.Event()
        self.up.set()
        self.sockets: list = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        import socket

        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.up.is_set():
                client.close()
                continue
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            with self.lock:
                self.sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src, dst) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                try:
                    sock.close()
                except OSError:
                    pass

    def cut(self) -> None:
        import socket

        self.up.clear()
        with self.lock:
            for sock in self.sockets:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            self.sockets.clear()

    def restore(self) -> None:
        self.up.set()

    def close(self) -> None:
        self.cut()
        self.listener.close()


def pick_state(page, state_id: str) -> None:
    """Pick a state in the softphone's state combobox with two clicks, as an agent does with a mouse."""
    page.click("#state")
    page.click(f'#state-listbox [role=option][data-value="{state_id}"]')
