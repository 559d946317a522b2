"""What read models and the Salesforce sync need from the connector, and nothing more."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from connector.changes.configs import ConfigRegistry
from connector.clock import Clock
from connector.store import Store


@dataclass(frozen=True)
class ReadContext:
    """The store, the active configuration, the clock and the time zone days are counted in.

    ``settle_due`` applies timed rules that fell due while no scheduler ran (a CLI export), so a
    report counts them exactly.
    """

    store: Store
    configs: ConfigRegistry
    clock: Clock
    tz: ZoneInfo
    settle_due: Callable[[], object] = lambda: None

    def now(self) -> datetime:
        return self.clock()

    def today(self):
        return self.clock().astimezone(self.tz).date()
