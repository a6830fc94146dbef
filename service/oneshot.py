"""`linkwatch check`: read articles, check their links (and look up archives), record, report.

The one-shot pipeline of DESIGN.md: articles -> checks (+archive) -> store -> report. It only
wires the stages together; each stage lives in its own package.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING

from service.clock import Clock, utcnow
from service.errors import InputError
from service.model import DEAD_OUTCOMES, ArchiveInfo, Article, CheckResult, LinkKind, Outcome

# The checker (aiohttp) and the store (SQLAlchemy) are imported where they are used: the
# checks are forked off (service.checks.pool) before the store is imported, so each process
# imports only its half and the two halves' start-up runs on two cores.
if TYPE_CHECKING:
    from aiohttp.abc import AbstractResolver

    from service.checks.pool import CheckWorkers, Job
    from service.monitor.health import DeathRule
    from service.reports import Report
    from service.settings import ChecksSettings, Settings
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
    from service.articles.sources import fetch_article, is_url, read_article_file

    articles: list[Article] = []
    client = None
    try:
        for source in sources:
            if is_url(source):
                if client is None:
                    from service.checks.client import build_client

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


@dataclass(frozen=True, slots=True)
class CheckPlan:
    """What a run checks: every http link of its articles once, with the #anchors cited."""

    urls: list[str]  # sorted
    fragments: dict[str, set[str]]

    @classmethod
    def of(cls, articles: Sequence[Article]) -> CheckPlan:
        fragments: dict[str, set[str]] = {}
        for a in articles:
            for o in a.occurrences:
                if o.kind is LinkKind.HTTP and o.url:
                    cited = fragments.setdefault(o.url, set())
                    if o.fragment:
                        cited.add(o.fragment)
        return cls(sorted(fragments), fragments)


async def check_urls(
    checks: ChecksSettings,
    urls: Sequence[str],
    fragments: dict[str, set[str]],
    *,
    on_result: Callable[[CheckResult], None] | None = None,
    clock: Clock = utcnow,
    resolver: AbstractResolver | None = None,
) -> dict[str, CheckResult]:
    """Check `urls` once each with one Checker (spaced by `checks.oneshot_interval_s`)."""
    from service.checks.checker import Checker

    async with Checker(
        checks, per_host_interval_s=checks.oneshot_interval_s, clock=clock, resolver=resolver
    ) as checker:
        return await checker.check_many(urls, on_result=on_result, fragments=fragments)


_preforked: list[CheckWorkers] = []  # see prefork_checks


def prefork_checks() -> None:
    """Fork the first checking worker as the process starts (`linkwatch check`, from
    service.cli.main): it imports the checker while this process imports the command line,
    loads the settings and reads the articles. `fork_checks` takes it over."""
    workers = fork_checks()
    if workers is not None:
        _preforked.append(workers)


def fork_checks(
    *,
    on_result: Callable[[CheckResult], None] | None = None,
    clock: Clock = utcnow,
    resolver: AbstractResolver | None = None,
) -> CheckWorkers | None:
    """Fork the first checking worker now, so that it imports the checker while this process
    reads the articles; `submit_checks` hands out the work. None where workers are not forked
    (not Linux): `run_check` then checks in process. A worker forked by `prefork_checks` is
    taken over (when `clock` and `resolver` are the defaults it was forked with).

    Call it outside any event loop, before the store is opened (see service.checks.pool).
    """
    from service.checks.pool import CheckWorkers, can_fork

    if _preforked and clock is utcnow and resolver is None:
        workers = _preforked.pop()
        workers.on_result = on_result
        return workers
    if not can_fork():
        return None

    async def run_job(job: Job, send: Callable[[CheckResult], None]) -> object:
        checks, fragments = job.params
        return await check_urls(
            checks, job.urls, fragments, on_result=send, clock=clock, resolver=resolver
        )

    workers = CheckWorkers(run_job, prepare=_import_checker, on_result=on_result)
    workers.fork()
    return workers


def submit_checks(workers: CheckWorkers, settings: Settings, plan: CheckPlan) -> None:
    """Share the plan out among the workers (`checks.processes`, 0: one per CPU): whole sites
    per worker, and each a share of `checks.concurrency` by its number of links."""
    from service.checks.pool import Job, available_cpus, shard_by_site

    checks = settings.checks
    shards = shard_by_site(plan.urls, checks.processes or available_cpus()) if plan.urls else []
    jobs = []
    for urls in shards:
        share = max(1, math.ceil(checks.concurrency * len(urls) / len(plan.urls)))
        mine = checks.model_copy(update={"concurrency": share})
        jobs.append(Job(urls, (mine, {u: plan.fragments[u] for u in urls})))
    workers.submit(jobs)


def _import_checker() -> None:
    import service.checks.checker  # noqa: F401  (a worker's start-up, before its job arrives)


async def run_check(
    db: Database,
    settings: Settings,
    articles: Sequence[Article],
    *,
    archive: bool = True,
    on_result: Callable[[CheckResult], None] | None = None,
    clock: Clock = utcnow,
    resolver: AbstractResolver | None = None,
    workers: CheckWorkers | None = None,
    started: datetime | None = None,
) -> CheckRun:
    """Check every http link of `articles` once, record the results, build the report.

    `workers`: the run's checks, forked and submitted (`fork_checks`, `submit_checks`; awaited
    here while the articles are synced); None checks in this process. `started`: when the
    run began (default: now).
    When the run's failures look like the monitor's own (see service.checks.canary) and the
    canaries (`checks.canaries`) fail too, the network failures are recorded as `offline`.
    `resolver` replaces the system's name resolution (tests).
    """
    from service.checks.canary import is_network_failure, offline_results
    from service.monitor.health import DeathRule
    from service.reports.build import build_report
    from service.store import repo

    started = started or clock()
    plan = CheckPlan.of(articles)
    with db.session() as session:
        rows = [repo.sync_article(session, a, started) for a in articles]
        article_ids = [r.id for r in rows if r.id is not None]

    archive_task: asyncio.Task[dict[str, ArchiveInfo]] | None = None
    if archive and settings.wayback.enabled and plan.urls:
        archive_task = asyncio.create_task(_refresh_archives(db, settings, plan.urls, started))
    rule = DeathRule.from_settings(settings.monitor)
    recorded: set[str] = set()
    try:
        if workers is not None:
            # Record as the results come in, while the workers go on checking: all but the
            # network failures, which wait for the canaries' verdict (an offline monitor
            # relabels only those, service.checks.canary.as_offline). Arrivals are gathered
            # into transactions of RECORD_BATCH results, or of what came in RECORD_WAIT_S.
            pending: dict[str, CheckResult] = {}
            since = 0.0

            def flush() -> None:
                nonlocal pending
                batch, pending = pending, {}
                _record(db, batch, rule)
                recorded.update(batch)

            try:
                async for arrived in workers.arrivals():
                    if not pending:
                        since = time.monotonic()
                    pending.update((r.url, r) for r in arrived if not is_network_failure(r))
                    if len(pending) >= RECORD_BATCH or time.monotonic() - since >= RECORD_WAIT_S:
                        flush()
            finally:
                flush()  # also when interrupted: what has come in is recorded, as before
            results = await workers.results()
        else:
            results = await check_urls(
                settings.checks,
                plan.urls,
                plan.fragments,
                on_result=on_result,
                clock=clock,
                resolver=resolver,
            )
        offline = await _monitor_offline(settings.checks, results, resolver)
    finally:
        archive_infos = await archive_task if archive_task is not None else {}

    if offline:
        results = offline_results(results)
    _record(db, {u: r for u, r in results.items() if u not in recorded}, rule)

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


# While the workers check, their results are recorded in transactions of this many ... or of
# fewer, once the first of them has waited this long. Fewer, larger transactions leave more
# CPU to the checks: 256 instead of 64 saves the main process ~7 us per result on SQLite and
# ~16 us on PostgreSQL (and its server ~8 us). The price: a process killed outright (SIGKILL,
# power loss) loses up to this many results that had come in; an exception or interrupt
# still records them (`run_check`), and the next run checks the lost ones again anyway.
RECORD_BATCH = 256
RECORD_WAIT_S = 0.25


def _record(db: Database, results: dict[str, CheckResult], rule: DeathRule) -> None:
    """Record checks of stored links (by URL) in one transaction."""
    from service.store import repo

    if not results:
        return
    with db.session() as session:
        repo.record_checks_by_url(session, results, rule)


async def _monitor_offline(
    checks: ChecksSettings, results: dict[str, CheckResult], resolver: AbstractResolver | None
) -> bool:
    """The canary verdict for this run (service.checks.canary), through a client of its own:
    asked only when the run's failures could be the monitor's."""
    from service.checks.canary import monitor_is_offline, needs_canary

    if not checks.canaries or not needs_canary(results):
        return False
    from service.checks.client import build_client

    client = build_client(checks, resolver=resolver)
    try:
        return await monitor_is_offline(
            client, checks.canaries, results, timeout_s=checks.timeout_s
        )
    finally:
        await client.aclose()


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
