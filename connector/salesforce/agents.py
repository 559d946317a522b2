"""Agents from Salesforce: the users of a call centre (Id, Name, Username, Extension), by SOQL.

Idempotent: an agent already linked to the Salesforce user (``salesforce_user_id``) is updated;
otherwise the agent id is the Salesforce username (made safe for an agent id).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from sqlalchemy import select

from connector.auth import accounts
from connector.errors import ConnectorError, InvalidInput
from connector.reports.reads import ReadContext
from connector.salesforce.connection import Connection
from connector.store.models import Agent

DIAL_RE = re.compile(r"^[0-9*#+]{1,32}$")


@dataclass
class AgentImport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    #: users imported with a remark (e.g. an extension that is not dial characters)
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return f"{len(self.created)} agents created, {len(self.updated)} updated, {len(self.skipped)} skipped"


def soql_string(value: str) -> str:
    """A SOQL string literal: backslash and quote escaped."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def users_query(call_center: str | None) -> str:
    where = "IsActive = true AND CallCenterId != null"
    if call_center:
        where += f" AND CallCenter.Name = {soql_string(call_center)}"
    return f"SELECT Id, Name, Username, Email, Extension, CallCenter.Name FROM User WHERE {where} ORDER BY Username"


def agent_id_for(username: str) -> str:
    """A Salesforce username as an agent id (letters, digits, . _ @ -; at most 64)."""
    cleaned = re.sub(r"[^A-Za-z0-9._@-]", "-", username).lstrip("._@-")
    return cleaned[:64] or "user"


def import_call_center_users(ctx: ReadContext, connection: Connection, call_center: str | None = None) -> AgentImport:
    result = AgentImport()
    users = connection.query_all(users_query(call_center))
    with ctx.store.read() as s:
        linked = {uid: aid for aid, uid in s.execute(select(Agent.id, Agent.salesforce_user_id)).all() if uid}
        existing = set(s.execute(select(Agent.id)).scalars())
    now = ctx.clock()
    for user in users:
        user_id, username = str(user.get("Id") or "")[:18], str(user.get("Username") or "")
        agent_id = linked.get(user_id) or agent_id_for(username)
        data = {"id": agent_id, "name": (user.get("Name") or username)[:200], "salesforce_user_id": user_id}
        if user.get("Email"):
            data["email"] = str(user["Email"])[:200]
        extension = str(user.get("Extension") or "").strip()
        if extension and DIAL_RE.match(extension):
            data["extension"] = extension
        elif extension:
            result.notes.append(f"{username}: extension '{extension}' is not dial characters; imported without it")
        try:
            accounts.add_agent(ctx.store, data, now, update=True)
        except (InvalidInput, ConnectorError) as exc:
            result.skipped.append(f"{username}: {exc.message}")
            continue
        (result.updated if agent_id in existing else result.created).append(agent_id)
        existing.add(agent_id)
        linked[user_id] = agent_id
    return result
