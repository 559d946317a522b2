"""Agents, users and API tokens: creating them, importing agents, finding who a token belongs to."""
from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from .errors import Conflict, InvalidInput, NotFound
from .security import check_pin, check_role, hash_secret, new_token, token_digest, verify_secret
from .store import Store, statements
from .store.models import Agent, AgentSessionRow, ApiToken, User

AGENT_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
TOKENS = "tokens"  #: the store generation that invalidates cached token -> principal lookups
_MAX_CACHED_TOKENS = 10_000
AGENT_FIELDS = ("id", "name", "team", "extension", "email", "salesforce_user_id", "pin")


@dataclass(frozen=True)
class Principal:
    """Who is calling: a role, and for the agent role the one agent it may act for."""

    name: str
    role: str
    agent_id: str | None = None

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
    if data.get("pin") not in (None, ""):
        out["pin"] = check_pin(data["pin"])
    return out


def add_agent(store: Store, data: dict, now: datetime, update: bool = False) -> Agent:
    clean = _clean_agent(data)
    with store.write() as s:
        agent = s.get(Agent, clean["id"])
        if agent is not None and not update:
            raise Conflict(f"agent '{clean['id']}' already exists", field="id", code="exists")
        if agent is None:
            agent = Agent(id=clean["id"], name=clean.get("name") or clean["id"], team="", extension="", email="",
                          salesforce_user_id="", created_at=now, active=True)
            s.add(agent)
            s.add(AgentSessionRow(agent_id=agent.id, logons=[], version=0, logoff_pending=False))
        for key in ("name", "team", "extension", "email", "salesforce_user_id"):
            if key in clean:
                setattr(agent, key, clean[key])
        if "pin" in clean:
            agent.pin_hash = hash_secret(clean["pin"])
        agent.active = True
        return agent


def import_agents(store: Store, text: str, now: datetime) -> tuple[int, int]:
    """Create or update agents from CSV (header: id,name,team,extension,email,salesforce_user_id,pin).

    The whole file is checked first; a bad row refuses the import and names its line.
    """
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames or "id" not in reader.fieldnames:
        raise InvalidInput("the CSV needs a header row with at least an 'id' column", field="header")
    rows = []
    for line_no, raw in enumerate(reader, start=2):
        data = {k.strip(): (v or "").strip() for k, v in raw.items() if k}
        try:
            rows.append(_clean_agent(data))
        except InvalidInput as exc:
            raise InvalidInput(f"line {line_no}: {exc.message}", field=exc.field) from None
    created = updated = 0
    with store.read() as s:
        existing = set(s.execute(select(Agent.id)).scalars())
    for row in rows:
        add_agent(store, row, now, update=True)
        if row["id"] in existing:
            updated += 1
        else:
            created += 1
            existing.add(row["id"])
    return created, updated


def add_user(store: Store, username: str, password: str, role: str, now: datetime,
             agent_id: str | None = None) -> User:
    check_role(role)
    if not re.fullmatch(r"[A-Za-z0-9._@-]{2,100}", username or ""):
        raise InvalidInput("username must be 2-100 letters, digits, '.', '_', '@' or '-'", field="username")
    if not isinstance(password, str) or len(password) < 8:
        raise InvalidInput("password must have at least 8 characters", field="password")
    with store.write() as s:
        if s.execute(select(User).where(User.username == username)).scalar_one_or_none():
            raise Conflict(f"user '{username}' already exists", field="username", code="exists")
        if agent_id and s.get(Agent, agent_id) is None:
            raise NotFound(f"no agent '{agent_id}'", field="agent_id")
        user = User(username=username, password_hash=hash_secret(password), role=role, agent_id=agent_id,
                    active=True, created_at=now)
        s.add(user)
        return user


def authenticate_user(store: Store, username: str, password: str) -> Principal | None:
    with store.read() as s:
        user = s.execute(select(User).where(User.username == username, User.active.is_(True))).scalar_one_or_none()
        if user is None or not verify_secret(user.password_hash, password):
            return None
        return Principal(user.username, user.role, user.agent_id)


def authenticate_agent_pin(store: Store, agent_id: str, pin: str) -> Principal | None:
    with store.read() as s:
        agent = s.get(Agent, agent_id)
        if agent is None or not agent.active or not verify_secret(agent.pin_hash, pin):
            return None
        return Principal(agent.id, "agent", agent.id)


def create_token(store: Store, role: str, now: datetime, agent_id: str | None = None, name: str = "") -> str:
    """A new API token; only its digest is stored, so this is the one time it can be shown."""
    check_role(role)
    if role == "agent" and not agent_id:
        raise InvalidInput("an agent token needs --agent", field="agent")
    token = new_token()
    with store.write() as s:
        if agent_id and s.get(Agent, agent_id) is None:
            raise NotFound(f"no agent '{agent_id}'", field="agent")
        s.add(ApiToken(name=name or role, token_hash=token_digest(token), role=role, agent_id=agent_id,
                       created_at=now))
    return token


def principal_for_token(store: Store, token: str) -> Principal | None:
    """Who a bearer token belongs to; None when it is unknown or revoked.

    Known tokens are cached per process, stamped with the store's ``tokens`` generation; a
    revocation bumps it in its own transaction, so every instance sees it on the next request
    (one primary-key read of one small row, instead of the token row each time).
    """
    digest = token_digest(token)
    cache: dict = store.caches.setdefault("principals", {})
    current = statements.current_generation(store.reader, TOKENS)  # read before the token: never newer
    hit = cache.get(digest)
    if hit is not None and hit[0] == current:
        return hit[1]
    with store.reader.connect() as conn:
        row = conn.execute(select(ApiToken.name, ApiToken.role, ApiToken.agent_id)
                           .where(ApiToken.token_hash == digest, ApiToken.revoked_at.is_(None))).first()
    if row is None:
        return None
    principal = Principal(f"token:{row.name}", row.role, row.agent_id)
    if len(cache) >= _MAX_CACHED_TOKENS:
        cache.clear()
    cache[digest] = (current, principal)
    return principal


# -- administration: listing, disabling, PIN reset, token revocation ------------------------------

def list_users(store: Store) -> list[dict]:
    with store.read() as s:
        return [{"username": u.username, "role": u.role, "agent_id": u.agent_id, "active": u.active,
                 "created_at": u.created_at.isoformat()}
                for u in s.execute(select(User).order_by(User.username)).scalars()]


def set_user_active(store: Store, username: str, active: bool) -> None:
    with store.write() as s:
        user = s.execute(select(User).where(User.username == username)).scalar_one_or_none()
        if user is None:
            raise NotFound(f"no user '{username}'", field="username")
        user.active = bool(active)


def list_agents(store: Store) -> list[dict]:
    """Every agent, disabled ones too (the live views show only active agents)."""
    with store.read() as s:
        return [{"id": a.id, "name": a.name, "team": a.team, "extension": a.extension, "email": a.email,
                 "salesforce_user_id": a.salesforce_user_id, "active": a.active, "has_pin": bool(a.pin_hash)}
                for a in s.execute(select(Agent).order_by(Agent.id)).scalars()]


def _existing_agent(s, agent_id: str) -> Agent:
    agent = s.get(Agent, agent_id)
    if agent is None:
        raise NotFound(f"no agent '{agent_id}'", field="agent_id")
    return agent


def set_agent_active(store: Store, agent_id: str, active: bool) -> None:
    with store.write() as s:
        _existing_agent(s, agent_id).active = bool(active)


def reset_pin(store: Store, agent_id: str, pin: object) -> None:
    clean = check_pin(pin)
    with store.write() as s:
        _existing_agent(s, agent_id).pin_hash = hash_secret(clean)


def list_tokens(store: Store) -> list[dict]:
    """Tokens without their secret (only a digest is stored)."""
    with store.read() as s:
        return [{"id": t.id, "name": t.name, "role": t.role, "agent_id": t.agent_id,
                 "created_at": t.created_at.isoformat(),
                 "revoked_at": t.revoked_at.isoformat() if t.revoked_at else None}
                for t in s.execute(select(ApiToken).order_by(ApiToken.id)).scalars()]


def revoke_token(store: Store, token_id: int, now: datetime) -> None:
    with store.write() as s:
        token = s.get(ApiToken, token_id)
        if token is None:
            raise NotFound(f"no token {token_id}", field="token_id")
        if token.revoked_at is None:
            token.revoked_at = now
            statements.bump_generation(s.connection(), TOKENS)


def still_enabled(store: Store, name: str, with_pin: bool) -> bool:
    """Whether the agent (signed in with a PIN) or the user is still enabled: disabling ends web sessions."""
    with store.read() as s:
        if with_pin:
            agent = s.get(Agent, name)
            return bool(agent and agent.active)
        user = s.execute(select(User).where(User.username == name)).scalar_one_or_none()
        return bool(user and user.active)
