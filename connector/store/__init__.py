"""The durable store: the local truth for sessions, intervals, totals and events."""

from connector.store import models
from connector.store.database import Store

__all__ = ["Store", "models"]
