"""Per-host politeness: at most N requests in flight per host, and a minimum gap between starts.

Used around every single request (each redirect hop is a request to its own host). `hold` keeps
a host quiet for a while; `record` applies the politeness rules of issue 3 after each answer:

- a `Retry-After` (429, 503, ...) holds the whole host for that long (capped by the caller);
- after a 429 or 5xx the host is held for an exponential backoff (base, 2 x base, 4 x base...,
  capped), reset by the host's next answer that is neither;
- `slot(host, url)` also makes sure two requests for the same URL never run at once.
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
    failures: int = 0  # consecutive 429/5xx answers (exponential backoff)


def backs_off(status: int) -> bool:
    """Answers after which a host gets an exponential backoff: 429 and 5xx."""
    return status == 429 or 500 <= status < 600


class HostLimiter:
    """Per-host concurrency limit and minimum interval between request starts."""

    def __init__(
        self,
        per_host: int,
        interval_s: float,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        backoff_s: float = 1.0,
        backoff_cap_s: float = 60.0,
    ) -> None:
        if per_host < 1:
            raise ValueError("per_host must be >= 1")
        self.per_host = per_host
        self.interval_s = max(0.0, interval_s)
        self.backoff_s = max(0.0, backoff_s)
        self.backoff_cap_s = max(0.0, backoff_cap_s)
        self._monotonic = monotonic
        self._sleep = sleep
        self._hosts: dict[str, _HostState] = {}
        self._urls: dict[str, tuple[asyncio.Lock, int]] = {}

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

    def record(self, host: str, status: int, retry_after_s: float | None = None) -> float:
        """Apply the politeness rules after an answer from `host`; the hold imposed (s).

        `retry_after_s` is the answer's parsed (and capped) Retry-After, if any.
        """
        state = self._state(host.lower())
        hold = 0.0
        if backs_off(status):
            state.failures += 1
            exponent = min(state.failures - 1, 30)
            hold = min(self.backoff_s * float(2**exponent), self.backoff_cap_s)
        else:
            state.failures = 0
        if retry_after_s is not None:
            hold = max(hold, retry_after_s)
        if hold > 0:
            self.hold(host, hold)
        return hold

    def sent(self, host: str) -> None:
        """A request to `host` has just been sent: the next one starts an interval later.

        (The interval is first counted from the slot's start; counting it again from the
        moment the request really left keeps connection set-up out of the gap.)
        """
        state = self._hosts.get(host.lower())
        if state is not None:
            state.next_start = max(state.next_start, self._monotonic() + self.interval_s)

    def backoff_failures(self, host: str) -> int:
        state = self._hosts.get(host.lower())
        return state.failures if state else 0

    def quiet_until(self, host: str) -> float:
        """Monotonic time before which no request to `host` starts (0 when unknown)."""
        state = self._hosts.get(host.lower())
        return state.next_start if state else 0.0

    def free(self, host: str, url: str | None = None) -> bool:
        """Whether `slot(host, url)` would start at once (no queue, no hold, no interval)."""
        state = self._hosts.get(host.lower())
        if state is not None and (state.semaphore.locked() or state.next_start > self._monotonic()):
            return False
        return url is None or url not in self._urls

    @asynccontextmanager
    async def _url_lock(self, url: str | None) -> AsyncIterator[None]:
        if url is None:
            yield
            return
        lock, users = self._urls.get(url) or (asyncio.Lock(), 0)
        self._urls[url] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._urls[url]
            if users <= 1:
                del self._urls[url]
            else:
                self._urls[url] = (lock, users - 1)

    @asynccontextmanager
    async def slot(self, host: str, url: str | None = None) -> AsyncIterator[float]:
        """Wait for a turn on `host` (and for `url` to be free); yields the seconds waited."""
        state = self._state(host.lower())
        state.users += 1
        started = self._monotonic()
        try:
            async with self._url_lock(url), state.semaphore:
                while (wait := state.next_start - self._monotonic()) > 0:
                    await self._sleep(wait)
                state.next_start = self._monotonic() + self.interval_s
                yield self._monotonic() - started
        finally:
            state.users -= 1
