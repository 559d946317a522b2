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

Inbound (two-way presence, README "Two-way presence"): while the presence configuration has an ``inbound.teams``
rule, the presence of every logged-in agent's user is read back every ``TEAMS_POLL_SECONDS`` (getPresencesByUserId,
650 users a call, from the same shared budget; :mod:`adapters.support.teams_inbound`) and, with
``TEAMS_NOTIFICATION_URL`` and ``TEAMS_DELEGATED_REFRESH_TOKEN``, on Graph's change notifications
(:mod:`adapters.support.teams_subscriptions`). What the connector's own session set is never reported back.

The module is longer than most on purpose: both directions share one Graph app — its token, its presence
budget and the record of what was sent to each user — and read best together.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import requests

from adapters.base import Adapter, AdapterError, AgentInfo, Change, Job, Setting
from adapters.support.http_errors import check_reply, unreachable
from adapters.support.teams_inbound import Attempts, batches, is_ours, remote_of, should_report
from adapters.support.teams_subscriptions import RENEW_EVERY, Subscriptions
from connector.version import USER_AGENT

log = logging.getLogger(__name__)

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
#: reading presence back (getPresencesByUserId) may use this much of it: changes always keep room
READ_SHARE = 1200
#: how long a user's object id found by UPN is kept (users are rarely renamed)
USER_ID_SECONDS = 86400.0
#: the change source of what Teams reports (the configuration's ``inbound.teams`` rule)
SOURCE = "teams"


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
        "poll_seconds": Setting(
            int,
            default=30,
            range=(1, 3600),
            help="how often Teams presence is read back (getPresencesByUserId, 650 users a call) while the "
            "presence configuration has an inbound.teams rule",
        ),
        "notification_url": Setting(
            str,
            default="",
            kind="url",
            schemes=("https",),
            help="public HTTPS address of POST /api/v1/adapters/teams/notifications: Graph change notifications "
            "(a second instead of an interval); needs TEAMS_DELEGATED_REFRESH_TOKEN",
        ),
        "delegated_refresh_token": Setting(
            str,
            default="",
            secret=True,
            help="refresh token of a user who consented to Presence.Read.All (delegated): presence subscriptions "
            "take no application permission",
        ),
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
        self._attempts = Attempts()  # what the poller last reported per agent
        self.polls = 0
        self.poll_reads = 0  # getPresencesByUserId calls made
        self.poll_deferred = 0  # batches left for the next interval: the shared budget was in use
        self.poll_error: str | None = None
        self.inbound_reported = 0
        self.subscriptions = Subscriptions(self)

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

    # -- inbound: Teams presence read back ------------------------------------------------------
    def jobs(self) -> list[Job]:
        jobs = [Job("teams-presence-read", self.poll, self.config["poll_seconds"])]
        if self.subscriptions.configured:
            jobs.append(Job("teams-presence-subscriptions", self.maintain_subscriptions, RENEW_EVERY))
        return jobs

    def maintain_subscriptions(self) -> int:
        """Keep a presence subscription for every active agent with a Teams user (650 a subscription)."""
        if not self.reading():
            return 0
        users = []
        for view in self.host.presences():
            info = self.host.agent(view["id"])
            user_id = self._user_id(info) if info is not None else None
            if user_id:
                users.append(user_id)
        return len(self.subscriptions.maintain(users))

    def notify(self, query, body) -> tuple[int, object]:
        """Graph's posts to TEAMS_NOTIFICATION_URL: the validation handshake, change and lifecycle notifications
        (basic ones carry no presence: the users named are read, then reported as a poll would)."""
        return self.subscriptions.receive(query, body, lambda ids: self._read(set(ids)))

    def reading(self) -> bool:
        """Whether presence is read back: the active configuration has an ``inbound.teams`` rule that applies."""
        config = self.host.active_config()
        return any(rule.adapter == SOURCE and rule.apply for rule in config.inbound)

    def poll(self) -> int:
        """Read the Teams presence of every logged-in agent (``getPresencesByUserId``, 650 a call, each call
        drawn from the shared presence budget) and report what changed to the inbound rule. Runs under the
        job's lease: one instance of the cluster polls. Returns how many changes it reported."""
        if not self.reading():
            return 0
        self.polls += 1
        return self._read(None)

    def _read(self, only: set[str] | None) -> int:
        """Read the presence of the logged-in agents' users (``only`` these user ids, when given) and report it."""
        views = {v["id"]: v for v in self.host.presences() if v.get("logged_in")}
        if only is None:
            self._attempts.forget_others(set(views))
        users: dict[str, str] = {}
        infos: dict[str, AgentInfo] = {}
        by_id = self.config["user_key"] == "agent_id"
        for agent_id in views:
            # by agent id the user is the agent: no read of the agent's row (1,000 of them every interval)
            info = AgentInfo(agent_id) if by_id else self.host.agent(agent_id)
            user_id = self._user_id(info) if info is not None else None
            if info is not None and user_id and (only is None or user_id in only):
                users[user_id], infos[agent_id] = agent_id, info
        reported = 0
        for batch in batches(sorted(users)):
            use = self.host.spend(self._budget(), 1, BUDGET_WINDOW, READ_SHARE)
            if not use.granted:
                self.poll_deferred += 1  # the rest waits for the next interval: changes keep their room
                break
            try:
                presences = self.read_presences(batch)
            except AdapterError as exc:
                self.poll_error = str(exc)
                log.warning("Teams presence read failed: %s", exc)
                break
            self.poll_error = None
            for presence in presences:
                agent_id = users.get(str(presence.get("id", "")).lower())
                if agent_id is not None and self.report(views[agent_id], presence, infos[agent_id]):
                    reported += 1
        return reported

    def read_presences(self, ids: list[str]) -> list[dict]:
        """``POST /communications/getPresencesByUserId`` for at most 650 user object ids."""
        self.poll_reads += 1
        try:
            reply = self.http.post(
                f"{self.config['graph_url']}/communications/getPresencesByUserId",
                json={"ids": ids},
                timeout=self.config["timeout"],
                headers={"Authorization": f"Bearer {self.token()}"},
            )
        except requests.RequestException as exc:
            raise unreachable("Microsoft Graph", exc) from None
        if reply.status_code == 401:
            self._token = None
        check_reply("Microsoft Graph", reply, "getPresencesByUserId")
        value = reply.json().get("value")
        return [p for p in value if isinstance(p, dict)] if isinstance(value, list) else []

    def report(self, view: dict, presence: dict, info: AgentInfo) -> bool:
        """Report one user's Teams presence to the inbound rule, unless it is the connector's own or unchanged."""
        rule = self.host.active_config().inbound_rule(SOURCE)
        remote: str | None = remote_of(presence, rule.map)
        if rule.map and remote not in rule.map:
            remote = None  # nothing the rule maps: no condition of the user's own
        elif is_ours(presence, self._ours(info, view)):
            remote = None  # what the connector's own session set (looked up only for a presence that maps)
        target = rule.map.get(remote) if remote is not None else None
        key = should_report(view, remote, target, self._attempts)
        if key is None:
            return False
        self._attempts.done(view["id"], key)
        try:
            self.host.inbound(view["id"], SOURCE, remote)
        except Exception as exc:  # noqa: BLE001 - one agent (logged out meanwhile ...) must not stop the poll
            log.info("Teams presence of %s not applied: %s", view["id"], exc)
            return False
        self.inbound_reported += 1
        return True

    def _ours(self, info: AgentInfo, view: dict) -> list[tuple[str, str]]:
        """The (availability, activity) pairs the connector's own session shows for this agent: the last it set,
        and what the agent's current state maps to (a renewal sends that)."""
        pairs: list[tuple[str, str]] = []
        try:
            target = self._record(self.user_for(info)).get("target")
        except AdapterError:
            target = None
        if isinstance(target, list) and len(target) == 3 and target[0] != "clear":
            pairs.append((str(target[1]), str(target[2])))
        try:
            how, availability, activity = teams_target(view.get("state"))
        except AdapterError:
            how = "clear"
        if how != "clear":
            pairs.append((availability, activity))
        return pairs

    def _user_id(self, info: AgentInfo) -> str | None:
        """The user's object id (what getPresencesByUserId takes): the agent id with TEAMS_USER_KEY=agent_id,
        else found by UPN (``GET /users/{upn}?$select=id``, kept a day in the shared store)."""
        if self.config["user_key"] == "agent_id":
            return info.id.lower()
        if not info.email:
            return None
        key = f"{self.name}:user-id:{info.email.lower()}"
        known = self.host.recall(key)
        if isinstance(known, str):
            return known
        try:
            reply = self.http.get(
                f"{self.config['graph_url']}/users/{quote(info.email, safe='@')}",
                params={"$select": "id"},
                timeout=self.config["timeout"],
                headers={"Authorization": f"Bearer {self.token()}"},
            )
        except requests.RequestException as exc:
            self.poll_error = str(unreachable("Microsoft Graph", exc))
            return None
        if reply.status_code >= 400:
            self.poll_error = f"Microsoft Graph users/{{upn}}: HTTP {reply.status_code} (User.Read.All consented?)"
            return None
        user_id = str(reply.json().get("id") or "").lower()
        if user_id:
            self.host.remember(key, user_id, USER_ID_SECONDS)
        return user_id or None

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
            "presence_reads": self.poll_reads,
            "presence_reads_deferred": self.poll_deferred,
            "presence_read_error": self.poll_error,
            "inbound_reported": self.inbound_reported,
            **(self.subscriptions.health() if self.subscriptions.configured else {}),
        }

    def check(self) -> str:
        self._token = None
        self.token()
        done = f"client-credentials token issued for tenant {self.config['tenant_id']}"
        if self.subscriptions.configured:  # change notifications: the delegated token must be issued too
            self.subscriptions._token = None
            self.subscriptions.token(retry_parked=True)  # the admin asked: a parked token is tried again
            done += "; delegated token (Presence.Read.All) issued for change notifications"
        return done


def _route(state: Mapping[str, Any]) -> str:
    try:
        return teams_target(state)[0]
    except AdapterError:
        return "session"
