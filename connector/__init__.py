"""Presence Connector: keeps an agent's presence in step across softphone, Omni-Channel, Teams/Skype and the PBX."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .app import create_app

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    # the app is imported on first use, so adapters can import a leaf module (connector.validation)
    # without building the whole app, which imports adapters in turn
    if name == "create_app":
        from .app import create_app
        return create_app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
