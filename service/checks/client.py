"""The one shared HTTP client of the checker: httpx's API over aiohttp (httpx-aiohttp).

httpx's own transport is the bottleneck of a checker (DESIGN.md); `AiohttpTransport` keeps
httpx's requests, responses and exceptions over aiohttp's C parser. Name resolution belongs to
aiohttp's connector, which is given the network guard as its resolver.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable, Mapping
from http.cookiejar import DefaultCookiePolicy
from typing import Any

import aiohttp
import httpx
from aiohttp.abc import AbstractResolver
from httpx_aiohttp import AiohttpTransport
from httpx_aiohttp.transport import AiohttpResponseStream, map_aiohttp_exceptions
from multidict import CIMultiDict

from service import PROJECT_URL, __version__
from service.checks.guard import GuardedResolver, check_literal, parse_pins
from service.settings import ChecksSettings

ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
ACCEPT_LANGUAGE = "en-US,en;q=0.9,*;q=0.5"
# Only encodings the checker decodes itself with a bounded output (see body.py).
ACCEPT_ENCODING = "gzip, deflate"


def default_user_agent() -> str:
    return f"linkwatch/{__version__} (+{PROJECT_URL})"


def default_headers(settings: ChecksSettings) -> dict[str, str]:
    return {
        "User-Agent": settings.user_agent or default_user_agent(),
        "Accept": ACCEPT,
        "Accept-Language": ACCEPT_LANGUAGE,
        "Accept-Encoding": ACCEPT_ENCODING,
    }


# A body-less request's stream: requests built with it skip httpx's body encoding and its
# automatic headers (Host, Content-Length), which aiohttp sets itself (see `lean_request`).
EMPTY_BODY = httpx.ByteStream(b"")


def lean_request(
    method: str, url: httpx.URL, headers: httpx.Headers, extensions: dict[str, Any]
) -> httpx.Request:
    """A body-less request for a `GuardedTransport` (an eighth of the cost of the usual one).

    It has no `Host` header (aiohttp writes it from the URL, as httpx would); another transport
    needs a request built the usual way.
    """
    return httpx.Request(method, url, headers=headers, extensions=extensions, stream=EMPTY_BODY)


class GuardedTransport(AiohttpTransport):
    """AiohttpTransport that also guards IP-literal hosts, which aiohttp never resolves.

    Its session comes from `session_factory` (the TLS settings are the session's connector's:
    none are made here), and requests map onto aiohttp with less per-request work than the
    base class: the timeouts' `ClientTimeout` is built once per distinct timeout, the headers
    are copied without httpx's decoding, and a `lean_request` has no body to look at.
    """

    def __init__(
        self, session_factory: Callable[[], aiohttp.ClientSession], *, allow_private: bool
    ) -> None:
        # Not the base __init__: it builds an SSL context (the system trust store, tens of ms
        # per process) that a transport with its own session never uses.
        self.client = session_factory
        self.proxy = None
        self.limits = httpx.Limits()
        self.retries = 0
        self.socket_options = []
        self.uds = None
        self.local_address = None
        self.allow_private = allow_private
        self._timeouts: dict[tuple[float | None, ...], aiohttp.ClientTimeout] = {}

    def _timeout(self, timeout: Mapping[str, float | None]) -> aiohttp.ClientTimeout:
        key = (timeout.get("connect"), timeout.get("read"), timeout.get("pool"))
        found = self._timeouts.get(key)
        if found is None:
            found = self._timeouts[key] = aiohttp.ClientTimeout(
                sock_connect=key[0], sock_read=key[1], connect=key[2]
            )
        return found

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        check_literal(request.url.host, allow_private=self.allow_private)
        if not isinstance(self.client, aiohttp.ClientSession):
            self.client = self.get_client()
        data: bytes | httpx.AsyncByteStream | None = None
        if request.stream is not EMPTY_BODY:
            try:
                data = request.content or None
            except httpx.RequestNotRead:
                data = request.stream  # type: ignore[assignment]
                request.headers.pop("transfer-encoding", None)  # aiohttp's to set
        headers = CIMultiDict(
            (key.decode("latin-1"), value.decode("latin-1")) for key, value in request.headers.raw
        )
        with map_aiohttp_exceptions():
            response = await self.client.request(
                method=request.method,
                url=str(request.url),
                headers=headers,
                data=data,
                allow_redirects=False,
                auto_decompress=False,
                compress=False,
                timeout=self._timeout(request.extensions.get("timeout", {})),
                server_hostname=request.extensions.get("sni_hostname"),
            ).__aenter__()
        extensions: dict[str, Any] = {"http_version": b"HTTP/1.1"}
        if response.reason:
            extensions["reason_phrase"] = response.reason.encode()
        return httpx.Response(
            status_code=response.status,
            headers=response.raw_headers,
            stream=AiohttpResponseStream(response),
            request=request,
            extensions=extensions,
        )


def _sent_trace(on_sent: Callable[[str], None]) -> aiohttp.TraceConfig:
    """Tell `on_sent(host)` when a request's headers have left (politeness is measured from
    there: a new connection's set-up time must not shorten the gap the server sees)."""

    async def sent(
        session: aiohttp.ClientSession,
        ctx: object,
        params: aiohttp.TraceRequestHeadersSentParams,
    ) -> None:
        on_sent(params.url.host or "")

    trace = aiohttp.TraceConfig()
    trace.on_request_headers_sent.append(sent)
    return trace


def build_transport(
    settings: ChecksSettings,
    *,
    resolver: AbstractResolver | None = None,
    verify: ssl.SSLContext | bool = True,
    on_sent: Callable[[str], None] | None = None,
) -> GuardedTransport:
    """The transport of `build_client` (see there for the arguments)."""
    guard = GuardedResolver(
        pins=parse_pins(settings.resolve), allow_private=settings.allow_private, base=resolver
    )

    def session() -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(
            resolver=guard,
            limit=settings.concurrency,
            limit_per_host=0,  # per-host politeness is the checker's (HostLimiter)
            ssl=verify,
            ttl_dns_cache=10,
        )
        traces = [_sent_trace(on_sent)] if on_sent is not None else []
        # No cookie jar: the checker keeps cookies per check (redirect dances) and sends them
        # itself; a session-wide jar would carry one check's cookies into every later check.
        return aiohttp.ClientSession(
            connector=connector,
            trust_env=False,
            trace_configs=traces,
            cookie_jar=aiohttp.DummyCookieJar(),
        )

    return GuardedTransport(session, allow_private=settings.allow_private)


def build_client(
    settings: ChecksSettings,
    *,
    resolver: AbstractResolver | None = None,
    verify: ssl.SSLContext | bool = True,
    on_sent: Callable[[str], None] | None = None,
    transport: GuardedTransport | None = None,
) -> httpx.AsyncClient:
    """The shared client: guarded resolution, pool sized by `concurrency`, no automatic redirects.

    `resolver` is the guard's *base* resolver (what DNS says; default: the system's). Pins and
    the private-address policy come from `settings.resolve` / `settings.allow_private`.
    `verify` is True (system trust store), False (no verification) or an SSLContext.
    The aiohttp session is created lazily on the first request, inside the running loop, so
    this function may be called anywhere. Close the client with `await client.aclose()`.
    `on_sent(host)` is called as each request's headers are sent (the checker's limiter).
    `transport`: one made by `build_transport` (then resolver, verify and on_sent are its own).
    """
    if transport is None:
        transport = build_transport(settings, resolver=resolver, verify=verify, on_sent=on_sent)
    timeout = httpx.Timeout(
        settings.timeout_s, connect=settings.connect_timeout_s, pool=settings.timeout_s
    )
    client = httpx.AsyncClient(
        transport=transport,
        follow_redirects=False,
        headers=default_headers(settings),
        timeout=timeout,
        trust_env=False,
    )
    # The checker keeps cookies per check (redirect dances); the shared jar stays empty.
    client.cookies.jar.set_policy(DefaultCookiePolicy(allowed_domains=[]))
    return client
