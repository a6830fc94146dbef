"""When to check a link next: a pure function of its health and the monitor settings.

Defaults (settings.monitor): alive every 24 h (or the citing article's own interval), suspect
re-checked after 1 h, 6 h, then 24 h (indexed by the dead streak), dead every 7 days (to
notice a recovery), unknown every 3 days. Every interval gets +/- `jitter` (10 %) so links
added together spread out; the random source is injectable. A `Retry-After` from a
rate-limited answer is a floor: the link is never re-checked before the site asked.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime, timedelta

from service.model import Health, LinkState, Outcome
from service.settings import MonitorSettings

Random = Callable[[], float]  # returns a float in [0, 1), like random.random


def base_interval(
    state: LinkState,
    settings: MonitorSettings,
    *,
    interval_hours: float | None = None,
    outcome: Outcome | None = None,
) -> timedelta:
    """The un-jittered wait after a check that left the link in `state`.

    `interval_hours` is the per-article override of the alive interval (the shortest among
    the articles citing the link). An `offline` outcome says nothing about the link, so it
    is re-checked at the first suspect retry (or sooner, if its own interval is shorter).
    """
    health = state.health
    if health is Health.ALIVE:
        hours = interval_hours if interval_hours is not None else settings.alive_interval_h
    elif health is Health.SUSPECT:
        retries = settings.suspect_retry_h or [settings.alive_interval_h]
        index = min(max(state.dead_streak, 1), len(retries)) - 1
        hours = retries[index]
    elif health is Health.DEAD:
        hours = settings.dead_interval_h
    elif health is Health.UNKNOWN:
        hours = settings.unknown_interval_h
    else:  # unchecked (only after an offline outcome) or not_applicable
        hours = _first_retry(settings)
    if outcome is Outcome.OFFLINE:
        hours = min(hours, _first_retry(settings))
    return timedelta(hours=hours)


def _first_retry(settings: MonitorSettings) -> float:
    return settings.suspect_retry_h[0] if settings.suspect_retry_h else settings.alive_interval_h


def jittered(interval: timedelta, jitter: float, rng: Random = random.random) -> timedelta:
    """`interval` scaled by a uniform factor in [1 - jitter, 1 + jitter)."""
    return interval * (1.0 + jitter * (2.0 * rng() - 1.0))


def next_check_at(
    state: LinkState,
    now: datetime,
    settings: MonitorSettings,
    *,
    interval_hours: float | None = None,
    outcome: Outcome | None = None,
    retry_after_s: float | None = None,
    rng: Random = random.random,
) -> datetime:
    """When a link checked at `now` (now in `state`, after `outcome`) is due again."""
    wait = jittered(
        base_interval(state, settings, interval_hours=interval_hours, outcome=outcome),
        settings.jitter,
        rng,
    )
    if retry_after_s is not None and retry_after_s > 0:
        wait = max(wait, timedelta(seconds=retry_after_s))
    return now + wait
