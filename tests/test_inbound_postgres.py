"""The inbound rules on PostgreSQL (issue 26): the Teams read-back tests collected again with the store on a
throwaway PostgreSQL server (the ``postgres`` marker follows from the fixture, tests/conftest.py)."""

from __future__ import annotations

import pytest

from tests.test_inbound_omni_pbx import test_an_omni_change_over_a_supervisors_state_is_refused_when_the_rule_says_so  # noqa: F401,E501
from tests.test_teams_inbound import (  # noqa: F401
    test_a_ready_agent_in_a_teams_meeting_becomes_meeting_and_returns_to_ready_when_it_ends,
    test_two_instances_never_apply_the_same_change_twice,
)


@pytest.fixture
def database_url(postgres):
    return postgres.new_database()
