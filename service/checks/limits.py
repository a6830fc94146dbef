"""Per-host politeness: at most N requests in flight per host, and a minimum gap between starts.

Used around every single request (each redirect hop is a request to its own host). `hold` lets
later policies (Retry-After, backoff after 429/5xx) keep a host quiet for a while.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

_PRUNE_AT = 4096


@dataclass
class _HostState:
    semaphore: asyncio.Semaphore
    next_start: float = 0.0
    users: int = 0


class HostLimiter:
    """Per-host concurrency limit and minimum interval between request starts."""

    def __init__(
        self,
        per_host: int,
        interval_s: float,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if per_host < 1:
            raise ValueError("per_host must be >= 1")
        self.per_host = per_host
        self.interval_s = max(0.0, interval_s)
        self._monotonic = monotonic
        self._sleep = sleep
        self._hosts: dict[str, _HostState] = {}

    def _state(self, host: str) -> _HostState:
        state = self._hosts.get(host)
        if state is None:
            if len(self._hosts) >= _PRUNE_AT:
                self._prune()
            state = self._hosts[host] = _HostState(asyncio.Semaphore(self.per_host))
        return state

    def _prune(self) -> None:
        now = self._monotonic()
        for host in [h for h, s in self._hosts.items() if s.users == 0 and s.next_start <= now]:
            del self._hosts[host]

    def hold(self, host: str, seconds: float) -> None:
        """No new request to `host` starts for `seconds` from now (Retry-After, backoff)."""
        state = self._state(host.lower())
        state.next_start = max(state.next_start, self._monotonic() + max(0.0, seconds))

    def quiet_until(self, host: str) -> float:
        """Monotonic time before which no request to `host` starts (0 when unknown)."""
        state = self._hosts.get(host.lower())
        return state.next_start if state else 0.0

    @asynccontextmanager
    async def slot(self, host: str) -> AsyncIterator[float]:
        """Wait for a turn on `host`; yields the seconds spent waiting."""
        state = self._state(host.lower())
        state.users += 1
        started = self._monotonic()
        try:
            async with state.semaphore:
                while (wait := state.next_start - self._monotonic()) > 0:
                    await self._sleep(wait)
                state.next_start = self._monotonic() + self.interval_s
                yield self._monotonic() - started
        finally:
            state.users -= 1
