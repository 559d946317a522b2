"""Sign-in throttles, alerts, locks and unlocks in the audit trail: the system's rows summarise repeated
failures (never a row per wrong PIN), and an admin's unlock says what it lifted."""

from __future__ import annotations

from connector.audit import trail
from connector.store.models import SignInFailure
from tests.helpers.api import Api
from tests.helpers.signin import guess_pins, signed_in_caller, try_pin


def rows(parts, action: str) -> list[dict]:
    return trail.every(parts.store, trail.Filters(action=action))


def test_repeated_wrong_pins_are_one_throttle_row_by_the_system_not_a_row_per_try(client, people, clock):
    guess_pins(client, "edred", 12, clock, "203.0.113.9")

    [row] = rows(people, "account.throttle")
    assert (row["actor"], row["actor_role"], row["address"]) == ("system", "system", "203.0.113.9")
    assert row["target"] == "agent:edred"
    assert row["after"] == {"failures": 4, "address": "203.0.113.9", "first_wait_seconds": 1}
    assert "4 failed sign-ins from 203.0.113.9" in row["detail"]
    with people.store.read() as s:
        assert s.query(SignInFailure).count() == 12  # the tries themselves stay in sign_in_failures
    assert [e["action"] for e in trail.every(people.store, trail.Filters())] == ["account.throttle"]


def test_a_guesser_at_many_addresses_makes_one_throttle_row_per_account_per_window(client, people, clock):
    for n in range(5):
        guess_pins(client, "edred", 4, clock, f"198.51.100.{n}")
    assert len(rows(people, "account.throttle")) == 1
    clock.advance(3601)  # a new window: the next slowing down is a row again
    guess_pins(client, "edred", 4, clock, "198.51.100.77")
    assert [r["after"]["address"] for r in rows(people, "account.throttle")] == ["198.51.100.0", "198.51.100.77"]


def test_the_daily_alert_is_one_row_with_the_days_failures_and_addresses(make_app, clock):
    app = make_app(CONNECTOR_SIGNIN_DAILY_ALERT="6")
    api = Api(app, app.test_client())
    api.agent("edred", pin="1234")
    guess_pins(app.test_client(), "edred", 3, clock, "10.0.0.1")
    guess_pins(app.test_client(), "edred", 5, clock, "10.0.0.2")

    [row] = rows(api.parts, "account.alert")
    assert row["actor"] == "system" and row["target"] == "agent:edred"
    assert row["after"]["failures"] == 6 and row["after"]["addresses"] == 2
    assert "the account stays open" in row["detail"]


def test_an_admins_unlock_records_what_it_lifted(people, app, client, clock):
    guess_pins(client, "edred", 4, clock, "203.0.113.9")
    ada = signed_in_caller(app, "ada")
    assert ada("POST", "/admin/api/lockouts/lock", {"account": "agent:edred"}).status_code == 200
    assert try_pin(client, "edred", "1234", REMOTE_ADDR="203.0.113.9").status_code == 429  # refused: counted

    assert ada("POST", "/admin/api/lockouts/unlock", {"account": "agent:edred"}).status_code == 200

    [lock] = rows(people, "account.lock")
    [unlock] = rows(people, "account.unlock")
    assert (lock["actor"], unlock["actor"], unlock["target"]) == ("ada", "ada", "agent:edred")
    assert unlock["before"] == {"locked": True, "failures": 4, "refused": 1, "throttled": 1}
    assert try_pin(client, "edred", "1234", REMOTE_ADDR="203.0.113.9").status_code == 302
