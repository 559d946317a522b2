"""The durable store: the local truth for sessions, intervals, totals and events."""
from .database import Store
from . import models

__all__ = ["Store", "models"]
