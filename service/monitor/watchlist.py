"""Keeping the watch list in step with its sources: add, configured articles, refreshes.

- `add_article`: read a file or fetch a URL now and record it (`linkwatch add`, config sync).
- `sync_configured`: the `[[articles]]` of the configuration, at daemon start.
- `refresh_articles`: once per sweep, files whose mtime changed are re-read, and URL
  articles due (`next_fetch_at`, every `monitor.article_refresh_h`) are re-fetched with a
  conditional GET (ETag / Last-Modified). New links join the watch; links gone from the
  article are retired (their history kept) by `repo.sync_article`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import EllipsisType

import httpx

from service.errors import LinkwatchError
from service.model import Article
from service.settings import ArticleEntry, Settings
from service.store import repo, watch
from service.store.claims import claim_article_fetch, lock_watch_list
from service.store.db import Database
from service.store.tables import ArticleRow

log = logging.getLogger("linkwatch.watchlist")


@dataclass(frozen=True, slots=True)
class WatchEntry:
    """An article to watch and its options (from `linkwatch add` or the configuration).

    `tags` None keeps the stored tags; `interval_hours` is ... (Ellipsis) to keep the stored one.
    """

    source: str
    published: date | None = None
    source_url: str | None = None
    tags: tuple[str, ...] | None = None
    interval_hours: float | EllipsisType | None = ...

    @classmethod
    def from_config(cls, entry: ArticleEntry) -> WatchEntry:
        return cls(
            source=entry.source,
            published=entry.published,
            source_url=entry.source_url,
            tags=tuple(entry.tags),
            interval_hours=entry.interval_hours,
        )


@dataclass
class RefreshStats:
    reread: int = 0
    unchanged: int = 0
    failed: int = 0
    missing: list[str] = field(default_factory=list)


def _is_url(source: str) -> bool:
    from service.articles.sources import is_url

    return bool(is_url(source))


def _read_file(source: str, published: date | None, source_url: str | None) -> Article:
    from service.articles.sources import read_article_file

    return read_article_file(source, published=published, source_url=source_url)


def _refresh_delta(settings: Settings) -> timedelta:
    return timedelta(hours=settings.monitor.article_refresh_h)


def _sync(
    db: Database,
    article: Article,
    now: datetime,
    entry: WatchEntry,
    *,
    next_fetch_at: datetime | None,
    etag: str | None = None,
    last_modified: str | None = None,
) -> ArticleRow:
    with db.session() as session:
        lock_watch_list(session)
        row = repo.sync_article(
            session, article, now, tags=entry.tags, interval_hours=entry.interval_hours
        )
        assert row.id is not None
        watch.mark_fetched(
            session,
            row.id,
            now,
            next_fetch_at=next_fetch_at,
            etag=etag,
            last_modified=last_modified,
        )
        return row


async def add_article(
    db: Database,
    settings: Settings,
    entry: WatchEntry,
    client: httpx.AsyncClient,
    now: datetime,
    *,
    etag: str | None = None,
    last_modified: str | None = None,
    known: ArticleRow | None = None,
) -> ArticleRow:
    """Read `entry.source` now and record it; raises LinkwatchError when it cannot be read.

    With `etag`/`last_modified` (a URL already known), a 304 answer only updates the options.
    """
    if _is_url(entry.source):
        from service.articles.sources import fetch_article

        fetched = await fetch_article(
            entry.source,
            client,
            published=entry.published,
            source_url=entry.source_url,
            etag=etag,
            last_modified=last_modified,
        )
        nxt = now + _refresh_delta(settings)
        if fetched is None:  # 304 Not Modified
            assert known is not None and known.id is not None
            return await asyncio.to_thread(_not_modified, db, known, entry, now, nxt)
        return await asyncio.to_thread(
            _sync,
            db,
            fetched.article,
            now,
            entry,
            next_fetch_at=nxt,
            etag=fetched.etag,
            last_modified=fetched.last_modified,
        )
    article = await asyncio.to_thread(_read_file, entry.source, entry.published, entry.source_url)
    return await asyncio.to_thread(_sync, db, article, now, entry, next_fetch_at=None)


def _not_modified(
    db: Database, row: ArticleRow, entry: WatchEntry, now: datetime, nxt: datetime
) -> ArticleRow:
    assert row.id is not None
    with db.session() as session:
        watch.mark_fetched(
            session, row.id, now, next_fetch_at=nxt, etag=row.etag, last_modified=row.last_modified
        )
        interval = entry.interval_hours
        if entry.tags is not None or not isinstance(interval, EllipsisType):
            watch.set_article_options(
                session,
                row.id,
                tags=entry.tags,
                interval_hours=row.interval_hours
                if isinstance(interval, EllipsisType)
                else interval,
                active=True,
            )
    return row


async def sync_configured(
    db: Database,
    settings: Settings,
    client: httpx.AsyncClient,
    now: datetime,
    entries: Sequence[ArticleEntry] | None = None,
) -> int:
    """Record the configured articles (daemon start). Unreadable ones are logged and skipped.

    Returns how many were synced.
    """
    done = 0
    for config_entry in settings.articles if entries is None else entries:
        entry = WatchEntry.from_config(config_entry)
        try:
            known = await asyncio.to_thread(_get, db, entry.source)
            await add_article(
                db,
                settings,
                entry,
                client,
                now,
                etag=known.etag if known else None,
                last_modified=known.last_modified if known else None,
                known=known,
            )
            done += 1
        except (LinkwatchError, OSError, httpx.HTTPError) as exc:
            log.error(
                "cannot read a configured article; skipped",
                extra={"fields": {"article": entry.source, "error": str(exc)}},
            )
    return done


def _get(db: Database, location: str) -> ArticleRow | None:
    with db.session() as session:
        return repo.get_article(session, location)


def _list(db: Database) -> list[ArticleRow]:
    with db.session() as session:
        return repo.list_articles(session)


def _claim_fetch(db: Database, article_id: int, now: datetime, nxt: datetime) -> bool:
    with db.session() as session:
        return claim_article_fetch(session, article_id, now, nxt)


def _file_changed(row: ArticleRow) -> bool | None:
    """True when the file changed since it was last read; None when it cannot be read."""
    try:
        mtime = Path(row.location).stat().st_mtime
    except OSError:
        return None
    if row.fetched_at is None:
        return True
    return datetime.fromtimestamp(mtime, UTC) >= row.fetched_at


async def refresh_articles(
    db: Database,
    settings: Settings,
    client: httpx.AsyncClient,
    now: datetime,
    *,
    warned: set[str] | None = None,
) -> RefreshStats:
    """Re-read changed files and re-fetch due URL articles (see the module docstring).

    `warned` remembers missing files already logged, so a gone file is reported once.
    """
    stats = RefreshStats()
    warned = warned if warned is not None else set()
    for row in await asyncio.to_thread(_list, db):
        assert row.id is not None
        if row.source_id is not None:
            continue  # a publication source's article: refreshed by service.monitor.sources
        entry = WatchEntry(source=row.location, published=row.published, source_url=row.source_url)
        try:
            if _is_url(row.location):
                if row.next_fetch_at is not None and row.next_fetch_at > now:
                    continue
                nxt = now + _refresh_delta(settings)
                if not await asyncio.to_thread(_claim_fetch, db, row.id, now, nxt):
                    continue  # another replica took it
                before = row.fetched_at
                got = await add_article(
                    db,
                    settings,
                    entry,
                    client,
                    now,
                    etag=row.etag,
                    last_modified=row.last_modified,
                    known=row,
                )
                if got.fetched_at == before or got is row:
                    stats.unchanged += 1
                else:
                    stats.reread += 1
            else:
                changed = _file_changed(row)
                if changed is None:
                    stats.missing.append(row.location)
                    if row.location not in warned:
                        warned.add(row.location)
                        log.warning(
                            "article file is missing; its links stay watched",
                            extra={"fields": {"article": row.location}},
                        )
                    continue
                warned.discard(row.location)
                if not changed:
                    stats.unchanged += 1
                    continue
                await add_article(db, settings, entry, client, now)
                stats.reread += 1
                log.info("article re-read", extra={"fields": {"article": row.location}})
        except (LinkwatchError, OSError, httpx.HTTPError) as exc:
            stats.failed += 1
            log.warning(
                "cannot refresh article",
                extra={"fields": {"article": row.location, "error": str(exc)}},
            )
    return stats
