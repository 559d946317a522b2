"""Teams presence change notifications: Graph subscriptions on ``/communications/presences``, kept alive under a
job lease, and the notifications Graph posts to ``TEAMS_NOTIFICATION_URL``.

As Microsoft documents them (pages followed):

* https://learn.microsoft.com/en-us/graph/changenotifications-for-presence — presence subscriptions take a
  *delegated* token with ``Presence.Read.All`` (no application permission), at most 650 user ids a
  subscription (``/communications/presences?$filter=id in ('id1','id2')``), change type ``updated``, and
  expire after at most an hour: renewed with ``PATCH /subscriptions/{id}`` before that, or created again.
* https://learn.microsoft.com/en-us/graph/change-notifications-delivery-webhooks — creating (and renewing) a
  subscription makes Graph post ``?validationToken=...`` to the notification URL, answered within 10 s with
  200 and the token as ``text/plain``; each notification carries the subscription's ``clientState``, which
  must be checked (a post without it is not from Graph); answer 202.
* https://learn.microsoft.com/en-us/graph/change-notifications-lifecycle-events — with a
  ``lifecycleNotificationUrl``: ``reauthorizationRequired`` (renew, which reauthorizes), ``subscriptionRemoved``
  (create it again) and ``missed`` (read everything the subscription covers again).
* https://devblogs.microsoft.com/microsoft365dev/breaking-changes-to-microsoft-graph-presence-and-online-meeting-basic-change-notifications
  — basic presence notifications carry no resource data, only the user id: the presence is read
  (getPresencesByUserId) after one.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import requests

from adapters.base import Adapter, AdapterError, InboundRejected
from adapters.support.http_errors import check_reply, unreachable
from adapters.support.teams_delegated import DelegatedToken
from adapters.support.teams_inbound import batches

#: Graph: a presence subscription lives at most an hour; asked for a little less
LIFETIME = timedelta(minutes=59)
#: renewed when less than this is left (the renewal job runs every RENEW_EVERY seconds)
RENEW_BEFORE = timedelta(minutes=20)
RENEW_EVERY = 300
#: the subscriptions as every instance sees them (any instance may receive a notification)
KEY = "teams:subscriptions"
KEPT_SECONDS = 2 * 3600.0
#: Graph's validation token is short; anything much longer is not Graph
MAX_TOKEN = 1024
LIFECYCLE_EVENTS = ("reauthorizationRequired", "subscriptionRemoved", "missed")


def resource_for(ids: list[str]) -> str:
    return "/communications/presences?$filter=id in (" + ",".join(f"'{i}'" for i in ids) + ")"


class Subscriptions:
    """Keeps one subscription per 650 users and turns Graph's notifications into reads of their presence."""

    def __init__(self, adapter: Adapter):
        self.adapter = adapter
        self._token: tuple[str, float] | None = None
        self._token_lock = threading.Lock()
        self.delegated = DelegatedToken(adapter)
        self.created = self.renewed = self.notifications = self.refused = 0
        self.lifecycle: dict[str, int] = {}
        self.error: str | None = None

    # -- settings ------------------------------------------------------------------------------
    @property
    def configured(self) -> bool:
        c = self.adapter.config
        return bool(c["notification_url"] and c["delegated_refresh_token"])

    def _url(self, path: str) -> str:
        return f"{self.adapter.config['graph_url']}{path}"

    # -- the delegated token (refresh_token grant of the consenting user, rotation kept) --------------
    def token(self, retry_parked: bool = False) -> str:
        with self._token_lock:
            if self._token and self._token[1] > time.monotonic() and not retry_parked:
                return self._token[0]
            access, lifetime = self.delegated.redeem(retry_parked)
            self._token = (access, time.monotonic() + max(60, lifetime - 60))
            return self._token[0]

    def _call(self, method: str, path: str, json: dict | None = None) -> requests.Response:
        try:
            reply = self.adapter.http.request(
                method,
                self._url(path),
                json=json,
                timeout=self.adapter.config["timeout"],
                headers={"Authorization": f"Bearer {self.token()}"},
            )
        except requests.RequestException as exc:
            raise unreachable("Microsoft Graph", exc) from None
        if reply.status_code == 401:
            self._token = None
        return reply

    # -- what is subscribed (shared by the instances) -------------------------------------------
    def known(self) -> dict[str, dict]:
        found = self.adapter.host.recall(KEY)
        return dict(found) if isinstance(found, dict) else {}

    def _keep(self, subs: Mapping[str, dict]) -> None:
        self.adapter.host.remember(KEY, dict(subs), KEPT_SECONDS)

    # -- the renewal job (under its lease: one instance) ----------------------------------------
    def maintain(self, user_ids: list[str]) -> dict[str, dict]:
        """One subscription per 650 of ``user_ids``: create what is missing, renew what expires within
        RENEW_BEFORE, create again what expired or Graph removed, delete what no longer matches."""
        if not self.configured:
            return {}
        now = self.adapter.host.now()
        subs = self.known()
        wanted = batches(sorted(user_ids))
        keep: dict[str, dict] = {}
        covered: set[tuple[str, ...]] = set()
        try:
            for sub_id, sub in subs.items():
                ids = tuple(sub.get("ids") or ())
                if list(ids) not in wanted or ids in covered:
                    self._call("DELETE", f"/subscriptions/{sub_id}")  # 404 (already gone) is fine
                    continue
                expires = datetime.fromisoformat(sub["expires"])
                if expires <= now:
                    continue  # expired: Graph has deleted it; created again below
                if expires - now < RENEW_BEFORE:
                    renewed = self._renew(sub_id, sub, now)
                    if renewed is None:
                        continue
                    sub = renewed
                keep[sub_id] = sub
                covered.add(ids)
            for ids_list in wanted:
                if tuple(ids_list) not in covered:
                    sub_id, sub = self._create(ids_list, now)
                    keep[sub_id] = sub
            self.error = None
        except AdapterError as exc:
            self.error = str(exc)
            keep = {**subs, **keep}
        self._keep(keep)
        return keep

    def _create(self, ids: list[str], now: datetime) -> tuple[str, dict]:
        url = self.adapter.config["notification_url"]
        client_state = secrets.token_urlsafe(24)
        expires = now + LIFETIME
        reply = self._call(
            "POST",
            "/subscriptions",
            {
                "changeType": "updated",
                "notificationUrl": url,
                "lifecycleNotificationUrl": url,
                "resource": resource_for(ids),
                "expirationDateTime": _iso(expires),
                "clientState": client_state,
            },
        )
        check_reply("Microsoft Graph", reply, "create subscription")
        body = reply.json()
        self.created += 1
        granted = body.get("expirationDateTime")
        return str(body["id"]), {
            "ids": ids,
            "client_state": client_state,
            "expires": _parse(granted).isoformat() if granted else expires.isoformat(),
        }

    def _renew(self, sub_id: str, sub: dict, now: datetime) -> dict | None:
        """The subscription with its new expiry, or None when Graph no longer has it (created again)."""
        expires = now + LIFETIME
        reply = self._call("PATCH", f"/subscriptions/{sub_id}", {"expirationDateTime": _iso(expires)})
        if reply.status_code == 404:
            return None
        check_reply("Microsoft Graph", reply, "renew subscription")
        self.renewed += 1
        granted = reply.json().get("expirationDateTime")
        return {**sub, "expires": _parse(granted).isoformat() if granted else expires.isoformat()}

    # -- notifications ----------------------------------------------------------------------------
    def receive(self, query: Mapping[str, str], body: Any, read: Callable[[list[str]], int]) -> tuple[int, Any]:
        """Graph's post to the notification URL: the validation handshake, or change / lifecycle notifications.
        ``read(user_ids)`` reads those users' presence and reports it. Returns (HTTP status, answer)."""
        token = query.get("validationToken")
        if token is not None:
            if not self.configured:
                raise InboundRejected("no subscription is configured (TEAMS_NOTIFICATION_URL)", field="validationToken")
            if not token or len(token) > MAX_TOKEN:
                raise InboundRejected("validationToken must be Graph's token", field="validationToken")
            return 200, token  # as text/plain, within 10 s
        if not isinstance(body, dict) or not isinstance(body.get("value"), list):
            raise InboundRejected("value must be the list of notifications", field="value")
        subs = self.known()
        users: set[str] = set()
        accepted = 0
        for item in body["value"][:1000]:
            if not isinstance(item, dict):
                continue
            sub = subs.get(str(item.get("subscriptionId") or ""))
            state = str(item.get("clientState") or "")
            if sub is None or not hmac.compare_digest(state.encode(), str(sub.get("client_state", "")).encode()):
                self.refused += 1  # not one of ours, or not from Graph: ignored
                continue
            accepted += 1
            event = item.get("lifecycleEvent")
            if event:
                self.lifecycle[str(event)] = self.lifecycle.get(str(event), 0) + 1
                users |= self._lifecycle(str(event), str(item["subscriptionId"]), sub)
                continue
            self.notifications += 1
            data = item.get("resourceData")
            user = data.get("id") if isinstance(data, dict) else None
            if isinstance(user, str) and user.lower() in {i.lower() for i in sub.get("ids") or ()}:
                users.add(user.lower())
        if users:
            read(sorted(users))
        return 202, {"accepted": accepted}

    def _lifecycle(self, event: str, sub_id: str, sub: dict) -> set[str]:
        """The users to read again after a lifecycle notification."""
        subs = self.known()
        now = self.adapter.host.now()
        try:
            if event == "reauthorizationRequired":
                renewed = self._renew(sub_id, sub, now)
                subs.pop(sub_id, None)
                if renewed is not None:
                    subs[sub_id] = renewed
                else:
                    new_id, new = self._create(list(sub["ids"]), now)
                    subs[new_id] = new
            elif event == "subscriptionRemoved":
                subs.pop(sub_id, None)
                new_id, new = self._create(list(sub["ids"]), now)
                subs[new_id] = new
        except AdapterError as exc:
            self.error = str(exc)
        self._keep(subs)
        # a removed or reauthorized subscription may have missed changes, and "missed" says so: read them all
        return {i.lower() for i in sub.get("ids") or ()}

    def health(self) -> dict:
        subs = self.known() if self.configured else {}
        return {
            "subscriptions": len(subs),
            "subscriptions_expire": min((s["expires"] for s in subs.values()), default=None),
            "subscriptions_created": self.created,
            "subscriptions_renewed": self.renewed,
            "notifications": self.notifications,
            "notifications_refused": self.refused,
            "lifecycle_notifications": dict(self.lifecycle),
            "subscription_error": self.error,
            **self.delegated.health(),
        }


def _iso(at: datetime) -> str:
    """Graph's form of a time: UTC with seven fraction digits and a Z."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.0000000Z")


def _parse(value: str) -> datetime:
    text = str(value).rstrip("Z")
    if "." in text:
        head, frac = text.split(".", 1)
        text = f"{head}.{frac[:6]}"
    parsed = datetime.fromisoformat(text)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
