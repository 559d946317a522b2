"""System states: the states the connector itself moves agents into or records, kept across edits.

What the engine needs: Ready (``PresenceConfig.ready_state``: ``options.ready_state`` or the first state of
status 1) for every login, call end and reconnect; On a Call (``on_call_state``: ``options.on_call_state``
or the first of status 6) while a call is up with ``active_call``. A logout ends the session (no state);
the Logged Out state (status 7, ``logout_state``) is not used by the engine today, but the presets map it
for the adapters (Teams "Offline", Asterisk "paused") and admins expect it to stay. Time per state is
stored and sent to Salesforce by state id, so removing or re-keying one of these states under running
sessions splits the totals and history; hence the rule below rather than only the validator's "a Ready
state is required" and "active call needs an 'On a call' state".

The rule an edit of the active configuration (the admin editor, its API) must meet: for each of these
statuses the active configuration has, the new one keeps at least one of the active states of that
status with the same id and status. Where there is one such state (the usual case: "Ready for Calls",
"On a Call", "Logged Out") it cannot be removed and its id and status are read-only; of two Ready states
either may go, not both. A configuration file deployed by the operator (``CONNECTOR_PRESENCE_CONFIG``,
``config apply``) is not held to it.
"""

from __future__ import annotations

from connector.presence.model import PresenceConfig, Status
from connector.validation import Problem

#: the statuses whose states are system states
SYSTEM_STATUSES = (Status.ONLINE, Status.ON_A_CALL, Status.LOGOUT)


def system_ids(config: PresenceConfig) -> dict[int, list[str]]:
    """Status code -> ids of the configuration's states of that status, for each system status it has."""
    out: dict[int, list[str]] = {}
    for state in config.states:
        if state.status in SYSTEM_STATUSES:
            out.setdefault(int(state.status), []).append(state.id)
    return out


def problems(active: PresenceConfig, new: PresenceConfig, source: str) -> list[Problem]:
    """What in ``new`` removes a system state of ``active`` or changes its status (empty: nothing)."""
    found: list[Problem] = []
    new_status = {s.id: int(s.status) for s in new.states}
    for status, ids in system_ids(active).items():
        if any(new_status.get(sid) == status for sid in ids):
            continue  # at least one of them is kept as it was
        label = Status(status).label
        for sid in ids:
            old = active.state(sid)
            if sid in new_status:
                found.append(
                    Problem(
                        "status",
                        f"is read-only on the system state '{old.label}': keep status {status} ({label})",
                        source=source,
                        state=sid,
                    )
                )
            else:
                found.append(
                    Problem(
                        "states",
                        f"'{old.label}' ({sid}, status {status} {label}) is a system state and cannot be removed",
                        source=source,
                        state=sid,
                    )
                )
    return found
