"""A small SOQL reader for the Omni-Channel adapter: ``query(soql) -> records``.

The adapter only needs *a callable that runs SOQL*. By default that is the product's shared
Salesforce connection (SF_* settings, see connector.integrations.runtime); ``rest_query`` here is for an
explicit instance URL and access token (``OMNI_INSTANCE_URL``, ``OMNI_ACCESS_TOKEN``).
"""

from __future__ import annotations

from collections.abc import Callable

import requests

from adapters.base import AdapterError
from adapters.support.http_errors import check_reply, unreachable
from connector.version import USER_AGENT

Query = Callable[[str], list[dict]]


def rest_query(instance_url: str, access_token: str, api_version: str = "61.0", timeout: float = 10.0) -> Query:
    base = instance_url.rstrip("/")

    def query(soql: str) -> list[dict]:
        url, records = f"{base}/services/data/v{api_version}/query", []
        params: dict[str, str] | None = {"q": soql}
        while url:
            try:
                reply = requests.get(
                    url,
                    params=params,
                    timeout=timeout,
                    headers={"Authorization": f"Bearer {access_token}", "User-Agent": USER_AGENT},
                )
            except requests.RequestException as exc:
                raise unreachable("Salesforce", exc) from None
            check_reply("Salesforce", reply, "query")
            body = reply.json()
            records.extend(body.get("records", []))
            url = f"{base}{body['nextRecordsUrl']}" if not body.get("done", True) and body.get("nextRecordsUrl") else ""
            params = None
        return records

    return query


class StatusResolver:
    """ServicePresenceStatus DeveloperName ⇄ Id, read by SOQL, cached for ``cache_seconds``."""

    def __init__(self, query: Query | None, clock: Callable[[], float], cache_seconds: float = 600.0):
        self.query, self.clock, self.cache_seconds = query, clock, cache_seconds
        self._by_name: dict[str, str] = {}
        self._loaded_at: float | None = None

    def _refresh(self, force: bool = False) -> None:
        if self.query is None:
            raise AdapterError(
                "cannot resolve Omni-Channel statuses: no Salesforce connection (set "
                "OMNI_INSTANCE_URL and OMNI_ACCESS_TOKEN, or give the status id in the mapping)",
                retryable=False,
            )
        fresh = self._loaded_at is not None and self.clock() - self._loaded_at < self.cache_seconds
        if fresh and not force:
            return
        rows = self.query("SELECT Id, DeveloperName FROM ServicePresenceStatus")
        self._by_name = {r["DeveloperName"]: r["Id"] for r in rows}
        self._loaded_at = self.clock()

    def id_for(self, developer_name: str) -> str:
        self._refresh()
        if developer_name not in self._by_name:
            self._refresh(force=True)  # a status created since the last read
        if developer_name not in self._by_name:
            raise AdapterError(f"Salesforce has no ServicePresenceStatus '{developer_name}'", retryable=False)
        return self._by_name[developer_name]

    def name_for(self, status_id: str) -> str | None:
        self._refresh()
        for name, known in self._by_name.items():
            if known[:15] == status_id[:15]:
                return name
        return None
