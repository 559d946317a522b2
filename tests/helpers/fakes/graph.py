"""Microsoft Graph's presence endpoints, faked at the HTTP layer with ``responses`` (nothing is sent anywhere),
behaving as Microsoft documents them:

* the token endpoint: client credentials give the app token ``tok-app``, the ``refresh_token`` grant the
  delegated token ``tok-delegated``;
* ``setPresence``/``setUserPreferredPresence``/``clear*``: what the app's session sets is what the user's
  presence shows, unless the user (or Teams: a meeting ...) shows something else (``user``);
* ``POST /communications/getPresencesByUserId``: at most 650 ids a call (400 otherwise), each user's
  aggregated availability/activity (cloudcommunications-getpresencesbyuserid);
* subscriptions on ``/communications/presences?$filter=id in (...)`` (changenotifications-for-presence): a
  delegated token only, at most 650 ids, expiry at most an hour ahead; creating one first runs the
  ``validationToken`` handshake against the notification URL and the lifecycle URL (the app's test client),
  which must answer 200 with the token as text/plain (change-notifications-delivery-webhooks); ``PATCH``
  renews (404 once expired: Graph deletes expired subscriptions); ``notify``/``lifecycle`` post basic
  notifications (no resource data) and lifecycle notifications (change-notifications-lifecycle-events).
"""

from __future__ import annotations

import itertools
import json
import re
import secrets
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import responses

LOGIN = "https://login.microsoftonline.com"
GRAPH = "https://graph.microsoft.com/v1.0"
APP_TOKEN, DELEGATED_TOKEN = "tok-app", "tok-delegated"
FILTER_RE = re.compile(r"^/communications/presences\?\$filter=id in \(((?:'[0-9a-f-]+',?)+)\)$")


class FakeGraph:
    def __init__(self, rsps: responses.RequestsMock, clock=None, tenant: str = "tenant-1"):
        self.clock = clock or (lambda: datetime.now(UTC))
        self.user: dict[str, tuple[str, str]] = {}  # what the user or Teams itself shows (a meeting ...)
        self.app: dict[str, tuple[str, str]] = {}  # what the connector's session set
        self.reads: list[list[str]] = []
        self.subscriptions: dict[str, dict] = {}
        self.calls: list[tuple[str, str]] = []  # (method, path) of the subscription calls
        self.client = None  # the app's test client: where notifications go
        self._ids = itertools.count(1)
        rsps.add_callback(responses.POST, f"{LOGIN}/{tenant}/oauth2/v2.0/token", callback=self.token)
        rsps.add_callback(responses.POST, f"{GRAPH}/communications/getPresencesByUserId", callback=self.read)
        for action in ("setPresence", "setUserPreferredPresence", "clearUserPreferredPresence", "clearPresence"):
            rsps.add_callback(
                responses.POST, re.compile(rf"{GRAPH}/users/([^/]+)/presence/{action}$"), callback=self.setter(action)
            )
        rsps.add_callback(responses.POST, f"{GRAPH}/subscriptions", callback=self.subscribe)
        for method in (responses.PATCH, responses.DELETE):
            rsps.add_callback(method, re.compile(rf"{GRAPH}/subscriptions/[^/]+$"), callback=self.subscription)

    # -- tokens ---------------------------------------------------------------------------------
    def token(self, request):
        form = {k: v[0] for k, v in parse_qs(request.body).items()}
        if form.get("grant_type") == "refresh_token":
            if form.get("refresh_token") != "refresh-1":
                return (400, {}, json.dumps({"error": "invalid_grant"}))
            return (200, {}, json.dumps({"token_type": "Bearer", "expires_in": 3599, "access_token": DELEGATED_TOKEN}))
        return (200, {}, json.dumps({"token_type": "Bearer", "expires_in": 3599, "access_token": APP_TOKEN}))

    # -- presence -------------------------------------------------------------------------------
    def setter(self, action: str):
        def callback(request):
            user = request.url.split("/users/")[1].split("/")[0]
            body = json.loads(request.body) if request.body else {}
            if action in ("setPresence", "setUserPreferredPresence") and body.get("availability") != "Away":
                self.app[user] = (body["availability"], body["activity"])
            elif action == "clearPresence":
                self.app.pop(user, None)
            return (200, {}, "")

        return callback

    def read(self, request):
        ids = json.loads(request.body)["ids"]
        if len(ids) > 650:
            return (400, {}, json.dumps({"error": {"code": "BadRequest", "message": "at most 650 ids"}}))
        self.reads.append(ids)
        value = []
        for user in ids:
            availability, activity = self.user.get(user) or self.app.get(user) or ("Offline", "OffWork")
            value.append({"id": user, "availability": availability, "activity": activity})
        return (200, {}, json.dumps({"value": value}))

    # -- subscriptions --------------------------------------------------------------------------
    def live(self) -> dict[str, dict]:
        """The subscriptions Graph still has: an expired one is deleted."""
        for sub_id in [i for i, s in self.subscriptions.items() if s["expires"] <= self.clock()]:
            del self.subscriptions[sub_id]
        return self.subscriptions

    def _error(self, status: int, message: str):
        return (status, {}, json.dumps({"error": {"code": "BadRequest", "message": message}}))

    def subscribe(self, request):
        self.calls.append(("POST", "/subscriptions"))
        if request.headers.get("Authorization") != f"Bearer {DELEGATED_TOKEN}":
            return self._error(403, "presence subscriptions need a delegated token (Presence.Read.All)")
        body = json.loads(request.body)
        match = FILTER_RE.match(body.get("resource", ""))
        if body.get("changeType") != "updated" or not match:
            return self._error(400, "resource must be /communications/presences?$filter=id in (...), updated")
        ids = [i.strip("'") for i in match.group(1).split(",")]
        expires = _parse(body["expirationDateTime"])
        if len(ids) > 650 or expires > self.clock() + timedelta(hours=1) or not body.get("clientState"):
            return self._error(400, "at most 650 ids, expiry within an hour, and a clientState")
        for url in (body["notificationUrl"], body.get("lifecycleNotificationUrl")):
            if url and not self._validated(url):
                return self._error(400, f"Subscription validation request failed for {url}")
        sub_id = f"sub-{next(self._ids)}"
        self.subscriptions[sub_id] = {**body, "ids": ids, "expires": expires}
        return (201, {}, json.dumps({"id": sub_id, **body}))

    def _validated(self, url: str) -> bool:
        token = secrets.token_urlsafe(12)
        answer = self.client.post(f"{urlsplit(url).path}?validationToken={token}")
        return answer.status_code == 200 and answer.mimetype == "text/plain" and answer.get_data(as_text=True) == token

    def subscription(self, request):
        sub_id = request.url.rsplit("/", 1)[1]
        self.calls.append((request.method, f"/subscriptions/{sub_id}"))
        sub = self.subscriptions.get(sub_id)
        if sub is None or sub["expires"] <= self.clock():
            self.subscriptions.pop(sub_id, None)
            return self._error(404, "subscription not found")
        if request.method == "DELETE":
            del self.subscriptions[sub_id]
            return (204, {}, "")
        expires = _parse(json.loads(request.body)["expirationDateTime"])
        if expires > self.clock() + timedelta(hours=1):
            return self._error(400, "expiry within an hour")
        sub["expires"] = expires
        return (200, {}, json.dumps({"id": sub_id, "expirationDateTime": _iso(expires)}))

    def notify(self, user: str, client_state: str | None = None):
        """A basic change notification for ``user`` (no resource data), as Graph posts it."""
        sub_id, sub = next((i, s) for i, s in self.subscriptions.items() if user in s["ids"])
        item = {
            "subscriptionId": sub_id,
            "clientState": sub["clientState"] if client_state is None else client_state,
            "changeType": "updated",
            "resource": f"communications/presences?$filter=id+in+(%27{user}%27)",
            "subscriptionExpirationDateTime": _iso(sub["expires"]),
            "resourceData": {
                "@odata.type": "#Microsoft.Graph.presence",
                "@odata.id": f"users/{user}/presence",
                "id": user,
            },
            "tenantId": "tenant-1",
        }
        return self.client.post(urlsplit(sub["notificationUrl"]).path, json={"value": [item]})

    def lifecycle(self, sub_id: str, event: str):
        sub = self.subscriptions.get(sub_id) or {}
        item = {
            "subscriptionId": sub_id,
            "clientState": sub.get("clientState"),
            "lifecycleEvent": event,
            "subscriptionExpirationDateTime": _iso(sub["expires"]) if sub else None,
            "tenantId": "tenant-1",
        }
        if event == "subscriptionRemoved":
            self.subscriptions.pop(sub_id, None)
        return self.client.post(urlsplit(sub.get("lifecycleNotificationUrl") or "/x").path, json={"value": [item]})


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.0000000Z")


def _parse(value: str) -> datetime:
    text = value.rstrip("Z")
    head, _, frac = text.partition(".")
    return datetime.fromisoformat(f"{head}.{frac[:6]}" if frac else head).replace(tzinfo=UTC)
