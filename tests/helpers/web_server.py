"""The real app served on 127.0.0.1 in a background thread, with a real clock: by werkzeug for the browser
tests (``live_server``, with the scheduler running), by uvicorn as ``serve`` runs it (``asgi_server``); and
a TCP relay in front of a server that a test can cut (``CuttableProxy``)."""

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
from tests.helpers.polling import wait_until
from tests.helpers.signin import PASSWORD


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
    wait_until(lambda: server.started, timeout=10, what="uvicorn to start")
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


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
