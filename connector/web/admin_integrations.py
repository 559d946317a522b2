"""The admin page's Salesforce and Adapters tabs: status, the connection, "Sync now", the call-centre file, tests.

Salesforce comes from the environment (SF_*), adapters from CONNECTOR_ADAPTERS and their prefixed variables;
both are overridden by what is saved here (connector.salesforce.saved, connector.integrations.saved_settings)
and applied without a restart. Secret settings are only ever reported as set or not set, and are write-only.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from flask import Blueprint, Response, current_app, jsonify, request, url_for

from adapters.base import Adapter
from adapters.registry import available
from connector.audit.requests import entry as audit
from connector.audit.requests import record
from connector.errors import Conflict, InvalidInput, NotFound
from connector.integrations import saved_settings as adapter_settings
from connector.integrations.runtime import adapters_health, apply_saved, check_connection
from connector.integrations.saved_settings import Saved
from connector.parts import get_parts
from connector.salesforce import saved as sf_saved
from connector.salesforce.callcenter import callcenter_xml
from connector.salesforce.status import sync_status
from connector.web.admin import json_body
from connector.web.guard import page_role, signed_in

bp = Blueprint("admin_integrations", __name__, url_prefix="/admin")

#: how long "Test connection" waits for an adapter's check before reporting it as not answering
TEST_TIMEOUT_SECONDS = 15.0


def default_softphone_url() -> str:
    """This server's /softphone, as https (Lightning Experience only accepts an https adapter URL)."""
    parts = urlsplit(url_for("softphone.page", _external=True))
    return urlunsplit(("https", parts.netloc, parts.path, "", ""))


# -- Salesforce ---------------------------------------------------------------------------------------


def _salesforce_status() -> dict:
    """``sync_status`` (no secrets) plus the login host, this server's softphone URL and the connection's
    settings as the page edits them (secrets only as set or not)."""
    parts = get_parts()
    parts.salesforce.refresh()  # a connection saved on another instance
    status = sync_status(parts.salesforce)
    connection = status.get("connection")
    if connection:
        status["connection"] = {**connection, "login_host": urlsplit(connection["login_url"]).hostname}
    saved = sf_saved.load(parts.store, parts.settings.secret_key)
    return {
        **status,
        "softphone_url": default_softphone_url(),
        "settings": sf_saved.rows(parts.settings, saved),
        "saved_by": saved.updated_by or None,
        "changes": adapter_settings.recent_changes(parts.store, sf_saved.SAVED_NAME),
    }


@bp.get("/api/salesforce")
@page_role("admin")
def salesforce_status():
    return jsonify(_salesforce_status())


@bp.post("/api/salesforce/connection")
@page_role("admin")
def salesforce_connection():
    """Save the Salesforce connection (SF_* over the environment; secrets write-only) and apply it now.

    Body: ``values`` ``{SF_NAME: text}`` (empty: back to the environment), ``secrets`` ``{SF_NAME: text}``
    (empty: keep), ``clear`` ``[SF_NAME]``, or ``reset: true``. A connection that would not be complete is
    refused naming the SF_* setting, and nothing is saved.
    """
    parts = get_parts()
    current = sf_saved.load(parts.store, parts.settings.secret_key)
    new, summary, settings = sf_saved.validate_change(parts.settings, current, json_body())
    user = signed_in()
    assert user is not None  # page_role let only a signed-in admin through
    entry = audit("salesforce.connection", "salesforce", detail="; ".join(summary) or "saved without changes")
    sf_saved.save(parts.store, new, summary, user["name"], parts.clock(), parts.settings.secret_key, audit=entry)
    applied = parts.salesforce.use(settings)
    note = "" if applied else "a flush is running: its next run uses the new connection"
    return jsonify({"ok": True, "note": note, "status": _salesforce_status()})


@bp.post("/api/salesforce/sync")
@page_role("admin")
def salesforce_sync_now():
    """The same flush as ``presence-connector sync now`` (ignores a backoff, not an API-limit pause)."""
    sync = get_parts().salesforce
    report = sync.flush(force=True)
    # not one store write of its own (remote calls; the flush's bookkeeping shares commits with the changes):
    # recorded after it ran, with what it did
    record("salesforce.sync_now", "salesforce", detail=report.summary())
    return jsonify(
        {
            "ok": report.configured and not report.error and not report.skipped,
            "summary": report.summary(),
            "parked_reasons": report.parked_reasons[:20],
            "status": _salesforce_status(),
        }
    )


@bp.get("/callcenter.xml")
@page_role("admin")
def callcenter_file():
    """The Open CTI call-centre definition for the given softphone URL, as a file to import in Setup."""
    url = (request.args.get("url") or "").strip() or default_softphone_url()
    try:
        text = callcenter_xml(url)
    except InvalidInput as exc:
        raise InvalidInput(exc.message, field="url") from None
    return Response(
        text,
        mimetype="application/xml",
        headers={"Content-Disposition": "attachment; filename=presence-connector-callcenter.xml"},
    )


# -- adapters -------------------------------------------------------------------------------------------

#: words written as initials in a setting's plain label
_INITIALS = {
    "url": "URL",
    "id": "ID",
    "api": "API",
    "http": "HTTP",
    "ami": "AMI",
    "pbx": "PBX",
    "tls": "TLS",
    "sip": "SIP",
    "ssl": "SSL",
}
_UNITS = {"seconds": "seconds", "minutes": "minutes", "ms": "milliseconds"}


def plain_label(key: str) -> str:
    """A setting's label in words: ``api_version`` -> "API version", ``cache_seconds`` -> "Cache (seconds)"."""
    words = key.split("_")
    unit = _UNITS.get(words[-1]) if len(words) > 1 else None
    if unit:
        words = words[:-1]
    text = " ".join(_INITIALS.get(w, w) for w in words)
    text = text[:1].upper() + text[1:]
    return f"{text} ({unit})" if unit else text


def _setting_rows(cls: type[Adapter], adapter: Adapter | None, saved: Saved | None) -> list[dict]:
    """Each setting with its environment variable and where its value comes from; never a secret's value."""
    settings = get_parts().settings
    get = adapter_settings.getter(cls, settings, saved)
    rows = []
    for key, spec in cls.settings.items():
        env = cls.env_name(key)
        value = adapter.config.get(key) if adapter is not None else get(env)
        origin = adapter_settings.source(cls, key, settings, saved)
        row = {
            "env": env,
            "label": getattr(spec, "label", "") or plain_label(key),
            "required": spec.required,
            "secret": spec.secret,
            "help": spec.help,
            "set": value not in (None, ""),
            "source": origin,
        }
        if not spec.secret:
            row["value"] = value if value not in (None, "") else spec.default
            row["from_default"] = origin == "default" and row["value"] == spec.default
            row["saved"] = saved.values.get(key) if saved is not None else None
            row["choices"] = list(spec.choices) if spec.choices else None
        rows.append(row)
    return rows


def _adapter_row(name: str, cls: type[Adapter], saved: dict[str, Saved], health: dict) -> dict:
    app = current_app
    adapter = get_parts(app).dispatcher.adapters.get(name)
    item = health.get(name, {})
    built_in = {a.name for a in app.config.get("ADAPTERS", ())}
    return {
        "name": name,
        "enabled": adapter is not None,
        "settings": _setting_rows(cls, adapter, saved.get(name)),
        "health": {k: v for k, v in item.items() if k not in ("name", "settings", "enabled")} or None,
        "editable": name not in built_in and name in available(),
        "enabled_by": "page" if (saved.get(name) or Saved()).enabled is not None else "environment",
        "changes": adapter_settings.recent_changes(get_parts(app).store, name),
    }


def _saved() -> dict[str, Saved]:
    parts = get_parts()
    return adapter_settings.load(parts.store, parts.settings.secret_key)


@bp.get("/api/adapters")
@page_role("admin")
def adapters_list():
    enabled = get_parts().dispatcher.adapters
    health = {item["name"]: item for item in adapters_health(current_app)["adapters"]}
    classes: dict[str, type[Adapter]] = {**available(), **{n: type(a) for n, a in enabled.items()}}
    saved = _saved()
    rows = [_adapter_row(name, cls, saved, health) for name, cls in sorted(classes.items())]
    setting = ", ".join(get_parts().settings.value("CONNECTOR_ADAPTERS"))
    return jsonify({"adapters": rows, "connector_adapters": setting})


@bp.post("/api/adapters/<name>")
@page_role("admin")
def adapter_save(name: str):
    """Enable/disable an adapter and save its settings (secrets write-only); applied at once.

    Body: ``enabled`` (bool), ``values`` ``{ENV_NAME: text}`` (empty: back to the environment),
    ``secrets`` ``{ENV_NAME: text}`` (empty: keep), ``clear`` ``[ENV_NAME]``.
    """
    parts = get_parts()
    cls = available().get(name)
    if cls is None:
        raise NotFound(f"no adapter named '{name}'; known: {', '.join(sorted(available()))}", field="name")
    if name in {a.name for a in current_app.config.get("ADAPTERS", ())}:
        raise Conflict(f"adapter '{name}' is built by the application and cannot be changed here", field="name")
    saved = _saved()
    new, summary = adapter_settings.validate_change(cls, parts.settings, saved.get(name) or Saved(), json_body())
    enabled = new.enabled if new.enabled is not None else name in adapter_settings.env_names(parts.settings)
    adapter = adapter_settings.build_checked(cls, parts.settings, new) if enabled else None
    user = signed_in()
    assert user is not None  # page_role let only a signed-in admin through
    entry = audit(
        "adapter.settings", name, after={"enabled": enabled}, detail="; ".join(summary) or "saved without changes"
    )
    adapter_settings.store_change(
        parts.store, name, new, summary, user["name"], parts.clock(), parts.settings.secret_key, audit=entry
    )
    notes = apply_saved(current_app, name, adapter)
    health = {item["name"]: item for item in adapters_health(current_app)["adapters"]}
    return jsonify({"ok": True, "notes": notes, "adapter": _adapter_row(name, cls, _saved(), health)})


@bp.post("/api/adapters/<name>/test")
@page_role("admin")
def adapter_test(name: str):
    """``presence-connector adapters test NAME`` from the page, with a time limit."""
    ok, message = check_connection(
        current_app, name, timeout=current_app.config.get("ADAPTER_TEST_TIMEOUT", TEST_TIMEOUT_SECONDS)
    )
    return jsonify({"name": name, "ok": ok, "message": message})
