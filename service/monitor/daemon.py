"""The daemon (`linkwatch run`): ticks, sweeps of due links, periodic jobs, graceful stop.

APScheduler (AsyncIOScheduler, coalesce=True, max_instances=1) only ticks; what is due lives
in the database. Each tick beats the heartbeat, extends the leases of checks in flight, and
starts a sweep unless one is running. A sweep refreshes the watch list, then claims due
links in batches (service.store.claims), checks them through one shared Checker, and records
the results in small batches (service.monitor.recorder: one transaction per `RECORD_BATCH`
results or per `RECORD_DELAY_S` seconds, whichever comes first), with the next check time
from service.monitor.schedule. Each result is written only while its lease is held, with its
transition in the same transaction; kill -9 loses at most the checks in flight and the
results not yet flushed, whose leases expire so they are checked again.

Periodic jobs (archive lookups, the alert dispatcher, retention...) are `PeriodicJob`s: an
async function of a `JobContext`, run every `every_s` seconds (every tick when None) as its
own APScheduler job, never two at once; `--once` runs each once after the sweep.

Stop (SIGTERM/SIGINT, `request_stop`): no more claims or job starts; work in flight gets
`monitor.grace_s` to finish; the rest is cancelled, its leases released; exit code 0.
A database that stops answering is logged and retried with backoff; the daemon keeps running.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import secrets
import signal
import socket
import sqlite3
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy import exc as sa_exc
from sqlmodel import Session

from service.checks.canary import Connectivity, as_offline, needs_canary
from service.checks.checker import Checker
from service.clock import Clock
from service.clock import utcnow as utc_now
from service.errors import StoreError
from service.model import CheckResult, Health
from service.monitor import schedule
from service.monitor.health import DeathRule, step
from service.monitor.recorder import BatchRecorder
from service.monitor.watchlist import refresh_articles, sync_configured
from service.settings import Settings
from service.store import claims, workers
from service.store.db import Database
from service.store.repo import record_checks
from service.store.retention import roll_up
from service.store.tables import CheckRow, TransitionRow

log = logging.getLogger("linkwatch.daemon")

_T = TypeVar("_T")

DB_ERRORS: tuple[type[BaseException], ...] = (StoreError, sa_exc.SQLAlchemyError, sqlite3.Error)
BACKOFF_START_S = 1.0
BACKOFF_MAX_S = 60.0
WORKER_FORGET_AFTER = timedelta(days=7)
RECORD_BATCH = 50  # results written per transaction at most
RECORD_DELAY_S = 0.5  # the longest a result waits for its batch to fill


def default_worker_name() -> str:
    """host-pid-random: unique per process, even for containers that all run as pid 1."""
    return f"{socket.gethostname()[:80]}-{os.getpid()}-{secrets.token_hex(3)}"


# -- hooks ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class JobContext:
    """What a periodic job gets: settings, database, this worker's name, clock, stop signal."""

    settings: Settings
    db: Database
    worker: str
    clock: Clock
    stopping: asyncio.Event
    once: bool = False  # `linkwatch run --once`: this is the only run


JobFunc = Callable[[JobContext], Awaitable[object]]


@dataclass(frozen=True, slots=True)
class PeriodicJob:
    """An async job the daemon runs periodically (never two runs of one job at once).

    `every_s` None runs it every tick (`monitor.tick_s`); `run_once` also runs it once, after
    the sweep, in `linkwatch run --once`. Exceptions are logged and the job runs again at its
    next time; database outages are logged like the daemon's own. A job should return
    promptly once `ctx.stopping` is set (it gets `monitor.grace_s`, then it is cancelled).
    """

    name: str
    run: JobFunc
    every_s: float | None = None
    run_once: bool = True


@dataclass(frozen=True, slots=True)
class RecordedCheck:
    """One check just recorded by the daemon (given to transition hooks)."""

    link: claims.ClaimedLink
    result: CheckResult
    check: CheckRow
    transition: TransitionRow | None
    next_check_at: datetime


# Called when a check changed a link's health, inside the transaction that records the check
# and its transition (in a SAVEPOINT: a failing hook is logged and undone, the check itself
# is still recorded).
TransitionHook = Callable[[Session, RecordedCheck], None]


def archive_when_failing(session: Session, rec: RecordedCheck) -> None:
    """Record hook: a link that turns suspect or dead is due for an archive lookup at once."""
    if rec.transition is not None and rec.transition.to_health in (
        Health.SUSPECT.value,
        Health.DEAD.value,
    ):
        from service.store.snapshots import mark_archive_due

        mark_archive_due(session, rec.link.id, rec.result.checked_at)


DEFAULT_TRANSITION_HOOKS: tuple[TransitionHook, ...] = (archive_when_failing,)


@dataclass
class SweepStats:
    claimed: int = 0
    recorded: int = 0
    lost: int = 0  # results not recorded: lease taken by another worker, or database down
    transitions: int = 0


@dataclass
class _DbHealth:
    down_since: datetime | None = None
    retry_at: datetime | None = None
    backoff_s: float = BACKOFF_START_S
    failures: int = 0

    def ok(self) -> bool:
        return self.down_since is None


# -- the daemon ------------------------------------------------------------------------------


class Daemon:
    """One linkwatch daemon process. `await Daemon(settings, db).run()`; see the module doc."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        *,
        worker: str | None = None,
        jobs: Sequence[PeriodicJob] = (),
        transition_hooks: Sequence[TransitionHook] = DEFAULT_TRANSITION_HOOKS,
        checker: Checker | None = None,
        clock: Clock = utc_now,
        rng: schedule.Random = random.random,
        sync_articles: bool = True,
        retention: bool = True,
        record_batch: int = RECORD_BATCH,
        record_delay_s: float = RECORD_DELAY_S,
    ) -> None:
        self.settings = settings
        self.db = db
        self.worker = worker or default_worker_name()
        self.jobs = list(jobs)
        if retention:
            self.jobs.append(PeriodicJob("retention", self._retention_job, every_s=86400.0))
        self.transition_hooks = list(transition_hooks)
        self.clock = clock
        self.rng = rng
        self.rule = DeathRule.from_settings(settings.monitor)
        self.sync_articles = sync_articles
        self._checker = checker
        self._own_checker = checker is None
        self._hostname = socket.gethostname()[:255]
        self._started_at = clock()
        self._stopping: asyncio.Event | None = None
        self._db_health = _DbHealth()
        self._sweep_task: asyncio.Task[SweepStats] | None = None
        self._job_tasks: set[asyncio.Task[Any]] = set()
        self._inflight: dict[int, claims.ClaimedLink] = {}
        self._warned_missing: set[str] = set()
        self.record_batch = record_batch
        self.record_delay_s = record_delay_s
        self._recorder: BatchRecorder[tuple[claims.ClaimedLink, CheckResult], RecordedCheck | None]
        self._recorder = BatchRecorder(
            self._flush, max_items=record_batch, max_delay_s=record_delay_s
        )
        self.last_sweep: SweepStats | None = None
        self.totals = SweepStats()
        # Issue 3: the monitor's own connectivity (canaries), created with the checker in run().
        self.connectivity: Connectivity | None = None

    # -- public -------------------------------------------------------------------------------

    @property
    def stopping(self) -> asyncio.Event:
        if self._stopping is None:
            self._stopping = asyncio.Event()
        return self._stopping

    def request_stop(self) -> None:
        """Begin a graceful stop (what SIGTERM and SIGINT do)."""
        if not self.stopping.is_set():
            log.info(
                "stop requested; finishing checks in flight",
                extra={
                    "fields": {
                        "in_flight": len(self._inflight),
                        "grace_s": self.settings.monitor.grace_s,
                    }
                },
            )
            self.stopping.set()
        self._recorder.hurry()

    def install_signal_handlers(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.request_stop)

    async def run(self, *, once: bool = False) -> int:
        """Run until stopped (or one sweep with `once`); the exit code: 0, or 4 when `once`
        could not reach the database."""
        stopping = self.stopping
        code = 0
        checker = self._checker or Checker(self.settings.checks)
        self._checker = checker
        # Issue 3: canaries through the checker's own client, asked at most once a minute.
        self.connectivity = Connectivity(checker, self.settings.checks.canaries, ttl_s=60.0)
        try:
            log.info(
                "linkwatch daemon starting",
                extra={
                    "fields": {
                        "worker": self.worker,
                        "database": self.db.display_url,
                        "once": once,
                        "tick_s": self.settings.monitor.tick_s,
                    }
                },
            )
            await self._beat()
            if self.sync_articles and self.settings.articles:
                await self._guarded("sync configured articles", self._sync_configured)
            if once:
                await self._run_once()
            else:
                await self._run_forever(stopping)
            if once and not self._db_health.ok():
                log.error("the database was unreachable during the sweep")
                code = StoreError.exit_code
        finally:
            await self._shutdown()
        log.info(
            "linkwatch daemon stopped",
            extra={
                "fields": {
                    "worker": self.worker,
                    "recorded": self.totals.recorded,
                    "lost": self.totals.lost,
                }
            },
        )
        return code

    # -- modes --------------------------------------------------------------------------------

    async def _run_once(self) -> None:
        self.last_sweep = await self.sweep()
        for job in self.jobs:
            if job.run_once and not self.stopping.is_set():
                await self._run_job(job, once=True)

    async def _run_forever(self, stopping: asyncio.Event) -> None:
        scheduler = AsyncIOScheduler(event_loop=asyncio.get_running_loop(), timezone=UTC)
        common: dict[str, Any] = {"coalesce": True, "max_instances": 1, "misfire_grace_time": None}
        tick_s = self.settings.monitor.tick_s
        scheduler.add_job(
            self._tick,
            "interval",
            seconds=tick_s,
            id="tick",
            next_run_time=datetime.now(UTC),
            **common,
        )
        for job in self.jobs:
            scheduler.add_job(
                self._run_job,
                "interval",
                args=[job],
                id=f"job:{job.name}",
                seconds=job.every_s or tick_s,
                next_run_time=datetime.now(UTC),
                **common,
            )
        scheduler.start()
        try:
            await stopping.wait()
        finally:
            scheduler.shutdown(wait=False)

    async def _shutdown(self) -> None:
        """Let work in flight finish within the grace period, cancel the rest, release leases."""
        self.stopping.set()
        pending = {
            t for t in (self._sweep_task, *self._job_tasks) if t is not None and not t.done()
        }
        if pending:
            _, late = await asyncio.wait(pending, timeout=self.settings.monitor.grace_s)
            for task in late:
                task.cancel()
            if late:
                log.warning(
                    "grace period over; cancelling unfinished work",
                    extra={"fields": {"in_flight": len(self._inflight)}},
                )
                await asyncio.gather(*late, return_exceptions=True)
        # Results of completed checks still queued (their callers may have been cancelled)
        # are written before the leases of the rest are released.
        await self._recorder.drain()
        try:
            released = await asyncio.to_thread(self._release_all)
            if released:
                log.info(
                    "released leases of unchecked links", extra={"fields": {"links": released}}
                )
            await self._beat(stopping=True)
        except DB_ERRORS as exc:
            log.warning(
                "cannot release leases; they expire on their own",
                extra={"fields": {"error": _one_line(exc)}},
            )
        if self._own_checker and self._checker is not None:
            await self._checker.aclose()

    # -- ticks --------------------------------------------------------------------------------

    async def _tick(self) -> None:
        if self.stopping.is_set() or not self._db_ready():
            return
        try:
            await self._beat()
            if self._inflight:
                await self._db(self._extend_leases)
        except DB_ERRORS:
            return  # logged by _db; retried after the backoff
        if self.stopping.is_set():
            return
        if self._sweep_task is None or self._sweep_task.done():
            self._sweep_task = asyncio.create_task(self._sweep_logged())

    async def _sweep_logged(self) -> SweepStats:
        try:
            stats = await self.sweep()
        except DB_ERRORS as exc:
            self._db_failed(exc)
            return SweepStats()
        if stats.claimed:
            log.info(
                "sweep done",
                extra={
                    "fields": {
                        "checked": stats.claimed,
                        "recorded": stats.recorded,
                        "transitions": stats.transitions,
                        "lost": stats.lost,
                    }
                },
            )
        self.last_sweep = stats
        return stats

    async def sweep(self) -> SweepStats:
        """Refresh the watch list, then check every link due now (in batches), recording each."""
        stats = SweepStats()
        # Issue 3: while the monitor is known to be offline, ask the canaries again before
        # the sweep (so `monitor_online` fires as soon as they answer).
        if self.connectivity is not None and self.connectivity.online is False:
            await self._canary_verdict(force=True)
        await self._guarded("refresh articles", self._refresh_articles)
        batch = self.settings.monitor.batch_size
        tasks: set[asyncio.Task[None]] = set()
        exhausted = False
        stop_wait = asyncio.create_task(self.stopping.wait())
        try:
            while True:
                if not exhausted and not self.stopping.is_set() and len(tasks) <= batch // 2:
                    want = batch - len(tasks)
                    try:
                        got = await self._db(self._claim, want)
                    except DB_ERRORS:
                        got = []  # logged by _db; finish what is in flight, claim next sweep
                    exhausted = len(got) < want
                    stats.claimed += len(got)
                    for link in got:
                        self._inflight[link.id] = link
                        tasks.add(asyncio.create_task(self._check_one(link, stats)))
                if not tasks:
                    break
                done, _ = await asyncio.wait(
                    {*tasks, stop_wait}, return_when=asyncio.FIRST_COMPLETED
                )
                tasks -= done
        finally:
            stop_wait.cancel()
            for task in tasks:
                task.cancel()
            if tasks:
                await asyncio.gather(*tasks, return_exceptions=True)
        return stats

    # -- one link -----------------------------------------------------------------------------

    async def _check_one(self, link: claims.ClaimedLink, stats: SweepStats) -> None:
        try:
            assert self._checker is not None
            result = await self._checker.check(link.url, fragments=link.fragments)
            # Issue 3: a network-level failure may be the monitor's own: if the canaries fail
            # too, record it as `offline` (moves no health) instead of a dead signal.
            if needs_canary([result]) and not await self._canary_verdict():
                result = as_offline(result)
            rec = await self._record(link, result)
            if rec is None:
                stats.lost += 1
                self.totals.lost += 1
            else:
                stats.recorded += 1
                self.totals.recorded += 1
                if rec.transition is not None:
                    stats.transitions += 1
                    self.totals.transitions += 1
                    first = rec.transition.from_health == Health.UNCHECKED.value
                    (log.debug if first else log.info)(
                        "health changed",
                        extra={
                            "fields": {
                                "url": link.url,
                                "from": rec.transition.from_health,
                                "to": rec.transition.to_health,
                                "outcome": result.outcome.value,
                            }
                        },
                    )
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug in one check must not stop the sweep
            stats.lost += 1
            log.error(
                "check failed unexpectedly", exc_info=exc, extra={"fields": {"url": link.url}}
            )
        finally:
            self._inflight.pop(link.id, None)

    async def _record(self, link: claims.ClaimedLink, result: CheckResult) -> RecordedCheck | None:
        """Record one result with its batch (None: the lease was lost or the database is down)."""
        return await self._recorder.record((link, result))

    async def _flush(
        self, items: Sequence[tuple[claims.ClaimedLink, CheckResult]]
    ) -> list[RecordedCheck | None]:
        """Write a batch, retrying while the database is down (until the leases would expire)."""
        give_up = self.clock() + timedelta(seconds=self.settings.monitor.lease_s)
        delay = BACKOFF_START_S
        while True:
            try:
                recorded = await asyncio.to_thread(self._record_batch_sync, items)
                self._db_recovered()
                return recorded
            except DB_ERRORS as exc:
                self._db_failed(exc)
                if self.clock() + timedelta(seconds=delay) > give_up:
                    log.warning(
                        "checks not recorded: database unreachable",
                        extra={"fields": {"checks": len(items)}},
                    )
                    return [None] * len(items)
                await asyncio.sleep(delay)
                delay = min(delay * 2, BACKOFF_MAX_S)

    def _record_sync(self, link: claims.ClaimedLink, result: CheckResult) -> RecordedCheck | None:
        """Record one result in its own transaction (see `_record_batch_sync`)."""
        return self._record_batch_sync([(link, result)])[0]

    def _record_batch_sync(
        self, items: Sequence[tuple[claims.ClaimedLink, CheckResult]]
    ) -> list[RecordedCheck | None]:
        """Record results in one transaction: each only while this worker holds its lease
        (checked under the row locks), its transition with it, the transition hooks run per
        changed link (each in a SAVEPOINT). One answer per item: None when the lease was lost.
        """
        out: list[RecordedCheck | None] = [None] * len(items)
        with self.db.session() as session:
            states = claims.lock_many_if_owned(session, [link.id for link, _ in items], self.worker)
            # One result per link per statement (a link twice in a batch: in two rounds).
            rounds: list[dict[int, int]] = []
            for index, (link, _result) in enumerate(items):
                if link.id not in states:
                    log.warning(
                        "lease lost before the result was recorded; result dropped",
                        extra={"fields": {"url": link.url}},
                    )
                    continue
                for batch in rounds:
                    if link.id not in batch:
                        batch[link.id] = index
                        break
                else:
                    rounds.append({link.id: index})
            now = self.clock()
            for batch in rounds:
                nxt: dict[int, datetime] = {}
                for link_id, index in batch.items():
                    link, result = items[index]
                    after = step(states[link_id], result.outcome, result.checked_at, self.rule)
                    states[link_id] = after
                    nxt[link_id] = schedule.next_check_at(
                        after,
                        now,
                        self.settings.monitor,
                        interval_hours=link.interval_hours,
                        outcome=result.outcome,
                        retry_after_s=result.retry_after_s,
                        rng=self.rng,
                    )
                written = record_checks(
                    session,
                    {link_id: items[index][1] for link_id, index in batch.items()},
                    self.rule,
                    worker=self.worker,
                    next_check_at=nxt,
                )
                for link_id, index in batch.items():
                    link, result = items[index]
                    check, transition = written[link_id]
                    rec = RecordedCheck(link, result, check, transition, nxt[link_id])
                    out[index] = rec
                    if transition is not None:
                        self._run_hooks(session, rec)
        return out

    def _run_hooks(self, session: Session, rec: RecordedCheck) -> None:
        for hook in self.transition_hooks:
            try:
                with session.begin_nested():
                    hook(session, rec)
            except Exception as exc:
                log.error(
                    "transition hook failed",
                    exc_info=exc,
                    extra={"fields": {"hook": getattr(hook, "__name__", repr(hook))}},
                )

    async def _canary_verdict(self, *, force: bool = False) -> bool:
        """Issue 3: whether the monitor is online (canaries; cached), recording a fresh verdict
        through service.alerts so `monitor_offline` / `monitor_online` alerts fire."""
        if self.connectivity is None or not self.connectivity.enabled:
            return True
        online, fresh = await self.connectivity.status(force=force)
        if fresh:
            await self._guarded(
                "record connectivity", lambda: self._db(self._connectivity_sync, online)
            )
        return online

    def _connectivity_sync(self, online: bool) -> None:
        from service.alerts import record_monitor_connectivity

        with self.db.session() as session:
            record_monitor_connectivity(session, online, self.clock(), self.settings)

    # -- database calls -----------------------------------------------------------------------

    def _claim(self, limit: int) -> list[claims.ClaimedLink]:
        lease = timedelta(seconds=self.settings.monitor.lease_s)
        with self.db.session() as session:
            return claims.claim_due(
                session,
                self.worker,
                self.clock(),
                limit=limit,
                lease=lease,
                with_fragments=self.settings.checks.check_fragments,
            )

    def _extend_leases(self) -> None:
        until = self.clock() + timedelta(seconds=self.settings.monitor.lease_s)
        with self.db.session() as session:
            claims.extend(session, self.worker, list(self._inflight), until)

    def _release_all(self) -> int:
        with self.db.session() as session:
            return claims.release(session, self.worker)

    def _beat_sync(self, stopping: bool) -> None:
        with self.db.session() as session:
            workers.beat(
                session,
                self.worker,
                self.clock(),
                hostname=self._hostname,
                pid=os.getpid(),
                started_at=self._started_at,
                stopping=stopping,
            )

    async def _beat(self, stopping: bool = False) -> None:
        if stopping:
            await asyncio.to_thread(self._beat_sync, True)
        else:
            await self._db(self._beat_sync, False)

    async def _db(self, fn: Callable[..., _T], *args: Any) -> _T:
        """Run a blocking database call in a thread, tracking outages (re-raises DB errors)."""
        try:
            value = await asyncio.to_thread(fn, *args)
        except DB_ERRORS as exc:
            self._db_failed(exc)
            raise
        self._db_recovered()
        return value

    def _db_ready(self) -> bool:
        h = self._db_health
        return h.ok() or (h.retry_at is not None and self.clock() >= h.retry_at)

    def _db_failed(self, exc: BaseException) -> None:
        h = self._db_health
        now = self.clock()
        h.failures += 1
        if h.down_since is None:
            h.down_since = now
            h.backoff_s = BACKOFF_START_S
            log.warning(
                "database unreachable; retrying with backoff",
                extra={"fields": {"error": _one_line(exc)}},
            )
        else:
            h.backoff_s = min(h.backoff_s * 2, BACKOFF_MAX_S)
            log.debug("database still unreachable", extra={"fields": {"error": _one_line(exc)}})
        h.retry_at = now + timedelta(seconds=h.backoff_s)

    def _db_recovered(self) -> None:
        h = self._db_health
        if h.down_since is not None:
            log.info(
                "database reachable again",
                extra={
                    "fields": {"down_s": round((self.clock() - h.down_since).total_seconds(), 1)}
                },
            )
        self._db_health = _DbHealth()

    # -- jobs ---------------------------------------------------------------------------------

    async def _guarded(self, what: str, fn: Callable[[], Awaitable[object]]) -> None:
        try:
            await fn()
        except asyncio.CancelledError:
            raise
        except DB_ERRORS as exc:
            self._db_failed(exc)
        except Exception as exc:
            log.error(f"{what} failed", exc_info=exc)

    async def _run_job(self, job: PeriodicJob, once: bool = False) -> None:
        if self.stopping.is_set() and not once:
            return
        if not once and not self._db_ready():
            return
        task = asyncio.current_task()
        if task is not None:
            self._job_tasks.add(task)
        ctx = JobContext(self.settings, self.db, self.worker, self.clock, self.stopping, once)
        try:
            await self._guarded(f"job {job.name}", lambda: job.run(ctx))
        finally:
            if task is not None:
                self._job_tasks.discard(task)

    async def _sync_configured(self) -> None:
        assert self._checker is not None
        n = await sync_configured(self.db, self.settings, self._checker.client, self.clock())
        log.info(
            "configured articles synced",
            extra={"fields": {"articles": n, "configured": len(self.settings.articles)}},
        )

    async def _refresh_articles(self) -> None:
        assert self._checker is not None
        await refresh_articles(
            self.db, self.settings, self._checker.client, self.clock(), warned=self._warned_missing
        )

    async def _retention_job(self, ctx: JobContext) -> None:
        def work() -> None:
            result = roll_up(
                self.db.session,
                ctx.clock(),
                self.settings.monitor.retention_days,
                should_stop=ctx.stopping.is_set,
            )
            with self.db.session() as session:
                forgotten = workers.prune_workers(session, ctx.clock() - WORKER_FORGET_AFTER)
            if result.days or forgotten:
                log.info(
                    "retention done",
                    extra={
                        "fields": {
                            "days": result.days,
                            "checks_rolled_up": result.checks_deleted,
                            "workers_forgotten": forgotten,
                        }
                    },
                )

        await asyncio.to_thread(work)


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".strip()


# -- start-up ----------------------------------------------------------------------------------


def _transient_store_error(exc: BaseException) -> bool:
    """A StoreError caused by the server not answering (worth waiting for), not by bad config."""
    cause = exc.__cause__
    return isinstance(
        cause, sa_exc.OperationalError | sa_exc.InterfaceError | sqlite3.OperationalError
    )


async def open_when_reachable(
    url: str,
    stop: asyncio.Event,
    *,
    wait: bool = True,
    open_db: Callable[[str], Database] | None = None,
) -> Database | None:
    """Open (and migrate) the database, waiting with backoff while it is unreachable.

    Without `wait` (or for errors that waiting cannot fix) the StoreError is raised at once.
    None when a stop was requested while waiting.
    """
    from service.store.db import open_database

    opener = open_db or open_database
    delay = BACKOFF_START_S
    while not stop.is_set():
        try:
            return await asyncio.to_thread(opener, url)
        except StoreError as exc:
            if not wait or not _transient_store_error(exc):
                raise
            log.warning(
                "database unreachable at start; retrying",
                extra={"fields": {"error": str(exc), "retry_in_s": delay}},
            )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=delay)
        delay = min(delay * 2, BACKOFF_MAX_S)
    return None


async def serve(
    settings: Settings,
    *,
    once: bool = False,
    jobs: Sequence[PeriodicJob] = (),
    transition_hooks: Sequence[TransitionHook] = DEFAULT_TRANSITION_HOOKS,
    worker: str | None = None,
) -> int:
    """`linkwatch run`: take the SQLite lock, wait for the database, run the daemon until stopped.

    Raises DaemonAlreadyRunning (one line, exit 2) when another daemon owns the SQLite file.
    """
    from service.monitor.lock import lock_for_database

    lock = lock_for_database(settings.database.url)
    try:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        db = await open_when_reachable(settings.database.url, stop, wait=not once)
        if db is None:
            return 0
        try:
            daemon = Daemon(
                settings, db, worker=worker, jobs=jobs, transition_hooks=transition_hooks
            )
            daemon._stopping = stop
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, daemon.request_stop)
            if stop.is_set():
                return 0
            # Issue 7: with web.enabled the daemon also serves the dashboard (not with --once),
            # bound before the first sweep and stopped with the daemon (see service.web.server).
            web = None
            if settings.web.enabled and not once:
                from service.web.server import start_dashboard, stop_dashboard

                web = start_dashboard(db, settings, stop)
            try:
                return await daemon.run(once=once)
            finally:
                if web is not None:
                    await stop_dashboard(web, stop)
        finally:
            db.dispose()
    finally:
        if lock is not None:
            lock.release()
