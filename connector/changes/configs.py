"""The active presence configuration lives in the store, versioned with who changed it and when."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

from sqlalchemy import Connection, func, select
from sqlalchemy.orm import Session

from connector.audit import trail
from connector.presence.config import MappingChecks, load_config, parse_config
from connector.presence.model import PresenceConfig
from connector.store import Store, statements
from connector.store.models import ConfigVersion

#: called inside the transaction that applies a configuration: (session, old, new, now) -> after commit
OnChange = Callable[[Session, PresenceConfig, PresenceConfig, datetime], Callable[[], None] | None]


class ConfigRegistry:
    """Reads the newest version once per change; every process sees an admin's change at once.

    Every change (CLI ``config apply``, the admin page's editor, ``ensure`` at start-up) goes through
    :meth:`apply`, which lets the service re-time the open sessions in the same transaction.
    """

    def __init__(self, store: Store, clock: Callable[[], datetime], mapping_checks: MappingChecks | None = None):
        self.store = store
        self.clock = clock
        #: each installed adapter's check of its per-state mappings, applied to every configuration read here
        self.mapping_checks: MappingChecks = dict(mapping_checks or {})
        self._cached: tuple[int, PresenceConfig] | None = None
        self._lock = threading.Lock()
        self._on_change: OnChange | None = None

    def when_applied(self, on_change: OnChange) -> None:
        """Run ``on_change`` in the transaction of every later :meth:`apply` (the service re-times sessions)."""
        self._on_change = on_change

    def active(self, s: Session | Connection | None = None) -> PresenceConfig:
        """The active configuration; inside a transaction pass its session, else it opens its own read."""
        if s is None:
            return self.at_version(statements.active_config_version(self.store))
        return self.at_version(s.scalar(select(func.max(ConfigVersion.id))), s)

    def at_version(self, version_id: int | None, s: Session | Connection | None = None) -> PresenceConfig:
        """The configuration of ``version_id`` (the newest one, read by the caller): parsed once, then cached.

        Read on ``s`` when given, else on a read of its own (a stored version never changes)."""
        if version_id is None:
            raise RuntimeError("no presence configuration in the store; run 'presence-connector init-db'")
        cached = self._cached
        if cached and cached[0] == version_id:
            return cached[1]
        if s is None:
            with self.store.reader.connect() as own:
                return self.at_version(version_id, own)
        row = s.execute(
            select(ConfigVersion.yaml, ConfigVersion.origin, ConfigVersion.name, ConfigVersion.created_at).where(
                ConfigVersion.id == version_id
            )
        ).one()
        config = replace(
            parse_config(row.yaml, source=row.origin or row.name, stored=True, mapping_checks=self.mapping_checks),
            effective_from=row.created_at,
        )
        with self._lock:
            self._cached = (version_id, config)
        return config

    def apply(self, config: PresenceConfig, created_by: str, origin: str, audit: trail.Entry | None = None) -> int:
        """Make ``config`` the active one; returns the new version number.

        In the same transaction the open sessions are re-timed (``when_applied``): a timed rule switched
        on, off or changed holds for agents already logged in; and the audit row is written (``after`` gets
        the new version).
        """
        after_commit = None
        with self.store.write() as s:
            now = self.clock()
            previous = self.active(s) if s.scalar(select(func.max(ConfigVersion.id))) is not None else None
            row = ConfigVersion(
                name=config.name,
                yaml=config.to_yaml(),
                fingerprint=config.fingerprint,
                origin=origin,
                created_by=created_by,
                created_at=now,
            )
            s.add(row)
            s.flush()
            if previous is not None and self._on_change is not None:
                after_commit = self._on_change(s, previous, replace(config, effective_from=now), now)
            version = row.id
            if audit is not None:
                trail.write(s, audit.but(after={**(audit.after or {}), "version": version}))
        if after_commit is not None:
            after_commit()
        return version

    def ensure(self, ref: str, explicit: bool) -> None:
        """At start-up: load the configured preset or file unless the store already has it.

        An empty store gets ``ref``. A store that has a configuration keeps it (admins may have
        edited it), unless ``CONNECTOR_PRESENCE_CONFIG`` names one whose content differs from what
        that setting last applied.
        """
        origin = f"env:{ref}"
        with self.store.read() as s:
            newest = s.scalar(select(func.max(ConfigVersion.id)))
            last_env = s.execute(
                select(ConfigVersion).where(ConfigVersion.origin == origin).order_by(ConfigVersion.id.desc()).limit(1)
            ).scalar_one_or_none()
        if newest is not None and not explicit:
            return
        config = load_config(ref, mapping_checks=self.mapping_checks)
        if newest is not None and last_env is not None and last_env.fingerprint == config.fingerprint:
            return
        self.apply(config, created_by="environment", origin=origin)

    def history(self, limit: int = 50) -> list[dict]:
        with self.store.read() as s:
            rows = s.execute(select(ConfigVersion).order_by(ConfigVersion.id.desc()).limit(limit)).scalars().all()
            return [
                {
                    "version": r.id,
                    "name": r.name,
                    "created_by": r.created_by,
                    "origin": r.origin,
                    "created_at": r.created_at.isoformat(),
                }
                for r in rows
            ]
