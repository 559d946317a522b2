"""A small Asterisk Manager Interface client (TCP, ``Key: Value`` lines, a blank line ends a message).

Every action carries an ActionID and waits for its ``Response: Success|Error``; events arriving in
between are handed to ``on_event``. No value containing CR or LF is ever written: such a value could
inject a second action, so it is refused before anything reaches the wire.
"""

from __future__ import annotations

import itertools
import select
import socket
import threading
from collections.abc import Callable

from adapters.base import AdapterError

BANNER = "Asterisk Call Manager"


class AmiClient:
    def __init__(
        self,
        host: str,
        port: int,
        username: str,
        secret: str,
        timeout: float = 5.0,
        events: bool = False,
        on_event: Callable[[dict], None] | None = None,
    ):
        self.host, self.port, self.timeout = host, port, timeout
        self._username, self._secret = username, secret
        self.events = events
        self.on_event = on_event or (lambda event: None)
        self._sock: socket.socket | None = None
        self._buffer = b""
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self.connects = 0

    # -- connection --------------------------------------------------------------------------
    @property
    def connected(self) -> bool:
        return self._sock is not None

    def close(self) -> None:
        if self._sock is not None:
            try:
                self._sock.close()
            finally:
                self._sock, self._buffer = None, b""

    def _connected(self) -> socket.socket:
        """The socket; ConnectionError, as when the peer closes it, once :meth:`close` has run (another thread
        may close the client while this one reads)."""
        sock = self._sock
        if sock is None:
            raise ConnectionError("the connection is closed")
        return sock

    def _alive(self) -> bool:
        """False when the peer has closed the connection (checked before each action)."""
        if self._sock is None:
            return False
        try:
            readable, _, _ = select.select([self._sock], [], [], 0)
            if readable and not self._sock.recv(1, socket.MSG_PEEK):
                return False
        except OSError:
            return False
        return True

    def connect(self) -> None:
        self.close()
        try:
            self._sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
            banner = self._readline()
        except OSError:
            self.close()
            # the same words for a closed port, a filtered one and a timeout: a connection test is no port scanner
            raise AdapterError(f"Asterisk AMI at {self.host}:{self.port} not reachable") from None
        if not banner.startswith(BANNER):
            self.close()
            raise AdapterError(f"{self.host}:{self.port} is not an Asterisk Manager Interface", retryable=False)
        self.connects += 1
        reply = self._exchange(
            {
                "Action": "Login",
                "Username": self._username,
                "Secret": self._secret,
                "Events": "on" if self.events else "off",
            }
        )
        if reply.get("Response") != "Success":
            self.close()
            raise AdapterError(
                f"Asterisk refused the AMI login for '{self._username}': {reply.get('Message', 'no reason given')}",
                retryable=False,
            )

    # -- actions -----------------------------------------------------------------------------
    def action(self, name: str, **fields: str) -> dict:
        """Send one action and return its response; raise AdapterError on ``Response: Error``."""
        message = {"Action": name, **fields}
        check_no_line_breaks(message)
        with self._lock:
            if not self._alive():
                self.connect()
            reply = self._exchange(message)
        if reply.get("Response") != "Success":
            raise AdapterError(f"Asterisk refused {name}: {reply.get('Message', 'no reason given')}", retryable=False)
        return reply

    def _exchange(self, message: dict) -> dict:
        action_id = f"pc-{next(self._ids)}"
        message = {**message, "ActionID": action_id}
        check_no_line_breaks(message)
        wire = "".join(f"{k}: {v}\r\n" for k, v in message.items()) + "\r\n"
        try:
            self._connected().sendall(wire.encode())
            while True:
                reply = self.read_message()
                if reply.get("ActionID") == action_id and "Response" in reply:
                    return reply
                if "Event" in reply:
                    self.on_event(reply)
        except (OSError, ConnectionError) as exc:
            self.close()
            raise AdapterError(f"connection to Asterisk lost ({type(exc).__name__})") from None

    def read_message(self) -> dict:
        """The next message (a response or an event) as a dict."""
        fields: dict[str, str] = {}
        while True:
            line = self._readline()
            if line == "":
                if fields:
                    return fields
                continue
            key, _, value = line.partition(":")
            fields[key.strip()] = value.strip()

    def _readline(self) -> str:
        while b"\r\n" not in self._buffer:
            chunk = self._connected().recv(4096)
            if not chunk:
                raise ConnectionError("the peer closed the connection")
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\r\n", 1)
        return line.decode("utf-8", "replace")


def check_no_line_breaks(message: dict) -> None:
    for key, value in message.items():
        if any(ch in str(key) + str(value) for ch in "\r\n"):
            raise AdapterError(
                f"refused to send AMI field '{key.splitlines()[0] if key else key}': it contains a line break",
                retryable=False,
            )
