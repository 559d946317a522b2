"""Connections to the store: SQLite (WAL) by default, any SQLAlchemy URL otherwise."""

from __future__ import annotations

import contextvars
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import create_engine, event, select, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker

from connector.changes import jsontext
from connector.store import schema

#: the JSON columns' text, as the change path's (connector/changes/jsontext.py)
_JSON = {"json_serializer": jsontext.dumps, "json_deserializer": jsontext.loads}

T = TypeVar("T")


#: PostgreSQL quick-read pool per instance: (size, overflow)
QUICK_POOL = (8, 4)


class Store:
    """Two ways in: ``write()`` serialises writers, ``read()`` never blocks behind them.

    On SQLite a write transaction starts with ``BEGIN IMMEDIATE`` so two writers can never
    interleave; reads use WAL snapshots. On other databases writers lock the agent's session
    row (``SELECT ... FOR UPDATE``) in the service layer.
    """

    def __init__(self, url: str, pepper: bytes | None = None, commit_lanes: int = 4):
        self.url = url
        #: the key mixed into PIN and password hashes; kept outside the database (connector/auth/hashing.py)
        self.pepper = pepper
        self.is_sqlite = url.startswith("sqlite")
        if self.is_sqlite:
            _ensure_sqlite_dir(url)
            self.writer = _sqlite_engine(url, immediate=True)
            self.reader = _sqlite_engine(url, immediate=False)
        else:
            self.writer = self.reader = create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20, **_JSON)
        #: PostgreSQL's quick reads: a small pool of autocommit connections, checked out without a liveness
        #: ping, so a read is one round trip (no ping, BEGIN or ROLLBACK) and the connections stay bounded
        #: (QUICK_POOL; a connection per thread would grow with the threads past max_connections)
        self._quick_engine = (
            None
            if self.is_sqlite
            else create_engine(
                url,
                isolation_level="AUTOCOMMIT",
                pool_pre_ping=False,
                pool_size=QUICK_POOL[0],
                max_overflow=QUICK_POOL[1],
                **_JSON,
            )
        )
        # SQLite has one writer at a time; queueing writers on a lock in the process avoids
        # SQLite's sleep-and-retry busy handler, which turns contention into long tail latency
        self._write_lock = threading.Lock() if self.is_sqlite else nullcontext()
        self._local = threading.local()  # quick_read's per-thread SQLite connection
        # (not for an in-memory database: it lives in its one connection)
        self._quick_local = self.is_sqlite and self.sqlite_path() is not None
        self._queued = threading.Lock()  # guards the lanes' queues of write_shared and who leads their batches
        #: write_shared's lanes, each a queue, a leader and a connection: one on SQLite (one writer at a time
        #: anyway); ``commit_lanes`` on PostgreSQL, so that one batch's round trips to the server do not hold
        #: up the next (CONNECTOR_DATABASE_COMMIT_LANES)
        self._lanes = [_Lane() for _ in range(1 if self.is_sqlite else max(1, commit_lanes))]
        self._write = sessionmaker(self.writer, expire_on_commit=False)
        self._read = sessionmaker(self.reader, expire_on_commit=False)
        #: per-process caches, each checked against a store generation (see store/statements.py)
        self.caches: dict[str, dict] = {}

    @property
    def backend(self) -> str:
        return self.writer.dialect.name

    def sqlite_path(self) -> str | None:
        """The SQLite database file, or None (another backend, or in memory)."""
        if not self.is_sqlite:
            return None
        path = self.url.split("///", 1)[-1] if "///" in self.url else ""
        return str(Path(path).expanduser().resolve()) if path and path != ":memory:" else None

    def create_all(self) -> list[str]:
        """Bring the store's schema to the newest revision (connector/store/schema.py); returns the revisions
        applied. Instances starting together migrate once: the others wait for the lock, then find it done."""
        return schema.upgrade(self)

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

    def write_shared(self, work: Callable[[Connection], T], pipelined: bool = False) -> T:
        """Run ``work(conn)`` in a write transaction it may share with other threads' (group commit).

        On SQLite every commit waits for the disk (``synchronous=FULL``), and one writer at a time
        holds the write lock. Here one thread at a time leads: it runs every piece of work queued by
        then, each inside a savepoint of one transaction, and commits once, while the pieces queued
        meanwhile wait for the next batch: under load one disk flush covers many changes. Each waiting
        caller sleeps on a lock of its own and is woken once: when its piece is durable, or to lead the
        next batch (a condition shared by all woke every waiter at every commit). A piece that raises is rolled back to its savepoint alone and
        its caller gets the exception; each caller returns after the commit that made its work
        durable (or with the commit's error). ``work`` must only use ``conn`` (no other store
        access) and must not keep anything across calls.

        On PostgreSQL the same holds for a ``pipelined`` piece (the change path): one transaction, one
        commit (one WAL flush) for the batch, each piece in its own savepoint, and each piece's
        statements sent in psycopg's pipeline mode, so a piece waits for the server only where it reads
        a result (``statements.Prepared.run``/``run_count``) and once at its end, not once per
        statement. A pipelined piece must run its statements on the DBAPI cursor
        (``statements.Prepared``), never read a result through ``conn.execute`` (which cannot see
        results before the pipeline syncs). Other pieces (leases, Salesforce bookkeeping) are each a
        transaction of their own on PostgreSQL, as before: they read through SQLAlchemy.
        """
        if not self.is_sqlite and not pipelined:
            with self.writer.begin() as conn:
                return work(conn)
        job = _SharedWork(work)
        with self._queued:
            # an idle lane if there is one (its batch starts at once), else the one with the fewest waiting
            lane = next((one for one in self._lanes if not one.leading), None)
            if lane is None:
                lane = min(self._lanes, key=lambda one: len(one.queue))
            lane.queue.append(job)
            lead = not lane.leading
            lane.leading = True
        if not lead:
            job.wake.acquire()  # released once: its batch has committed, or it leads the next batch
            if job.done:
                return job.result_or_raise()
        with self._queued:  # this thread writes everything queued so far, its own piece included
            batch, lane.queue = lane.queue, []
        try:
            with self._write_lock:  # other writers (ORM transactions) wait, as for any write
                self._run_shared(lane, batch)
        finally:
            for other in batch:
                if not other.done:  # interrupted before the batch ran: its callers learn it failed
                    other.error, other.done = RuntimeError("the shared write transaction was interrupted"), True
                if other is not job:
                    other.wake.release()
            with self._queued:
                if lane.queue:
                    lane.queue[0].wake.release()  # the first one queued meanwhile leads the next batch
                else:
                    lane.leading = False
        return job.result_or_raise()

    @property
    def _queue(self) -> list[_SharedWork]:
        """Every piece waiting for a batch, all lanes together (what the tests wait for)."""
        with self._queued:
            return [job for lane in self._lanes for job in lane.queue]

    def _run_shared(self, lane: _Lane, batch: list[_SharedWork]) -> None:
        # one connection per lane serves its shared transactions: they run one at a time, under the write
        # lock (SQLite) or under the lane's leader (PostgreSQL: one batch at a time per lane)
        conn = lane.conn
        if conn is None or conn.closed or conn.invalidated:
            conn = lane.conn = self.writer.connect()
        try:
            with conn.begin():
                driver = conn.connection.driver_connection
                assert driver is not None  # None only once the connection is invalidated or closed
                pipeline = getattr(driver, "pipeline", None) if not self.is_sqlite else None
                for job in batch:
                    if len(batch) == 1:
                        with pipeline() if pipeline else nullcontext():
                            job.result = job.context.run(job.work, conn)  # an error rolls the transaction back (below)
                        continue
                    if pipeline is None:
                        driver.execute("SAVEPOINT shared_work")
                        try:
                            job.result = job.context.run(job.work, conn)
                        except Exception as exc:
                            driver.execute("ROLLBACK TO shared_work")
                            job.error = exc
                        driver.execute("RELEASE shared_work")
                        continue
                    try:
                        # the savepoint, the piece's statements and the release go out together; leaving
                        # the block waits for the server's answers (an error of any of them raises here)
                        with pipeline():
                            driver.execute("SAVEPOINT shared_work")
                            job.result = job.context.run(job.work, conn)
                            driver.execute("RELEASE shared_work")
                    except Exception as exc:
                        job.result, job.error = None, exc
                        driver.execute("ROLLBACK TO shared_work")
                        driver.execute("RELEASE shared_work")
        except BaseException as exc:  # the commit (or the only piece) failed: nothing of the batch is stored
            for job in batch:
                job.result, job.error = None, job.error or exc
            lane.conn = None
            conn.close()  # a fresh connection for the next batch, whatever state this one is in
            if not isinstance(exc, Exception):
                raise  # (an interrupt: every caller of the batch was told it failed)
        finally:
            for job in batch:
                job.done = True

    @contextmanager
    def quick_read(self) -> Iterator[Connection | DriverConnection]:
        """For one-statement reads on the hot path (``statements.Prepared``, not ``conn.execute``).

        On SQLite each thread keeps a reader connection of its own outside the pool, in autocommit
        mode: one statement is one consistent snapshot, with no pool checkout, BEGIN or ROLLBACK around
        it (an in-memory database gets a pooled connection: it lives in its one connection). On
        PostgreSQL a connection of the small autocommit pool: one round trip per read instead of four (the
        pool's liveness ping, BEGIN, the statement, the ROLLBACK on return), with the number of server
        connections bounded; one the server dropped (a restart) fails its read and the pool replaces it.
        """
        if self._quick_engine is not None:
            # the pooled DBAPI connection itself: a SQLAlchemy Connection around it (its construction, events and
            # return) cost more instance CPU than the one-row read (bench/pg_profile.py)
            fairy = self._quick_engine.raw_connection()
            driver = fairy.driver_connection
            try:
                yield DriverConnection(self._quick_engine.dialect, driver, fairy)
            finally:
                if _closed(driver) or getattr(driver, "broken", False):
                    fairy.invalidate()  # the server dropped it (a restart): the pool opens a new one
                else:
                    fairy.close()  # back to the pool
            return
        if not self._quick_local:
            with self.reader.connect() as conn:
                yield conn
            return
        mine = getattr(self._local, "reader", None)
        if mine is not None and (getattr(mine.driver_connection, "broken", False) or _closed(mine.driver_connection)):
            mine = None
        if mine is None:
            fairy = self.reader.raw_connection()  # connected (and its PRAGMAs set) by the engine's events
            driver = fairy.driver_connection
            fairy.detach()  # this thread's from now on; closed when the thread ends
            mine = self._local.reader = DriverConnection(self.reader.dialect, driver, fairy)
        yield mine

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
        with self._write_lock:
            for lane in self._lanes:
                if lane.conn is not None:
                    lane.conn.close()
                    lane.conn = None
        self.writer.dispose()
        if self._quick_engine is not None:
            self._quick_engine.dispose()
        if self.reader is not self.writer:
            self.reader.dispose()


def _closed(driver) -> bool:
    closed = getattr(driver, "closed", False)
    return bool(closed) if not callable(closed) else False


class DriverConnection:
    """A DBAPI connection with what ``statements.Prepared`` reaches for: ``dialect`` and
    ``connection.driver_connection`` (as on SQLAlchemy's ``Connection``)."""

    def __init__(self, dialect, driver_connection, owner):
        self.dialect = dialect
        self.driver_connection = driver_connection
        self.connection = self
        self._owner = owner  # the detached pool record that closes the connection when dropped


class _Lane:
    """A queue of write_shared pieces, whether a thread leads its batches, and the connection they run on."""

    __slots__ = ("queue", "leading", "conn")

    def __init__(self) -> None:
        self.queue: list[_SharedWork] = []
        self.leading = False
        self.conn: Connection | None = None


class _SharedWork:
    """One caller's piece of a shared write transaction, and what came of it."""

    __slots__ = ("work", "context", "done", "result", "error", "wake")

    def __init__(self, work: Callable[[Connection], Any]):
        self.work = work
        #: the caller's context variables (its request id, connector/observe/logs.py): the piece may run in
        #: the leading thread, and what it writes and logs belongs to its own caller
        self.context = contextvars.copy_context()
        #: held until its caller may go on: released once, when the piece is done or its caller leads
        self.wake = threading.Lock()
        self.wake.acquire()
        self.done = False
        self.result: Any = None
        self.error: BaseException | None = None

    def result_or_raise(self) -> Any:
        if self.error is not None:
            raise self.error
        return self.result


def _ensure_sqlite_dir(url: str) -> None:
    """Create the SQLite file's folder, and the file itself readable by its owner only (0600; SQLite
    gives its -wal and -shm files the same mode)."""
    path = url.split("///", 1)[-1].split("?", 1)[0] if "///" in url else ""
    if path and path != ":memory:" and not path.startswith("file:"):
        file = Path(path).expanduser()
        file.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.close(os.open(file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        except FileExistsError:
            pass


def _sqlite_engine(url: str, immediate: bool) -> Engine:
    # one pooled connection per thread that may use it: 32 API threads, stream openers, poller, dispatcher,
    # jobs. QueuePool's default (5 + 10 overflow, the overflow closed on return) reconnected under load
    in_memory = url in ("sqlite://", "sqlite:///:memory:") or ":memory:" in url
    pool = {} if in_memory else {"pool_size": 64, "max_overflow": 64}
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **pool, **_JSON)

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
