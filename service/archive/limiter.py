"""Process-wide rate limits for every call to the Internet Archive.

The Wayback Machine allows roughly 30 CDX requests per minute per IP and blocks addresses that
ignore its 429 answers; Save Page Now 2 allows about 7 captures a minute with keys. So:

- every archive HTTP request first takes a slot from a `RateLimiter` (minimum spacing of
  `per_s / rate` seconds between slots, no bursts: at most `rate` requests in any window of
  `per_s` seconds);
- lookups (CDX, availability) and captures (SPN2) have separate limiters, sharing one
  `PauseGate`: after a 429 from any archive endpoint *all* archive calls stop for
  max(`min_pause_s`, Retry-After). While paused, `acquire()` fails at once with
  `ArchiveRateLimited` instead of queueing, so nothing waits on the archive: callers record
  the failure and retry later.

`shared_limits(settings)` returns the one `ArchiveLimits` of the process for a base URL. The
state is guarded by a `threading.Lock` (never an asyncio primitive), so one limiter can serve
several event loops (the CLI's, a web thread's) without being bound to any of them. Clock and
sleep are injected so tests can drive time.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from service.errors import ArchiveRateLimited
from service.settings import WaybackSettings

MonotonicClock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]

DEFAULT_MIN_PAUSE_S = 60.0


class PauseGate:
    """ "Stop every archive call until T": set by a 429, read before every request."""

    def __init__(
        self, *, min_pause_s: float = DEFAULT_MIN_PAUSE_S, clock: MonotonicClock = time.monotonic
    ) -> None:
        self.min_pause_s = min_pause_s
        self._clock = clock
        self._lock = threading.Lock()
        self._until = float("-inf")

    def pause(self, retry_after_s: float | None = None) -> float:
        """Pause for max(min_pause_s, retry_after_s); returns the pause in seconds from now."""
        wanted = max(self.min_pause_s, retry_after_s or 0.0)
        with self._lock:
            self._until = max(self._until, self._clock() + wanted)
            return self._until - self._clock()

    def remaining(self) -> float:
        """Seconds until archive calls may resume (0 when not paused)."""
        with self._lock:
            return max(0.0, self._until - self._clock())

    def check(self) -> None:
        """Raise ArchiveRateLimited while paused."""
        left = self.remaining()
        if left > 0:
            raise ArchiveRateLimited(
                f"archive rate limited: calls paused for {left:.0f} s after a 429",
                retry_after_s=left,
            )


class RateLimiter:
    """At most `rate` slots per `per_s` seconds, evenly spaced; honours the shared pause gate."""

    def __init__(
        self,
        rate: int,
        per_s: float = 60.0,
        *,
        gate: PauseGate | None = None,
        clock: MonotonicClock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if rate < 1 or per_s <= 0:
            raise ValueError("rate must be >= 1 and per_s > 0")
        self.rate = rate
        self.per_s = per_s
        self.interval_s = per_s / rate
        self.gate = gate if gate is not None else PauseGate(clock=clock)
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._next_slot = float("-inf")
        self.granted = 0  # slots handed out (observability, tests)

    def _reserve(self) -> float:
        """Book the next free slot; returns how long to wait for it."""
        with self._lock:
            now = self._clock()
            slot = max(now, self._next_slot)
            self._next_slot = slot + self.interval_s
            return slot - now

    async def acquire(self) -> None:
        """Wait for a slot. Raises ArchiveRateLimited (without waiting) while the gate is paused."""
        self.gate.check()
        wait = self._reserve()
        if wait > 0:
            await self._sleep(wait)
            self.gate.check()  # a 429 may have arrived while this call waited for its slot
        with self._lock:
            self.granted += 1


@dataclass(frozen=True, slots=True)
class ArchiveLimits:
    """The limiters of one archive: lookups (CDX + availability) and captures (SPN2), one gate."""

    lookups: RateLimiter
    saves: RateLimiter
    gate: PauseGate

    @classmethod
    def create(
        cls,
        *,
        lookups_per_minute: int = 24,
        saves_per_minute: int = 6,
        window_s: float = 60.0,
        min_pause_s: float = DEFAULT_MIN_PAUSE_S,
        clock: MonotonicClock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> ArchiveLimits:
        """Limits per `window_s` seconds (60 in production; tests shrink the window)."""
        gate = PauseGate(min_pause_s=min_pause_s, clock=clock)
        return cls(
            lookups=RateLimiter(lookups_per_minute, window_s, gate=gate, clock=clock, sleep=sleep),
            saves=RateLimiter(saves_per_minute, window_s, gate=gate, clock=clock, sleep=sleep),
            gate=gate,
        )

    @classmethod
    def from_settings(cls, settings: WaybackSettings) -> ArchiveLimits:
        return cls.create(
            lookups_per_minute=settings.cdx_per_minute, saves_per_minute=settings.save_per_minute
        )


_SHARED: dict[str, ArchiveLimits] = {}
_SHARED_LOCK = threading.Lock()


def shared_limits(settings: WaybackSettings) -> ArchiveLimits:
    """The process-wide limits for the archive at `settings.base_url` (created on first use)."""
    key = settings.base_url.rstrip("/").lower()
    with _SHARED_LOCK:
        limits = _SHARED.get(key)
        if limits is None:
            limits = _SHARED[key] = ArchiveLimits.from_settings(settings)
        return limits
