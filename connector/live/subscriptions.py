"""Subscribers of the live events (connector.live.bus): a thread's queue, or an asyncio loop's, indexed by agent."""

from __future__ import annotations

import asyncio
import itertools
import queue
from collections.abc import Callable, Iterable
from typing import Protocol

from connector.changes import jsontext


def format_event(event: str, data: dict, event_id: int | None = None) -> str:
    """One Server-Sent Event as it goes on the wire."""
    return format_raw_event(event, jsontext.dumps(data), event_id)


class Encoded(dict):
    """A dict that carries its own JSON text (``json``): encoded once, written as it is to the events
    table and to the API answer."""

    __slots__ = ("json",)

    def __init__(self, data: dict):
        super().__init__(data)
        self.json = jsontext.dumps(data)


def encoded(data: dict) -> str:
    """The JSON text of ``data`` (its own, for an :class:`Encoded`)."""
    return data.json if isinstance(data, Encoded) else jsontext.dumps(data)


def format_raw_event(event: str, data_json: str, event_id: int | None = None) -> str:
    """``format_event`` for data that is JSON text already (as stored: one line, never a raw newline)."""
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {event}\ndata: {data_json}\n\n"


class LiveEvent(dict):
    """A stored event as the poller hands it out: ``id``, ``event``, ``agent`` (None for config events),
    ``sse`` (the wire form) and ``raw`` (its JSON text). ``data`` is decoded on first use only: streams
    write ``sse`` as it is, so most events are never decoded at all."""

    def __missing__(self, key):
        if key != "data":
            raise KeyError(key)
        value = self["data"] = jsontext.loads(self["raw"])
        return value


class Subscription:
    """A subscriber read from a thread: ``get`` blocks up to ``timeout`` seconds."""

    principal: str | None = None
    #: an agent's stream: only that agent's events (and config) are handed to it
    only: str | None = None

    def __init__(self, on_close: Callable[[Subscription], None], maxsize: int, after: int):
        #: gives the subscriber's place (and its principal's stream slot) back to the bus
        self.on_close = on_close
        self.queue: queue.Queue = queue.Queue(maxsize=maxsize)
        self.overflowed = False
        #: the last event id this subscriber will not be sent (everything up to it was read already)
        self.after = after

    def deliver(self, events: list[dict]) -> None:
        for event in events:
            try:
                self.queue.put_nowait(event)
            except queue.Full:
                self.overflowed = True
                return

    def get(self, timeout: float) -> dict | None:
        try:
            return self.queue.get(timeout=timeout)
        except queue.Empty:
            return None

    def close(self) -> None:
        self.on_close(self)


class AsyncSubscription:
    """A subscriber read from an asyncio event loop; delivered to by that loop's :class:`LoopFanout`."""

    CLOSED = {"event": "closed"}
    principal: str | None = None
    only: str | None = None

    def __init__(self, on_close: Callable[[AsyncSubscription], None], fanout: LoopFanout, maxsize: int, after: int):
        self.on_close = on_close
        self.fanout = fanout
        self.queue: asyncio.Queue = asyncio.Queue(maxsize=maxsize)
        self.overflowed = False
        self.after = after

    def deliver(self, events: list[dict]) -> None:  # in the loop's thread
        for event in events:
            try:
                self.queue.put_nowait(event)
            except asyncio.QueueFull:
                self.overflowed = True
                return

    async def get(self, timeout: float) -> dict | None:
        if not self.queue.empty():
            return self.queue.get_nowait()
        try:
            async with asyncio.timeout(timeout):  # no task per wait, unlike wait_for
                return await self.queue.get()
        except TimeoutError:
            return None

    def end(self) -> None:
        """Wake the reader with :attr:`CLOSED` (the client went away); call in the loop's thread."""
        while True:
            try:
                self.queue.put_nowait(self.CLOSED)
                return
            except asyncio.QueueFull:
                self.queue.get_nowait()

    def close(self) -> None:
        self.on_close(self)


class Subscriber(Protocol):
    """What the index needs of a subscriber (:class:`Subscription`, :class:`AsyncSubscription`)."""

    only: str | None

    def deliver(self, events: list[dict]) -> None: ...


class SubscriberIndex:
    """Subscribers by the agent they follow (None: every agent), so an event wakes only its readers."""

    def __init__(self) -> None:
        self.by_agent: dict[str | None, set[Subscriber]] = {}
        self.count = 0

    def add(self, sub: Subscriber) -> None:
        self.by_agent.setdefault(sub.only, set()).add(sub)
        self.count += 1

    def discard(self, sub: Subscriber) -> bool:
        group = self.by_agent.get(sub.only)
        if group is None or sub not in group:
            return False
        group.discard(sub)
        if not group:
            del self.by_agent[sub.only]
        self.count -= 1
        return True

    def route(self, events: list[dict]) -> list[tuple[Subscriber, list[dict]]]:
        """(subscriber, its events) for this batch."""
        routed: dict[Subscriber, list[dict]] = {}
        everyone = self.by_agent.get(None, ())
        for event in events:
            if event["event"] in ("config", "credential_ended"):
                targets: Iterable[Subscriber] = [sub for group in self.by_agent.values() for sub in group]
            else:
                targets = itertools.chain(everyone, self.by_agent.get(event["agent"], ()))
            for sub in targets:
                routed.setdefault(sub, []).append(event)
        return list(routed.items())


class LoopFanout:
    """The subscribers of one event loop: the poller hands each batch over once, the loop delivers it."""

    def __init__(self, loop: asyncio.AbstractEventLoop):
        self.loop = loop
        self.subs = SubscriberIndex()

    @staticmethod
    def _deliver(routed: list[tuple[Subscriber, list[dict]]]) -> None:
        for sub, events in routed:
            sub.deliver(events)
