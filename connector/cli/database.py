"""``presence-connector db``: the store's schema version, without starting the app (docs/migrations.md)."""

from __future__ import annotations

import os
from pathlib import Path

import click
from dotenv import load_dotenv

from connector import settings as settings_mod
from connector.store import Store, schema


@click.group("db")
def db() -> None:
    """The store's schema version (Alembic revisions in connector/store/migrations/)."""


def _store_only() -> Store:
    """The configured store, opened without starting the app (which would upgrade it first)."""
    load_dotenv(Path.cwd() / ".env", override=False)
    env = dict(os.environ)
    instance = Path(os.path.abspath(settings_mod.read("CONNECTOR_INSTANCE_PATH", env)))
    url = settings_mod.read("CONNECTOR_DATABASE_URL", env) or f"sqlite:///{instance / 'presence.db'}"
    return Store(url)


@db.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    """Upgrade the store to REVISION (default: the newest); once across instances (a lock)."""
    store = _store_only()
    try:
        applied = schema.upgrade(store, revision)
        click.echo(f"store ({store.backend}) at revision {schema.current(store)}", nl=False)
        click.echo(f"; applied: {', '.join(applied)}" if applied else "; nothing to do")
    finally:
        store.dispose()


@db.command("current")
def db_current() -> None:
    """The store's revision, and whether it is the newest this version knows."""
    store = _store_only()
    try:
        found = schema.current(store)
    finally:
        store.dispose()
    head = schema.head()
    if found is None:
        click.echo(f"no revision (an empty store, or one made before revisions); `db upgrade` brings it to {head}")
    else:
        click.echo(f"{found}{' (head)' if found == head else f' (the newest is {head}: run `db upgrade`)'}")


@db.command("history")
def db_history() -> None:
    """Every revision this version knows, newest first."""
    for revision, down, message in schema.history():
        click.echo(f"{down or '<base>'} -> {revision}: {message.splitlines()[0] if message else ''}")


def register(main: click.Group) -> None:
    """Add ``db`` to ``presence-connector``."""
    main.add_command(db)


__all__ = ["register"]
