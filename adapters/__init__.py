"""Pluggable adapters that carry presence changes to other systems (see adapters.base)."""
from .base import Adapter, AdapterConfigError, AdapterError, AgentInfo, Change, Host, Setting, UnknownAdapter

__all__ = ["Adapter", "AdapterConfigError", "AdapterError", "AgentInfo", "Change", "Host", "Setting",
           "UnknownAdapter"]
