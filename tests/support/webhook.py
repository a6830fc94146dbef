"""A real HTTP webhook receiver on loopback (aiohttp.web in its own thread) that records requests.

    with WebhookReceiver() as hook:
        url = f"json://{hook.host}:{hook.port}/hook"
        hook.fail(500, times=2)      # the next 2 requests answer 500, then 200 again
        hook.fail(500)               # every request answers 500 until hook.recover()
        hook.requests[0].json()

It runs in a thread with its own event loop, so it answers while a test's own loop is blocked
(e.g. inside a synchronous CLI call).
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from aiohttp import web

from tests.support.serving import LoopThread, free_port, wait_for_count


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    status: int  # what the receiver answered

    def json(self) -> Any:
        return json.loads(self.body)


class WebhookReceiver:
    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = free_port(host)
        self._lock = threading.Lock()
        self._requests: list[Request] = []
        self._fail_status: int | None = None
        self._fail_left: int | None = None
        self._runner: web.AppRunner | None = None
        self._serving = LoopThread("webhook-receiver", self._start, self._close)

    # control -----------------------------------------------------------------------------
    def fail(self, status: int = 500, times: int | None = None) -> None:
        """Answer `status` to the next `times` requests (all requests while None)."""
        with self._lock:
            self._fail_status, self._fail_left = status, times

    def recover(self) -> None:
        with self._lock:
            self._fail_status, self._fail_left = None, None

    @property
    def requests(self) -> list[Request]:
        with self._lock:
            return list(self._requests)

    @property
    def delivered(self) -> list[Request]:
        """The requests that were answered 2xx."""
        return [r for r in self.requests if 200 <= r.status < 300]

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Request]:
        return wait_for_count(lambda: self.delivered, count, timeout, "delivered requests")

    # server ------------------------------------------------------------------------------
    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        with self._lock:
            status = 200
            if self._fail_status is not None:
                status = self._fail_status
                if self._fail_left is not None:
                    self._fail_left -= 1
                    if self._fail_left <= 0:
                        self._fail_status, self._fail_left = None, None
            self._requests.append(
                Request(request.method, request.path, dict(request.headers), body, status)
            )
        return web.Response(status=status, text="ok" if status < 400 else "receiver failure")

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, self.host, self.port).start()
        self._runner = runner

    async def _close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def start(self) -> WebhookReceiver:
        if not self._serving.start(10):
            raise RuntimeError("webhook receiver did not start")
        return self

    def stop(self) -> None:
        self._serving.stop()

    def __enter__(self) -> WebhookReceiver:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
