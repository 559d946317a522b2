"""Group commit on SQLite (Store.write_shared): changes made together share a transaction, and one
change that fails takes nothing of the others with it."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import IntegrityError

from connector.store import Store
from tests.helpers.polling import wait_until


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


def _wait_until_queued(store: Store, count: int) -> None:
    """Until ``count`` pieces wait behind the batch being written (fails after 5 s)."""
    wait_until(lambda: len(store._queue) >= count, 5, f"{count} writers queued")


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
    _wait_until_queued(store, len(threads))
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


def test_many_writers_at_once_all_return_with_their_own_result(store):
    """Sixteen threads writing 40 rows each, one commit group after another: every caller returns (no
    one is left asleep when leadership passes on) with its own piece's result, and every row is stored."""
    results: dict[str, object] = {}

    def writer(n: int):
        for i in range(40):
            body = f"t{n:02d}-{i:02d}"
            results[body] = store.write_shared(
                lambda conn, b=body: conn.execute(text("INSERT INTO notes (body) VALUES (:b)"), {"b": b}) and b
            )

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not any(t.is_alive() for t in threads)
    assert len(results) == 640 and all(k == v for k, v in results.items())
    assert len(_bodies(store)) == 640


def test_an_interrupted_batch_fails_every_caller_in_it_and_the_next_writes_go_on(store):
    """A piece interrupted (KeyboardInterrupt) while others share its transaction: nothing of that batch
    is stored, its caller sees the interrupt, the others an error rather than a hang; later writes work."""
    gate, release = threading.Event(), threading.Event()
    results: dict[str, object] = {}

    def slow(conn):
        gate.set()
        release.wait(5)
        return "slow"

    def run(key, work):
        try:
            results[key] = store.write_shared(work)
        except BaseException as exc:  # noqa: BLE001 - the test looks at which error reached whom
            results[key] = exc

    def interrupted(conn):
        conn.execute(text("INSERT INTO notes (body) VALUES ('lost')"))
        raise KeyboardInterrupt

    first = threading.Thread(target=run, args=("slow", slow))
    first.start()
    assert gate.wait(5)
    others = [
        threading.Thread(
            target=run,
            args=(
                f"w{i}",
                lambda conn, i=i: (
                    conn.execute(text("INSERT INTO notes (body) VALUES (:b)"), {"b": f"w{i}"}) and f"w{i}"
                ),
            ),
        )
        for i in range(3)
    ]
    others.insert(1, threading.Thread(target=run, args=("boom", interrupted)))
    for t in others:
        t.start()
    _wait_until_queued(store, len(others))
    release.set()
    for t in [first, *others]:
        t.join(5)
    assert not any(t.is_alive() for t in [first, *others])
    assert results["slow"] == "slow"
    assert isinstance(results["boom"], KeyboardInterrupt)
    assert all(isinstance(results[f"w{i}"], BaseException) for i in range(3))
    assert _bodies(store) == []
    assert store.write_shared(lambda conn: conn.execute(text("INSERT INTO notes (body) VALUES ('after')")) and 1) == 1
    assert _bodies(store) == ["after"]
