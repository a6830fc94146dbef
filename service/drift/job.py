"""The daemon's periodic drift job (wired in service/monitor/jobs.py):

    if settings.drift.enabled and settings.wayback.enabled:
        jobs.append(PeriodicJob("drift", drift_job, every_s=DRIFT_JOB_EVERY_S))

Each run compares at most `drift.batch_size` due links (one archive request each); a link is
due every `drift.interval_days`, after a failed comparison `drift.retry_hours` later, and at
once when it comes back from `dead` (read from the transitions, so no hook is needed).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from service.checks.client import build_client
from service.drift.fetch import archive_http_client
from service.drift.sweep import DriftStats, drift_sweep

if TYPE_CHECKING:
    from service.monitor.daemon import JobContext

DRIFT_JOB_EVERY_S = 300.0


async def drift_job(ctx: JobContext) -> DriftStats | None:
    """One drift sweep with the guarded checker client; None when drift is off."""
    settings = ctx.settings
    if not (settings.drift.enabled and settings.wayback.enabled):
        return None
    client = build_client(settings.checks)
    try:
        async with archive_http_client(settings.wayback.timeout_s) as http:
            return await drift_sweep(
                ctx.db,
                settings,
                ctx.clock(),
                client=client,
                archive_http=http,
                stopping=ctx.stopping,
            )
    finally:
        await client.aclose()
