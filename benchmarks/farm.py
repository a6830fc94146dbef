"""A fast standalone link farm for the benchmarks (aiohttp's low-level server, one process).

    python benchmarks/farm.py [--host 127.0.0.1] [--port 0] [--latency-ms 0]

prints one line `PORT <n>` once it listens, then serves until killed. Every Host header is
accepted, so any number of host names can be pinned to the one address.

Paths (GET and HEAD; HEAD answers without a body):
  /p/<id>          200, a tiny HTML page with a <title>, when <id> holds a digit (n42); else 404,
                   so linkwatch's soft-404 probe (a random 25-letter sibling) meets an honest site
  /r/<id>          301 to /p/r<id> on the same host (a redirect to a 200 page), short body
  /x/<id>          404
  anything else    404 (robots.txt, favicon, ...)
Every answer carries the header `LinkChecker: 1`, which LinkChecker requires before it honours
more than 10 requests per second to one host (its `maxrequestspersecond`).
Control paths (never delayed, not counted):
  /__stats         JSON {"requests", "by_method", "first", "last", "max_inflight"}: what was
                   served since the last reset; first/last are the wall-clock times
                   (time.time()) when the first request arrived and the last response left
  /__reset?latency_ms=N   zero the counters and set the delay added to every response
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import time

from aiohttp import web
from aiohttp.web_request import BaseRequest

_PAGE = b"<!doctype html><html><head><title>Page</title></head><body><p>ok</p></body></html>"
_MISSING = b"not here"
_MOVED = b"<html><body>Moved</body></html>"
# LinkChecker sends at most `maxrequestspersecond` (default 10) requests per second to a host;
# its documentation requires this response header before it honours a higher value.
_HEADERS = {"LinkChecker": "1"}


class Farm:
    def __init__(self, latency_ms: float) -> None:
        self.latency_s = latency_ms / 1000
        self.reset()

    def reset(self) -> None:
        self.requests = 0
        self.by_method: dict[str, int] = {}
        self.first = 0.0
        self.last = 0.0
        self.inflight = 0
        self.max_inflight = 0

    def stats(self) -> dict[str, object]:
        return {
            "requests": self.requests,
            "by_method": self.by_method,
            "first": self.first,
            "last": self.last,
            "max_inflight": self.max_inflight,
        }

    async def handle(self, request: BaseRequest) -> web.StreamResponse:
        path = request.path
        if path.startswith("/__"):
            return self.control(request)
        if not self.first:
            self.first = time.time()
        self.requests += 1
        self.by_method[request.method] = self.by_method.get(request.method, 0) + 1
        self.inflight += 1
        self.max_inflight = max(self.max_inflight, self.inflight)
        try:
            if self.latency_s:
                await asyncio.sleep(self.latency_s)
            return self.answer(path)
        finally:
            self.inflight -= 1
            self.last = time.time()

    @staticmethod
    def answer(path: str) -> web.Response:
        if path.startswith("/p/") and any(c.isdigit() for c in path):
            return web.Response(body=_PAGE, content_type="text/html", headers=_HEADERS)
        if path.startswith("/r/"):
            # A short body, as real servers send (nginx: ~160 bytes); aiohttp's client drops
            # the keep-alive connection after a HEAD answered "Content-Length: 0".
            return web.Response(
                status=301, body=_MOVED, content_type="text/html",
                headers={**_HEADERS, "Location": "/p/r" + path[3:]},
            )
        return web.Response(
            status=404, body=_MISSING, content_type="text/plain", headers=_HEADERS
        )

    def control(self, request: BaseRequest) -> web.Response:
        if request.path == "/__reset":
            latency = request.query.get("latency_ms")
            if latency is not None:
                self.latency_s = float(latency) / 1000
            self.reset()
            return web.json_response({"latency_ms": self.latency_s * 1000})
        if request.path == "/__stats":
            return web.json_response(self.stats())
        return web.Response(status=404)


async def serve(host: str, port: int, latency_ms: float) -> None:
    farm = Farm(latency_ms)
    server = web.Server(farm.handle, access_log=None)
    runner = web.ServerRunner(server, handle_signals=True)
    await runner.setup()
    site = web.TCPSite(runner, host, port, backlog=4096, reuse_address=True)
    await site.start()
    port = runner.addresses[0][1]  # the port actually bound (port 0: one the kernel chose)
    print(f"PORT {port}", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.host, args.port, args.latency_ms))


if __name__ == "__main__":
    main()
