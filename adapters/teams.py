"""Microsoft Teams presence through Microsoft Graph (Skype for Business Online was retired in 2021).

* Token: OAuth client credentials (``TEAMS_TENANT_ID``, ``TEAMS_CLIENT_ID``, ``TEAMS_CLIENT_SECRET``);
  the app needs the application permission ``Presence.ReadWrite.All``.
* Available / Busy (InACall) / Away: ``POST /users/{id}/presence/setPresence`` in the app's own
  presence session (``sessionId`` = the app's client id) with ``expirationDuration``; the dispatcher
  sends it again before it lapses while the agent stays in the state (``refresh_seconds``).
* DoNotDisturb and BeRightBack: ``setUserPreferredPresence`` (session presence cannot say DND), and
  ``clearUserPreferredPresence`` when the agent leaves it.
* Offline and logout: ``clearPresence`` — Teams then shows what the user's own clients say.
* The user is the agent's UPN (``email``) or, with ``TEAMS_USER_KEY=agent_id``, an agent id that is
  the Azure AD object id. 429 answers are retried after their ``Retry-After``.

Per-state mapping: ``adapters: {teams: Busy}`` or ``{teams: {availability: Busy, activity: InACall}}``.
"""
from __future__ import annotations

import threading
import time
from urllib.parse import quote

import requests

from .base import Adapter, AdapterError, AgentInfo, Change, Setting
from .http_errors import check_reply, unreachable

#: Graph's supported setPresence pairs, and the preferred-presence ones
SESSION = {"Available": ("Available", "Available"), "Busy": ("Busy", "InACall"), "Away": ("Away", "Away")}
PREFERRED = {"DoNotDisturb": ("DoNotDisturb", "DoNotDisturb"), "BeRightBack": ("BeRightBack", "BeRightBack")}
CLEAR = ("Offline", "OffWork")
BY_STATUS = {1: "Available", 2: "Offline", 3: "Away", 4: "DoNotDisturb", 5: "Busy", 6: "Busy", 7: "Offline"}


def teams_target(state: dict | None) -> tuple[str, str, str]:
    """(how, availability, activity) for a state: how is 'session', 'preferred' or 'clear'."""
    if state is None:
        return "clear", "", ""
    mapped = (state.get("adapters") or {}).get("teams") or BY_STATUS.get(state.get("status"), "Available")
    if isinstance(mapped, dict):
        availability, activity = mapped.get("availability", "Available"), mapped.get("activity")
    else:
        availability, activity = str(mapped), None
    if availability in CLEAR:
        return "clear", "", ""
    if availability in PREFERRED:
        return "preferred", availability, activity or PREFERRED[availability][1]
    if availability in SESSION:
        return "session", availability, activity or SESSION[availability][1]
    raise AdapterError(f"Teams has no presence '{availability}' (state '{state.get('id')}'); use one of: "
                       f"{', '.join([*SESSION, *PREFERRED, *CLEAR])}", retryable=False)


class TeamsAdapter(Adapter):
    name = "teams"
    prefix = "TEAMS_"
    max_concurrency = 4
    settings = {
        "tenant_id": Setting(str, required=True, help="the Azure AD (Entra ID) tenant id"),
        "client_id": Setting(str, required=True, help="the app registration's client id (also the sessionId)"),
        "client_secret": Setting(str, required=True, secret=True),
        "user_key": Setting(str, default="email", choices=("email", "agent_id")),
        "expiration_minutes": Setting(int, default=60, range=(5, 240)),
        "graph_url": Setting(str, default="https://graph.microsoft.com/v1.0"),
        "login_url": Setting(str, default="https://login.microsoftonline.com"),
        "timeout": Setting(float, default=10.0, range=(0.5, 60)),
    }

    def __init__(self, values=None):
        super().__init__(values)
        # renew five minutes (or a third of a short expiry) before the session presence lapses
        minutes = self.config["expiration_minutes"]
        self.refresh_seconds = (minutes - min(5, minutes / 3)) * 60
        self._token: tuple[str, float] | None = None
        self._token_lock = threading.Lock()

    def wants(self, options) -> bool:
        return bool(getattr(options, "teams_sync", False))

    # -- Graph calls -------------------------------------------------------------------------
    def token(self) -> str:
        with self._token_lock:
            if self._token and self._token[1] > time.monotonic():
                return self._token[0]
            url = f"{self.config['login_url']}/{quote(self.config['tenant_id'], safe='')}/oauth2/v2.0/token"
            try:
                reply = requests.post(url, data={"client_id": self.config["client_id"],
                                                 "client_secret": self.config["client_secret"],
                                                 "scope": "https://graph.microsoft.com/.default",
                                                 "grant_type": "client_credentials"}, timeout=self.config["timeout"])
            except requests.RequestException as exc:
                raise unreachable("Microsoft login", exc) from None
            if reply.status_code in (400, 401):
                try:
                    reason = str(reply.json().get("error", ""))
                except ValueError:
                    reason = ""
                raise AdapterError(f"Microsoft login refused the client credentials (HTTP {reply.status_code}"
                                   f"{', ' + reason[:80] if reason else ''}); check TEAMS_TENANT_ID, "
                                   "TEAMS_CLIENT_ID and TEAMS_CLIENT_SECRET", retryable=False)
            check_reply("Microsoft login", reply, "token")
            body = reply.json()
            self._token = (body["access_token"], time.monotonic() + max(60, int(body.get("expires_in", 3600)) - 60))
            return self._token[0]

    def _post(self, user: str, action: str, body: dict | None) -> None:
        url = f"{self.config['graph_url']}/users/{quote(user, safe='@')}/presence/{action}"
        try:
            reply = requests.post(url, json=body, timeout=self.config["timeout"],
                                  headers={"Authorization": f"Bearer {self.token()}"})
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
        was_preferred = change.previous is not None and _safe_target(change.previous)[0] == "preferred"
        expiration = f"PT{self.config['expiration_minutes']}M"
        if was_preferred and how != "preferred" and not change.renewal:
            self._post(user, "clearUserPreferredPresence", None)
        if how == "clear":
            self._post(user, "clearPresence", {"sessionId": self.config["client_id"]})
        elif how == "preferred":
            self._post(user, "setUserPreferredPresence", {"availability": availability, "activity": activity,
                                                          "expirationDuration": expiration})
        else:
            self._post(user, "setPresence", {"sessionId": self.config["client_id"], "availability": availability,
                                             "activity": activity, "expirationDuration": expiration})

    def check(self) -> str:
        self._token = None
        self.token()
        return f"client-credentials token issued for tenant {self.config['tenant_id']}"


def _safe_target(state: dict) -> tuple[str, str, str]:
    try:
        return teams_target(state)
    except AdapterError:
        return "session", "", ""
