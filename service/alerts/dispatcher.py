"""The dispatcher: the one call the daemon makes per tick, and `linkwatch alerts test`.

    stats = await dispatch(db, settings, now, worker="host-1234")

1. enqueue: new transitions (and moved links, reminders) become `alerts` rows;
2. claim: per channel, the due alerts move to `sending` under this worker's claim token;
3. send: one message per channel (a digest grouped by article), all channels concurrently;
4. record: delivered alerts are marked, failed ones go back to `pending` with backoff
   (retry_initial_s doubling up to retry_max_s); every attempt is a `notifications` row.
All state is in the database, so a restart (or another replica) carries on where this left.
Database work runs in worker threads; the event loop only waits.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from service.alerts.channels import (
    DEFAULT_SEND_TIMEOUT_S,
    Channel,
    ChannelError,
    build_channel,
    build_channels,
)
from service.alerts.digest import build_digest
from service.alerts.events import MONITOR_EVENTS, Event
from service.alerts.message import ArchiveCopy, DriftChange, LinkEvent, Message, MonitorEvent
from service.alerts.outbox import alerts_settings, citations_of, enqueue_all
from service.alerts.render import render_digest, render_test
from service.alerts.routing import visible_citations
from service.alerts.schedule import retry_delay_s
from service.alerts.secrets import install_log_masking, mask
from service.model import Outcome
from service.settings import AlertsSettings, ChannelSettings, Settings
from service.store import outbox as store
from service.store.db import Database

log = logging.getLogger("linkwatch.alerts")

CLAIM_LIMIT = 500  # alerts per channel per tick
LEASE = timedelta(seconds=max(300.0, 2 * DEFAULT_SEND_TIMEOUT_S))


@dataclass
class DispatchStats:
    enqueued: int = 0  # new alert rows (one per event and channel)
    claimed: int = 0  # alerts taken by this worker this tick
    delivered: int = 0  # alerts delivered
    retrying: int = 0  # alerts whose attempt failed; back to pending with backoff
    failed: int = 0  # alerts given up (their channel is no longer configured)
    messages: int = 0  # messages accepted by channels
    errors: dict[str, str] = field(default_factory=dict)  # channel -> masked error of this tick


@dataclass
class _Batch:
    channel: str
    token: str
    alerts: list[store.ClaimedAlert]
    message: Message | None = None
    error: str | None = None  # set when the message could not even be built


def _dt(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) and value else None


def _outcome(value: Any) -> Outcome | None:
    try:
        return Outcome(value) if value else None
    except ValueError:
        return None


def _archive(snaps: Mapping[str, store.SnapshotFacts]) -> ArchiveCopy | None:
    for role in ("citation", "latest"):
        snap = snaps.get(role)
        if snap is not None:
            return ArchiveCopy(snap.archive_url, snap.captured_at, role)
    return None


def _drift_change(p: Mapping[str, Any]) -> DriftChange:
    return DriftChange(
        verdict=str(p.get("drift") or "drifted"),
        previous=p.get("previous"),
        score=p.get("drift_score"),
        containment=p.get("containment"),
        word_count_capture=p.get("word_count_capture"),
        word_count_live=p.get("word_count_live"),
    )


def build_message(
    session: Any, channel: ChannelSettings, alerts: list[store.ClaimedAlert], *, cap: int
) -> Message:
    """The digest message of `alerts` for one channel, with fresh citations and archived copies."""
    payloads = [(a, json.loads(a.payload or "{}")) for a in alerts]
    link_ids = [int(p["link_id"]) for a, p in payloads if "link_id" in p]
    citations = store.citations_for_links(session, link_ids)
    snapshots = store.snapshots_for_links(session, link_ids)
    links: list[LinkEvent] = []
    monitor: list[MonitorEvent] = []
    for alert, p in payloads:
        event = Event(alert.event)
        at = _dt(p.get("at")) or alert.created_at
        if event in MONITOR_EVENTS:
            monitor.append(MonitorEvent(event, at, _dt(p.get("since"))))
            continue
        link_id = int(p.get("link_id", 0))
        archive = _archive(snapshots.get(link_id, {}))
        drift: DriftChange | None = None
        if event == Event.DRIFTED:
            drift = _drift_change(p)
            if p.get("capture_url"):  # the capture the page was compared with
                archive = ArchiveCopy(
                    str(p["capture_url"]), _dt(p.get("capture_timestamp")), "citation"
                )
        links.append(
            LinkEvent(
                event=event,
                url=str(p.get("url", "")),
                at=at,
                outcome=_outcome(p.get("outcome")),
                http_status=p.get("http_status"),
                final_url=p.get("final_url"),
                since=_dt(p.get("since")),
                failed_checks=p.get("failed_checks"),
                total_checks=p.get("total_checks"),
                citations=visible_citations(channel, citations_of(citations.get(link_id, []))),
                archive=archive,
                drift=drift,
            )
        )
    digest = build_digest(links, monitor, cap=cap, daily=channel.digest == "daily")
    return render_digest(digest)


def _claim(
    db: Database, cfg: AlertsSettings, now: datetime, worker: str, stats: DispatchStats
) -> list[_Batch]:
    with db.session() as session:
        names = store.due_channels(session, now)
    batches: list[_Batch] = []
    for name in names:
        token = f"{worker}:{uuid.uuid4().hex[:12]}"[-128:]
        with db.session() as session:
            claimed = store.claim_due(
                session,
                channel=name,
                token=token,
                now=now,
                lease_until=now + LEASE,
                limit=CLAIM_LIMIT,
            )
        if not claimed:
            continue
        stats.claimed += len(claimed)
        channel = cfg.channels.get(name)
        if channel is None:
            error = f"channel {name} is no longer configured; alert dropped"
            with db.session() as session:
                ids = [a.id for a in claimed]
                store.mark_failed(session, ids, token=token)
                store.record_attempts(session, ids, channel=name, at=now, ok=False, error=error)
            stats.failed += len(claimed)
            log.warning("alerts: %s (%d alert(s))", error, len(claimed))
            continue
        batch = _Batch(name, token, claimed)
        try:
            with db.session() as session:
                batch.message = build_message(session, channel, claimed, cap=cfg.digest_cap)
        except Exception as exc:  # a corrupt payload must not block the other alerts
            batch.error = (
                f"channel {name}: cannot build the message: {type(exc).__name__}: {mask(str(exc))}"
            )
        batches.append(batch)
    return batches


async def _send(batch: _Batch, channel: Channel | ChannelError | None) -> str | None:
    """None when delivered, else the (masked) reason."""
    if batch.error is not None:
        return batch.error
    if channel is None:
        return f"channel {batch.channel}: not built"
    if isinstance(channel, ChannelError):
        return mask(str(channel))
    assert batch.message is not None
    try:
        await channel.send(batch.message)
    except ChannelError as exc:
        return mask(str(exc))
    except Exception as exc:
        return mask(f"channel {batch.channel}: {type(exc).__name__}: {exc}")
    return None


def _record(
    db: Database,
    cfg: AlertsSettings,
    *,
    batch: _Batch,
    error: str | None,
    now: datetime,
    stats: DispatchStats,
) -> None:
    ids = [a.id for a in batch.alerts]
    with db.session() as session:
        store.record_attempts(
            session, ids, channel=batch.channel, at=now, ok=error is None, error=error
        )
        if error is None:
            done = store.mark_delivered(session, ids, token=batch.token, now=now)
            stats.delivered += done
            stats.messages += 1
            if done < len(ids):
                log.warning(
                    "alerts: channel %s: %d alert(s) lost their claim while sending",
                    batch.channel,
                    len(ids) - done,
                )
            log.info(
                "alerts: channel %s: delivered %d alert(s) in one message", batch.channel, done
            )
            return
        for alert in batch.alerts:
            delay = retry_delay_s(alert.attempts, cfg.retry_initial_s, cfg.retry_max_s)
            store.mark_retry(
                session, alert.id, token=batch.token, next_attempt_at=now + timedelta(seconds=delay)
            )
        stats.retrying += len(ids)
        stats.errors[batch.channel] = error
        log.warning("alerts: %s; %d alert(s) will be retried", error, len(ids))


async def dispatch(
    db: Database,
    settings: Settings | AlertsSettings,
    now: datetime,
    *,
    worker: str,
    channels: Mapping[str, Channel | ChannelError] | None = None,
) -> DispatchStats:
    """Enqueue new events, then claim, send and record the due alerts. Call once per tick.

    `channels` (name -> Channel) replaces the ones built from the settings (e.g. to reuse
    them between ticks). Failures to deliver are recorded, never raised; database errors
    raise StoreError.
    """
    install_log_masking()
    cfg = alerts_settings(settings)
    stats = DispatchStats()

    def _enqueue() -> int:
        with db.session() as session:
            return enqueue_all(session, cfg, now)

    stats.enqueued = await asyncio.to_thread(_enqueue)
    batches = await asyncio.to_thread(_claim, db, cfg, now, worker, stats)
    if not batches:
        return stats
    built = channels if channels is not None else build_channels(cfg)
    errors = await asyncio.gather(*(_send(b, built.get(b.channel)) for b in batches))
    for batch, error in zip(batches, errors, strict=True):
        await asyncio.to_thread(
            functools.partial(_record, db, cfg, batch=batch, error=error, now=now, stats=stats)
        )
    return stats


# -- linkwatch alerts test ----------------------------------------------------------------------


@dataclass(frozen=True)
class TestResult:
    channel: str
    ok: bool
    error: str | None = None


async def send_test(
    settings: Settings | AlertsSettings, names: list[str], now: datetime, db: Database | None = None
) -> list[TestResult]:
    """Send a test message to each named channel (concurrently); record each attempt when `db`."""
    install_log_masking()
    cfg = alerts_settings(settings)

    async def one(name: str) -> TestResult:
        try:
            channel = build_channel(name, cfg.channels[name])
            await channel.send(render_test(name, now))
        except ChannelError as exc:
            return TestResult(name, False, mask(str(exc)))
        except Exception as exc:
            return TestResult(name, False, mask(f"channel {name}: {type(exc).__name__}: {exc}"))
        return TestResult(name, True)

    results = list(await asyncio.gather(*(one(n) for n in names)))
    if db is not None:
        await asyncio.to_thread(_record_tests, db, results, now)
    return results


def _record_tests(db: Database, results: list[TestResult], now: datetime) -> None:
    with db.session() as session:
        for result in results:
            alert_id = store.insert_alert(
                session,
                event=Event.TEST.value,
                event_key=f"test:{uuid.uuid4().hex}",
                channel=result.channel,
                created_at=now,
                next_attempt_at=now,
                payload="{}",
                state="delivered" if result.ok else "failed",
                attempts=1,
                delivered_at=now if result.ok else None,
            )
            if alert_id is not None:
                store.record_attempts(
                    session,
                    [alert_id],
                    channel=result.channel,
                    at=now,
                    ok=result.ok,
                    error=result.error,
                )
