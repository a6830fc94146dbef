"""Which snapshot: per link, the capture closest to its citation date and the newest capture.

    async with ArchiveClient(settings.wayback) as client:
        info = await client.lookup("https://example.com/a", date(2020, 5, 1))
        infos = await client.lookup_many([(url, cited), ...], deadline_s=60)

Rules (issue 4):
- Only captures the archive recorded with HTTP 200 count (`filter=statuscode:200`); a 404
  capture is not a copy of the page.
- (a) citation: the *last* capture on or before the citation date (end of that day, UTC);
  only when there is none, the first capture after it. (b) latest: the newest capture.
  A citation date of None means "now": citation and latest are then the same capture.
- CDX first (at most three requests: newest; last-before when the newest is after the
  citation date; closest-after when nothing is before). When the CDX API fails (timeout, 5xx,
  unreadable), the availability API is asked instead (two requests). A rate limit (429) is not
  worked around: it pauses every archive call (see limiter.py).
- "Never archived" is an answer: citation=None, latest=None, error=None. A site excluded from
  the archive is answered the same way (there is no copy a reader could open). Any failure sets
  `error` and leaves both captures None: unknown, never "never archived".
- Nothing here raises: `lookup` and `lookup_many` report failures in `ArchiveInfo.error`.

Threads: waybackpy blocks, so each request runs in a small executor of its own (not asyncio's
default one). A stalled archive can then occupy only these threads, never the default executor
that the link checker's DNS resolution (`loop.getaddrinfo`) and other `to_thread` work rely on.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime
from types import TracebackType
from typing import TypeVar

from service.archive.limiter import ArchiveLimits, RateLimiter, shared_limits
from service.archive.wayback import (
    ArchiveBlocked,
    ArchiveTimeout,
    CdxQuery,
    WaybackApi,
    end_of_day,
    to_timestamp,
)
from service.clock import utcnow
from service.errors import ArchiveError, ArchiveRateLimited
from service.model import ArchiveInfo, Capture
from service.settings import WaybackSettings

log = logging.getLogger("linkwatch.archive")

T = TypeVar("T")
WallClock = Callable[[], datetime]

ARCHIVE_TIMEOUT = "archive timeout"
WORKER_THREADS = 4

_EXECUTORS: dict[str, ThreadPoolExecutor] = {}
_EXECUTOR_LOCK = threading.Lock()


def archive_executor() -> ThreadPoolExecutor:
    """The process-wide worker threads for blocking archive calls."""
    with _EXECUTOR_LOCK:
        if "archive" not in _EXECUTORS:
            _EXECUTORS["archive"] = ThreadPoolExecutor(
                max_workers=WORKER_THREADS, thread_name_prefix="wayback"
            )
        return _EXECUTORS["archive"]


def choose_citation(latest: Capture, citation_date: date | None) -> bool:
    """True when the newest capture is also the last capture on or before the citation date."""
    return citation_date is None or latest.timestamp <= end_of_day(citation_date)


class ArchiveClient:
    """Wayback lookups for links, politely: one process-wide limiter, timeouts, never raising."""

    def __init__(
        self,
        settings: WaybackSettings | None = None,
        *,
        limits: ArchiveLimits | None = None,
        clock: WallClock = utcnow,
        executor: ThreadPoolExecutor | None = None,
        concurrency: int = 4,
    ) -> None:
        self.settings = settings if settings is not None else WaybackSettings()
        self.api = WaybackApi(self.settings.base_url, timeout_s=self.settings.timeout_s)
        self.limits = limits if limits is not None else shared_limits(self.settings)
        self.clock = clock
        self._executor = executor
        self._concurrency = max(1, concurrency)

    async def __aenter__(self) -> ArchiveClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None

    @property
    def limiter(self) -> RateLimiter:
        return self.limits.lookups

    # -- one request -------------------------------------------------------------------------

    async def _call(self, fn: Callable[[], T]) -> T:
        """One archive request: a limiter slot, then `fn` in a worker thread, bounded in time."""
        await self.limiter.acquire()
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self._executor or archive_executor(), fn)
        try:
            # The requests timeout bounds each socket operation; this bounds the whole call
            # (a body dripping slowly) so no caller waits much past timeout_s.
            return await asyncio.wait_for(future, timeout=self.settings.timeout_s + 2.0)
        except TimeoutError as exc:
            raise ArchiveTimeout(ARCHIVE_TIMEOUT) from exc
        except ArchiveRateLimited as exc:
            paused = self.limits.gate.pause(exc.retry_after_s)
            log.warning("archive answered 429: all archive calls paused for %.0f s", paused)
            raise

    async def _cdx(self, query: CdxQuery) -> Capture | None:
        return await self._call(lambda: self.api.cdx_first(query))

    async def _available(self, url: str, timestamp: str) -> Capture | None:
        return await self._call(lambda: self.api.available(url, timestamp))

    # -- lookups -----------------------------------------------------------------------------

    async def _via_cdx(
        self, url: str, citation_date: date | None, now: datetime
    ) -> tuple[Capture | None, Capture | None]:
        latest = await self._cdx(CdxQuery(url, closest=to_timestamp(now), limit=1))
        if latest is None:
            return None, None
        if choose_citation(latest, citation_date):
            return latest, latest
        assert citation_date is not None
        cited = to_timestamp(end_of_day(citation_date))
        before = await self._cdx(CdxQuery(url, closest=cited, to_ts=cited, limit=1))
        if before is not None:
            return before, latest
        after = await self._cdx(CdxQuery(url, closest=cited, limit=1))
        return (after or latest), latest

    async def _via_availability(
        self, url: str, citation_date: date | None, now: datetime
    ) -> tuple[Capture | None, Capture | None]:
        latest = await self._available(url, to_timestamp(now))
        if latest is None:
            # The availability API is known to answer empty for archived URLs: after a CDX
            # failure its "nothing" proves nothing.
            raise ArchiveError("archive lookup failed (CDX failed, availability API empty)")
        if choose_citation(latest, citation_date):
            return latest, latest
        assert citation_date is not None
        cited = await self._available(url, to_timestamp(end_of_day(citation_date)))
        return (cited or latest), latest

    async def lookup(self, url: str, citation_date: date | None) -> ArchiveInfo:
        """What the archive holds for `url`: see the module docstring. Never raises."""
        now = self.clock()
        try:
            try:
                citation, latest = await self._via_cdx(url, citation_date, now)
            except ArchiveBlocked:
                log.info("%s is excluded from the Wayback Machine", url)
                citation, latest = None, None
            except ArchiveRateLimited:
                raise
            except ArchiveError as cdx_error:
                log.info(
                    "CDX lookup of %s failed (%s); trying the availability API", url, cdx_error
                )
                try:
                    citation, latest = await self._via_availability(url, citation_date, now)
                except ArchiveRateLimited:
                    raise
                except ArchiveError:
                    raise cdx_error from None
        except ArchiveError as exc:
            return ArchiveInfo(
                url=url, citation=None, latest=None, looked_up_at=now, error=str(exc)
            )
        except Exception as exc:  # a bug or an unforeseen library error: still an answer
            log.warning("archive lookup of %s failed unexpectedly", url, exc_info=True)
            return ArchiveInfo(
                url=url,
                citation=None,
                latest=None,
                looked_up_at=now,
                error=f"archive lookup failed: {type(exc).__name__}",
            )
        return ArchiveInfo(url=url, citation=citation, latest=latest, looked_up_at=now)

    async def lookup_many(
        self, items: Iterable[tuple[str, date | None]], *, deadline_s: float | None = None
    ) -> dict[str, ArchiveInfo]:
        """Look up every (url, citation date); never raises, never outlives `deadline_s`.

        Lookups still pending at the deadline come back with error "archive timeout". Run it
        concurrently with the link checks (asyncio.create_task / gather): archive trouble then
        delays only archive data.
        """
        wanted: dict[str, date | None] = {}
        for url, cited in items:
            known = wanted.get(url)
            if url not in wanted or (cited is not None and (known is None or cited < known)):
                wanted[url] = cited  # a URL cited twice: the earliest citation date
        if not wanted:
            return {}
        gate = asyncio.Semaphore(self._concurrency)

        async def one(url: str, cited: date | None) -> ArchiveInfo:
            async with gate:
                return await self.lookup(url, cited)

        tasks = {url: asyncio.create_task(one(url, cited)) for url, cited in wanted.items()}
        try:
            await asyncio.wait(tasks.values(), timeout=deadline_s)
        finally:
            pending = [task for task in tasks.values() if not task.done()]
            for task in pending:
                task.cancel()
            if pending:
                # Cancelling only abandons the waiting; worker threads end at their own timeout.
                await asyncio.gather(*pending, return_exceptions=True)
        now = self.clock()
        out: dict[str, ArchiveInfo] = {}
        for url, task in tasks.items():
            if task.done() and not task.cancelled() and task.exception() is None:
                out[url] = task.result()
            else:
                out[url] = ArchiveInfo(
                    url=url, citation=None, latest=None, looked_up_at=now, error=ARCHIVE_TIMEOUT
                )
        return out
