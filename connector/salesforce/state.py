"""The sync's own state in the store: last success, backoff, API usage, last error.

One row (id 1), shared by every process on the same store, so ``presence-connector sync status``
sees what the server's flush job did, and a restart keeps the backoff and the API-limit pause.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, Text
from sqlalchemy.orm import Mapped, Session, mapped_column

from ..store.models import Base, UTCDateTime


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


def sync_state(s: Session, for_update: bool = False) -> SalesforceSyncState:
    """The one state row, created on first use (inside a write transaction when ``for_update``)."""
    row = s.get(SalesforceSyncState, 1)
    if row is None:
        row = SalesforceSyncState(id=1, failures=0, calls_made=0, records_written=0)
        if for_update:
            s.add(row)
    return row
