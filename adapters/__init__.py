"""Pluggable adapters that carry presence changes to other systems (see adapters.base)."""

from adapters.base import (
    Adapter,
    AdapterConfigError,
    AdapterError,
    AgentInfo,
    BudgetUse,
    Change,
    Host,
    InboundRejected,
    Job,
    Setting,
    StateInfo,
    UnknownAdapter,
)

__all__ = [
    "Adapter",
    "AdapterConfigError",
    "AdapterError",
    "AgentInfo",
    "BudgetUse",
    "Change",
    "Host",
    "InboundRejected",
    "Job",
    "Setting",
    "StateInfo",
    "UnknownAdapter",
]
