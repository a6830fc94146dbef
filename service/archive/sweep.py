"""Archive work against the database: look up the links that are due, store the answers.

`linkwatch check` (concurrently with its link checks, after `repo.sync_article`):

    async with ArchiveClient(settings.wayback) as client:
        infos = await refresh_archives(db.session, client, now=started, urls=urls,
                                       deadline_s=settings.wayback.timeout_s * 3)

The daemon, once per sweep (and `mark_archive_due(session, link_id, now)` when a link turns
suspect or dead):

    infos = await refresh_archives(db.session, client, now=clock(), limit=batch)

Only links whose lookup is due (never looked up, refresh_days passed, marked due, or a failed
lookup's retry time reached) cost archive requests: a second run within the refresh window
makes none. Reports read the stored answers (`snapshots_for_links`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from datetime import datetime

from sqlmodel import Session

from service.archive.lookup import ArchiveClient
from service.model import ArchiveInfo
from service.settings import WaybackSettings
from service.store import snapshots as store

log = logging.getLogger("linkwatch.archive")

SessionFactory = Callable[[], AbstractContextManager[Session]]


def sweep_batch(settings: WaybackSettings) -> int:
    """Links per daemon sweep: about five minutes of the lookup budget (a lookup is 1-3 requests).

    Short sweeps store their answers early and finish well within the claim lease.
    """
    return max(1, settings.cdx_per_minute * 5 // 3)


async def refresh_archives(
    session_factory: SessionFactory,
    client: ArchiveClient,
    *,
    now: datetime | None = None,
    urls: Iterable[str] | None = None,
    limit: int = 100,
    deadline_s: float | None = None,
) -> dict[str, ArchiveInfo]:
    """Look up the due links (all of `urls` that are due, else up to `limit` and at most
    `sweep_batch(settings)`), store the answers, return them.

    `now` (default: the client's clock) decides what is due; the answers are stored with the
    client's lookup time. Never raises ArchiveError: failures are stored (and retried after
    `retry_minutes`).
    """
    when = now if now is not None else client.clock()
    settings = client.settings
    with session_factory() as session:
        if urls is not None:
            due = store.links_due_for_archive_among(session, urls, when)
        else:
            due = store.links_due_for_archive(session, when, min(limit, sweep_batch(settings)))
    if not due:
        return {}
    infos = await client.lookup_many([(d.url, d.citation_date) for d in due], deadline_s=deadline_s)
    by_link = {d.link_id: infos[d.url] for d in due if d.url in infos}
    with session_factory() as session:
        store.store_archive_infos(
            session,
            by_link,
            refresh_days=settings.refresh_days,
            retry_s=settings.retry_minutes * 60.0,
        )
    failed = sum(1 for i in by_link.values() if i.error)
    if failed:
        log.info("archive lookups: %d of %d failed (retried later)", failed, len(by_link))
    return {d.url: infos[d.url] for d in due if d.url in infos}
