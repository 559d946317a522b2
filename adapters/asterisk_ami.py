"""Asterisk through the Manager Interface: QueuePause for queue-based setups, Originate for dial codes.

Outbound, mode ``queue_pause``: a presence change becomes ``QueuePause`` (Interface, Paused, Reason =
the state's label, Queue when configured); ``paused`` comes from the state's mapping
(``adapters: {asterisk: {paused: true}}``), else every state but Online pauses. Mode ``originate``:
the change's dial code (reason code, login/logout code) is ``Originate``d from the agent's channel
to the code in ``AMI_CONTEXT``. Numbers the softphone dials are always originated.

Inbound (``AMI_EVENTS=on``): ``QueueMemberPause`` events made on the phone change the agent's
state with source ``pbx``; the events our own QueuePause causes are recognised and ignored. The event
connection is re-made within a few seconds when it drops (1, 2, 4, then every 5 s), and after every
reconnect the ``QueueStatus`` action reads each queue member's pause state: a pause or unpause made on
the phone while the connection was down (its event lost) is applied then. What counts as a change is
the difference from the pause state last seen from the PBX (an event, or a QueuePause it accepted), so
a connector change still waiting for delivery is not undone. When the PBX answers ``QueueStatus`` with an
error (an older or restricted manager account, an Asterisk-compatible PBX) the refusal is logged and shown in
health (``pause_state_read_error``) and the listener keeps reading events: only the catch-up is lost.
Inbound pauses go through the presence configuration's ``inbound.pbx`` rule (by default: applied as always).

Recognising our own events (apps/app_queue.c): each QueuePause we send is remembered per interface,
with the event it will cause, for ``ECHO_WINDOW`` seconds — several, since a late event of an earlier
request may arrive after a newer request was sent, and one event comes per queue. The reason comes back
cut to 79 characters (``char reason_paused[80]``); an unpause event carries an empty PausedReason
before Asterisk commit 6c6137028b (2023-10-30) and our reason after it, so both match an unpause.
Asterisk <= 11 names the event ``QueueMemberPaused`` with ``Location`` and ``Reason``: handled alike.

manager.conf permissions (main/manager.c; the actions' and events' classes in app_queue.c):
``write = agent`` for QueuePause, ``write = originate`` for Originate, ``read = agent`` for the
pause events (``AMI_EVENTS=on``).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from adapters.base import Adapter, AdapterError, AgentInfo, Change, Setting
from adapters.support.ami_protocol import AmiClient
from adapters.support.pbx_codes import PBX_SOURCE, dial_code, pbx_wanted, pbx_why_not

log = logging.getLogger(__name__)

#: how long a QueuePause we sent waits for its events (they arrive within milliseconds on a healthy PBX)
ECHO_WINDOW = 30.0
#: a request a newer one replaced keeps waiting this long only: its events are late, a person is slower
SUPERSEDED_GRACE = 3.0
#: Asterisk keeps the pause reason in ``char reason_paused[80]``
REASON_MAX = 79
#: the event listener pings an idle connection this often, so a dead one is noticed and replaced
LISTENER_IDLE_PING = 60.0
PAUSE_EVENTS = ("QueueMemberPause", "QueueMemberPaused")  # the second: Asterisk <= 11
#: the event listener's wait before reconnecting grows 1, 2, 4 s up to this (a PBX restart takes seconds)
RECONNECT_MAX = 5.0


def reconnect_delay(attempt: int) -> float:
    """Seconds to wait before reconnect attempt ``attempt`` (0 = the first after a drop)."""
    return min(2.0**attempt, RECONNECT_MAX)


PERMISSIONS = {"QueuePause": "write = agent", "Originate": "write = originate"}


@dataclass(frozen=True)
class _Expected:
    """The pause event one of our QueuePause actions causes."""

    paused: str  # "1" or "0"
    reason: str  # as Asterisk stores it (cut to REASON_MAX)
    until: float  # monotonic deadline

    def matches(self, paused: str, reason: str) -> bool:
        if paused != self.paused:
            return False
        if paused == "0":  # an unpause: empty reason before 6c6137028b, ours after it
            return reason in ("", self.reason)
        return reason == self.reason or not self.reason


class AsteriskAmiAdapter(Adapter):
    name = "asterisk_ami"
    prefix = "AMI_"
    echo_source = PBX_SOURCE
    dials = True
    max_concurrency = 1  # one manager connection, one action at a time
    settings = {
        "host": Setting(str, required=True),
        "port": Setting(int, default=5038, range=(1, 65535)),
        "username": Setting(str, required=True, help="the [user] in manager.conf"),
        "secret": Setting(str, required=True, secret=True),
        "mode": Setting(str, default="queue_pause", choices=("queue_pause", "originate")),
        "interface": Setting(str, default="PJSIP/{extension}", help="queue member interface / channel"),
        "queue": Setting(str, default="", help="pause in this queue only (default: all queues)"),
        "context": Setting(str, default="from-internal", help="dialplan context for Originate"),
        "events": Setting(bool, default=False, help="listen for QueueMemberPause made on the phone"),
        "timeout": Setting(float, default=5.0, range=(0.5, 60)),
    }

    def __init__(self, values=None):
        super().__init__(values)
        c = self.config
        self.client = AmiClient(c["host"], c["port"], c["username"], c["secret"], c["timeout"])
        self._expected: dict[str, list[_Expected]] = {}  # interface -> events our recent QueuePauses cause
        self._expected_lock = threading.Lock()
        # wall-clock seconds: the deadlines are shared with other instances through the store
        self.monotonic = time.time  # replaceable in tests
        self._stop = threading.Event()
        self._listener: threading.Thread | None = None
        self.listener_state = "off"
        self._seen: dict[str, tuple[str, str]] = {}  # interface -> (paused, reason) last seen from the PBX
        self._synced: set[str] = set()  # interfaces already reconciled by the running QueueStatus
        self.status_syncs = 0
        self.status_refused = 0  # QueueStatus answered with an error (the listener kept reading events)
        self.status_error: str | None = None

    def wants(self, options) -> bool:
        return pbx_wanted(options)

    def why_not(self, options) -> str | None:
        return pbx_why_not(options)

    def interface_for(self, agent: AgentInfo) -> str:
        return self.config["interface"].replace("{extension}", agent.extension)

    # -- outbound ----------------------------------------------------------------------------
    def push(self, agent: AgentInfo, change: Change) -> None:
        if change.kind == "presence" and self.config["mode"] == "queue_pause":
            self.pause(agent, change)
            return
        code = dial_code(agent, change)
        if code is not None:
            self.originate(agent, code)

    def pause(self, agent: AgentInfo, change: Change) -> None:
        state = change.state
        mapping = change.mapped("asterisk") if state else None
        if isinstance(mapping, dict) and "paused" in mapping:
            paused = bool(mapping["paused"])
        else:
            paused = state is None or state.status != 1
        interface = self.interface_for(agent)
        fields = {
            "Interface": interface,
            "Paused": "true" if paused else "false",
            "Reason": state.label if state else "Logged out",
        }
        if self.config["queue"]:
            fields["Queue"] = self.config["queue"]
        self._remember(interface, "1" if paused else "0", fields["Reason"])
        self._action("QueuePause", **fields)
        with self._expected_lock:  # the PBX accepted it: this is its pause state now
            self._seen[interface] = ("1" if paused else "0", fields["Reason"][:REASON_MAX].strip())

    def _remember(self, interface: str, paused: str, reason: str) -> None:
        now = self.monotonic()
        with self._expected_lock:
            recent = [
                _Expected(e.paused, e.reason, min(e.until, now + SUPERSEDED_GRACE))
                for e in self._recent(interface)
                if e.until > now
            ]
            # the reader strips values, so a cut that ends in a space comes back without it
            recent.append(_Expected(paused, reason[:REASON_MAX].strip(), now + ECHO_WINDOW))
            self._keep(interface, recent[-20:])

    def _is_echo(self, interface: str, paused: str, reason: str) -> bool:
        now = self.monotonic()
        with self._expected_lock:
            recent = [e for e in self._recent(interface) if e.until > now]
            return any(e.matches(paused, reason.strip()) for e in recent)

    # what we asked for lives in the store (host.remember), so the instance whose listener hears the
    # event knows it was ours even when another instance sent the QueuePause
    def _recent(self, interface: str) -> list[_Expected]:
        host = getattr(self, "host", None)
        if host is None:
            return self._expected.get(interface, [])
        return [_Expected(*item) for item in host.recall(f"{self.name}:expected:{interface}") or []]

    def _keep(self, interface: str, recent: list[_Expected]) -> None:
        host = getattr(self, "host", None)
        if host is None:
            self._expected[interface] = recent
            return
        host.remember(f"{self.name}:expected:{interface}", [[e.paused, e.reason, e.until] for e in recent], ECHO_WINDOW)

    def _action(self, name: str, **fields: str) -> dict:
        try:
            return self.client.action(name, **fields)
        except AdapterError as exc:
            if "Permission denied" in str(exc):  # say which manager.conf permission the user lacks
                raise AdapterError(
                    f"{exc}: give the AMI user '{self.config['username']}' '{PERMISSIONS[name]}' in manager.conf",
                    retryable=False,
                ) from None
            raise

    def originate(self, agent: AgentInfo, code: str) -> None:
        self._action(
            "Originate",
            Channel=self.interface_for(agent),
            Exten=code,
            Context=self.config["context"],
            Priority="1",
            Async="true",
            Timeout=str(int(self.config["timeout"] * 1000) * 6),
        )

    def check(self) -> str:
        probe = AmiClient(
            self.config["host"],
            self.config["port"],
            self.config["username"],
            self.config["secret"],
            self.config["timeout"],
        )
        try:
            probe.connect()
            probe.action("Ping")
        finally:
            probe.close()
        return f"logged in to {self.config['host']}:{self.config['port']} as {self.config['username']}; Ping answered"

    # -- inbound -----------------------------------------------------------------------------
    def start(self) -> None:
        if self.config["events"] and self._listener is None:
            self._listener = threading.Thread(target=self._listen, name="ami-events", daemon=True)
            self._listener.start()

    def stop(self) -> None:
        self._stop.set()
        self.client.close()

    def _listen(self) -> None:
        c = self.config
        attempt = 0
        while not self._stop.is_set():
            events = AmiClient(
                c["host"],
                c["port"],
                c["username"],
                c["secret"],
                timeout=c["timeout"],
                events=True,
                on_event=self._on_event_safely,
            )
            try:
                events.connect()
                # not blocking forever: an idle connection is pinged, so a half-open one is noticed
                assert events._sock is not None  # connect() returned: connected
                events._sock.settimeout(LISTENER_IDLE_PING)
                self.listener_state, attempt = "connected", 0
                self._read_pause_state(events)
                while not self._stop.is_set():
                    try:
                        message = events.read_message()
                    except TimeoutError:
                        events.action("Ping")  # raises when the PBX is gone: reconnect below
                        continue
                    self._on_event_safely(message)
            except (AdapterError, OSError, ConnectionError) as exc:
                self.listener_state = f"reconnecting: {exc}"
            finally:
                events.close()
            self._stop.wait(reconnect_delay(attempt))
            attempt += 1

    def _read_pause_state(self, events: AmiClient) -> None:
        """Ask for every queue member's pause state; the QueueMember events arrive on this connection.

        An optional step: when the PBX answers it with an error (an older or restricted manager account, an
        Asterisk-compatible PBX) the refusal is logged and shown in health, and the listener keeps reading
        events — a failing resync degrades the channel, it does not stop it."""
        with self._expected_lock:
            self._synced = set()
        fields = {"Queue": self.config["queue"]} if self.config["queue"] else {}
        try:
            events.action("QueueStatus", **fields)
        except AdapterError as exc:
            if not events.connected:
                raise  # the connection itself failed: reconnect
            self.status_refused += 1
            self.status_error = f"QueueStatus refused: {exc}"
            log.warning(
                "AMI: the PBX refused QueueStatus (%s); pause events are still read, but a pause made while the "
                "connection was down is not caught up (give the AMI user 'read = agent' in manager.conf)",
                exc,
            )
        else:
            self.status_error = None

    def _on_event_safely(self, event: dict) -> None:
        # one event the engine refuses (agent logged out, unknown state) must not end the listener
        try:
            self.on_event(event)
        except Exception:
            log.exception(
                "AMI event %s for %s could not be applied",
                event.get("Event"),
                event.get("Interface") or event.get("Location"),
            )

    def on_event(self, event: dict) -> str | None:
        """Apply a QueueMemberPause made on the phone, or a pause state that changed while the event
        connection was down (``QueueMember``, the answer to ``QueueStatus``); returns the state it set."""
        if event.get("Event") == "QueueStatusComplete":
            self.status_syncs += 1
            return None
        if event.get("Event") == "QueueMember":
            return self._on_queue_member(event)
        if event.get("Event") not in PAUSE_EVENTS:
            return None
        interface = event.get("Interface") or event.get("Location", "")  # Location: Asterisk <= 11
        paused = event.get("Paused", "0")
        reason = event.get("PausedReason", event.get("Reason", ""))
        with self._expected_lock:
            self._seen[interface] = (paused, reason.strip())
        if self._is_echo(interface, paused, reason):
            return None  # an event of our own QueuePause
        return self._apply(interface, paused, reason)

    def _on_queue_member(self, event: dict) -> str | None:
        if self.config["queue"] and event.get("Queue") != self.config["queue"]:
            return None
        interface = event.get("Location") or event.get("Interface") or event.get("StateInterface", "")
        paused, reason = event.get("Paused", "0"), event.get("PausedReason", "").strip()
        with self._expected_lock:
            if interface in self._synced:
                return None  # the same member in another queue
            self._synced.add(interface)
            before = self._seen.get(interface)
            self._seen[interface] = (paused, reason)
        if before is None or before == (paused, reason) or self._is_echo(interface, paused, reason):
            return None  # nothing known to compare with, unchanged, or our own change
        return self._apply(interface, paused, reason)

    def _apply(self, interface: str, paused: str, reason: str) -> str | None:
        agent_id = self._agent_for(interface)
        if agent_id is None:
            return None
        state_id = self._state_for(paused == "1", reason)
        rule = self.host.active_config().inbound_rule(PBX_SOURCE)
        if state_id is None and not rule.map:
            return None
        # the configuration's inbound rule for pbx decides (by default: applies, as always); the remote
        # presence is the pause reason, or "unpaused"
        remote = (reason.strip() or "paused") if paused == "1" else "unpaused"
        result = self.host.inbound(agent_id, PBX_SOURCE, remote, proposed=state_id)
        return result["state"] if result["action"] != "refuse" else None

    def _agent_for(self, interface: str) -> str | None:
        before, _, after = self.config["interface"].partition("{extension}")
        if not (interface.startswith(before) and interface.endswith(after)):
            return None
        extension = interface[len(before) : len(interface) - len(after) if after else None]
        return self.host.agent_for_extension(extension)

    def _state_for(self, paused: bool, reason: str) -> str | None:
        config = self.host.active_config()
        if not paused:
            return config.ready_state.id
        named = config.find(reason) if reason else None
        if named is not None:
            return named.id
        for state in config.states:
            mapping = state.adapters.get("asterisk")
            if state.selectable and isinstance(mapping, dict) and mapping.get("paused"):
                return state.id
        return next((s.id for s in config.states if s.selectable and s.status != 1), None)

    def health(self) -> dict:
        return {
            "connected": self.client.connected,
            "connections_made": self.client.connects,
            "events_listener": self.listener_state,
            "pause_state_reads": self.status_syncs,
            # None, or why the PBX refused the pause-state read (events are still read)
            "pause_state_read_error": self.status_error,
            "pause_state_reads_refused": self.status_refused,
        }
