"""The sync's own state in the store: last success, backoff, API usage, last error.

One row (id 1), shared by every process on the same store, so ``presence-connector sync status``
sees what the server's flush job did, and a restart keeps the backoff and the API-limit pause.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Integer, Text, func, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapped, Session, mapped_column

from connector.store.models import Base, UTCDateTime


class SalesforceSyncState(Base):
    __tablename__ = "salesforce_sync_state"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: backoff after failures; ``sync now`` may go earlier
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: REQUEST_LIMIT_EXCEEDED: no call at all before this
    paused_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    last_error_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    api_used: Mapped[int | None] = mapped_column(Integer, nullable=True)
    api_limit: Mapped[int | None] = mapped_column(Integer, nullable=True)
    api_usage_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    calls_made: Mapped[int] = mapped_column(Integer, default=0)
    records_written: Mapped[int] = mapped_column(Integer, default=0)
    #: SF_RETENTION_DAYS: when the retention last ran, the records it deleted in all, why its last run stopped
    retention_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    retention_deleted: Mapped[int | None] = mapped_column(Integer, nullable=True)
    retention_note: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: when the last flush without an error read its pending totals: the changes since are the next one's
    last_read_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


def sync_state(s: Session, for_update: bool = False) -> SalesforceSyncState:
    """The one state row, created on first use (inside a write transaction when ``for_update``)."""
    row = s.get(SalesforceSyncState, 1)
    if row is None:
        row = SalesforceSyncState(id=1, failures=0, calls_made=0, records_written=0)
        if for_update:
            s.add(row)
    return row


def note_api_usage(conn: Connection, used: int, limit: int, at: datetime) -> None:
    """Keep the org's API usage (from ``Sforce-Limit-Info``) on the state row, with plain statements on ``conn``."""
    st = SalesforceSyncState.__table__
    if conn.execute(update(st).where(st.c.id == 1).values(api_used=used, api_limit=limit, api_usage_at=at)).rowcount:
        return
    conn.execute(
        insert(st).values(
            id=1, failures=0, calls_made=0, records_written=0, api_used=used, api_limit=limit, api_usage_at=at
        )
    )


def record_attempt(
    conn: Connection,
    now: datetime,
    calls: int,
    written: int,
    error: str | None = None,
    pause: timedelta | None = None,
    backoff: tuple[float, float] | None = None,
    read_at: datetime | None = None,
) -> None:
    """One flush's outcome on the state row, with plain statements on ``conn``: the counts and the last
    success, and when a flush without an error read its totals (``read_at``); after a failure (``error``) the error and either the API-limit ``pause`` or the next attempt
    after a delay that doubles with each consecutive failure (``backoff``: the first delay, the cap); a
    success clears both."""
    st = SalesforceSyncState.__table__
    row = conn.execute(select(st.c.failures).where(st.c.id == 1).with_for_update()).first()
    if row is None:
        conn.execute(insert(st).values(id=1, failures=0, calls_made=0, records_written=0))
    failures = (row.failures or 0) if row is not None else 0
    values: dict = {
        "last_attempt_at": now,
        "calls_made": func.coalesce(st.c.calls_made, 0) + calls,
        "records_written": func.coalesce(st.c.records_written, 0) + written,
    }
    if written:
        values["last_success_at"] = now
    if error is None:
        values.update(failures=0, next_attempt_at=None, paused_until=None)
        if read_at is not None:
            values["last_read_at"] = read_at
    else:
        values.update(failures=failures + 1, last_error=error, last_error_at=now)
        if pause is not None:
            values["paused_until"] = now + pause
        else:
            assert backoff is not None  # a failure that is not the API limit comes with its back-off (flush)
            first, cap = backoff
            values["next_attempt_at"] = now + timedelta(seconds=min(cap, first * 2**failures))
    conn.execute(update(st).where(st.c.id == 1).values(**values))
