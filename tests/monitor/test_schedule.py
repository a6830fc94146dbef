"""The scheduling policy: intervals per health, per-article override, jitter, Retry-After."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.model import Health, LinkState, Outcome
from service.monitor.schedule import base_interval, jittered, next_check_at
from service.settings import MonitorSettings

NOW = datetime(2024, 3, 1, 12, tzinfo=UTC)
S = MonitorSettings()
MID = 0.5  # a random source at the middle of [0, 1): no jitter


def at(health: Health, streak: int = 0, **kw: object) -> datetime:
    state = LinkState(health=health, since=NOW, dead_streak=streak)
    return next_check_at(state, NOW, S, rng=lambda: MID, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("health", "streak", "hours"),
    [
        (Health.ALIVE, 0, 24),
        (Health.SUSPECT, 1, 1),
        (Health.SUSPECT, 2, 6),
        (Health.SUSPECT, 3, 24),
        (Health.SUSPECT, 9, 24),
        (Health.SUSPECT, 0, 1),
        (Health.DEAD, 3, 168),
        (Health.DEAD, 12, 168),
        (Health.UNKNOWN, 0, 72),
    ],
)
def test_defaults(health: Health, streak: int, hours: float) -> None:
    assert at(health, streak) == NOW + timedelta(hours=hours)


def test_per_article_interval_applies_to_alive_only() -> None:
    assert at(Health.ALIVE, interval_hours=2.0) == NOW + timedelta(hours=2)
    assert at(Health.DEAD, interval_hours=2.0) == NOW + timedelta(hours=168)
    assert at(Health.SUSPECT, 1, interval_hours=48.0) == NOW + timedelta(hours=1)


def test_offline_retries_soon_whatever_the_health() -> None:
    assert at(Health.ALIVE, outcome=Outcome.OFFLINE) == NOW + timedelta(hours=1)
    assert at(Health.UNCHECKED, outcome=Outcome.OFFLINE) == NOW + timedelta(hours=1)
    assert at(Health.DEAD, outcome=Outcome.OFFLINE) == NOW + timedelta(hours=1)


def test_retry_after_is_a_floor() -> None:
    assert at(Health.SUSPECT, 1, retry_after_s=7200) == NOW + timedelta(hours=2)
    assert at(Health.SUSPECT, 1, retry_after_s=60) == NOW + timedelta(hours=1)
    assert at(
        Health.ALIVE, outcome=Outcome.RATE_LIMITED, retry_after_s=3 * 86400
    ) == NOW + timedelta(days=3)


def test_configurable() -> None:
    s = MonitorSettings(
        alive_interval_h=12, suspect_retry_h=[0.5, 2], dead_interval_h=24, unknown_interval_h=5
    )
    rng = lambda: MID  # noqa: E731
    state = LinkState(health=Health.SUSPECT, dead_streak=5)
    assert next_check_at(state, NOW, s, rng=rng) == NOW + timedelta(hours=2)
    assert base_interval(LinkState(health=Health.ALIVE), s) == timedelta(hours=12)
    assert base_interval(LinkState(health=Health.DEAD), s) == timedelta(hours=24)
    assert base_interval(LinkState(health=Health.UNKNOWN), s) == timedelta(hours=5)


def test_jitter_bounds_with_extreme_random_values() -> None:
    day = timedelta(hours=24)
    assert jittered(day, 0.1, lambda: 0.0) == timedelta(hours=21.6)
    assert jittered(day, 0.1, lambda: 0.999999) < timedelta(hours=26.4)
    assert jittered(day, 0.1, lambda: 0.999999) > timedelta(hours=26.39)
    assert jittered(day, 0.0, lambda: 0.0) == day


@given(
    health=st.sampled_from([Health.ALIVE, Health.SUSPECT, Health.DEAD, Health.UNKNOWN]),
    streak=st.integers(0, 10),
    r=st.floats(min_value=0.0, max_value=1.0, exclude_max=True),
)
def test_jitter_stays_within_ten_percent(health: Health, streak: int, r: float) -> None:
    state = LinkState(health=health, dead_streak=streak)
    base = base_interval(state, S)
    got = next_check_at(state, NOW, S, rng=lambda: r) - NOW
    assert base * 0.9 - timedelta(microseconds=1) <= got <= base * 1.1
    assert got > timedelta(0)


def test_default_random_source_spreads() -> None:
    state = LinkState(health=Health.ALIVE)
    seen = {next_check_at(state, NOW, S) for _ in range(50)}
    assert len(seen) > 40
    assert all(NOW + timedelta(hours=21.6) <= t <= NOW + timedelta(hours=26.4) for t in seen)
