"""Where an adapter's saved settings send things: private targets refused, secrets bound to their destination.

* A destination saved on the admin page (a URL, a host or a port setting) may not point at loopback,
  link-local, private, shared, multicast or reserved addresses unless ``CONNECTOR_ALLOW_PRIVATE_TARGETS``
  lists the host name or a network holding its address (a PBX on the LAN is normal: list it). Literal
  addresses in any spelling (``0x7f000001``, ``2130706433``, ``0177.0.0.1``, ``127.1``, ``[::1]``,
  ``[::ffff:127.0.0.1]``) are read as the address they are; a name is resolved (a DNS lookup, no
  connection to the target) and refused when any of its addresses is private. A name that does not
  resolve now is accepted: it reaches nothing. Values from the environment are the operator's own and are
  not checked.
* Changing a destination on the page clears the adapter's saved secrets unless the same save gives
  them again; a secret that comes from the environment must be given in that save (a token meant for one
  host never travels to another because a URL was edited).
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from adapters.base import Adapter
from connector.errors import InvalidInput

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_allowed(raw: str | None) -> tuple[str, ...]:
    """``CONNECTOR_ALLOW_PRIVATE_TARGETS``: host names, addresses or networks separated by spaces or commas."""
    out = []
    for item in (raw or "").replace(",", " ").split():
        if "/" in item:
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise InvalidInput(
                    f"CONNECTOR_ALLOW_PRIVATE_TARGETS: '{item}' is not a network like 10.0.0.0/8",
                    field="CONNECTOR_ALLOW_PRIVATE_TARGETS",
                ) from None
        out.append(item.lower().strip("[]"))
    return tuple(out)


def is_destination(cls: type[Adapter], key: str) -> bool:
    """Whether a setting says where the adapter connects (a URL, a host, a port)."""
    spec = cls.settings[key]
    return (
        getattr(spec, "kind", "") == "url"
        or key in ("url", "host", "port", "domain")
        or key.endswith(("_url", "_host", "_port"))
    )


def literal_address(host: str) -> Address | None:
    """The address a literal host is, in any spelling the resolver accepts; None for a name."""
    host = host.strip("[]")
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        pass
    if host and all(c in "0123456789abcdefxABCDEFX." for c in host):
        try:  # inet_aton reads 0x7f000001, 2130706433, 0177.0.0.1 and 127.1 the way connect() would
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def _private(address: Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or (isinstance(address, ipaddress.IPv4Address) and address in ipaddress.IPv4Network("100.64.0.0/10"))
    )


def _addresses(host: str) -> list[Address]:
    literal = literal_address(host)
    if literal is not None:
        return [literal]
    name = host.lower().rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):  # RFC 6761: always loopback
        return [ipaddress.IPv4Address("127.0.0.1")]
    if name.endswith((".example", ".invalid")):  # RFC 2606: never resolves, no lookup needed
        return []
    try:
        found = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return []  # does not resolve now: reaches nothing
    return [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in found]


def _allowed(host: str, address: Address, allowed: tuple[str, ...]) -> bool:
    for item in allowed:
        if "/" in item:
            if address in ipaddress.ip_network(item, strict=False):
                return True
        elif item == host.lower().strip("[]"):
            return True
        elif literal_address(item) == address:
            return True
    return False


def check_host(env_name: str, host: str, allowed: tuple[str, ...]) -> None:
    """Refuse (422 naming ``env_name``) a host that is, or resolves to, a private address not allowed."""
    for address in _addresses(host):
        if _private(address) and not _allowed(host, address, allowed):
            raise InvalidInput(
                f"{env_name} points at a private, loopback or link-local address ({host}); list it in "
                "CONNECTOR_ALLOW_PRIVATE_TARGETS if the adapter is meant to reach it (a PBX on the LAN)",
                field=env_name,
            )


def host_of(cls: type[Adapter], key: str, value: str) -> str | None:
    """The host a destination setting's value names (None: a port, or nothing to check)."""
    if key == "port" or key.endswith("_port"):
        return None
    if key == "domain":  # a SIP domain: autodiscover is https://lyncdiscover.<domain>
        return "lyncdiscover." + value
    if "://" in value:
        try:
            return urlsplit(value).hostname
        except ValueError:
            return None
    return value.split(":", 1)[0] if value.count(":") == 1 else value


def check_destinations(cls: type[Adapter], changed: dict[str, str], allowed: tuple[str, ...]) -> None:
    """Check the destination settings saved on the page (``changed``: key -> text)."""
    for key, text in changed.items():
        if not is_destination(cls, key) or not text:
            continue
        host = host_of(cls, key, text)
        if host and "{" not in host:
            check_host(cls.env_name(key), host, allowed)
