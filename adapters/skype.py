"""Skype for Business (Lync) Server presence through UCWA, one way (the seed: Skype changes do not
come back).

UCWA sets only the signed-in user's own presence, so the adapter signs in as each agent (UPN =
the agent's email) with credentials from ``SKYPE_CREDENTIALS_FILE`` (one ``upn:password`` a line,
readable only by the service). Per agent, once: autodiscover ``https://lyncdiscover.<domain>``
→ the user resource → its 401 names the web ticket service (``MsRtcOAuth href=...``) → OAuth
password grant → create the application → ``makeMeAvailable``; then each change is one
``POST .../me/presence {"availability": ...}``. An expired application is re-created once.

Mapping (per state ``adapters: {skype: ...}`` overrides): Online→Online, Away→Away,
DND→DoNotDisturb, Busy→Busy, On a call→Busy, Offline/Logout→Offwork.
"""
from __future__ import annotations

import re
import threading
import uuid
from pathlib import Path
from urllib.parse import urljoin

import requests

from .base import Adapter, AdapterConfigError, AdapterError, AgentInfo, Change, Setting
from .http_errors import check_reply, unreachable

AVAILABILITIES = ("Online", "Busy", "DoNotDisturb", "BeRightBack", "Away", "Offwork")
BY_STATUS = {1: "Online", 2: "Offwork", 3: "Away", 4: "DoNotDisturb", 5: "Busy", 6: "Busy", 7: "Offwork"}
OAUTH_HREF = re.compile(r'MsRtcOAuth\s+href="([^"]+)"')


def skype_availability(state: dict | None) -> str:
    if state is None:
        return "Offwork"
    mapped = (state.get("adapters") or {}).get("skype") or BY_STATUS.get(state.get("status"), "Online")
    if mapped not in AVAILABILITIES:
        raise AdapterError(f"Skype for Business has no availability '{mapped}' (state '{state.get('id')}'); "
                           f"use one of: {', '.join(AVAILABILITIES)}", retryable=False)
    return mapped


class SkypeAdapter(Adapter):
    name = "skype"
    prefix = "SKYPE_"
    max_concurrency = 4
    settings = {
        "domain": Setting(str, required=True, help="SIP domain; autodiscover is https://lyncdiscover.<domain>"),
        "credentials_file": Setting(str, required=True, help="file of 'upn:password' lines, one per agent"),
        "discover_url": Setting(str, default="", help="override the autodiscover URL"),
        "user_agent": Setting(str, default="PresenceConnector/1.0"),
        "timeout": Setting(float, default=10.0, range=(0.5, 60)),
    }

    def __init__(self, values=None):
        super().__init__(values)
        path = Path(self.config["credentials_file"])
        if not path.is_file():
            raise AdapterConfigError(f"SKYPE_CREDENTIALS_FILE: no file at {path}", "SKYPE_CREDENTIALS_FILE")
        self._passwords: dict[str, str] = {}
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if line.strip() and not line.lstrip().startswith("#"):
                upn, sep, password = line.strip().partition(":")
                if not sep or not upn or not password:
                    raise AdapterConfigError(f"SKYPE_CREDENTIALS_FILE line {number} is not 'upn:password'",
                                                 "SKYPE_CREDENTIALS_FILE")
                self._passwords[upn.lower()] = password
        self._sessions: dict[str, dict] = {}
        self._lock = threading.Lock()

    def wants(self, options) -> bool:
        return bool(getattr(options, "skype_sync", False))

    # -- HTTP --------------------------------------------------------------------------------
    def _call(self, method: str, url: str, what: str, token: str | None = None, passthrough: tuple[int, ...] = (),
              **kw) -> requests.Response:
        headers = {"Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        try:
            reply = requests.request(method, url, headers=headers, timeout=self.config["timeout"], **kw)
        except requests.RequestException as exc:
            raise unreachable("Skype for Business", exc) from None
        if reply.status_code in passthrough:
            return reply
        return check_reply("Skype for Business", reply, what)

    def sign_in(self, upn: str) -> dict:
        """Autodiscover, authenticate and create a UCWA application for one user."""
        password = self._passwords.get(upn.lower())
        if password is None:
            raise AdapterError(f"no Skype for Business credentials for '{upn}' in SKYPE_CREDENTIALS_FILE",
                               retryable=False)
        discover = self.config["discover_url"] or f"https://lyncdiscover.{self.config['domain']}/"
        links = self._call("GET", discover, "autodiscover").json().get("_links", {})
        if "redirect" in links:
            links = self._call("GET", links["redirect"]["href"], "autodiscover").json().get("_links", {})
        user_url = links.get("user", {}).get("href")
        if not user_url:
            raise AdapterError("Skype for Business autodiscover named no user resource", retryable=False)
        challenge = self._call("GET", user_url, "user resource", passthrough=(401,))
        found = OAUTH_HREF.search(challenge.headers.get("WWW-Authenticate", ""))
        if challenge.status_code != 401 or not found:
            raise AdapterError("Skype for Business did not name its web ticket service (MsRtcOAuth)",
                               retryable=False)
        ticket = self._call("POST", found.group(1), "web ticket", passthrough=(400, 401),
                            data={"grant_type": "password", "username": upn, "password": password})
        if ticket.status_code in (400, 401):
            raise AdapterError(f"Skype for Business refused the password of '{upn}'", retryable=False)
        token = ticket.json()["access_token"]
        user = self._call("GET", user_url, "user resource", token=token).json()
        applications = user["_links"]["applications"]["href"]
        endpoint = str(uuid.uuid5(uuid.NAMESPACE_URL, f"presence-connector:{upn.lower()}"))
        app = self._call("POST", applications, "create application", token=token,
                         json={"UserAgent": self.config["user_agent"], "EndpointId": endpoint,
                               "Culture": "en-US"}).json()
        app_url = urljoin(applications, app["_links"]["self"]["href"])
        make_available = urljoin(app_url, app["_embedded"]["me"]["_links"]["makeMeAvailable"]["href"])
        self._call("POST", make_available, "makeMeAvailable", token=token,
                   json={"SupportedModalities": ["Messaging"]})
        me = self._call("GET", app_url, "application", token=token).json()["_embedded"]["me"]
        presence = urljoin(app_url, me["_links"]["presence"]["href"])
        return {"token": token, "application": app_url, "presence": presence}

    # -- the contract ------------------------------------------------------------------------
    def push(self, agent: AgentInfo, change: Change) -> None:
        if change.kind != "presence":
            return
        if not agent.email:
            raise AdapterError(f"agent '{agent.id}' has no email (the Skype for Business sign-in address)",
                               retryable=False)
        availability = skype_availability(change.state)
        for attempt in (1, 2):
            with self._lock:
                session = self._sessions.get(agent.email.lower())
            if session is None:
                session = self.sign_in(agent.email)
                with self._lock:
                    self._sessions[agent.email.lower()] = session
            try:
                self._call("POST", session["presence"], "presence", token=session["token"],
                           json={"availability": availability})
                return
            except AdapterError as exc:
                stale = str(exc).startswith("Skype for Business presence: HTTP 40") and any(
                    f"HTTP {code}" in str(exc) for code in (401, 404, 410))
                with self._lock:
                    self._sessions.pop(agent.email.lower(), None)
                if not stale or attempt == 2:
                    raise

    def check(self) -> str:
        discover = self.config["discover_url"] or f"https://lyncdiscover.{self.config['domain']}/"
        self._call("GET", discover, "autodiscover")
        return f"autodiscover answered at {discover}; {len(self._passwords)} agent credential(s) loaded"

    def health(self) -> dict:
        return {"signed_in_agents": len(self._sessions)}
