"""The durable store: the local truth for sessions, intervals, totals and events."""
from connector.store.database import Store
from connector.store import models

__all__ = ["Store", "models"]
