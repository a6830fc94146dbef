"""Publication sources on the command line.

- `linkwatch add --sitemap URL`, `linkwatch add --feed URL`, `linkwatch add DIR` (the `add`
  command of service/cli/watch.py delegates here): store the source, scan it now, read its
  articles now (`--defer`: leave the reading to the daemon);
- `linkwatch sources list|scan|remove`;
- `linkwatch publication-report --by domain|year|source`.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from service.articles.normalize import normalize_url
from service.articles.sources import is_url
from service.checks.client import build_client
from service.cli.app import app
from service.cli.common import open_db, settings_from_cli
from service.clock import utcnow as _now
from service.errors import InputError, UsageError
from service.settings import Settings
from service.store import sources as store
from service.store.db import Database
from service.store.tables import SourceRow

if TYPE_CHECKING:
    from service.monitor.sources import SourceStats

sources_app = typer.Typer(
    help="Publication sources: sitemaps, feeds and folders.", no_args_is_help=True
)
app.add_typer(sources_app, name="sources")

ConfigOption = Annotated[Path | None, typer.Option("--config", help="Configuration file.")]


def source_location(kind: str, value: str) -> str:
    """The stored location of a source: a normalised URL, or a folder's absolute path."""
    if kind == "dir":
        path = Path(value).expanduser()
        if not path.exists():
            raise InputError(f"{value}: no such folder")
        if not path.is_dir():
            raise InputError(f"{value}: not a folder")
        return str(path.resolve())
    flag = f"--{kind}"
    if not is_url(value):
        raise UsageError(f"{flag}: {value!r} is not an http(s) URL")
    try:
        return normalize_url(value)
    except ValueError as exc:
        raise UsageError(f"{flag}: invalid URL {value!r}: {exc}") from None


async def _scan_and_read(
    db: Database, settings: Settings, source: SourceRow, *, defer: bool
) -> SourceStats:
    from service.monitor.sources import PageFetcher, SourceStats, fetch_due_articles, scan_source

    stats = SourceStats()
    client = build_client(settings.checks)
    try:
        fetcher = PageFetcher(client, settings)
        await scan_source(db, fetcher, source, _now(), stats)
        if not defer and source.kind != "dir":
            while True:
                due = await fetch_due_articles(
                    db,
                    fetcher,
                    _now(),
                    stats,
                    limit=settings.sources.fetch_batch,
                    source_id=source.id,
                )
                if due < settings.sources.fetch_batch:
                    break
    finally:
        await client.aclose()
    return stats


def _summary(source: SourceRow, stats: SourceStats, db: Database) -> str:
    with db.session() as session:
        own = store.source_articles(session, source.id) if source.id is not None else {}
    active = sum(1 for a in own.values() if a.active)
    read = sum(1 for a in own.values() if a.active and a.fetched_at is not None)
    parts = [f"{active} articles", f"{read} read"]
    if active - read:
        parts.append(f"{active - read} pending")
    if stats.retired or stats.gone:
        parts.append(f"{stats.retired + stats.gone} retired")
    if stats.blocked:
        parts.append(f"{stats.blocked} refused by robots.txt")
    if stats.failed:
        parts.append(f"{stats.failed} failed")
    if stats.foreign:
        parts.append(f"{stats.foreign} already watched")
    if stats.off_site:
        parts.append(f"{stats.off_site} on other sites skipped")
    return f"watching {source.kind} source {source.id}: {source.location} ({', '.join(parts)})"


def add_source(
    kind: str,
    value: str,
    *,
    tags: list[str] | None,
    all_links: bool,
    defer: bool,
    config: Path | None,
) -> None:
    """`linkwatch add --sitemap URL | --feed URL | DIR`: store the source, scan it, read it."""
    from service.monitor.sources import SourceError

    location = source_location(kind, value)
    settings = settings_from_cli(config)
    db = open_db(settings)
    try:
        with db.session() as session:
            existed = store.get_source(session, location) is not None
            row = store.add_source(session, kind, location, _now(), tags=tags, all_links=all_links)
        try:
            stats = asyncio.run(_scan_and_read(db, settings, row, defer=defer))
        except SourceError:
            if not existed:  # a source that cannot be read at all is not kept
                with db.session() as session:
                    found = session.get(SourceRow, row.id)
                    if found is not None and not store.source_articles(session, row.id or 0):
                        session.delete(found)
            raise
        typer.echo(_summary(row, stats, db))
    finally:
        db.dispose()


@sources_app.command("list")
def list_sources(
    all_: Annotated[bool, typer.Option("--all", help="Also list removed sources.")] = False,
    config: ConfigOption = None,
) -> None:
    """The publication sources, their articles and last scan."""
    settings = settings_from_cli(config)
    db = open_db(settings)
    try:
        with db.session() as session:
            rows = store.list_sources(session, include_inactive=all_)
            counts = {r.id: store.source_articles(session, r.id) for r in rows if r.id is not None}
    finally:
        db.dispose()
    if not rows:
        typer.echo("no sources; add one with `linkwatch add --sitemap URL`, `--feed URL` or DIR")
        return
    for r in rows:
        own = counts.get(r.id or 0, {})
        active = sum(1 for a in own.values() if a.active)
        scanned = r.last_scan_at.strftime("%Y-%m-%d %H:%M") if r.last_scan_at else "never"
        state = "" if r.active else " (removed)"
        typer.echo(f"{r.id}\t{r.kind}\t{r.location}\t{active} articles\tscanned {scanned}{state}")


@sources_app.command("scan")
def scan(
    source: Annotated[str, typer.Argument(help="The source's id or location.")],
    defer: Annotated[
        bool, typer.Option("--defer", help="Only read the listing; the daemon reads the articles.")
    ] = False,
    config: ConfigOption = None,
) -> None:
    """Scan a source now (whatever its schedule) and read its new or changed articles."""
    settings = settings_from_cli(config)
    db = open_db(settings)
    try:
        with db.session() as session:
            row = store.get_source(session, source.strip())
            if row is None or not row.active:
                raise InputError(f"no source {source!r} (see `linkwatch sources list`)")
        stats = asyncio.run(_scan_and_read(db, settings, row, defer=defer))
        typer.echo(_summary(row, stats, db))
    finally:
        db.dispose()


@sources_app.command("remove")
def remove(
    source: Annotated[str, typer.Argument(help="The source's id or location.")],
    config: ConfigOption = None,
) -> None:
    """Stop watching a source: its articles are retired (history kept)."""
    settings = settings_from_cli(config)
    db = open_db(settings)
    try:
        with db.session() as session:
            row = store.get_source(session, source.strip())
            if row is None or row.id is None or not row.active:
                raise InputError(f"no source {source!r} (see `linkwatch sources list`)")
            retired = store.remove_source(session, row.id, _now())
    finally:
        db.dispose()
    typer.echo(f"removed source {row.id}: {row.location} ({retired} articles retired)")


@app.command("publication-report")
def publication_report_command(
    by: Annotated[str, typer.Option("--by", help="domain | year | source")] = "domain",
    source: Annotated[
        int | None, typer.Option("--source", help="Only the articles of this source id.")
    ] = None,
    scope: Annotated[str, typer.Option("--scope", help="all | external | internal links")] = "all",
    fmt: Annotated[
        str, typer.Option("--format", "-f", help="table | json | markdown | html")
    ] = "table",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write to FILE.")] = None,
    config: ConfigOption = None,
) -> None:
    """Link rot across a publication: per linked domain, per publication year, per source."""
    from service.reports.publication import (
        BY_CHOICES,
        FORMATS,
        SCOPES,
        publication_report,
        render_publication,
    )

    if by not in BY_CHOICES:
        raise UsageError(f"--by: unknown view {by!r}; use one of {', '.join(BY_CHOICES)}")
    if scope not in SCOPES:
        raise UsageError(f"--scope: unknown scope {scope!r}; use one of {', '.join(SCOPES)}")
    if fmt not in FORMATS:
        raise UsageError(f"--format: unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    settings = settings_from_cli(config)
    db = open_db(settings)
    try:
        with db.session() as session:
            if source is not None and store.get_source(session, source) is None:
                raise InputError(f"no source {source} (see `linkwatch sources list`)")
            report = publication_report(session, by, now=_now(), source_id=source, scope=scope)
    finally:
        db.dispose()
    text = render_publication(report, fmt)
    if output is None:
        typer.echo(text, nl=False)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write {output}: {exc.strerror or exc}") from exc
