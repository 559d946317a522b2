"""Settings from the environment (and an optional ``.env``), read once at start-up."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from connector.auth.cors import parse_origin_patterns
from connector.auth.hashing import HASH_COSTS
from connector.errors import InvalidInput
from connector.integrations.targets import parse_allowed


@dataclass(frozen=True)
class Settings:
    database_url: str
    presence_config: str = "default"
    presence_config_explicit: bool = False
    timezone: str = "UTC"
    secret_key: str = field(default="", repr=False)
    #: the key mixed into PIN and password hashes, kept outside the database (``CONNECTOR_PEPPER`` or
    #: ``instance/pepper``); every instance sharing a store needs the same one
    pepper: str = field(default="", repr=False)
    instance_path: str = "instance"
    frame_ancestors: tuple[str, ...] = ()
    run_scheduler: bool = True
    #: cost of new password/PIN hashes: ``standard``, or ``test`` (cheap; only for the test suite)
    password_hash_cost: str = "standard"
    #: lifetime of the Omni-Channel component's stream tokens (CONNECTOR_STREAM_TOKEN_SECONDS)
    stream_token_seconds: int = 900
    #: origins (exact, or ``https://*.lightning.force.com`` patterns) that may call the event stream and the
    #: Omni-Channel report endpoints from a browser (CONNECTOR_CORS_ORIGINS)
    cors_origins: tuple[str, ...] = ()
    #: hosts, addresses and networks adapters saved on the admin page may reach although they are private,
    #: loopback or link-local (``CONNECTOR_ALLOW_PRIVATE_TARGETS``; connector/integrations/targets.py)
    allow_private_targets: tuple[str, ...] = ()
    #: at most this many PIN/password hash checks at once (``CONNECTOR_HASH_CONCURRENCY``)
    hash_concurrency: int = 2
    #: the whole environment the settings came from; subsystems read their own prefixed
    #: settings (SF_*, TEAMS_*, ...) through :meth:`get` — never from os.environ directly
    env: dict[str, str] = field(default_factory=dict, repr=False)

    def get(self, name: str, default: str | None = None) -> str | None:
        value = self.env.get(name)
        return value if value not in (None, "") else default

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


def from_environment(instance_path: str, env: dict[str, str] | None = None) -> Settings:
    env = dict(os.environ if env is None else env)
    instance = Path(instance_path)
    url = env.get("CONNECTOR_DATABASE_URL") or f"sqlite:///{instance / 'presence.db'}"
    tz = env.get("CONNECTOR_TIMEZONE", "UTC")
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(
            f"CONNECTOR_TIMEZONE '{tz}' is not a time zone name like Europe/Berlin", field="CONNECTOR_TIMEZONE"
        ) from None
    cost = env.get("CONNECTOR_PASSWORD_HASH_COST") or "standard"
    if cost not in HASH_COSTS:
        raise InvalidInput(
            f"CONNECTOR_PASSWORD_HASH_COST '{cost}' must be one of: {', '.join(HASH_COSTS)}",
            field="CONNECTOR_PASSWORD_HASH_COST",
        )
    concurrency = env.get("CONNECTOR_HASH_CONCURRENCY") or "2"
    if not concurrency.isdigit() or not 1 <= int(concurrency) <= 64:
        raise InvalidInput(
            "CONNECTOR_HASH_CONCURRENCY must be a whole number from 1 to 64", field="CONNECTOR_HASH_CONCURRENCY"
        )
    return Settings(
        database_url=url,
        hash_concurrency=int(concurrency),
        presence_config=env.get("CONNECTOR_PRESENCE_CONFIG", "default"),
        presence_config_explicit="CONNECTOR_PRESENCE_CONFIG" in env,
        timezone=tz,
        secret_key=env.get("CONNECTOR_SECRET_KEY") or _instance_secret(instance),
        pepper=env.get("CONNECTOR_PEPPER") or _instance_secret(instance, "pepper"),
        instance_path=str(instance),
        frame_ancestors=tuple(x for x in env.get("CONNECTOR_FRAME_ANCESTORS", "").split() if x),
        run_scheduler=env.get("CONNECTOR_SCHEDULER", "on") != "off",
        password_hash_cost=cost,
        stream_token_seconds=_stream_token_seconds(env.get("CONNECTOR_STREAM_TOKEN_SECONDS")),
        cors_origins=parse_origin_patterns(env.get("CONNECTOR_CORS_ORIGINS", ""), "CONNECTOR_CORS_ORIGINS"),
        allow_private_targets=parse_allowed(env.get("CONNECTOR_ALLOW_PRIVATE_TARGETS")),
        env=env,
    )


def _stream_token_seconds(raw: str | None) -> int:
    if raw in (None, ""):
        return 900
    try:
        seconds = int(raw)
    except ValueError:
        seconds = 0
    if not 60 <= seconds <= 86400:
        raise InvalidInput(
            f"CONNECTOR_STREAM_TOKEN_SECONDS must be whole seconds between 60 and 86400, got {raw!r}",
            field="CONNECTOR_STREAM_TOKEN_SECONDS",
        )
    return seconds


def switch(settings: Settings, name: str) -> bool:
    """An on/off setting (``on``/``off``, ``true``/``false``, ``1``/``0``), off when not set."""
    raw = settings.get(name)
    if raw is None:
        return False
    word = raw.strip().lower()
    if word not in ("1", "true", "yes", "on", "0", "false", "no", "off"):
        raise InvalidInput(f"{name} must be on or off", field=name)
    return word in ("1", "true", "yes", "on")


def _instance_secret(instance: Path, name: str = "secret_key") -> str:
    """A per-installation secret kept in the instance folder (so sessions and hashes survive restarts),
    created readable by its owner only."""
    path = instance / name
    if path.is_file():
        return path.read_text().strip()
    instance.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first: use theirs
        return path.read_text().strip()
    with os.fdopen(fd, "w") as out:
        out.write(key)
    return key
