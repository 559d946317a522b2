"""Agents, users and API tokens: creating them, importing agents, finding who a token belongs to.

An administrative action takes the audit trail's row (``audit``, a ``trail.Entry``) and writes it in its own
transaction, so the change and its row commit together or not at all (connector/audit/trail.py). One module
on purpose (past the usual size): agents, users and tokens share their checks, their hashing and the
credential generations that end sessions and streams, and every administrative write is read side by side.
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from connector.audit import trail
from connector.auth import page_sessions as web_sessions
from connector.auth.hashing import (
    check_pin,
    check_role,
    hash_secret,
    needs_rehash,
    new_token,
    token_digest,
    verify_secret,
)
from connector.clock import utc_now
from connector.errors import Conflict, InvalidInput, NotFound
from connector.live.bus import end_credentials
from connector.presence.days import check_zone
from connector.store import Store, statements
from connector.store.models import Agent, AgentSessionRow, ApiToken, User
from connector.validation import one_line

log = logging.getLogger(__name__)
AGENT_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
TOKENS = "tokens"  #: the store generation that invalidates cached token -> principal lookups
_MAX_CACHED_TOKENS = 10_000
AGENT_FIELDS = ("id", "name", "team", "extension", "email", "salesforce_user_id", "timezone", "pin")


@dataclass(frozen=True)
class Principal:
    """Who is calling: a role, and for the agent role the one agent it may act for."""

    name: str
    role: str
    agent_id: str | None = None
    #: the credential it came with, for ending its event streams (``token:<id>``; None: a page session)
    credential: str | None = field(default=None, compare=False)

    def may_act_for(self, agent_id: str) -> bool:
        if self.role in ("supervisor", "admin", "integration"):
            return True
        return self.role == "agent" and self.agent_id == agent_id


def _clean_agent(data: dict, partial: bool = False) -> dict:
    unknown = [k for k in data if k not in AGENT_FIELDS]
    if unknown:
        raise InvalidInput(f"unknown field '{unknown[0]}'", field=unknown[0])
    out: dict = {}
    if not partial or "id" in data:
        aid = data.get("id")
        if not isinstance(aid, str) or not AGENT_ID_RE.match(aid):
            raise InvalidInput("id must be 1-64 letters, digits, '.', '_', '@' or '-'", field="id")
        out["id"] = aid
    for key, limit in (("name", 200), ("team", 100), ("extension", 32), ("email", 200), ("salesforce_user_id", 18)):
        if key in data and data[key] is not None:
            value = data[key]
            if not isinstance(value, str) or len(value) > limit or any(ord(c) < 32 for c in value):
                raise InvalidInput(f"{key} must be text of at most {limit} characters", field=key)
            out[key] = value.strip()
    if "extension" in out and out["extension"] and not re.fullmatch(r"[0-9*#+]{1,32}", out["extension"]):
        raise InvalidInput("extension must contain only dial characters", field="extension")
    if "timezone" in data and data["timezone"] is not None:
        out["timezone"] = check_zone(data["timezone"], "timezone")
    if data.get("pin") not in (None, ""):
        out["pin"] = check_pin(data["pin"])
    return out


def _extension_holder(s, extension: str, agent_id: str) -> str | None:
    """The other active agent that has ``extension`` already, if any (an empty extension is no one's)."""
    if not extension:
        return None
    return (
        s.execute(select(Agent.id).where(Agent.extension == extension, Agent.active.is_(True), Agent.id != agent_id))
        .scalars()
        .first()
    )


def _check_extension_free(s, extension: str, agent_id: str) -> None:
    """An extension belongs to one active agent: PBX short-code login and logout find the agent by it."""
    holder = _extension_holder(s, extension, agent_id)
    if holder is not None:
        raise Conflict(
            f"extension {extension} already belongs to agent '{holder}'; give '{agent_id}' "
            "another extension or change theirs first",
            field="extension",
            code="extension_taken",
        )


@contextmanager
def _unique_extension_guard(extension: str) -> Iterator[None]:
    """The store's own constraint (two writers at once on PostgreSQL) as the same clear error."""
    try:
        yield
    except IntegrityError as exc:
        if "extension" not in str(exc.orig):
            raise
        raise Conflict(
            f"extension {extension} already belongs to another active agent", field="extension", code="extension_taken"
        ) from None


def add_agent(store: Store, data: dict, now: datetime, update: bool = False, audit: trail.Entry | None = None) -> Agent:
    clean = _clean_agent(data)
    pin_hash = hash_secret(clean["pin"], store.pepper) if "pin" in clean else None
    with _unique_extension_guard(clean.get("extension", "")), store.write() as s:
        agent = _put_agent(s, clean, pin_hash, now, update)
        if audit is not None:
            trail.write(s, audit.but(target=agent.id))
        return agent


def _put_agent(s, clean: dict, pin_hash: str | None, now: datetime, update: bool) -> Agent:
    """Create (or with ``update``, change) an agent from checked fields and its PIN's hash (made before the
    transaction: a slow hash must not hold the write lock), in the caller's transaction."""
    agent = s.get(Agent, clean["id"])
    if agent is not None and not update:
        raise Conflict(f"agent '{clean['id']}' already exists", field="id", code="exists")
    if agent is None:
        agent = Agent(
            id=clean["id"],
            name=clean.get("name") or clean["id"],
            team="",
            extension="",
            email="",
            salesforce_user_id="",
            timezone="",
            created_at=now,
            active=True,
        )
        s.add(agent)
        s.add(AgentSessionRow(agent_id=agent.id, logons=[], version=0, logoff_pending=False))
    _check_extension_free(s, clean.get("extension", agent.extension), agent.id)
    for key in ("name", "team", "extension", "email", "salesforce_user_id", "timezone"):
        if key in clean:
            setattr(agent, key, clean[key])
    if pin_hash is not None:
        agent.pin_hash = pin_hash
    agent.active = True
    s.flush()  # the next row of an import sees this one (its extension)
    return agent


def import_agents(store: Store, text: str, now: datetime, audit: trail.Entry | None = None) -> tuple[int, int]:
    """Create or update agents from CSV (header: id,name,team,extension,email,salesforce_user_id,timezone,pin).

    The whole file is checked first; a bad row refuses the import and names its line. The rows are written
    in one transaction, with the audit row (``after``: how many were created and updated).
    """
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames or "id" not in reader.fieldnames:
        raise InvalidInput("the CSV needs a header row with at least an 'id' column", field="header")
    rows = []
    extension_line: dict[str, tuple[int, str]] = {}
    for line_no, raw in enumerate(reader, start=2):
        data = {k.strip(): (v or "").strip() for k, v in raw.items() if k}
        try:
            clean = _clean_agent(data)
        except InvalidInput as exc:
            raise InvalidInput(f"line {line_no}: {exc.message}", field=exc.field) from None
        extension = clean.get("extension", "")
        if extension and extension in extension_line:
            first_line, first_id = extension_line[extension]
            raise Conflict(
                f"line {line_no}: extension {extension} is also on line {first_line} "
                f"(agent '{first_id}'); an extension belongs to one agent",
                field="extension",
                code="extension_taken",
            )
        if extension:
            extension_line[extension] = (line_no, clean["id"])
        rows.append(clean)
    created = updated = 0
    with store.read() as s:
        existing = set(s.execute(select(Agent.id)).scalars())
        in_file = {row["id"] for row in rows}
        for extension, (line_no, agent_id) in extension_line.items():
            holder = _extension_holder(s, extension, agent_id)
            if holder is not None and holder not in in_file:
                raise Conflict(
                    f"line {line_no}: extension {extension} already belongs to agent '{holder}'",
                    field="extension",
                    code="extension_taken",
                )
    pin_hashes = [hash_secret(row["pin"], store.pepper) if "pin" in row else None for row in rows]
    with store.write() as s:
        for row, pin_hash in zip(rows, pin_hashes):
            with _unique_extension_guard(row.get("extension", "")):
                _put_agent(s, row, pin_hash, now, update=True)
            if row["id"] in existing:
                updated += 1
            else:
                created += 1
                existing.add(row["id"])
        if audit is not None:
            trail.write(s, audit.but(after={"created": created, "updated": updated}))
    return created, updated


def add_user(
    store: Store,
    username: str,
    password: object,
    role: object,
    now: datetime,
    agent_id: str | None = None,
    audit: trail.Entry | None = None,
) -> User:
    role = check_role(role)
    if not re.fullmatch(r"[A-Za-z0-9._@-]{2,100}", username or ""):
        raise InvalidInput("username must be 2-100 letters, digits, '.', '_', '@' or '-'", field="username")
    if not isinstance(password, str) or len(password) < 8:
        raise InvalidInput("password must have at least 8 characters", field="password")
    with store.write() as s:
        if s.execute(select(User).where(User.username == username)).scalar_one_or_none():
            raise Conflict(f"user '{username}' already exists", field="username", code="exists")
        if agent_id and s.get(Agent, agent_id) is None:
            raise NotFound(f"no agent '{agent_id}'", field="agent_id")
        user = User(
            username=username,
            password_hash=hash_secret(password, store.pepper),
            role=role,
            agent_id=agent_id,
            active=True,
            created_at=now,
        )
        s.add(user)
        trail.write_if(s, audit)
        return user


def authenticate_user(store: Store, username: str, password: str) -> Principal | None:
    """The user, when the password matches. An unknown or disabled name costs the same hash check."""
    with store.read() as s:
        user = s.execute(select(User).where(User.username == username, User.active.is_(True))).scalar_one_or_none()
        stored = user.password_hash if user is not None else None
        if not verify_secret(stored, password, store.pepper) or user is None:
            return None
        principal = Principal(user.username, user.role, user.agent_id)
    if needs_rehash(stored, store.pepper):  # made before the pepper: upgrade it now that the password is known
        with store.write() as s:
            row = s.execute(select(User).where(User.username == username)).scalar_one()
            if row.password_hash == stored:
                row.password_hash = hash_secret(password, store.pepper)
    return principal


def authenticate_agent_pin(store: Store, agent_id: str, pin: str) -> Principal | None:
    """The agent, when the PIN matches. An unknown or disabled agent costs the same hash check."""
    with store.read() as s:
        agent = s.get(Agent, agent_id)
        stored = agent.pin_hash if agent is not None and agent.active else None
        if not verify_secret(stored, pin, store.pepper) or agent is None:
            return None
        principal = Principal(agent.id, "agent", agent.id)
    upgrade_pin_hash(store, agent_id, stored, pin)
    return principal


def upgrade_pin_hash(store: Store, agent_id: str, stored: str | None, pin: str) -> None:
    """After a successful PIN check: rehash a PIN hash made before the pepper."""
    if needs_rehash(stored, store.pepper):
        with store.write() as s:
            row = s.get(Agent, agent_id)
            if row is not None and row.pin_hash == stored:
                row.pin_hash = hash_secret(pin, store.pepper)


def create_token(
    store: Store,
    role: object,
    now: datetime,
    agent_id: str | None = None,
    name: str = "",
    audit: trail.Entry | None = None,
) -> str:
    """A new API token; only its digest is stored, so this is the one time it can be shown. The audit row
    gets the token's record (id, name, role, agent; never the token)."""
    role = check_role(role)
    if role == "agent" and not agent_id:
        raise InvalidInput("an agent token needs --agent", field="agent")
    token = new_token()
    with store.write() as s:
        if agent_id and s.get(Agent, agent_id) is None:
            raise NotFound(f"no agent '{agent_id}'", field="agent")
        row = ApiToken(name=name or role, token_hash=token_digest(token), role=role, agent_id=agent_id, created_at=now)
        s.add(row)
        if audit is not None:
            s.flush()  # its id
            record = {"id": row.id, "name": row.name, "role": row.role, "agent_id": row.agent_id}
            trail.write(s, audit.but(target=f"token {row.id}", after=record))
    return token


def principal_for_token(store: Store, token: str) -> Principal | None:
    """Who a bearer token belongs to; None when it is unknown or revoked.

    Known tokens are cached per process, stamped with the store's ``tokens`` generation; a
    revocation bumps it in its own transaction, so every instance sees it on the next request
    (one primary-key read of one small row, instead of the token row each time).
    """
    digest = token_digest(token)
    cache: dict = store.caches.setdefault("principals", {})
    current = statements.current_generation(store, TOKENS)  # read before the token: never newer
    hit = cache.get(digest)
    if hit is not None and hit[0] == current:
        return hit[1]
    with store.reader.connect() as conn:
        row = conn.execute(
            select(ApiToken.id, ApiToken.name, ApiToken.role, ApiToken.agent_id).where(
                ApiToken.token_hash == digest, ApiToken.revoked_at.is_(None)
            )
        ).first()
    if row is None:
        return None
    principal = Principal(f"token:{row.name}", row.role, row.agent_id, credential=f"token:{row.id}")
    if len(cache) >= _MAX_CACHED_TOKENS:
        cache.clear()
    cache[digest] = (current, principal)
    return principal


# -- administration: listing, disabling, PIN reset, token revocation ------------------------------


def list_users(store: Store) -> list[dict]:
    with store.read() as s:
        return [
            {
                "username": u.username,
                "role": u.role,
                "agent_id": u.agent_id,
                "active": u.active,
                "created_at": u.created_at.isoformat(),
            }
            for u in s.execute(select(User).order_by(User.username)).scalars()
        ]


def set_user_active(
    store: Store, username: str, active: bool, now: datetime | None = None, audit: trail.Entry | None = None
) -> None:
    """Enable or disable a user; disabling ends the user's page sessions."""
    with store.write() as s:
        user = s.execute(select(User).where(User.username == username)).scalar_one_or_none()
        if user is None:
            raise NotFound(f"no user '{username}'", field="username")
        user.active = bool(active)
        if not active:
            web_sessions.end_all_for(s, username, False, now or utc_now(), "disabled")
        trail.write_if(s, audit)


def set_password(
    store: Store, username: str, password: object, now: datetime | None = None, audit: trail.Entry | None = None
) -> None:
    """A new password; the user's page sessions end (whoever knew the old one is signed out)."""
    if not isinstance(password, str) or len(password) < 8:
        raise InvalidInput("password must have at least 8 characters", field="password")
    with store.write() as s:
        user = s.execute(select(User).where(User.username == username)).scalar_one_or_none()
        if user is None:
            raise NotFound(f"no user '{username}'", field="username")
        user.password_hash = hash_secret(password, store.pepper)
        web_sessions.end_all_for(s, username, False, now or utc_now(), "password_changed")
        trail.write_if(s, audit)


def list_agents(store: Store) -> list[dict]:
    """Every agent, disabled ones too (the live views show only active agents)."""
    with store.read() as s:
        return [
            {
                "id": a.id,
                "name": a.name,
                "team": a.team,
                "extension": a.extension,
                "email": a.email,
                "salesforce_user_id": a.salesforce_user_id,
                "timezone": a.timezone or "",
                "active": a.active,
                "has_pin": bool(a.pin_hash),
            }
            for a in s.execute(select(Agent).order_by(Agent.id)).scalars()
        ]


def _existing_agent(s, agent_id: str) -> Agent:
    agent = s.get(Agent, agent_id)
    if agent is None:
        raise NotFound(f"no agent '{agent_id}'", field="agent_id")
    return agent


#: what an admin may change on an existing agent (the id is its key; the PIN has its own reset)
EDITABLE_AGENT_FIELDS = ("name", "team", "extension", "email", "salesforce_user_id", "timezone")
SALESFORCE_USER_ID_RE = re.compile(r"^005[A-Za-z0-9]{12}(?:[A-Za-z0-9]{3})?$")


def update_agent(store: Store, agent_id: str, data: dict, by: str, audit: trail.Entry | None = None) -> dict:
    """Edit an agent's details; unknown or bad fields are refused by name and nothing changes.

    The change is written to the log with who made it and which fields changed (no PINs here), and to the
    audit row (``before``/``after``: the fields that changed).
    """
    wrong = next((k for k in data if k not in EDITABLE_AGENT_FIELDS), None)
    if wrong is not None:
        raise InvalidInput(
            f"'{wrong}' cannot be changed here; editable: {', '.join(EDITABLE_AGENT_FIELDS)}", field=wrong
        )
    clean = _clean_agent(data, partial=True)
    if "name" in clean and not clean["name"]:
        raise InvalidInput("name cannot be empty", field="name")
    sf_id = clean.get("salesforce_user_id")
    if sf_id and not SALESFORCE_USER_ID_RE.match(sf_id):
        raise InvalidInput(
            "salesforce_user_id must be a Salesforce User id (15 or 18 characters, starting 005)",
            field="salesforce_user_id",
        )
    email = clean.get("email")
    if email and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email):
        raise InvalidInput("email must look like name@example.com", field="email")
    with _unique_extension_guard(clean.get("extension", "")), store.write() as s:
        agent = _existing_agent(s, agent_id)
        if agent.active and "extension" in clean:
            _check_extension_free(s, clean["extension"], agent_id)
        changed = [k for k in EDITABLE_AGENT_FIELDS if k in clean and (getattr(agent, k) or "") != clean[k]]
        before = {k: getattr(agent, k) for k in changed}
        for key in changed:
            setattr(agent, key, clean[key])
        result = {
            "id": agent.id,
            "name": agent.name,
            "team": agent.team,
            "extension": agent.extension,
            "email": agent.email,
            "salesforce_user_id": agent.salesforce_user_id,
            "timezone": agent.timezone or "",
            "active": agent.active,
            "has_pin": bool(agent.pin_hash),
        }
        if audit is not None:
            trail.write(s, audit.but(before=before, after={k: result[k] for k in changed}))
    log.info("agent %s edited by %s: %s", agent_id, by, ", ".join(changed) or "no changes")
    return result


def set_agent_active(
    store: Store, agent_id: str, active: bool, now: datetime | None = None, audit: trail.Entry | None = None
) -> None:
    """Enable or disable an agent; enabling checks its extension is free, disabling ends its PIN page sessions."""
    with store.write() as s:
        agent = _existing_agent(s, agent_id)
        if active and not agent.active:
            _check_extension_free(s, agent.extension, agent_id)
        agent.active = bool(active)
        if not active:
            web_sessions.end_all_for(s, agent_id, True, now or utc_now(), "disabled")
            end_credentials(s, [f"agent:{agent_id}"], "disabled", now or utc_now())
            statements.bump_generation(s.connection(), agent_credentials_key(agent_id))
        trail.write_if(s, audit)


def reset_pin(
    store: Store, agent_id: str, pin: object, now: datetime | None = None, audit: trail.Entry | None = None
) -> None:
    """A new PIN; the agent's PIN page sessions end."""
    clean = check_pin(pin)
    with store.write() as s:
        _existing_agent(s, agent_id).pin_hash = hash_secret(clean, store.pepper)
        web_sessions.end_all_for(s, agent_id, True, now or utc_now(), "pin_reset")
        statements.bump_generation(s.connection(), agent_credentials_key(agent_id))
        trail.write_if(s, audit)


def list_tokens(store: Store) -> list[dict]:
    """Tokens without their secret (only a digest is stored)."""
    with store.read() as s:
        return [
            {
                "id": t.id,
                "name": t.name,
                "role": t.role,
                "agent_id": t.agent_id,
                "created_at": t.created_at.isoformat(),
                "revoked_at": t.revoked_at.isoformat() if t.revoked_at else None,
            }
            for t in s.execute(select(ApiToken).order_by(ApiToken.id)).scalars()
        ]


def revoke_token(store: Store, token_id: int, now: datetime, audit: trail.Entry | None = None) -> None:
    with store.write() as s:
        token = s.get(ApiToken, token_id)
        if token is None:
            raise NotFound(f"no token {token_id}", field="token_id")
        if token.revoked_at is None:
            token.revoked_at = now
            statements.bump_generation(s.connection(), TOKENS)
            end_credentials(s, [f"token:{token_id}"], "revoked", now)
        trail.write_if(s, audit)


def agent_credentials_key(agent_id: str) -> str:
    """The store generation of an agent's credentials: a PIN reset or a disable bumps it, and stream tokens
    issued before no longer hold (connector/auth/stream_tokens.py). A digest keeps it within 64 characters."""
    return "agent-credentials:" + hashlib.sha256(agent_id.encode()).hexdigest()[:40]


def still_enabled(store: Store, name: str, with_pin: bool) -> bool:
    """Whether the agent (signed in with a PIN) or the user is still enabled: disabling ends web sessions."""
    with store.read() as s:
        if with_pin:
            agent = s.get(Agent, name)
            return bool(agent and agent.active)
        user = s.execute(select(User).where(User.username == name)).scalar_one_or_none()
        return bool(user and user.active)


def agent_for_extension(store: Store, extension: object) -> str:
    """The active agent whose extension this is (a PBX short-code login names the extension, not the agent)."""
    extension = one_line(extension, "extension", 32, required=True)
    with store.read() as s:
        agent_id = (
            s.execute(select(Agent.id).where(Agent.extension == extension, Agent.active.is_(True))).scalars().first()
        )
    if agent_id is None:
        raise NotFound(f"no agent has extension {extension}", field="extension", code="unknown_extension")
    return agent_id
