"""A small Asterisk Manager Interface peer on 127.0.0.1 for tests: logs in, answers, records, drops.

A successful ``QueuePause`` raises the pause event to every listener (``Events: on``) as the chosen
Asterisk ``version`` does (apps/app_queue.c):

* ``"11"`` (Asterisk <= 11): ``QueueMemberPaused`` with ``Location`` and ``Reason`` (only when one was given);
* ``"18"`` (12 up to commit 6c6137028b, 2023-10-30): ``QueueMemberPause`` with ``Interface`` and
  ``PausedReason`` — empty on an unpause, whatever reason the action gave;
* ``"21"`` (after 6c6137028b): the unpause carries the action's reason too.

Reasons are kept in ``char reason_paused[80]``, so at most 79 characters come back. One event per queue
the member is in (``queues``) unless the action names a queue. ``hold_events`` keeps events back until
``release_events()`` (a slow event stream: events arriving after later actions).

``QueueStatus`` answers as app_queue.c's manager_queues_status does: ``Response: Success`` ("Queue status
will follow"), one ``QueueMember`` event per member (``Location``, ``Paused``, ``PausedReason``) with the
action's ActionID, then ``QueueStatusComplete``. ``set_member`` changes a member's pause as if on the phone
(its event goes to the connected listeners, or is lost when none is); ``down`` refuses new connections.
"""

from __future__ import annotations

import socket
import socketserver
import threading


class AmiPeer:
    def __init__(
        self,
        username: str = "connector",
        secret: str = "s3cret",
        version: str = "21",
        queues: tuple[str, ...] = ("support",),
    ):
        self.username, self.secret = username, secret
        self.version, self.queues = version, queues
        self.hold_events = False
        self.deny: set[str] = set()  # actions the AMI user lacks the manager.conf permission for
        self.held: list[dict] = []
        self.actions: list[dict] = []
        self.raw: list[bytes] = []
        self.connections: list[socket.socket] = []
        self.listeners: list[socket.socket] = []
        self.logins = 0
        self.down = False
        self.members: dict[tuple[str, str], tuple[bool, str]] = {}  # (queue, interface) -> (paused, reason)
        peer = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self):
                if peer.down:  # the PBX is restarting: the connection is closed at once
                    return
                peer.connections.append(self.request)
                self.wfile.write(b"Asterisk Call Manager/6.0.0\r\n")
                message: dict = {}
                for raw in self.rfile:
                    peer.raw.append(raw)
                    line = raw.decode().rstrip("\r\n")
                    if line:
                        key, _, value = line.partition(":")
                        message[key.strip()] = value.strip()
                        continue
                    if message:
                        self.wfile.write(peer.answer(message, self.request).encode())
                    message = {}

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def answer(self, message: dict, sock) -> str:
        self.actions.append(message)
        action_id = message.get("ActionID", "")
        if message.get("Action") == "Login":
            if message.get("Username") == self.username and message.get("Secret") == self.secret:
                self.logins += 1
                if message.get("Events") == "on":
                    self.listeners.append(sock)
                return f"Response: Success\r\nActionID: {action_id}\r\nMessage: Authentication accepted\r\n\r\n"
            return f"Response: Error\r\nActionID: {action_id}\r\nMessage: Authentication failed\r\n\r\n"
        if message.get("Action") in self.deny:  # main/manager.c: the user's write= class does not cover it
            return f"Response: Error\r\nActionID: {action_id}\r\nMessage: Permission denied\r\n\r\n"
        if message.get("Action") == "QueuePause" and message.get("Interface") == "PJSIP/9999":
            return f"Response: Error\r\nActionID: {action_id}\r\nMessage: Interface not found\r\n\r\n"
        if message.get("Action") == "QueuePause":
            for queue in [message["Queue"]] if message.get("Queue") else self.queues:
                paused = message.get("Paused", "").lower() in ("true", "1")
                self.members[(queue, message["Interface"])] = (paused, message.get("Reason", "")[:79])
                self.pause_event(queue, message["Interface"], paused, message.get("Reason", ""))
        if message.get("Action") == "QueueStatus":
            return self.queue_status(action_id, message.get("Queue"))
        # an unrelated event first: the client must skip it and wait for its own response
        return (
            f"Event: PeerStatus\r\nPeer: PJSIP/1\r\n\r\n"
            f"Response: Success\r\nActionID: {action_id}\r\nMessage: {message.get('Action')} done\r\n\r\n"
        )

    def queue_status(self, action_id: str, queue: str | None) -> str:
        wire = f"Response: Success\r\nActionID: {action_id}\r\nEventList: start\r\nMessage: Queue status will follow\r\n\r\n"
        listed = 0
        for (member_queue, interface), (paused, reason) in sorted(self.members.items()):
            if queue and member_queue != queue:
                continue
            listed += 1
            wire += (
                f"Event: QueueMember\r\nQueue: {member_queue}\r\nName: {interface}\r\nLocation: {interface}\r\n"
                f"StateInterface: {interface}\r\nMembership: dynamic\r\nPenalty: 0\r\nCallsTaken: 0\r\n"
                f"Status: 1\r\nPaused: {1 if paused else 0}\r\nPausedReason: {reason}\r\n"
                f"ActionID: {action_id}\r\n\r\n"
            )
        return wire + (
            f"Event: QueueStatusComplete\r\nActionID: {action_id}\r\nEventList: Complete\r\nListItems: {listed}\r\n\r\n"
        )

    def set_member(self, interface: str, paused: bool, reason: str = "") -> None:
        """A pause or unpause made on the phone, in every queue the member is in."""
        for queue in self.queues:
            self.members[(queue, interface)] = (paused, reason[:79])
            self.pause_event(queue, interface, paused, reason)

    def actions_named(self, name: str) -> list[dict]:
        return [{k: v for k, v in a.items() if k != "ActionID"} for a in self.actions if a.get("Action") == name]

    def event(self, fields: dict) -> None:
        """Send an event to every connection that logged in with Events: on."""
        wire = "".join(f"{k}: {v}\r\n" for k, v in fields.items()) + "\r\n"
        for sock in list(self.listeners):
            sock.sendall(wire.encode())

    def pause_event(self, queue: str, interface: str, paused: bool, reason: str) -> None:
        """The event Asterisk raises when a member's pause changes (shape by ``version``)."""
        reason = reason[:79]  # char reason_paused[80]
        if self.version == "11":
            fields = {
                "Event": "QueueMemberPaused",
                "Privilege": "agent,all",
                "Queue": queue,
                "Location": interface,
                "MemberName": interface,
                "Paused": "1" if paused else "0",
            }
            if reason:
                fields["Reason"] = reason
        else:
            if not paused and self.version != "21":
                reason = ""  # before 6c6137028b the unpause event carries no reason
            fields = {
                "Event": "QueueMemberPause",
                "Privilege": "agent,all",
                "Queue": queue,
                "MemberName": interface,
                "Interface": interface,
                "StateInterface": interface,
                "Membership": "dynamic",
                "Paused": "1" if paused else "0",
                "PausedReason": reason,
            }
        if self.hold_events:
            self.held.append(fields)
        else:
            self.event(fields)

    def release_events(self) -> None:
        held, self.held, self.hold_events = self.held, [], False
        for fields in held:
            self.event(fields)

    def drop_all(self) -> None:
        for sock in self.connections:
            try:
                sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            except OSError:
                pass
        self.connections.clear()
        self.listeners.clear()

    def close(self) -> None:
        self.drop_all()
        self.server.shutdown()
        self.server.server_close()
