"""``presence-connector adapters status|test NAME|list|flush``."""

from __future__ import annotations

import json

import click

from adapters.registry import available
from connector.app import create_app as build_app
from connector.integrations.runtime import adapters_health, check_connection
from connector.parts import get_parts


@click.group("adapters")
def adapters() -> None:
    """Adapters: which are installed and enabled, their delivery health, and connection tests."""


@adapters.command("list")
def adapters_list() -> None:
    """Installed adapters (entry points) and their settings."""
    for name, cls in sorted(available().items()):
        click.echo(
            f"{name}: "
            + (
                ", ".join(cls.env_name(k) + ("*" if s.required else "") for k, s in cls.settings.items())
                or "no settings"
            )
        )
    click.echo("(* = required)")


@adapters.command("status")
@click.option("--json", "as_json", is_flag=True)
def adapters_status(as_json: bool) -> None:
    """Per enabled adapter: queue depth, parked rows, last success and last error."""
    health = adapters_health(build_app())["adapters"]
    if as_json:
        click.echo(json.dumps(health, indent=2))
        return
    if not health:
        click.echo("no adapters enabled (set CONNECTOR_ADAPTERS, e.g. CONNECTOR_ADAPTERS=pbx_http,teams)")
    for item in health:
        click.echo(
            f"{item['name']}: queue {item['queue_depth']}, parked {item['parked']}, "
            f"last success {item['last_success_at'] or 'never'}, last error {item['last_error'] or 'none'}"
        )


@adapters.command("test")
@click.argument("name")
def adapters_test(name: str) -> None:
    """Check an enabled adapter's connection and say what is wrong."""
    ok, message = check_connection(build_app(), name)
    if not ok:
        click.echo(f"{name}: FAILED — {message}", err=True)
        raise SystemExit(1)
    click.echo(f"{name}: OK — {message}")


@adapters.command("flush")
@click.option("--timeout", default=30.0, show_default=True)
def adapters_flush(timeout: float) -> None:
    """Deliver what is due now, in the foreground, then print the health."""
    app = build_app()
    get_parts(app).dispatcher.drain(timeout)
    for item in adapters_health(app)["adapters"]:
        click.echo(f"{item['name']}: queue {item['queue_depth']}, parked {item['parked']}")
