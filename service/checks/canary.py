"""The monitor's own connectivity: tell "the link is dead" from "the monitor has no network".

When the checks of a run fail at the network level (`dns_error`, `refused`, `timeout`,
`tls_error`) on most of its hosts (or, for a run with few hosts, on any), the canary URLs
(`checks.canaries`, a few highly available sites) are requested through the same HTTP client.
If every canary fails too, the monitor is offline: the run's network failures become
`offline` (which moves no link's health) instead of dead signals. Any HTTP answer from a
canary, whatever its status, proves the network works. An empty canary list disables this.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Protocol

import httpx

from service.model import CheckResult, Outcome

log = logging.getLogger("linkwatch.canary")

NETWORK_FAILURES = frozenset(
    {Outcome.DNS_ERROR, Outcome.REFUSED, Outcome.TIMEOUT, Outcome.TLS_ERROR}
)
FEW_HOSTS = 3  # a run on at most this many hosts asks the canaries after any network failure
DEFAULT_TIMEOUT_S = 10.0


class HasClient(Protocol):
    client: httpx.AsyncClient


ClientSource = httpx.AsyncClient | HasClient


def _host(url: str) -> str:
    try:
        return httpx.URL(url).host.lower()
    except (httpx.InvalidURL, TypeError):
        return ""


def _values(results: Iterable[CheckResult] | Mapping[str, CheckResult]) -> list[CheckResult]:
    return list(results.values() if isinstance(results, Mapping) else results)


def is_network_failure(result: CheckResult) -> bool:
    """A failure before any HTTP answer that a missing network also produces."""
    return result.outcome in NETWORK_FAILURES and result.http_status is None


def needs_canary(results: Iterable[CheckResult] | Mapping[str, CheckResult]) -> bool:
    """Whether the run's failures could be the monitor's own: ask the canaries.

    True when some check failed at the network level and either the run has few hosts
    (<= FEW_HOSTS), or most of its hosts, or most of its checks, failed that way.
    """
    values = _values(results)
    failed = [r for r in values if is_network_failure(r)]
    if not failed:
        return False
    hosts = {_host(r.url) for r in values}
    failed_hosts = {_host(r.url) for r in failed}
    return (
        len(hosts) <= FEW_HOSTS
        or 2 * len(failed_hosts) > len(hosts)
        or 2 * len(failed) > len(values)
    )


def as_offline(result: CheckResult) -> CheckResult:
    """A network failure re-labelled `offline` (other results are returned unchanged)."""
    if not is_network_failure(result):
        return result
    detail = f"the monitor is offline (canaries failed); saw: {result.error or result.outcome}"
    return replace(result, outcome=Outcome.OFFLINE, error=detail)


def offline_results(results: Mapping[str, CheckResult]) -> dict[str, CheckResult]:
    return {url: as_offline(r) for url, r in results.items()}


def _client_of(source: ClientSource) -> httpx.AsyncClient:
    if isinstance(source, httpx.AsyncClient):
        return source
    return source.client


def _timeout_of(source: ClientSource) -> float:
    settings = getattr(source, "settings", None)
    timeout = getattr(settings, "timeout_s", None)
    return float(timeout) if isinstance(timeout, int | float) else DEFAULT_TIMEOUT_S


async def _answers(client: httpx.AsyncClient, url: str, timeout_s: float) -> bool:
    try:
        async with asyncio.timeout(timeout_s):
            response = await client.head(url)
            await response.aclose()
        return True
    except Exception as exc:  # any failure to get an HTTP answer
        log.debug("canary %s failed: %s", url, exc)
        return False


async def canaries_answer(
    source: ClientSource, canaries: Sequence[str], timeout_s: float | None = None
) -> bool:
    """Whether at least one canary gives an HTTP answer (any status) within `timeout_s`."""
    client = _client_of(source)
    limit = _timeout_of(source) if timeout_s is None else timeout_s
    answers = await asyncio.gather(*(_answers(client, url, limit) for url in canaries))
    return any(answers)


async def monitor_is_offline(
    checker_or_client: ClientSource,
    canaries: Sequence[str],
    results: Iterable[CheckResult] | Mapping[str, CheckResult],
    *,
    timeout_s: float | None = None,
) -> bool:
    """Whether the run's results must be read as "the monitor is offline".

    False without canaries, or when `needs_canary(results)` is False; else True only when
    every canary fails through the checker's client (each within `timeout_s`, default the
    checker's `timeout_s`).
    """
    if not canaries or not needs_canary(results):
        return False
    online = await canaries_answer(checker_or_client, canaries, timeout_s)
    if not online:
        log.warning("the canaries fail too: the monitor itself is offline")
    return not online


class Connectivity:
    """The canary verdict for a long-running process (the daemon), single-flight and cached.

    `status()` asks the canaries at most once per `ttl_s` (concurrent callers share one
    round); it returns (online, fresh) where `fresh` says this call ran the canaries.
    With no canaries the monitor is always online.
    """

    def __init__(
        self,
        source: ClientSource,
        canaries: Sequence[str],
        *,
        ttl_s: float = 60.0,
        timeout_s: float | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.source = source
        self.canaries = list(canaries)
        self.ttl_s = ttl_s
        self.timeout_s = timeout_s
        self.monotonic = monotonic
        self.online: bool | None = None  # last verdict (None: never asked)
        self._checked_at: float | None = None
        self._running: asyncio.Task[bool] | None = None

    @property
    def enabled(self) -> bool:
        return bool(self.canaries)

    def stale(self) -> bool:
        return self._checked_at is None or self.monotonic() - self._checked_at >= self.ttl_s

    async def status(self, *, force: bool = False) -> tuple[bool, bool]:
        if not self.canaries:
            return True, False
        if self.online is not None and not force and not self.stale():
            return self.online, False
        running = self._running
        if running is not None and not running.done():
            return await asyncio.shield(running), False
        task = asyncio.create_task(canaries_answer(self.source, self.canaries, self.timeout_s))
        self._running = task
        online = await asyncio.shield(task)
        self.online = online
        self._checked_at = self.monotonic()
        return online, True
