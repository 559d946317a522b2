"""The settings-validation vocabulary: one way to say what is wrong with a setting, and one place
that knows how to read a primitive value.

* :class:`Problem` — one thing wrong: the ``field`` (an environment variable such as ``AMI_PORT`` or
  ``SF_LOGIN_URL``, or a key of a presence configuration such as ``options.wrap_up_seconds``), the
  ``message``, and where it is when that is a file (``source``) and a presence state (``state``).
* :class:`SettingsInvalid` — the error that carries one or more problems; an
  :class:`~connector.errors.InvalidInput`, so the API answers 422 naming ``.field`` (the first
  problem's field). Adapter settings (``AdapterConfigError``), presence configurations
  (``ConfigError``) and Salesforce settings (``SalesforceSettings.check``) all raise it.
* The primitive parsers (:func:`text`, :func:`whole_number`, :func:`number`, :func:`finite_number`,
  :func:`flag`, :func:`in_range`, :func:`choice`, :func:`url`) raise :class:`BadValue`; each validator turns that
  into a :class:`Problem` in its own words, so the messages admins already know stay as they are.

Environment settings arrive as text and are converted (``coerce=True``); a parsed YAML document already
has types, so there a value of the wrong type is refused rather than converted (``coerce=False``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any, TypeVar
from urllib.parse import urlparse

from connector.errors import InvalidInput, Problem, SettingsInvalid  # Problem: re-exported, part of the plugin contract

__all__ = [
    "Problem",
    "SettingsInvalid",
    "BadValue",
    "text",
    "whole_number",
    "number",
    "finite_number",
    "flag",
    "in_range",
    "choice",
    "url",
    "TRUE_WORDS",
    "FALSE_WORDS",
]

#: how an environment variable says yes or no (case-insensitive)
TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("0", "false", "no", "off")


class BadValue(ValueError):
    """A primitive parser refused a value; ``kind`` is ``type``, ``range``, ``choice`` or ``url``."""

    def __init__(self, kind: str, value: Any = None):
        super().__init__(kind)
        self.kind = kind
        self.value = value


def text(raw: Any, *, coerce: bool = True) -> str:
    """Text. Without ``coerce`` only text or a whole number is accepted (YAML reads ``name: 2024`` as a
    number, and it is still a name); with it, anything is turned into text."""
    if coerce:
        return str(raw)
    if isinstance(raw, bool) or not isinstance(raw, (str, int)):
        raise BadValue("type", raw)
    return str(raw)


def whole_number(raw: Any, lo: float | None = None, hi: float | None = None, *, coerce: bool = True) -> int:
    """A whole number, optionally within ``lo``..``hi``. Without ``coerce`` it must already be an int."""
    if coerce:
        try:
            value = int(raw)
        except (TypeError, ValueError):
            raise BadValue("type", raw) from None
    elif isinstance(raw, bool) or not isinstance(raw, int):
        raise BadValue("type", raw)
    else:
        value = raw
    return in_range(value, lo, hi)


def number(raw: Any, lo: float | None = None, hi: float | None = None) -> float:
    """A number (``2.5``, ``30``), optionally within ``lo``..``hi``."""
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise BadValue("type", raw) from None
    return in_range(value, lo, hi)


def finite_number(raw: Any, lo: float | None = None, hi: float | None = None) -> float:
    """A finite number, optionally within ``lo``..``hi``: ``nan`` and ``inf`` are refused as not numbers
    (``nan`` compares false with every bound, so :func:`number` would let it through a range)."""
    value = number(raw)
    if not math.isfinite(value):
        raise BadValue("type", raw)
    return in_range(value, lo, hi)


_Number = TypeVar("_Number", int, float)


def in_range(value: _Number, lo: float | None, hi: float | None) -> _Number:
    """``value`` itself when ``lo <= value <= hi`` (either bound may be None: unbounded)."""
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise BadValue("range", value)
    return value


def flag(raw: Any, *, coerce: bool = True) -> bool:
    """Yes or no: one of :data:`TRUE_WORDS` / :data:`FALSE_WORDS`; without ``coerce`` a real bool."""
    if isinstance(raw, bool) and not coerce:
        return raw
    if not coerce:
        raise BadValue("type", raw)
    word = str(raw).strip().lower()
    if word not in TRUE_WORDS + FALSE_WORDS:
        raise BadValue("type", raw)
    return word in TRUE_WORDS


def choice(raw: Any, choices: Iterable[Any]) -> Any:
    """``raw`` itself when it is one of ``choices``."""
    if raw not in tuple(choices):
        raise BadValue("choice", raw)
    return raw


def url(raw: Any, schemes: Iterable[str] = ("https",)) -> str:
    """A full URL: one of ``schemes`` and a host name."""
    parsed = urlparse(str(raw))
    if parsed.scheme not in tuple(schemes) or not parsed.hostname:
        raise BadValue("url", raw)
    return str(raw)


def one_line(value: object, field: str, limit: int, required: bool = False) -> str:
    """A short single-line text a request carries (device, extension, call id), stripped; 422 naming the field."""
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        raise InvalidInput(f"{field} must be text", field=field)
    if len(value) > limit:
        raise InvalidInput(f"{field} is longer than {limit} characters", field=field)
    if any(ord(ch) < 32 for ch in value):
        raise InvalidInput(f"{field} must not contain control characters", field=field)
    return value.strip()
