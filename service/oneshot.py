"""`linkwatch check`: read articles, check their links (and look up archives), record, report.

The one-shot pipeline of DESIGN.md: articles -> checks (+archive) -> store -> report. It only
wires the stages together; each stage lives in its own package.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from aiohttp.abc import AbstractResolver

from service.articles.sources import fetch_article, is_url, read_article_file
from service.checks.canary import monitor_is_offline, offline_results
from service.checks.checker import Checker
from service.checks.client import build_client
from service.clock import Clock, utcnow
from service.errors import InputError
from service.model import DEAD_OUTCOMES, ArchiveInfo, Article, CheckResult, LinkKind, Outcome
from service.monitor.health import DeathRule
from service.reports import Report
from service.reports.build import build_report
from service.settings import Settings
from service.store import repo
from service.store.db import Database


@dataclass(frozen=True, slots=True)
class CheckRun:
    """What one `linkwatch check` saw: the report, and the verdict behind its exit code."""

    report: Report
    results: dict[str, CheckResult]
    archive: dict[str, ArchiveInfo]
    broken: int  # occurrences whose link answered dead this run (or cannot be parsed)
    offline: bool  # the monitor itself had no network: results say nothing about the links
    unverified: int  # links that could not be verified because the monitor was offline


async def load_articles(
    sources: Sequence[str],
    settings: Settings,
    *,
    published: date | None = None,
    source_url: str | None = None,
) -> list[Article]:
    """Read every source (file or URL); any unreadable one fails the whole command (exit 2)."""
    articles: list[Article] = []
    client = None
    try:
        for source in sources:
            if is_url(source):
                if client is None:
                    client = build_client(settings.checks)
                fetched = await fetch_article(
                    source, client, published=published, source_url=source_url
                )
                if fetched is None:  # pragma: no cover - no conditional headers were sent
                    raise InputError(f"{source}: the server sent no article")
                articles.append(fetched.article)
            else:
                articles.append(
                    read_article_file(source, published=published, source_url=source_url)
                )
    finally:
        if client is not None:
            await client.aclose()
    return articles


async def run_check(
    db: Database,
    settings: Settings,
    articles: Sequence[Article],
    *,
    archive: bool = True,
    on_result: Callable[[CheckResult], None] | None = None,
    clock: Clock = utcnow,
    resolver: AbstractResolver | None = None,
) -> CheckRun:
    """Check every http link of `articles` once, record the results, build the report.

    When the run's failures look like the monitor's own (see service.checks.canary) and the
    canaries (`checks.canaries`) fail too, the network failures are recorded as `offline`.
    `resolver` replaces the system's name resolution (tests).
    """
    started = clock()
    with db.session() as session:
        rows = [repo.sync_article(session, a, started) for a in articles]
        article_ids = [r.id for r in rows if r.id is not None]

    # Every http link once, with the #anchors its occurrences cite.
    fragments: dict[str, set[str]] = {}
    for a in articles:
        for o in a.occurrences:
            if o.kind is LinkKind.HTTP and o.url:
                cited = fragments.setdefault(o.url, set())
                if o.fragment:
                    cited.add(o.fragment)
    urls = sorted(fragments)

    async def _checks() -> tuple[dict[str, CheckResult], bool]:
        async with Checker(
            settings.checks,
            per_host_interval_s=settings.checks.oneshot_interval_s,
            clock=clock,
            resolver=resolver,
        ) as checker:
            found = await checker.check_many(urls, on_result=on_result, fragments=fragments)
            # The monitor's own connectivity, through the same client (service.checks.canary).
            down = await monitor_is_offline(checker, settings.checks.canaries, found)
            return found, down

    archive_task: asyncio.Task[dict[str, ArchiveInfo]] | None = None
    if archive and settings.wayback.enabled and urls:
        archive_task = asyncio.create_task(_refresh_archives(db, settings, urls, started))
    try:
        results, offline = await _checks()
    finally:
        archive_infos = await archive_task if archive_task is not None else {}

    if offline:
        results = offline_results(results)

    rule = DeathRule.from_settings(settings.monitor)
    with db.session() as session:
        ids = repo.link_ids_for_urls(session, results)
        repo.record_checks_bulk(
            session, {ids[url]: result for url, result in results.items() if url in ids}, rule
        )

    with db.session() as session:
        report = build_report(session, article_ids=article_ids, now=clock())

    broken_urls = {u for u, r in results.items() if r.outcome in DEAD_OUTCOMES}
    broken = sum(
        1
        for a in articles
        for o in a.occurrences
        if (o.url in broken_urls and o.kind is LinkKind.HTTP) or o.kind is LinkKind.INVALID
    )
    unverified = sum(1 for r in results.values() if r.outcome is Outcome.OFFLINE)
    return CheckRun(report, results, archive_infos, broken, offline, unverified)


async def _refresh_archives(
    db: Database, settings: Settings, urls: list[str], now: datetime
) -> dict[str, ArchiveInfo]:
    """Look up (and store) the snapshots of the links that are due; a fresh answer is reused."""
    # Imported here: the Wayback client (waybackpy, requests) is not needed with --no-archive.
    from service.archive.lookup import ArchiveClient
    from service.archive.sweep import refresh_archives

    async with ArchiveClient(settings.wayback) as client:
        return await refresh_archives(
            db.session, client, now=now, urls=urls, deadline_s=settings.wayback.timeout_s * 3
        )
