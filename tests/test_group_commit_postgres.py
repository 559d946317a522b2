"""Group commit on PostgreSQL (Store.write_shared with ``pipelined``, the change path): changes made together
share one transaction and one commit, each in its own savepoint; one that fails is rolled back alone, and
every caller returns only once its piece is durable."""

from __future__ import annotations

import json
import random
import threading

import psycopg
import pytest
from sqlalchemy import event, select, text

from connector.auth import accounts
from connector.clock import utc_now
from connector.parts import get_parts
from connector.store import Store
from connector.store.models import AgentSessionRow, EventRow, StateInterval
from tests.helpers.polling import wait_until

pytestmark = pytest.mark.postgres


@pytest.fixture
def database_url(postgres):
    return postgres.new_database()


@pytest.fixture()
def store(database_url):
    s = Store(database_url, commit_lanes=1)  # one lane: every writer queues behind the one batch
    s.create_all()
    with s.writer.begin() as conn:
        conn.execute(text("CREATE TABLE notes (id SERIAL PRIMARY KEY, body TEXT NOT NULL UNIQUE)"))
    yield s
    s.dispose()


def _bodies(store: Store) -> list[str]:
    with store.reader.connect() as conn:
        return sorted(r[0] for r in conn.execute(text("SELECT body FROM notes")))


def _insert(conn, body: str) -> None:
    # a pipelined piece runs its statements on the driver's cursor (as statements.Prepared does)
    conn.connection.driver_connection.cursor().execute("INSERT INTO notes (body) VALUES (%s)", (body,))


def test_changes_queued_together_share_one_commit_and_a_failing_one_is_rolled_back_alone(store):
    """Twenty writers queue behind a slow one; they all go in one more commit, except a duplicate that fails
    in its second statement: its caller gets the error, its first row is gone, the others are stored, and
    each caller finds its rows committed (seen from another connection) the moment it returns."""
    gate, release = threading.Event(), threading.Event()
    results: dict[str, object] = {}
    seen_on_return: dict[str, bool] = {}
    commits = []
    event.listen(store.writer, "commit", lambda conn: commits.append(1))

    def slow(conn):
        _insert(conn, "first")
        gate.set()
        release.wait(5)  # the batch's transaction stays open while the others queue up
        return "first"

    def writer(key: str, body: str):
        def work(conn):
            _insert(conn, key + "-part")
            _insert(conn, body)
            return body

        try:
            results[key] = store.write_shared(work, pipelined=True)
            with psycopg.connect(store.url.replace("+psycopg", "")) as other:
                seen_on_return[key] = (
                    other.execute("SELECT 1 FROM notes WHERE body = %s", (body,)).fetchone() is not None
                )
        except Exception as exc:  # noqa: BLE001 - the test looks at which error reached whom
            results[key] = exc

    first = threading.Thread(target=lambda: results.__setitem__("slow", store.write_shared(slow, pipelined=True)))
    first.start()
    assert gate.wait(5)
    keys = [f"w{i:02d}" for i in range(20)]
    threads = [threading.Thread(target=writer, args=(k, k)) for k in keys]
    threads.insert(7, threading.Thread(target=writer, args=("dup", "first")))  # collides with the slow one's row
    for t in threads:
        t.start()
    wait_until(lambda: len(store._queue) >= len(threads), 5, f"{len(threads)} writers queued")
    release.set()
    for t in [first, *threads]:
        t.join(10)

    assert results["slow"] == "first"
    assert isinstance(results["dup"], psycopg.errors.UniqueViolation)
    stored = _bodies(store)
    assert "dup-part" not in stored and stored.count("first") == 1
    assert all(results[k] == k and k in stored and f"{k}-part" in stored for k in keys)
    assert all(seen_on_return[k] for k in keys)
    assert len(commits) == 2  # the slow writer's, then one for all twenty-one queued behind it


def test_a_failing_change_alone_leaves_nothing_and_the_next_goes_on(store):
    def work(conn):
        _insert(conn, "lonely")
        raise ValueError("changed my mind")

    with pytest.raises(ValueError, match="changed my mind"):
        store.write_shared(work, pipelined=True)
    assert _bodies(store) == []
    assert store.write_shared(lambda conn: _insert(conn, "after") or 1, pipelined=True) == 1
    assert _bodies(store) == ["after"]


def test_concurrent_changes_of_two_instances_are_all_durable_in_order_and_share_commits(make_app):
    """Sixteen threads over two instances (two processes' stores on one database), each changing its own
    agents' states 25 times: every change is stored, each agent's intervals follow one another without gap
    or overlap in the order its changes were made, its live events come in that order too, and the
    changes shared commits (fewer commits than changes)."""
    first, second = make_app(CLOCK=utc_now), make_app(CLOCK=utc_now)
    services = [get_parts(first).service, get_parts(second).service]
    store = get_parts(first).store
    agents = [f"a{i:02d}" for i in range(32)]
    for agent in agents:
        accounts.add_agent(store, {"id": agent}, utc_now())
        services[0].login(agent, "Paired Device", f"desk-{agent}")
    commits = []
    for app in (first, second):
        event.listen(get_parts(app).store.writer, "commit", lambda conn: commits.append(1))
    made: dict[str, list[str]] = {agent: [] for agent in agents}
    errors: list[Exception] = []

    def worker(n: int) -> None:
        rng = random.Random(n)
        mine = agents[n * 2 : n * 2 + 2]
        for _ in range(25):
            agent = rng.choice(mine)
            state = rng.choice([s for s in ["ready", "dnd", "break", "lunch", "meeting"] if s not in made[agent][-1:]])
            try:
                rng.choice(services).set_state(agent, state, source="api")
                made[agent].append(state)
            except Exception as exc:  # noqa: BLE001 - any error (a deadlock, a lost savepoint) is a bug here
                errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert sum(len(states) for states in made.values()) == 400
    assert len(commits) < 400

    with store.read() as s:
        for agent in agents:
            intervals = (
                s.execute(select(StateInterval).where(StateInterval.agent_id == agent).order_by(StateInterval.id))
                .scalars()
                .all()
            )
            assert [iv.state_id for iv in intervals][-len(made[agent]) :] == made[agent]
            for before, after in zip(intervals, intervals[1:]):
                assert before.ended_at == after.started_at  # no gap, no overlap
            assert intervals[-1].ended_at is None
            assert s.get(AgentSessionRow, agent).state_id == made[agent][-1]
            presence_events = [
                (e.data if isinstance(e.data, dict) else json.loads(e.data))["state"]["id"]
                for e in s.execute(
                    select(EventRow)
                    .where(EventRow.agent_id == agent, EventRow.kind == "presence")
                    .order_by(EventRow.id)
                ).scalars()
            ]
            assert presence_events[-len(made[agent]) :] == made[agent]
