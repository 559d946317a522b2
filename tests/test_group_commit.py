"""Group commit on SQLite (Store.write_shared): changes made together share a transaction, and one
change that fails takes nothing of the others with it."""
from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import IntegrityError

from connector.store import Store


@pytest.fixture()
def store(tmp_path):
    s = Store(f"sqlite:///{tmp_path}/group.db")
    s.create_all()
    with s.writer.begin() as conn:
        conn.execute(text("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL UNIQUE)"))
    yield s
    s.dispose()


def _bodies(store: Store) -> list[str]:
    with store.reader.connect() as conn:
        return sorted(r[0] for r in conn.execute(text("SELECT body FROM notes")))


def test_writers_queued_together_share_one_commit_and_a_failing_one_is_rolled_back_alone(store):
    """Twenty writers queue behind a slow one; when it commits they all go in one more commit, except a
    duplicate that fails in its second statement: its caller gets the error and its first row is gone."""
    gate, release = threading.Event(), threading.Event()
    results: dict[str, object] = {}
    commits = []
    event.listen(store.writer, "commit", lambda conn: commits.append(1))

    def slow(conn):
        conn.execute(text("INSERT INTO notes (body) VALUES ('first')"))
        gate.set()
        release.wait(5)  # holds the write lock while the others queue up
        return "first"

    def writer(key: str, body: str):
        def work(conn):
            conn.execute(text("INSERT INTO notes (body) VALUES (:b)"), {"b": key + "-part"})
            conn.execute(text("INSERT INTO notes (body) VALUES (:b)"), {"b": body})
            return body
        try:
            results[key] = store.write_shared(work)
        except Exception as exc:  # noqa: BLE001 - the test looks at which error reached whom
            results[key] = exc

    first = threading.Thread(target=lambda: results.__setitem__("slow", store.write_shared(slow)))
    first.start()
    assert gate.wait(5)
    keys = [f"w{i:02d}" for i in range(20)]
    threads = [threading.Thread(target=writer, args=(k, k)) for k in keys]
    threads.append(threading.Thread(target=writer, args=("dup", "first")))  # collides with the slow one's row
    for t in threads:
        t.start()
    deadline = time.monotonic() + 5
    while len(store._queue) < len(threads) and time.monotonic() < deadline:
        time.sleep(0.01)
    release.set()
    for t in [first, *threads]:
        t.join(5)

    assert results["slow"] == "first"
    assert isinstance(results["dup"], IntegrityError)
    stored = _bodies(store)
    assert "dup-part" not in stored and stored.count("first") == 1
    assert all(results[k] == k and k in stored and f"{k}-part" in stored for k in keys)
    assert len(commits) == 2  # the slow writer's, then one for all twenty-one queued behind it


def test_work_that_fails_alone_leaves_nothing(store):
    def work(conn):
        conn.execute(text("INSERT INTO notes (body) VALUES ('lonely')"))
        raise ValueError("changed my mind")

    with pytest.raises(ValueError, match="changed my mind"):
        store.write_shared(work)
    assert _bodies(store) == []
