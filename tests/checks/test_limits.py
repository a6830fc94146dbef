"""Per-host politeness: concurrency limit, minimum interval, holds (on a real event loop)."""

from __future__ import annotations

import asyncio
import time

import pytest

from service.checks.limits import HostLimiter


async def test_concurrency_and_interval_per_host() -> None:
    limiter = HostLimiter(per_host=2, interval_s=0.05)
    active: dict[str, int] = {"a": 0, "b": 0}
    high: dict[str, int] = {"a": 0, "b": 0}
    starts: dict[str, list[float]] = {"a": [], "b": []}

    async def request(host: str) -> None:
        async with limiter.slot(host):
            starts[host].append(time.monotonic())
            active[host] += 1
            high[host] = max(high[host], active[host])
            await asyncio.sleep(0.12)
            active[host] -= 1

    await asyncio.gather(*(request(h) for h in "ab" * 5))
    assert high == {"a": 2, "b": 2}
    for host in "ab":
        gaps = [b - a for a, b in zip(starts[host], starts[host][1:])]
        assert min(gaps) >= 0.045


async def test_hold_delays_the_next_request_and_reports_waiting() -> None:
    limiter = HostLimiter(per_host=1, interval_s=0)
    limiter.hold("Example.org", 0.2)
    assert limiter.quiet_until("example.org") > time.monotonic()
    async with limiter.slot("example.org") as waited:
        assert waited >= 0.15
    async with limiter.slot("other.org") as waited:
        assert waited < 0.1


def test_bad_limit() -> None:
    with pytest.raises(ValueError):
        HostLimiter(per_host=0, interval_s=1)
