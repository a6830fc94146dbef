"""The watch list and the daemon's liveness: `linkwatch add|list|remove|status`."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.table import Table

from service.checks.client import build_client
from service.cli.app import EXIT_BROKEN, EXIT_OK, app
from service.cli.common import open_db, parse_date, settings_from_cli
from service.clock import utcnow as _now
from service.errors import InputError, UsageError
from service.settings import Settings
from service.store import repo, watch, workers
from service.store.db import Database
from service.store.tables import ArticleRow

if TYPE_CHECKING:
    from service.monitor.watchlist import WatchEntry

CONFIG_OPTION = typer.Option(
    None, "--config", help="Configuration file (default config/linkwatch.toml)."
)

TAG_OPTION = typer.Option([], "--tag", help="A tag (repeatable), e.g. for alert routing.")


def _age(then: datetime | None, now: datetime) -> str:
    if then is None:
        return "never"
    seconds = max(0, int((now - then).total_seconds()))
    if seconds < 120:
        return f"{seconds} s ago"
    if seconds < 7200:
        return f"{seconds // 60} min ago"
    if seconds < 2 * 86400:
        return f"{seconds // 3600} h ago"
    return f"{seconds // 86400} days ago"


async def _add(db: Database, settings: Settings, entry: WatchEntry) -> ArticleRow:
    from service.monitor.watchlist import add_article

    client = build_client(settings.checks)
    try:
        return await add_article(db, settings, entry, client, _now())
    finally:
        await client.aclose()


@app.command("add")
def add(
    source: str | None = typer.Argument(
        None, help="An article file (Markdown, HTML), an article URL, or a folder of articles."
    ),
    published: str | None = typer.Option(
        None, "--published", help="Its publication date (YYYY-MM-DD)."
    ),
    source_url: str | None = typer.Option(None, "--source-url", help="Its original URL."),
    interval: float | None = typer.Option(
        None,
        "--interval",
        help="Check its alive links every HOURS (default monitor.alive_interval_h).",
    ),
    tags: list[str] = TAG_OPTION,
    config: Path | None = CONFIG_OPTION,
    sitemap: str | None = typer.Option(
        None, "--sitemap", help="Watch a publication: every article of this sitemap (or index)."
    ),
    feed: str | None = typer.Option(
        None, "--feed", help="Watch a publication: every entry of this RSS or Atom feed."
    ),
    all_links: bool = typer.Option(
        False, "--all-links", help="Sources: keep navigation, sidebar and footer links too."
    ),
    defer: bool = typer.Option(
        False, "--defer", help="Sources: only read the listing now; the daemon reads the pages."
    ),
) -> None:
    """Watch an article: read it now, record its links; the daemon checks them on schedule.

    Files are re-read when they change; URLs are re-fetched every monitor.article_refresh_h.
    Adding an article again updates it (and its options). A folder, `--sitemap URL` or
    `--feed URL` watches a whole publication (see `linkwatch sources`).
    """
    from service.cli.sources import add_source  # publication sources (issue 12)
    from service.monitor.watchlist import WatchEntry

    if sitemap is not None or feed is not None or (source and Path(source).is_dir()):
        given = [v for v in (source, sitemap, feed) if v is not None]
        if len(given) != 1:
            raise UsageError("give one of SOURCE, --sitemap URL or --feed URL")
        kind = "sitemap" if sitemap is not None else "feed" if feed is not None else "dir"
        add_source(
            kind, given[0], tags=tags or None, all_links=all_links, defer=defer, config=config
        )
        return
    if source is None:
        raise UsageError("missing SOURCE (an article file or URL, a folder, --sitemap or --feed)")
    if interval is not None and interval <= 0:
        raise UsageError(f"--interval: {interval:g} is not a positive number of hours")
    settings = settings_from_cli(config)
    entry = WatchEntry(
        source=source,
        published=parse_date(published, "--published") if published else None,
        source_url=source_url,
        tags=tuple(tags) if tags else None,
        interval_hours=interval if interval is not None else ...,
    )
    db = open_db(settings)
    try:
        row = asyncio.run(_add(db, settings, entry))
        with db.session() as session:
            assert row.id is not None
            occurrences = repo.article_occurrences(session, row.id)
    finally:
        db.dispose()
    links = {link.id for _, link in occurrences if link is not None}
    typer.echo(
        f"watching article {row.id}: {row.location} "
        f"({len(occurrences)} links, {len(links)} to check)"
    )


@app.command("list")
def list_articles(
    all_: bool = typer.Option(False, "--all", help="Also list removed articles."),
    config: Path | None = CONFIG_OPTION,
) -> None:
    """The articles under watch: links, dead and suspect counts, last check."""
    settings = settings_from_cli(config)
    db = open_db(settings)
    try:
        with db.session() as session:
            rows = watch.article_summaries(session, include_inactive=all_)
    finally:
        db.dispose()
    if not rows:
        typer.echo("no articles under watch; add one with `linkwatch add SOURCE`")
        return
    now = _now()
    table = Table(box=None, pad_edge=False)
    for name, justify in (
        ("id", "right"),
        ("location", "left"),
        ("links", "right"),
        ("dead", "right"),
        ("suspect", "right"),
        ("last checked", "left"),
    ):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for r in rows:
        table.add_row(
            str(r.id),
            r.location,
            str(r.links),
            str(r.dead),
            str(r.suspect),
            _age(r.last_checked_at, now),
        )
    Console(width=200, soft_wrap=True).print(table)


@app.command("remove")
def remove(
    article: str = typer.Argument(..., help="The article's id (see `linkwatch list`) or location."),
    config: Path | None = CONFIG_OPTION,
) -> None:
    """Stop watching an article. Its history is kept; links nobody else cites are retired."""
    settings = settings_from_cli(config)
    db = open_db(settings)
    try:
        with db.session() as session:
            row = repo.remove_article(session, article.strip(), _now())
    finally:
        db.dispose()
    if row is None:
        raise InputError(f"no article {article!r} under watch (see `linkwatch list`)")
    typer.echo(f"removed article {row.id}: {row.location}")
    if any(a.source == row.location for a in settings.articles):
        typer.echo(
            "note: it is listed in the configuration's [[articles]]; remove it there too, "
            "or the daemon adds it back at start",
            err=True,
        )


@app.command("status")
def status(config: Path | None = CONFIG_OPTION) -> None:
    """The daemons and their last heartbeat. Exit 1 when none beat within monitor.heartbeat_stale_s.

    For Docker HEALTHCHECK and systemd: `linkwatch status || restart`.
    """
    settings = settings_from_cli(config)
    db = open_db(settings)
    try:
        with db.session() as session:
            beats = workers.list_workers(session)
    finally:
        db.dispose()
    now = _now()
    stale_s = settings.monitor.heartbeat_stale_s

    def state(b: workers.WorkerBeat) -> str:
        if b.stopping:
            return "stopped"
        if b.beat_at is None or (now - b.beat_at).total_seconds() > stale_s:
            return "stale"
        return "running"

    live = [b for b in beats if state(b) == "running"]
    if beats:
        table = Table(box=None, pad_edge=False)
        for name in ("worker", "host", "pid", "state", "started", "last beat"):
            table.add_column(name)
        for b in beats:
            table.add_row(
                b.name,
                b.hostname,
                str(b.pid),
                state(b),
                _age(b.started_at, now),
                _age(b.beat_at, now),
            )
        Console(width=200, soft_wrap=True).print(table)
    if live:
        typer.echo(f"ok: {len(live)} daemon(s) running")
        raise typer.Exit(EXIT_OK)
    typer.echo(
        f"linkwatch: no daemon heartbeat within {stale_s:g} s (is `linkwatch run` running?)",
        err=True,
    )
    raise typer.Exit(EXIT_BROKEN)
