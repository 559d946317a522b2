"""Adapter settings saved on the admin page: stored, validated, and applied without a restart.

Precedence (README "Adapters"): for each setting, a value saved on the page wins over the environment
variable, which wins over the adapter's default. Whether an adapter runs: the page's enabled flag when
one was saved, otherwise ``CONNECTOR_ADAPTERS``. Secret values are stored sealed with
``CONNECTOR_SECRET_KEY`` and are never returned: the page only learns whether one is set.

The Salesforce connection saved on the page (``connector.salesforce.saved``) is kept the same way, through
the shared parts here: a row read back (:func:`saved_from_row`), a page's change applied to the saved values
(:class:`Form`, :func:`apply_body`) and written with its change line and audit row (:func:`store_change`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select

from adapters.base import Adapter, AdapterConfigError
from connector.audit import trail
from connector.auth.hashing import seal, unseal
from connector.clock import iso
from connector.errors import InvalidInput
from connector.integrations import targets
from connector.store.models import AdapterSettingsChange, AdapterSettingsRow

log = logging.getLogger(__name__)


@dataclass
class Saved:
    """One adapter's saved settings: ``values`` raw by key, ``secrets`` in clear (in memory only)."""

    enabled: bool | None = None
    values: dict[str, str] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)
    updated_by: str = ""
    updated_at: datetime | None = None


def env_names(settings) -> list[str]:
    """The adapter names in ``CONNECTOR_ADAPTERS``, in order."""
    return list(settings.value("CONNECTOR_ADAPTERS"))


def saved_from_row(row: AdapterSettingsRow, secret_key: str, unreadable: Callable[[str], None]) -> Saved:
    """A row of ``adapter_settings`` as :class:`Saved`, its secrets unsealed; ``unreadable(key)`` is told of a
    secret that cannot be unsealed (it is dropped: the environment applies)."""
    secrets = {}
    for key, sealed in (row.sealed or {}).items():
        try:
            secrets[key] = unseal(sealed, secret_key)
        except Exception:
            unreadable(key)
    return Saved(row.enabled, dict(row.values or {}), secrets, row.updated_by, row.updated_at)


def load(store, secret_key: str) -> dict[str, Saved]:
    """Every adapter's saved settings. A secret that cannot be unsealed is dropped with a warning."""
    out: dict[str, Saved] = {}
    with store.read() as s:
        for row in s.execute(select(AdapterSettingsRow)).scalars():

            def unreadable(key: str, name: str = row.name) -> None:
                log.warning(
                    "adapter %s: the saved secret %s cannot be read (was CONNECTOR_SECRET_KEY "
                    "changed?); the environment applies",
                    name,
                    key,
                )

            out[row.name] = saved_from_row(row, secret_key, unreadable)
    return out


def enabled_names(settings, saved: dict[str, Saved]) -> list[str]:
    """``CONNECTOR_ADAPTERS``, with the page's enable/disable applied on top."""
    names = [n for n in env_names(settings) if (saved.get(n) or Saved()).enabled is not False]
    return names + sorted(n for n, s in saved.items() if s.enabled and n not in names)


def getter(cls: type[Adapter], settings, saved: Saved | None) -> Callable[[str], Any]:
    """``get(ENV_NAME)`` with the saved value first, then the environment."""
    by_env = {}
    if saved is not None:
        by_env = {cls.env_name(k): v for k, v in {**saved.values, **saved.secrets}.items() if k in cls.settings}

    def get(env: str) -> Any:
        return by_env[env] if env in by_env else settings.get(env)

    return get


def source(cls: type[Adapter], key: str, settings, saved: Saved | None) -> str:
    """Where a setting's value comes from: ``page``, ``environment`` or ``default``."""
    if saved is not None and (key in saved.values or key in saved.secrets):
        return "page"
    return "environment" if settings.get(cls.env_name(key)) not in (None, "") else "default"


def build(cls: type[Adapter], settings, saved: Saved | None) -> Adapter:
    return cls.from_settings(getter(cls, settings, saved))


def validate_change(cls: type[Adapter], settings, current: Saved, body: object) -> tuple[Saved, list[str]]:
    """The saved settings after ``body`` (``enabled``, ``values``, ``secrets``, ``clear``), checked with
    the adapter's own schema; returns them and a summary of what changed (no secret values).

    Raises :class:`InvalidInput` naming the setting (its environment variable) on a bad value.
    """
    if not isinstance(body, dict):
        raise InvalidInput("send a JSON object", field="body")
    new = Saved(current.enabled, dict(current.values), dict(current.secrets))
    summary: list[str] = []
    enabled = body.get("enabled", current.enabled)
    if enabled is not None and not isinstance(enabled, bool):
        raise InvalidInput("enabled must be true or false", field="enabled")
    if enabled != current.enabled:
        summary.append("enabled" if enabled else "disabled")
    new.enabled = enabled
    summary += apply_body(_form_of(cls), new, body)
    _bind_secrets(cls, settings, current, new, body, summary)
    return new, summary


@dataclass(frozen=True)
class Form:
    """What a page's save may set, in its own words: the names it takes (environment variables) and the keys
    they are kept under, which are secret, and the checks and messages of the adapter or the connection."""

    #: name sent -> key kept
    keys: dict[str, str]
    secret: Callable[[str], bool]
    #: the message for a name it does not know
    unknown: Callable[[str], str]
    #: ``(name, key, raw)`` -> the value's text ("" for none); refuses a value of the wrong kind
    accept: Callable[[str, str, object], str]
    #: ``(name, key, text)``: refuses a value the setting does not take
    check: Callable[[str, str, str], None]
    #: what "values"/"secrets" and "clear" are made of, in the messages
    kinds: str = "settings"
    clear_kinds: str = "settings"
    not_clearable: str = "only a secret setting can be cleared"
    #: what the summary says applies once a value is removed
    removed: str = "(environment or default applies)"


def apply_body(form: Form, new: Saved, body: dict) -> list[str]:
    """Apply a save's ``values`` (empty: back to the environment), ``secrets`` (empty: keep) and ``clear`` to
    ``new`` in place, checked by ``form``; returns the summary of what changed (no secret values).

    Raises :class:`InvalidInput` naming the setting on the first refused one (``new`` is then a scratch copy
    the caller drops: nothing is stored)."""
    summary: list[str] = []
    for part in ("values", "secrets"):
        if not isinstance(body.get(part, {}), dict):
            raise InvalidInput(f"{part} must be an object of {form.kinds}", field=part)
    if not isinstance(body.get("clear", []), list):
        raise InvalidInput(f"clear must be a list of {form.clear_kinds}", field="clear")
    for part, secret in (("values", False), ("secrets", True)):
        for name, raw in body.get(part, {}).items():
            key = form.keys.get(name)
            if key is None:
                raise InvalidInput(form.unknown(name), field=str(name))
            if form.secret(key) != secret:
                raise InvalidInput(f"{name} belongs in '{'secrets' if form.secret(key) else 'values'}'", field=name)
            text = form.accept(name, key, raw)
            kept = new.secrets if secret else new.values
            if text:
                form.check(name, key, text)
                if kept.get(key) != text:
                    summary.append(f"{name} replaced" if secret else f"{name} = {text[:80]}")
                kept[key] = text
            elif not secret and key in kept:
                del kept[key]
                summary.append(f"{name} removed {form.removed}")
    for name in body.get("clear", []):
        key = form.keys.get(name)
        if key is None or not form.secret(key):
            raise InvalidInput(form.not_clearable, field=str(name))
        if key in new.secrets and not (body.get("secrets") or {}).get(name):
            del new.secrets[key]
            summary.append(f"{name} cleared")
    return summary


def _form_of(cls: type[Adapter]) -> Form:
    by_env = {cls.env_name(k): k for k in cls.settings}

    def accept(env: str, key: str, raw: object) -> str:
        if key.endswith("_dir"):  # a directory that bounds file access is the operator's, not the page's
            raise InvalidInput(f"{env} can only be set in the environment", field=env)
        if raw is not None and not isinstance(raw, (str, int, float, bool)):
            raise InvalidInput(f"{env} must be a single value", field=env)
        return "" if raw is None else str(raw).strip()

    return Form(
        keys=by_env,
        secret=lambda key: cls.settings[key].secret,
        unknown=lambda env: f"{cls.name} has no setting {env}; known: {', '.join(sorted(by_env))}",
        accept=accept,
        check=lambda env, key, text: _parse(cls, key, text),
        not_clearable=f"only a secret setting of {cls.name} can be cleared",
    )


def _bind_secrets(cls: type[Adapter], settings, current: Saved, new: Saved, body: dict, summary: list[str]) -> None:
    """A changed destination (connector/integrations/targets.py): checked against the private ranges, and
    the secrets not given again in this save are cleared (or, from the environment, asked for)."""
    before, after = getter(cls, settings, current), getter(cls, settings, new)
    moved = [
        k for k in cls.settings if targets.is_destination(cls, k) and before(cls.env_name(k)) != after(cls.env_name(k))
    ]
    if not moved:
        return
    allowed = getattr(settings, "allow_private_targets", ())
    targets.check_destinations(cls, {k: new.values[k] for k in moved if k in new.values}, allowed)
    given = {
        k
        for k in cls.settings
        if cls.settings[k].secret and str((body.get("secrets") or {}).get(cls.env_name(k)) or "").strip()
    }
    where = ", ".join(cls.env_name(k) for k in moved)
    for key, spec in cls.settings.items():
        if not spec.secret or key in given:
            continue
        env = cls.env_name(key)
        if key in new.secrets:
            del new.secrets[key]
            summary.append(f"{env} cleared ({where} changed)")
        elif settings.get(env) not in (None, ""):
            raise InvalidInput(
                f"{env} is set in the environment and would be sent to the new {where}; give it again in "
                "this save (or change both in the environment)",
                field=env,
            )


def _parse(cls: type[Adapter], key: str, text: str) -> None:
    try:
        cls.settings[key].parse(cls.env_name(key), text)
    except AdapterConfigError as exc:
        raise InvalidInput(exc.message, field=exc.field) from None


def build_checked(cls: type[Adapter], settings, saved: Saved) -> Adapter:
    """Build the adapter as it would start; a missing or bad setting → :class:`InvalidInput` naming it."""
    try:
        return build(cls, settings, saved)
    except AdapterConfigError as exc:
        message = exc.message
        for value in saved.secrets.values():
            message = message.replace(value, "(hidden)")
        raise InvalidInput(message, field=exc.field) from None


def store_change(
    store,
    name: str,
    saved: Saved,
    summary: list[str],
    who: str,
    now: datetime,
    secret_key: str,
    audit: trail.Entry | None = None,
) -> None:
    """Write the saved settings (secrets sealed), the change line and the audit trail's row, in one transaction."""
    with store.write() as s:
        row = s.get(AdapterSettingsRow, name) or AdapterSettingsRow(name=name)
        old_sealed = dict(row.sealed or {})
        current = {k: _unsealed(v, secret_key) for k, v in old_sealed.items()}
        row.enabled = saved.enabled
        row.values = dict(saved.values)
        # an unchanged secret keeps its sealed text; a new one is sealed now
        row.sealed = {
            k: old_sealed[k] if current.get(k) == v else seal(v, secret_key) for k, v in saved.secrets.items()
        }
        row.updated_by, row.updated_at = who, now
        s.add(row)
        s.add(
            AdapterSettingsChange(
                adapter=name, changed_by=who, changed_at=now, summary="; ".join(summary) or "saved without changes"
            )
        )
        trail.write_if(s, audit)
    log.info("adapter %s settings changed by %s: %s", name, who, "; ".join(summary) or "no changes")


def _unsealed(sealed: str, secret_key: str) -> str | None:
    try:
        return unseal(sealed, secret_key)
    except Exception:
        return None


def recent_changes(store, name: str, limit: int = 5) -> list[dict]:
    """The latest audit lines for one adapter, newest first."""
    with store.read() as s:
        rows = (
            s.execute(
                select(AdapterSettingsChange)
                .where(AdapterSettingsChange.adapter == name)
                .order_by(AdapterSettingsChange.id.desc())
                .limit(limit)
            )
            .scalars()
            .all()
        )
        return [{"by": r.changed_by, "at": iso(r.changed_at), "summary": r.summary} for r in rows]
