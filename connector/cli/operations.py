"""CLI for running it in production: ``audit list``, ``backup FILE``, ``restore FILE``, ``retention run`` and
``agents erase ID``."""

from __future__ import annotations

import json
import os
import sys
from datetime import UTC, datetime, time

import click
from dotenv import load_dotenv

from connector import settings as settings_mod
from connector.app import create_app
from connector.audit import trail
from connector.errors import InvalidInput
from connector.parts import get_parts
from connector.reports import exports
from connector.store import Store
from connector.upkeep import backup as backups
from connector.upkeep.erasure import erase_agent, salesforce_steps
from connector.upkeep.retention import Retention


def _when(value: str | None, field: str, tz) -> datetime | None:
    """A day (YYYY-MM-DD, its start in CONNECTOR_TIMEZONE) or an ISO time; None when not given."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput(
            f"{field} must be a day like 2026-03-06 or a time like 2026-03-06T08:00", field=field
        ) from None
    if len(value) == 10:
        parsed = datetime.combine(parsed.date(), time(), tzinfo=tz)
    elif parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=tz)
    return parsed.astimezone(UTC)


@click.group("audit")
def audit_group() -> None:
    """The audit trail of admin and supervisor actions."""


@audit_group.command("list")
@click.option("--since", default=None, help="from this day (YYYY-MM-DD, CONNECTOR_TIMEZONE) or time")
@click.option("--until", default=None, help="before this day or time")
@click.option("--actor", default=None, help="e.g. a username, token:<name> or cli:<user>")
@click.option("--action", default=None, help="e.g. token.create, agent.pin_reset (see the admin page's list)")
@click.option("--target", default=None)
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True)
def audit_list(since, until, actor, action, target, fmt) -> None:
    """List the recorded actions, oldest first."""
    parts = get_parts(create_app())
    tz = parts.settings.tz
    filters = trail.Filters(
        actor=actor or None,
        action=trail.check_action(action, "--action"),
        target=target or None,
        since=_when(since, "--since", tz),
        until=_when(until, "--until", tz),
    )
    rows = trail.every(parts.store, filters)
    if fmt == "csv":
        sys.stdout.write(exports.to_csv([trail.flat(r) for r in rows], trail.FIELDS))
    elif fmt == "json":
        click.echo(json.dumps(rows, indent=2))
    else:
        for r in rows:
            change = ""
            if r["before"] is not None or r["after"] is not None:
                change = f" {json.dumps(r['before'])} -> {json.dumps(r['after'])}"
            detail = f" ({r['detail']})" if r["detail"] else ""
            click.echo(
                f"{r['at']} {r['actor']} [{r['actor_role']}] {r['address']} {r['action']} {r['target']}{change}{detail}"
            )
        click.echo(f"{len(rows)} action(s)", err=True)


def _settings() -> settings_mod.Settings:
    """The settings as ``create_app`` reads them, without opening the store (restore must not create it)."""
    load_dotenv(os.path.join(os.getcwd(), ".env"), override=False)
    env = dict(os.environ)
    instance = os.path.abspath(settings_mod.read("CONNECTOR_INSTANCE_PATH", env))
    return settings_mod.from_environment(instance, env)


def _secrets_note(settings: settings_mod.Settings) -> str:
    where = []
    for name, file in (("CONNECTOR_PEPPER", "pepper"), ("CONNECTOR_SECRET_KEY", "secret_key")):
        where.append(name if settings.is_set(name) else os.path.join(settings.instance_path, file))
    return (
        "keep with it, apart from it: "
        + " and ".join(where)
        + " (without the pepper no PIN or password verifies; without the secret key saved secrets do not unseal)"
    )


@click.command("backup")
@click.argument("file")
def backup_cmd(file: str) -> None:
    """A consistent copy of the SQLite store into FILE, safe while `serve` runs (PostgreSQL: use pg_dump)."""
    settings = _settings()
    backups.lower_priority()
    copied = backups.backup(Store(settings.database_url).sqlite_path(), file)
    click.echo(f"backup written to {copied.path}: {copied.bytes} bytes, {copied.agents} agents, integrity ok")
    click.echo(_secrets_note(settings), err=True)


@click.command("restore")
@click.argument("file")
@click.option("--yes", is_flag=True, help="replace the store without asking")
def restore_cmd(file: str, yes: bool) -> None:
    """Replace the SQLite store with a backup FILE (refused while `serve` runs on it; PostgreSQL: use pg_restore)."""
    settings = _settings()
    target = Store(settings.database_url).sqlite_path() if settings.database_url.startswith("sqlite") else None
    if target is not None and os.path.exists(target) and os.path.getsize(target) > 0 and not yes:
        click.confirm(f"replace the store at {target} with {file}?", abort=True)
    copied = backups.restore(file, target)
    parts = get_parts(create_app())  # brings the restored store's schema up to this version
    # the store itself was replaced (not a write in it): recorded in the restored store, after
    trail.record(parts.store, parts.clock(), trail.cli_actor(), "store.restore", os.path.basename(file))
    click.echo(f"store {copied.path} restored from {file}: {copied.agents} agents, integrity ok")
    click.echo(
        "it needs the pepper and the secret key of the instance it was made on; " + _secrets_note(settings), err=True
    )


@click.group("retention")
def retention_group() -> None:
    """Purging rows older than their retention (README "Data retention")."""


@retention_group.command("run")
def retention_run() -> None:
    """Purge now what the CONNECTOR_RETAIN_* settings let go (the scheduled job does this every interval)."""
    app = create_app()
    parts = get_parts(app)
    assert parts.leases is not None  # built by create_app
    report = parts.leases.run(
        "job:retention",
        lambda: click.echo(Retention(parts.store, parts.settings, parts.clock).run().summary()),
        hold=3600,
    )
    if not report:
        click.echo("another instance is purging now; try again later", err=True)
        raise SystemExit(1)


@click.command("erase")
@click.argument("agent_id")
@click.option("--yes", is_flag=True, help="erase without asking")
def agents_erase(agent_id: str, yes: bool) -> None:
    """Remove an agent's personal data (name, email, extension, PIN, Salesforce id, devices); keep anonymous totals."""
    if not yes:
        click.confirm(f"erase agent {agent_id}'s personal data? This cannot be undone", abort=True)
    parts = get_parts(create_app())
    entry = trail.Entry(parts.clock(), trail.cli_actor(), "agent.erase", detail="personal data erased")
    erased = erase_agent(parts.store, agent_id, parts.clock(), audit=entry)
    moved = ", ".join(f"{table} {n}" for table, n in sorted(erased.counts.items()))
    click.echo(f"agent erased: its anonymous history is kept as {erased.pseudonym} ({moved or 'no rows'})")
    for line in salesforce_steps(erased, parts.settings):
        click.echo(line)


def register(main: click.Group) -> None:
    """Add these commands to ``presence-connector``."""
    main.add_command(audit_group)
    main.add_command(backup_cmd)
    main.add_command(restore_cmd)
    main.add_command(retention_group)
    main.commands["agents"].add_command(agents_erase)  # type: ignore[attr-defined]


__all__ = ["register"]
