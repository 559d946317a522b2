"""Backup and restore of a SQLite store; PostgreSQL is backed up with its own tools (README "Backup and restore").

The store runs in WAL mode, so copying ``presence.db`` alone can miss committed changes still in
``presence.db-wal`` (or copy a half-written page). ``backup`` uses SQLite's online backup API
(``sqlite3.Connection.backup``, https://docs.python.org/3/library/sqlite3.html#sqlite3.Connection.backup) in one
step: it reads one consistent snapshot of the database (a WAL read transaction) while ``serve`` goes on
writing, into a new single-file database, checked with ``PRAGMA quick_check`` before it is moved into place;
the command runs at a lower CPU priority so the copy gives way to ``serve`` (BENCHMARKS.md "Backup under load").

``restore`` refuses while a ``serve`` runs on the target (it takes the same lock file ``serve`` holds,
``<db>.serve.lock``, and keeps it while it writes, so none can start meanwhile), checks the backup's
integrity first, then copies it over the target through the backup API (which also resets the target's WAL).

Neither file holds the pepper or the secret key: PIN and password hashes verify only with the same
``CONNECTOR_PEPPER`` (or ``instance/pepper``), and saved secrets unseal only with the same
``CONNECTOR_SECRET_KEY`` (or ``instance/secret_key``): they must travel with the backup, kept apart from it.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from connector.errors import ConnectorError

PG_HINT = (
    "the store is PostgreSQL: back it up with its own tools, e.g. "
    '`pg_dump --format=custom --file=presence.dump "$DB"` and restore with '
    '`pg_restore --clean --if-exists --no-owner --dbname="$DB" presence.dump`; the pepper '
    '(CONNECTOR_PEPPER) and the secret key (CONNECTOR_SECRET_KEY) must travel with it (README "Backup and restore")'
)
#: a table every Presence Connector store has: a file without it is not a backup of one
MARKER_TABLE = "agents"


@dataclass(frozen=True)
class Copied:
    path: str
    pages: int
    agents: int
    bytes: int


def _integrity(conn: sqlite3.Connection, what: str, pragma: str = "integrity_check") -> None:
    rows = conn.execute(f"PRAGMA {pragma}").fetchall()
    if [r[0] for r in rows] != ["ok"]:
        raise ConnectorError(f"{what} fails SQLite's integrity check: {'; '.join(str(r[0]) for r in rows[:5])}")


def _agents(conn: sqlite3.Connection, what: str) -> int:
    found = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (MARKER_TABLE,)).fetchone()
    if found is None:
        raise ConnectorError(f"{what} is not a Presence Connector store (it has no '{MARKER_TABLE}' table)")
    return int(conn.execute(f"SELECT count(*) FROM {MARKER_TABLE}").fetchone()[0])


def backup(source: str | None, destination: str) -> Copied:
    """Copy the SQLite store at ``source`` to ``destination`` (a new file, made readable by its owner only)."""
    if source is None:
        raise ConnectorError(PG_HINT, field="CONNECTOR_DATABASE_URL")
    if not Path(source).is_file():
        raise ConnectorError(f"there is no store at {source}", field="CONNECTOR_DATABASE_URL")
    dest = Path(destination).expanduser().resolve()
    if dest == Path(source).resolve():
        raise ConnectorError("the backup cannot be the store itself", field="FILE")
    if dest.exists():
        raise ConnectorError(f"{dest} exists already: name a new file (a backup never overwrites one)", field="FILE")
    dest.parent.mkdir(parents=True, exist_ok=True)
    partial = dest.with_name(f".{dest.name}.partial-{os.getpid()}")
    os.close(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600))
    try:
        src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30)
        out = sqlite3.connect(partial)
        try:
            src.execute("PRAGMA busy_timeout = 30000")
            # pages=-1: the whole database in one step, from one read snapshot; writers go on meanwhile (WAL)
            src.backup(out, pages=-1)
            out.execute("PRAGMA journal_mode = DELETE")  # one self-contained file
            # quick_check: the b-trees and records of a page-exact copy, in linear time (restore runs the full check)
            _integrity(out, "the copy", "quick_check")
            agents = _agents(out, "the copy")
            pages = int(out.execute("PRAGMA page_count").fetchone()[0])
        finally:
            out.close()
            src.close()
        os.replace(partial, dest)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return Copied(str(dest), pages, agents, dest.stat().st_size)


def restore(backup_file: str, target: str | None) -> Copied:
    """Replace the SQLite store at ``target`` with ``backup_file``; refused while ``serve`` runs on it."""
    if target is None:
        raise ConnectorError(PG_HINT, field="CONNECTOR_DATABASE_URL")
    source = Path(backup_file).expanduser()
    if not source.is_file():
        raise ConnectorError(f"there is no backup file {source}", field="FILE")
    check = sqlite3.connect(f"file:{source.resolve()}?mode=ro", uri=True)
    try:
        _integrity(check, str(source))
        agents = _agents(check, str(source))
    except sqlite3.DatabaseError as exc:
        raise ConnectorError(f"{source} is not a SQLite database ({exc})", field="FILE") from None
    finally:
        check.close()
    Path(target).parent.mkdir(parents=True, exist_ok=True)
    with _serve_lock(target):
        if not Path(target).exists():
            os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        src = sqlite3.connect(f"file:{source.resolve()}?mode=ro", uri=True)
        dst = sqlite3.connect(target, timeout=30)
        try:
            src.backup(dst, pages=-1)
            _integrity(dst, "the restored store")
            dst.execute("PRAGMA journal_mode = WAL")
            pages = int(dst.execute("PRAGMA page_count").fetchone()[0])
        finally:
            dst.close()
            src.close()
    return Copied(str(target), pages, agents, Path(target).stat().st_size)


def lower_priority() -> None:
    """A backup gives way to ``serve`` on a busy machine: this process's CPU priority drops (nice 10)."""
    try:
        os.nice(10)
    except OSError:
        pass


@contextmanager
def _serve_lock(db: str) -> Iterator[None]:
    """Hold ``<db>.serve.lock`` (the lock ``serve`` holds for its life); ConnectorError when a ``serve`` has it."""
    path = f"{db}.serve.lock"
    with open(path, "a+") as file:
        try:
            fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            file.seek(0)
            pid = file.read().strip() or "?"
            raise ConnectorError(
                f"`presence-connector serve` (process {pid}) is running on {db}: stop it first "
                "(e.g. `systemctl stop presence-connector`, or Ctrl-C), then restore, then start it again",
                field="CONNECTOR_DATABASE_URL",
            ) from None
        try:
            yield
        finally:
            fcntl.flock(file, fcntl.LOCK_UN)
