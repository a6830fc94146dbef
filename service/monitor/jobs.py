"""The periodic jobs `linkwatch run` runs beside its sweeps (one line per stage).

Each is a `PeriodicJob` (service.monitor.daemon): an async function of a `JobContext`, run
every tick (or every `every_s`), never two runs of one job at once, errors logged. To add a
job: write `async def my_job(ctx: JobContext) -> None` in your stage and append it here.
Retention (daily) is built into the daemon.
"""

from __future__ import annotations

import httpx

from service.monitor.daemon import JobContext, PeriodicJob
from service.settings import Settings


async def archive_lookups(ctx: JobContext) -> None:
    """Wayback lookups for the links that are due (new, refresh_days old, or turned failing)."""
    from service.archive.lookup import ArchiveClient
    from service.archive.sweep import refresh_archives

    async with ArchiveClient(ctx.settings.wayback) as client:
        await refresh_archives(
            ctx.db.session, client, now=ctx.clock(), limit=ctx.settings.monitor.batch_size
        )


async def archive_saves(ctx: JobContext) -> None:
    """Save Page Now 2 submissions of alive links without a recent capture (keys required)."""
    from service.archive.spn import SavePageNow, save_due

    async with httpx.AsyncClient(timeout=ctx.settings.wayback.timeout_s) as http:
        spn = SavePageNow(ctx.settings.wayback, http)
        await save_due(ctx.db.session, spn, now=ctx.clock(), settings=ctx.settings.wayback)


async def alert_dispatch(ctx: JobContext) -> None:
    """Turn new transitions into alerts and deliver the due ones to their channels."""
    from service.alerts.dispatcher import dispatch

    await dispatch(ctx.db, ctx.settings, ctx.clock(), worker=ctx.worker)


async def _sources(ctx: JobContext) -> None:
    """Publication sources: due scans of sitemaps, feeds and folders, then due article fetches."""
    from service.monitor.sources import sources_job

    await sources_job(ctx)


def default_jobs(settings: Settings) -> list[PeriodicJob]:
    """The jobs the configuration asks for, in the order they first run."""
    jobs: list[PeriodicJob] = []
    if settings.wayback.enabled:
        jobs.append(PeriodicJob("archive-lookups", archive_lookups))
        if settings.wayback.save_enabled:
            jobs.append(PeriodicJob("archive-saves", archive_saves, every_s=60.0))
    jobs.append(PeriodicJob("sources", _sources))  # sitemaps, feeds, folders (issue 12)
    if settings.drift.enabled and settings.wayback.enabled:
        from service.drift.job import DRIFT_JOB_EVERY_S, drift_job

        jobs.append(PeriodicJob("drift", drift_job, every_s=DRIFT_JOB_EVERY_S))
    if settings.alerts.channels:
        jobs.append(PeriodicJob("alerts", alert_dispatch))
    return jobs
