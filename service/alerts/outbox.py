"""The outbox: events become `alerts` rows, one per (event, routed channel), exactly once.

Idempotency rests on the unique (event_key, channel) constraint: the same event enqueued
twice (two replicas, a restart in between) yields one row. Event keys:
  transition:<id>                      broken / recovered
  moved:<link id>:<hash of new URL>    a permanent redirect appeared
  reminder:<link id>:<dead since>:<n>  the n-th reminder of one dead period
  monitor_offline:<failing since>      / monitor_online:<failing since>
  drift:<drift check id>               a link's content drifted (verdict same/none -> drifted
                                       or replaced, issue 11)
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from service.alerts.events import Event, event_for_transition
from service.alerts.message import Citation
from service.alerts.routing import wants
from service.alerts.schedule import release_at
from service.drift.verdict import drift_score
from service.settings import AlertsSettings, Settings
from service.store import outbox as store

log = logging.getLogger("linkwatch.alerts")

WATERMARK_KEY = "alerts.transition_watermark"
OFFLINE_SINCE_KEY = "alerts.canaries_failing_since"
OFFLINE_ALERTED_KEY = "alerts.monitor_offline_alerted"
# Transitions committed late by another replica (ids below the watermark) are still picked up
# when they are this recent.
STRAGGLER_WINDOW = timedelta(hours=1)
# On the very first run, older transitions are history, not news.
FIRST_RUN_MAX_AGE = timedelta(days=7)
TRANSITION_BATCH = 1000
# Drift comparisons older than this are history, not news (the daemon dispatches every tick).
DRIFT_WINDOW = timedelta(days=7)


def alerts_settings(settings: Settings | AlertsSettings) -> AlertsSettings:
    return settings.alerts if isinstance(settings, Settings) else settings


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at is not None else None


def citations_of(facts: Sequence[store.CitationFacts]) -> tuple[Citation, ...]:
    return tuple(Citation(f.location, f.title, f.tags, f.anchor_texts) for f in facts)


def route_event(
    session: Session,
    settings: AlertsSettings,
    *,
    event: Event,
    event_key: str,
    now: datetime,
    payload: dict[str, Any],
    citations: Sequence[Citation] = (),
    transition_id: int | None = None,
) -> int:
    """Insert one alert per channel that wants `event`; the number of new rows."""
    created = 0
    body = json.dumps(payload, sort_keys=True)
    for name, channel in settings.channels.items():
        if not wants(channel, event, citations):
            continue
        due = release_at(
            event,
            digest=channel.digest,
            daily_at=channel.daily_at,
            quiet_hours=settings.quiet_hours,
            now=now,
        )
        alert_id = store.insert_alert(
            session,
            event=event.value,
            event_key=event_key,
            channel=name,
            created_at=now,
            next_attempt_at=due,
            payload=body,
            transition_id=transition_id,
        )
        if alert_id is not None:
            created += 1
    return created


def _transition_payload(
    session: Session, row: store.TransitionFacts, event: Event
) -> dict[str, Any]:
    since: datetime | None = None
    failed: int | None = None
    if event == Event.BROKEN:
        same_episode = row.link_health == "dead" and row.link_health_since == row.at
        since = row.dead_streak_started if same_episode else None
        failed = row.dead_streak if same_episode else None
    elif event == Event.RECOVERED:
        since = store.previous_dead_since(session, row.link_id, row.id)
    return {
        "link_id": row.link_id,
        "url": row.url,
        "at": _iso(row.at),
        "from": row.from_health,
        "to": row.to_health,
        "outcome": row.outcome,
        "http_status": row.http_status,
        "final_url": row.final_url,
        "since": _iso(since),
        "failed_checks": failed,
        "total_checks": store.count_checks(session, row.link_id, row.at),
    }


def enqueue_new_transitions(
    session: Session, settings: Settings | AlertsSettings, now: datetime
) -> int:
    """Turn transitions not yet enqueued into alerts (broken, recovered); the number of new rows.

    Safe to run from several replicas at once and again after a crash: rows are unique per
    (event_key, channel). Transitions that are not alert-worthy (suspect, unknown, ...)
    produce nothing, so a blip (alive -> suspect -> alive) is never told.
    """
    cfg = alerts_settings(settings)
    raw = store.get_state(session, WATERMARK_KEY)
    watermark = int(raw) if raw and raw.isdigit() else 0
    top = store.max_transition_id(session)
    rows = store.transitions_to_enqueue(
        session,
        after_id=watermark,
        recent_since=now - STRAGGLER_WINDOW,
        not_before=None if raw else now - FIRST_RUN_MAX_AGE,
        limit=TRANSITION_BATCH,
    )
    created = 0
    if rows and cfg.channels:
        citations = store.citations_for_links(session, {r.link_id for r in rows})
        for row in rows:
            event = event_for_transition(row.from_health, row.to_health)
            if event is None:
                continue
            created += route_event(
                session,
                cfg,
                event=event,
                event_key=f"transition:{row.id}",
                now=now,
                payload=_transition_payload(session, row, event),
                citations=citations_of(citations.get(row.link_id, [])),
                transition_id=row.id,
            )
    new_mark = rows[-1].id if len(rows) >= TRANSITION_BATCH else top
    if new_mark > watermark:
        store.put_state(session, WATERMARK_KEY, str(new_mark), now)
    return created


def _link_payload(link: store.LinkFacts, now: datetime, since: datetime | None) -> dict[str, Any]:
    return {
        "link_id": link.id,
        "url": link.url,
        "at": _iso(now),
        "outcome": link.last_outcome,
        "http_status": link.last_status,
        "final_url": link.last_final_url,
        "since": _iso(since),
        "failed_checks": None,
        "total_checks": None,
    }


def enqueue_reminders(session: Session, settings: Settings | AlertsSettings, now: datetime) -> int:
    """Every `reminder_days` of a link's dead period: one `reminder` alert (when enabled)."""
    cfg = alerts_settings(settings)
    if not cfg.reminder_days or not any("reminder" in c.events for c in cfg.channels.values()):
        return 0
    period = timedelta(days=cfg.reminder_days)
    links = store.dead_links_since(session, now - period)
    if not links:
        return 0
    known = store.existing_event_keys(session, "reminder:")
    citations = store.citations_for_links(session, [link.id for link in links])
    created = 0
    for link in links:
        assert link.health_since is not None
        nth = int((now - link.health_since) / period)
        key = f"reminder:{link.id}:{int(link.health_since.timestamp())}:{nth}"
        if nth < 1 or key in known:
            continue
        created += route_event(
            session,
            cfg,
            event=Event.REMINDER,
            event_key=key,
            now=now,
            payload=_link_payload(link, now, link.health_since),
            citations=citations_of(citations.get(link.id, [])),
        )
    return created


def enqueue_moved(session: Session, settings: Settings | AlertsSettings, now: datetime) -> int:
    """Links whose last check saw a permanent redirect: one `moved` alert per new address."""
    cfg = alerts_settings(settings)
    if not any("moved" in c.events for c in cfg.channels.values()):
        return 0
    links = store.moved_links(session)
    if not links:
        return 0
    known = store.existing_event_keys(session, "moved:")
    fresh: list[tuple[str, store.LinkFacts]] = []
    for link in links:
        assert link.last_final_url is not None
        digest = hashlib.sha256(link.last_final_url.encode()).hexdigest()[:16]
        key = f"moved:{link.id}:{digest}"
        if key not in known:
            fresh.append((key, link))
    citations = store.citations_for_links(session, [link.id for _, link in fresh])
    created = 0
    for key, link in fresh:
        created += route_event(
            session,
            cfg,
            event=Event.MOVED,
            event_key=key,
            now=now,
            payload=_link_payload(link, link.last_checked_at or now, None),
            citations=citations_of(citations.get(link.id, [])),
        )
    return created


def _drift_payload(
    row: store.DriftChangeFacts, capture: store.SnapshotFacts | None, now: datetime
) -> dict[str, Any]:
    return {
        "link_id": row.link_id,
        "url": row.url,
        "at": _iso(row.checked_at or now),
        "outcome": row.last_outcome,
        "http_status": row.last_status,
        "final_url": None,
        "since": None,
        "failed_checks": None,
        "total_checks": None,
        "drift": row.verdict,
        "previous": row.previous,
        "drift_score": drift_score(row.cosine),
        "cosine": row.cosine,
        "containment": row.containment,
        "title_similarity": row.title_similarity,
        "word_count_capture": row.word_count_capture,
        "word_count_live": row.word_count_live,
        # the capture the author saw (the citation capture the page was compared with)
        "capture_url": capture.archive_url if capture is not None else None,
        "capture_timestamp": _iso(
            capture.captured_at if capture is not None else row.capture_timestamp
        ),
    }


def enqueue_drifted(session: Session, settings: Settings | AlertsSettings, now: datetime) -> int:
    """A link's drift verdict turned from same (or none) to drifted or replaced: one `drifted`
    alert per comparison (event key drift:<drift check id>), for the channels that want it."""
    cfg = alerts_settings(settings)
    if not any("drifted" in c.events for c in cfg.channels.values()):
        return 0
    rows = store.drift_changes(session, since=now - DRIFT_WINDOW)
    if not rows:
        return 0
    ids = [r.link_id for r in rows]
    citations = store.citations_for_links(session, ids)
    snapshots = store.snapshots_for_links(session, ids)
    created = 0
    for row in rows:
        created += route_event(
            session,
            cfg,
            event=Event.DRIFTED,
            event_key=f"{store.DRIFT_KEY_PREFIX}{row.id}",
            now=now,
            payload=_drift_payload(row, snapshots.get(row.link_id, {}).get("citation"), now),
            citations=citations_of(citations.get(row.link_id, [])),
        )
    return created


def record_monitor_connectivity(
    session: Session, online: bool, now: datetime, settings: Settings | AlertsSettings
) -> Event | None:
    """Record the canary verdict; enqueue monitor_offline once the canaries have failed for
    longer than `offline_after_s`, and monitor_online when they answer again after that.

    Returns the event enqueued (or already enqueued by another replica), else None.
    """
    cfg = alerts_settings(settings)
    if not online:
        since_raw = store.put_state_if_absent(session, OFFLINE_SINCE_KEY, now.isoformat(), now)
        since = datetime.fromisoformat(since_raw)
        if (now - since).total_seconds() < cfg.offline_after_s:
            return None
        if store.get_state(session, OFFLINE_ALERTED_KEY) is not None:
            return None
        key = f"monitor_offline:{since_raw}"
        route_event(
            session,
            cfg,
            event=Event.MONITOR_OFFLINE,
            event_key=key,
            now=now,
            payload={"at": now.isoformat(), "since": since_raw},
        )
        store.put_state(session, OFFLINE_ALERTED_KEY, key, now)
        log.warning("alerts: the monitor is offline since %s (canaries fail)", since_raw)
        return Event.MONITOR_OFFLINE
    failing_since = store.get_state(session, OFFLINE_SINCE_KEY)
    if failing_since is None:
        return None
    alerted = store.get_state(session, OFFLINE_ALERTED_KEY)
    store.delete_state(session, OFFLINE_SINCE_KEY, OFFLINE_ALERTED_KEY)
    if alerted is None:
        return None  # a short outage, never told: nothing to take back
    route_event(
        session,
        cfg,
        event=Event.MONITOR_ONLINE,
        event_key=f"monitor_online:{failing_since}",
        now=now,
        payload={"at": now.isoformat(), "since": failing_since},
    )
    log.info("alerts: the monitor is back online (offline since %s)", failing_since)
    return Event.MONITOR_ONLINE


def enqueue_all(session: Session, settings: Settings | AlertsSettings, now: datetime) -> int:
    """Every kind of event due now: transitions, moved links, reminders, drifted content."""
    return (
        enqueue_new_transitions(session, settings, now)
        + enqueue_moved(session, settings, now)
        + enqueue_reminders(session, settings, now)
        + enqueue_drifted(session, settings, now)
    )
