"""The store's schema version: Alembic revisions (connector/store/migrations/), run once per upgrade.

At start-up (``Store.create_all``) and with ``presence-connector db upgrade`` the store is brought to the
newest revision ("head"). Instances starting together run the upgrade once: the first takes the migration
lock — ``pg_advisory_lock`` on PostgreSQL, an exclusive ``flock`` on ``<db>.migrate.lock`` next to a SQLite
file — and the others wait for it, then find the store at head and do nothing. A store already at head
is recognised from its version table (``alembic_version``) without taking the lock.

A store made before Alembic (the add-only steps of earlier versions: tables but no version table) is
upgraded by the baseline revision itself: it creates only what is missing, adds the columns and indexes
added since, drops the retired indexes, and is then recorded as the baseline like any other store.
"""

from __future__ import annotations

import fcntl
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError

from connector.store.models import Base

log = logging.getLogger(__name__)
# Alembic says which database it found at every start (INFO); this module's own line says what was applied
logging.getLogger("alembic.runtime.migration").setLevel(logging.WARNING)

SCRIPTS = Path(__file__).resolve().parent / "migrations"
#: the advisory lock key every instance takes on PostgreSQL while it migrates (any fixed 64-bit number)
ADVISORY_LOCK_KEY = 0x5052_4553_454E_4345  # "PRESENCE"
#: indexes the baseline may fail to add to an older store whose rows break them (two active agents on one
#: extension): the service still refuses new clashes; once the admin fixes the rows the next start adds it
RETRIED_INDEXES = (("agents", "uq_agents_active_extension"),)

_script: ScriptDirectory | None = None


class Store(Protocol):
    """What this module uses of :class:`connector.store.database.Store` (which calls it at start-up)."""

    is_sqlite: bool
    writer: Engine
    reader: Engine

    @property
    def backend(self) -> str: ...

    def sqlite_path(self) -> str | None: ...


def config(connection: Connection | None = None) -> Config:
    """Alembic's configuration for the connector's scripts (no alembic.ini: the package carries them)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(SCRIPTS))
    cfg.set_main_option("path_separator", "os")
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def scripts() -> ScriptDirectory:
    global _script
    if _script is None:
        _script = ScriptDirectory.from_config(config())
    return _script


def head() -> str:
    found = scripts().get_current_head()
    assert found is not None  # the package carries the baseline at least
    return found


def current(store: Store) -> str | None:
    """The store's revision, or None (an empty store, or one made before Alembic)."""
    with store.reader.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(store: Store, target: str = "head") -> list[str]:
    """Bring the store to ``target`` (once across instances); returns the revisions applied."""
    if target == "head" and _at(store, head()):
        _retry_refused_indexes(store)
        return []
    with migration_lock(store):
        before = current(store)
        with store.writer.begin() as conn:
            if target == "head" and not inspect(conn).get_table_names():
                _create_at_head(conn)
            else:
                command.upgrade(config(conn), target)
        after = current(store)
    applied = _between(before, after)
    if applied:
        log.info("store upgraded to revision %s (%s)", after, ", ".join(applied))
    _retry_refused_indexes(store)
    return applied


def upgrade_through_revisions(store: Store) -> list[str]:
    """Bring an empty store to head by running every revision in turn, as a store made before each revision
    is brought forward (the tests compare the result with :func:`upgrade`'s shortcut and the models)."""
    with migration_lock(store), store.writer.begin() as conn:
        command.upgrade(config(conn), "head")
    return _between(None, current(store))


def _create_at_head(conn: Connection) -> None:
    """An empty store: the models' tables and indexes in one ``create_all``, recorded at head.

    Alembic's recipe for a new database ("create_all, then stamp head"): running each revision in turn ends in
    the same schema (the tests check both against the models) but takes about three times as long, which a
    new store pays at every first start and the test suite at every test. The stamp comes first because
    loading the revisions' environment registers the tables declared outside connector/store/models.py.
    """
    command.stamp(config(conn), "head")
    Base.metadata.create_all(conn)


def stamp(store: Store, revision: str) -> None:
    """Record ``revision`` as the store's without running anything (after a restore made by hand)."""
    with migration_lock(store), store.writer.begin() as conn:
        command.stamp(config(conn), revision)


def history() -> list[tuple[str, str | None, str]]:
    """Every revision, newest first: (revision, the one it revises, its message)."""
    return [
        (s.revision, s.down_revision if isinstance(s.down_revision, str) else None, s.doc or "")
        for s in scripts().walk_revisions()
    ]


def differences(store: Store) -> list:
    """What Alembic's autogenerate finds between the store and the models ([] when they agree)."""
    with store.writer.connect() as conn:
        return compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)


@contextmanager
def migration_lock(store: Store) -> Iterator[None]:
    """Held by one instance at a time while it migrates: the others wait here."""
    if store.is_sqlite:
        path = store.sqlite_path()
        if path is None:  # in memory: one process has it
            yield
            return
        with open(f"{path}.migrate.lock", "a+") as lock_file:
            fcntl.flock(lock_file, fcntl.LOCK_EX)  # released when the file closes (or the process dies)
            try:
                yield
            finally:
                fcntl.flock(lock_file, fcntl.LOCK_UN)
        return
    if store.backend != "postgresql":
        yield  # another server: one instance is expected to upgrade it (`presence-connector db upgrade`)
        return
    with store.writer.connect() as conn:
        conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": ADVISORY_LOCK_KEY})
        conn.commit()
        try:
            yield
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": ADVISORY_LOCK_KEY})
            conn.commit()


def _at(store: Store, revision: str) -> bool:
    try:
        return current(store) == revision
    except DBAPIError:
        return False


def _between(before: str | None, after: str | None) -> list[str]:
    if after is None or before == after:
        return []
    applied = []
    for script in scripts().iterate_revisions(after, before or "base"):
        if script.revision != before:
            applied.append(script.revision)
    return list(reversed(applied))


def _retry_refused_indexes(store: Store) -> None:
    for table_name, index_name in RETRIED_INDEXES:
        inspector = inspect(store.writer)
        if not inspector.has_table(table_name) or index_name in {i["name"] for i in inspector.get_indexes(table_name)}:
            continue
        index = next(i for i in Base.metadata.tables[table_name].indexes if i.name == index_name)
        try:
            with store.writer.begin() as conn:
                index.create(conn, checkfirst=True)
        except DBAPIError as exc:
            log.warning(
                "could not add index %s to %s (%s); fix the rows it names and restart",
                index_name,
                table_name,
                type(exc.orig).__name__,
            )
