"""The HTTP checker: one check = HEAD (then GET if needed), redirects hop by hop, one deadline.

Network problems never raise: every failure becomes an `Observation` with an `ErrorKind`, which
`classify` turns into an `Outcome`. Within the check's deadline (the README):

- transient outcomes are retried (`retry.py`: 2 retries, 1 s doubling, Retry-After honoured);
- every request waits for its host's turn (`limits.HostLimiter`: concurrency, interval,
  Retry-After and 429/5xx backoff holding the whole host, one request per URL at a time);
- a 2xx on a deep URL is compared with a random sibling (`soft404.py`; probe answers cached
  per host and directory, one probe in flight per key);
- with `checks.check_fragments`, the `#anchors` asked for are looked up in the HTML
  (`fragments.py`): a missing one is a warning, never death.
"""

from __future__ import annotations

import asyncio
import functools
import random
import ssl
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import TracebackType
from urllib.parse import urlsplit

import httpx
from aiohttp.abc import AbstractResolver

from service.checks import soft404
from service.checks.body import extract_title, read_bounded
from service.checks.challenge import is_challenge
from service.checks.classify import REDIRECTS, Observation, classify, describe
from service.checks.client import GuardedTransport, build_client, build_transport, lean_request
from service.checks.errors import ErrorKind, failure_of
from service.checks.fragments import fragment_warning, missing_fragments
from service.checks.guard import check_literal
from service.checks.headers import parse_retry_after
from service.checks.limits import HostLimiter
from service.checks.retry import RetryPolicy
from service.clock import Clock
from service.clock import utcnow as utc_now
from service.model import CheckResult, Hop, Outcome
from service.settings import ChecksSettings

# A HEAD failure after which a GET may still work (servers that mishandle HEAD).
_HEAD_SPECIFIC_ERRORS = frozenset(
    {ErrorKind.DISCONNECTED, ErrorKind.PROTOCOL, ErrorKind.CONNECTION}
)


@dataclass
class _Attempt:
    """Mutable state of one check: the deadline scope, the hops so far, time spent waiting."""

    scope: asyncio.Timeout | None = None
    hops: list[Hop] = field(default_factory=list)
    waited_s: float = 0.0
    last_url: str | None = None
    best: Observation | None = None  # the most complete answer so far (kept on a late timeout)
    outcome: Outcome | None = None  # classify(best), while best is the answer retried on
    probe: soft404.Verdict | None = None  # the soft-404 probes' verdict on best, once judged
    _remaining: float | None = None

    def remaining(self) -> float | None:
        """Seconds left before the deadline (None: no deadline)."""
        if self.scope is None or (when := self.scope.when()) is None:
            return self._remaining
        return when - asyncio.get_running_loop().time()

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
    - `rng`: the random source of soft-404 probe URLs; `monotonic`: the probe cache's clock.
    - `soft404_probe`: override `settings.soft404_probe` (the random-sibling probe).
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
        rng: random.Random | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        soft404_probe: bool | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.head_first = head_first
        self.rng = rng or random.Random()
        self.probe_enabled = settings.soft404_probe if soft404_probe is None else soft404_probe
        self.probe_cache = soft404.ProbeCache(settings.soft404_cache_s, clock=monotonic)
        self._probes: dict[str, asyncio.Task[soft404.PageSeen]] = {}
        self.retry = RetryPolicy.from_settings(settings)
        self._owns_client = client is None
        interval = (
            settings.per_host_interval_s if per_host_interval_s is None else per_host_interval_s
        )
        self.limiter = HostLimiter(
            settings.per_host_concurrency,
            interval,
            backoff_s=settings.retry_backoff_s,
            backoff_cap_s=settings.retry_after_cap_s,
        )
        # With its own client, the checker sends through the transport directly: the client's
        # per-request work (its cookie jar, auth and redirect bookkeeping) is all unused here
        # and costs a good share of a request's CPU. An injected client is used as is.
        self._transport: GuardedTransport | None = None
        if client is None:
            self._transport = build_transport(
                settings,
                resolver=resolver,
                verify=verify,
                # The "headers sent" trace only matters when requests are spaced out: aiohttp
                # runs every trace signal of every request once a trace config is installed.
                on_sent=self._sent if interval > 0 else None,
            )
            client = build_client(settings, transport=self._transport)
        self.client = client
        self._timeout = client.timeout.as_dict()
        if self._transport is not None:
            # Every request runs under its check's (or probe's) deadline of `timeout_s`, which
            # starts first: read and pool timeouts of the same length could never fire first,
            # and aiohttp re-arms its read timer on every chunk received. Connect stays (its
            # own, shorter limit, and its own error).
            self._timeout = {**self._timeout, "read": None, "pool": None, "write": None}
        # Requests in flight, all hosts (taken once the host's turn has come: a check waiting
        # for a busy host holds no slot that another host's check could use).
        self._global = asyncio.Semaphore(settings.concurrency)
        self._inflight: dict[str, asyncio.Future[CheckResult]] = {}

    def _sent(self, host: str) -> None:
        self.limiter.sent(host)

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
        probes = [t for t in self._probes.values() if not t.done()]
        for task in probes:
            task.cancel()
        if probes:
            await asyncio.gather(*probes, return_exceptions=True)
        if self._owns_client:
            await self.client.aclose()

    # -- public API ---------------------------------------------------------------------------

    async def check(self, url: str, fragments: Sequence[str] = ()) -> CheckResult:
        """Check one URL. Concurrent calls for the same URL share one check.

        `fragments` (`"#usage"`, ...) are looked up in the page when `check_fragments` is on.
        """
        running = self._inflight.get(url)
        if running is not None:
            return await asyncio.shield(running)
        future: asyncio.Future[CheckResult] = asyncio.get_running_loop().create_future()
        self._inflight[url] = future
        try:
            result = await self._check(url, fragments)
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
        fragments: Mapping[str, Iterable[str]] | None = None,
    ) -> dict[str, CheckResult]:
        """Check each distinct URL once, hosts interleaved; `on_result` as each one finishes.

        `fragments` maps a URL to the `#anchors` its occurrences ask for (see `check`).
        Returns the results keyed by URL, in the order the URLs were first given.
        """
        distinct = list(OrderedDict.fromkeys(urls))
        wanted = fragments or {}
        # A bounded pool of workers (not a task per URL up front: memory stays flat whatever
        # the number of URLs, and no more checks can be in flight than the global limit
        # anyway), each taking the next URL of a host that has a free slot (_HostQueues).
        queues = _HostQueues(distinct, self.settings.per_host_concurrency)
        results: dict[str, CheckResult] = {}

        async def worker() -> None:
            while (url := await queues.next()) is not None:
                try:
                    result = await self.check(url, tuple(wanted.get(url, ())))
                finally:
                    queues.done(url)
                results[url] = result
                if on_result is not None:
                    on_result(result)

        workers = [
            asyncio.create_task(worker())
            for _ in range(min(max(1, self.settings.concurrency), len(distinct)))
        ]
        try:
            await asyncio.gather(*workers)
        finally:
            for task in workers:
                task.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
        return {u: results[u] for u in distinct}

    async def observe(self, url: str, *, want_body: bool = False) -> Observation:
        """What one check of `url` sees (no classification), within the deadline.

        Transient answers are retried; a 2xx on a deep URL is probed for a soft-404 (the
        verdict in `Observation.probe`). `want_body` sends GET first (reads the body).
        An answer seen before the deadline expired is kept over a late timeout.
        """
        attempt = _Attempt()
        started = time.perf_counter()
        timeout_s = self.settings.timeout_s
        first = "GET" if want_body or not self.head_first else "HEAD"
        try:
            async with asyncio.timeout(timeout_s) as scope:
                attempt.scope = scope
                await self._observe_retrying(url, first, attempt)
                if attempt.best is not None and self._should_probe(attempt.best, attempt.outcome):
                    await self._judge_soft404(attempt)
        except TimeoutError:
            if attempt.best is None:
                attempt.best = Observation(
                    url=url,
                    final_url=attempt.last_url,
                    hops=tuple(attempt.hops),
                    error=ErrorKind.TIMEOUT,
                    error_detail=f"no complete answer within {timeout_s:g} s",
                )
        elapsed = time.perf_counter() - started - attempt.waited_s
        assert attempt.best is not None  # set by every path above
        probe = attempt.probe.value if attempt.probe is not None else attempt.best.probe
        return replace(attempt.best, latency_ms=max(0, round(elapsed * 1000)), probe=probe)

    # -- one check ----------------------------------------------------------------------------

    async def _observe_retrying(self, url: str, first: str, attempt: _Attempt) -> None:
        """One attempt (HEAD, then GET if needed), again while the retry policy says so."""
        attempts = 0
        method = first
        while True:
            attempt.hops.clear()
            obs = await self._follow(url, method, attempt)
            if method == "HEAD" and _needs_get(obs):
                attempt.hops.clear()
                method = "GET"  # retries go straight to GET too
                obs = await self._follow(url, method, attempt)
            attempt.best = obs
            attempt.outcome = outcome = classify(obs)
            attempts += 1
            pause = self.retry.delay(attempts, outcome, obs.retry_after_s, attempt.remaining())
            if pause is None:
                return
            await asyncio.sleep(pause)

    def _should_probe(self, obs: Observation, outcome: Outcome | None) -> bool:
        if not self.probe_enabled or obs.error is not None or obs.status is None:
            return False
        if not 200 <= obs.status < 300 or outcome not in {Outcome.OK, Outcome.MOVED}:
            return False
        # (A home page has no probe: `_judge_soft404` finds none and leaves the answer as is.)
        cheap = soft404.cheap_verdict(obs.url, obs.final_url, obs.title, obs.body)
        return cheap is soft404.Verdict.UNKNOWN

    async def _judge_soft404(self, attempt: _Attempt) -> None:
        """Compare the link's 2xx answer with its random-sibling probes; set `probe`."""
        link = attempt.best
        assert link is not None
        verdicts: list[soft404.Verdict] = []
        probes = soft404.probe_keys(link.url)
        if not probes:
            return
        for probe in probes:
            seen = await self._probe(probe, attempt)
            verdict = soft404.judge_probe(_seen(link), seen)
            if verdict is soft404.Verdict.UNKNOWN and _is_2xx(seen.status) and link.method != "GET":
                # The probe answered 2xx elsewhere: the bodies decide, so read the link's.
                attempt.hops.clear()
                got = await self._follow(link.url, "GET", attempt)
                if got.error is not None or not _is_2xx(got.status):
                    break
                link = attempt.best = got
                if classify(got) not in {Outcome.OK, Outcome.MOVED}:
                    return  # the body itself tells (error title, challenge...)
                verdict = soft404.judge_probe(_seen(link), seen)
            if verdict is soft404.Verdict.SOFT_404:
                attempt.probe = verdict
                return
            verdicts.append(verdict)
        alive = bool(verdicts) and all(v is soft404.Verdict.ALIVE for v in verdicts)
        attempt.probe = soft404.Verdict.ALIVE if alive else soft404.Verdict.UNKNOWN

    async def _probe(self, probe: soft404.ProbeKey, attempt: _Attempt) -> soft404.PageSeen:
        """The (cached) answer to a probe; one probe in flight per cache key."""
        cached = self.probe_cache.get(probe.key)
        if cached is not None:
            return cached
        task = self._probes.get(probe.key)
        if task is None or task.done():
            task = asyncio.create_task(self._run_probe(probe.draw(self.rng)))
            self._probes[probe.key] = task
            task.add_done_callback(functools.partial(self._forget_probe, probe.key))
        attempt.pause()  # the probe has its own deadline; waiting for it is not the link's time
        started = time.monotonic()
        try:
            return await asyncio.shield(task)
        finally:
            attempt.resume(time.monotonic() - started)

    def _forget_probe(self, key: str, task: asyncio.Task[soft404.PageSeen]) -> None:
        if self._probes.get(key) is task:
            del self._probes[key]

    async def _run_probe(self, probe: soft404.Probe) -> soft404.PageSeen:
        sub = _Attempt()
        try:
            async with asyncio.timeout(self.settings.timeout_s) as scope:
                sub.scope = scope
                obs = await self._follow(probe.url, "GET", sub)
        except TimeoutError:
            return soft404.PageSeen(None, None)
        seen = soft404.PageSeen.of(
            obs.status, obs.final_url, obs.body if _is_2xx(obs.status) else None
        )
        if obs.error is None and obs.status is not None and obs.status not in {429, 503}:
            self.probe_cache.put(probe.key, seen)
        return seen

    async def _check(self, url: str, fragments: Sequence[str] = ()) -> CheckResult:
        checked_at = self.clock()
        wanted = list(fragments) if self.settings.check_fragments else []
        obs = await self.observe(url, want_body=bool(wanted))
        outcome = classify(obs)
        warnings: tuple[str, ...] = ()
        if wanted and outcome in {Outcome.OK, Outcome.MOVED} and obs.method == "GET":
            warnings = self._fragment_warnings(obs, wanted)
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
            warnings=warnings,
        )

    def _fragment_warnings(self, obs: Observation, fragments: list[str]) -> tuple[str, ...]:
        """`fragment #x not found` for each anchor missing from an HTML page read to its end."""
        if "html" not in (obs.content_type or "") or obs.body_error:
            return ()
        if len(obs.body) >= self.settings.max_body_bytes:
            return ()  # the page was cut at the cap: the anchor may be further down
        return tuple(fragment_warning(f) for f in missing_fragments(obs.body, fragments))

    async def _follow(self, url: str, method: str, attempt: _Attempt) -> Observation:
        """Request `url` and follow redirects hop by hop (each hop guarded and rate-limited)."""
        # Per check, created when a server sets one: some sites set a cookie and redirect to
        # themselves (most never do, and httpx's cookie handling is costly per request).
        cookies: httpx.Cookies | None = None
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
            request = self._request(method, target, cookies)
            target_url = str(target)
            key = (method, target_url, request.headers.get("cookie", "") if cookies else "")
            if key in seen:
                return failed(ErrorKind.REDIRECT_LOOP, f"redirect loop back to {current}")
            seen.add(key)
            try:
                check_literal(target.host, allow_private=self.settings.allow_private)
                async with _Turn(self, target.host, target_url, attempt):
                    response = await self._send(request)
                    try:
                        if "set-cookie" in response.headers:
                            if cookies is None:
                                cookies = httpx.Cookies()
                            cookies.extract_cookies(response)
                        status = response.status_code
                        self.limiter.record(target.host, status, self._retry_after(response))
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
        challenge = is_challenge(response.status_code, title, body, response.headers)
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
            retry_after_s=self._retry_after(response),
            challenge=challenge,
        )

    def _request(
        self, method: str, target: httpx.URL, cookies: httpx.Cookies | None
    ) -> httpx.Request:
        """One hop's request: the client's headers, the host's User-Agent, the check's cookies.

        Built directly rather than by `client.build_request`, whose merging of base URL, query
        parameters and headers parses every URL twice; for the checker's own transport, without
        httpx's body encoding either (`lean_request`).
        """
        agent = self._user_agent_for(target.host)
        if cookies or agent is not None:
            headers = httpx.Headers(self.client.headers)
            if agent is not None:
                headers["User-Agent"] = agent
            if cookies:
                # The cookies that apply to this URL (domain, path, secure), as httpx sends them.
                jar = httpx.Request(method, target)
                cookies.set_cookie_header(jar)
                if "Cookie" in jar.headers:
                    headers["Cookie"] = jar.headers["Cookie"]
        else:
            headers = self.client.headers
        extensions = {"timeout": self._timeout}
        if self._transport is not None:
            return lean_request(method, target, headers, extensions)
        return httpx.Request(method, target, headers=headers, extensions=extensions)

    async def _send(self, request: httpx.Request) -> httpx.Response:
        """Send one request (no redirects followed); the response is streamed (close it)."""
        if self._transport is None:
            return await self.client.send(request, stream=True)
        response = await self._transport.handle_async_request(request)
        response.request = request
        return response

    def _retry_after(self, response: httpx.Response) -> float | None:
        """The response's `Retry-After` in seconds (capped), None without one."""
        value = response.headers.get("retry-after")
        if value is None:
            return None
        return parse_retry_after(value, self.clock(), self.settings.retry_after_cap_s)

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


class _Turn:
    """One request's turn: its host's slot (HostLimiter), then one of the `concurrency`
    request slots. Waiting for either stops the check's deadline clock; when both are free
    there is no pause (the common case: no timer rescheduled twice per request)."""

    __slots__ = ("_attempt", "_checker", "_queued", "_slot", "_started")

    def __init__(self, checker: Checker, host: str, url: str, attempt: _Attempt) -> None:
        self._checker, self._attempt = checker, attempt
        self._queued = not checker.limiter.free(host, url) or checker._global.locked()
        self._slot = checker.limiter.slot(host, url)
        self._started = 0.0

    async def __aenter__(self) -> None:
        if self._queued:
            self._attempt.pause()
            self._started = time.monotonic()
        await self._slot.__aenter__()
        try:
            await self._checker._global.acquire()
        except BaseException:
            await self._slot.__aexit__(None, None, None)
            raise
        if self._queued:
            self._attempt.resume(time.monotonic() - self._started)

    async def __aexit__(self, *exc_info: object) -> None:
        self._checker._global.release()
        await self._slot.__aexit__(*exc_info)


def _needs_get(obs: Observation) -> bool:
    """Whether a HEAD observation should be retried with GET."""
    if obs.error is not None:
        return obs.error in _HEAD_SPECIFIC_ERRORS
    if obs.retry_after_s is not None:
        return False  # the server asked us to come back later: not now, not with GET either
    return obs.status is not None and obs.status >= 400 and obs.status != 429


def _is_2xx(status: int | None) -> bool:
    return status is not None and 200 <= status < 300


def _seen(obs: Observation) -> soft404.PageSeen:
    """The link's answer for comparison with a probe (its body only if a GET read it)."""
    return soft404.PageSeen.of(obs.status, obs.final_url, obs.body if obs.method == "GET" else None)


def _host_of(url: str) -> str:
    # A scheduling key only: the stdlib's split is enough (and cheaper than httpx's).
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""


class _HostQueues:
    """`check_many`'s work list: URLs per host, handed out round-robin over the hosts that
    have a free slot (fewer of their checks running than `per_host`).

    One shared queue in host-interleaved order would hand a freed worker the next URL in line
    whatever its host: a worker would wait for a busy host's turn while another host had a
    slot free and nobody to use it. Here a URL is handed out only when its host has a slot,
    so every worker is busy while any host can take a request. (Redirect hops to other hosts
    and Retry-After holds still wait in the HostLimiter, as before.)
    """

    def __init__(self, urls: list[str], per_host: int) -> None:
        self.per_host = max(1, per_host)
        self._pending: dict[str, deque[str]] = {}
        for url in urls:
            self._pending.setdefault(_host_of(url), deque()).append(url)
        self._running: dict[str, int] = dict.fromkeys(self._pending, 0)
        self._hosts: dict[str, str] = {}  # url -> its host, while it is being checked
        self._ready: deque[str] = deque(self._pending)  # hosts with a URL and a free slot
        self._left = len(urls)
        self._waiters: deque[asyncio.Future[None]] = deque()

    async def next(self) -> str | None:
        """The next URL to check; None when every URL has been handed out."""
        while self._left:
            if self._ready:
                host = self._ready.popleft()
                queue = self._pending[host]
                url = queue.popleft()
                self._left -= 1
                self._running[host] += 1
                self._hosts[url] = host
                if queue and self._running[host] < self.per_host:
                    self._ready.append(host)
                return url
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            except asyncio.CancelledError:
                if waiter.done() and not waiter.cancelled():
                    self._wake_one()  # pass on the wake-up this worker will not use
                raise
        self._wake_all()  # nothing left: the workers still waiting can finish
        return None

    def done(self, url: str) -> None:
        """`url`'s check has finished: its host's slot is free again."""
        host = self._hosts.pop(url)
        self._running[host] -= 1
        if self._pending[host] and self._running[host] == self.per_host - 1:
            self._ready.append(host)  # it was full: back in the round
            self._wake_one()

    def _wake_one(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    def _wake_all(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
