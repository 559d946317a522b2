"""Limits on guessing PINs and passwords, kept in the store so they hold across instances.

The limits slow a guesser down without letting anyone lock the real owner out (NIST SP 800-63B 5.2.2,
OWASP ASVS 2.2.1): no number of anonymous tries locks an account.

* Per account and client address (``pair:<account>@<ip>``, the sign-in forms) and per client address
  (``addr:<ip>``): after ``free`` (address: ``address_free``) failures each further failure blocks that
  key for 1, 2, 4 ... seconds (at most ``max_backoff``); a try while blocked is refused with 429 and
  ``Retry-After``. The owner at another address is not blocked by a guesser's address.
* The PIN checks of the API (``POST /api/v1/pbx/login``, a login with ``pin``) come from a token holder
  and count under ``api:<account>`` alone, with the same backoff: tries on the web forms never block them.
* Per account, every failure counts towards ``daily_alert`` failures in 24 hours: when an account reaches
  it, the admins are told (admin page, Accounts, and ``/healthz``) and one warning is logged; the
  account stays open. A hard lock is only ever an admin's choice (admin page: Lock / Unlock).
* State ends when it expires: a key whose last failure is more than ``window`` seconds old starts from
  zero (and its row is deleted); the per-account day starts again 24 hours after it began.
* Wrong secrets are listed for the admins (account, address; never the secret), at most ``keep_failures``
  rows. The audit trail gets summaries, by the system, in the failure's transaction: ``account.throttle``
  when an account's tries from an address (or the API's) start to be slowed down — at most one row per
  account per ``window`` — and ``account.alert`` when the account reaches ``daily_alert`` (once a day); an
  admin's lock and unlock are rows of their own (the unlock says what it lifted). Never a row per try. Tries refused while blocked are not stored one row each: they are counted on the key's row and
  logged once per key.

Flask-Limiter was considered: its storages (memory, Redis, Memcached, MongoDB) cannot use the SQLAlchemy
store every instance already shares, and it counts requests, not failures; showing failures to admins
needs rows of our own anyway. Two small tables do both.
"""

from __future__ import annotations

import logging
import math
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar, cast

from sqlalchemy import CursorResult, delete, func, or_, select, update

from connector.audit import trail
from connector.errors import TooManyAttempts
from connector.store import Store
from connector.store.models import SignInFailure, SignInThrottle

log = logging.getLogger(__name__)
T = TypeVar("T")
DAY = 86400
#: refused tries are added to their rows at most this often (a write per refused try is what a guesser wants)
REFUSED_FLUSH_SECONDS = 1.0
#: expired rows are deleted at most this often
CLEANUP_SECONDS = 60.0


@dataclass(frozen=True)
class SignInPolicy:
    free: int = 3
    address_free: int = 30
    max_backoff: int = 300
    daily_alert: int = 50
    window: int = 3600
    keep_failures: int = 1000

    #: environment variable (declared in connector/settings.py) -> field
    SETTINGS = {
        "CONNECTOR_SIGNIN_FREE_TRIES": "free",
        "CONNECTOR_SIGNIN_ADDRESS_FREE_TRIES": "address_free",
        "CONNECTOR_SIGNIN_MAX_BACKOFF": "max_backoff",
        "CONNECTOR_SIGNIN_DAILY_ALERT": "daily_alert",
    }
    #: settings of the earlier lockout policy: no longer read (anonymous tries must not lock anyone out)
    RETIRED = ("CONNECTOR_LOCKOUT_FAILURES", "CONNECTOR_LOCKOUT_SECONDS")

    @classmethod
    def from_settings(
        cls, value: Callable[[str], Any], is_set: Callable[[str], bool] = lambda name: False
    ) -> SignInPolicy:
        """The policy from the settings' values (``Settings.value``: declared, range-checked at start-up)."""
        for name in cls.RETIRED:
            if is_set(name):
                log.warning(
                    "%s is no longer used: failed sign-ins slow the guesser and alert the admins "
                    "(CONNECTOR_SIGNIN_DAILY_ALERT); only an admin locks an account",
                    name,
                )
        return cls(**{fld: value(name) for name, fld in cls.SETTINGS.items()})


def _clean(text: str, limit: int = 100) -> str:
    return re.sub(r"[^\x20-\x7e]", "?", text or "")[:limit]


class SignInGuard:
    """Check a secret under the limits: ``attempt(account, address, check)``."""

    def __init__(self, store: Store, clock: Callable[[], datetime], policy: SignInPolicy):
        self.store = store
        self.clock = clock
        self.policy = policy
        self._lock = threading.Lock()
        self._refused: dict[str, int] = {}  # refused tries not yet added to their rows
        self._logged: set[tuple[str, object]] = set()  # (key, block) whose refusal was logged
        self._flushed = 0.0
        self._cleaned = 0.0

    @staticmethod
    def _keys(account: str, address: str | None) -> list[str]:
        """The throttled keys of a try: the account at this address and the address (forms), or the API's."""
        if address is None:
            return [f"api:{account}"]
        address = _clean(address, 60)
        return [f"pair:{account}@{address}"[:200], f"addr:{address}"]

    def attempt(self, account: str, address: str | None, check: Callable[[], T | None]) -> T | None:
        """``check()`` (the hash verification) unless a key is blocked; records the outcome.

        ``address`` None: a PIN check of the API (a token holder), counted apart from the sign-in forms.
        Raises TooManyAttempts while blocked or locked by an admin; returns check()'s result (None: wrong).
        """
        account = _clean(account, 180)
        keys = self._keys(account, address)
        now = self.clock()
        with self.store.read() as s:
            rows = {
                r.key: r
                for r in s.execute(select(SignInThrottle).where(SignInThrottle.key.in_([account, *keys]))).scalars()
            }
        row = rows.get(account)
        if row is not None and row.locked and (row.locked_until is None or row.locked_until > now):
            self._refuse(account, account, address, "locked", "locked")
            raise TooManyAttempts(
                "an admin has locked this account; ask an admin to unlock it",
                retry_after=self.policy.max_backoff,
                code="account_locked",
            )
        waits = {
            key: (r.blocked_until - now).total_seconds()
            for key, r in rows.items()
            if key != account and r.blocked_until is not None and r.blocked_until > now
        }
        if waits:
            for key in waits:
                self._refuse(key, account, address, "throttled", rows[key].blocked_until)
            raise TooManyAttempts(
                "too many failed sign-ins; wait before trying again", retry_after=math.ceil(max(waits.values()))
            )
        result = check()
        if result is None:
            self._failed(account, keys, address, now)
        elif any(key in rows for key in keys[:1]):
            with self.store.write() as s:  # the owner got in: this address starts afresh for this account
                s.execute(delete(SignInThrottle).where(SignInThrottle.key == keys[0]))
        return result

    def _failed(self, account: str, keys: list[str], address: str | None, now: datetime) -> None:
        p = self.policy
        alert = False
        slowed: tuple[str, int] | None = None  # (key, failures) of a key this failure starts to slow down
        with self.store.write() as s:
            for key in keys:
                row = s.get(SignInThrottle, key)
                if row is None:
                    row = SignInThrottle(key=key, failures=0, last_failure_at=now, locked=False, refused=0)
                    s.add(row)
                elif (now - row.last_failure_at).total_seconds() > p.window:
                    row.failures, row.blocked_until, row.refused = 0, None, 0  # expired: start afresh
                row.failures += 1
                row.last_failure_at = now
                free = p.address_free if key.startswith("addr:") else p.free
                if row.failures > free:
                    row.blocked_until = now + timedelta(
                        seconds=min(2 ** min(row.failures - free - 1, 30), p.max_backoff)
                    )
                    if row.failures == free + 1 and not key.startswith("addr:"):
                        slowed = (key, row.failures)
            day = s.get(SignInThrottle, account)
            if day is None:
                day = SignInThrottle(key=account, failures=0, last_failure_at=now, locked=False, refused=0, since=now)
                s.add(day)
            elif day.since is None or (now - day.since).total_seconds() >= DAY:
                day.failures, day.since, day.alerted_at = 0, now, None  # a new day of counting
            day.failures += 1
            day.last_failure_at = now
            if day.failures >= p.daily_alert and day.alerted_at is None:
                day.alerted_at, alert = now, True
            s.add(SignInFailure(at=now, account=account, address=_clean(address or "api", 60), outcome="wrong"))
            if slowed is not None:
                self._audit_slowed(s, account, address, slowed[1], now)
            if alert:
                self._audit_alert(s, account, address, day, now)
            newest = s.execute(select(func.max(SignInFailure.id))).scalar() or 0
            if newest % 100 == 0:  # keep the list bounded (now and then: a delete per failure costs)
                s.execute(delete(SignInFailure).where(SignInFailure.id <= newest - p.keep_failures))
        log.warning("failed sign-in for %s from %s", account, _clean(address or "api", 60))
        if alert:
            log.warning(
                "possible attack: %s failed sign-ins for %s within a day (CONNECTOR_SIGNIN_DAILY_ALERT); "
                "the account stays open, an admin can lock it on the admin page",
                p.daily_alert,
                account,
            )
        self._cleanup(now)

    def _audit_slowed(self, s, account: str, address: str | None, failures: int, now: datetime) -> None:
        """The trail's summary of the failures that made the connector slow an account's tries down (at most one
        row per account per ``window``: a guesser at many addresses does not fill the trail)."""
        p = self.policy
        if trail.recorded_since(s, "account.throttle", account, now - timedelta(seconds=p.window)):
            return
        where = f"from {_clean(address, 60)} (sign-in form)" if address is not None else "through the API (PIN check)"
        trail.write(
            s,
            trail.Entry(
                now,
                trail.system_actor(_clean(address or "", 60)),
                "account.throttle",
                account,
                after={"failures": failures, "address": _clean(address or "api", 60), "first_wait_seconds": 1},
                detail=f"{failures} failed sign-ins {where} within {p.window // 60} minutes; each further failure "
                f"doubles the wait (at most {p.max_backoff} s); the account stays open",
            ),
        )

    def _audit_alert(self, s, account: str, address: str | None, day: SignInThrottle, now: datetime) -> None:
        """The trail's summary of an account's day of failures when it reaches ``daily_alert`` (once a day)."""
        since = day.since or now
        addresses = s.execute(
            select(func.count(func.distinct(SignInFailure.address))).where(
                SignInFailure.account == account, SignInFailure.at >= since
            )
        ).scalar_one()
        trail.write(
            s,
            trail.Entry(
                now,
                trail.system_actor(_clean(address or "", 60)),
                "account.alert",
                account,
                after={"failures": day.failures, "since": since.isoformat(), "addresses": addresses},
                detail=f"{day.failures} failed sign-ins since {since.isoformat(timespec='seconds')} from {addresses} "
                "address(es) (CONNECTOR_SIGNIN_DAILY_ALERT); the account stays open, an admin can lock it",
            ),
        )

    def _refuse(self, key: str, account: str, address: str | None, outcome: str, marker: object) -> None:
        """Count a refused try on ``key``'s row (in batches); log one line per block (``marker``) only."""
        with self._lock:
            self._refused[key] = self._refused.get(key, 0) + 1
            first = (key, marker) not in self._logged
            if first:
                if len(self._logged) > 10_000:
                    self._logged.clear()
                self._logged.add((key, marker))
            due = time.monotonic() - self._flushed >= REFUSED_FLUSH_SECONDS
            if due:
                pending, self._refused, self._flushed = self._refused, {}, time.monotonic()
        if due:
            self._flush(pending)
        if first:
            log.warning(
                "sign-in %s for %s from %s (further refusals are counted, not logged)",
                outcome,
                account,
                _clean(address or "api", 60),
            )

    def _flush(self, pending: dict[str, int]) -> None:
        with self.store.write() as s:
            for key, count in pending.items():
                s.execute(
                    update(SignInThrottle)
                    .where(SignInThrottle.key == key)
                    .values(refused=func.coalesce(SignInThrottle.refused, 0) + count)
                )

    def _cleanup(self, now: datetime) -> None:
        """Delete rows whose state has expired (not the admin's locks)."""
        if time.monotonic() - self._cleaned < CLEANUP_SECONDS:
            return
        self._cleaned = time.monotonic()
        with self.store.write() as s:
            s.execute(
                delete(SignInThrottle).where(
                    SignInThrottle.locked.is_not(True),
                    or_(
                        SignInThrottle.key.like("pair:%"),
                        SignInThrottle.key.like("addr:%"),
                        SignInThrottle.key.like("api:%"),
                    ),
                    SignInThrottle.last_failure_at < now - timedelta(seconds=self.policy.window),
                )
            )
            s.execute(
                delete(SignInThrottle).where(
                    SignInThrottle.locked.is_not(True),
                    SignInThrottle.since.is_not(None),
                    SignInThrottle.since < now - timedelta(seconds=DAY),
                )
            )

    # -- for the admins -------------------------------------------------------------------------
    def recent_failures(self, limit: int = 100) -> list[dict]:
        with self.store.read() as s:
            rows = s.execute(select(SignInFailure).order_by(SignInFailure.id.desc()).limit(limit)).scalars()
            return [
                {"at": r.at.isoformat(), "account": r.account, "address": r.address, "outcome": r.outcome} for r in rows
            ]

    def _pending_refused(self) -> None:
        with self._lock:
            pending, self._refused, self._flushed = self._refused, {}, time.monotonic()
        if pending:
            self._flush(pending)

    def locked_accounts(self) -> list[dict]:
        """Accounts an admin has locked."""
        now = self.clock()
        self._pending_refused()
        with self.store.read() as s:
            rows = s.execute(select(SignInThrottle).where(SignInThrottle.locked.is_(True))).scalars()
            return [
                {
                    "account": r.key,
                    "failures": r.failures,
                    "refused": r.refused or 0,
                    "locked_until": r.locked_until.isoformat() if r.locked_until else None,
                }
                for r in rows
                if r.locked_until is None or r.locked_until > now
            ]

    def alerts(self) -> list[dict]:
        """Accounts that reached ``daily_alert`` failures within their current day: someone is guessing."""
        now = self.clock()
        with self.store.read() as s:
            rows = s.execute(
                select(SignInThrottle).where(
                    SignInThrottle.alerted_at.is_not(None), SignInThrottle.since > now - timedelta(seconds=DAY)
                )
            ).scalars()
            return [
                {
                    "account": r.key,
                    "failures": r.failures,
                    "since": r.since.isoformat() if r.since else None,
                    "alerted_at": r.alerted_at.isoformat() if r.alerted_at else None,
                    "locked": bool(r.locked),
                }
                for r in rows
            ]

    def throttled(self) -> list[dict]:
        """Keys blocked now, with the tries refused on them."""
        now = self.clock()
        self._pending_refused()
        with self.store.read() as s:
            rows = s.execute(select(SignInThrottle).where(SignInThrottle.blocked_until > now)).scalars()
            return [
                {
                    "key": r.key,
                    "failures": r.failures,
                    "refused": r.refused or 0,
                    "blocked_until": r.blocked_until.isoformat() if r.blocked_until else None,
                }
                for r in rows
            ]

    def lock(self, account: str, audit: trail.Entry | None = None) -> None:
        """An admin's hard lock: the account refuses every secret until an admin unlocks it (the audit row in
        the same transaction)."""
        account = _clean(account, 180)
        now = self.clock()
        with self.store.write() as s:
            trail.write_if(s, audit)
            row = s.get(SignInThrottle, account)
            if row is None:
                s.add(
                    SignInThrottle(
                        key=account, failures=0, last_failure_at=now, locked=True, locked_until=None, refused=0
                    )
                )
            else:
                row.locked, row.locked_until = True, None
        log.warning("account %s locked by an admin", account)

    def unlock(self, account: str, audit: trail.Entry | None = None) -> bool:
        """Lift an admin's lock and clear the account's alert and every throttle on it. The audit row, in the
        same transaction, says what was lifted (``before``: locked, the day's failures, refused tries, keys
        throttled); nothing found: nothing is written and False is returned."""
        account = _clean(account, 180)
        self._pending_refused()  # the refused tries counted in memory, so the audit row has them
        with self.store.write() as s:
            before = self._standing(s, account) if audit is not None else None
            found = cast(
                "CursorResult[Any]", s.execute(delete(SignInThrottle).where(SignInThrottle.key == account))
            ).rowcount
            s.execute(
                delete(SignInThrottle).where(
                    or_(
                        SignInThrottle.key.startswith(f"pair:{account}@", autoescape=True),
                        SignInThrottle.key == f"api:{account}",
                    )
                )
            )
            if found and audit is not None:
                trail.write(s, audit.but(before=before))
        return bool(found)

    def _standing(self, s, account: str) -> dict:
        """What holds an account now (for the audit trail): admin lock, the day's failures, refused tries and
        the keys slowed down (its address pairs and the API's)."""
        rows = s.execute(
            select(SignInThrottle).where(
                or_(
                    SignInThrottle.key == account,
                    SignInThrottle.key.startswith(f"pair:{account}@", autoescape=True),
                    SignInThrottle.key == f"api:{account}",
                )
            )
        ).scalars()
        now = self.clock()
        out = {"locked": False, "failures": 0, "refused": 0, "throttled": 0}
        for r in rows:
            out["refused"] += r.refused or 0
            if r.key == account:
                out["locked"] = bool(r.locked)
                out["failures"] = r.failures or 0
            elif r.blocked_until is not None and r.blocked_until > now:
                out["throttled"] += 1
        return out
