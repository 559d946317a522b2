"""Days per agent and team time zone, and the retention, on PostgreSQL: the SQL that picks each agent's zone
(``models.zone_name_of``) and the pending query's per-zone local days run there too.

The SQLite tests of tests/test_agent_timezones.py and tests/test_salesforce_retention.py, collected again
with the store on a throwaway PostgreSQL server (as tests/test_postgres.py does).
"""

from __future__ import annotations

import pytest

from tests.helpers.fakes.salesforce import SF_ENV
from tests.test_agent_timezones import (  # noqa: F401
    test_a_teams_zone_ends_its_agents_days_and_an_agents_own_zone_wins,
    test_new_york_days_split_at_new_york_midnight_across_spring_forward,
    test_session_time_and_logon_events_follow_each_agents_days,
    test_the_open_interval_counts_on_the_agents_own_days_in_reports_and_salesforce,
)
from tests.test_salesforce_retention import test_it_runs_at_most_hourly_across_instances  # noqa: F401


@pytest.fixture
def database_url(postgres):
    return postgres.new_database()


@pytest.fixture
def sf_app(make_app):
    return make_app(**SF_ENV)
