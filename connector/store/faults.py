"""Store faults a caller can do nothing about but wait: recognised and named, never a 500.

``store_full``: the disk (or the database's size limit) is full. ``store_unavailable``: the store cannot
be written or reached (read-only file, lost connection, no free connection). Anything else from the
database is a bug and stays an internal error.
"""

from __future__ import annotations

import sqlite3

from sqlalchemy import exc as sa

from connector.errors import Unavailable

FULL_SIGNS = (
    "database or disk is full",
    "disk is full",
    "no space left on device",
    "could not extend file",
    "disk full",
)
FULL_SQLSTATES = {"53100", "53000"}


def _driver_operational_errors() -> tuple[type[Exception], ...]:
    """The drivers' own errors: the change path runs its statements straight on the driver (store/statements.py)."""
    found: list[type[Exception]] = [sqlite3.OperationalError]
    try:
        import psycopg

        found.append(psycopg.OperationalError)
    except ImportError:  # PostgreSQL support not installed
        pass
    return tuple(found)


DRIVER_OPERATIONAL = _driver_operational_errors()


def store_fault(error: BaseException) -> Unavailable | None:
    """The :class:`Unavailable` to answer for ``error``, when it is a store fault."""
    if isinstance(error, sa.TimeoutError):
        return Unavailable(
            "the store has no free connection; try again shortly", code="store_unavailable", retry_after=5
        )
    if not isinstance(error, (sa.OperationalError, sa.InternalError, *DRIVER_OPERATIONAL)) and not (
        isinstance(error, sa.DBAPIError) and error.connection_invalidated
    ):
        return None
    text = str(getattr(error, "orig", error)).lower()
    sqlstate = getattr(getattr(error, "orig", None), "sqlstate", None)
    if sqlstate in FULL_SQLSTATES or any(sign in text for sign in FULL_SIGNS):
        return Unavailable(
            "the store is full (no disk space); nothing was changed. Try again later", code="store_full", retry_after=60
        )
    return Unavailable(
        "the store cannot be written now; nothing was changed. Try again shortly",
        code="store_unavailable",
        retry_after=10,
    )
