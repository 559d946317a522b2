"""Teams presence read back into the connector: what a user's Teams presence says, told apart from our own.

Microsoft Graph (cited pages):

* ``POST /communications/getPresencesByUserId`` with ``{"ids": [...]}``: at most 650 user object ids a call,
  at most 1,500 calls per 30 s per application and tenant — the same budget the presence writes draw from
  (https://learn.microsoft.com/en-us/graph/api/cloudcommunications-getpresencesbyuserid). Answers
  ``{"value": [{"id", "availability", "activity"}, ...]}``
  (https://learn.microsoft.com/en-us/graph/api/resources/presence).

What the connector set itself must not come back as a change (no echo): Teams aggregates every session of a
user, the app's own included. A presence equal to what the connector's session last set for that user (the
adapter's shared record) or to what the agent's current state maps to (a renewal sends that) is ours; only
anything else — InAMeeting, Presenting, InAConferenceCall, DoNotDisturb or Offline set by the user or by
Teams — is a remote condition, which the configuration's ``inbound.teams`` rule maps to a state.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

#: Graph: at most this many user ids per getPresencesByUserId call (and per subscription filter)
IDS_PER_CALL = 650


def batches(ids: list[str], size: int = IDS_PER_CALL) -> list[list[str]]:
    return [ids[i : i + size] for i in range(0, len(ids), size)]


def remote_of(presence: Mapping[str, Any], mapping: Mapping[str, str]) -> str:
    """The remote presence a rule's ``map`` is keyed by: the activity (InAMeeting ...) when the map names it,
    else the availability when the map names that (DoNotDisturb ...), else the activity."""
    availability, activity = str(presence.get("availability") or ""), str(presence.get("activity") or "")
    if activity in mapping or availability not in mapping:
        return activity or availability
    return availability


def is_ours(presence: Mapping[str, Any], ours: Iterable[tuple[str, str]]) -> bool:
    """Whether Teams shows what the connector's own session set (availability and activity both match)."""
    pair = (str(presence.get("availability") or ""), str(presence.get("activity") or ""))
    return pair in set(ours)


class Attempts:
    """What the poller last reported per agent, so an unchanged remote presence (already applied, or refused
    while nothing changed on our side) is not reported again every interval. Kept by the instance that
    holds the poll's lease; another instance taking over reports once more, which changes nothing twice
    (the engine decides on the stored session)."""

    def __init__(self) -> None:
        self._last: dict[str, tuple] = {}

    def due(self, agent_id: str, key: tuple) -> bool:
        return self._last.get(agent_id) != key

    def done(self, agent_id: str, key: tuple) -> None:
        self._last[agent_id] = key

    def forget_others(self, agent_ids: set[str]) -> None:
        for gone in set(self._last) - agent_ids:
            del self._last[gone]


def should_report(view: Mapping[str, Any], remote: str | None, target: str | None, attempts: Attempts) -> tuple | None:
    """The attempt key when ``remote`` (None: nothing of the user's own) must be reported for this agent, else
    None: a mapped condition while the agent is not in its state, or no condition while the state came from
    Teams (it may have to go back)."""
    state = (view.get("state") or {}).get("id")
    key: tuple
    if remote is not None and target is not None:
        if state == target and view.get("state_from") == "Teams":
            return None
        key = (remote, state, bool(view.get("on_call")), view.get("state_since"))
    else:
        if view.get("state_from") != "Teams":
            return None
        key = (None, state, bool(view.get("on_call")), view.get("state_since"))
    return key if attempts.due(str(view["id"]), key) else None
