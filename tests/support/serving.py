"""Scaffolding shared by the loopback test servers.

- `free_port(host)`: a port nothing listens on yet;
- `LoopThread`: an asyncio server run on its own event loop in a daemon thread, so it answers
  while a test's own loop is blocked (e.g. inside a synchronous CLI call);
- `wait_for_count(...)`: poll what a server has received until there is enough of it.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class LoopThread:
    """Runs `start()` on a private event loop in a daemon thread, serves until `stop()`, then
    runs `close()` on that loop and closes it."""

    def __init__(
        self,
        name: str,
        start: Callable[[], Awaitable[object]],
        close: Callable[[], Awaitable[object]],
    ) -> None:
        self._name = name
        self._start = start
        self._close = close
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def start(self, timeout: float) -> bool:
        """Start serving; re-raises what `start()` raised; False when it did not finish within
        `timeout` seconds."""
        loop = asyncio.new_event_loop()
        started = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self._start())
            except BaseException as exc:
                failure.append(exc)
                started.set()
                return
            started.set()
            loop.run_forever()
            loop.run_until_complete(self._close())
            loop.close()

        self._loop = loop
        self._thread = threading.Thread(target=run, name=self._name, daemon=True)
        self._thread.start()
        ready = started.wait(timeout)
        if failure:
            raise failure[0]
        return ready

    def stop(self) -> None:
        """Stop the loop (after `close()`) and wait up to 10 s for the thread."""
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)


def wait_for_count(
    received: Callable[[], list[T]], count: int, timeout: float, what: str
) -> list[T]:
    """`received()` once it holds at least `count` items; AssertionError after `timeout` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(received()) >= count:
            return received()
        time.sleep(0.02)
    raise AssertionError(f"expected {count} {what}, got {len(received())}")
