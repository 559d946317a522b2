"""Presence Connector: keeps an agent's presence in step across softphone, Omni-Channel, Teams/Skype and the PBX."""
from .app import create_app

__all__ = ["create_app"]
