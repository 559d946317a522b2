"""The release: one version, read from the installed package's metadata (pyproject.toml ``version``).

``presence-connector --version``, ``/healthz``, ``/metrics`` (``connector_build_info``) and the
User-Agent sent to remote systems (adapters' HTTP sessions, Salesforce) all say this one value. Part of
the plugin contract (docs/architecture.md): an adapter may send :data:`USER_AGENT`.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

DISTRIBUTION = "presence-connector"

try:
    __version__ = version(DISTRIBUTION)
except PackageNotFoundError:  # a source tree not installed (pip install -e . installs it)
    __version__ = "0+unknown"

#: what the connector calls itself on the wire (RFC 9110 product token)
USER_AGENT = f"PresenceConnector/{__version__}"
