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
from collections.abc import Awaitable, Callable
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

    async def _lock_url(self, url: str) -> None:
        """Wait until no other request for `url` runs (then this one holds it)."""
        lock, users = self._urls.get(url) or (asyncio.Lock(), 0)
        self._urls[url] = (lock, users + 1)
        try:
            await lock.acquire()
        except BaseException:
            self._forget_url(url)
            raise

    def _unlock_url(self, url: str) -> None:
        self._urls[url][0].release()
        self._forget_url(url)

    def _forget_url(self, url: str) -> None:
        lock, users = self._urls[url]
        if users <= 1:
            del self._urls[url]
        else:
            self._urls[url] = (lock, users - 1)

    def slot(self, host: str, url: str | None = None) -> _Slot:
        """Wait for a turn on `host` (and for `url` to be free); `async with` it, which gives
        the seconds waited."""
        return _Slot(self, self._state(host.lower()), url)


class _Slot:
    """One request's turn on its host (`HostLimiter.slot`): a class rather than a generator
    context manager, since it is entered around every request."""

    __slots__ = ("_limiter", "_state", "_url")

    def __init__(self, limiter: HostLimiter, state: _HostState, url: str | None) -> None:
        self._limiter, self._state, self._url = limiter, state, url

    async def __aenter__(self) -> float:
        limiter, state, url = self._limiter, self._state, self._url
        state.users += 1
        started = limiter._monotonic()
        try:
            if url is not None:
                await limiter._lock_url(url)
            try:
                await state.semaphore.acquire()
                try:
                    while (wait := state.next_start - limiter._monotonic()) > 0:
                        await limiter._sleep(wait)
                except BaseException:
                    state.semaphore.release()
                    raise
            except BaseException:
                if url is not None:
                    limiter._unlock_url(url)
                raise
        except BaseException:
            state.users -= 1
            raise
        state.next_start = limiter._monotonic() + limiter.interval_s
        return limiter._monotonic() - started

    async def __aexit__(self, *exc_info: object) -> None:
        self._state.semaphore.release()
        if self._url is not None:
            self._limiter._unlock_url(self._url)
        self._state.users -= 1
