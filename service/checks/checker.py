"""The HTTP checker: one check = HEAD (then GET if needed), redirects hop by hop, one deadline.

Network problems never raise: every failure becomes an `Observation` with an `ErrorKind`, which
`classify` turns into an `Outcome`. Seams for later policies: `observe` (what was seen, body
included), `HostLimiter` (per-host politeness, `hold` for Retry-After/backoff), `_needs_get`.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from types import TracebackType

import httpx
from aiohttp.abc import AbstractResolver

from service.checks.body import extract_title, read_bounded
from service.checks.classify import REDIRECTS, Observation, classify, describe
from service.checks.client import build_client
from service.checks.errors import ErrorKind, failure_of
from service.checks.guard import check_literal
from service.checks.headers import parse_retry_after
from service.checks.limits import HostLimiter
from service.model import CheckResult, Hop
from service.settings import ChecksSettings

Clock = Callable[[], datetime]

# A HEAD failure after which a GET may still work (servers that mishandle HEAD).
_HEAD_SPECIFIC_ERRORS = frozenset(
    {ErrorKind.DISCONNECTED, ErrorKind.PROTOCOL, ErrorKind.CONNECTION}
)


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class _Attempt:
    """Mutable state of one check: the deadline scope, the hops so far, time spent waiting."""

    scope: asyncio.Timeout | None = None
    hops: list[Hop] = field(default_factory=list)
    waited_s: float = 0.0
    last_url: str | None = None
    _remaining: float | None = None

    def pause(self) -> None:
        """Stop the deadline clock: queueing for a host's turn is not part of the check."""
        if self.scope is None or (when := self.scope.when()) is None:
            return
        self._remaining = when - asyncio.get_running_loop().time()
        self.scope.reschedule(None)

    def resume(self, waited_s: float) -> None:
        """Restart the deadline clock with the time that was left."""
        self.waited_s += waited_s
        if self.scope is not None and self._remaining is not None:
            self.scope.reschedule(asyncio.get_running_loop().time() + self._remaining)
            self._remaining = None


class Checker:
    """Checks http(s) URLs. Use as `async with Checker(settings) as checker: ...`.

    - `client`: an httpx.AsyncClient to use (not closed by the checker); default: `build_client`
      with `resolver` (the guard's base resolver) and `verify`, closed on exit.
    - `clock`: aware UTC datetime for `checked_at` and HTTP-date `Retry-After`.
    - `per_host_interval_s`: minimum gap between requests to one host; default
      `settings.per_host_interval_s` (the daemon's); `linkwatch check` passes
      `settings.oneshot_interval_s`.
    - `head_first`: HEAD, then GET when HEAD fails; False sends GET directly (reads the body).
    """

    def __init__(
        self,
        settings: ChecksSettings,
        *,
        client: httpx.AsyncClient | None = None,
        resolver: AbstractResolver | None = None,
        clock: Clock = utc_now,
        per_host_interval_s: float | None = None,
        verify: ssl.SSLContext | bool = True,
        head_first: bool = True,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.head_first = head_first
        self._owns_client = client is None
        self.client = (
            client
            if client is not None
            else build_client(settings, resolver=resolver, verify=verify)
        )
        interval = (
            settings.per_host_interval_s if per_host_interval_s is None else per_host_interval_s
        )
        self.limiter = HostLimiter(settings.per_host_concurrency, interval)
        self._global = asyncio.Semaphore(settings.concurrency)
        self._inflight: dict[str, asyncio.Future[CheckResult]] = {}

    async def __aenter__(self) -> Checker:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._owns_client:
            await self.client.aclose()

    # -- public API ---------------------------------------------------------------------------

    async def check(self, url: str) -> CheckResult:
        """Check one URL. Concurrent calls for the same URL share one check."""
        running = self._inflight.get(url)
        if running is not None:
            return await asyncio.shield(running)
        future: asyncio.Future[CheckResult] = asyncio.get_running_loop().create_future()
        self._inflight[url] = future
        try:
            async with self._global:
                result = await self._check(url)
            future.set_result(result)
            return result
        except asyncio.CancelledError:
            future.cancel()
            raise
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: no "never retrieved" warning when nobody waits
            raise
        finally:
            del self._inflight[url]

    async def check_many(
        self,
        urls: Iterable[str],
        on_result: Callable[[CheckResult], None] | None = None,
    ) -> dict[str, CheckResult]:
        """Check each distinct URL once, hosts interleaved; `on_result` as each one finishes.

        Returns the results keyed by URL, in the order the URLs were first given.
        """
        distinct = list(OrderedDict.fromkeys(urls))
        tasks = [asyncio.create_task(self.check(u)) for u in _interleave_hosts(distinct)]
        results: dict[str, CheckResult] = {}
        try:
            for next_done in asyncio.as_completed(tasks):
                result = await next_done
                results[result.url] = result
                if on_result is not None:
                    on_result(result)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        return {u: results[u] for u in distinct}

    async def observe(self, url: str) -> Observation:
        """What one check of `url` sees (no classification), within the deadline."""
        attempt = _Attempt()
        started = time.perf_counter()
        timeout_s = self.settings.timeout_s
        try:
            async with asyncio.timeout(timeout_s) as scope:
                attempt.scope = scope
                first = "HEAD" if self.head_first else "GET"
                obs = await self._follow(url, first, attempt)
                if first == "HEAD" and _needs_get(obs):
                    attempt.hops.clear()
                    obs = await self._follow(url, "GET", attempt)
        except TimeoutError:
            obs = Observation(
                url=url,
                final_url=attempt.last_url,
                hops=tuple(attempt.hops),
                error=ErrorKind.TIMEOUT,
                error_detail=f"no complete answer within {timeout_s:g} s",
            )
        elapsed = time.perf_counter() - started - attempt.waited_s
        return _with_latency(obs, elapsed)

    # -- one check ----------------------------------------------------------------------------

    async def _check(self, url: str) -> CheckResult:
        checked_at = self.clock()
        obs = await self.observe(url)
        outcome = classify(obs)
        return CheckResult(
            url=url,
            outcome=outcome,
            checked_at=checked_at,
            http_status=obs.status,
            final_url=obs.final_url,
            hops=obs.hops,
            latency_ms=obs.latency_ms,
            error=describe(obs, outcome),
            retry_after_s=obs.retry_after_s,
            permanent_redirect=obs.permanent_redirect,
        )

    async def _follow(self, url: str, method: str, attempt: _Attempt) -> Observation:
        """Request `url` and follow redirects hop by hop (each hop guarded and rate-limited)."""
        cookies = httpx.Cookies()  # per check: some sites set a cookie and redirect to themselves
        seen: set[tuple[str, str, str]] = set()
        current = url
        redirects = 0

        def failed(kind: ErrorKind, detail: str) -> Observation:
            return Observation(
                url=url,
                final_url=current,
                hops=tuple(attempt.hops),
                method=method,
                error=kind,
                error_detail=detail,
            )

        while True:
            attempt.last_url = current
            try:
                target = httpx.URL(current)
            except (httpx.InvalidURL, TypeError) as exc:
                kind = ErrorKind.BAD_REDIRECT if redirects else ErrorKind.INVALID_URL
                return failed(kind, f"invalid URL {current!r}: {exc}")
            if target.scheme not in {"http", "https"} or not target.host:
                kind = ErrorKind.BAD_REDIRECT if redirects else ErrorKind.INVALID_URL
                return failed(kind, f"cannot fetch {current!r}")
            request = self.client.build_request(method, target, cookies=cookies)
            agent = self._user_agent_for(target.host)
            if agent is not None:
                request.headers["User-Agent"] = agent
            key = (method, str(target), request.headers.get("cookie", ""))
            if key in seen:
                return failed(ErrorKind.REDIRECT_LOOP, f"redirect loop back to {current}")
            seen.add(key)
            try:
                check_literal(target.host, allow_private=self.settings.allow_private)
                attempt.pause()
                async with self.limiter.slot(target.host) as waited:
                    attempt.resume(waited)
                    response = await self.client.send(request, stream=True)
                    try:
                        cookies.extract_cookies(response)
                        status = response.status_code
                        if status in REDIRECTS:
                            location = response.headers.get("location")
                            if not location:
                                attempt.hops.append(Hop(current, status))
                                return failed(
                                    ErrorKind.BAD_REDIRECT, f"HTTP {status} without Location"
                                )
                            try:
                                nxt = str(target.join(location.strip()))
                            except (httpx.InvalidURL, ValueError) as exc:
                                attempt.hops.append(Hop(current, status, location))
                                return failed(
                                    ErrorKind.BAD_REDIRECT, f"invalid Location {location!r}: {exc}"
                                )
                            attempt.hops.append(Hop(current, status, nxt))
                        else:
                            return await self._final(url, current, method, response, attempt)
                    finally:
                        await response.aclose()
            except Exception as exc:  # every network failure becomes an observation
                kind, detail = failure_of(exc)
                return failed(kind, detail)
            redirects += 1
            if redirects > self.settings.max_redirects:
                return failed(
                    ErrorKind.REDIRECT_LIMIT, f"more than {self.settings.max_redirects} redirects"
                )
            if status == 303 and method != "HEAD":
                method = "GET"
            current = nxt

    async def _final(
        self, url: str, current: str, method: str, response: httpx.Response, attempt: _Attempt
    ) -> Observation:
        """The final (non-redirect) response: status, headers, and a bounded body for GET."""
        attempt.hops.append(Hop(current, response.status_code))
        content_type = response.headers.get("content-type")
        body = b""
        body_error: str | None = None
        if method == "GET":
            try:
                decoded = await read_bounded(
                    response.aiter_raw(),
                    response.headers.get("content-encoding"),
                    self.settings.max_body_bytes,
                )
                body, body_error = bytes(decoded.out), decoded.error
            except Exception as exc:  # a body cut short does not change the status seen
                body_error = failure_of(exc)[1]
        title = (
            extract_title(body, content_type) if body and "html" in (content_type or "") else None
        )
        return Observation(
            url=url,
            status=response.status_code,
            final_url=current,
            hops=tuple(attempt.hops),
            method=method,
            content_type=content_type,
            title=title,
            body=body,
            body_error=body_error,
            retry_after_s=parse_retry_after(
                response.headers.get("retry-after"), self.clock(), self.settings.retry_after_cap_s
            ),
        )

    def _user_agent_for(self, host: str) -> str | None:
        agents = self.settings.user_agents
        if not agents:
            return None
        host = host.lower()
        for name, agent in agents.items():
            suffix = name.lower().lstrip(".")
            if host == suffix or host.endswith("." + suffix):
                return agent
        return None


def _needs_get(obs: Observation) -> bool:
    """Whether a HEAD observation should be retried with GET."""
    if obs.error is not None:
        return obs.error in _HEAD_SPECIFIC_ERRORS
    return obs.status is not None and obs.status >= 400 and obs.status != 429


def _with_latency(obs: Observation, elapsed_s: float) -> Observation:
    return replace(obs, latency_ms=max(0, round(elapsed_s * 1000)))


def _interleave_hosts(urls: list[str]) -> list[str]:
    """Round-robin over hosts, so one big host does not hold every global slot waiting its turn."""
    by_host: OrderedDict[str, list[str]] = OrderedDict()
    for url in urls:
        try:
            host = httpx.URL(url).host
        except (httpx.InvalidURL, TypeError):
            host = ""
        by_host.setdefault(host, []).append(url)
    out: list[str] = []
    queues = [list(reversed(q)) for q in by_host.values()]
    while queues:
        for queue in queues:
            out.append(queue.pop())
        queues = [q for q in queues if q]
    return out
