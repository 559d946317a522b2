"""Adapters by name, discovered through the entry-point group ``presence_connector.adapters``.

Built-in adapters are registered the same way (see pyproject.toml), so a third-party adapter is
one ``pip install`` away. Two entry points with one name are refused loudly.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from importlib.metadata import entry_points
from typing import Any

from adapters.base import Adapter, UnknownAdapter

GROUP = "presence_connector.adapters"


def available() -> dict[str, type[Adapter]]:
    """Every installed adapter class by name."""
    found: dict[str, type[Adapter]] = {}
    origins: dict[str, str] = {}
    for ep in entry_points(group=GROUP):
        if ep.name in found and origins[ep.name] != ep.value:
            raise RuntimeError(f"two adapters are named '{ep.name}': {origins[ep.name]} and {ep.value}")
        cls = ep.load()
        if not (isinstance(cls, type) and issubclass(cls, Adapter)):
            raise RuntimeError(f"entry point '{ep.name}' ({ep.value}) is not an Adapter subclass")
        if cls.name != ep.name:
            raise RuntimeError(f"entry point '{ep.name}' points to an adapter named '{cls.name}'")
        found[ep.name] = cls
        origins[ep.name] = ep.value
    return found


def adapter_class(name: str, extra: dict[str, type[Adapter]] | None = None) -> type[Adapter]:
    """The adapter class called ``name``; an unknown name lists the known ones."""
    classes = {**available(), **(extra or {})}
    try:
        return classes[name]
    except KeyError:
        raise UnknownAdapter(f"no adapter named '{name}'; known adapters: {', '.join(sorted(classes))}") from None


MappingCheck = Callable[[Any], list[str]]


def mapping_checks(extra: Mapping[str, type[Adapter]] | None = None) -> dict[str, MappingCheck]:
    """Each installed adapter's :meth:`Adapter.check_mapping` by name: what a presence configuration's
    ``adapters: {name: ...}`` mappings are checked with (the core knows no adapter by name)."""
    return {name: cls.check_mapping for name, cls in {**available(), **(extra or {})}.items()}
