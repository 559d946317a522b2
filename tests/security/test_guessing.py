"""PIN and password guessing is slowed down, never locks the owner out, alerts the admins, is recorded
in bounded form, and costs the same for unknown names."""

from __future__ import annotations

import threading
import time

from werkzeug import security as wz

from connector.auth import accounts
from connector.auth.limits import SignInGuard, SignInPolicy
from connector.parts import get_parts
from connector.store.models import SignInFailure
from tests.helpers.api import Api
from tests.helpers.signin import PASSWORD, guess_pins, sign_in, try_pin


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


def test_wrong_pins_from_elsewhere_never_lock_the_owner_out(make_app, clock):
    app = make_app()
    api = Api(app, app.test_client())
    api.agent("edred", pin="1234", extension="201")
    guess_pins(app.test_client(), "edred", 20, clock)  # the old policy locked the account after 10
    assert try_pin(app.test_client(), "edred", "1234", REMOTE_ADDR="10.0.0.20").status_code == 302
    res = api.call("POST", "/api/v1/pbx/login", api.token("integration"), {"extension": "201", "pin": "1234"})
    assert res.status_code == 200  # the desk phone's short code is not blocked by web tries


def test_many_failures_in_a_day_alert_the_admins_once_and_lock_nothing(make_app, clock, caplog):
    app = make_app(CONNECTOR_SIGNIN_DAILY_ALERT="5")
    Api(app, app.test_client()).agent("edred", pin="1234")
    accounts.add_user(get_parts(app).store, "ada", PASSWORD, "admin", clock())
    with caplog.at_level("WARNING", logger="connector.auth.limits"):
        guess_pins(app.test_client(), "edred", 8, clock)
    assert sum("possible attack" in r.getMessage() for r in caplog.records) == 1
    admin = app.test_client()
    sign_in(admin, "ada")
    seen = admin.get("/admin/api/accounts").get_json()["sign_ins"]
    assert [(a["account"], a["failures"]) for a in seen["alerts"]] == [("agent:edred", 8)]
    assert seen["locked"] == []
    assert "0000" not in str(seen) and "1234" not in str(seen)
    assert app.test_client().get("/healthz").get_json()["sign_in_alerts"] == 1
    assert try_pin(app.test_client(), "edred", "1234", REMOTE_ADDR="10.0.0.20").status_code == 302
    clock.advance(days=1, seconds=1)  # a new day: the alert is over
    assert app.test_client().get("/healthz").get_json()["sign_in_alerts"] == 0


def test_only_an_admin_locks_an_account_and_unlocks_it(make_app, clock):
    app = make_app()
    client, api = app.test_client(), Api(app, app.test_client())
    api.agent("edred", pin="1234", extension="201")
    accounts.add_user(get_parts(app).store, "ada", PASSWORD, "admin", clock())
    admin = app.test_client()
    token = sign_in(admin, "ada")
    res = admin.post("/admin/api/lockouts/lock", json={"account": "agent:edred"}, headers={"X-CSRF-Token": token})
    assert res.status_code == 200
    locked = try_pin(client, "edred", "1234")  # the right PIN does not open a locked account
    assert locked.status_code == 429 and "admin has locked" in locked.get_data(as_text=True)
    pbx = api.call("POST", "/api/v1/pbx/login", api.token("integration"), {"extension": "201", "pin": "1234"})
    assert pbx.status_code == 429 and pbx.get_json()["error"]["code"] == "account_locked"
    clock.advance(days=2)
    assert try_pin(client, "edred", "1234").status_code == 429  # until an admin unlocks it
    token = sign_in(admin, "ada")  # the admin's own session has ended meanwhile
    seen = admin.get("/admin/api/accounts").get_json()["sign_ins"]
    assert [row["account"] for row in seen["locked"]] == ["agent:edred"]
    bad = admin.post("/admin/api/lockouts/lock", json={"account": "edred"}, headers={"X-CSRF-Token": token})
    assert bad.status_code == 422 and bad.get_json()["error"]["field"] == "account"
    res = admin.post("/admin/api/lockouts/unlock", json={"account": "agent:edred"}, headers={"X-CSRF-Token": token})
    assert res.status_code == 200
    assert try_pin(client, "edred", "1234").status_code == 302


def test_throttle_state_is_cleared_when_it_expires(make_app, clock):
    app = make_app()
    client = app.test_client()
    Api(app, app.test_client()).agent("edred", pin="1234")
    guess_pins(client, "edred", 12, clock)
    clock.advance(3601)  # an hour after the last failure the count starts again
    assert try_pin(client, "edred", "0000", REMOTE_ADDR="10.0.0.9").status_code == 401
    assert try_pin(client, "edred", "1234", REMOTE_ADDR="10.0.0.9").status_code == 302


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
    first = make_app()
    Api(first, first.test_client()).agent("edred", pin="1234")
    for _ in range(4):
        try_pin(first.test_client(), "edred", "0000")
    second = make_app()
    assert try_pin(second.test_client(), "edred", "1234").status_code == 429


def test_pbx_pin_guessing_is_slowed_with_429_and_the_right_pin_works_after_the_wait(make_app, clock):
    app = make_app()
    api = Api(app, app.test_client())
    api.agent("edred", pin="1234", extension="201")
    pbx = api.token("integration")
    for pin in ("0000", "1111", "2222", "3333"):
        res = api.call("POST", "/api/v1/pbx/login", pbx, {"extension": "201", "pin": pin})
        assert res.status_code == 403 and res.get_json()["error"]["code"] == "wrong_pin"
    res = api.call("POST", "/api/v1/pbx/login", pbx, {"extension": "201", "pin": "1234"})
    assert res.status_code == 429 and res.get_json()["error"]["code"] == "too_many_attempts"
    assert get_parts(app).service.presence("edred")["logged_in"] is False
    clock.advance(int(res.headers["Retry-After"]))
    assert api.call("POST", "/api/v1/pbx/login", pbx, {"extension": "201", "pin": "1234"}).status_code == 200


def test_refused_tries_are_counted_not_stored_or_logged_one_each(make_app, clock, caplog):
    app = make_app()
    Api(app, app.test_client()).agent("edred", pin="1234")
    accounts.add_user(get_parts(app).store, "ada", PASSWORD, "admin", clock())
    client = app.test_client()
    for _ in range(4):
        try_pin(client, "edred", "0000", REMOTE_ADDR="10.0.0.9")
    caplog.clear()
    with caplog.at_level("WARNING", logger="connector.auth.limits"):
        for _ in range(40):
            assert try_pin(client, "edred", "0000", REMOTE_ADDR="10.0.0.9").status_code == 429
    assert len(caplog.records) == 1
    with get_parts(app).store.read() as s:
        assert s.query(SignInFailure).count() == 4  # the wrong PINs only
    admin = app.test_client()
    sign_in(admin, "ada")
    throttled = admin.get("/admin/api/accounts").get_json()["sign_ins"]["throttled"]
    assert {t["key"]: t["refused"] for t in throttled} == {"pair:agent:edred@10.0.0.9": 40}


def test_the_failure_list_is_bounded(make_app, clock):
    app = make_app()
    guard = SignInGuard(get_parts(app).store, clock, SignInPolicy(free=1000, address_free=1000, keep_failures=50))
    for n in range(250):
        guard.attempt(f"agent:a{n}", f"10.0.{n // 200}.{n % 200}", lambda: None)
    with get_parts(app).store.read() as s:
        assert s.query(SignInFailure).count() <= 150
    assert len(guard.recent_failures()) == 100


def test_hash_checks_run_at_most_the_configured_number_at_once(make_app, clock, monkeypatch):
    app = make_app(
        CONNECTOR_HASH_CONCURRENCY="2",
        CONNECTOR_SIGNIN_ADDRESS_FREE_TRIES="1000",
        CONNECTOR_SIGNIN_FREE_TRIES="1000",
    )
    Api(app, app.test_client()).agent("edred", pin="1234")
    running, peak, lock = [0], [0], threading.Lock()
    real = wz.check_password_hash

    def counting(*args):
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        try:
            time.sleep(0.02)  # long enough for the eight threads to overlap
            return real(*args)
        finally:
            with lock:
                running[0] -= 1

    monkeypatch.setattr("connector.auth.hashing.check_password_hash", counting)
    threads = [threading.Thread(target=lambda: try_pin(app.test_client(), "edred", "0000")) for _ in range(8)]
    for t in threads:
        t.start()
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
