"""A fake Salesforce org at the HTTP layer (``responses``): the token endpoint, the collections upsert of the
time object and of the counters object, a SOQL query of old records' ids and the collections delete.

It keeps the records it accepted by external id (``records``: Presence_Time__c, ``counters``:
Presence_Counters__c) and counts every accepted write per key, so tests can assert that each total
arrived once with the right value. Behaviour for the next calls is queued by the test (``fail_next``),
records are rejected by key (``reject``) or, for deletion, by id (``reject_delete``).
"""

from __future__ import annotations

import json
import re
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
COUNTERS_UPSERT_URL = DATA_URL + "/composite/sobjects/Presence_Counters__c/Key__c"
QUERY_URL = DATA_URL + "/query"
DELETE_URL = DATA_URL + "/composite/sobjects"
_QUERY_RE = re.compile(r"^SELECT Id FROM (\w+) WHERE (\w+) < (\d{4}-\d\d-\d\d) ORDER BY \w+ LIMIT (\d+)$")
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
        self.api_limit = 100000
        #: the counters object's records by key (SF_COUNTER_OBJECT)
        self.counters: dict[str, dict] = {}
        #: record id -> (object, key), given at the first upsert of a key
        self.ids: dict[str, tuple[str, str]] = {}
        self._id_of: dict[tuple[str, str], str] = {}
        self.reject_delete: dict[str, tuple[str, str]] = {}
        self.deleted: list[str] = []
        rsps.add_callback(responses.POST, TOKEN_URL, callback=self._token)
        rsps.add_callback(responses.PATCH, upsert_url, callback=self._upsert)
        rsps.add_callback(responses.PATCH, COUNTERS_UPSERT_URL, callback=self._upsert_counters)
        rsps.add_callback(responses.GET, QUERY_URL, callback=self._query)
        rsps.add_callback(responses.DELETE, DELETE_URL, callback=self._delete)

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

    def _refusal(self, request):
        """(headers, an answer to give instead of the call's own, or None): usage, auth, queued failures."""
        self.api_used += 1
        headers = {"Sforce-Limit-Info": f"api-usage={self.api_used}/{self.api_limit}"}
        if request.headers.get("Authorization", "")[7:] not in self.valid_tokens:
            return headers, (
                401,
                headers,
                json.dumps([{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]),
            )
        if self.fail_next:
            status, body = self.fail_next.pop(0)
            if isinstance(body, Exception):
                raise body  # responses hands it to the caller, like a real timeout or a dropped connection
            return headers, (status, headers, body if isinstance(body, str) else json.dumps(body))
        return headers, None

    def _upsert_counters(self, request):
        return self._upsert(request, "Presence_Counters__c")

    def _upsert(self, request, object_name: str = "Presence_Time__c"):
        headers, refused = self._refusal(request)
        if refused is not None:
            return refused
        store = self.counters if object_name == "Presence_Counters__c" else self.records
        body = json.loads(request.body)
        # one object per call: the counters object's records never travel with the totals
        assert all(
            (r["attributes"]["type"] == "Presence_Counters__c") == (store is self.counters) for r in body["records"]
        )
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
            created = key not in store
            store[key] = record
            self.accepted[key] += 1
            record_id = self._id_of.get((object_name, key))
            if record_id is None:
                record_id = f"a0{1 if store is self.records else 2}{len(self.ids):015d}"
                self.ids[record_id] = (object_name, key)
                self._id_of[(object_name, key)] = record_id
            results.append({"id": record_id, "success": True, "errors": [], "created": created})
        return 200, headers, json.dumps(results)

    def _store_of(self, object_name: str) -> dict[str, dict]:
        return self.counters if object_name == "Presence_Counters__c" else self.records

    def _query(self, request):
        headers, refused = self._refusal(request)
        if refused is not None:
            return refused
        soql = parse_qs(request.url.split("?", 1)[1])["q"][0]
        match = _QUERY_RE.match(soql)
        assert match, soql
        object_name, field, cutoff, limit = match.groups()
        store = self._store_of(object_name)
        old = sorted(
            ((r[field], i) for i, (o, k) in self.ids.items() if o == object_name and k in store for r in [store[k]]),
        )
        records = [{"attributes": {"type": object_name}, "Id": i} for day, i in old if day < cutoff][: int(limit)]
        return 200, headers, json.dumps({"totalSize": len(records), "done": True, "records": records})

    def _delete(self, request):
        headers, refused = self._refusal(request)
        if refused is not None:
            return refused
        params = {k: v[0] for k, v in parse_qs(request.url.split("?", 1)[1]).items()}
        assert params["allOrNone"] == "false"
        ids = params["ids"].split(",")
        assert 1 <= len(ids) <= 200
        results = []
        for record_id in ids:
            if record_id in self.reject_delete:
                code, message = self.reject_delete[record_id]
                results.append(
                    {"id": record_id, "success": False, "errors": [{"statusCode": code, "message": message}]}
                )
                continue
            object_name, key = self.ids.get(record_id, ("", ""))
            if self._store_of(object_name).pop(key, None) is None:
                results.append(
                    {"id": record_id, "success": False, "errors": [{"statusCode": "ENTITY_IS_DELETED", "message": ""}]}
                )
                continue
            self.deleted.append(key)
            results.append({"id": record_id, "success": True, "errors": []})
        return 200, headers, json.dumps(results)

    # -- helpers -------------------------------------------------------------------------------
    def add_record(self, key: str, day: str, object_name: str = "Presence_Time__c", **fields) -> str:
        """A record the org already holds (written by an earlier flush); returns its id."""
        store = self._store_of(object_name)
        store[key] = {"attributes": {"type": object_name}, "Key__c": key, "Date__c": day, **fields}
        record_id = f"a0{1 if store is self.records else 2}{len(self.ids):015d}"
        self.ids[record_id] = (object_name, key)
        self._id_of[(object_name, key)] = record_id
        return record_id

    def calls_to(self, method: str, url: str) -> list:
        return [c for c in self.rsps.calls if c.request.method == method and c.request.url.split("?")[0] == url]

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
