"""A fake Salesforce org at the HTTP layer (``responses``): the token endpoint and the collections upsert.

It keeps the records it accepted by external id and counts every accepted write per key, so tests
can assert that each total arrived once with the right value. Behaviour for the next calls is
queued by the test (``fail_next``), records are rejected by key (``reject``).
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, date, datetime
from urllib.parse import parse_qs

import responses

from connector.auth import accounts
from connector.store.models import DailyTotal

LOGIN_URL = "https://login.example.test"
INSTANCE_URL = "https://acme.my.salesforce.com"
TOKEN_URL = LOGIN_URL + "/services/oauth2/token"
DATA_URL = INSTANCE_URL + "/services/data/v62.0"
UPSERT_URL = DATA_URL + "/composite/sobjects/Presence_Time__c/Key__c"
CLIENT_SECRET = "very-secret-client-secret-123"
SF_ENV = {"SF_LOGIN_URL": LOGIN_URL, "SF_CLIENT_ID": "connected-app-id", "SF_CLIENT_SECRET": CLIENT_SECRET}


class FakeOrg:
    def __init__(self, rsps: responses.RequestsMock, upsert_url: str = UPSERT_URL, key_field: str = "Key__c"):
        self.rsps = rsps
        self.key_field = key_field
        self.records: dict[str, dict] = {}
        self.accepted: Counter = Counter()
        self.tokens_issued = 0
        self.valid_tokens: set[str] = set()
        self.token_forms: list[dict] = []
        self.fail_next: list[tuple[int, object]] = []
        self.reject: dict[str, tuple[str, str]] = {}
        self.api_used = 1000
        rsps.add_callback(responses.POST, TOKEN_URL, callback=self._token)
        rsps.add_callback(responses.PATCH, upsert_url, callback=self._upsert)

    # -- endpoints ---------------------------------------------------------------------------
    def _token(self, request):
        form = {
            k: v[0]
            for k, v in parse_qs(request.body if isinstance(request.body, str) else request.body.decode()).items()
        }
        self.token_forms.append(form)
        self.tokens_issued += 1
        token = f"00Dxx!token-{self.tokens_issued}"
        self.valid_tokens.add(token)
        return (
            200,
            {},
            json.dumps(
                {
                    "access_token": token,
                    "instance_url": INSTANCE_URL,
                    "id": LOGIN_URL + "/id/00Dxx/005xx",
                    "token_type": "Bearer",
                    "issued_at": "1700000000000",
                    "signature": "sig",
                }
            ),
        )

    def _upsert(self, request):
        self.api_used += 1
        headers = {"Sforce-Limit-Info": f"api-usage={self.api_used}/100000"}
        if request.headers.get("Authorization", "")[7:] not in self.valid_tokens:
            return (
                401,
                headers,
                json.dumps([{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]),
            )
        if self.fail_next:
            status, body = self.fail_next.pop(0)
            if isinstance(body, Exception):
                raise body  # responses hands it to the caller, like a real timeout or a dropped connection
            return status, headers, body if isinstance(body, str) else json.dumps(body)
        body = json.loads(request.body)
        assert body["allOrNone"] is False and 1 <= len(body["records"]) <= 200
        results = []
        for record in body["records"]:
            key = record[self.key_field]
            if key in self.reject:
                code, message = self.reject[key]
                results.append(
                    {"success": False, "errors": [{"statusCode": code, "message": message, "fields": ["User__c"]}]}
                )
                continue
            created = key not in self.records
            self.records[key] = record
            self.accepted[key] += 1
            results.append({"id": f"a01{len(self.records):015d}", "success": True, "errors": [], "created": created})
        return 200, headers, json.dumps(results)

    # -- helpers -------------------------------------------------------------------------------
    def expire_sessions(self) -> None:
        self.valid_tokens.clear()

    def upsert_calls(self) -> list:
        return [c for c in self.rsps.calls if c.request.method == "PATCH"]

    def token_calls(self) -> list:
        return [c for c in self.rsps.calls if c.request.url == TOKEN_URL]

    def seconds(self, key: str) -> int:
        return self.records[key]["Seconds__c"]


def add_totals(
    parts,
    agents: int,
    states: tuple[str, ...] = ("ready", "dnd", "break", "lunch", "meeting"),
    day: date = date(2026, 3, 6),
    seconds: float = 600.4,
    synced: int | None = None,
) -> list[str]:
    """``agents`` agents with one closed total per state; returns the external keys."""
    now = datetime(2026, 3, 6, 9, tzinfo=UTC)
    keys = []
    for i in range(agents):
        agent_id = f"agent{i:05d}"
        accounts.add_agent(parts.store, {"id": agent_id, "name": f"Agent {i}"}, now)
    with parts.store.write() as s:
        for i in range(agents):
            for n, state in enumerate(states):
                s.add(
                    DailyTotal(
                        agent_id=f"agent{i:05d}",
                        day=day,
                        state_id=state,
                        status=1,
                        reason_code="",
                        seconds=seconds + n,
                        synced_seconds=synced,
                        updated_at=now,
                    )
                )
                keys.append(f"agent{i:05d}|{day.isoformat()}|{state}")
    return keys
