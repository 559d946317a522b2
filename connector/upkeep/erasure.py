"""Erasing an agent's personal data (``presence-connector agents erase ID``), keeping anonymous totals.

In one transaction the agent's record moves to a random pseudonym (``erased-<random>``), which nothing
links back to the old id: name, e-mail, extension, PIN hash and Salesforce user id are emptied; its
intervals, daily totals, counters and calls move to the pseudonym (so team and day totals stay whole); the
devices of its logon events are blanked; what holds its id in free text or is a credential goes (live
events, undelivered outbox rows, console commands, API tokens, page sessions, sign-in failures and
throttles, a user of the agent role made for it); audit rows about it name the pseudonym and lose their
before/after values. The old id is not kept anywhere in the store but in the one live event that ends its
open streams, pruned with every live event after ``CONNECTOR_EVENTS_RETENTION``. What the connector wrote to Salesforce
is not deleted from here: :func:`salesforce_steps` says what to delete there.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import delete, insert, or_, select, update

from connector.audit import trail
from connector.auth.accounts import TOKENS, agent_credentials_key
from connector.errors import Conflict, NotFound, SettingsInvalid
from connector.live.bus import end_credentials
from connector.settings import Settings
from connector.store import Store, statements
from connector.store.models import (
    Agent,
    AgentSessionRow,
    ApiToken,
    AuditEvent,
    Call,
    ConsoleCommand,
    DailyCounter,
    DailyTotal,
    EventRow,
    LogonEventRow,
    OutboxRow,
    SignInFailure,
    SignInThrottle,
    StateInterval,
    User,
    WebSession,
)

#: tables whose rows move to the pseudonym (anonymous history, kept whole)
MOVED = (AgentSessionRow, StateInterval, DailyTotal, DailyCounter, Call, LogonEventRow)


@dataclass
class Erased:
    old_id: str
    pseudonym: str
    salesforce_user_id: str
    counts: dict[str, int] = field(default_factory=dict)


def erase_agent(store: Store, agent_id: str, now: datetime, audit: trail.Entry | None = None) -> Erased:
    """Erase the agent's personal data; Conflict while it is logged in (log it out first). The audit row (its
    target: the pseudonym) is written in the same transaction, after the agent's rows were renamed."""
    pseudonym = f"erased-{secrets.token_hex(8)}"
    counts: dict[str, int] = {}
    with store.write() as s:
        agent = s.get(Agent, agent_id)
        if agent is None:
            raise NotFound(f"no agent '{agent_id}'", field="agent_id")
        session = s.get(AgentSessionRow, agent_id)
        if session is not None and session.logons:
            raise Conflict(
                f"agent '{agent_id}' is logged in: log it out first (dashboard, or POST /api/v1/agents/{agent_id}/logout)",
                field="agent_id",
                code="logged_in",
            )
        erased = Erased(agent_id, pseudonym, agent.salesforce_user_id)
        conn = s.connection()
        conn.execute(
            insert(Agent.__table__).values(
                id=pseudonym,
                name="(erased)",
                team=agent.team,
                extension="",
                email="",
                salesforce_user_id="",
                pin_hash=None,
                active=False,
                created_at=agent.created_at,
            )
        )
        for model in MOVED:
            t = model.__table__
            values: dict = {"agent_id": pseudonym}
            if model is LogonEventRow:
                values["device"] = ""
            counts[t.name] = conn.execute(update(t).where(t.c.agent_id == agent_id).values(**values)).rowcount
        for gone in (OutboxRow.__table__, ConsoleCommand.__table__):
            counts[gone.name] = conn.execute(delete(gone).where(gone.c.agent_id == agent_id)).rowcount
        counts["events"] = conn.execute(delete(EventRow.__table__).where(EventRow.agent_id == agent_id)).rowcount
        tokens = [row[0] for row in conn.execute(select(ApiToken.id).where(ApiToken.agent_id == agent_id))]
        counts["api_tokens"] = conn.execute(delete(ApiToken.__table__).where(ApiToken.agent_id == agent_id)).rowcount
        usernames = [
            row[0] for row in conn.execute(select(User.username).where(User.agent_id == agent_id, User.role == "agent"))
        ]
        counts["users"] = conn.execute(
            delete(User.__table__).where(User.agent_id == agent_id, User.role == "agent")
        ).rowcount
        conn.execute(update(User.__table__).where(User.agent_id == agent_id).values(agent_id=None))
        names = [agent_id, *usernames]
        counts["web_sessions"] = conn.execute(delete(WebSession.__table__).where(WebSession.name.in_(names))).rowcount
        accounts = [f"agent:{agent_id}", *(f"user:{u}" for u in usernames)]
        counts["sign_in_failures"] = conn.execute(
            delete(SignInFailure.__table__).where(
                or_(SignInFailure.account.in_(accounts), SignInFailure.account.in_(names))
            )
        ).rowcount
        conn.execute(delete(SignInThrottle.__table__).where(SignInThrottle.key.in_(accounts)))
        counts["audit_events"] = conn.execute(
            update(AuditEvent.__table__)
            .where(AuditEvent.target == agent_id)
            .values(target=pseudonym, before=None, after=None)
        ).rowcount
        conn.execute(delete(Agent.__table__).where(Agent.id == agent_id))
        end_credentials(s, [f"agent:{agent_id}", *(f"token:{t}" for t in tokens)], "erased", now)
        statements.bump_generation(conn, TOKENS)
        statements.bump_generation(conn, agent_credentials_key(agent_id))
        if audit is not None:
            trail.write(conn, audit.but(target=pseudonym))
    erased.counts = {k: v for k, v in counts.items() if v}
    return erased


def salesforce_steps(erased: Erased, settings: Settings) -> list[str]:
    """What to delete in Salesforce by hand: the connector's records for the agent, by the old id."""
    obj = _sf_name(settings, "SF_OBJECT_NAME", "Presence_Time__c")
    agent_field = _sf_name(settings, "SF_FIELD_AGENT", "Agent__c")
    key_field = _sf_name(settings, "SF_FIELD_KEY", "Key__c")
    user_field = _sf_name(settings, "SF_FIELD_USER", "User__c")
    quoted = erased.old_id.replace("\\", "\\\\").replace("'", "\\'")
    lines = [
        f"In Salesforce, delete the {obj} records the connector wrote for this agent, e.g. with the SOQL query",
        f"  SELECT Id FROM {obj} WHERE {key_field} LIKE '{quoted}|%'"
        + ("" if agent_field == "-" else f" OR {agent_field} = '{quoted}'"),
        f'  (sf data query --query "..." --result-format csv > ids.csv; sf data delete bulk --sobject {obj} --file ids.csv)',
    ]
    if erased.salesforce_user_id and user_field != "-":
        lines.append(f"  and any other record with {user_field} = '{erased.salesforce_user_id}'.")
    lines.append(
        "The User record itself, Omni-Channel presence history (UserServicePresence) and call records in "
        "Salesforce belong to Salesforce's own erasure process."
    )
    return lines


def _sf_name(settings: Settings, name: str, default: str) -> str:
    """A Salesforce object or field name as configured; its default when unset or refused (``sync status`` names
    a refused one)."""
    try:
        return str(settings.value(name) or default)
    except SettingsInvalid:
        return default
