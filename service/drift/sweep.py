"""The drift check job: claim the due links, compare each live page with its capture, store.

    client = build_client(settings.checks)              # the guarded checker client
    async with archive_http_client(settings.wayback.timeout_s) as http:
        stats = await drift_sweep(db, settings, now, client=client, archive_http=http)

One comparison = the live page (GET through `client`), then the raw citation capture (ONE
archive request, through the process-wide archive limiter), then main-text extraction and
scoring in a worker thread (CPU work off the event loop), then its row. The live page is
fetched first: when it cannot be used, no archive request is spent. Failures (either page
unfetchable, not HTML, a capture without main text) store verdict "error" with the reason:
no verdict, retried after `drift.retry_hours`. An archive rate limit (429, or calls already
paused) stops the sweep and releases the links not compared yet (due again at once).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

import httpx

from service.archive.limiter import ArchiveLimits, shared_limits
from service.drift.fetch import (
    FetchError,
    archive_http_client,
    fetch_capture,
    fetch_live,
    raw_capture_url,
)
from service.drift.score import DriftScores, score_pages
from service.drift.text import extract_page
from service.drift.verdict import Thresholds, Verdict, decide
from service.errors import ArchiveRateLimited
from service.settings import Settings
from service.store import drift as store
from service.store.db import Database

log = logging.getLogger("linkwatch.drift")

NO_CAPTURE_TEXT = "the capture has no readable main text"


@dataclass(frozen=True, slots=True)
class DriftResult:
    """One comparison: its verdict (ERROR: none, see `error`), scores, the verdict before."""

    link_id: int
    url: str
    verdict: Verdict
    capture_timestamp: datetime
    previous: Verdict | None = None
    scores: DriftScores | None = None
    error: str | None = None

    @property
    def changed(self) -> bool:
        """A new verdict different from the previous one (e.g. same -> drifted)."""
        return (
            self.verdict is not Verdict.ERROR
            and self.previous is not None
            and self.verdict is not self.previous
        )


@dataclass
class DriftStats:
    """What one sweep did."""

    claimed: int = 0
    same: int = 0
    drifted: int = 0
    replaced: int = 0
    errors: int = 0  # comparisons without a verdict (retried later)
    released: int = 0  # claimed but not compared (rate limit, stop): due again at once
    stopped: str | None = None  # why the sweep stopped early
    results: list[DriftResult] = field(default_factory=list)

    def add(self, result: DriftResult) -> None:
        self.results.append(result)
        if result.verdict is Verdict.SAME:
            self.same += 1
        elif result.verdict is Verdict.DRIFTED:
            self.drifted += 1
        elif result.verdict is Verdict.REPLACED:
            self.replaced += 1
        else:
            self.errors += 1


def compare_html(
    capture_html: bytes | str, live_html: bytes | str, thresholds: Thresholds | None = None
) -> tuple[Verdict, DriftScores]:
    """Extract both main texts, score the live page against the capture, decide (pure, CPU)."""
    scores = score_pages(extract_page(capture_html), extract_page(live_html))
    return decide(scores, thresholds or Thresholds()), scores


def _verdict_or_none(value: str | None) -> Verdict | None:
    try:
        return Verdict(value) if value is not None else None
    except ValueError:
        return None


class _Comparer:
    def __init__(
        self,
        settings: Settings,
        client: httpx.AsyncClient,
        archive_http: httpx.AsyncClient,
        limits: ArchiveLimits,
    ) -> None:
        self.settings = settings
        self.client = client
        self.archive_http = archive_http
        self.limits = limits
        self.thresholds = Thresholds.from_settings(settings.drift)

    async def compare(self, due: store.DriftDue) -> DriftResult:
        """One comparison; raises ArchiveRateLimited (nothing else) when the archive says stop."""
        drift = self.settings.drift

        def failed(reason: str) -> DriftResult:
            return DriftResult(
                link_id=due.link_id,
                url=due.url,
                verdict=Verdict.ERROR,
                capture_timestamp=due.capture_timestamp,
                previous=_verdict_or_none(due.previous),
                error=reason,
            )

        try:
            live = await fetch_live(
                self.client,
                due.url,
                max_bytes=drift.max_page_bytes,
                timeout_s=self.settings.checks.timeout_s,
                max_redirects=self.settings.checks.max_redirects,
            )
            raw = raw_capture_url(
                due.archive_url, due.capture_timestamp, self.settings.wayback.base_url, due.url
            )
            capture = await fetch_capture(
                self.archive_http,
                raw,
                limits=self.limits,
                max_bytes=drift.max_page_bytes,
                timeout_s=self.settings.wayback.timeout_s,
            )
        except FetchError as exc:
            return failed(str(exc))
        try:
            verdict, scores = await asyncio.to_thread(
                compare_html, capture.body, live.body, self.thresholds
            )
        except Exception as exc:  # a parser failure on hostile HTML: no verdict, not a crash
            log.warning("drift: cannot read the pages of %s", due.url, exc_info=True)
            return failed(f"cannot read the pages: {type(exc).__name__}")
        if verdict is Verdict.ERROR:
            return failed(NO_CAPTURE_TEXT)
        return DriftResult(
            link_id=due.link_id,
            url=due.url,
            verdict=verdict,
            capture_timestamp=due.capture_timestamp,
            previous=_verdict_or_none(due.previous),
            scores=scores,
        )


def _record(db: Database, due: store.DriftDue, result: DriftResult) -> None:
    scores = result.scores
    with db.session() as session:
        store.record_drift(
            session,
            due.check_id,
            verdict=result.verdict.value,
            cosine=scores.cosine if scores else None,
            containment=scores.containment if scores else None,
            title_similarity=scores.title_similarity if scores else None,
            word_count_capture=scores.word_count_capture if scores else None,
            word_count_live=scores.word_count_live if scores else None,
            error=result.error,
        )


def _claim(
    db: Database,
    settings: Settings,
    now: datetime,
    *,
    limit: int | None,
    article_id: int | None,
    link_ids: Sequence[int] | None,
    force: bool,
) -> list[store.DriftDue]:
    with db.session() as session:
        return store.claim_due_drift(
            session,
            now,
            interval=timedelta(days=settings.drift.interval_days),
            retry=timedelta(hours=settings.drift.retry_hours),
            limit=limit,
            article_id=article_id,
            link_ids=link_ids,
            force=force,
        )


def _release(db: Database, claims: Sequence[store.DriftDue]) -> int:
    with db.session() as session:
        return store.release_drift_claims(session, [c.check_id for c in claims])


async def drift_sweep(
    db: Database,
    settings: Settings,
    now: datetime,
    *,
    client: httpx.AsyncClient,
    archive_http: httpx.AsyncClient | None = None,
    archive_limits: ArchiveLimits | None = None,
    limit: int | Literal["all"] | None = None,
    article_id: int | None = None,
    link_ids: Sequence[int] | None = None,
    force: bool = False,
    stopping: asyncio.Event | None = None,
    on_result: Callable[[DriftResult], None] | None = None,
) -> DriftStats:
    """Compare the links due for a drift check (see the module docstring); never raises for
    a network or archive failure (StoreError only, when the database fails).

    - `client`: the guarded checker client for live pages (not closed here);
    - `archive_http`: client for archive playback (default: a new one, closed here);
    - `archive_limits`: the archive limiter (default: the process-wide one for the base URL);
    - `limit`: links per sweep (None: `drift.batch_size`, "all": every due link);
    - `article_id` / `link_ids`: only these links; `force`: compare even if not due;
    - `stopping`: set -> stop after the current comparison (the rest is released);
    - `on_result`: called with each result as it is stored.
    """
    limits = archive_limits if archive_limits is not None else shared_limits(settings.wayback)
    stats = DriftStats()
    if limits.gate.remaining() > 0:
        stats.stopped = f"archive calls paused for {limits.gate.remaining():.0f} s (rate limit)"
        return stats
    batch = None if limit == "all" else (limit if limit is not None else settings.drift.batch_size)
    claims = await asyncio.to_thread(
        lambda: _claim(
            db, settings, now, limit=batch, article_id=article_id, link_ids=link_ids, force=force
        )
    )
    stats.claimed = len(claims)
    if not claims:
        return stats
    own_http = archive_http is None
    http = (
        archive_http
        if archive_http is not None
        else archive_http_client(settings.wayback.timeout_s)
    )
    comparer = _Comparer(settings, client, http, limits)
    done = 0
    try:
        for due in claims:
            if stopping is not None and stopping.is_set():
                stats.stopped = "stopping"
                break
            try:
                result = await comparer.compare(due)
            except ArchiveRateLimited as exc:
                stats.stopped = str(exc)
                log.warning("drift sweep stopped: %s", exc)
                break
            await asyncio.to_thread(_record, db, due, result)
            done += 1
            stats.add(result)
            if result.verdict is Verdict.ERROR:
                log.info("drift: %s: no verdict (%s); retried later", due.url, result.error)
            else:
                log.info("drift: %s: %s", due.url, result.verdict.value)
            if on_result is not None:
                on_result(result)
    finally:
        rest = claims[done:]
        if rest:
            stats.released = await asyncio.shield(asyncio.to_thread(_release, db, rest))
        if own_http:
            await http.aclose()
    return stats
