"""The inbound changes' audit rows on PostgreSQL: the audit tests collected again with the store on a throwaway
PostgreSQL server (written in the change's transaction, in psycopg's pipeline mode there)."""

from __future__ import annotations

import pytest

from tests.test_inbound_audit import (  # noqa: F401
    floor,
    test_an_applied_and_a_refused_teams_change_are_rows_with_the_rule_the_remote_and_the_states,
    test_an_omni_channel_change_refused_by_its_rule_is_a_row,
)


@pytest.fixture
def database_url(postgres):
    return postgres.new_database()
