"""Fixtures of the archive tests: a fake Wayback Machine on loopback and clients aimed at it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from pydantic import SecretStr

from service.archive.limiter import ArchiveLimits
from service.archive.lookup import ArchiveClient
from service.settings import WaybackSettings
from tests.support.fake_wayback import FakeWayback


class ManualClock:
    """A monotonic clock the test moves; `sleep` advances it (and yields to the loop)."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        import asyncio

        self.slept.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


@pytest.fixture
async def wayback() -> AsyncIterator[FakeWayback]:
    async with FakeWayback() as server:
        yield server


def settings_for(
    server: FakeWayback, *, timeout_s: float = 5.0, keys: bool = False
) -> WaybackSettings:
    key, secret = (SecretStr("key"), SecretStr("secret")) if keys else (None, None)
    return WaybackSettings(
        base_url=server.base_url, timeout_s=timeout_s, access_key=key, secret_key=secret
    )


def fast_limits() -> ArchiveLimits:
    """Limits that never make a test wait (the limiter itself is tested on its own)."""
    return ArchiveLimits.create(lookups_per_minute=1_000_000, saves_per_minute=1_000_000)


@pytest.fixture
def client(wayback: FakeWayback) -> ArchiveClient:
    return ArchiveClient(settings_for(wayback), limits=fast_limits())
