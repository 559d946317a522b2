"""The ``presence-connector`` command line."""

from __future__ import annotations

import fcntl
import json
import logging
import math
import os
import resource
import sys
from pathlib import Path

import click
import uvicorn
from sqlalchemy.engine import make_url

from adapters.registry import mapping_checks
from connector import settings as settings_mod
from connector.app import create_app as _app
from connector.audit import trail
from connector.auth import accounts, teams
from connector.cli.adapters import adapters as _adapters_group
from connector.cli.database import register as _register_database
from connector.cli.demo import seed
from connector.cli.operations import register as _register_operations
from connector.errors import ConfigError, ConnectorError, SettingsInvalid
from connector.integrations.runtime import start as start_adapters
from connector.jobs import scheduler
from connector.observe import logs
from connector.parts import get_parts
from connector.presence.config import load_config
from connector.reports import exports
from connector.reports import queries as reports
from connector.salesforce.cli import register as _register_salesforce
from connector.serve.asgi import ConnectorAsgi
from connector.serve.memory import limit_arenas
from connector.serve.shutdown import GracefulServer, Shutdown
from connector.version import __version__


class ConnectorGroup(click.Group):
    """Turns the product's errors into one clear line and exit code 2, not a traceback."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except ConfigError as exc:
            for problem in exc.problems:
                click.echo(f"error: {problem}", err=True)
            ctx.exit(2)
        except SettingsInvalid as exc:  # every refused setting, one line each
            for problem in exc.problems:
                click.echo(f"error ({problem.field}): {problem}", err=True)
            ctx.exit(2)
        except ConnectorError as exc:
            where = f" ({exc.field})" if exc.field else ""
            click.echo(f"error{where}: {exc.message}", err=True)
            ctx.exit(2)


@click.group(cls=ConnectorGroup)
@click.version_option(__version__, "--version", prog_name="presence-connector", message="%(prog)s %(version)s")
def main() -> None:
    """Presence Connector: presence in step across softphone, Omni-Channel, Teams/Skype and the PBX."""


# -- serve ---------------------------------------------------------------------------------------


@main.command()
@click.option("--host", default=None, help="default: $HOST or 127.0.0.1")
@click.option("--port", default=None, type=int, help="default: $PORT or 5000")
@click.option(
    "--threads",
    default=32,
    show_default=True,
    help="worker threads for API and page requests (event streams need none)",
)
def serve(host: str | None, port: int | None, threads: int) -> None:
    """Serve the app (uvicorn: event streams on its event loop, the rest on threads) and run the scheduled jobs."""
    host = host if host is not None else settings_mod.read("HOST", os.environ)
    port = port if port is not None else settings_mod.read("PORT", os.environ)
    limit_arenas(max(2, os.cpu_count() or 2))  # first, before any thread: memory a big report freed is not stranded
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # one line per job run is noise
    app = _app()
    parts = get_parts(app)
    # CONNECTOR_LOG_FORMAT / CONNECTOR_LOG_LEVEL from here on (connector/observe/logs.py)
    logs.configure(
        parts.settings.value("CONNECTOR_LOG_FORMAT"),
        parts.settings.value("CONNECTOR_LOG_LEVEL"),
        parts.leases.holder if parts.leases else "",
    )
    _single_instance_on_sqlite(parts.store)
    jobs = scheduler.start(app) if parts.settings.run_scheduler else None
    start_adapters(app)  # the outbox dispatcher and the adapters' inbound listeners
    _raise_open_files_limit()  # one file descriptor per open page
    click.echo(f"Presence Connector on http://{host}:{port}/  (store: {parts.store.backend})")
    grace = float(parts.settings.value("CONNECTOR_SHUTDOWN_GRACE"))
    stopping = Shutdown(app, jobs, grace)
    asgi = ConnectorAsgi(app, threads=threads)
    # backlog: a whole shift (or every page after a restart) connecting at once waits in the queue, not refused;
    # no concurrency limit: streams are cheap and the per-principal cap bounds each caller
    config = uvicorn.Config(
        asgi,
        host=host,
        port=port,
        http="httptools",
        loop="asyncio",
        lifespan="on",
        backlog=4096,
        timeout_keep_alive=30,
        timeout_graceful_shutdown=math.ceil(grace),  # requests in flight at SIGTERM (docs: serve/shutdown.py)
        access_log=False,
        log_level="warning",
        server_header=False,
        proxy_headers=False,
    )  # who may set X-Forwarded-* is CONNECTOR_TRUSTED_PROXIES' business
    server = GracefulServer(config, asgi, on_stop=stopping.begin)
    server.run()
    if server.stop_requested_at is None:
        return  # uvicorn stopped by itself (the port was taken, ...): it said why
    _exit_now_if(stopping.finish(server.stop_requested_at, wait=not server.force_exit))


def _exit_now_if(busy: list[str]) -> None:
    """Threads still running after the stop (past the grace; what they held was handed back): end the process
    at once, with 0. Python would otherwise wait for them at exit (it joins every pool's workers), e.g. for a
    push to a remote that hangs."""
    if busy:
        logging.getLogger(__name__).info("ending with work still running: %s", ", ".join(busy))
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)


def _raise_open_files_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard if hard != resource.RLIM_INFINITY else 65536
    if soft < wanted:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
        except (ValueError, OSError):
            pass


_SERVE_LOCK: list = []  # the open lock file, held for the life of the process


def _single_instance_on_sqlite(store) -> None:
    """SQLite is for one instance: a second ``serve`` on the same file would deliver the outbox twice.

    An exclusive lock on ``<db>.serve.lock`` is held for the life of the process (the OS drops it
    when the process dies, also on SIGKILL). Several instances need PostgreSQL (README "Scaling out").
    """
    path = store.sqlite_path()
    if path is None:
        return
    lock_file = open(f"{path}.serve.lock", "a+")
    try:
        fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        lock_file.close()
        raise ConnectorError(
            f"another `presence-connector serve` is already running on {path}: SQLite serves one "
            "instance (two would deliver adapter changes twice). Stop the other one, or move "
            'to PostgreSQL for several instances (README "Scaling out").',
            field="CONNECTOR_DATABASE_URL",
        ) from None
    lock_file.seek(0)
    lock_file.truncate()
    lock_file.write(f"{os.getpid()}\n")
    lock_file.flush()
    _SERVE_LOCK.append(lock_file)


@main.group("settings")
def settings_group() -> None:
    """The connector's settings (environment variables), as declared in connector/settings.py."""


@settings_group.command("reference")
def settings_reference() -> None:
    """Print README's "Settings reference" table (markdown), made from the declarations."""
    click.echo(settings_mod.reference_table(), nl=False)


@main.command("init-db")
@click.option("--demo", is_flag=True, help="also create demo agents, users and calls (only into an empty store)")
def init_db(demo: bool) -> None:
    """Create the store's tables and load the presence configuration."""
    app = _app()
    parts = get_parts(app)
    click.echo(f"store ready: {parts.store.backend} ({_safe_url(parts.settings.database_url)})")
    if demo:
        for line in seed(app):
            click.echo(line)


def _audit(parts, action: str, target: str = "", **values) -> trail.Entry:
    """A command's row of the audit trail (actor ``cli:<OS user>``), for the action to write in its transaction."""
    return trail.Entry(parts.clock(), trail.cli_actor(), action, target, **values)


def _safe_url(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


# -- the store's schema (Alembic; docs/migrations.md) ----------------------------------------------------


# -- agents, users, tokens -----------------------------------------------------------------------


@main.group()
def agents() -> None:
    """Manage agents."""


@agents.command("add")
@click.argument("agent_id")
@click.option("--name", default=None)
@click.option("--team", default=None)
@click.option("--extension", default=None)
@click.option("--email", default=None, help="e-mail / UPN (used to map the agent in Teams)")
@click.option("--salesforce-user-id", default=None)
@click.option(
    "--timezone",
    default=None,
    help="IANA zone of the agent's days, e.g. America/New_York (default: CONNECTOR_TIMEZONE)",
)
@click.option("--pin", is_flag=True, help="ask for a PBX PIN (at least 4 digits)")
def agents_add(agent_id, name, team, extension, email, salesforce_user_id, timezone, pin) -> None:
    """Add an agent."""
    app = _app()
    parts = get_parts(app)
    data = {
        "id": agent_id,
        "name": name,
        "team": team,
        "extension": extension,
        "email": email,
        "salesforce_user_id": salesforce_user_id,
        "timezone": timezone,
    }
    if pin:
        data["pin"] = click.prompt("PIN", hide_input=True, confirmation_prompt=True)
    given = {k: v for k, v in data.items() if v is not None}
    after = {k: v for k, v in given.items() if k in accounts.EDITABLE_AGENT_FIELDS}
    if pin:
        after["pin"] = trail.SECRET_CHANGED
    accounts.add_agent(parts.store, given, parts.clock(), audit=_audit(parts, "agent.add", agent_id, after=after))
    click.echo(f"agent {agent_id} added")


@agents.command("import")
@click.argument("csv_file", type=click.File("r", encoding="utf-8"))
def agents_import(csv_file) -> None:
    """Create or update agents from a CSV file (id,name,team,extension,email,salesforce_user_id,timezone,pin)."""
    app = _app()
    parts = get_parts(app)
    created, updated = accounts.import_agents(
        parts.store, csv_file.read(), parts.clock(), audit=_audit(parts, "agent.import", getattr(csv_file, "name", ""))
    )
    click.echo(f"{created} agents created, {updated} updated")


@agents.command("list")
@click.option("--json", "as_json", is_flag=True)
def agents_list(as_json: bool) -> None:
    """List agents with their live presence."""
    app = _app()
    rows = get_parts(app).service.agents()
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    click.echo(f"{'ID':<16} {'NAME':<24} {'TEAM':<12} {'STATE':<28} SINCE")
    for a in rows:
        state = a["state"]["display"] if a["state"] else "(logged out)"
        click.echo(f"{a['id']:<16} {a['name'][:24]:<24} {a['team'][:12]:<12} {state:<28} {a['state_since'] or ''}")


@agents.command("team-timezone")
@click.argument("team")
@click.argument("timezone")
def agents_team_timezone(team, timezone) -> None:
    """Set the time zone of TEAM's days, e.g. America/New_York ('' for CONNECTOR_TIMEZONE); an agent's own wins."""
    app = _app()
    parts = get_parts(app)
    teams.set_team_zone(parts.store, team, timezone, by="cli")
    click.echo(f"team {team}: days in {timezone or parts.settings.timezone}")


@main.group()
def users() -> None:
    """Manage users of the web pages."""


@users.command("add")
@click.argument("username")
@click.option("--role", required=True, type=click.Choice(["agent", "supervisor", "admin"]))
@click.option("--agent", "agent_id", default=None, help="the agent this user is (role agent)")
@click.option("--password", default=None, help="omit to be asked (keeps it out of the shell history)")
def users_add(username, role, agent_id, password) -> None:
    """Add a user who signs in to the web pages."""
    app = _app()
    parts = get_parts(app)
    if password is None:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    after = {"role": role, "agent_id": agent_id, "password": trail.SECRET_CHANGED}
    entry = _audit(parts, "user.add", username, after=after)
    accounts.add_user(parts.store, username, password, role, parts.clock(), agent_id=agent_id, audit=entry)
    click.echo(f"user {username} ({role}) added")


@main.group()
def tokens() -> None:
    """Manage API tokens."""


@tokens.command("create")
@click.option("--role", required=True, type=click.Choice(["agent", "supervisor", "admin", "integration"]))
@click.option("--agent", "agent_id", default=None, help="the agent an agent token acts for")
@click.option("--name", default="", help="what the token is for")
def tokens_create(role, agent_id, name) -> None:
    """Create an API token; it is printed once, alone on the last line."""
    app = _app()
    parts = get_parts(app)
    entry = _audit(parts, "token.create")  # the target and record are the new token's (accounts.create_token)
    token = accounts.create_token(parts.store, role, parts.clock(), agent_id=agent_id, name=name, audit=entry)
    click.echo(
        f"token for role {role}{' (agent ' + agent_id + ')' if agent_id else ''}; "
        "store it now, it cannot be shown again:",
        err=True,
    )
    click.echo(token)


# -- configuration -------------------------------------------------------------------------------


@main.group()
def config() -> None:
    """Presence configurations."""


@config.command("validate")
@click.argument("file")
def config_validate(file: str) -> None:
    """Check a presence configuration file (or preset name); list every problem."""
    cfg = load_config(file, mapping_checks=mapping_checks())
    click.echo(f"{file}: OK ({cfg.name}: {len(cfg.states)} states)")


@config.command("apply")
@click.argument("file")
def config_apply(file: str) -> None:
    """Make a file (or preset) the active configuration; takes effect without a restart."""
    app = _app()
    cfg = load_config(file, mapping_checks=get_parts(app).configs.mapping_checks)
    parts = get_parts(app)
    before = parts.configs.active().name
    entry = _audit(
        parts, "config.apply", cfg.name, before={"name": before}, after={"name": cfg.name}, detail=f"from {file}"
    )
    version = parts.configs.apply(cfg, created_by=os.environ.get("USER", "cli"), origin=f"cli:{file}", audit=entry)
    click.echo(f"configuration '{cfg.name}' active as version {version}")


@config.command("show")
def config_show() -> None:
    """Print the active configuration as YAML."""
    app = _app()
    parts = get_parts(app)
    with parts.store.read() as s:
        click.echo(parts.configs.active(s).to_yaml(), nl=False)


# -- exports -------------------------------------------------------------------------------------


@main.group()
def export() -> None:
    """Export history as CSV or JSON."""


def _range(app, start, end):
    today = get_parts(app).reads.today()
    s = reports.parse_day(start, "--from", today)
    return s, reports.parse_day(end, "--to", max(s, today))


def _write(rows, fields, fmt, output) -> None:
    text = exports.to_csv(rows, fields) if fmt == "csv" else exports.to_json(rows) + "\n"
    if output:
        Path(output).write_text(text, encoding="utf-8")
        click.echo(f"{len(rows)} rows written to {output}", err=True)
    else:
        sys.stdout.write(text)


@export.command("time-tracking")
@click.option("--from", "start", default=None, help="first day (YYYY-MM-DD), default today")
@click.option("--to", "end", default=None, help="last day, default today")
@click.option("--agent", default=None)
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="csv", show_default=True)
@click.option("--output", "-o", default=None, help="file to write (default: standard output)")
def export_time_tracking(start, end, agent, fmt, output) -> None:
    """Seconds per agent, day and state."""
    app = _app()
    s, e = _range(app, start, end)
    _write(reports.time_tracking(get_parts(app).reads, s, e, agent_id=agent), reports.TIME_TRACKING_FIELDS, fmt, output)


@export.command("logon-events")
@click.option("--from", "start", default=None)
@click.option("--to", "end", default=None)
@click.option("--include", multiple=True, help="only these logon sources (repeat or comma-separate)")
@click.option("--exclude", multiple=True, help="not these logon sources")
@click.option("--agent", default=None)
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="csv", show_default=True)
@click.option("--output", "-o", default=None)
def export_logon_events(start, end, include, exclude, agent, fmt, output) -> None:
    """Acquired/Released events with their logon source (the licence audit)."""
    app = _app()
    s, e = _range(app, start, end)
    rows = reports.logon_events(
        get_parts(app).reads,
        s,
        e,
        reports.parse_sources(list(include), "--include"),
        reports.parse_sources(list(exclude), "--exclude"),
        agent_id=agent,
    )
    _write(rows, reports.LOGON_EVENT_FIELDS, fmt, output)


_register_salesforce(main)
_register_operations(main)
_register_database(main)

main.add_command(_adapters_group)

if __name__ == "__main__":  # pragma: no cover
    main()
