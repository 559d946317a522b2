"""The admin page's Salesforce and Adapters tabs: status, "Sync now", the call-centre file, tests.

Everything shown here comes from the environment (SF_*, CONNECTOR_ADAPTERS and each adapter's
prefixed settings); secret settings are only ever reported as set or not set.
"""
from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from flask import Response, current_app, jsonify, request, url_for

from adapters.base import Adapter
from adapters.registry import available
from ..errors import InvalidInput
from ..integrations import adapters_health, check_connection
from ..salesforce.callcenter import callcenter_xml
from ..salesforce.status import sync_status
from .admin import bp
from .guard import page_role

#: how long "Test connection" waits for an adapter's check before reporting it as not answering
TEST_TIMEOUT_SECONDS = 15.0


def default_softphone_url() -> str:
    """This server's /softphone, as https (Lightning Experience only accepts an https adapter URL)."""
    parts = urlsplit(url_for("softphone.page", _external=True))
    return urlunsplit(("https", parts.netloc, parts.path, "", ""))


# -- Salesforce ---------------------------------------------------------------------------------------

def _salesforce_status() -> dict:
    """``sync_status`` (no secrets) plus the login host and this server's softphone URL."""
    status = sync_status(current_app.extensions["salesforce"])
    connection = status.get("connection")
    if connection:
        status["connection"] = {**connection, "login_host": urlsplit(connection["login_url"]).hostname}
    return {**status, "softphone_url": default_softphone_url()}


@bp.get("/api/salesforce")
@page_role("admin")
def salesforce_status():
    return jsonify(_salesforce_status())


@bp.post("/api/salesforce/sync")
@page_role("admin")
def salesforce_sync_now():
    """The same flush as ``presence-connector sync now`` (ignores a backoff, not an API-limit pause)."""
    sync = current_app.extensions["salesforce"]
    report = sync.flush(force=True)
    return jsonify({"ok": report.configured and not report.error and not report.skipped,
                    "summary": report.summary(), "parked_reasons": report.parked_reasons[:20],
                    "status": _salesforce_status()})


@bp.get("/callcenter.xml")
@page_role("admin")
def callcenter_file():
    """The Open CTI call-centre definition for the given softphone URL, as a file to import in Setup."""
    url = (request.args.get("url") or "").strip() or default_softphone_url()
    try:
        text = callcenter_xml(url)
    except InvalidInput as exc:
        raise InvalidInput(exc.message, field="url") from None
    return Response(text, mimetype="application/xml",
                    headers={"Content-Disposition": "attachment; filename=presence-connector-callcenter.xml"})


# -- adapters -------------------------------------------------------------------------------------------

def _setting_rows(cls: type[Adapter], adapter: Adapter | None) -> list[dict]:
    """Each setting with its environment variable; a secret's value is never included."""
    get = current_app.extensions["connector"].settings.get
    rows = []
    for key, spec in cls.settings.items():
        env = cls.env_name(key)
        raw = get(env)
        value = adapter.config.get(key) if adapter is not None else raw
        row = {"env": env, "required": spec.required, "secret": spec.secret, "help": spec.help,
               "set": value not in (None, "")}
        if not spec.secret:
            row["value"] = value if value not in (None, "") else spec.default
            row["from_default"] = raw in (None, "") and row["value"] == spec.default
        rows.append(row)
    return rows


@bp.get("/api/adapters")
@page_role("admin")
def adapters_list():
    enabled = current_app.extensions["dispatcher"].adapters
    health = {item["name"]: item for item in adapters_health(current_app)["adapters"]}
    classes: dict[str, type[Adapter]] = {**available(), **{n: type(a) for n, a in enabled.items()}}
    rows = []
    for name, cls in sorted(classes.items()):
        adapter = enabled.get(name)
        item = health.get(name, {})
        rows.append({"name": name, "enabled": adapter is not None, "settings": _setting_rows(cls, adapter),
                     "health": {k: v for k, v in item.items() if k not in ("name", "settings")} or None})
    setting = current_app.extensions["connector"].settings.get("CONNECTOR_ADAPTERS", "") or ""
    return jsonify({"adapters": rows, "connector_adapters": setting})


@bp.post("/api/adapters/<name>/test")
@page_role("admin")
def adapter_test(name: str):
    """``presence-connector adapters test NAME`` from the page, with a time limit."""
    ok, message = check_connection(current_app, name,
                                  timeout=current_app.config.get("ADAPTER_TEST_TIMEOUT", TEST_TIMEOUT_SECONDS))
    return jsonify({"name": name, "ok": ok, "message": message})
