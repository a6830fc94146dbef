"""`linkwatch alerts test [CHANNEL]` and `linkwatch alerts list`: check channels, see deliveries."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from service.cli.app import EXIT_BROKEN, EXIT_OK, app, fail
from service.cli.common import open_db, settings_from_cli

# service.alerts (channels, outbox, message rendering) is imported inside the commands: every
# `linkwatch` process imports this module, and only these commands need it.

alerts_app = typer.Typer(
    name="alerts",
    help="Alert channels: send a test message, list deliveries.",
    no_args_is_help=True,
)
app.add_typer(alerts_app, name="alerts")

CONFIG_OPTION = typer.Option(
    None, "--config", help="Configuration file (default config/linkwatch.toml)."
)


@alerts_app.command("test")
def alerts_test(
    channel: str | None = typer.Argument(None, help="One configured channel (default: all)."),
    config: Path | None = CONFIG_OPTION,
) -> None:
    """Send a test message to one channel or every configured channel; exit 1 if any failed."""
    from service.alerts.dispatcher import send_test
    from service.alerts.secrets import mask

    settings = settings_from_cli(config)
    configured = settings.alerts.channels
    if not configured:
        raise fail("no alert channels configured (add [alerts.channels.NAME] with url = ...)")
    if channel is not None and channel not in configured:
        raise fail(f"unknown channel {channel!r}; configured: {', '.join(sorted(configured))}")
    names = [channel] if channel is not None else sorted(configured)
    db = open_db(settings)
    try:
        results = asyncio.run(send_test(settings, names, datetime.now(UTC), db))
    finally:
        db.dispose()
    width = max(len(r.channel) for r in results)
    for result in results:
        status = "ok" if result.ok else f"failed: {result.error}"
        typer.echo(f"{result.channel.ljust(width)}  {mask(status)}")
    failed = sum(not r.ok for r in results)
    if failed:
        typer.echo(f"linkwatch: {failed} of {len(results)} channel(s) failed", err=True)
    raise typer.Exit(EXIT_BROKEN if failed else EXIT_OK)


def _when(at: datetime | None) -> str:
    return at.strftime("%Y-%m-%d %H:%M:%S") if at is not None else "-"


@alerts_app.command("list")
def alerts_list(
    limit: int = typer.Option(20, "--limit", "-n", help="How many attempts (newest first)."),
    config: Path | None = CONFIG_OPTION,
) -> None:
    """Show the most recent delivery attempts (newest first) and the outbox state."""
    from service.alerts.secrets import mask, register_url
    from service.store import outbox as store

    if limit < 1:
        raise fail(f"--limit must be at least 1 (got {limit})")
    settings = settings_from_cli(config)
    for cfg in settings.alerts.channels.values():  # stored errors are masked; mask again anyway
        if cfg.url is not None:
            register_url(cfg.url.get_secret_value())
    db = open_db(settings)
    try:
        with db.session() as session:
            rows = store.recent_notifications(session, limit)
            counts = store.count_alerts(session)
    finally:
        db.dispose()
    console = Console(soft_wrap=False, width=max(Console().width, 120))
    if not rows:
        console.print("No delivery attempts yet.")
    else:
        table = Table(title="Recent alert deliveries (UTC)", title_justify="left")
        for column in (
            "time",
            "channel",
            "event",
            "result",
            "alert",
            "attempts",
            "next try",
            "error",
        ):
            table.add_column(column, overflow="fold")
        for row in rows:
            retry = _when(row.next_attempt_at) if row.alert_state == "pending" else "-"
            table.add_row(
                _when(row.at),
                row.channel,
                row.event,
                "ok" if row.ok else "failed",
                row.alert_state,
                str(row.attempts),
                retry,
                mask(row.error or ""),
                style=None if row.ok else "red",
            )
        console.print(table)
    summary = ", ".join(
        f"{counts.get(s, 0)} {s}" for s in ("pending", "sending", "delivered", "failed")
    )
    console.print(f"Outbox: {summary}.")
