"""Microsoft Teams presence through Microsoft Graph (Skype for Business Online was retired in 2021).

* Token: OAuth client credentials (``TEAMS_TENANT_ID``, ``TEAMS_CLIENT_ID``, ``TEAMS_CLIENT_SECRET``);
  the app needs the application permission ``Presence.ReadWrite.All``.
* Routes follow Graph's precedence (manage presence state): Available and Busy (InACall or
  InAConferenceCall) are set in the app's presence session (``setPresence``, ``sessionId`` = client id);
  Away, BeRightBack, DoNotDisturb and Offline (OffWork) as user-preferred presence
  (``setUserPreferredPresence``), with the app's session kept alive as Away underneath, because preferred
  presence shows only while a session exists. ``clearUserPreferredPresence`` when leaving those states.
* Over time: an Available session fades to AvailableInactive after 5 minutes and Away after 10, so it
  is renewed every 4 minutes; other sessions and preferred presence only before their expiration. Every
  call counts against Graph's 1,500 presence requests per 30 s per app and tenant; renewals use at most
  1,200 of them and wait (retried) rather than draw 429s.
* Logout: ``clearUserPreferredPresence`` (if set) and ``clearPresence`` — Teams then shows what the user's
  own clients say.
* The user is the agent's UPN (``email``) or, with ``TEAMS_USER_KEY=agent_id``, an agent id that is
  the Azure AD object id. 429 answers are retried after their ``Retry-After``.

Per-state mapping: ``adapters: {teams: Busy}`` or ``{teams: {availability: Busy, activity: InACall}}``;
pairs Graph refuses are caught by :meth:`TeamsAdapter.check_mapping` (``validate_mapping``) in ``config validate``
and the admin editor.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import requests

from adapters.base import Adapter, AdapterError, AgentInfo, Change, Setting
from adapters.support.http_errors import check_reply, unreachable
from connector.version import USER_AGENT

#: setPresence pairs Graph accepts (presence-setpresence) and setUserPreferredPresence pairs
#: (presence-setuserpreferredpresence); anything else is answered 400
SESSION_PAIRS = {"Available": ("Available",), "Busy": ("InACall", "InAConferenceCall")}
PREFERRED_PAIRS = {
    "Away": ("Away",),
    "BeRightBack": ("BeRightBack",),
    "DoNotDisturb": ("DoNotDisturb",),
    "Offline": ("OffWork",),
}
#: by a state's status (looked up with whatever the state holds: None when it has none)
BY_STATUS: dict[object, str] = {
    1: "Available",
    2: "Offline",
    3: "Away",
    4: "DoNotDisturb",
    5: "Busy",
    6: "Busy",
    7: "Offline",
}
#: Graph: an Available session fades after 5 minutes; kept alive well inside that
KEEP_ALIVE_SECONDS = 240.0
#: Graph: 1,500 presence requests per 30 s per app and tenant; renewals may use this much of it
BUDGET_WINDOW, BUDGET_LIMIT, RENEWAL_SHARE = 30.0, 1500, 1200


def _pair(value) -> tuple[str, str | None]:
    if isinstance(value, dict):
        return str(value.get("availability", "Available")), (str(value["activity"]) if value.get("activity") else None)
    return str(value), None


def validate_mapping(value) -> list[str]:
    """Problems with one state's ``adapters: {teams: ...}`` value (empty: Graph accepts it)."""
    if not isinstance(value, (str, dict)):
        return ["must be an availability like Away or {availability: Busy, activity: InACall}"]
    availability, activity = _pair(value)
    pairs = SESSION_PAIRS.get(availability) or PREFERRED_PAIRS.get(availability)
    if pairs is None:
        return [f"Teams has no presence '{availability}'; use one of: {', '.join([*SESSION_PAIRS, *PREFERRED_PAIRS])}"]
    if activity is not None and activity not in pairs:
        return [
            f"availability '{availability}' with activity '{activity}' is refused by Microsoft Graph; "
            f"use activity {' or '.join(pairs)}"
        ]
    return []


def teams_target(state: Mapping[str, Any] | None) -> tuple[str, str, str]:
    """(how, availability, activity) for a state: how is 'session', 'preferred' or 'clear'.

    Graph's precedence (manage presence state): user-preferred beats every session, and among sessions
    DoNotDisturb > Busy > Available > Away. So Available and Busy go into the app's session (Busy beats the
    agent's own Teams client being Available), while Away, BeRightBack, DoNotDisturb and Offline are set as
    preferred presence (a session Away would lose to the client's Available).
    """
    if state is None:
        return "clear", "", ""
    mapped = (state.get("adapters") or {}).get("teams") or BY_STATUS.get(state.get("status"), "Available")
    problems = validate_mapping(mapped)
    if problems:
        raise AdapterError(f"state '{state.get('id')}' adapters.teams: {problems[0]}", retryable=False)
    availability, activity = _pair(mapped)
    if availability in SESSION_PAIRS:
        return "session", availability, activity or SESSION_PAIRS[availability][0]
    return "preferred", availability, activity or PREFERRED_PAIRS[availability][0]


class TeamsAdapter(Adapter):
    name = "teams"
    prefix = "TEAMS_"
    max_concurrency = 4
    # the dispatcher re-sends every 4 minutes: an Available session fades after 5; other renewals are
    # skipped until their expiry comes near (see push), so they cost a call only then
    refresh_seconds = KEEP_ALIVE_SECONDS
    settings = {
        "tenant_id": Setting(str, required=True, help="the Azure AD (Entra ID) tenant id"),
        "client_id": Setting(str, required=True, help="the app registration's client id (also the sessionId)"),
        "client_secret": Setting(str, required=True, secret=True),
        "user_key": Setting(str, default="email", choices=("email", "agent_id")),
        "expiration_minutes": Setting(int, default=60, range=(5, 240)),
        "graph_url": Setting(str, default="https://graph.microsoft.com/v1.0", kind="url"),
        "login_url": Setting(str, default="https://login.microsoftonline.com", kind="url"),
        "timeout": Setting(float, default=10.0, range=(0.5, 60)),
    }

    @classmethod
    def check_mapping(cls, value: Any) -> list[str]:
        return validate_mapping(value)

    def __init__(self, values=None):
        super().__init__(values)
        minutes = self.config["expiration_minutes"]
        self._renew_before = (minutes - min(5, minutes / 3)) * 60
        self._token: tuple[str, float] | None = None
        self._token_lock = threading.Lock()
        # what we sent each user lives in the store (host.remember), shared by every instance; an unbound
        # adapter (a connection check) keeps it here
        self._local: dict[str, dict] = {}
        self._calls: deque[datetime] = deque()  # Graph presence calls in the budget window (unbound only)
        self._budget_lock = threading.Lock()
        self.skipped_unchanged = 0  # calls not made: the mapped availability/activity had not changed
        self.deferred = 0  # calls put off because the shared Graph budget was in use

    switched_by = "teams_sync"

    def wants(self, options) -> bool:
        return bool(getattr(options, "teams_sync", False))

    # -- Graph calls -------------------------------------------------------------------------
    def token(self) -> str:
        with self._token_lock:
            if self._token and self._token[1] > time.monotonic():
                return self._token[0]
            url = f"{self.config['login_url']}/{quote(self.config['tenant_id'], safe='')}/oauth2/v2.0/token"
            try:
                reply = requests.post(
                    url,
                    data={
                        "client_id": self.config["client_id"],
                        "client_secret": self.config["client_secret"],
                        "scope": "https://graph.microsoft.com/.default",
                        "grant_type": "client_credentials",
                    },
                    timeout=self.config["timeout"],
                    headers={"User-Agent": USER_AGENT},
                )
            except requests.RequestException as exc:
                raise unreachable("Microsoft login", exc) from None
            if reply.status_code in (400, 401):
                try:
                    reason = str(reply.json().get("error", ""))
                except ValueError:
                    reason = ""
                raise AdapterError(
                    f"Microsoft login refused the client credentials (HTTP {reply.status_code}"
                    f"{', ' + reason[:80] if reason else ''}); check TEAMS_TENANT_ID, "
                    "TEAMS_CLIENT_ID and TEAMS_CLIENT_SECRET",
                    retryable=False,
                )
            check_reply("Microsoft login", reply, "token")
            body = reply.json()
            self._token = (body["access_token"], time.monotonic() + max(60, int(body.get("expires_in", 3600)) - 60))
            return self._token[0]

    def _post(self, user: str, action: str, body: dict | None) -> None:
        url = f"{self.config['graph_url']}/users/{quote(user, safe='@')}/presence/{action}"
        try:
            reply = requests.post(
                url,
                json=body,
                timeout=self.config["timeout"],
                headers={"Authorization": f"Bearer {self.token()}", "User-Agent": USER_AGENT},
            )
        except requests.RequestException as exc:
            raise unreachable("Microsoft Graph", exc) from None
        if reply.status_code == 401:
            self._token = None
        if reply.status_code == 404 and action.startswith("clear"):
            return  # nothing to clear: the session had lapsed already
        check_reply("Microsoft Graph", reply, action)

    def user_for(self, agent: AgentInfo) -> str:
        if self.config["user_key"] == "agent_id":
            return agent.id
        if not agent.email:
            raise AdapterError(f"agent '{agent.id}' has no email (the Teams UPN)", retryable=False)
        return agent.email

    # -- the contract ------------------------------------------------------------------------
    def push(self, agent: AgentInfo, change: Change) -> None:
        if change.kind != "presence":
            return
        user = self.user_for(agent)
        how, availability, activity = teams_target(change.state)
        expiration = f"PT{self.config['expiration_minutes']}M"
        session = {"sessionId": self.config["client_id"], "expirationDuration": expiration}
        if change.renewal:
            self._renew(user, how, availability, activity, session, expiration)
            return
        record = self._record(user)
        target = [how, availability, activity]
        if record.get("target") == target:
            self.skipped_unchanged += 1  # Graph already shows this: the call would only spend budget
            return
        # what we set last, or (after a restart) what the change came from
        was_preferred = change.previous is not None and _route(change.previous) == "preferred"
        had_preferred = record.get("preferred", was_preferred)
        if how != "preferred" and had_preferred:
            self._send(user, "clearUserPreferredPresence", None)
            self._update(user, preferred=False)
        if how == "clear":
            self._send(user, "clearPresence", {"sessionId": self.config["client_id"]})
            self._update(user, sent={}, target=target)
            return
        if how == "preferred":
            # preferred presence shows only while a session exists: keep the app's own (Away, which never fades)
            self._send(user, "setPresence", {**session, "availability": "Away", "activity": "Away"})
            self._send(
                user,
                "setUserPreferredPresence",
                {"availability": availability, "activity": activity, "expirationDuration": expiration},
            )
            self._update(user, preferred=True)
        else:
            self._send(user, "setPresence", {**session, "availability": availability, "activity": activity})
        self._update(user, target=target)

    # -- what was sent to whom (shared by the instances through the host) ----------------------
    def _key(self, user: str) -> str:
        return f"{self.name}:sent:{user}"

    def _record(self, user: str) -> dict:
        host = getattr(self, "host", None)
        found = host.recall(self._key(user)) if host is not None else self._local.get(user)
        return dict(found) if isinstance(found, dict) else {}

    def _update(self, user: str, **fields) -> None:
        record = {**self._record(user), **fields}
        host = getattr(self, "host", None)
        if host is None:
            self._local[user] = record
        else:  # kept as long as a Graph session we set lives; after that everything is sent afresh
            host.remember(self._key(user), record, self.config["expiration_minutes"] * 60)

    def _renew(self, user, how, availability, activity, session, expiration) -> None:
        """A renewal: keep an Available session from fading; renew the others only near their expiry."""
        if how == "clear":
            return
        sent = self._record(user).get("sent") or {}
        now = self._now()

        def due(call: str) -> bool:
            last = sent.get(call)
            return last is None or now.timestamp() - last >= self._renew_before

        if how == "session":
            if availability == "Available" or due("setPresence"):
                self._send(
                    user, "setPresence", {**session, "availability": availability, "activity": activity}, renewal=True
                )
            return
        if due("setPresence"):
            self._send(user, "setPresence", {**session, "availability": "Away", "activity": "Away"}, renewal=True)
        if due("setUserPreferredPresence"):
            self._send(
                user,
                "setUserPreferredPresence",
                {"availability": availability, "activity": activity, "expirationDuration": expiration},
                renewal=True,
            )

    def _now(self) -> datetime:
        host = getattr(self, "host", None)  # unbound (a connection check) reads the wall clock
        return host.now() if host is not None else datetime.now(UTC)

    def _send(self, user: str, action: str, body: dict | None, renewal: bool = False) -> None:
        self._spend(renewal)
        self._post(user, action, body)
        sent = dict(self._record(user).get("sent") or {})
        sent[action] = self._now().timestamp()
        self._update(user, sent=sent)

    def _budget(self) -> str:
        return f"{self.name}:graph-presence:{self.config['tenant_id']}:{self.config['client_id']}"

    def _spend(self, renewal: bool) -> None:
        """Count one call against Graph's presence budget (per app and tenant, shared by every instance);
        over it, the change waits (retried after the window has room) rather than draw a 429."""
        limit = RENEWAL_SHARE if renewal else BUDGET_LIMIT
        host = getattr(self, "host", None)
        if host is not None:
            use = host.spend(self._budget(), 1, BUDGET_WINDOW, limit)
            if use.granted:
                return
            used, wait = use.used, use.retry_after
        else:
            now = self._now()
            with self._budget_lock:
                while self._calls and (now - self._calls[0]).total_seconds() >= BUDGET_WINDOW:
                    self._calls.popleft()
                if len(self._calls) < limit:
                    self._calls.append(now)
                    return
                used, wait = len(self._calls), BUDGET_WINDOW - (now - self._calls[0]).total_seconds()
        self.deferred += 1
        raise AdapterError(
            f"Microsoft Graph presence budget in use ({used} calls in {BUDGET_WINDOW:g} s); "
            f"{'renewal' if renewal else 'change'} waits",
            retryable=True,
            retry_after=max(1.0, wait),
        )

    def health(self) -> dict:
        host = getattr(self, "host", None)
        if host is not None:
            used = host.spend(self._budget(), 0, BUDGET_WINDOW, BUDGET_LIMIT).used
        else:
            with self._budget_lock:
                used = len(self._calls)
        return {
            "graph_presence_calls_last_30s": used,
            "graph_presence_limit_30s": BUDGET_LIMIT,
            "graph_calls_deferred": self.deferred,
            "graph_calls_skipped_unchanged": self.skipped_unchanged,
        }

    def check(self) -> str:
        self._token = None
        self.token()
        return f"client-credentials token issued for tenant {self.config['tenant_id']}"


def _route(state: Mapping[str, Any]) -> str:
    try:
        return teams_target(state)[0]
    except AdapterError:
        return "session"
