"""Skype for Business (Lync) Server presence through UCWA, one way (the seed: Skype changes do not
come back).

UCWA sets only the signed-in user's own presence, so the adapter signs in as each agent (UPN =
the agent's email) with credentials from ``SKYPE_CREDENTIALS_FILE`` (one ``upn:password`` a line,
readable only by the service). Per agent, once: autodiscover ``https://lyncdiscover.<domain>``
→ the user resource → its 401 names the web ticket service (``MsRtcOAuth href=...``) → OAuth
password grant → create the application → ``makeMeAvailable``; then each change is one
``POST .../me/presence {"availability": ...}``. An expired application is re-created once.

Keeping the application alive while the agent is logged in (UCWA reference): ``reportMyActivity``
"at least once every four minutes; otherwise, the user's availability will change to a less available
status" — the dispatcher re-sends the agent's presence every ``refresh_seconds`` (3 minutes) and such a
renewal is one ``reportMyActivity``; and an event channel (a pending GET on the application's ``events``
link, following ``next``) held by a small thread per signed-in agent, since UCWA drops an application
whose event channel stays idle. An application found gone (404/410) is created again and the agent's
presence published again. At logout Offwork is published and the application is no longer kept alive.

Users homed on another pool: the authenticated user resource may hold only a ``redirect`` link
(MS-OCDISCWS 3.1.5.3); it is followed (at most ``MAX_REDIRECTS`` hops, signing in again at each pool's
web ticket service). The 401 names the web ticket service as ``MsRtcOAuth href="..."`` or, as in the UCWA
authentication article's example, without quotes.

Mapping (per state ``adapters: {skype: ...}`` overrides): Online→Online, Away→Away,
DND→DoNotDisturb, Busy→Busy, On a call→Busy, Offline/Logout→Offwork.
"""

from __future__ import annotations

import os
import re
import threading
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import requests

from adapters.base import Adapter, AdapterConfigError, AdapterError, AgentInfo, Change, Setting
from adapters.support.http_errors import check_reply, unreachable
from connector.version import USER_AGENT

AVAILABILITIES = ("Online", "Busy", "DoNotDisturb", "BeRightBack", "Away", "Offwork")
#: by a state's status (looked up with whatever the state holds: None when it has none)
BY_STATUS: dict[object, str] = {
    1: "Online",
    2: "Offwork",
    3: "Away",
    4: "DoNotDisturb",
    5: "Busy",
    6: "Busy",
    7: "Offwork",
}
OAUTH_HREF = re.compile(r'MsRtcOAuth\s+href="?([^",\s]+)"?')
MAX_REDIRECTS = 4
#: UCWA: report activity at least every 4 minutes; the dispatcher's renewal scan runs every 30 s
ACTIVITY_SECONDS = 180.0
#: the pending GET's own timeout (UCWA: 180-1800 s); the HTTP read waits a little longer
EVENT_CHANNEL_TIMEOUT = 180


def skype_availability(state: Mapping[str, Any] | None) -> str:
    if state is None:
        return "Offwork"
    mapped = (state.get("adapters") or {}).get("skype") or BY_STATUS.get(state.get("status"), "Online")
    if mapped not in AVAILABILITIES:
        raise AdapterError(
            f"Skype for Business has no availability '{mapped}' (state '{state.get('id')}'); "
            f"use one of: {', '.join(AVAILABILITIES)}",
            retryable=False,
        )
    return mapped


class SkypeAdapter(Adapter):
    name = "skype"
    prefix = "SKYPE_"
    max_concurrency = 4
    refresh_seconds = ACTIVITY_SECONDS
    settings = {
        "domain": Setting(str, required=True, help="SIP domain; autodiscover is https://lyncdiscover.<domain>"),
        "credentials_file": Setting(
            str, required=True, help="file of 'upn:password' lines, one per agent, in SKYPE_CREDENTIALS_DIR"
        ),
        "credentials_dir": Setting(
            str, default="", help="the directory the credentials file must be in (environment only)"
        ),
        "discover_url": Setting(str, default="", kind="url", help="override the autodiscover URL"),
        "user_agent": Setting(str, default=USER_AGENT),
        "timeout": Setting(float, default=10.0, range=(0.5, 60)),
        "event_channel": Setting(bool, default=True, help="hold each agent's UCWA event channel open"),
    }

    def __init__(self, values=None):
        super().__init__(values)
        path = _credentials_path(self.config["credentials_dir"], self.config["credentials_file"])
        try:
            text = path.read_text()
        except (OSError, UnicodeError):
            raise AdapterConfigError(
                "SKYPE_CREDENTIALS_FILE: no readable credentials file of that name in SKYPE_CREDENTIALS_DIR",
                "SKYPE_CREDENTIALS_FILE",
            ) from None
        self._passwords: dict[str, str] = {}
        for number, line in enumerate(text.splitlines(), 1):
            if line.strip() and not line.lstrip().startswith("#"):
                upn, sep, password = line.strip().partition(":")
                if not sep or not upn or not password:
                    raise AdapterConfigError(
                        f"SKYPE_CREDENTIALS_FILE line {number} is not 'upn:password'", "SKYPE_CREDENTIALS_FILE"
                    )
                self._passwords[upn.lower()] = password
        self._sessions: dict[str, dict] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()

    switched_by = "skype_sync"

    def wants(self, options) -> bool:
        return bool(getattr(options, "skype_sync", False))

    # -- HTTP --------------------------------------------------------------------------------
    def _call(
        self, method: str, url: str, what: str, token: str | None = None, passthrough: tuple[int, ...] = (), **kw
    ) -> requests.Response:
        headers = {"Accept": "application/json", "User-Agent": USER_AGENT}
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
            raise AdapterError(
                f"no Skype for Business credentials for '{upn}' in SKYPE_CREDENTIALS_FILE", retryable=False
            )
        discover = self.config["discover_url"] or f"https://lyncdiscover.{self.config['domain']}/"
        links = self._call("GET", discover, "autodiscover").json().get("_links", {})
        if "redirect" in links:
            links = self._call("GET", links["redirect"]["href"], "autodiscover").json().get("_links", {})
        user_url = links.get("user", {}).get("href")
        if not user_url:
            raise AdapterError("Skype for Business autodiscover named no user resource", retryable=False)
        token, applications = self._authenticate(upn, password, user_url)
        endpoint = str(uuid.uuid5(uuid.NAMESPACE_URL, f"presence-connector:{upn.lower()}"))
        app = self._call(
            "POST",
            applications,
            "create application",
            token=token,
            json={"UserAgent": self.config["user_agent"], "EndpointId": endpoint, "Culture": "en-US"},
        ).json()
        app_url = urljoin(applications, app["_links"]["self"]["href"])
        make_available = urljoin(app_url, app["_embedded"]["me"]["_links"]["makeMeAvailable"]["href"])
        self._call("POST", make_available, "makeMeAvailable", token=token, json={"SupportedModalities": ["Messaging"]})
        application = self._call("GET", app_url, "application", token=token).json()
        me, app_links = application["_embedded"]["me"], application.get("_links", {})
        presence = urljoin(app_url, me["_links"]["presence"]["href"])
        activity = me["_links"].get("reportMyActivity", {}).get("href")
        events = app_links.get("events", {}).get("href")
        return {
            "token": token,
            "application": app_url,
            "presence": presence,
            "activity": urljoin(app_url, activity) if activity else None,
            "events": urljoin(app_url, events) if events else None,
        }

    def _authenticate(self, upn: str, password: str, user_url: str) -> tuple[str, str]:
        """The web ticket and the applications URL, following pool redirects (MS-OCDISCWS 3.1.5.3)."""
        for _hop in range(MAX_REDIRECTS + 1):
            challenge = self._call("GET", user_url, "user resource", passthrough=(401,))
            found = OAUTH_HREF.search(challenge.headers.get("WWW-Authenticate", ""))
            if challenge.status_code != 401 or not found:
                raise AdapterError(
                    "Skype for Business did not name its web ticket service (MsRtcOAuth)", retryable=False
                )
            ticket = self._call(
                "POST",
                urljoin(user_url, found.group(1)),
                "web ticket",
                passthrough=(400, 401),
                data={"grant_type": "password", "username": upn, "password": password},
            )
            if ticket.status_code in (400, 401):
                raise AdapterError(f"Skype for Business refused the password of '{upn}'", retryable=False)
            token = ticket.json()["access_token"]
            links = self._call("GET", user_url, "user resource", token=token).json().get("_links", {})
            if "applications" in links:
                return token, urljoin(user_url, links["applications"]["href"])
            if "redirect" not in links:
                break
            user_url = urljoin(user_url, links["redirect"]["href"])  # the user's home pool
        else:
            raise AdapterError(
                f"Skype for Business sent '{upn}' through more than {MAX_REDIRECTS} pool redirects", retryable=False
            )
        raise AdapterError(
            f"Skype for Business named no applications resource for '{upn}' (neither "
            "'applications' nor 'redirect' in the user resource)",
            retryable=False,
        )

    # -- the contract ------------------------------------------------------------------------
    def push(self, agent: AgentInfo, change: Change) -> None:
        if change.kind != "presence":
            return
        if not agent.email:
            raise AdapterError(
                f"agent '{agent.id}' has no email (the Skype for Business sign-in address)", retryable=False
            )
        upn = agent.email.lower()
        availability = skype_availability(change.state)
        for attempt in (1, 2):
            with self._lock:
                session = self._sessions.get(upn)
            created = session is None
            if session is None:
                session = self.sign_in(agent.email)
                with self._lock:
                    self._sessions[upn] = session
                self._open_event_channel(upn, session)
            try:
                if change.renewal and not created and session.get("activity"):
                    # the agent is still here: keep the application and its availability alive
                    self._call("POST", session["activity"], "reportMyActivity", token=session["token"])
                else:  # a change, or a re-created application: publish the presence (again)
                    self._call(
                        "POST",
                        session["presence"],
                        "presence",
                        token=session["token"],
                        json={"availability": availability},
                    )
                if change.state is None:
                    self._sign_out(upn, session)
                return
            except AdapterError as exc:
                stale = any(f": HTTP {code}" in str(exc) for code in (401, 404, 410))
                self._forget(upn)
                if not stale or attempt == 2:
                    raise

    def _forget(self, upn: str) -> None:
        with self._lock:
            session = self._sessions.pop(upn, None)
        if session is not None:
            session["closed"].set()

    def _sign_out(self, upn: str, session: dict) -> None:
        """Logout: Offwork is published; stop keeping the application alive (UCWA lets it expire)."""
        self._forget(upn)

    # -- the event channel -------------------------------------------------------------------
    def _open_event_channel(self, upn: str, session: dict) -> None:
        session["closed"] = threading.Event()
        if not (self.config["event_channel"] and session.get("events")):
            return
        threading.Thread(
            target=self._hold_event_channel, args=(upn, session), daemon=True, name=f"ucwa-events-{upn}"
        ).start()

    def _hold_event_channel(self, upn: str, session: dict) -> None:
        url, closed = session["events"], session["closed"]
        while not (closed.is_set() or self._stop.is_set()):
            try:
                reply = requests.get(
                    url,
                    params={"timeout": EVENT_CHANNEL_TIMEOUT},
                    timeout=EVENT_CHANNEL_TIMEOUT + 30,
                    headers={
                        "Accept": "application/json",
                        "Authorization": f"Bearer {session['token']}",
                        "User-Agent": USER_AGENT,
                    },
                )
            except requests.RequestException:
                closed.wait(5.0)  # the pool is away for a moment: hold the channel again shortly
                continue
            if reply.status_code in (401, 404, 410):
                self._forget(upn)  # the application is gone: the next push creates it and publishes again
                return
            try:
                nxt = reply.json().get("_links", {}).get("next", {}).get("href")
            except ValueError:
                nxt = None
            url = urljoin(url, nxt) if nxt else url
            closed.wait(1.0)  # a channel the server releases at once must not become a busy loop

    def check(self) -> str:
        discover = self.config["discover_url"] or f"https://lyncdiscover.{self.config['domain']}/"
        self._call("GET", discover, "autodiscover")
        return f"autodiscover answered at {discover}; {len(self._passwords)} agent credential(s) loaded"

    def stop(self) -> None:
        self._stop.set()
        with self._lock:
            sessions, self._sessions = list(self._sessions.values()), {}
        for session in sessions:
            session["closed"].set()

    def health(self) -> dict:
        return {"signed_in_agents": len(self._sessions)}


def _credentials_path(directory: str, name: str) -> Path:
    """The credentials file, which must lie in ``directory`` (SKYPE_CREDENTIALS_DIR). Nothing is read before
    that is checked, and no message says whether a path outside it exists."""
    if not directory:
        raise AdapterConfigError(
            "SKYPE_CREDENTIALS_DIR is not set: set it in the environment to the directory holding the credentials file",
            "SKYPE_CREDENTIALS_DIR",
        )
    root = os.path.realpath(directory)
    path = os.path.realpath(os.path.join(root, name))
    if os.path.commonpath([root, path]) != root or path == root:
        raise AdapterConfigError(
            "SKYPE_CREDENTIALS_FILE must name a file in SKYPE_CREDENTIALS_DIR", "SKYPE_CREDENTIALS_FILE"
        )
    return Path(path)
