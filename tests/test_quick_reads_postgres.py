"""PostgreSQL's quick reads run on the pooled DBAPI connection itself (Store.quick_read): the metrics, which read
the store through them at every scrape, collected again here on a throwaway PostgreSQL server."""

from __future__ import annotations

import psycopg
import pytest

from connector.store import Store, statements
from tests.test_metrics import (  # noqa: F401
    test_lease_holders_sign_in_trouble_and_salesforce_usage_come_from_the_store,
    test_outbox_depth_age_and_deliveries_per_adapter,
)

pytestmark = pytest.mark.postgres


@pytest.fixture
def database_url(postgres):
    return postgres.new_database()


def test_a_quick_read_connection_the_server_dropped_fails_its_read_and_is_replaced(database_url):
    store = Store(database_url)
    store.create_all()
    try:
        assert statements.current_generation(store, "tokens") == 0  # the pool now holds one connection
        with psycopg.connect(database_url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as c:
            c.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        with pytest.raises(psycopg.OperationalError):
            statements.current_generation(store, "tokens")
        assert statements.current_generation(store, "tokens") == 0  # a new connection, not the dropped one
    finally:
        store.dispose()
