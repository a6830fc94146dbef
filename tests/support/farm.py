"""The link farm: real HTTP(S) servers on loopback, one path per behaviour a link checker meets.

Usage (async, in the test's own loop):

    async with LinkFarm() as farm:
        settings = ChecksSettings(resolve=farm.pins, timeout_s=2)
        url = farm.url("/status/404")                    # http://farm.test:PORT/status/404

Usage (sync: the farm runs in its own thread and loop; for CLI tests that call asyncio.run):

    with LinkFarm() as farm:
        run(["check", farm.url("/ok"), *farm.resolve_args()])

Standalone (benchmarks, daemon tests): `python -m tests.support.farm --port 8999` prints one
JSON line (pins, ports, special URLs), then serves until interrupted.

Host names (pin them with `farm.pins`): farm.test and www.farm.test -> ips[0]; other.test and
www.other.test -> ips[1]; third.test -> ips[2]; secure.test and wrong.test -> ips[0]. The HTTP
server listens on every farm IP at one port; the TLS server (certificate from a throwaway CA
for every name but wrong.test) at another port. Special servers: `refused_url` (a bound port
nobody listens on), `garbage_url` (answers bytes that are not HTTP), `drip_headers_url` (the
status line, one byte at a time, forever), `hang_url` (accepts, never answers),
`huge_headers_url` (a 1 MiB header line), `endless_headers_url` (header lines forever).

Paths (GET unless said; HEAD answers like GET unless said):
  /ok, /                      200 small HTML page with a <title>
  /status/<code>              that status (e.g. 404, 410, 500, 503, 401, 403, 451, 999, 400, 418)
  /retry-after/seconds        429 with Retry-After: 2
  /retry-after/date           429 with Retry-After: an HTTP-date 120 s ahead
  /unavailable                503 with Retry-After: 30
  /redirect/<code>            redirect with <code> to /ok (same host); ?to=<path or URL>
  /redirect/<code>/other      redirect with <code> to http://other.test:PORT/ok
  /redirect/relative          302 with a relative Location ("../ok?from=relative")
  /redirect/missing           302 without Location
  /redirect/ftp               302 to an ftp:// URL
  /redirect/literal           302 to http://127.0.0.2:PORT/ok (a private IP literal: the farm)
  /redirect/localhost         302 to http://localhost:PORT/ok (a name resolving to loopback)
  /chain/<n>?code=302         n redirects in a row, then 200; ?host=other alternates hosts
  /loop/a, /loop/b            a -> b -> a ...; /loop/self redirects to itself
  /trivial/slash              301 to /trivial/slash/ (200)
  /trivial/www                301 to http://www.farm.test:PORT/trivial/www (200 on www.)
  /trivial/https              301 to https://farm.test:TLSPORT/trivial/https (200 over TLS)
  /moved/page                 301 to /moved/new-page (200): a real move
  /head/<code>                HEAD answers <code> (405, 404, 501, ...), GET answers 200
  /head/disconnect            HEAD: connection closed without answer, GET 200
  /drip?every=1               HEAD 405; GET 200 whose body arrives one byte per `every` s, forever
  /endless                    HEAD 405; GET 200 with a body that never ends (64 KiB chunks)
  /bomb?mib=1024              HEAD 405; GET 200, Content-Encoding: gzip, `mib` MiB of zeros
                              (about 1 KB on the wire per MiB)
  /gzip, /deflate             200 HTML with a title, compressed (deflate is raw deflate)
  /cookie-dance               sets a cookie and redirects to itself; 200 once the cookie is back
  /echo                       200 JSON of the request's method, path and headers
  /sleep?s=5                  waits s seconds, then 200

Add behaviours with `farm.add("/path", handler)` (exact) or `farm.add("/prefix/", handler)`
(every path under the prefix); a handler is `async (request, farm) -> web.StreamResponse`.
`farm.add_host("site.test", handler)` pins a new name to the farm and sends every request for
that name to `handler` (whole sites: tests/verdicts/zoo.py); call it before the farm starts
for the name to be in the TLS certificate.
Every request is logged (`farm.requests`, `farm.count`), with per-host concurrency high-water
marks (`farm.max_concurrency`) and the smallest gap between request starts (`farm.min_gap`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import socket
import ssl
import struct
import threading
import time
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from types import TracebackType
from typing import Any

from aiohttp import web

from tests.support.serving import LoopThread

Handler = Callable[[web.Request, "LinkFarm"], Awaitable[web.StreamResponse]]

DEFAULT_IPS = ("127.0.0.2", "127.0.0.3", "127.0.0.4")
PAGE = "<!doctype html><html><head><title>{title}</title></head><body><p>{title}</p></body></html>"


@dataclass
class RequestRecord:
    method: str
    host: str  # the Host header's name, lower-case, without port
    path: str
    query: str
    started: float  # time.monotonic() when the request arrived
    ended: float | None = None
    headers: dict[str, str] = field(default_factory=dict)
    tls: bool = False


def _page(title: str, status: int = 200) -> web.Response:
    return web.Response(text=PAGE.format(title=title), status=status, content_type="text/html")


def _redirect(location: str, status: int = 302) -> web.Response:
    return web.Response(status=status, headers={"Location": location})


def _host(request: web.Request) -> str:
    return (request.url.host or "").lower()


# -- handlers --------------------------------------------------------------------------------


async def h_ok(request: web.Request, farm: LinkFarm) -> web.StreamResponse:
    return _page("OK")


async def h_status(request: web.Request, farm: LinkFarm) -> web.StreamResponse:
    code = int(request.path.rsplit("/", 1)[1])
    return _page(f"Status {code}", status=code)


async def h_retry_seconds(request: web.Request, farm: LinkFarm) -> web.StreamResponse:
    return web.Response(status=429, text="slow down", headers={"Retry-After": "2"})


async def h_retry_date(request: web.Request, farm: LinkFarm) -> web.StreamResponse:
    when = datetime.now(UTC) + timedelta(seconds=120)
    return web.Response(
        status=429, text="slow down", headers={"Retry-After": format_datetime(when, usegmt=True)}
    )


async def h_unavailable(request: web.Request, farm: LinkFarm) -> web.StreamResponse:
    return web.Response(status=503, text="maintenance", headers={"Retry-After": "30"})


async def h_redirect(request: web.Request, farm: LinkFarm) -> web.StreamResponse:
    parts = request.path.strip("/").split("/")  # redirect, <what>, [other]
    what = parts[1]
    port = request.url.port
    specials = {
        "relative": ("../ok?from=relative", 302),
        "ftp": ("ftp://farm.test/file.txt", 302),
        "literal": (f"http://{farm.ips[0]}:{farm.port}/ok", 302),
        "localhost": (f"http://localhost:{farm.port}/ok", 302),
    }
    if what == "missing":
        return web.Response(status=302)
    if what in specials:
        location, code = specials[what]
        return _redirect(location, code)
    code = int(what)
    if code not in {301, 302, 303, 307, 308}:
        raise web.HTTPNotFound()
    if len(parts) > 2 and parts[2] == "other":
        return _redirect(farm.url("/ok", host="other.test"), code)
    if len(parts) > 2:  # an honest site: made-up paths are not found (soft-404 probes)
        raise web.HTTPNotFound()
    target = request.query.get("to", "/ok")
    if target.startswith("/"):
        target = f"{request.scheme}://{request.host.split(':')[0]}:{port}{target}"
    return _redirect(target, code)


async def h_chain(request: web.Request, farm: LinkFarm) -> web.StreamResponse:
    n = int(request.path.rsplit("/", 1)[1])
    if n <= 0:
        return _page("End of chain")
    code = int(request.query.get("code", "302"))
    query = request.query_string
    host = _host(request)
    if request.query.get("host") == "other":
        host = "other.test" if host != "other.test" else "farm.test"
    path = f"/chain/{n - 1}" + (f"?{query}" if query else "")
    return _redirect(farm.url(path, host=host), code)


async def h_loop(request: web.Request, farm: LinkFarm) -> web.StreamResponse:
    which = request.path.rsplit("/", 1)[1]
    target = {"a": "/loop/b", "b": "/loop/a"}.get(which, "/loop/self")
    return _redirect(farm.url(target, host=_host(request)), 302)


async def h_trivial(request: web.Request, farm: LinkFarm) -> web.StreamResponse:
    host = _host(request)
    if request.path == "/trivial/slash":
        return _redirect(farm.url("/trivial/slash/", host=host), 301)
    if request.path == "/trivial/slash/":
        return _page("Trailing slash")
    if request.path == "/trivial/www":
        if host.startswith("www."):
            return _page("www page")
        return _redirect(farm.url("/trivial/www", host="www." + host), 301)
    if request.path == "/trivial/https":
        if request.secure:
            return _page("https page")
        return _redirect(farm.url("/trivial/https", host=host, scheme="https"), 301)
    raise web.HTTPNotFound()


async def h_moved(request: web.Request, farm: LinkFarm) -> web.StreamResponse:
    if request.path == "/moved/page":
        return _redirect(farm.url("/moved/new-page", host=_host(request)), 301)
    if request.path == "/moved/new-page":
        return _page("The new page")
    raise web.HTTPNotFound()


async def h_head(request: web.Request, farm: LinkFarm) -> web.StreamResponse:
    what = request.path.rsplit("/", 1)[1]
    if what != "disconnect" and not what.isdigit():
        raise web.HTTPNotFound()  # an honest site: made-up paths are not found
    if request.method == "HEAD":
        if what == "disconnect":
            if request.transport is not None:
                request.transport.close()  # no answer at all to HEAD
            return web.Response(status=204)
        return web.Response(status=int(what))
    html = f"<html><head><title>GET works</title></head><body><p>HEAD answers {what}</p></html>"
    return web.Response(text=html, content_type="text/html")


async def h_drip(request: web.Request, farm: LinkFarm) -> web.StreamResponse:
    if request.method == "HEAD":
        return web.Response(status=405)
    every = float(request.query.get("every", "1"))
    response = web.StreamResponse(headers={"Content-Type": "text/html"})
    await response.prepare(request)
    with contextlib.suppress(ConnectionError):
        await response.write(b"<")
        while True:
            await asyncio.sleep(every)
            await response.write(b"x")
    return response


async def h_endless(request: web.Request, farm: LinkFarm) -> web.StreamResponse:
    if request.method == "HEAD":
        return web.Response(status=405)
    response = web.StreamResponse(headers={"Content-Type": "text/html"})
    await response.prepare(request)
    chunk = b"<p>" + b"a" * (64 * 1024 - 3)
    with contextlib.suppress(ConnectionError):
        while True:
            await response.write(chunk)
    return response


_MIB = bytes(1 << 20)


def _bomb_parts() -> tuple[bytes, bytes]:
    """(gzip header + first MiB, every next MiB): full flushes make the blocks identical."""
    comp = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    first = comp.compress(_MIB) + comp.flush(zlib.Z_FULL_FLUSH)
    block = comp.compress(_MIB) + comp.flush(zlib.Z_FULL_FLUSH)
    return first, block


_BOMB: tuple[bytes, bytes] | None = None


async def h_bomb(request: web.Request, farm: LinkFarm) -> web.StreamResponse:
    global _BOMB
    if request.method == "HEAD":
        return web.Response(status=405)
    if _BOMB is None:
        _BOMB = _bomb_parts()
    first, block = _BOMB
    mib = max(1, int(request.query.get("mib", "1024")))
    response = web.StreamResponse(headers={"Content-Type": "text/html", "Content-Encoding": "gzip"})
    await response.prepare(request)
    with contextlib.suppress(ConnectionError):
        await response.write(first)
        for _ in range(mib - 1):
            await response.write(block)
        crc = 0
        for _ in range(mib):
            crc = zlib.crc32(_MIB, crc)
        await response.write(b"\x03\x00" + struct.pack("<II", crc, (mib << 20) & 0xFFFFFFFF))
        await response.write_eof()
    return response


async def h_gzip(request: web.Request, farm: LinkFarm) -> web.StreamResponse:
    body = PAGE.format(title="Compressed page").encode()
    if request.path == "/gzip":
        comp = zlib.compressobj(6, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
        encoding = "gzip"
    else:
        comp = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
        encoding = "deflate"
    data = comp.compress(body) + comp.flush()
    return web.Response(
        body=data, headers={"Content-Type": "text/html", "Content-Encoding": encoding}
    )


async def h_cookie_dance(request: web.Request, farm: LinkFarm) -> web.StreamResponse:
    if request.cookies.get("dance") == "1":
        return _page("Cookie accepted")
    response = _redirect(farm.url("/cookie-dance", host=_host(request)), 302)
    response.set_cookie("dance", "1")
    return response


async def h_echo(request: web.Request, farm: LinkFarm) -> web.StreamResponse:
    return web.json_response(
        {"method": request.method, "path": request.path_qs, "headers": dict(request.headers)}
    )


async def h_sleep(request: web.Request, farm: LinkFarm) -> web.StreamResponse:
    await asyncio.sleep(float(request.query.get("s", "5")))
    return _page("Slept")


ROUTES: dict[str, Handler] = {
    "/": h_ok,
    "/ok": h_ok,
    "/retry-after/seconds": h_retry_seconds,
    "/retry-after/date": h_retry_date,
    "/unavailable": h_unavailable,
    "/drip": h_drip,
    "/endless": h_endless,
    "/bomb": h_bomb,
    "/gzip": h_gzip,
    "/deflate": h_gzip,
    "/cookie-dance": h_cookie_dance,
    "/echo": h_echo,
    "/sleep": h_sleep,
}
PREFIX_ROUTES: dict[str, Handler] = {
    "/status/": h_status,
    "/redirect/": h_redirect,
    "/chain/": h_chain,
    "/loop/": h_loop,
    "/trivial/": h_trivial,
    "/moved/": h_moved,
    "/head/": h_head,
}


# -- raw (non-HTTP) servers ------------------------------------------------------------------


async def _garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError):
        await reader.read(1024)
        writer.write(b"\x00\xffSSH-2.0-NotHTTP\r\n\x16\x03\x01 this is not HTTP at all\r\n\r\n")
        await writer.drain()
    writer.close()


async def _drip_headers(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError):
        await reader.read(1024)
        for byte in b"HTTP/1.1 200 OK\r\nX-Drip: ":
            writer.write(bytes([byte]))
            await writer.drain()
            await asyncio.sleep(0.2)
        while True:
            writer.write(b"x")
            await writer.drain()
            await asyncio.sleep(0.2)


async def _huge_headers(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError):
        await reader.read(1024)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Huge: " + b"h" * (1 << 20))
        writer.write(b"\r\n\r\nok")
        await writer.drain()
    writer.close()


async def _endless_headers(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError):
        await reader.read(1024)
        writer.write(b"HTTP/1.1 200 OK\r\n")
        n = 0
        while not writer.is_closing():
            writer.write(b"X-Header-%d: %s\r\n" % (n, b"v" * 100))
            n += 1
            if n % 100 == 0:
                await writer.drain()
                await asyncio.sleep(0)


async def _hang(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError):
        while await reader.read(1024):
            pass
    writer.close()


# -- the farm --------------------------------------------------------------------------------


def _bind_same_port(ips: list[str], port: int = 0, attempts: int = 50) -> list[socket.socket]:
    """Listening-ready sockets on every IP at one port (a free one when port is 0)."""
    for _ in range(attempts):
        socks: list[socket.socket] = []
        try:
            chosen = port
            for ip in ips:
                sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                socks.append(sock)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.bind((ip, chosen))
                chosen = sock.getsockname()[1]
            return socks
        except OSError:
            for sock in socks:
                sock.close()
            if port:
                raise
    raise OSError(f"no common free port on {ips}")


class LinkFarm:
    """Real servers on loopback, several host names pinned to 127.0.0.x (see module doc)."""

    def __init__(
        self, ips: tuple[str, ...] = DEFAULT_IPS, *, port: int = 0, tls_port: int = 0
    ) -> None:
        self.ips = list(dict.fromkeys(ips))
        while len(self.ips) < 3:
            self.ips.append(self.ips[-1])
        self.hosts: dict[str, str] = {
            "farm.test": self.ips[0],
            "www.farm.test": self.ips[0],
            "secure.test": self.ips[0],
            "wrong.test": self.ips[0],
            "other.test": self.ips[1],
            "www.other.test": self.ips[1],
            "third.test": self.ips[2],
        }
        self.routes: dict[str, Handler] = dict(ROUTES)
        self.host_routes: dict[str, Handler] = {}
        self.prefix_routes: dict[str, Handler] = dict(PREFIX_ROUTES)
        self.port = port
        self.tls_port = tls_port
        self.records: list[RequestRecord] = []
        self._lock = threading.Lock()
        self._active: dict[str, int] = {}
        self._high: dict[str, int] = {}
        self._runner: web.AppRunner | None = None
        self._raw: list[asyncio.Server] = []
        self._refused_sock: socket.socket | None = None
        self.raw_ports: dict[str, int] = {}
        self._ca: Any = None
        self._serving: LoopThread | None = None

    # -- addresses --

    @property
    def pins(self) -> list[str]:
        """`HOST:IP` strings for `ChecksSettings(resolve=...)` / `--resolve`."""
        return [f"{host}:{ip}" for host, ip in self.hosts.items()]

    def resolve_args(self) -> list[str]:
        """`["--resolve", "HOST:IP", ...]` for the command line."""
        return [arg for pin in self.pins for arg in ("--resolve", pin)]

    def url(self, path: str, host: str = "farm.test", scheme: str = "http") -> str:
        port = self.tls_port if scheme == "https" else self.port
        return f"{scheme}://{host}:{port}{path if path.startswith('/') else '/' + path}"

    @property
    def refused_url(self) -> str:
        return f"http://farm.test:{self.raw_ports['refused']}/"

    @property
    def garbage_url(self) -> str:
        return f"http://farm.test:{self.raw_ports['garbage']}/"

    @property
    def drip_headers_url(self) -> str:
        return f"http://farm.test:{self.raw_ports['drip_headers']}/"

    @property
    def huge_headers_url(self) -> str:
        """Answers a status line, then a 1 MiB header line."""
        return f"http://farm.test:{self.raw_ports['huge_headers']}/"

    @property
    def endless_headers_url(self) -> str:
        """Answers a status line, then header lines forever."""
        return f"http://farm.test:{self.raw_ports['endless_headers']}/"

    @property
    def hang_url(self) -> str:
        return f"http://farm.test:{self.raw_ports['hang']}/"

    def client_ssl_context(self) -> ssl.SSLContext:
        """A client context trusting the farm's throwaway CA (verification stays on)."""
        ctx = ssl.create_default_context()
        self._ca.configure_trust(ctx)
        return ctx

    def add(self, path: str, handler: Handler) -> None:
        """Add a behaviour: exact path, or every path under a prefix ending in '/'."""
        (self.prefix_routes if path.endswith("/") and path != "/" else self.routes)[path] = handler

    def add_host(self, name: str, handler: Handler, ip: str | None = None) -> None:
        """Pin `name` to the farm (ips[0] by default); every request for it goes to `handler`."""
        name = name.lower()
        self.hosts[name] = ip or self.ips[0]
        self.host_routes[name] = handler

    # -- request log --

    @property
    def requests(self) -> list[RequestRecord]:
        with self._lock:
            return list(self.records)

    def count(
        self, path: str | None = None, *, host: str | None = None, method: str | None = None
    ) -> int:
        return sum(
            1
            for r in self.requests
            if (path is None or r.path == path)
            and (host is None or r.host == host)
            and (method is None or r.method == method)
        )

    def max_concurrency(self, host: str) -> int:
        """The most requests to `host` the farm ever had in progress at once."""
        with self._lock:
            return self._high.get(host, 0)

    def min_gap(self, host: str) -> float | None:
        """The smallest time between two consecutive request arrivals for `host` (s)."""
        starts = sorted(r.started for r in self.requests if r.host == host)
        return min((b - a for a, b in itertools.pairwise(starts)), default=None)

    def reset(self) -> None:
        with self._lock:
            self.records.clear()
            self._high.clear()

    @web.middleware
    async def _log(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        host = _host(request)
        record = RequestRecord(
            method=request.method,
            host=host,
            path=request.path,
            query=request.query_string,
            started=time.monotonic(),
            headers=dict(request.headers),
            tls=request.secure,
        )
        with self._lock:
            self.records.append(record)
            self._active[host] = self._active.get(host, 0) + 1
            self._high[host] = max(self._high.get(host, 0), self._active[host])
        try:
            return await handler(request)
        finally:
            record.ended = time.monotonic()
            with self._lock:
                self._active[host] -= 1

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        handler = self.host_routes.get(_host(request)) or self.routes.get(request.path)
        if handler is None:
            prefixes = [p for p in self.prefix_routes if request.path.startswith(p)]
            if prefixes:
                handler = self.prefix_routes[max(prefixes, key=len)]
        if handler is None:
            return _page("Not Found", status=404)
        try:
            return await handler(request, self)
        except ValueError:
            return _page("Bad farm path", status=400)

    # -- lifecycle --

    async def start(self) -> LinkFarm:
        import trustme

        self._ca = trustme.CA()
        names = [h for h in self.hosts if h != "wrong.test"]
        server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._ca.issue_cert(*names).configure_cert(server_ctx)

        app = web.Application(middlewares=[self._log])
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        self._runner = web.AppRunner(app, handler_cancellation=True, shutdown_timeout=0.5)
        await self._runner.setup()
        ips = list(dict.fromkeys(self.ips))
        plain = _bind_same_port(ips, self.port)
        tls = _bind_same_port(ips, self.tls_port)
        self.port = plain[0].getsockname()[1]
        self.tls_port = tls[0].getsockname()[1]
        for sock in plain:
            await web.SockSite(self._runner, sock).start()
        for sock in tls:
            await web.SockSite(self._runner, sock, ssl_context=server_ctx).start()

        refused = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        refused.bind((self.ips[0], 0))  # bound, never listening: connections are refused
        self._refused_sock = refused
        self.raw_ports["refused"] = refused.getsockname()[1]
        for name, serve in (
            ("garbage", _garbage),
            ("drip_headers", _drip_headers),
            ("hang", _hang),
            ("huge_headers", _huge_headers),
            ("endless_headers", _endless_headers),
        ):
            server = await asyncio.start_server(serve, self.ips[0], 0)
            self._raw.append(server)
            self.raw_ports[name] = server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        for server in self._raw:
            server.close()
        if self._runner is not None:
            await self._runner.cleanup()
        for server in self._raw:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), 1)
        self._raw.clear()
        if self._refused_sock is not None:
            self._refused_sock.close()

    async def __aenter__(self) -> LinkFarm:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # Sync use: the farm runs in its own thread and event loop.

    def __enter__(self) -> LinkFarm:
        self._serving = LoopThread("link-farm", self.start, self.stop)
        self._serving.start(30)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._serving is not None:
            self._serving.stop()

    def describe(self) -> dict[str, Any]:
        return {
            "port": self.port,
            "tls_port": self.tls_port,
            "pins": self.pins,
            "raw_ports": self.raw_ports,
            "example": self.url("/ok"),
        }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve the linkwatch link farm.")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--tls-port", type=int, default=0)
    parser.add_argument("--ips", default=",".join(DEFAULT_IPS), help="comma-separated loopback IPs")
    args = parser.parse_args(argv)

    async def serve() -> None:
        farm = LinkFarm(tuple(args.ips.split(",")), port=args.port, tls_port=args.tls_port)
        async with farm:
            print(json.dumps(farm.describe()), flush=True)
            await asyncio.Event().wait()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve())


if __name__ == "__main__":
    main()
