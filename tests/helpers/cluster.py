"""Several real ``presence-connector serve`` processes on one database, and a local webhook receiver.

Used by tests/test_scale_out.py, tests/test_adapter_contract.py (the receiver) and bench/ (dispatch_bench,
scale_bench): everything is a real process talking
HTTP on 127.0.0.1; the receiver records every POST the webhook adapter makes (its Idempotency-Key,
agent, state and when it arrived).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import requests

from tests.helpers.polling import wait_until
from tests.helpers.ports import free_port

ROOT = Path(__file__).resolve().parent.parent.parent
CLI = str(Path(sys.executable).parent / "presence-connector")


class Receiver:
    """A local HTTP endpoint the webhook adapter posts to; ``posts`` in arrival order (``at``: ``time.time()``).

    With ``hold_first`` it holds the first push open until ``release`` is set (``held`` says it arrived), so
    the instance that sent it keeps a claimed outbox row it cannot finish; the others are answered at once.
    """

    def __init__(self, hold_first: bool = False) -> None:
        self.posts: list[dict] = []
        self.lock = threading.Lock()
        self.held = threading.Event()
        self.release = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):  # noqa: N802 (the http.server name)
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                with receiver.lock:
                    first = not receiver.posts
                    receiver.posts.append(
                        {
                            "key": self.headers.get("Idempotency-Key"),
                            "agent": body.get("agent"),
                            "state": body.get("state"),
                            "at": time.time(),
                            "connection": self.client_address,
                        }
                    )
                if first and hold_first:
                    receiver.held.set()
                    receiver.release.wait(60)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/presence"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def snapshot(self) -> list[dict]:
        with self.lock:
            return list(self.posts)

    def stop(self) -> None:
        self.release.set()
        self.server.shutdown()


def wrap_up_config(directory: Path, wrap_up_seconds: int = 1) -> Path:
    """The default presence configuration with a short wrap-up (a timed rule that falls due quickly)."""
    text = (ROOT / "presence_configs" / "default.yaml").read_text()
    path = directory / "short-wrap-up.yaml"
    path.write_text(text.replace("wrap_up_seconds: 30", f"wrap_up_seconds: {wrap_up_seconds}"))
    return path


class Cluster:
    """``init-db``, agents and a token made with the CLI; then ``start`` serve processes."""

    def __init__(self, database_url: str, workdir: Path, receiver_url: str, extra_env: dict | None = None):
        self.workdir = workdir
        self.env = {
            **os.environ,
            "CONNECTOR_DATABASE_URL": database_url,
            "CONNECTOR_INSTANCE_PATH": str(workdir),
            "CONNECTOR_SECRET_KEY": "cluster-secret",
            "CONNECTOR_PASSWORD_HASH_COST": "test",
            "CONNECTOR_TIMEZONE": "UTC",
            "CONNECTOR_ADAPTERS": "webhook",
            "WEBHOOK_URL": receiver_url,
            "PYTHONUNBUFFERED": "1",
            **(extra_env or {}),
        }
        self.processes: list[subprocess.Popen] = []
        self.urls: list[str] = []

    def cli(self, *args: str) -> str:
        done = subprocess.run([CLI, *args], env=self.env, cwd=self.workdir, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"presence-connector {' '.join(args)} failed: {done.stderr[-2000:]}")
        return done.stdout

    def prepare(self, agents: list[str]) -> str:
        """Create the store, the agents and an integration token; returns the token."""
        self.cli("init-db")
        csv_path = self.workdir / "agents.csv"
        csv_path.write_text("id,name\n" + "".join(f"{a},{a.title()}\n" for a in agents))
        self.cli("agents", "import", str(csv_path))
        return self.cli("tokens", "create", "--role", "integration", "--name", "cluster").strip().splitlines()[-1]

    def start(self, count: int, threads: int = 16) -> list[str]:
        for _ in range(count):
            port = free_port()
            log = open(self.workdir / f"serve-{len(self.processes)}.log", "w")
            self.processes.append(
                subprocess.Popen(
                    [CLI, "serve", "--port", str(port), "--threads", str(threads)],
                    env=self.env,
                    cwd=self.workdir,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
            self.urls.append(f"http://127.0.0.1:{port}")
        deadline = time.monotonic() + 60
        for n, (url, proc) in enumerate(zip(self.urls, self.processes)):

            def answers(url=url, proc=proc, n=n) -> bool:
                if proc.poll() is not None:
                    raise RuntimeError(f"serve on {url} exited: {self.log(n)[-2000:]}")
                try:
                    return requests.get(url + "/healthz", timeout=2).status_code == 200
                except requests.RequestException:
                    return False

            wait_until(answers, max(0.0, deadline - time.monotonic()), f"serve on {url} to answer /healthz", 0.1)
        return self.urls

    def log(self, n: int) -> str:
        return (self.workdir / f"serve-{n}.log").read_text(errors="replace")

    def kill(self, n: int) -> None:
        self.processes[n].send_signal(signal.SIGKILL)
        self.processes[n].wait(10)

    def rss_mb(self, n: int) -> float:
        for line in Path(f"/proc/{self.processes[n].pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def stop(self) -> None:
        for proc in self.processes:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.processes:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
