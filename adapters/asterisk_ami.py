"""Asterisk through the Manager Interface: QueuePause for queue-based setups, Originate for dial codes.

Outbound, mode ``queue_pause``: a presence change becomes ``QueuePause`` (Interface, Paused, Reason =
the state's label, Queue when configured); ``paused`` comes from the state's mapping
(``adapters: {asterisk: {paused: true}}``), else every state but Online pauses. Mode ``originate``:
the change's dial code (reason code, login/logout code) is ``Originate``d from the agent's channel
to the code in ``AMI_CONTEXT``. Numbers the softphone dials are always originated.

Inbound (``AMI_EVENTS=on``): ``QueueMemberPause`` events made on the phone change the agent's
state with source ``pbx``; the events our own QueuePause causes are recognised and ignored.
"""
from __future__ import annotations

import logging
import threading

from .ami import AmiClient
from .base import Adapter, AdapterError, AgentInfo, Change, Setting
from .pbx import PBX_SOURCE, dial_code, pbx_wanted

log = logging.getLogger(__name__)


class AsteriskAmiAdapter(Adapter):
    name = "asterisk_ami"
    prefix = "AMI_"
    echo_source = PBX_SOURCE
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
        self._sent: dict[str, tuple[str, str]] = {}  # interface -> (Paused, Reason) we last asked for
        self._stop = threading.Event()
        self._listener: threading.Thread | None = None
        self.listener_state = "off"

    def wants(self, options) -> bool:
        return pbx_wanted(options)

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
        fields = {"Interface": interface, "Paused": "true" if paused else "false",
                  "Reason": state.label if state else "Logged out"}
        if self.config["queue"]:
            fields["Queue"] = self.config["queue"]
        self._sent[interface] = ("1" if paused else "0", fields["Reason"])
        self.client.action("QueuePause", **fields)

    def originate(self, agent: AgentInfo, code: str) -> None:
        self.client.action("Originate", Channel=self.interface_for(agent), Exten=code,
                           Context=self.config["context"], Priority="1", Async="true",
                           Timeout=str(int(self.config["timeout"] * 1000) * 6))

    def check(self) -> str:
        probe = AmiClient(self.config["host"], self.config["port"], self.config["username"],
                          self.config["secret"], self.config["timeout"])
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
        delay = 1.0
        while not self._stop.is_set():
            events = AmiClient(c["host"], c["port"], c["username"], c["secret"], timeout=c["timeout"], events=True)
            try:
                events.connect()
                events._sock.settimeout(None)
                self.listener_state, delay = "connected", 1.0
                while not self._stop.is_set():
                    self.on_event(events.read_message())
            except (AdapterError, OSError, ConnectionError) as exc:
                self.listener_state = f"reconnecting: {exc}"
            finally:
                events.close()
            self._stop.wait(delay)
            delay = min(delay * 2, 60.0)

    def on_event(self, event: dict) -> str | None:
        """Apply a QueueMemberPause made on the phone; returns the state it set (or None)."""
        if event.get("Event") != "QueueMemberPause":
            return None
        interface = event.get("Interface", "")
        paused = event.get("Paused", "0")
        reason = event.get("PausedReason", event.get("Reason", ""))
        if self._sent.get(interface) == (paused, reason):
            return None  # the echo of our own QueuePause
        agent_id = self._agent_for(interface)
        if agent_id is None:
            return None
        state_id = self._state_for(paused == "1", reason)
        if state_id is None:
            return None
        self.host.set_state(agent_id, state_id, source=PBX_SOURCE)
        return state_id

    def _agent_for(self, interface: str) -> str | None:
        before, _, after = self.config["interface"].partition("{extension}")
        if not (interface.startswith(before) and interface.endswith(after)):
            return None
        extension = interface[len(before):len(interface) - len(after) if after else None]
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
        return {"connected": self.client.connected, "connections_made": self.client.connects,
                "events_listener": self.listener_state}
