"""Connections to the store: SQLite (WAL) by default, any SQLAlchemy URL otherwise."""
from __future__ import annotations

import threading
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Iterator

from sqlalchemy import create_engine, event, select, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker

from .models import Base


class Store:
    """Two ways in: ``write()`` serialises writers, ``read()`` never blocks behind them.

    On SQLite a write transaction starts with ``BEGIN IMMEDIATE`` so two writers can never
    interleave; reads use WAL snapshots. On other databases writers lock the agent's session
    row (``SELECT ... FOR UPDATE``) in the service layer.
    """

    def __init__(self, url: str):
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        if self.is_sqlite:
            _ensure_sqlite_dir(url)
            self.writer = _sqlite_engine(url, immediate=True)
            self.reader = _sqlite_engine(url, immediate=False)
        else:
            self.writer = self.reader = create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)
        # SQLite has one writer at a time; queueing writers on a lock in the process avoids
        # SQLite's sleep-and-retry busy handler, which turns contention into long tail latency
        self._write_lock = threading.Lock() if self.is_sqlite else nullcontext()
        self._write = sessionmaker(self.writer, expire_on_commit=False)
        self._read = sessionmaker(self.reader, expire_on_commit=False)
        #: per-process caches, each checked against a store generation (see store/statements.py)
        self.caches: dict[str, dict] = {}

    @property
    def backend(self) -> str:
        return self.writer.dialect.name

    def create_all(self) -> None:
        Base.metadata.create_all(self.writer)
        # indexes added since a store was created (create_all only makes missing tables)
        with self.writer.connect() as conn:
            for table in Base.metadata.sorted_tables:
                for index in table.indexes:
                    index.create(conn, checkfirst=True)
            conn.commit()

    @contextmanager
    def write(self) -> Iterator[Session]:
        with self._write_lock, self._write() as session:
            with session.begin():
                yield session

    @contextmanager
    def write_connection(self) -> Iterator[Connection]:
        """A write transaction on a plain connection (Core statements), for the change path.

        The process-wide write lock (SQLite) is held from BEGIN to COMMIT and nothing else.
        """
        with self._write_lock, self.writer.begin() as conn:
            yield conn

    @contextmanager
    def read(self) -> Iterator[Session]:
        with self._read() as session:
            with session.begin():
                yield session

    def ping(self) -> bool:
        with self.reader.connect() as conn:
            conn.execute(text("SELECT 1"))
            return True

    def dispose(self) -> None:
        self.writer.dispose()
        if self.reader is not self.writer:
            self.reader.dispose()


def _ensure_sqlite_dir(url: str) -> None:
    path = url.split("///", 1)[-1] if "///" in url else ""
    if path and path != ":memory:":
        Path(path).expanduser().parent.mkdir(parents=True, exist_ok=True)


def _sqlite_engine(url: str, immediate: bool) -> Engine:
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        # let SQLAlchemy, not the driver, say when a transaction begins (the documented recipe)
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        # FULL: a commit survives a power cut, not only a crash of the process
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    begin = "BEGIN IMMEDIATE" if immediate else "BEGIN"

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        # straight to the driver: the full statement path costs more than the BEGIN itself
        conn.connection.driver_connection.execute(begin)

    return engine


__all__ = ["Store", "select"]
