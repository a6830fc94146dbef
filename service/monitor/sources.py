"""Watching whole publications: scanning sources and fetching their article pages.

A *scan* reads a source's listing: a sitemap (an index's child sitemaps too, gzip or not),
an RSS/Atom feed, or a folder of Markdown/HTML files. What it lists becomes article rows
(`service.store.sources.apply_listing`): new ones are due for a read, ones whose `lastmod`
changed are due again, unchanged ones are left alone; articles that left a sitemap or a
folder are retired (history kept). A feed is a window on the newest entries, so its old
entries stay watched when they scroll out of it.

A *fetch* reads one due article page, politely: the checker's per-host limits (a robots.txt
Crawl-delay lengthens the interval), a conditional GET (ETag / Last-Modified), robots.txt
honoured, only the body's links kept unless the source says `all_links`. A page that answers
404/410 is retired. Folder articles are read straight from disk during the scan.

`run_sources` does both (the daemon's "sources" job; `linkwatch add --sitemap/--feed/DIR`).
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import sqlalchemy as sa
from sqlmodel import Session

from service.articles.discover import (
    DiscoveredEntry,
    DiscoveryError,
    Listing,
    parse_listing,
    registrable_domain,
)
from service.articles.extract import parse_article
from service.articles.maincontent import restrict_to_body
from service.articles.robots import RobotsRules, robots_for_status, robots_url
from service.articles.sources import decode_text, format_for_suffix, sniff_format
from service.checks.client import default_user_agent
from service.checks.limits import HostLimiter
from service.errors import InputError, LinkwatchError
from service.model import Article
from service.settings import Settings
from service.store import repo
from service.store import sources as store
from service.store.claims import claim_article_fetch, lock_watch_list
from service.store.db import Database
from service.store.tables import SourceRow

if TYPE_CHECKING:
    from service.monitor.daemon import JobContext

log = logging.getLogger("linkwatch.sources")

ARTICLE_MAX_BYTES = 10 * 2**20
WRITE_BATCH = 200  # articles recorded per transaction
RETRY_FAILED = timedelta(hours=1)
_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})


class SourceError(LinkwatchError):
    """A source cannot be read (its listing is unreachable or not a sitemap/feed/folder)."""


@dataclass
class SourceStats:
    """What one run did (summed over sources)."""

    scanned: int = 0
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    retired: int = 0
    foreign: int = 0
    off_site: int = 0  # listed URLs on another site (not articles of this publication)
    fetched: int = 0
    not_modified: int = 0
    gone: int = 0  # article pages answering 404/410: retired
    blocked: int = 0  # refused by robots.txt
    failed: int = 0
    errors: list[str] = field(default_factory=list)

    def add(self, listing: store.ListingResult) -> None:
        self.new += listing.new
        self.changed += listing.changed
        self.unchanged += listing.unchanged
        self.retired += listing.retired
        self.foreign += listing.foreign


# -- HTTP --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Fetched:
    status: int
    url: str  # final URL after redirects
    body: bytes = b""
    content_type: str = ""
    charset: str | None = None
    etag: str | None = None
    last_modified: str | None = None


class PageFetcher:
    """GETs of a publication's own pages: per-host limits, robots.txt, conditional requests."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        settings: Settings,
        *,
        user_agent: str | None = None,
    ) -> None:
        self.client = client
        self.settings = settings
        self.user_agent = user_agent or settings.checks.user_agent or default_user_agent()
        checks = settings.checks
        self._per_host = checks.per_host_concurrency
        self._interval = checks.per_host_interval_s
        self._limiters: dict[float, HostLimiter] = {}
        self._host_interval: dict[str, float] = {}
        self._robots: dict[str, RobotsRules] = {}
        self._robots_locks: dict[str, asyncio.Lock] = {}

    def _limiter(self, host: str) -> HostLimiter:
        interval = self._host_interval.get(host, self._interval)
        limiter = self._limiters.get(interval)
        if limiter is None:
            limiter = self._limiters[interval] = HostLimiter(self._per_host, interval)
        return limiter

    async def get(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        max_bytes: int = ARTICLE_MAX_BYTES,
        accept: str | None = None,
    ) -> Fetched:
        """GET `url` (redirects followed), at most `max_bytes` of body; `SourceError` on failure."""
        headers: dict[str, str] = {"User-Agent": self.user_agent}
        if accept:
            headers["Accept"] = accept
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        host = httpx.URL(url).host
        try:
            async with (
                self._limiter(host).slot(host),
                self.client.stream("GET", url, headers=headers, follow_redirects=True) as response,
            ):
                body = b""
                if 200 <= response.status_code < 300:
                    body = await _read_capped(response, url, max_bytes)
                return Fetched(
                    status=response.status_code,
                    url=str(response.url),
                    body=body,
                    content_type=response.headers.get("content-type", ""),
                    charset=response.charset_encoding,
                    etag=response.headers.get("etag"),
                    last_modified=response.headers.get("last-modified"),
                )
        except (httpx.HTTPError, httpx.InvalidURL, OSError) as exc:
            raise SourceError(f"cannot fetch {url}: {_one_line(exc)}") from None

    async def robots(self, url: str) -> RobotsRules:
        """The robots.txt rules of `url`'s site (read once per fetcher)."""
        where = robots_url(url)
        lock = self._robots_locks.setdefault(where, asyncio.Lock())
        async with lock:
            rules = self._robots.get(where)
            if rules is None:
                try:
                    got = await self.get(where, max_bytes=512 * 1024, accept="text/plain")
                    text = decode_text(got.body, got.charset, name=where) if got.body else ""
                    rules = robots_for_status(got.status, text)
                except (SourceError, InputError):
                    rules = robots_for_status(None, None)
                self._robots[where] = rules
                delay = rules.crawl_delay(self.user_agent)
                if delay:
                    capped = min(delay, self.settings.sources.max_crawl_delay_s)
                    self._host_interval[httpx.URL(url).host] = max(self._interval, capped)
            return rules

    async def allowed(self, url: str) -> bool:
        if not self.settings.sources.respect_robots:
            return True
        return (await self.robots(url)).allowed(url, self.user_agent)


async def _read_capped(response: httpx.Response, url: str, max_bytes: int) -> bytes:
    body = bytearray()
    async for chunk in response.aiter_bytes():
        body += chunk
        if len(body) > max_bytes:
            raise SourceError(f"{url}: too large (more than {max_bytes} bytes)")
    return bytes(body)


def _one_line(exc: BaseException) -> str:
    cause = exc.__cause__
    text = str(exc).strip() or (str(cause).strip() if cause else "") or type(exc).__name__
    return text.splitlines()[0]


# -- scanning web sources ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WebListing:
    entries: list[store.ListedArticle]
    complete: bool  # every child sitemap was read (only then may missing articles be retired)
    feed: bool
    off_site: int
    etag: str | None
    last_modified: str | None


async def read_web_listing(fetcher: PageFetcher, source: SourceRow) -> WebListing | None:
    """Read a sitemap (index) or feed; None when it answered 304 Not Modified."""
    limits = fetcher.settings.sources
    top = await fetcher.get(
        source.location,
        etag=source.etag,
        last_modified=source.last_modified,
        max_bytes=limits.max_document_bytes,
        accept="application/xml, text/xml, application/rss+xml, application/atom+xml, */*;q=0.5",
    )
    if top.status == 304 and (source.etag or source.last_modified):
        return None
    if not 200 <= top.status < 300:
        raise SourceError(f"{source.location}: HTTP {top.status}")
    listing = _parse(top, limits.max_document_bytes)
    complete = True
    entries = list(listing.entries)
    if listing.kind == "sitemapindex":
        children, complete = await _read_children(fetcher, listing, limits.max_sitemaps)
        entries.extend(children)
    site = registrable_domain(httpx.URL(top.url).host)
    own = [e for e in entries if registrable_domain(httpx.URL(e.url).host) == site]
    validators = listing.kind != "sitemapindex"  # an index's children change behind its back
    return WebListing(
        entries=[store.ListedArticle(e.url, e.lastmod, e.published, e.title) for e in own],
        complete=complete,
        feed=listing.is_feed,
        off_site=len(entries) - len(own),
        etag=top.etag if validators else None,
        last_modified=top.last_modified if validators else None,
    )


def _parse(got: Fetched, max_bytes: int) -> Listing:
    try:
        return parse_listing(got.body, got.url, max_bytes=max_bytes)
    except DiscoveryError as exc:
        raise SourceError(f"{got.url}: {exc}") from None


async def _read_children(
    fetcher: PageFetcher, index: Listing, max_sitemaps: int
) -> tuple[list[DiscoveredEntry], bool]:
    queue = list(index.sitemaps)
    seen: set[str] = set()
    found: list[DiscoveredEntry] = []
    complete = True
    depth_left = {s.url: 1 for s in queue}  # an index may name indexes, one level deep
    while queue:
        child = queue.pop(0)
        if child.url in seen:
            continue
        if len(seen) >= max_sitemaps:
            log.warning(
                "sitemap index too large; the rest is ignored",
                extra={"fields": {"limit": max_sitemaps}},
            )
            complete = False
            break
        seen.add(child.url)
        try:
            got = await fetcher.get(
                child.url, max_bytes=fetcher.settings.sources.max_document_bytes
            )
            if not 200 <= got.status < 300:
                raise SourceError(f"{child.url}: HTTP {got.status}")
            listing = _parse(got, fetcher.settings.sources.max_document_bytes)
        except SourceError as exc:
            log.warning("cannot read a child sitemap", extra={"fields": {"error": str(exc)}})
            complete = False
            continue
        found.extend(listing.entries)
        if listing.kind == "sitemapindex" and depth_left.get(child.url, 0) > 0:
            for grandchild in listing.sitemaps:
                depth_left[grandchild.url] = depth_left[child.url] - 1
                queue.append(grandchild)
    return found, complete


def _scan_interval(settings: Settings) -> timedelta:
    return timedelta(hours=settings.sources.scan_interval_h)


async def scan_web_source(
    db: Database, fetcher: PageFetcher, source: SourceRow, now: datetime, stats: SourceStats
) -> None:
    """Read a web source's listing and record what it lists (no article fetched here)."""
    assert source.id is not None
    nxt = now + _scan_interval(fetcher.settings)
    listing = await read_web_listing(fetcher, source)
    if listing is None:
        await asyncio.to_thread(
            _mark_scanned, db, source.id, now, nxt, (source.etag, source.last_modified)
        )
        stats.scanned += 1
        return
    retire = listing.complete and not listing.feed and bool(listing.entries)
    source_id = source.id

    def write() -> store.ListingResult:
        with db.session() as session:
            lock_watch_list(session)
            result = store.apply_listing(
                session,
                source_id,
                listing.entries,
                now,
                tags=store.source_tags(source),
                retire_missing=retire,
            )
            store.mark_scanned(
                session,
                source_id,
                now,
                nxt,
                etag=listing.etag,
                last_modified=listing.last_modified,
            )
            return result

    stats.add(await asyncio.to_thread(write))
    stats.off_site += listing.off_site
    stats.scanned += 1


def _mark_scanned(
    db: Database,
    source_id: int,
    now: datetime,
    nxt: datetime,
    validators: tuple[str | None, str | None],
) -> None:
    with db.session() as session:
        store.mark_scanned(
            session, source_id, now, nxt, etag=validators[0], last_modified=validators[1]
        )


# -- fetching article pages --------------------------------------------------------------------


def page_article(
    body: bytes,
    url: str,
    final_url: str,
    content_type: str,
    charset: str | None,
    *,
    all_links: bool,
    published: date | None = None,
) -> Article:
    """Parse a fetched page into an Article: body links only unless `all_links`.

    `published` (from the listing) is used when the page does not say its own date.
    """
    text = decode_text(body, charset, name=url)
    mime = content_type.partition(";")[0].strip().lower()
    if mime in _HTML_TYPES:
        fmt = "html"
    else:
        fmt = format_for_suffix(httpx.URL(final_url).path) or sniff_format(text)
    article = parse_article(text, fmt, url, base_url=final_url)
    if fmt == "html" and not all_links:
        article = restrict_to_body(article, text, final_url)
    if article.meta.published is None and published is not None:
        article = replace(article, meta=replace(article.meta, published=published))
    return article


@dataclass(frozen=True, slots=True)
class _Read:
    pending: store.PendingFetch
    article: Article
    etag: str | None
    last_modified: str | None


async def fetch_due_articles(
    db: Database,
    fetcher: PageFetcher,
    now: datetime,
    stats: SourceStats,
    *,
    limit: int,
    source_id: int | None = None,
    stopping: asyncio.Event | None = None,
) -> int:
    """Fetch up to `limit` due article pages of web sources and record them. Returns how many
    were due (fetched, unchanged, gone, blocked or failed)."""
    settings = fetcher.settings
    pending = await asyncio.to_thread(_due, db, now, limit, source_id)
    refresh = timedelta(hours=settings.monitor.article_refresh_h)
    lastmod_refresh = timedelta(days=settings.sources.lastmod_refresh_days)
    reads: list[_Read] = []
    gone: list[int] = []
    postponed: list[tuple[int, datetime]] = []
    unchanged: list[store.PendingFetch] = []
    slots = asyncio.Semaphore(max(1, settings.checks.concurrency))

    async def one(p: store.PendingFetch) -> None:
        if stopping is not None and stopping.is_set():
            return
        async with slots:
            nxt = now + (lastmod_refresh if p.lastmod else refresh)
            if not await asyncio.to_thread(_claim, db, p.article_id, now, nxt):
                return  # another replica took it
            if not await fetcher.allowed(p.url):
                stats.blocked += 1
                postponed.append((p.article_id, now + _scan_interval(settings)))
                return
            try:
                got = await fetcher.get(
                    p.url,
                    etag=p.etag if p.fetched_before else None,
                    last_modified=p.last_modified if p.fetched_before else None,
                    accept="text/html, application/xhtml+xml, text/markdown;q=0.9, */*;q=0.1",
                )
                if got.status == 304 and p.fetched_before:
                    stats.not_modified += 1
                    unchanged.append(p)
                    return
                if got.status in (404, 410):
                    stats.gone += 1
                    gone.append(p.article_id)
                    return
                if not 200 <= got.status < 300:
                    raise SourceError(f"{p.url}: HTTP {got.status}")
                article = page_article(
                    got.body,
                    p.url,
                    got.url,
                    got.content_type,
                    got.charset,
                    all_links=p.all_links,
                    published=p.published,
                )
            except (SourceError, InputError) as exc:
                stats.failed += 1
                postponed.append((p.article_id, now + RETRY_FAILED))
                log.warning("cannot fetch article", extra={"fields": {"error": str(exc)}})
                return
            stats.fetched += 1
            reads.append(_Read(p, article, got.etag, got.last_modified))

    await asyncio.gather(*(one(p) for p in pending))

    def write() -> None:
        with db.session() as session:
            for article_id, until in postponed:
                store.postpone_fetch(session, article_id, until)
            for p in unchanged:
                nxt = now + (lastmod_refresh if p.lastmod else refresh)
                store.mark_article_read(
                    session,
                    p.article_id,
                    now,
                    next_fetch_at=nxt,
                    etag=p.etag,
                    last_modified=p.last_modified,
                    lastmod=p.lastmod,
                )
            for article_id in gone:
                repo.remove_article(session, article_id, now)
        for start in range(0, len(reads), WRITE_BATCH):
            _record_reads(db, reads[start : start + WRITE_BATCH], now, refresh, lastmod_refresh)

    await asyncio.to_thread(write)
    return len(pending)


def _due(
    db: Database, now: datetime, limit: int, source_id: int | None
) -> list[store.PendingFetch]:
    with db.session() as session:
        return store.due_fetches(session, now, limit, source_id=source_id)


def _claim(db: Database, article_id: int, now: datetime, nxt: datetime) -> bool:
    with db.session() as session:
        return claim_article_fetch(session, article_id, now, nxt)


def _record_reads(
    db: Database,
    reads: Sequence[_Read],
    now: datetime,
    refresh: timedelta,
    lastmod_refresh: timedelta,
) -> None:
    with db.session() as session:
        lock_watch_list(session)
        started = store.has_occurrences(session, [r.pending.article_id for r in reads])
        by_source: dict[int, list[store.BulkItem]] = {}
        for r in reads:
            p = r.pending
            nxt = now + (lastmod_refresh if p.lastmod else refresh)
            if p.article_id in started:
                repo.sync_article(session, r.article, now)
                store.mark_article_read(
                    session,
                    p.article_id,
                    now,
                    next_fetch_at=nxt,
                    etag=r.etag,
                    last_modified=r.last_modified,
                    lastmod=p.lastmod,
                )
            else:
                by_source.setdefault(p.source_id, []).append(
                    store.BulkItem(r.article, p.lastmod, r.etag, r.last_modified, nxt)
                )
        for source_id, items in by_source.items():
            store.bulk_add_articles(session, items, now, source_id=source_id)


# -- folders -----------------------------------------------------------------------------------


def article_files(root: Path) -> Iterator[Path]:
    """Markdown and HTML files under `root` (hidden files and folders skipped), sorted."""
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if not name.startswith(".") and format_for_suffix(name) is not None:
                yield Path(folder) / name


def read_file_article(path: Path, *, all_links: bool) -> Article:
    """Read one article file: body links only for HTML unless `all_links`."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or type(exc).__name__})") from None
    text = decode_text(data, name=str(path))
    fmt = format_for_suffix(path) or sniff_format(text)
    article = parse_article(text, fmt, str(path))
    if fmt == "html" and not all_links:
        article = restrict_to_body(article, text)
    return article


def scan_dir_source(
    db: Database,
    source: SourceRow,
    now: datetime,
    settings: Settings,
    stats: SourceStats,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> None:
    """Scan a folder source: changed and new files are read now, vanished ones retired."""
    assert source.id is not None
    root = Path(source.location)
    nxt = now + _scan_interval(settings)
    if not root.is_dir():
        with db.session() as session:
            store.mark_scanned(session, source.id, now, nxt)
        raise SourceError(f"{root}: not a folder (any more); its articles stay watched")
    listed: list[store.ListedArticle] = []
    for path in article_files(root):
        try:
            st = path.stat()
        except OSError:
            continue
        listed.append(store.ListedArticle(str(path), lastmod=f"{st.st_mtime_ns}:{st.st_size}"))
    with db.session() as session:
        lock_watch_list(session)
        result = store.apply_listing(
            session, source.id, listed, now, fmt="markdown", tags=store.source_tags(source)
        )
        store.mark_scanned(session, source.id, now, nxt)
    stats.add(result)
    stats.scanned += 1
    lastmods = {item.location: item.lastmod for item in listed}
    with db.session() as session:
        locations = _locations(session, result.due_ids)
    done = 0
    for start in range(0, len(locations), WRITE_BATCH):
        batch = locations[start : start + WRITE_BATCH]
        reads: list[tuple[int, Article]] = []
        for article_id, location in batch:
            try:
                reads.append(
                    (article_id, read_file_article(Path(location), all_links=source.all_links))
                )
            except InputError as exc:
                stats.failed += 1
                log.warning("cannot read article file", extra={"fields": {"error": str(exc)}})
        with db.session() as session:
            lock_watch_list(session)
            started = store.has_occurrences(session, [i for i, _ in reads])
            bulk: list[store.BulkItem] = []
            for article_id, article in reads:
                lastmod = lastmods.get(article.location)
                if article_id in started:
                    repo.sync_article(session, article, now)
                    store.mark_article_read(
                        session, article_id, now, next_fetch_at=None, lastmod=lastmod
                    )
                else:
                    bulk.append(store.BulkItem(article, lastmod=lastmod))
            store.bulk_add_articles(session, bulk, now, source_id=source.id)
        stats.fetched += len(reads)
        done += len(batch)
        if progress is not None:
            progress(done, len(locations))


def _locations(session: Session, ids: Sequence[int]) -> list[tuple[int, str]]:
    out: list[tuple[int, str]] = []
    a = store.ARTICLES.c
    wanted = sorted(set(ids))
    for start in range(0, len(wanted), store.CHUNK):
        part = wanted[start : start + store.CHUNK]
        out.extend(
            (i, loc)
            for i, loc in session.execute(sa.select(a.id, a.location).where(a.id.in_(part)))
        )
    return sorted(out)


# -- one run -----------------------------------------------------------------------------------


async def scan_source(
    db: Database, fetcher: PageFetcher, source: SourceRow, now: datetime, stats: SourceStats
) -> None:
    """Scan one source now (folders: their changed files are read too)."""
    if source.kind == "dir":
        await asyncio.to_thread(scan_dir_source, db, source, now, fetcher.settings, stats)
    else:
        await scan_web_source(db, fetcher, source, now, stats)


async def run_sources(
    db: Database,
    fetcher: PageFetcher,
    now: datetime,
    *,
    fetch_limit: int | None = None,
    stopping: asyncio.Event | None = None,
) -> SourceStats:
    """Scan every due source (errors logged, the source tried again next interval), then
    fetch up to `fetch_limit` (default sources.fetch_batch) due article pages."""
    stats = SourceStats()
    settings = fetcher.settings
    due = await asyncio.to_thread(_due_sources, db, now)
    for source in due:
        if stopping is not None and stopping.is_set():
            break
        assert source.id is not None
        until = now + _scan_interval(settings)
        if not await asyncio.to_thread(_claim_scan, db, source.id, now, until):
            continue
        try:
            await scan_source(db, fetcher, source, now, stats)
        except (SourceError, InputError) as exc:
            stats.errors.append(str(exc))
            log.warning(
                "cannot scan source",
                extra={"fields": {"source": source.location, "error": str(exc)}},
            )
    if stopping is None or not stopping.is_set():
        await fetch_due_articles(
            db,
            fetcher,
            now,
            stats,
            limit=fetch_limit or settings.sources.fetch_batch,
            stopping=stopping,
        )
    return stats


def _due_sources(db: Database, now: datetime) -> list[SourceRow]:
    with db.session() as session:
        return store.due_sources(session, now)


def _claim_scan(db: Database, source_id: int, now: datetime, until: datetime) -> bool:
    with db.session() as session:
        return store.claim_scan(session, source_id, now, until)


# -- the daemon job ----------------------------------------------------------------------------


async def sources_job(ctx: JobContext) -> None:
    """Periodic job of `linkwatch run`: due source scans, then a batch of due article fetches."""
    from service.checks.client import build_client

    client = build_client(ctx.settings.checks)
    try:
        stats = await run_sources(
            ctx.db, PageFetcher(client, ctx.settings), ctx.clock(), stopping=ctx.stopping
        )
    finally:
        await client.aclose()
    if stats.scanned or stats.fetched or stats.retired or stats.gone:
        log.info(
            "sources",
            extra={
                "fields": {
                    "scanned": stats.scanned,
                    "new": stats.new,
                    "fetched": stats.fetched,
                    "not_modified": stats.not_modified,
                    "retired": stats.retired + stats.gone,
                    "failed": stats.failed,
                }
            },
        )
