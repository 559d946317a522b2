"""PBX dial commands over HTTP: a URL template, as desk phones' action URLs and PBX HTTP APIs take them.

Examples (``PBX_HTTP_URL``):

* Yealink: ``http://{phone}/servlet?key=number={code}`` — with ``PBX_HTTP_AUTH=basic``;
* Snom: ``http://{phone}/command.htm?number={code}`` — with ``PBX_HTTP_AUTH=digest`` on newer firmware;
* a PBX API: ``https://pbx.example.com/api/dial?ext={extension}&code={code}``, ``PBX_HTTP_METHOD=POST``.

Placeholders: ``{code}`` (URL-encoded digits), ``{extension}``, ``{agent}``, ``{email}`` and ``{phone}``
(the host from ``PBX_HTTP_PHONE_HOST``, itself a template such as ``phone-{extension}.lan``).
"""

from __future__ import annotations

import logging
import threading
from urllib.parse import quote

import requests
from requests.auth import AuthBase, HTTPBasicAuth, HTTPDigestAuth

from adapters.base import Adapter, AdapterConfigError, AdapterError, AgentInfo, Change, Setting
from adapters.support.http_errors import retry_after
from adapters.support.pbx_codes import PBX_SOURCE, dial_code, pbx_wanted, pbx_why_not

_secret_request = threading.local()


class _HidePinRequests(logging.Filter):
    """urllib3 logs request lines (with the URL) at DEBUG; drop them while a URL carries a PIN."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not getattr(_secret_request, "active", False)


logging.getLogger("urllib3.connectionpool").addFilter(_HidePinRequests())


class PbxHttpAdapter(Adapter):
    name = "pbx_http"
    prefix = "PBX_HTTP_"
    echo_source = PBX_SOURCE
    dials = True
    settings = {
        "url": Setting(
            str,
            required=True,
            kind="url",
            placeholders=("{code}",),
            help="URL template with {code}, e.g. http://{phone}/servlet?key=number={code}",
        ),
        "method": Setting(str, default="GET", choices=("GET", "POST", "PUT")),
        "headers": Setting(str, default="", help="extra headers, 'Name: value' separated by ';'"),
        "auth": Setting(str, default="none", choices=("none", "basic", "digest")),
        "username": Setting(str, default=""),
        "password": Setting(str, default="", secret=True),
        "phone_host": Setting(str, default="", help="template for {phone}, e.g. phone-{extension}.lan"),
        "timeout": Setting(float, default=5.0, range=(0.5, 60)),
    }

    def __init__(self, values=None):
        super().__init__(values)
        self.headers = {}
        for item in filter(None, (h.strip() for h in self.config["headers"].split(";"))):
            key, sep, value = item.partition(":")
            if not sep or not key.strip():
                raise_config("PBX_HTTP_HEADERS", "must be 'Name: value' pairs separated by ';'")
            self.headers[key.strip()] = value.strip()
        if self.config["auth"] != "none" and not self.config["username"]:
            raise_config("PBX_HTTP_USERNAME", f"is required with PBX_HTTP_AUTH={self.config['auth']}")

    def wants(self, options) -> bool:
        return pbx_wanted(options)

    def why_not(self, options) -> str | None:
        return pbx_why_not(options)

    def url_for(self, agent: AgentInfo, code: str) -> str:
        fill = {
            "extension": quote(agent.extension, safe=""),
            "agent": quote(agent.id, safe=""),
            "email": quote(agent.email, safe="@"),
        }
        phone = self.config["phone_host"].format(**fill) if self.config["phone_host"] else ""
        return self.config["url"].format(code=quote(code, safe=""), phone=phone, **fill)

    def push(self, agent: AgentInfo, change: Change) -> None:
        code = dial_code(agent, change)
        if code is None:
            return
        _secret_request.active = bool(change.pin)
        try:
            self._send(self.url_for(agent, code))
        finally:
            _secret_request.active = False

    def _send(self, url: str) -> requests.Response:
        auth: AuthBase | None = None
        if self.config["auth"] == "basic":
            auth = HTTPBasicAuth(self.config["username"], self.config["password"])
        elif self.config["auth"] == "digest":
            auth = HTTPDigestAuth(self.config["username"], self.config["password"])
        try:
            reply = self.http.request(
                self.config["method"], url, headers=self.headers, auth=auth, timeout=self.config["timeout"]
            )
        except requests.RequestException as exc:
            # the URL may hold a PIN (login codes): name the failure, never the URL
            raise AdapterError(f"PBX not reachable ({type(exc).__name__})") from None
        if reply.status_code in (401, 403):
            raise AdapterError(
                f"PBX refused the credentials (HTTP {reply.status_code}); check PBX_HTTP_AUTH/USERNAME/PASSWORD",
                retryable=False,
            )
        if reply.status_code >= 400:
            retryable = reply.status_code >= 500 or reply.status_code == 429
            raise AdapterError(
                f"PBX answered HTTP {reply.status_code}",
                retryable=retryable,
                retry_after=retry_after(reply) if retryable else None,
            )
        return reply

    def check(self) -> str:
        probe = (
            self.config["url"]
            .split("?")[0]
            .format(code="", phone=self.config["phone_host"], extension="", agent="", email="")
        )
        try:
            reply = requests.head(probe, timeout=self.config["timeout"])
        except requests.RequestException:
            # the same words for refused, filtered and timed out: a connection test is no port scanner
            raise AdapterError(f"{probe} not reachable") from None
        return f"{probe} answered HTTP {reply.status_code}"


def raise_config(env_name: str, why: str):
    raise AdapterConfigError(f"{env_name} {why}", env_name)
