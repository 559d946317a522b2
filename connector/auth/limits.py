"""Limits on guessing PINs and passwords, kept in the store so they hold across instances.

* Per account (``agent:<id>``, ``user:<name>``) and, for the anonymous sign-in forms, per client address
  (``addr:<ip>``): after ``free`` failures each further failure blocks the key for 1, 2, 4 ... seconds (at
  most ``max_backoff``); a try while blocked is refused with 429 and ``Retry-After``.
* After ``lockout_failures`` failures in a row an account is locked for ``lockout_seconds`` (0: until an
  admin unlocks it on the admin page). A correct secret does not open a locked account.
* Every failure and refusal is recorded (account, address, outcome; never the secret) and logged.
* Failures count within ``window`` seconds of the previous one; a success clears the account's count.

Flask-Limiter was considered: its storages (memory, Redis, Memcached, MongoDB) cannot use the SQLAlchemy
store every instance already shares, and it counts requests, not failures; locking an account and
showing failures to admins need rows of our own anyway. Two small tables do both.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar, cast

from sqlalchemy import CursorResult, delete, select

from connector.errors import TooManyAttempts
from connector.store import Store
from connector.store.models import SignInFailure, SignInThrottle

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class SignInPolicy:
    free: int = 3
    address_free: int = 30
    max_backoff: int = 300
    lockout_failures: int = 10
    lockout_seconds: int = 1800
    window: int = 3600

    #: environment variable (declared in connector/settings.py) -> field
    SETTINGS = {
        "CONNECTOR_SIGNIN_FREE_TRIES": "free",
        "CONNECTOR_SIGNIN_ADDRESS_FREE_TRIES": "address_free",
        "CONNECTOR_SIGNIN_MAX_BACKOFF": "max_backoff",
        "CONNECTOR_LOCKOUT_FAILURES": "lockout_failures",
        "CONNECTOR_LOCKOUT_SECONDS": "lockout_seconds",
    }

    @classmethod
    def from_settings(cls, value: Callable[[str], Any]) -> SignInPolicy:
        """The policy from the settings' values (``Settings.value``: declared, range-checked at start-up)."""
        return cls(**{fld: value(name) for name, fld in cls.SETTINGS.items()})


def _clean(text: str, limit: int = 100) -> str:
    return re.sub(r"[^\x20-\x7e]", "?", text or "")[:limit]


class SignInGuard:
    """Check a secret under the limits: ``attempt(account, address, check)``."""

    def __init__(self, store: Store, clock: Callable[[], datetime], policy: SignInPolicy):
        self.store = store
        self.clock = clock
        self.policy = policy

    def attempt(self, account: str, address: str | None, check: Callable[[], T | None]) -> T | None:
        """``check()`` (the hash verification) unless a key is blocked; records the outcome.

        Raises TooManyAttempts while blocked or locked; returns check()'s result (None: wrong secret).
        """
        account = _clean(account, 180)
        keys = [account] + ([f"addr:{_clean(address, 60)}"] if address else [])
        now = self.clock()
        with self.store.read() as s:
            rows = {r.key: r for r in s.execute(select(SignInThrottle).where(SignInThrottle.key.in_(keys))).scalars()}
        row = rows.get(account)
        if row is not None and row.locked and (row.locked_until is None or row.locked_until > now):
            wait = (row.locked_until - now).total_seconds() if row.locked_until else self.policy.max_backoff
            self._record(account, address, "locked", now)
            raise TooManyAttempts(
                "this account is locked after too many failed sign-ins; an admin can unlock it",
                retry_after=math.ceil(wait),
                code="account_locked",
            )
        waits = [
            (r.blocked_until - now).total_seconds()
            for r in rows.values()
            if r.blocked_until is not None and r.blocked_until > now
        ]
        if waits:
            self._record(account, address, "throttled", now)
            raise TooManyAttempts(
                "too many failed sign-ins; wait before trying again", retry_after=math.ceil(max(waits))
            )
        result = check()
        if result is None:
            self._failed(account, keys, address, now)
        elif row is not None:
            with self.store.write() as s:
                s.execute(delete(SignInThrottle).where(SignInThrottle.key == account))
        return result

    def _failed(self, account: str, keys: list[str], address: str | None, now: datetime) -> None:
        p = self.policy
        with self.store.write() as s:
            for key in keys:
                row = s.get(SignInThrottle, key)
                if row is None:
                    row = SignInThrottle(key=key, failures=0, last_failure_at=now, locked=False)
                    s.add(row)
                elif (now - row.last_failure_at).total_seconds() > p.window and not row.locked:
                    row.failures = 0
                row.failures += 1
                row.last_failure_at = now
                free = p.address_free if key.startswith("addr:") else p.free
                if row.failures > free:
                    row.blocked_until = now + timedelta(seconds=min(2 ** (row.failures - free - 1), p.max_backoff))
                if key == account and row.failures >= p.lockout_failures:
                    row.locked = True
                    row.locked_until = now + timedelta(seconds=p.lockout_seconds) if p.lockout_seconds else None
            s.add(SignInFailure(at=now, account=account, address=_clean(address or "", 60), outcome="wrong"))
        log.warning("failed sign-in for %s from %s", account, _clean(address or "-", 60))

    def _record(self, account: str, address: str | None, outcome: str, now: datetime) -> None:
        with self.store.write() as s:
            s.add(SignInFailure(at=now, account=account, address=_clean(address or "", 60), outcome=outcome))
        log.warning("sign-in %s for %s from %s", outcome, account, _clean(address or "-", 60))

    # -- for the admins -------------------------------------------------------------------------
    def recent_failures(self, limit: int = 100) -> list[dict]:
        with self.store.read() as s:
            rows = s.execute(select(SignInFailure).order_by(SignInFailure.id.desc()).limit(limit)).scalars()
            return [
                {"at": r.at.isoformat(), "account": r.account, "address": r.address, "outcome": r.outcome} for r in rows
            ]

    def locked_accounts(self) -> list[dict]:
        now = self.clock()
        with self.store.read() as s:
            rows = s.execute(select(SignInThrottle).where(SignInThrottle.locked.is_(True))).scalars()
            return [
                {
                    "account": r.key,
                    "failures": r.failures,
                    "locked_until": r.locked_until.isoformat() if r.locked_until else None,
                }
                for r in rows
                if r.locked_until is None or r.locked_until > now
            ]

    def unlock(self, account: str) -> bool:
        with self.store.write() as s:
            deleted = cast("CursorResult[Any]", s.execute(delete(SignInThrottle).where(SignInThrottle.key == account)))
            return bool(deleted.rowcount)
