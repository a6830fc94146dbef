"""When an alert may go out: quiet hours hold non-urgent events; daily channels wait for their hour.

All times are UTC. Pure functions.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

from service.alerts.events import NON_URGENT, Event


def parse_hhmm(value: str) -> time:
    hours, _, minutes = value.strip().partition(":")
    return time(int(hours), int(minutes))


def parse_window(spec: str) -> tuple[time, time]:
    """'22:00-07:00' -> (22:00, 07:00). The window may wrap around midnight."""
    start, sep, end = spec.partition("-")
    if not sep:
        raise ValueError(f"bad time window {spec!r}: expected HH:MM-HH:MM")
    return parse_hhmm(start), parse_hhmm(end)


def quiet_until(spec: str | None, at: datetime) -> datetime | None:
    """The end of the quiet window containing `at`, or None when `at` is outside it."""
    if not spec:
        return None
    start, end = parse_window(spec)
    if start == end:
        return None
    day = at.replace(hour=0, minute=0, second=0, microsecond=0)
    for offset in (-1, 0):  # a window that began yesterday may still be running
        begin = day + timedelta(days=offset) + timedelta(hours=start.hour, minutes=start.minute)
        finish = day + timedelta(days=offset) + timedelta(hours=end.hour, minutes=end.minute)
        if finish <= begin:
            finish += timedelta(days=1)
        if begin <= at < finish:
            return finish
    return None


def next_daily(daily_at: str, at: datetime) -> datetime:
    """The first moment at or after `at` whose UTC time of day is `daily_at`."""
    hhmm = parse_hhmm(daily_at)
    candidate = at.replace(hour=hhmm.hour, minute=hhmm.minute, second=0, microsecond=0)
    return candidate if candidate >= at else candidate + timedelta(days=1)


def release_at(
    event: Event, *, digest: str, daily_at: str, quiet_hours: str | None, now: datetime
) -> datetime:
    """When an alert for `event` may first be sent to a channel with these settings."""
    at = next_daily(daily_at, now) if digest == "daily" else now
    if event in NON_URGENT:
        end = quiet_until(quiet_hours, at)
        if end is not None:
            at = end
    return at


def retry_delay_s(attempts_before: int, initial_s: float, max_s: float) -> float:
    """Backoff after a failed attempt: initial, doubling per earlier attempt, capped at max."""
    return float(min(initial_s * (2 ** min(attempts_before, 40)), max_s))
