"""The connection to Salesforce: an OAuth 2.0 token, then simple-salesforce on ``instance_url``.

Every failure is translated at this edge into one small exception tree, so the flush decides
by kind (retry later, pause for the API limit, park) and never sees a library error. Secrets
(client secret, password, security token, private key, access token) never reach a message.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import jwt  # PyJWT; cryptography signs RS256
import requests

from connector.salesforce.settings import SalesforceSettings
from connector.version import USER_AGENT

if TYPE_CHECKING:
    from simple_salesforce import Salesforce

#: errors Salesforce gives for a moment's trouble: try again later, nothing is wrong with the data
RETRYABLE_CODES = frozenset(
    {"UNABLE_TO_LOCK_ROW", "SERVER_UNAVAILABLE", "REQUEST_RUNNING_TOO_LONG", "QUERY_TIMEOUT", "TOO_MANY_APEX_REQUESTS"}
)
LIMIT_CODE = "REQUEST_LIMIT_EXCEEDED"
_USAGE_RE = re.compile(r"(?:^|[^-])api-usage=(\d+)/(\d+)")


class SalesforceProblem(Exception):
    """Base of what can go wrong talking to Salesforce; ``message`` is safe to show."""

    kind = "error"

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class Unavailable(SalesforceProblem):
    """5xx, a timeout, no connection, a locked row: retried later with backoff."""

    kind = "unavailable"


class LimitExceeded(SalesforceProblem):
    """REQUEST_LIMIT_EXCEEDED: the org's API allowance is used up; no calls until the next window."""

    kind = "limit"


class AuthenticationFailed(SalesforceProblem):
    """The token endpoint refused the credentials (or the session stayed invalid after a re-login)."""

    kind = "auth"


class CallRejected(SalesforceProblem):
    """Salesforce refused the whole call (e.g. the object does not exist in the org)."""

    kind = "rejected"


def parse_api_usage(header: str | None) -> tuple[int, int] | None:
    """``Sforce-Limit-Info: api-usage=18/5000`` -> (18, 5000)."""
    match = _USAGE_RE.search(header or "")
    return (int(match.group(1)), int(match.group(2))) if match else None


def error_codes(content: Any) -> list[tuple[str, str]]:
    """(errorCode, message) pairs from a Salesforce error body (a list of error objects)."""
    items = content if isinstance(content, list) else [content]
    out = []
    for item in items:
        if isinstance(item, dict):
            out.append(
                (
                    str(item.get("errorCode") or item.get("statusCode") or item.get("error") or ""),
                    str(item.get("message") or item.get("error_description") or "")[:300],
                )
            )
    return out


class Connection:
    """One logged-in client, re-authenticated once when Salesforce says the session is invalid."""

    def __init__(self, settings: SalesforceSettings, clock: Callable[[], datetime]):
        self.settings = settings
        self.clock = clock
        self._client: Salesforce | None = None
        self._lock = threading.Lock()
        #: the org's usage from the last Sforce-Limit-Info header: (used, limit, when)
        self.api_usage: tuple[int, int, datetime] | None = None
        self.logins = 0

    def use(self, settings: SalesforceSettings) -> None:
        """New settings (the connection saved on the admin page): the next call logs in with them."""
        with self._lock:
            self.settings = settings
            self._client = None
            self.api_usage = None

    # -- authentication -----------------------------------------------------------------------
    def _token_request(self) -> dict:
        s = self.settings
        data = {"client_id": s.client_id}
        if s.auth_mode == "jwt":
            data = {"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": self._jwt_assertion()}
        elif s.auth_mode == "password":
            data.update(
                grant_type="password",
                client_secret=s.client_secret,
                username=s.username,
                password=s.password + s.security_token,
            )
        else:
            data.update(grant_type="client_credentials", client_secret=s.client_secret)
        return data

    def _jwt_assertion(self) -> str:
        s = self.settings
        try:
            with open(s.private_key_file, "rb") as fh:
                key = fh.read()
        except OSError as exc:
            raise AuthenticationFailed(
                f"cannot read SF_PRIVATE_KEY_FILE {s.private_key_file}: {exc.strerror or type(exc).__name__}"
            ) from None
        claims = {
            "iss": s.client_id,
            "sub": s.username,
            "aud": s.jwt_audience,
            "exp": int(time.time()) + 180,
        }  # the real time: Salesforce checks it, not our test clock
        try:
            return jwt.encode(claims, key, algorithm="RS256")
        except Exception:  # a key that is not an RSA private key in PEM: say so, never show it
            raise AuthenticationFailed("SF_PRIVATE_KEY_FILE is not an RSA private key in PEM format") from None

    def login(self) -> Salesforce:
        """Ask the token endpoint for an access token and build the client on its instance URL."""
        s = self.settings
        url = f"{s.login_url}/services/oauth2/token"
        try:
            response = requests.post(
                url,
                data=self._token_request(),
                headers={"Accept": "application/json", "User-Agent": USER_AGENT},
                timeout=s.timeout_seconds,
            )
        except requests.RequestException as exc:
            raise Unavailable(f"token request to {urlparse(url).hostname} failed: {type(exc).__name__}") from None
        if response.status_code >= 500:
            raise Unavailable(f"token endpoint answered HTTP {response.status_code}")
        try:
            body = response.json()
        except ValueError:
            body = {}
        if response.status_code != 200:
            codes = error_codes(body) or [("", "")]
            raise AuthenticationFailed(
                f"Salesforce refused the {s.auth_mode} login "
                f"(HTTP {response.status_code}): {codes[0][0]} {codes[0][1]}".rstrip()
            )
        instance_url, token = body.get("instance_url"), body.get("access_token")
        if not token or not instance_url or urlparse(instance_url).scheme != "https":
            raise AuthenticationFailed("the token response has no access_token or no https instance_url")
        session = requests.Session()
        session.headers["User-Agent"] = USER_AGENT
        session.hooks["response"].append(self._note_usage)
        self.logins += 1
        # imported here: simple-salesforce loads zeep and lxml (about half a second), which every process that
        # never talks to Salesforce (each CLI command, an instance without SF_* settings) would pay at start
        from simple_salesforce import Salesforce

        return Salesforce(instance_url=instance_url, session_id=token, version=s.api_version, session=session)

    def _note_usage(self, response: requests.Response, *args, **kwargs) -> None:
        usage = parse_api_usage(response.headers.get("Sforce-Limit-Info"))
        if usage:
            self.api_usage = (usage[0], usage[1], self.clock())

    # -- calls ---------------------------------------------------------------------------------
    def _run(self, operation: Callable[[Salesforce], Any]) -> Any:
        from simple_salesforce.exceptions import SalesforceError, SalesforceExpiredSession  # see login()

        with self._lock:
            if self._client is None:
                self._client = self.login()
            for attempt in (1, 2):
                try:
                    return operation(self._client)
                except SalesforceExpiredSession:
                    self._client = None
                    if attempt == 2:
                        raise AuthenticationFailed(
                            "Salesforce says the session is invalid right after a login (INVALID_SESSION_ID)"
                        ) from None
                    self._client = self.login()  # the token expired or was revoked: one re-login, then retry
                except SalesforceError as exc:
                    raise translate(exc.status, exc.content) from None
                except requests.Timeout:
                    raise Unavailable(f"Salesforce did not answer within {self.settings.timeout_seconds:g} s") from None
                except requests.RequestException as exc:
                    raise Unavailable(f"connection to Salesforce failed: {type(exc).__name__}") from None
        raise AssertionError("unreachable")  # pragma: no cover

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        """A REST call relative to ``/services/data/vXX.X/``; returns the parsed JSON."""
        timeout = self.settings.timeout_seconds
        return self._run(lambda sf: sf.restful(path, method=method, timeout=timeout, **kwargs))

    def query_all(self, soql: str) -> list[dict]:
        timeout = self.settings.timeout_seconds
        return self._run(lambda sf: sf.query_all(soql, timeout=timeout))["records"]


def translate(status: int, content: Any) -> SalesforceProblem:
    """A failed HTTP answer for the whole call -> the kind of problem it is."""
    codes = error_codes(content)
    names = {code for code, _ in codes}
    summary = "; ".join(f"{c}: {m}".strip(": ") for c, m in codes[:3]) or f"HTTP {status}"
    if LIMIT_CODE in names:
        return LimitExceeded(f"{LIMIT_CODE}: {dict(codes).get(LIMIT_CODE) or 'API request limit reached'}")
    if status >= 500 or names & RETRYABLE_CODES:
        return Unavailable(f"HTTP {status}: {summary}"[:500])
    return CallRejected(f"HTTP {status}: {summary}"[:500])
