"""The process-wide archive limiter: spacing, the shared 429 pause, one instance per archive."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from service.archive.limiter import ArchiveLimits, PauseGate, RateLimiter, shared_limits
from service.errors import ArchiveRateLimited
from service.settings import WaybackSettings
from tests.archive.conftest import ManualClock


async def test_slots_are_evenly_spaced() -> None:
    clock = ManualClock()
    limiter = RateLimiter(24, 60.0, clock=clock, sleep=clock.sleep)
    granted: list[float] = []
    for _ in range(5):
        await limiter.acquire()
        granted.append(clock.now)
    assert [round(b - a, 6) for a, b in itertools.pairwise(granted)] == [2.5] * 4


async def test_concurrent_callers_get_distinct_slots() -> None:
    clock = ManualClock()
    limiter = RateLimiter(6, 60.0, clock=clock, sleep=clock.sleep)
    await asyncio.gather(*(limiter.acquire() for _ in range(4)))
    # the first goes at once, then one every 10 s: the last slot is 30 s after the first
    assert clock.now == 1030.0
    assert len(clock.slept) == 3
    assert limiter.granted == 4


async def test_pause_refuses_at_once_and_is_shared() -> None:
    clock = ManualClock()
    limits = ArchiveLimits.create(clock=clock, sleep=clock.sleep)
    assert limits.gate.pause(None) == 60  # at least a minute
    with pytest.raises(ArchiveRateLimited) as err:
        await limits.lookups.acquire()
    assert err.value.retry_after_s == 60
    with pytest.raises(ArchiveRateLimited):
        await limits.saves.acquire()  # a 429 pauses every archive call
    assert clock.slept == []  # refused without waiting
    clock.now += 60
    await limits.lookups.acquire()


async def test_retry_after_longer_than_a_minute_wins() -> None:
    clock = ManualClock()
    gate = PauseGate(clock=clock)
    gate.pause(300)
    gate.pause(10)  # a shorter one never shortens the pause
    assert gate.remaining() == 300


async def test_a_caller_waiting_for_its_slot_sees_a_later_pause() -> None:
    clock = ManualClock()
    gate = PauseGate(clock=clock)

    async def sleep_then_429(seconds: float) -> None:
        await clock.sleep(seconds)
        gate.pause(120)  # while this caller waited, someone got a 429

    limiter = RateLimiter(1, 60.0, gate=gate, clock=clock, sleep=sleep_then_429)
    await limiter.acquire()
    with pytest.raises(ArchiveRateLimited):
        await limiter.acquire()


def test_one_limiter_per_archive_for_the_whole_process() -> None:
    a = shared_limits(WaybackSettings(base_url="http://127.0.0.77:1"))
    b = shared_limits(WaybackSettings(base_url="http://127.0.0.77:1/"))
    c = shared_limits(WaybackSettings(base_url="http://127.0.0.78:1"))
    assert a is b and a is not c
    assert a.lookups.rate == 24 and a.saves.rate == 6


def test_rates_come_from_settings() -> None:
    limits = ArchiveLimits.from_settings(WaybackSettings(cdx_per_minute=12, save_per_minute=3))
    assert limits.lookups.interval_s == 5.0
    assert limits.saves.interval_s == 20.0
