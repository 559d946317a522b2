"""The Salesforce connection saved on the admin page: SF_* values over the environment, applied at run time.

Stored the way an adapter's page settings are (``connector.integrations.saved_settings``): one row of the
``adapter_settings`` table, named ``SAVED_NAME``, non-secret values as typed and secret ones sealed with
``CONNECTOR_SECRET_KEY``, plus an audit line per change. A value saved here wins over the environment
variable of the same name, which wins over the default (the same precedence as adapters). Secrets are
write-only: the page learns only whether one is set and where it comes from.

The sync (``SalesforceSync``) reads the saved connection through :func:`effective` when it is built, when
the page saves one, and at the start of every flush, so a connection saved on one instance is the one every
instance's next flush logs in with, without a restart.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from sqlalchemy import select

from connector.audit import trail
from connector.errors import InvalidInput
from connector.integrations.saved_settings import Form, Saved, apply_body, saved_from_row, store_change
from connector.salesforce import settings as sf_settings
from connector.salesforce.settings import SalesforceSettings
from connector.settings import Settings
from connector.store.models import AdapterSettingsRow

log = logging.getLogger(__name__)

#: the row's name in ``adapter_settings`` (not an adapter name: those are identifiers without '@')
SAVED_NAME = "@salesforce"

#: what the page edits: variable -> (label, secret, help)
FIELDS: dict[str, tuple[str, bool, str]] = {
    "SF_LOGIN_URL": (
        "Login URL",
        False,
        "your My Domain login URL (https://acme.my.salesforce.com), or https://test.salesforce.com for JWT or "
        "username-password on a sandbox",
    ),
    "SF_CLIENT_ID": ("Client id (consumer key)", False, "the connected app's consumer key"),
    "SF_CLIENT_SECRET": ("Client secret", True, "client credentials and username-password"),
    "SF_USERNAME": ("Username", False, "JWT bearer and username-password: the integration user"),
    "SF_PASSWORD": ("Password", True, "username-password only (being deprecated by Salesforce)"),
    "SF_SECURITY_TOKEN": ("Security token", True, "username-password only, when the org asks for one"),
    "SF_PRIVATE_KEY_FILE": ("Private key file (JWT)", False, "path on the server of the PEM RSA key for JWT bearer"),
    "SF_JWT_AUDIENCE": ("JWT audience", False, "empty: worked out from the login URL"),
    "SF_API_VERSION": ("API version", False, f"like {sf_settings.DEFAULT_API_VERSION}"),
    "SF_OBJECT_NAME": ("Object", False, "the custom object totals are written to"),
}
SECRETS = frozenset(name for name, (_, secret, _) in FIELDS.items() if secret)
#: what applies when neither the page nor the environment sets one
DEFAULTS = {"SF_API_VERSION": sf_settings.DEFAULT_API_VERSION, "SF_OBJECT_NAME": "Presence_Time__c"}


def _accept(name: str, key: str, raw: object) -> str:
    if raw is not None and not isinstance(raw, str):
        raise InvalidInput(f"{name} must be text", field=name)
    return (raw or "").strip()


def _check(name: str, key: str, text: str) -> None:
    if len(text) > 2000 or any(ord(c) < 32 for c in text):
        raise InvalidInput(f"{name} must be one line of at most 2000 characters", field=name)


#: what the page's save may set (``saved_settings.apply_body``): the SF_* variables, kept by their own names
FORM = Form(
    keys={name: name for name in FIELDS},
    secret=lambda name: name in SECRETS,
    unknown=lambda name: f"no Salesforce setting {name}; known: {', '.join(FIELDS)}",
    accept=_accept,
    check=_check,
    kinds="SF_* settings",
    clear_kinds="SF_* secret settings",
    not_clearable="only a secret Salesforce setting can be cleared",
    removed="(the environment or default applies)",
)


def load(store, secret_key: str) -> Saved:
    """The saved connection (empty when none was saved). A secret that cannot be unsealed is dropped."""
    with store.read() as s:
        row = s.execute(select(AdapterSettingsRow).where(AdapterSettingsRow.name == SAVED_NAME)).scalar_one_or_none()
        if row is None:
            return Saved()

        def unreadable(name: str) -> None:
            log.warning("the saved Salesforce %s cannot be read (was CONNECTOR_SECRET_KEY changed?)", name)

        return replace(saved_from_row(row, secret_key, unreadable), enabled=None)


def overlaid(settings: Settings, saved: Saved) -> Settings:
    """``settings`` with the saved values over the environment's: each saved SF_* value is read (and checked)
    through its declaration in connector/settings.py, like one from the environment."""
    over = {name: value for name, value in {**saved.values, **saved.secrets}.items() if value not in (None, "")}
    if not over:
        return settings
    return replace(
        settings, env={**settings.env, **over}, values={k: v for k, v in settings.values.items() if k not in over}
    )


def effective(settings: Settings, saved: Saved) -> SalesforceSettings:
    """The Salesforce settings in force: the saved connection over the environment."""
    return sf_settings.load(overlaid(settings, saved))


def source_of(settings: Any, store) -> Callable[[], SalesforceSettings]:
    """What the sync calls to read the connection in force now (one small read)."""
    return lambda: effective(settings, load(store, settings.secret_key))


def rows(settings: Any, saved: Saved) -> list[dict]:
    """Each editable setting for the page: value and where it comes from; a secret only as set or not."""
    out = []
    for name, (label, secret, help_text) in FIELDS.items():
        on_page = name in (saved.secrets if secret else saved.values)
        env = settings.get(name)
        row = {
            "env": name,
            "label": label,
            "secret": secret,
            "help": help_text,
            "source": "page" if on_page else "environment" if env not in (None, "") else "default",
            "set": on_page or env not in (None, ""),
        }
        if not secret:
            row["value"] = saved.values[name] if on_page else env if env not in (None, "") else DEFAULTS.get(name)
            row["saved"] = saved.values.get(name)
        out.append(row)
    return out


def validate_change(settings: Any, current: Saved, body: object) -> tuple[Saved, list[str], SalesforceSettings]:
    """The saved connection after ``body`` (``values``/``secrets`` ``{SF_NAME: text}``, empty text: back to
    the environment, an empty secret keeps the saved one; ``clear`` ``[SF_NAME]``; ``reset``: forget every
    saved value), the summary of what changed (no secret), and the settings it makes.

    Raises :class:`InvalidInput` naming the SF_* variable when a value is refused or the connection would
    not be complete; nothing is stored then.
    """
    if not isinstance(body, dict):
        raise InvalidInput("send a JSON object", field="body")
    if body.get("reset") is True:
        new, summary = Saved(), ["saved connection removed (the environment applies)"]
    else:
        new = Saved(None, dict(current.values), dict(current.secrets))
        summary = apply_body(FORM, new, body)
    result = effective(settings, new)
    if result.problems and (new.values or new.secrets):
        first = result.problems[0]
        raise InvalidInput(f"not saved: {first}", field=first.field)
    return new, summary, result


def save(
    store, saved: Saved, summary: list[str], who: str, now, secret_key: str, audit: trail.Entry | None = None
) -> None:
    """Write the saved connection (secrets sealed), its change line and the audit trail's row, in one
    transaction."""
    store_change(store, SAVED_NAME, saved, summary, who, now, secret_key, audit)
