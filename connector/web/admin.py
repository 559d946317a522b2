"""The CRM admins' pages: the presence states editor, and users, agents and API tokens.

The page talks to the small JSON endpoints below (cookie + CSRF token). The editor validates
with the same rules as ``presence-connector config validate`` and applies a new versioned config.
"""

from __future__ import annotations

import re
from zoneinfo import available_timezones

from flask import Blueprint, Response, jsonify, render_template, request, session

from adapters.registry import available
from connector.audit import trail
from connector.audit.requests import entry as audit
from connector.auth import accounts, teams
from connector.auth.hashing import ROLES
from connector.errors import ConfigError, InvalidInput, MalformedRequest
from connector.parts import get_parts
from connector.presence import system_states
from connector.presence.config import build_config, load_preset, parse_config, preset_names
from connector.presence.inbound_rules import source_name
from connector.presence.model import ChangeSource, PresenceConfig
from connector.web.guard import page_role

bp = Blueprint("admin", __name__, url_prefix="/admin")
#: the IANA zones an agent's days may follow (offered as the time zone field's suggestions)
TIME_ZONES = sorted(z for z in available_timezones() if "/" in z and not z.startswith(("Etc/", "posix/", "right/")))
EDITOR_SOURCE = "admin editor"


def json_body() -> object:
    """The request's JSON, None when it is not JSON; 400 when it is nested too deeply to read."""
    try:
        return request.get_json(silent=True)
    except RecursionError:
        raise MalformedRequest("the body is nested too deeply", field="body") from None


def _json() -> dict:
    data = json_body()
    if not isinstance(data, dict):
        raise InvalidInput("send a JSON object with 'Content-Type: application/json'", field="body")
    return data


def _active() -> PresenceConfig:
    return get_parts().configs.active()


@bp.get("")
@page_role("admin")
def page():
    return render_template(
        "admin.html", roles=ROLES, time_zones=TIME_ZONES, default_timezone=get_parts().settings.timezone
    )


# -- presence configuration ----------------------------------------------------------------------


@bp.get("/api/config")
@page_role("admin")
def get_config():
    history = get_parts().configs.history(20)
    return jsonify(
        {
            "config": _active().to_dict(),
            "version": history[0]["version"] if history else None,
            "history": history,
            "presets": preset_names(),
            "active_preset": _active_preset(),
            # status -> ids of the states the editor keeps (connector.presence.system_states)
            "system_states": system_states.system_ids(_active()),
            "inbound_sources": inbound_sources(_active()),
        }
    )


def inbound_sources(config: PresenceConfig) -> list[dict]:
    """The change sources an ``inbound:`` rule may be written for on the page: Teams, Omni-Channel and the PBX,
    each installed adapter's source (a third-party adapter's too) and any the configuration already names."""
    names = {ChangeSource.TEAMS, ChangeSource.OMNI_CHANNEL, ChangeSource.PBX}
    names.update(cls.echo_source or name for name, cls in available().items())
    names.update(rule.adapter for rule in config.inbound)
    return [{"source": n, "name": source_name(n)} for n in sorted(names)]


def _active_preset() -> str | None:
    """The shipped preset the active configuration is (by name), so the preset list shows it."""
    name = _active().name.strip().lower()
    for preset in preset_names():
        try:
            if load_preset(preset).name.strip().lower() == name:
                return preset
        except ConfigError:
            continue
    return None


def _checked_config() -> PresenceConfig:
    """The body's configuration, checked as ``config validate`` does and for the system states the active
    one has (removing one, or changing its status, is refused); ConfigError -> 422 with every problem."""
    config = build_config(_json().get("config"), EDITOR_SOURCE, mapping_checks=get_parts().configs.mapping_checks)
    problems = system_states.problems(_active(), config, EDITOR_SOURCE)
    if problems:
        raise ConfigError(problems)
    return config


def _flat(value: object, prefix: str = "") -> dict[str, object]:
    """A nested mapping as dotted keys (lists stay values): ``{"session": {"a": 1}}`` -> ``{"session.a": 1}``."""
    if not isinstance(value, dict):
        return {prefix: value}
    out: dict[str, object] = {}
    for key, item in value.items():
        out.update(_flat(item, f"{prefix}.{key}" if prefix else str(key)))
    return out


def config_changes(old: PresenceConfig, new: PresenceConfig) -> list[dict]:
    """What applying ``new`` over ``old`` changes, as the review lists it: each line ``{what, item, field,
    before, after}`` (``what``: state added / removed / changed / moved, option changed, name changed)."""
    before, after = old.to_dict(), new.to_dict()
    lines: list[dict] = []
    if before["name"] != after["name"]:
        lines.append({"what": "name", "item": "configuration", "field": "name", "before": old.name, "after": new.name})
    old_states = {s["id"]: s for s in before["states"]}
    new_states = {s["id"]: s for s in after["states"]}
    for sid, state in old_states.items():
        if sid not in new_states:
            lines.append({"what": "removed", "item": state["label"], "field": "state", "before": sid, "after": None})
    for sid, state in new_states.items():
        if sid not in old_states:
            lines.append({"what": "added", "item": state["label"], "field": "state", "before": None, "after": sid})
            continue
        was, now = _flat(old_states[sid]), _flat(state)
        for key in sorted(set(was) | set(now), key=lambda k: (k != "label", k)):
            if was.get(key) != now.get(key):
                lines.append(
                    {
                        "what": "changed",
                        "item": state["label"],
                        "field": key,
                        "before": was.get(key),
                        "after": now.get(key),
                    }
                )
    kept_old = [sid for sid in old_states if sid in new_states]
    kept_new = [sid for sid in new_states if sid in old_states]
    if kept_old != kept_new:
        lines.append({"what": "moved", "item": "states", "field": "order", "before": kept_old, "after": kept_new})
    was, now = _flat(before.get("options", {})), _flat(after.get("options", {}))
    for key in sorted(set(was) | set(now)):
        if was.get(key) != now.get(key):
            lines.append(
                {"what": "option", "item": "options", "field": key, "before": was.get(key), "after": now.get(key)}
            )
    lines.extend(_inbound_changes(before.get("inbound") or {}, after.get("inbound") or {}))
    return lines


def _inbound_changes(before: dict, after: dict) -> list[dict]:
    """The ``inbound:`` rules' lines of the review: a rule added or removed, else each field that changed
    (a mapping row as ``map.<remote presence>``)."""
    lines: list[dict] = []
    for source in sorted(set(before) | set(after)):
        item = f"inbound from {source_name(source)}"
        if source not in after:
            lines.append({"what": "inbound", "item": item, "field": "rule", "before": "in force", "after": "removed"})
            continue
        if source not in before:
            lines.append({"what": "inbound", "item": item, "field": "rule", "before": None, "after": "added"})
        was, now = _flat(before.get(source, {})), _flat(after[source])
        for key in sorted(set(was) | set(now)):
            if was.get(key) != now.get(key):
                lines.append(
                    {"what": "inbound", "item": item, "field": key, "before": was.get(key), "after": now.get(key)}
                )
    return lines


@bp.post("/api/config/validate")
@page_role("admin")
def validate_config():
    """Check the draft; ``changes`` is what applying it would change (the page's "Review changes")."""
    config = _checked_config()
    return jsonify({"ok": True, "states": len(config.states), "changes": config_changes(_active(), config)})


@bp.post("/api/config")
@page_role("admin")
def save_config():
    config = _checked_config()
    before = _active()
    changes = config_changes(before, config)
    entry = audit(
        "config.apply",
        config.name,
        before={"name": before.name},
        after={"name": config.name},
        detail=f"{len(changes)} change(s): "
        + "; ".join(f"{c['item']} {c['field']} {c['what']}" for c in changes)[:2000],
    )
    version = get_parts().configs.apply(config, created_by=session["principal"]["name"], origin="admin", audit=entry)
    get_parts().bus.publish("config", {"version": version, "name": config.name})  # open pages reload their states
    return jsonify({"version": version, "config": config.to_dict()})


@bp.post("/api/config/import")
@page_role("admin")
def import_config():
    """A preset or an uploaded YAML file, validated and returned to the editor (saved by 'Save')."""
    data = _json()
    if data.get("preset"):
        config = load_preset(str(data["preset"]), mapping_checks=get_parts().configs.mapping_checks)
    elif isinstance(data.get("yaml"), str):
        config = parse_config(
            data["yaml"],
            source=str(data.get("filename") or "uploaded file"),
            mapping_checks=get_parts().configs.mapping_checks,
        )
    else:
        raise InvalidInput("send 'preset' (a preset name) or 'yaml' (the file's text)", field="preset")
    return jsonify({"config": config.to_dict()})


@bp.get("/config.yaml")
@page_role("admin")
def export_config():
    config = _active()
    return Response(
        config.to_yaml(),
        mimetype="application/yaml",
        headers={"Content-Disposition": f"attachment; filename={config.name.lower().replace(' ', '-')}.yaml"},
    )


# -- users, agents, tokens -------------------------------------------------------------------------


@bp.get("/api/accounts")
@page_role("admin")
def list_accounts():
    store = get_parts().store
    guard = get_parts().sign_in
    return jsonify(
        {
            "users": accounts.list_users(store),
            "agents": accounts.list_agents(store),
            "teams": teams.list_teams(store),
            "tokens": accounts.list_tokens(store),
            "sign_ins": {
                "locked": guard.locked_accounts(),
                "alerts": guard.alerts(),
                "throttled": guard.throttled(),
                "failures": guard.recent_failures(),
            },
        }
    )


@bp.post("/api/lockouts/unlock")
@page_role("admin")
def unlock_account():
    """Unlock an account an admin locked, and clear its alert and throttles (``agent:<id>`` or ``user:<name>``)."""
    account = _json().get("account")
    if not isinstance(account, str) or not get_parts().sign_in.unlock(account, audit=audit("account.unlock", account)):
        raise InvalidInput("no locked, alerted or throttled account by that name", field="account")
    return jsonify({"ok": True})


@bp.post("/api/lockouts/lock")
@page_role("admin")
def lock_account():
    """An admin's hard lock (``agent:<id>`` or ``user:<name>``): every secret is refused until unlocked."""
    account = _json().get("account")
    if not isinstance(account, str) or not re.fullmatch(r"(agent|user):[A-Za-z0-9._@-]{1,100}", account):
        raise InvalidInput("account must be agent:<id> or user:<name>", field="account")
    get_parts().sign_in.lock(account, audit=audit("account.lock", account))
    return jsonify({"ok": True})


@bp.post("/api/users/<username>/password")
@page_role("admin")
def user_password(username: str):
    """Set a user's password; the user's page sessions end."""
    accounts.set_password(
        get_parts().store,
        username,
        _json().get("password"),
        get_parts().clock(),
        audit=audit("user.password_reset", username, after={"password": trail.SECRET_CHANGED}),
    )
    return jsonify({"ok": True})


@bp.post("/api/users")
@page_role("admin")
def add_user():
    data = _json()
    accounts.add_user(
        get_parts().store,
        str(data.get("username") or ""),
        data.get("password"),
        data.get("role"),
        get_parts().clock(),
        agent_id=data.get("agent_id") or None,
        audit=audit(
            "user.add",
            str(data.get("username")),
            after={
                "role": data.get("role"),
                "agent_id": data.get("agent_id") or None,
                "password": trail.SECRET_CHANGED,
            },
        ),
    )
    return jsonify({"ok": True}), 201


@bp.post("/api/users/<username>/active")
@page_role("admin")
def user_active(username: str):
    if username == session["principal"]["name"]:
        raise InvalidInput("you cannot disable your own account", field="username")
    active = bool(_json().get("active"))
    entry = audit("user.enable" if active else "user.disable", username, after={"active": active})
    accounts.set_user_active(get_parts().store, username, active, get_parts().clock(), audit=entry)
    return jsonify({"ok": True})


@bp.post("/api/agents")
@page_role("admin")
def add_agent():
    data = _json()
    entry = audit("agent.add", str(data.get("id") or ""), after=_agent_audit(data))
    accounts.add_agent(get_parts().store, data, get_parts().clock(), audit=entry)
    return jsonify({"ok": True}), 201


def _agent_audit(data: dict) -> dict:
    """What an added agent's record says, the PIN only as set."""
    out = {k: data[k] for k in accounts.EDITABLE_AGENT_FIELDS if k in data}
    if data.get("pin"):
        out["pin"] = trail.SECRET_CHANGED
    return out


@bp.post("/api/agents/import")
@page_role("admin")
def import_agents():
    text = _json().get("csv")
    if not isinstance(text, str):
        raise InvalidInput("send the CSV text as 'csv'", field="csv")
    created, updated = accounts.import_agents(get_parts().store, text, get_parts().clock(), audit=audit("agent.import"))
    return jsonify({"created": created, "updated": updated})


@bp.patch("/api/agents/<agent_id>")
@page_role("admin")
def edit_agent(agent_id: str):
    """Change an agent's name, team, extension, email or Salesforce user id (recorded in the log)."""
    agent = accounts.update_agent(
        get_parts().store, agent_id, _json(), by=session["principal"]["name"], audit=audit("agent.edit", agent_id)
    )
    return jsonify({"ok": True, "agent": agent})


@bp.put("/api/teams/<path:team>")
@page_role("admin")
def team_zone(team: str):
    """Set the time zone of a team's days (``{"timezone": "America/New_York"}``; "" for CONNECTOR_TIMEZONE)."""
    data = _json()
    wrong = next((k for k in data if k != "timezone"), None)
    if wrong is not None:
        raise InvalidInput(f"'{wrong}' cannot be set here; only timezone", field=wrong)
    return jsonify(
        {
            "ok": True,
            "team": teams.set_team_zone(get_parts().store, team, data.get("timezone"), by=session["principal"]["name"]),
        }
    )


@bp.post("/api/agents/<agent_id>/active")
@page_role("admin")
def agent_active(agent_id: str):
    active = bool(_json().get("active"))
    entry = audit("agent.enable" if active else "agent.disable", agent_id, after={"active": active})
    accounts.set_agent_active(get_parts().store, agent_id, active, get_parts().clock(), audit=entry)
    return jsonify({"ok": True})


@bp.post("/api/agents/<agent_id>/pin")
@page_role("admin")
def agent_pin(agent_id: str):
    entry = audit("agent.pin_reset", agent_id, after={"pin": trail.SECRET_CHANGED})
    accounts.reset_pin(get_parts().store, agent_id, _json().get("pin"), get_parts().clock(), audit=entry)
    return jsonify({"ok": True})


@bp.post("/api/tokens")
@page_role("admin")
def create_token():
    data = _json()
    token = accounts.create_token(
        get_parts().store,
        data.get("role"),
        get_parts().clock(),
        agent_id=data.get("agent_id") or None,
        name=str(data.get("name") or ""),
        audit=audit("token.create"),  # the target and record are the new token's (accounts.create_token)
    )
    return jsonify({"token": token}), 201  # shown once: only its digest is stored


@bp.post("/api/tokens/<int:token_id>/revoke")
@page_role("admin")
def revoke_token(token_id: int):
    accounts.revoke_token(
        get_parts().store, token_id, get_parts().clock(), audit=audit("token.revoke", f"token {token_id}")
    )
    return jsonify({"ok": True})
