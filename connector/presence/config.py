"""Presence configurations: the admin-defined states and options, loaded from YAML and validated.

A configuration is refused whole, with every problem listed (file, state, field, why), so an
admin fixes a file in one pass. The rules are in docs/architecture.md ("The presence model"); the configuration itself
(states, options, session policies) is :mod:`connector.presence.model`. Every rule a configuration file
must meet is here on purpose (past the usual ~400 lines), in one validator an admin's problems come from.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping
from datetime import time
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from connector import validation as parse
from connector.errors import ConfigError
from connector.presence.contrast import AA_TEXT, DARK, contrast, readable, text_colour
from connector.presence.inbound_rules import LEADS, ON_END, OVER_CALL, InboundRule
from connector.presence.model import (
    DUPLICATE_LOGIN_POLICIES,
    PBX_MODES,
    Options,
    PresenceConfig,
    PresenceState,
    SessionPolicy,
    Status,
)
from connector.validation import Problem

__all__ = ["preset_names", "load_preset", "load_config", "parse_config", "build_config", "MappingChecks"]

#: dial characters and a comma for a pause, plus the two placeholders
REASON_CODE_RE = re.compile(r"^(?:[0-9*#+,]|\{extension\}|\{pin\})*$")
STATE_ID_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
COLOUR_RE = re.compile(r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")
ADAPTER_KEY_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
#: a configuration is a page of text: anything much bigger is a mistake or an attack
MAX_CONFIG_BYTES = 256 * 1024
MAX_STATES = 200
MAX_LABEL = 200
MAX_MAPPING_TEXT = 200


def _unprintable(char: str) -> bool:
    """Control and format characters and line/paragraph separators (CR, LF, U+0085, U+2028 ...)."""
    return unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn")


class _NoAliases(yaml.composer.ComposerError):
    pass


class _ConfigLoader(yaml.SafeLoader):
    """YAML without anchors and aliases: a few hundred bytes of aliases can expand to gigabytes."""

    def compose_node(self, parent, index):
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            raise _NoAliases(None, None, "anchors and aliases (& and *) are not allowed", event.start_mark)
        return super().compose_node(parent, index)


# ---------------------------------------------------------------------------------------------
# loading


def preset_names() -> list[str]:
    return sorted(p.name[:-5] for p in resources.files("presence_configs").iterdir() if p.name.endswith(".yaml"))


#: adapter name -> the problems with one state's mapping for that adapter (adapters.registry.mapping_checks)
MappingChecks = Mapping[str, Callable[[Any], list[str]]]


def load_preset(name: str, *, mapping_checks: MappingChecks | None = None) -> PresenceConfig:
    """A shipped preset by its name: only a name of :func:`preset_names`, never a path."""
    if name not in preset_names():
        raise ConfigError(
            [Problem("preset", f"unknown preset; known presets: {', '.join(preset_names())}", source="preset")]
        )
    path = resources.files("presence_configs") / f"{name}.yaml"
    return parse_config(path.read_text(encoding="utf-8"), source=f"{name}.yaml", mapping_checks=mapping_checks)


def load_config(ref: str, *, mapping_checks: MappingChecks | None = None) -> PresenceConfig:
    """A preset name (``default``, ``teams`` ...) or a path to a YAML file."""
    path = Path(ref)
    if ref.endswith((".yaml", ".yml")) or path.is_file():
        if not path.is_file():
            raise ConfigError([Problem("file", "no such file", source=ref)])
        return parse_config(path.read_text(encoding="utf-8"), source=str(path), mapping_checks=mapping_checks)
    return load_preset(ref, mapping_checks=mapping_checks)


def parse_config(
    text: str, source: str = "<memory>", *, stored: bool = False, mapping_checks: MappingChecks | None = None
) -> PresenceConfig:
    """Parse and validate a YAML configuration. ``stored``: one the store already holds as active or past
    version (accepted by the rules of its time): the hardened limits (size, aliases, label
    lines and lengths, adapter mapping shapes) are not applied again, so an upgrade never stops a
    running configuration; they apply when it is next saved or imported."""
    if stored:
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError:
            raise ConfigError([Problem("yaml", "not valid YAML", source=source)]) from None
        return build_config(data, source, stored=True, mapping_checks=mapping_checks)
    if len(text.encode("utf-8", "surrogatepass")) > MAX_CONFIG_BYTES:
        raise ConfigError([Problem("yaml", f"the file is larger than {MAX_CONFIG_BYTES // 1024} KiB", source=source)])
    try:
        data = yaml.load(text, Loader=_ConfigLoader)  # noqa: S506 (a SafeLoader without aliases)
    except _NoAliases as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else "?"
        raise ConfigError(
            [Problem("yaml", f"anchors and aliases (& and *) are not allowed (line {line})", source=source)]
        ) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ConfigError([Problem("yaml", f"not valid YAML{where}", source=source)]) from None
    return build_config(data, source, mapping_checks=mapping_checks)


def build_config(
    data: Any, source: str = "<memory>", *, stored: bool = False, mapping_checks: MappingChecks | None = None
) -> PresenceConfig:
    """Validate a parsed document and build the configuration, or raise with every problem.
    ``mapping_checks``: each installed adapter's check of its per-state mappings (adapters.registry)."""
    v = _Validator(source, hardened=not stored, mapping_checks=mapping_checks)
    config = v.config(data)
    if v.problems:
        raise ConfigError(v.problems)
    assert config is not None
    return config


class _Validator:
    TOP_KEYS = {"name", "description", "options", "states", "inbound"}
    INBOUND_KEYS = {
        "apply",
        "map",
        "from_statuses",
        "over_call",
        "after_own_pick_seconds",
        "over_supervisor",
        "on_end",
        "leads",
        "conflict_seconds",
    }
    STATE_KEYS = {
        "id",
        "label",
        "status",
        "reason_code",
        "colour",
        "color",
        "selectable",
        "adapters",
        "alert_after_seconds",
    }
    SESSION_KEYS = {f for f in SessionPolicy.__dataclass_fields__}
    OPTION_KEYS = {f for f in Options.__dataclass_fields__}

    def __init__(self, source: str, hardened: bool = True, mapping_checks: MappingChecks | None = None):
        self.source = source
        #: the hardened limits (see parse_config's ``stored``)
        self.hardened = hardened
        self.mapping_checks: MappingChecks = mapping_checks or {}
        self.problems: list[Problem] = []

    def problem(self, fld: str, why: str, state: str | None = None) -> None:
        self.problems.append(Problem(fld, why, source=self.source, state=state))

    # -- scalar helpers ----------------------------------------------------------------------
    def int_in(self, value: Any, fld: str, lo: int, hi: int, default: int) -> int:
        if value is None:
            return default
        try:
            return parse.whole_number(value, lo, hi, coerce=False)
        except parse.BadValue as bad:
            self.problem(
                fld,
                f"{value} is out of range {lo}-{hi}"
                if bad.kind == "range"
                else f"must be a whole number from {lo} to {hi}",
            )
            return default

    def boolean(self, value: Any, fld: str, default: bool, state: str | None = None) -> bool:
        if value is None:
            return default
        try:
            return parse.flag(value, coerce=False)
        except parse.BadValue:
            self.problem(fld, "must be true or false", state)
            return default

    def text(self, value: Any, fld: str, default: str = "", state: str | None = None) -> str:
        if value is None:
            return default
        try:
            return parse.text(value, coerce=False)
        except parse.BadValue:
            self.problem(fld, "must be text", state)
            return default

    def one_of(self, value: Any, fld: str, choices: tuple[str, ...], default: str) -> str:
        try:
            return parse.choice(value, choices)
        except parse.BadValue:
            self.problem(fld, f"{value!r} must be one of: {', '.join(choices)}")
            return default

    def reason_code(self, value: Any, fld: str, state: str | None = None) -> str:
        code = self.text(value, fld, state=state)
        if not REASON_CODE_RE.match(code):
            self.problem(
                fld,
                f"'{code}' may contain only dial characters 0-9 * # + , and the placeholders {{extension}} and {{pin}}",
                state,
            )
            return ""
        return code

    def alert_after(self, value: Any, state: str) -> tuple[int, ...]:
        """``alert_after_seconds``: one or two rising times (amber, then red), 1 s to 24 h."""
        if value is None or value == []:
            return ()
        fld, lo, hi = "alert_after_seconds", 1, 86400
        items = value if isinstance(value, list) else [value]
        if len(items) > 2:
            self.problem(fld, "give at most two times: amber, then red (e.g. [900, 1800])", state)
            return ()
        times: list[int] = []
        for item in items:
            try:
                times.append(parse.whole_number(item, lo, hi, coerce=False))
            except parse.BadValue:
                self.problem(fld, f"{item!r} must be a whole number of seconds from {lo} to {hi}", state)
                return ()
        if len(times) == 2 and times[1] <= times[0]:
            self.problem(fld, f"red ({times[1]} s) must come after amber ({times[0]} s)", state)
            return ()
        return tuple(times)

    def adapter_mappings(self, raw: Any, state: str) -> dict:
        """``adapters:``: adapter name -> a short text, number, true/false, or one flat mapping of those."""
        if raw is None:
            return {}
        if not self.hardened:
            if not isinstance(raw, dict):
                self.problem("adapters", "must be a mapping of adapter name to its value", state)
                return {}
            return dict(raw)
        if not isinstance(raw, dict) or len(raw) > 32:
            self.problem("adapters", "must be a mapping of at most 32 adapter names to their values", state)
            return {}
        for key, value in raw.items():
            fld = f"adapters.{key}"
            if not isinstance(key, str) or not ADAPTER_KEY_RE.match(key):
                self.problem("adapters", f"{str(key)[:40]!r} is not an adapter name", state)
                return {}
            values = value.values() if isinstance(value, dict) else [value]
            if isinstance(value, dict) and (
                len(value) > 16 or not all(isinstance(k, str) and len(k) <= 64 for k in value)
            ):
                self.problem(fld, "a mapping of at most 16 short keys", state)
                return {}
            for item in values:
                if not (
                    item is None
                    or isinstance(item, (bool, int, float))
                    or (isinstance(item, str) and len(item) <= MAX_MAPPING_TEXT)
                ):
                    self.problem(
                        fld,
                        f"values must be text of at most {MAX_MAPPING_TEXT} characters, numbers, "
                        "true/false, or one flat mapping of those",
                        state,
                    )
                    return {}
        return dict(raw)

    def unknown_keys(self, data: dict, allowed: set, prefix: str, state: str | None = None) -> None:
        for key in data:
            if key not in allowed:
                self.problem(f"{prefix}{key}", "unknown key", state)

    # -- sections ----------------------------------------------------------------------------
    def config(self, data: Any) -> PresenceConfig | None:
        if not isinstance(data, dict):
            self.problem("document", "must be a mapping with 'name', 'options' and 'states'")
            return None
        self.unknown_keys(data, self.TOP_KEYS, "")
        name = self.text(data.get("name"), "name", default=Path(self.source).stem)
        if self.hardened and (len(name) > 200 or any(_unprintable(c) for c in name)):
            self.problem("name", "must be one line of at most 200 printable characters")
        if self.hardened and len(str(data.get("description") or "")) > 4000:
            self.problem("description", "must be at most 4000 characters")
        states = self.states(data.get("states"))
        options = self.options(data.get("options") or {}, states)
        inbound = self.inbound(data.get("inbound"), states)
        if self.problems:
            return None
        return PresenceConfig(
            name=name,
            states=tuple(states),
            options=options,
            source=self.source,
            description=self.text(data.get("description"), "description"),
            inbound=inbound,
        )

    def inbound(self, raw: Any, states: list[PresenceState]) -> tuple[InboundRule, ...]:
        """``inbound:``: per adapter source (teams, omni-channel, pbx ...) the rules for changes it reports."""
        if raw is None:
            return ()
        if not isinstance(raw, dict) or len(raw) > 32:
            self.problem("inbound", "must be a mapping of at most 32 adapter names (teams, omni-channel, pbx ...)")
            return ()
        ids = {s.id: s for s in states}
        rules: list[InboundRule] = []
        for adapter, body in raw.items():
            where = f"inbound.{adapter}"
            if not isinstance(adapter, str) or not ADAPTER_KEY_RE.match(adapter):
                self.problem("inbound", f"{str(adapter)[:40]!r} is not an adapter name")
                continue
            if not isinstance(body, dict):
                self.problem(where, "must be a mapping (apply, map, from_statuses, over_call, on_end, leads ...)")
                continue
            self.unknown_keys(body, self.INBOUND_KEYS, f"{where}.")
            mapping: dict[str, str] = {}
            raw_map = body.get("map") or {}
            if not isinstance(raw_map, dict) or len(raw_map) > 64:
                self.problem(f"{where}.map", "must be a mapping of at most 64 remote presences to state ids")
            else:
                for remote, state_id in raw_map.items():
                    if not isinstance(remote, str) or not remote.strip() or len(remote) > MAX_MAPPING_TEXT:
                        self.problem(f"{where}.map", f"{str(remote)[:40]!r} is not a remote presence name")
                    elif state_id not in ids:
                        self.problem(f"{where}.map.{remote}", f"no state with id {str(state_id)[:64]!r}")
                    elif not ids[state_id].selectable:
                        self.problem(
                            f"{where}.map.{remote}", f"state '{state_id}' is set by the system, not selectable"
                        )
                    else:
                        mapping[remote] = state_id
            statuses: list[int] = []
            raw_statuses = body.get("from_statuses") or []
            if not isinstance(raw_statuses, list):
                self.problem(f"{where}.from_statuses", "must be a list of status codes (e.g. [1, 3])")
            else:
                for value in raw_statuses:
                    if isinstance(value, bool) or value not in {int(st) for st in Status}:
                        self.problem(f"{where}.from_statuses", f"unknown status {value!r}; use 1 to 7")
                    else:
                        statuses.append(int(value))
            rules.append(
                InboundRule(
                    adapter=adapter,
                    apply=self.boolean(body.get("apply"), f"{where}.apply", True),
                    map=mapping,
                    from_statuses=tuple(statuses),
                    over_call=self.one_of(body.get("over_call", "next"), f"{where}.over_call", OVER_CALL, "next"),
                    after_own_pick_seconds=self.int_in(
                        body.get("after_own_pick_seconds"), f"{where}.after_own_pick_seconds", 0, 86400, 0
                    ),
                    over_supervisor=self.boolean(body.get("over_supervisor"), f"{where}.over_supervisor", True),
                    on_end=self.one_of(body.get("on_end", "stay"), f"{where}.on_end", ON_END, "stay"),
                    leads=self.one_of(body.get("leads", "remote"), f"{where}.leads", LEADS, "remote"),
                    conflict_seconds=self.int_in(body.get("conflict_seconds"), f"{where}.conflict_seconds", 0, 3600, 5),
                )
            )
        return tuple(rules)

    def states(self, raw: Any) -> list[PresenceState]:
        if not isinstance(raw, list) or not raw:
            self.problem("states", "must be a non-empty list of states")
            return []
        if self.hardened and len(raw) > MAX_STATES:
            self.problem("states", f"at most {MAX_STATES} states")
            return []
        states: list[PresenceState] = []
        valid_statuses: set[Status] = set()
        seen_ids: set[str] = set()
        seen_labels: set[str] = set()
        for i, item in enumerate(raw):
            where = f"states[{i}]"
            if not isinstance(item, dict):
                self.problem(where, "must be a mapping")
                continue
            sid = item.get("id")
            name = sid if isinstance(sid, str) else where
            self.unknown_keys(item, self.STATE_KEYS, "", name)
            if not isinstance(sid, str) or not STATE_ID_RE.match(sid):
                self.problem("id", "must be a slug: lower-case letters, digits, '-' or '_'", name)
            elif sid in seen_ids:
                self.problem("id", f"duplicate id '{sid}'", name)
            label = item.get("label")
            if not isinstance(label, str) or not label.strip():
                self.problem("label", "is required", name)
                label = ""
            elif self.hardened and (len(label.strip()) > MAX_LABEL or any(_unprintable(c) for c in label)):
                self.problem(
                    "label",
                    f"must be one line of at most {MAX_LABEL} printable characters "
                    "(no line breaks or control characters)",
                    name,
                )
                label = ""
            elif label.strip().lower() in seen_labels:
                self.problem("label", f"duplicate label '{label}'", name)
            status_raw = item.get("status")
            try:
                if isinstance(status_raw, bool) or status_raw is None:  # (Status(None) would refuse it too)
                    raise ValueError
                status = Status(status_raw)
                valid_statuses.add(status)
            except (ValueError, TypeError):
                self.problem(
                    "status",
                    f"unknown status {status_raw!r}; use 1 Online, 2 Offline, 3 Away, "
                    "4 DND, 5 Busy, 6 On a call, 7 Logout",
                    name,
                )
                status = Status.ONLINE
            colour = item.get("colour", item.get("color", "#546e7a"))
            if not isinstance(colour, str) or not COLOUR_RE.match(colour):
                self.problem("colour", f"{colour!r} is not a colour like #2e7d32", name)
                colour = "#546e7a"
            elif not readable(colour):
                best = contrast(colour, text_colour(colour))
                self.problem(
                    "colour",
                    f"{colour}: neither white nor dark ({DARK}) text reaches {AA_TEXT}:1 "
                    f"on it (best {best:.2f}:1); pick a darker or lighter colour",
                    name,
                )
            adapters = self.adapter_mappings(item.get("adapters"), name)
            for adapter, value in adapters.items():  # each adapter's own rules (Adapter.check_mapping)
                check = self.mapping_checks.get(adapter)
                for why in check(value) if check else ():
                    self.problem(f"adapters.{adapter}", why, name)
            state = PresenceState(
                id=sid if isinstance(sid, str) else "",
                label=label.strip(),
                status=status,
                reason_code=self.reason_code(item.get("reason_code"), "reason_code", name),
                colour=colour,
                selectable=self.boolean(
                    item.get("selectable"), "selectable", default=status != Status.ON_A_CALL, state=name
                ),
                adapters=dict(adapters),
                alert_after_seconds=self.alert_after(item.get("alert_after_seconds"), name),
            )
            seen_ids.add(state.id)
            seen_labels.add(state.label.lower())
            states.append(state)
        if states and Status.ONLINE not in valid_statuses:
            self.problem("states", "a Ready state (status 1, Online) is required")
        return states

    def options(self, raw: Any, states: list[PresenceState]) -> Options:
        if not isinstance(raw, dict):
            self.problem("options", "must be a mapping")
            return Options()
        self.unknown_keys(raw, self.OPTION_KEYS, "options.")
        pbx_mode = self.one_of(raw.get("pbx_mode", "none"), "options.pbx_mode", PBX_MODES, "none")
        ids = {s.id: s for s in states}
        roles: dict[str, str | None] = {}
        for role, needed in (
            ("initial_state", None),
            ("ready_state", Status.ONLINE),
            ("wrap_up_state", Status.DND),
            ("on_call_state", Status.ON_A_CALL),
            ("offline_state", Status.OFFLINE),
            ("logout_state", Status.LOGOUT),
        ):
            ref = raw.get(role)
            if ref is None:
                roles[role] = None
                continue
            if ref not in ids:
                self.problem(f"options.{role}", f"no state with id '{ref}'")
                roles[role] = None
            elif needed is not None and ids[ref].status != needed:
                self.problem(f"options.{role}", f"state '{ref}' must have status {int(needed)} ({needed.label})")
                roles[role] = None
            else:
                roles[role] = ref
        options = Options(
            pbx_mode=pbx_mode,
            wrap_up_seconds=self.int_in(raw.get("wrap_up_seconds"), "options.wrap_up_seconds", 0, 999, 0),
            active_call=self.boolean(raw.get("active_call"), "options.active_call", False),
            max_call_seconds=self.int_in(raw.get("max_call_seconds"), "options.max_call_seconds", 0, 86400, 14400),
            tracking_interval_seconds=self.int_in(
                raw.get("tracking_interval_seconds"), "options.tracking_interval_seconds", 1, 999, 60
            ),
            omni_channel_sync=self.boolean(raw.get("omni_channel_sync"), "options.omni_channel_sync", False),
            skype_sync=self.boolean(raw.get("skype_sync"), "options.skype_sync", False),
            teams_sync=self.boolean(raw.get("teams_sync"), "options.teams_sync", False),
            login_code=self.reason_code(raw.get("login_code"), "options.login_code"),
            logout_code=self.reason_code(raw.get("logout_code"), "options.logout_code"),
            session=self.session(raw.get("session") or {}),
            **roles,
        )
        by_status = {s.status for s in states}
        if options.wrap_up_seconds and not roles["wrap_up_state"] and Status.DND not in by_status:
            self.problem("options.wrap_up_seconds", "wrap-up needs a DND state (status 4) or options.wrap_up_state")
        if options.active_call and Status.ON_A_CALL not in by_status:
            self.problem("options.active_call", "active call needs an 'On a call' state (status 6)")
        if options.session.heartbeat_grace_seconds and Status.OFFLINE not in by_status:
            self.problem(
                "options.session.heartbeat_grace_seconds", "connection-loss handling needs an Offline state (status 2)"
            )
        return options

    def session(self, raw: Any) -> SessionPolicy:
        if not isinstance(raw, dict):
            self.problem("options.session", "must be a mapping")
            return SessionPolicy()
        self.unknown_keys(raw, self.SESSION_KEYS, "options.session.")
        policy = self.one_of(
            raw.get("duplicate_login", "reject"), "options.session.duplicate_login", DUPLICATE_LOGIN_POLICIES, "reject"
        )
        allowed = raw.get("logout_allowed_statuses", [1, 2, 3, 4, 5])
        statuses: list[int] = []
        if not isinstance(allowed, list) or not allowed:
            self.problem("options.session.logout_allowed_statuses", "must be a non-empty list of status codes")
        else:
            for value in allowed:
                if isinstance(value, bool) or value not in {int(s) for s in Status}:
                    self.problem("options.session.logout_allowed_statuses", f"unknown status {value!r}")
                else:
                    statuses.append(int(value))
        logoff = raw.get("scheduled_logoff")
        logoff_time = None
        if logoff is not None:
            text = str(logoff) if not isinstance(logoff, int) else f"{logoff // 60:02d}:{logoff % 60:02d}"
            m = re.fullmatch(r"([01]?\d|2[0-3]):([0-5]\d)", text)
            if not m:
                self.problem("options.session.scheduled_logoff", f"{logoff!r} must be a daily time HH:MM")
            else:
                logoff_time = time(int(m.group(1)), int(m.group(2)))
        return SessionPolicy(
            inactivity_logout_seconds=self.int_in(
                raw.get("inactivity_logout_seconds"), "options.session.inactivity_logout_seconds", 0, 7200, 0
            ),
            duplicate_login=policy,
            logout_allowed_statuses=tuple(statuses) or (1, 2, 3, 4, 5),
            scheduled_logoff=logoff_time,
            heartbeat_grace_seconds=self.int_in(
                raw.get("heartbeat_grace_seconds"), "options.session.heartbeat_grace_seconds", 0, 3600, 0
            ),
            reconnect_window_seconds=self.int_in(
                raw.get("reconnect_window_seconds"), "options.session.reconnect_window_seconds", 0, 86400, 300
            ),
        )
