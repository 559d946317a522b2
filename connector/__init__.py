"""Presence Connector: keeps an agent's presence in step across softphone, Omni-Channel, Teams/Skype and the PBX."""

from __future__ import annotations

from typing import Any

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    # loaded on first use, so that importing a leaf module (connector.errors from an adapter) does not
    # build the whole application package first
    if name == "create_app":
        from connector.app import create_app

        return create_app
    raise AttributeError(f"module 'connector' has no attribute {name!r}")
