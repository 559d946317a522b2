"""Which browser origins may call the event stream and the Omni-Channel report endpoints (CORS).

``CONNECTOR_CORS_ORIGINS`` lists exact origins (``https://acme.my.salesforce.com``) or patterns whose
leftmost host label is ``*`` (``https://*.lightning.force.com``). A pattern is matched on the parsed
origin — scheme, host name and port — never as text, so ``https://evil.com/x.lightning.force.com``
or ``https://lightning.force.com.evil.com`` never match.
"""

from __future__ import annotations

import re
from typing import NamedTuple
from urllib.parse import urlsplit

from connector.errors import InvalidInput

_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
_DEFAULT_PORTS = {"https": 443, "http": 80}


class OriginPattern(NamedTuple):
    scheme: str
    host: str  # without the "*." of a wildcard pattern
    port: int
    wildcard: bool  # True: any host name ending in "." + host

    def __str__(self) -> str:
        default = _DEFAULT_PORTS[self.scheme] == self.port
        return f"{self.scheme}://{'*.' if self.wildcard else ''}{self.host}{'' if default else f':{self.port}'}"


def _split(origin: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of an origin ``scheme://host[:port]``; None when it is not one."""
    try:
        parts = urlsplit(origin.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if (
        scheme not in _DEFAULT_PORTS
        or not parts.hostname
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
        or parts.username is not None
        or parts.password is not None
    ):
        return None
    return scheme, parts.hostname.lower().rstrip("."), port or _DEFAULT_PORTS[scheme]


def parse_origin_patterns(text: str, field: str) -> tuple[OriginPattern, ...]:
    """The space-separated patterns of ``text``; InvalidInput naming ``field`` for one that is not an origin."""
    patterns = []
    for item in text.split():
        wildcard = "://*." in item
        split = _split(item.replace("://*.", "://", 1))
        labels = split[1].split(".") if split else []
        if (
            split is None
            or "*" in split[1]
            or not all(_LABEL.match(label) for label in labels)
            or (wildcard and len(labels) < 2)
        ):
            raise InvalidInput(
                f"{field}: '{item}' is not an origin like https://acme.my.salesforce.com or "
                f"https://*.lightning.force.com (scheme and host, no path)",
                field=field,
            )
        patterns.append(OriginPattern(split[0], split[1], split[2], wildcard))
    return tuple(patterns)


def origin_allowed(origin: str | None, patterns: tuple[OriginPattern, ...]) -> bool:
    """Whether the browser's ``Origin`` header matches one of ``patterns``."""
    return allowed_origin(origin, patterns) is not None


def allowed_origin(origin: str | None, patterns: tuple[OriginPattern, ...]) -> str | None:
    """The canonical form of ``origin`` (no trailing dot, no default port, lower case) when it matches one
    of ``patterns``; None otherwise. The canonical form is what goes into Access-Control-Allow-Origin."""
    if not origin or not patterns:
        return None
    split = _split(origin)
    if split is None:
        return None
    scheme, host, port = split
    canonical = f"{scheme}://{host}" + ("" if _DEFAULT_PORTS[scheme] == port else f":{port}")
    return canonical if _matches(scheme, host, port, patterns) else None


def _matches(scheme: str, host: str, port: int, patterns: tuple[OriginPattern, ...]) -> bool:
    for p in patterns:
        if p.scheme != scheme or p.port != port:
            continue
        if host == p.host and not p.wildcard:
            return True
        if (
            p.wildcard
            and host.endswith("." + p.host)
            and all(_LABEL.match(label) for label in host[: -len(p.host) - 1].split("."))
        ):
            return True
    return False
