"""Running behind a TLS-terminating reverse proxy: ``CONNECTOR_TRUSTED_PROXIES``.

Only a request that arrives from one of the listed addresses or networks (``10.0.0.5 172.16.0.0/12``)
may say, with ``X-Forwarded-For`` / ``-Proto`` / ``-Host`` / ``-Port``, who the client is and that it
used HTTPS; werkzeug's ProxyFix then applies them (so cookies get ``Secure``, the embedded softphone
``SameSite=None; Partitioned``, and the guessing limits see the real client address). From anyone else
those headers are ignored. Chained proxies: every trusted address at the end of ``X-Forwarded-For`` is
one more hop to skip.
"""

from __future__ import annotations

import ipaddress

from werkzeug.middleware.proxy_fix import ProxyFix

from connector.errors import SettingsInvalid
from connector.validation import Problem

SETTING = "CONNECTOR_TRUSTED_PROXIES"


def parse_trusted(raw: str | None) -> tuple:
    """The networks of ``CONNECTOR_TRUSTED_PROXIES`` (its reader in connector/settings.py); every bad item
    is a problem naming the setting."""
    networks, problems = [], []
    for item in (raw or "").replace(",", " ").split():
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            problems.append(Problem(SETTING, f"{SETTING}: '{item}' is not an IP address or network like 10.0.0.0/8"))
    if problems:
        raise SettingsInvalid(problems)
    return tuple(networks)


class TrustedProxies:
    """WSGI middleware: ProxyFix for requests from a trusted proxy, nothing for the others."""

    def __init__(self, app, networks: tuple):
        self.app = app
        self.networks = networks
        self._fixers: dict[int, ProxyFix] = {}

    def trusted(self, address: str | None) -> bool:
        try:
            ip = ipaddress.ip_address((address or "").strip())
        except ValueError:
            return False
        return any(ip in net for net in self.networks)

    def __call__(self, environ, start_response):
        if not self.trusted(environ.get("REMOTE_ADDR")):
            return self.app(environ, start_response)
        forwarded = [a.strip() for a in environ.get("HTTP_X_FORWARDED_FOR", "").split(",") if a.strip()]
        hops = 1
        while hops < len(forwarded) and self.trusted(forwarded[-hops]):
            hops += 1
        fixer = self._fixers.get(hops)
        if fixer is None:
            fixer = self._fixers[hops] = ProxyFix(self.app, x_for=hops, x_proto=1, x_host=1, x_port=1)
        return fixer(environ, start_response)


def init_app(app, networks: tuple, secure_cookies: bool) -> None:
    """``networks``: the parsed ``CONNECTOR_TRUSTED_PROXIES``; ``secure_cookies``: ``CONNECTOR_SECURE_COOKIES``."""
    if networks:
        app.wsgi_app = TrustedProxies(app.wsgi_app, networks)
    if secure_cookies:
        app.config["SESSION_COOKIE_SECURE"] = True
