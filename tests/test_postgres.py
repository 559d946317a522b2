"""The same rules on PostgreSQL: the store works on any SQLAlchemy URL, and row locks keep writers apart.

The tests below are the SQLite tests of other modules, collected again here with the store fixture
pointing at a throwaway PostgreSQL server (so they carry the ``postgres`` marker, tests/conftest.py); the
fixtures they use are in tests/conftest.py.
"""

from __future__ import annotations

import pytest

from tests.test_api import (  # noqa: F401
    test_agent_logs_in_changes_state_and_reads_it_back,
    test_call_events_drive_on_a_call_and_wrap_up_and_repeat_safely,
    test_time_tracking_counts_the_open_interval_and_exports_csv,
    test_wrap_up_ends_on_time_across_a_restart,
)
from tests.test_calls_next_state import (
    test_a_lost_call_end_is_closed_by_the_sweep_with_its_cause,  # noqa: F401
)
from tests.test_concurrency import test_parallel_changes_from_two_processes_keep_intervals_contiguous  # noqa: F401
from tests.test_config_changes_retime import test_inactivity_switched_on_logs_out_idle_agents_when_it_is_due  # noqa: F401
from tests.test_extensions_unique import (  # noqa: F401
    test_adding_a_second_active_agent_with_the_same_extension_is_refused,
    test_an_older_store_gets_the_new_columns_and_the_index,
    test_the_store_refuses_a_clash_itself,
)
from tests.test_leases import (  # noqa: F401
    test_a_rate_budget_is_shared_by_the_instances,
    test_a_wrap_up_swept_by_two_instances_at_once_ends_once,
    test_three_instances_flush_once_per_interval_between_them,
)
from tests.test_reports_scale import (  # noqa: F401
    test_an_older_store_trades_the_narrow_range_indexes_for_the_covering_ones,
    test_state_mix_counts_an_interval_that_began_the_day_before,
    test_state_mix_of_the_night_dst_ends_has_25_hours_and_fills_every_hour_an_interval_covers,
)
from tests.test_salesforce_pending import test_pending_totals_are_the_report_seconds_that_salesforce_does_not_hold  # noqa: F401,E501
from tests.test_sessions import (  # noqa: F401
    test_scheduled_log_off_once_skips_callers_until_the_call_ends_and_survives_restart,
    test_seed_example_softphone_and_paired_device_are_two_acquired_events,
)
from tests.test_sweep import test_a_session_whose_rules_fail_does_not_stop_the_others  # noqa: F401


@pytest.fixture
def database_url(postgres):
    return postgres.new_database()


def test_healthz_names_the_postgresql_backend(client):
    assert client.get("/healthz").json["store"]["backend"] == "postgresql"
