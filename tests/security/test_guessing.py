"""PIN and password guessing is throttled, locked out, recorded, and costs the same
for unknown names."""

from __future__ import annotations

import threading
import time

from werkzeug import security as wz

from connector.auth import accounts, hashing
from connector.parts import get_parts
from tests.helpers.api import Api
from tests.helpers.polling import wait_until
from tests.helpers.signin import PASSWORD, sign_in, try_password, try_pin


def test_wrong_pins_back_off_with_429_and_retry_after(client, people, clock):
    for _ in range(4):  # three free tries, the fourth fails and blocks for a second
        assert try_pin(client, "edred", "0000").status_code == 401
    blocked = try_pin(client, "edred", "1234")
    assert blocked.status_code == 429 and blocked.headers["Retry-After"] == "1"
    clock.advance(1)
    assert try_pin(client, "edred", "0000").status_code == 401
    again = try_pin(client, "edred", "0000")
    assert again.status_code == 429 and again.headers["Retry-After"] == "2"  # doubling backoff
    clock.advance(2)
    assert try_pin(client, "edred", "1234").status_code == 302


def test_an_account_locks_after_n_failures_until_an_admin_unlocks_it(make_app, clock):
    app = make_app(CONNECTOR_SIGNIN_FREE_TRIES="100", CONNECTOR_LOCKOUT_FAILURES="5", CONNECTOR_LOCKOUT_SECONDS="0")
    client, api = app.test_client(), Api(app, app.test_client())
    api.agent("edred", pin="1234")
    accounts.add_user(get_parts(app).store, "ada", PASSWORD, "admin", clock())
    for _ in range(5):
        assert try_pin(client, "edred", "9999").status_code == 401
    locked = try_pin(client, "edred", "1234")  # the right PIN does not open a locked account
    assert locked.status_code == 429 and "locked" in locked.get_data(as_text=True)
    clock.advance(days=2)
    assert try_pin(client, "edred", "1234").status_code == 429  # 0 = until an admin unlocks it

    admin = app.test_client()
    token = sign_in(admin, "ada")
    seen = admin.get("/admin/api/accounts").get_json()["sign_ins"]
    assert [row["account"] for row in seen["locked"]] == ["agent:edred"]
    assert {row["outcome"] for row in seen["failures"]} == {"wrong", "locked"}
    assert "9999" not in str(seen) and "1234" not in str(seen)
    page = admin.get("/admin").get_data(as_text=True)
    assert "Failed sign-ins" in page
    res = admin.post("/admin/api/lockouts/unlock", json={"account": "agent:edred"}, headers={"X-CSRF-Token": token})
    assert res.status_code == 200
    assert try_pin(client, "edred", "1234").status_code == 302


def test_a_lockout_expires_after_the_configured_time(make_app, clock):
    app = make_app(CONNECTOR_SIGNIN_FREE_TRIES="100", CONNECTOR_LOCKOUT_FAILURES="3", CONNECTOR_LOCKOUT_SECONDS="600")
    client = app.test_client()
    accounts.add_user(get_parts(app).store, "sue", PASSWORD, "supervisor", clock())
    for _ in range(3):
        assert try_password(client, "sue", "nope-nope").status_code == 401
    locked = try_password(client, "sue", PASSWORD)
    assert locked.status_code == 429 and int(locked.headers["Retry-After"]) == 600
    clock.advance(601)
    assert try_password(client, "sue", PASSWORD).status_code == 302


def test_one_address_guessing_many_accounts_is_throttled_but_others_are_not(make_app, clock):
    app = make_app(CONNECTOR_SIGNIN_ADDRESS_FREE_TRIES="3")
    client, api = app.test_client(), Api(app, app.test_client())
    for name in ("a1", "a2", "a3", "a4", "a5"):
        api.agent(name, pin="1234")
    for name in ("a1", "a2", "a3", "a4"):  # one wrong PIN per account: no account limit is reached
        assert try_pin(client, name, "0000", REMOTE_ADDR="10.0.0.9").status_code == 401
    assert try_pin(client, "a5", "1234", REMOTE_ADDR="10.0.0.9").status_code == 429
    assert try_pin(app.test_client(), "a5", "1234", REMOTE_ADDR="10.0.0.10").status_code == 302


def test_limits_hold_across_instances_sharing_the_store(make_app, clock):
    first = make_app(CONNECTOR_SIGNIN_FREE_TRIES="100", CONNECTOR_LOCKOUT_FAILURES="3")
    Api(first, first.test_client()).agent("edred", pin="1234")
    for _ in range(3):
        assert try_pin(first.test_client(), "edred", "0000").status_code == 401
    second = make_app(CONNECTOR_SIGNIN_FREE_TRIES="100", CONNECTOR_LOCKOUT_FAILURES="3")
    assert try_pin(second.test_client(), "edred", "1234").status_code == 429


def test_pbx_login_pin_guessing_locks_the_agent_with_429(make_app, clock):
    app = make_app(CONNECTOR_SIGNIN_FREE_TRIES="100", CONNECTOR_LOCKOUT_FAILURES="4")
    api = Api(app, app.test_client())
    api.agent("edred", pin="1234", extension="201")
    pbx = api.token("integration")
    for pin in ("0000", "1111", "2222", "3333"):
        res = api.call("POST", "/api/v1/pbx/login", pbx, {"extension": "201", "pin": pin})
        assert res.status_code == 403 and res.get_json()["error"]["code"] == "wrong_pin"
    res = api.call("POST", "/api/v1/pbx/login", pbx, {"extension": "201", "pin": "1234"})
    assert res.status_code == 429 and res.get_json()["error"]["code"] == "account_locked"
    assert int(res.headers["Retry-After"]) > 0
    assert get_parts(app).service.presence("edred")["logged_in"] is False


def test_hash_checks_run_at_most_the_configured_number_at_once(make_app, clock, monkeypatch):
    app = make_app(
        CONNECTOR_HASH_CONCURRENCY="2",
        CONNECTOR_SIGNIN_ADDRESS_FREE_TRIES="1000",
        CONNECTOR_SIGNIN_FREE_TRIES="1000",
        CONNECTOR_LOCKOUT_FAILURES="1000",
    )
    Api(app, app.test_client()).agent("edred", pin="1234")
    running, waiting, peak, lock = [0], [0], [0], threading.Lock()
    all_in = threading.Event()
    real = wz.check_password_hash

    def counting(*args):
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        try:
            all_in.wait(10)  # hold the slot until every check is in: hashing, or waiting for a slot
            return real(*args)
        finally:
            with lock:
                running[0] -= 1

    class WatchedSlots:
        """The app's hash slots, counting the checks waiting for one."""

        def __init__(self, slots):
            self.slots = slots

        def acquire(self, *args, **kwargs):
            with lock:
                waiting[0] += 1
            try:
                return self.slots.acquire(*args, **kwargs)
            finally:
                with lock:
                    waiting[0] -= 1

        def release(self):
            self.slots.release()

    monkeypatch.setattr("connector.auth.hashing.check_password_hash", counting)
    monkeypatch.setattr("connector.auth.hashing._hash_slots", WatchedSlots(hashing._hash_slots))
    threads = [threading.Thread(target=lambda: try_pin(app.test_client(), "edred", "0000")) for _ in range(8)]
    for t in threads:
        t.start()
    try:
        wait_until(lambda: running[0] + waiting[0] == 8, 5, "the eight checks hashing or waiting for a slot")
    finally:
        all_in.set()
    for t in threads:
        t.join()
    assert peak[0] == 2


def _fastest_seconds(fn, n: int = 3) -> float:
    """The fastest of ``n`` runs: load on the machine only ever adds time."""
    times = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def test_unknown_names_cost_the_same_hash_check_as_wrong_secrets(make_app, clock):
    # the real cost, so the difference a remote attacker measures shows
    app = make_app(
        CONNECTOR_PASSWORD_HASH_COST="standard",
        CONNECTOR_SIGNIN_FREE_TRIES="1000",
        CONNECTOR_SIGNIN_ADDRESS_FREE_TRIES="1000",
        CONNECTOR_LOCKOUT_FAILURES="1000",
    )
    try:
        store = get_parts(app).store
        accounts.add_user(store, "sue", PASSWORD, "supervisor", clock())
        accounts.add_agent(store, {"id": "edred", "name": "Edred", "pin": "1234"}, clock())
        wrong = _fastest_seconds(lambda: accounts.authenticate_user(store, "sue", "wrong-password"))
        unknown = _fastest_seconds(lambda: accounts.authenticate_user(store, "nobody", "wrong-password"))
        assert unknown > wrong * 0.3, (wrong, unknown)
        wrong = _fastest_seconds(lambda: accounts.authenticate_agent_pin(store, "edred", "0000"))
        unknown = _fastest_seconds(lambda: accounts.authenticate_agent_pin(store, "ghost", "0000"))
        assert unknown > wrong * 0.3, (wrong, unknown)
    finally:
        from connector.auth import hashing as security

        security.use_hash_cost("test")
