"""Save Page Now 2: ask the Wayback Machine to capture alive links that have no recent copy.

Opt-in: enabled when `wayback.access_key` and `wayback.secret_key` (or their `*_file`
variants) are set. waybackpy's save API is the retired anonymous `GET /save/URL`, so this
speaks SPN2 directly through an injected `httpx.AsyncClient`:

    POST {base}/save                 form url=..., Authorization: LOW key:secret,
                                     Accept: application/json   -> {"url", "job_id"}
    GET  {base}/save/status/<job_id>  -> {"status": "pending" | "success" | "error", ...}

Submissions take a slot of their own limiter (default 6 a minute) and honour the shared 429
pause. Retryable failures (`RETRYABLE` status_ext values, 429, 5xx, timeouts) are tried
again later with a growing delay; any other error marks the link "not_archivable" and it is
not resubmitted before `save_max_age_days` have passed.

The daemon calls, once per sweep:

    async with httpx.AsyncClient() as http:
        spn = SavePageNow(settings.wayback, http)
        summary = await save_due(db.session, spn, now=clock(), settings=settings.wayback)
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import httpx
from sqlmodel import Session

from service.archive.limiter import ArchiveLimits, shared_limits
from service.archive.wayback import USER_AGENT, WaybackEndpoints, parse_retry_after, parse_timestamp
from service.errors import ArchiveError, ArchiveRateLimited
from service.model import Capture
from service.settings import WaybackSettings
from service.store import snapshots as store

log = logging.getLogger("linkwatch.archive.spn")

RETRYABLE: frozenset[str] = frozenset(
    {
        "error:user-session-limit",
        "error:soft-time-limit-exceeded",
        "error:proxy-error",
        "error:browsing-timeout",
        "error:no-browsers-available",
        "error:too-many-requests",
        "error:too-many-daily-captures",
        "error:celery",
        "error:internal-server-error",
        "error:service-unavailable",
        "error:gateway-timeout",
        "error:bad-gateway",
        "error:read-timeout",
    }
)

POLL_INITIAL_S = 3.0  # first status poll after this long, then x1.5 each time

SaveState = Literal["success", "pending", "retry", "not_archivable"]
Sleep = Callable[[float], Awaitable[None]]
SessionFactory = Callable[[], AbstractContextManager[Session]]


class SaveRefused(ArchiveError):
    """SPN2 refused the keys (401/403): a configuration problem, not a property of a link."""


@dataclass(frozen=True, slots=True)
class SaveOutcome:
    """What became of one save: a capture, a job still running, a retry later, or not archivable."""

    url: str
    state: SaveState
    job_id: str | None = None
    capture: Capture | None = None
    error: str | None = None
    retry_after_s: float | None = None


@dataclass
class SaveSummary:
    """One sweep of save_due."""

    submitted: int = 0
    polled: int = 0
    saved: int = 0
    pending: int = 0
    retry: int = 0
    not_archivable: int = 0
    stopped: str | None = None  # why the sweep stopped early (rate limit, refused keys)
    outcomes: list[SaveOutcome] = field(default_factory=list)


def classify_status_ext(status_ext: str | None) -> Literal["retry", "not_archivable"]:
    """Pure: is an SPN2 error worth trying again later?"""
    return "retry" if status_ext in RETRYABLE else "not_archivable"


class SavePageNow:
    """One SPN2 client: submit a URL, poll its job to the end (bounded), never hammering."""

    def __init__(
        self,
        settings: WaybackSettings,
        http: httpx.AsyncClient,
        *,
        limits: ArchiveLimits | None = None,
        sleep: Sleep = asyncio.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        poll_initial_s: float | None = None,
        poll_max_s: float = 30.0,
        poll_budget_s: float = 180.0,
    ) -> None:
        if settings.access_key is None or settings.secret_key is None:
            raise ArchiveError("Save Page Now needs wayback.access_key and wayback.secret_key")
        self.settings = settings
        self.endpoints = WaybackEndpoints.from_base(settings.base_url)
        self._http = http
        self.limits = limits if limits is not None else shared_limits(settings)
        self._sleep = sleep
        self._monotonic = monotonic
        self.poll_initial_s = POLL_INITIAL_S if poll_initial_s is None else poll_initial_s
        self.poll_max_s = poll_max_s
        self.poll_budget_s = poll_budget_s
        auth = (
            f"LOW {settings.access_key.get_secret_value()}:{settings.secret_key.get_secret_value()}"
        )
        self._headers = {
            "Authorization": auth,
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
        }

    async def _request(
        self, method: str, url: str, data: dict[str, str] | None = None
    ) -> dict[str, Any]:
        try:
            response = await self._http.request(
                method, url, data=data, headers=self._headers, timeout=self.settings.timeout_s
            )
        except httpx.TimeoutException as exc:
            raise ArchiveError("Save Page Now timeout") from exc
        except httpx.HTTPError as exc:
            raise ArchiveError(f"Save Page Now unreachable: {type(exc).__name__}") from exc
        if response.status_code == 429:
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            paused = self.limits.gate.pause(retry_after)
            log.warning("Save Page Now answered 429: all archive calls paused for %.0f s", paused)
            raise ArchiveRateLimited(
                "Save Page Now rate limited (HTTP 429)", retry_after_s=retry_after
            )
        if response.status_code in (401, 403):
            raise SaveRefused(
                f"Save Page Now refused the access keys (HTTP {response.status_code})"
            )
        if response.status_code >= 500:
            raise ArchiveError(f"Save Page Now error: HTTP {response.status_code}")
        try:
            body = response.json()
        except ValueError as exc:
            raise ArchiveError(
                f"Save Page Now answered HTTP {response.status_code} without JSON"
            ) from exc
        if not isinstance(body, dict):
            raise ArchiveError("Save Page Now answered an unexpected JSON value")
        if response.status_code >= 400 and body.get("status") != "error":
            raise ArchiveError(f"Save Page Now answered HTTP {response.status_code}")
        return body

    def _failed(self, url: str, body: dict[str, Any], job_id: str | None) -> SaveOutcome:
        status_ext = body.get("status_ext")
        ext = str(status_ext) if status_ext else None
        message = str(body.get("message") or "").strip()
        error = " ".join(p for p in (ext or "error:unknown", message) if p)[:500]
        return SaveOutcome(url, classify_status_ext(ext), job_id=job_id, error=error)

    async def submit(self, url: str) -> SaveOutcome:
        """POST /save: a "pending" outcome with its job_id, or the reason it was not accepted."""
        await self.limits.saves.acquire()
        body = await self._request("POST", self.endpoints.save, {"url": url})
        job_id = body.get("job_id")
        if body.get("status") == "error" or not job_id:
            if body.get("status") != "error":
                message = str(body.get("message") or "no job id in the answer")[:500]
                return SaveOutcome(
                    url, "retry", error=f"Save Page Now did not start a job: {message}"
                )
            return self._failed(url, body, None)
        return SaveOutcome(url, "pending", job_id=str(job_id))

    async def status(self, url: str, job_id: str) -> SaveOutcome:
        """GET /save/status/<job_id> once."""
        self.limits.gate.check()
        body = await self._request("GET", self.endpoints.save_status(job_id))
        state = body.get("status")
        if state == "success":
            ts = str(body.get("timestamp", ""))
            try:
                when = parse_timestamp(ts)
            except ValueError:
                return SaveOutcome(
                    url, "retry", job_id=job_id, error=f"success without a timestamp ({ts!r})"
                )
            original = str(body.get("original_url") or url)
            capture = Capture(
                original_url=original,
                timestamp=when,
                archive_url=self.endpoints.playback(ts, original),
                status=200,
            )
            return SaveOutcome(url, "success", job_id=job_id, capture=capture)
        if state == "error":
            return self._failed(url, body, job_id)
        return SaveOutcome(url, "pending", job_id=job_id)

    async def poll(self, url: str, job_id: str) -> SaveOutcome:
        """Poll a job until it ends or `poll_budget_s` passes (then it is still "pending")."""
        started = self._monotonic()
        delay = self.poll_initial_s
        while True:
            await self._sleep(delay)
            outcome = await self.status(url, job_id)
            if outcome.state != "pending":
                return outcome
            if self._monotonic() - started + delay > self.poll_budget_s:
                return outcome
            delay = min(self.poll_max_s, delay * 1.5)

    async def save(self, url: str) -> SaveOutcome:
        """Submit `url` and poll its job; raises only ArchiveRateLimited and SaveRefused."""
        try:
            submitted = await self.submit(url)
            if submitted.state != "pending" or submitted.job_id is None:
                return submitted
            return await self.poll(url, submitted.job_id)
        except (ArchiveRateLimited, SaveRefused):
            raise
        except ArchiveError as exc:
            return SaveOutcome(url, "retry", error=str(exc))


def retry_delay(attempts: int) -> timedelta:
    """10 min, 20 min, 40 min ... at most one day."""
    return timedelta(seconds=min(86400.0, 600.0 * 2 ** max(0, attempts - 1)))


def _record(
    session_factory: SessionFactory,
    link_id: int,
    outcome: SaveOutcome,
    now: datetime,
    max_age_days: float,
    *,
    submitted: bool,
) -> None:
    with session_factory() as session:
        previous = store.save_request_for(session, link_id)
        attempts = (previous.attempts if previous is not None else 0) + (1 if submitted else 0)
        error: str | None = None
        captured_at: datetime | None = None
        if outcome.state == "success" and outcome.capture is not None:
            store.store_saved_capture(session, link_id, outcome.capture, now)
            state, captured_at = store.SAVE_SUCCESS, outcome.capture.timestamp
            next_attempt_at = now + timedelta(days=max_age_days)
        elif outcome.state == "pending":
            state, next_attempt_at = store.SAVE_PENDING, now + timedelta(minutes=5)
        elif outcome.state == "not_archivable":
            state, error = store.SAVE_NOT_ARCHIVABLE, outcome.error
            next_attempt_at = now + timedelta(days=max_age_days)
        else:
            delay = retry_delay(attempts)
            if outcome.retry_after_s:
                delay = max(delay, timedelta(seconds=outcome.retry_after_s))
            state, error, next_attempt_at = store.SAVE_ERROR, outcome.error, now + delay
        store.record_save(
            session,
            link_id,
            state=state,
            now=now,
            submitted=submitted,
            job_id=outcome.job_id,
            error=error,
            next_attempt_at=next_attempt_at,
            captured_at=captured_at,
        )


async def save_due(
    session_factory: SessionFactory,
    spn: SavePageNow,
    *,
    now: datetime | None = None,
    settings: WaybackSettings | None = None,
    limit: int = 20,
    concurrency: int = 3,
) -> SaveSummary:
    """One sweep: poll jobs left pending, then submit due links and poll their jobs.

    Submissions go through the SPN2 limiter; at most `concurrency` jobs are followed at once
    (SPN2 limits concurrent captures per account). Each outcome is recorded as soon as it is
    known. Stops early, recording nothing more against the links, when the archive
    rate-limits (429: all archive calls pause) or refuses the keys. Never raises ArchiveError.
    """
    settings = settings if settings is not None else spn.settings
    when = now if now is not None else datetime.now(UTC)
    summary = SaveSummary()
    with session_factory() as session:
        pending = store.pending_saves(session, when, limit=limit)
        due = store.links_due_for_save(
            session, when, max_age_days=settings.save_max_age_days, limit=limit
        )
    counters = {"success": "saved", "pending": "pending", "retry": "retry"}

    def tally(item: store.SaveDue, outcome: SaveOutcome, submitted: bool) -> None:
        summary.outcomes.append(outcome)
        name = counters.get(outcome.state, "not_archivable")
        setattr(summary, name, getattr(summary, name) + 1)
        _record(
            session_factory,
            item.link_id,
            outcome,
            when,
            settings.save_max_age_days,
            submitted=submitted,
        )

    gate = asyncio.Semaphore(max(1, concurrency))

    async def submit(item: store.SaveDue) -> None:
        async with gate:
            summary.submitted += 1
            tally(item, await spn.save(item.url), submitted=True)

    tasks: list[asyncio.Task[None]] = []
    try:
        for item in pending:
            assert item.job_id is not None
            summary.polled += 1
            try:
                outcome = await spn.status(item.url, item.job_id)
            except (ArchiveRateLimited, SaveRefused):
                raise
            except ArchiveError as exc:
                outcome = SaveOutcome(item.url, "retry", job_id=item.job_id, error=str(exc))
            tally(item, outcome, submitted=False)
        tasks = [asyncio.create_task(submit(item)) for item in due]
        if tasks:
            await asyncio.gather(*tasks)
    except (ArchiveRateLimited, SaveRefused) as exc:
        summary.stopped = str(exc)
        log.warning("Save Page Now sweep stopped: %s", exc)
    finally:
        unfinished = [t for t in tasks if not t.done()]
        for task in unfinished:
            task.cancel()
        if unfinished:
            await asyncio.gather(*unfinished, return_exceptions=True)
    return summary
