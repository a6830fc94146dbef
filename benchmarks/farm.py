"""A cheap standalone link farm for the benchmarks (HTTP/1.1 on a raw asyncio.Protocol).

    python benchmarks/farm.py [--host 127.0.0.1] [--port 0] [--latency-ms 0]

prints one line `PORT <n>` once it listens, then serves until killed (SIGTERM or SIGINT: it
exits quietly). Every Host header is accepted, so any number of host names can be pinned to
the one address. It stands in for remote servers on the cores that the checkers under test
use, so its own CPU per request is kept small: no HTTP framework, the request head parsed by
hand, the responses built once, the latency a timer (`loop.call_later`) rather than a
coroutine per request. It runs on uvloop's event loop when uvloop is importable (it is no
dependency of the project; it cuts the farm's CPU per request by about a fifth, see
`_loop_factory`), else on asyncio's own; FARM_LOOP=asyncio forces the latter. It says which
on stderr when it starts (`farm: event loop uvloop`).

Paths (GET and HEAD; HEAD answers the same headers, Content-Length included, without a body;
a query string is ignored):
  /p/<id>          200, a tiny HTML page with a <title>, when <id> holds a digit (n42); else 404,
                   so linkwatch's soft-404 probe (a random 25-letter sibling) meets an honest site
  /r/<id>          301 to /p/r<id> on the same host (`Location: /p/r<id>`, relative, the id
                   as sent; a redirect to a 200 page), short HTML body
  /x/<id>          404
  anything else    404 (robots.txt, favicon, ...)
(<id> is matched percent-decoded.) Any other method: 405 (`Allow: GET, HEAD`), counted and
delayed like the rest. Each counted answer leaves the latency after its request arrived.
Every answer carries the header `LinkChecker: 1`, which LinkChecker requires before it honours
more than 10 requests per second to one host (its `maxrequestspersecond`).
Control paths (any method; never delayed, not counted):
  /__stats         JSON {"requests", "by_method", "first", "last", "max_inflight"}: what was
                   served since the last reset; first/last are the wall-clock times
                   (time.time()) when the first request arrived and the last response was
                   written (an answer to a client that left meanwhile is not written)
  /__reset?latency_ms=N   zero the counters and set the delay added to every response;
                   answers JSON {"latency_ms": N} (400 when N is no number >= 0)
  /__<other>       404, empty

HTTP: keep-alive by default for HTTP/1.1 (`Connection: close` closes after the response);
HTTP/1.0 closes after the response unless it asked for `Connection: keep-alive`. Pipelined
requests wait out the latency side by side and are answered in order. A request body
announced by Content-Length or sent chunked is skipped (httpx on aiohttp follows a redirect
with a HEAD whose body is chunked and empty). A malformed request head or chunk size gets 400
and the connection is closed. A client that goes away while its answer waits out the latency
is simply forgotten; one that only shuts its sending side gets its answers, then the close.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import re
import signal
import sys
import time
from collections import deque
from collections.abc import Callable
from typing import Any, cast
from urllib.parse import parse_qs, unquote_to_bytes


def _loop_factory() -> tuple[str, Callable[[], asyncio.AbstractEventLoop] | None]:
    """uvloop's loop when it is importable and FARM_LOOP is not `asyncio`, else asyncio's.

    Farm CPU per request (user + sys from /proc), 10,000 HEAD over 200 keep-alive connections
    to 100 host names, median of 5 interleaved runs on the 2-core benchmark machine: at 50 ms
    latency 0.053 ms on asyncio's loop, 0.044 ms on uvloop's (aiohttp's web.Server, the farm
    before: 0.103 ms); at 0 ms 0.029 / 0.023 (before: 0.071).
    """
    if os.environ.get("FARM_LOOP", "") != "asyncio":
        try:
            import uvloop
        except ImportError:
            pass
        else:
            return "uvloop", uvloop.new_event_loop
    return "asyncio", None


_PAGE = b"<!doctype html><html><head><title>Page</title></head><body><p>ok</p></body></html>"
_MISSING = b"not here"
_MOVED = b"<html><body>Moved</body></html>"
_NOT_ALLOWED = b"method not allowed"
# LinkChecker sends at most `maxrequestspersecond` (default 10) requests per second to a host;
# its documentation requires this response header before it honours a higher value.
_LINKCHECKER = b"LinkChecker: 1\r\n"
_MAX_HEAD = 64 * 1024
_CHUNKED = -1  # FarmProtocol.request: the request body is chunked
_CHUNK_SIZE, _CHUNK_TRAILER = 1, 2  # FarmProtocol.chunked: the line expected next
_HAS_DIGIT = re.compile(rb"[0-9]").search


def _response(
    status: bytes,
    body: bytes,
    *,
    ctype: bytes = b"",
    extra: bytes = _LINKCHECKER,
    keep: bool,
    head_only: bool,
) -> bytes:
    """One whole response: status line, headers, and the body unless it answers a HEAD."""
    parts = [b"HTTP/1.1 ", status, b"\r\n", extra]
    if ctype:
        parts += [b"Content-Type: ", ctype, b"\r\n"]
    parts += [
        b"Content-Length: %d\r\n" % len(body),
        b"Connection: keep-alive\r\n\r\n" if keep else b"Connection: close\r\n\r\n",
    ]
    if not head_only:
        parts.append(body)
    return b"".join(parts)


def _table(
    status: bytes, body: bytes, ctype: bytes, extra: bytes = _LINKCHECKER
) -> dict[tuple[bool, bool], bytes]:
    """The four variants of one answer, keyed by (HEAD?, keep-alive?)."""
    return {
        (head_only, keep): _response(
            status, body, ctype=ctype, extra=extra, keep=keep, head_only=head_only
        )
        for head_only in (False, True)
        for keep in (False, True)
    }


_OK = _table(b"200 OK", _PAGE, b"text/html")
_NOT_FOUND = _table(b"404 Not Found", _MISSING, b"text/plain")
_METHOD = _table(
    b"405 Method Not Allowed", _NOT_ALLOWED, b"text/plain", _LINKCHECKER + b"Allow: GET, HEAD\r\n"
)
_CONTROL_404 = _table(b"404 Not Found", b"", b"", b"")
_CONTROL_400 = _table(b"400 Bad Request", b"latency_ms: a number of ms >= 0", b"text/plain", b"")
_BAD = _response(
    b"400 Bad Request", b"bad request", ctype=b"text/plain", keep=False, head_only=False
)
# The redirect is the one answer that depends on the path: its head is split around the
# Location value, which is spliced in per request.
_MOVED_SPLIT = {
    key: response.split(b"@LOCATION@", 1)
    for key, response in _table(
        b"301 Moved Permanently",
        _MOVED,
        b"text/html",
        _LINKCHECKER + b"Location: /p/r@LOCATION@\r\n",
    ).items()
}


def _header(headers: bytes, name: bytes) -> bytes:
    """The value of the first header `name` (lower case, with its leading CRLF and colon) in
    `headers` (lower-cased, each line starting with CRLF); empty when absent."""
    start = headers.find(name)
    if start < 0:
        return b""
    start += len(name)
    end = headers.find(b"\r\n", start)
    return headers[start:end] if end >= 0 else headers[start:]


class Farm:
    """The counters and the latency, shared by every connection."""

    def __init__(self, latency_ms: float) -> None:
        self.latency_s = latency_ms / 1000
        self.reset()

    def reset(self) -> None:
        self.requests = 0
        self.methods: dict[bytes, int] = {}
        self.first = 0.0
        self.last = 0.0
        self.inflight = 0
        self.max_inflight = 0

    def stats(self) -> dict[str, object]:
        return {
            "requests": self.requests,
            "by_method": {m.decode("latin-1"): n for m, n in self.methods.items()},
            "first": self.first,
            "last": self.last,
            "max_inflight": self.max_inflight,
        }

    def control(self, path: bytes, query: bytes, keep: bool, head_only: bool) -> bytes:
        """The answer to a control path (/__...)."""
        if path == b"/__reset":
            latency = parse_qs(query.decode("latin-1")).get("latency_ms")
            if latency:
                try:
                    latency_ms = float(latency[0])
                except ValueError:
                    latency_ms = -1.0
                if not 0 <= latency_ms < 3_600_000:
                    return _CONTROL_400[head_only, keep]
                self.latency_s = latency_ms / 1000
            self.reset()
            payload: dict[str, Any] = {"latency_ms": self.latency_s * 1000}
        elif path == b"/__stats":
            payload = self.stats()
        else:
            return _CONTROL_404[head_only, keep]
        body = json.dumps(payload).encode()
        return _response(
            b"200 OK",
            body,
            ctype=b"application/json; charset=utf-8",
            extra=b"",
            keep=keep,
            head_only=head_only,
        )


class _Pending:
    """One answer waiting for its turn (pipelining) or for its latency to pass."""

    __slots__ = ("close", "counted", "data", "ready")

    def __init__(self, data: bytes, close: bool, counted: bool, ready: bool) -> None:
        self.data, self.close, self.counted, self.ready = data, close, counted, ready


class FarmProtocol(asyncio.Protocol):
    """One client connection: parses request heads, queues the answers in request order."""

    def __init__(self, farm: Farm, loop: asyncio.AbstractEventLoop) -> None:
        self.farm = farm
        self.loop = loop
        self.transport: asyncio.Transport | None = None
        self.buf = b""
        self.skip = 0  # request body bytes still to be dropped
        self.chunked = 0  # in a chunked request body: _CHUNK_SIZE or _CHUNK_TRAILER, else 0
        self.done = False  # a response that closes the connection is queued, or it was lost
        self.pending: deque[_Pending] = deque()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is no subclass of it

    def connection_lost(self, exc: Exception | None) -> None:
        self.done = True
        self.transport = None
        self.farm.inflight -= sum(1 for p in self.pending if p.counted)
        self.pending.clear()  # their timers still fire, and find the connection gone

    def eof_received(self) -> bool | None:
        """The client will send no more: answer what it asked for, then close."""
        self.done = True
        if self.pending:
            self.pending[-1].close = True
            return True  # the transport stays open for the answers still waiting
        return None

    def data_received(self, data: bytes) -> None:
        if self.done:
            return
        if (
            not self.buf
            and not self.skip
            and not self.chunked
            and data.find(b"\r\n\r\n") == len(data) - 4
        ):
            self.body(self.request(data[:-4]))  # the common case: one whole request head
            return
        buf = self.buf + data if self.buf else data
        pos, size = 0, len(buf)
        while not self.done and pos < size:
            if self.skip:  # a body, or one chunk of it (with its CRLF)
                step = min(self.skip, size - pos)
                pos += step
                self.skip -= step
            elif self.chunked:  # the size line of the next chunk, or a trailer line
                end = buf.find(b"\r\n", pos)
                if end < 0:
                    if size - pos > _MAX_HEAD:
                        self.queue(_BAD, close=True, counted=False, delay=0.0)
                    break
                line, pos = buf[pos:end], end + 2
                if self.chunked == _CHUNK_TRAILER:
                    if not line:
                        self.chunked = 0  # the empty line that ends the body
                    continue
                try:
                    chunk = int(line.partition(b";")[0], 16)
                except ValueError:
                    chunk = -1
                if chunk < 0:
                    self.queue(_BAD, close=True, counted=False, delay=0.0)
                elif chunk:
                    self.skip = chunk + 2
                else:
                    self.chunked = _CHUNK_TRAILER
            else:
                end = buf.find(b"\r\n\r\n", pos)
                if end < 0:
                    if size - pos > _MAX_HEAD:
                        self.queue(_BAD, close=True, counted=False, delay=0.0)
                    break
                head, pos = buf[pos:end], end + 4
                self.body(self.request(head))
        self.buf = buf[pos:] if pos < size and not self.done else b""

    def body(self, length: int) -> None:
        """Gets ready to drop the body of the request just answered (_CHUNKED: chunked)."""
        if length == _CHUNKED:
            self.chunked = _CHUNK_SIZE
        elif length:
            self.skip = length

    def request(self, head: bytes) -> int:
        """Answers one request head; returns the length of the body that follows it, or
        _CHUNKED."""
        line_end = head.find(b"\r\n")
        line = head if line_end < 0 else head[:line_end]
        parts = line.split(b" ")
        if len(parts) != 3 or not parts[2].startswith(b"HTTP/1."):
            self.queue(_BAD, close=True, counted=False, delay=0.0)
            return 0
        method, target, version = parts
        headers = head[line_end:].lower() if line_end >= 0 else b""
        body = 0
        coding = _header(headers, b"\r\ntransfer-encoding:")
        length = _header(headers, b"\r\ncontent-length:")
        if coding:
            if not coding.rstrip().endswith(b"chunked"):
                self.queue(_BAD, close=True, counted=False, delay=0.0)
                return 0
            body = _CHUNKED  # httpx on aiohttp sends a redirected HEAD with an empty one
        elif length:
            try:
                body = int(length)
            except ValueError:
                body = -1
            if body < 0:
                self.queue(_BAD, close=True, counted=False, delay=0.0)
                return 0
        connection = _header(headers, b"\r\nconnection:")
        keep = b"keep-alive" in connection or (
            version == b"HTTP/1.1" and b"close" not in connection
        )
        head_only = method == b"HEAD"

        if target[:1] != b"/":  # absolute form (http://host/path) or garbage
            slash = target.find(b"/", target.find(b"//") + 2) if b"//" in target else -1
            target = target[slash:] if slash >= 0 else b"/"
        path, _, query = target.partition(b"?")
        raw = path = path.partition(b"#")[0]
        if b"%" in path:
            path = unquote_to_bytes(path)  # matched decoded, as aiohttp's request.path was

        farm = self.farm
        if path[:3] == b"/__":
            self.queue(
                farm.control(path, query, keep, head_only), close=not keep, counted=False, delay=0.0
            )
            return body

        if not farm.first:
            farm.first = time.time()
        farm.requests += 1
        farm.methods[method] = farm.methods.get(method, 0) + 1
        farm.inflight += 1
        if farm.inflight > farm.max_inflight:
            farm.max_inflight = farm.inflight

        if not head_only and method != b"GET":
            data = _METHOD[head_only, keep]
        elif path[:3] == b"/p/" and (path[-1:].isdigit() or _HAS_DIGIT(path, 3)):
            data = _OK[head_only, keep]
        elif path[:3] == b"/r/":
            before, after = _MOVED_SPLIT[head_only, keep]
            data = before + raw[3:] + after  # the id as it came, percent-escapes and all
        else:
            data = _NOT_FOUND[head_only, keep]
        self.queue(data, close=not keep, counted=True, delay=farm.latency_s)
        return body

    def queue(self, data: bytes, *, close: bool, counted: bool, delay: float) -> None:
        if close:
            self.done = True
        if not delay and not self.pending:
            self.write(data, close, counted)  # the common case at 0 ms: no queue at all
            return
        item = _Pending(data, close, counted, not delay)
        self.pending.append(item)
        if delay:
            self.loop.call_later(delay, self.ready, item)
        else:
            self.flush()

    def ready(self, item: _Pending) -> None:
        pending = self.pending
        if len(pending) == 1 and pending[0] is item:  # the common case: nothing queued behind
            pending.clear()
            farm = self.farm
            farm.inflight -= 1
            farm.last = time.time()
            transport = self.transport
            if transport is not None:
                transport.write(item.data)
                if item.close:
                    transport.close()
            return
        item.ready = True
        if pending and pending[0] is item:
            self.flush()

    def flush(self) -> None:
        pending = self.pending
        while pending and pending[0].ready:
            item = pending.popleft()
            self.write(item.data, item.close, item.counted)

    def write(self, data: bytes, close: bool, counted: bool) -> None:
        transport = self.transport
        if counted:
            self.farm.inflight -= 1
            self.farm.last = time.time()
        if transport is None:
            return
        transport.write(data)
        if close:
            self.pending.clear()
            transport.close()


async def serve(host: str, port: int, latency_ms: float) -> None:
    loop = asyncio.get_running_loop()
    farm = Farm(latency_ms)
    server = await loop.create_server(
        functools.partial(FarmProtocol, farm, loop),
        host,
        port,
        backlog=4096,
        reuse_address=True,
    )
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    port = server.sockets[0].getsockname()[1]  # the port actually bound (port 0: the kernel's)
    print(f"PORT {port}", flush=True)
    await stop.wait()
    server.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    args = parser.parse_args()
    name, factory = _loop_factory()
    print(f"farm: event loop {name}", file=sys.stderr, flush=True)
    with asyncio.Runner(loop_factory=factory) as runner:
        runner.run(serve(args.host, args.port, args.latency_ms))


if __name__ == "__main__":
    main()
