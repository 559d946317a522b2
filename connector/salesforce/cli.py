"""CLI: ``sync status|now|prune|resync``, ``agents sync-salesforce``, ``callcenter-xml``."""

from __future__ import annotations

import json
from pathlib import Path

import click

from connector.app import create_app
from connector.audit import trail
from connector.errors import InvalidInput, SettingsInvalid
from connector.parts import get_parts
from connector.reports import queries as reports
from connector.salesforce.agents import import_call_center_users
from connector.salesforce.callcenter import callcenter_xml
from connector.salesforce.connection import SalesforceProblem
from connector.salesforce.status import NOT_CONFIGURED, status_text, sync_status


def _sync():
    return get_parts(create_app()).salesforce


@click.group("sync")
def sync_group() -> None:
    """Salesforce sync of the time per presence state."""


@sync_group.command("status")
@click.option("--json", "as_json", is_flag=True, help="the same JSON as GET /api/v1/sync/status")
def sync_status_cmd(as_json: bool) -> None:
    """Last success, rows pending, parked rows with reasons, API usage, next attempt."""
    status = sync_status(_sync())
    click.echo(json.dumps(status, indent=2) if as_json else status_text(status))


@sync_group.command("now")
@click.pass_context
def sync_now(ctx: click.Context) -> None:
    """Send the pending totals now (ignores a backoff, not an API-limit pause)."""
    parts = get_parts(create_app())
    report = parts.salesforce.flush(force=True)
    trail.record(
        parts.store, parts.clock(), trail.cli_actor(), "salesforce.sync_now", "salesforce", detail=report.summary()
    )
    click.echo(report.summary())
    for line in report.parked_reasons[:20]:
        click.echo(f"  parked {line}")
    if report.error:
        ctx.exit(1)


@sync_group.command("prune")
@click.pass_context
def sync_prune(ctx: click.Context) -> None:
    """Delete the org's records older than SF_RETENTION_DAYS now (batches on the flush's API budget)."""
    report = _sync().prune()
    click.echo(report.summary())
    for line in getattr(report, "reasons", [])[:20]:
        click.echo(f"  not deleted {line}")
    if report.error:
        ctx.exit(1)


@sync_group.command("resync")
@click.option("--from", "start", required=True, help="first day (YYYY-MM-DD)")
@click.option("--to", "end", required=True, help="last day (YYYY-MM-DD)")
@click.pass_context
def sync_resync(ctx: click.Context, start: str, end: str) -> None:
    """Send every total of a date range again (parked ones too), with a progress bar."""
    first = reports.parse_day(start, "--from", None)
    last = reports.parse_day(end, "--to", None)
    if first is None or last is None:  # given empty ("--from ''"): there is no default day to fall back to
        option = "--from" if first is None else "--to"
        raise InvalidInput(f"{option} must be a date like 2026-03-06", field=option)
    if last < first:
        raise InvalidInput("--to is before --from", field="--to")
    sync = _sync()
    bars: list = []

    def progress(done: int, total: int) -> None:
        if not bars:
            bars.append(click.progressbar(length=total, label="re-sending totals"))
            bars[0].__enter__()
        bars[0].update(done)

    try:
        report = sync.resync(first, last, progress=progress)
    finally:
        if bars:
            bars[0].__exit__(None, None, None)
    click.echo(report.summary())
    if report.error:
        ctx.exit(1)


@click.command("sync-salesforce")
@click.option("--call-center", default=None, help="only users of this call centre (its Name in Setup)")
@click.pass_context
def agents_sync_salesforce(ctx: click.Context, call_center: str | None) -> None:
    """Create or update agents from the users of a Salesforce call centre (Id, Name, Username, Extension)."""
    sync = _sync()
    try:
        sync.settings.check()
    except SettingsInvalid as exc:
        click.echo(f"error: {NOT_CONFIGURED}: {exc.message}", err=True)
        ctx.exit(2)
    try:
        result = import_call_center_users(sync.reads, sync.connection, call_center)
    except SalesforceProblem as exc:
        click.echo(f"error: Salesforce: {exc.message}", err=True)
        ctx.exit(2)
    for line in result.notes + result.skipped:
        click.echo(f"  {line}", err=True)
    click.echo(result.summary())


@click.command("callcenter-xml")
@click.option("--url", required=True, help="the softphone's https URL, e.g. https://host/softphone")
@click.option("--internal-name", default="PresenceConnector", show_default=True)
@click.option("--display-name", default="Presence Connector", show_default=True)
@click.option("--height", default=600, show_default=True, type=int)
@click.option("--width", default=400, show_default=True, type=int)
@click.option("--output", "-o", default=None, help="file to write (default: standard output)")
def callcenter_xml_cmd(url, internal_name, display_name, height, width, output) -> None:
    """Write the Open CTI call-centre definition file to import in Setup > Call Centers."""
    text = callcenter_xml(url, internal_name, display_name, height, width)
    if output:
        Path(output).write_text(text, encoding="utf-8")
        click.echo(f"call-centre definition written to {output}; import it in Setup > Call Centers", err=True)
    else:
        click.echo(text, nl=False)


def register(main: click.Group) -> None:
    """Add the Salesforce commands to ``presence-connector``."""
    main.add_command(sync_group)
    main.add_command(callcenter_xml_cmd)
    agents = main.commands["agents"]
    assert isinstance(agents, click.Group)  # the agents group of connector.cli.main
    agents.add_command(agents_sync_salesforce)
