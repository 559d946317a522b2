"""Signed-in page sessions kept in the store, so signing out really ends them.

The cookie carries a random session id; the store keeps its digest with who signed in and when the
session was last used. Every request checks it: a session ends on sign-out, when the account is
disabled, its PIN reset or its password changed, after ``idle`` seconds without a request (admins:
``admin_idle``), and ``absolute`` seconds after sign-in whatever happens.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session

from connector.auth.hashing import token_digest
from connector.live.bus import end_credentials
from connector.store import Store
from connector.store.models import WebSession

#: last_seen_at is written at most this often (a write per request would cost every page view)
TOUCH_EVERY = timedelta(seconds=60)


@dataclass(frozen=True)
class SessionLifetimes:
    idle: int = 12 * 3600
    admin_idle: int = 8 * 3600
    absolute: int = 24 * 3600

    #: environment variable (declared in connector/settings.py, in hours) -> field (in seconds)
    SETTINGS = {
        "CONNECTOR_SESSION_IDLE_HOURS": "idle",
        "CONNECTOR_ADMIN_SESSION_IDLE_HOURS": "admin_idle",
        "CONNECTOR_SESSION_MAX_HOURS": "absolute",
    }

    @classmethod
    def from_settings(cls, value: Callable[[str], Any]) -> SessionLifetimes:
        """The lifetimes from the settings' values (``Settings.value``: hours, range-checked at start-up)."""
        return cls(**{fld: int(value(name) * 3600) for name, fld in cls.SETTINGS.items()})

    def idle_for(self, role: str) -> int:
        return self.admin_idle if role == "admin" else self.idle


def start(store: Store, now: datetime, name: str, role: str, with_pin: bool) -> str:
    sid = secrets.token_urlsafe(32)
    with store.write() as s:
        s.add(
            WebSession(
                id_hash=token_digest(sid), name=name, role=role, with_pin=with_pin, created_at=now, last_seen_at=now
            )
        )
    return sid


def check(store: Store, sid: object, now: datetime, lifetimes: SessionLifetimes) -> bool:
    """Whether the session is still alive (and note that it was used)."""
    if not isinstance(sid, str) or not sid:
        return False
    digest = token_digest(sid)
    with store.read() as s:
        row = s.get(WebSession, digest)
        if row is None or row.ended_at is not None:
            return False
        idle = (now - row.last_seen_at).total_seconds() > lifetimes.idle_for(row.role)
        too_old = (now - row.created_at).total_seconds() > lifetimes.absolute
        touch = now - row.last_seen_at >= TOUCH_EVERY
    if idle or too_old:
        end(store, sid, now, "idle" if idle else "expired")
        return False
    if touch:
        with store.write() as s:
            s.execute(
                update(WebSession)
                .where(WebSession.id_hash == digest, WebSession.ended_at.is_(None))
                .values(last_seen_at=now)
            )
    return True


def end(store: Store, sid: object, now: datetime, reason: str = "signed_out") -> bool:
    """End one session; its open event streams end too. Whether it was still open."""
    if not isinstance(sid, str) or not sid:
        return False
    digest = token_digest(sid)
    with store.write() as s:
        ended = cast(
            "CursorResult[Any]",
            s.execute(
                update(WebSession)
                .where(WebSession.id_hash == digest, WebSession.ended_at.is_(None))
                .values(ended_at=now, ended_reason=reason)
            ),
        ).rowcount
        if ended:
            end_credentials(s, [f"session:{digest}"], reason, now)
    return bool(ended)


def end_all_for(s: Session, name: str, with_pin: bool, now: datetime, reason: str) -> None:
    """End every session of a user (``with_pin`` False) or of an agent signed in with its PIN (True), and
    their open event streams (an agent's stream tokens too)."""
    s.execute(
        update(WebSession)
        .where(WebSession.name == name, WebSession.with_pin.is_(with_pin), WebSession.ended_at.is_(None))
        .values(ended_at=now, ended_reason=reason)
    )
    end_credentials(s, [f"{'agent-pin' if with_pin else 'user'}:{name}"], reason, now)


def stream_keys(sid: object, name: str, with_pin: bool) -> list[str]:
    """What ends a page session's event streams (see :func:`connector.live.bus.end_credentials`)."""
    keys = [f"{'agent-pin' if with_pin else 'user'}:{name}"]
    if isinstance(sid, str) and sid:
        keys.append(f"session:{token_digest(sid)}")
    return keys


def expires_at(store: Store, sid: object, lifetimes: SessionLifetimes) -> datetime | None:
    """When the session ends whatever happens (``absolute`` after sign-in)."""
    if not isinstance(sid, str) or not sid:
        return None
    with store.read() as s:
        row = s.get(WebSession, token_digest(sid))
        return row.created_at + timedelta(seconds=lifetimes.absolute) if row is not None else None


def active_count(store: Store, name: str) -> int:
    with store.read() as s:
        return len(
            s.execute(select(WebSession.id_hash).where(WebSession.name == name, WebSession.ended_at.is_(None))).all()
        )
