"""Store faults answer 503 with a code and Retry-After, and /healthz tells."""

from __future__ import annotations

from contextlib import contextmanager

from sqlalchemy import event, text


@contextmanager
def sqlite_fault(store, pragma: str):
    """Every new writer connection gets ``pragma`` (a real SQLite refusal), until the block ends."""

    def on_connect(conn, _record):
        conn.execute(pragma)

    event.listen(store.writer, "connect", on_connect)
    store.writer.dispose()
    try:
        yield
    finally:
        event.remove(store.writer, "connect", on_connect)
        store.writer.dispose()


def _changes(api, headers, n=6):
    states = ["dnd", "ready"]
    return [api.call("PUT", "/api/v1/agents/edred/presence", headers, {"state": states[i % 2]}) for i in range(n)]


def test_a_read_only_store_answers_503_store_unavailable_and_healthz_tells(api, parts, client):
    api.agent("edred")
    token = api.token("agent", "edred")
    assert api.call("POST", "/api/v1/agents/edred/login", token, {}).status_code == 200
    with sqlite_fault(parts.store, "PRAGMA query_only = ON"):
        answers = _changes(api, token)
        assert {r.status_code for r in answers} == {503}
        body = answers[0].get_json()["error"]
        assert body["code"] == "store_unavailable" and "internal" not in body["message"]
        assert int(answers[0].headers["Retry-After"]) > 0
        health = client.get("/healthz")
        assert health.status_code == 503 and health.get_json()["store"]["error"] == "store_unavailable"
        assert client.get("/healthz/ready").status_code == 503
        assert client.get("/healthz/live").status_code == 200  # alive: restarting would not help
    assert all(r.status_code == 200 for r in _changes(api, token, 2))  # recovers by itself
    assert client.get("/healthz").status_code == 200


def test_a_full_store_answers_503_store_full(api, parts, client):
    api.agent("edred")
    token = api.token("agent", "edred")
    assert api.call("POST", "/api/v1/agents/edred/login", token, {}).status_code == 200
    with parts.store.writer.connect() as conn:
        pages = conn.execute(text("PRAGMA page_count")).scalar()
    with sqlite_fault(parts.store, f"PRAGMA max_page_count = {pages}"):
        answers = []
        for i in range(400):  # until the intervals need one more page than the store may have
            answers.append(api.call("PUT", "/api/v1/agents/edred/presence", token, {"state": ["dnd", "ready"][i % 2]}))
            if answers[-1].status_code != 200:
                break
        full = answers[-1]
        assert full.status_code == 503, len(answers)
        assert full.get_json()["error"]["code"] == "store_full" and int(full.headers["Retry-After"]) > 0
    assert _changes(api, token, 1)[0].status_code == 200
