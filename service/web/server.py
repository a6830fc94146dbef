"""Running the dashboard under uvicorn: standalone (`linkwatch serve`) or inside the daemon."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Iterator

import uvicorn

from service.errors import InputError
from service.settings import Settings
from service.store.db import Database
from service.web.app import create_app

log = logging.getLogger("linkwatch.web")


class _EmbeddedServer(uvicorn.Server):
    """A uvicorn server that leaves signal handling to its host (the daemon)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    def install_signal_handlers(self) -> None:  # uvicorn < 0.29
        return None


def _config(db: Database, settings: Settings) -> uvicorn.Config:
    return uvicorn.Config(
        create_app(db, settings),
        host=settings.web.host,
        port=settings.web.port,
        log_level="warning",
        access_log=False,
        lifespan="off",
        server_header=False,
        proxy_headers=False,
    )


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket on host:port (port 0: any free port). OSError when it cannot bind."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    family, _, _, _, address = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


def bound_port(sock: socket.socket) -> int:
    return int(sock.getsockname()[1])


def run_dashboard(db: Database, settings: Settings, *, sock: socket.socket | None = None) -> None:
    """Serve until Ctrl-C / SIGTERM (blocking). OSError when the address cannot be bound."""
    sock = sock or bind_socket(settings.web.host, settings.web.port)
    server = uvicorn.Server(_config(db, settings))
    log.info("dashboard on http://%s:%d/", settings.web.host, bound_port(sock))
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()


async def serve_dashboard(
    db: Database,
    settings: Settings,
    stop_event: asyncio.Event,
    *,
    sock: socket.socket | None = None,
) -> None:
    """Serve inside a running event loop until `stop_event` is set (the daemon's web.enabled).

    Signal handling stays with the caller. Raises OSError when the address cannot be bound.
    Usage in the daemon: `asyncio.create_task(serve_dashboard(db, settings, stop_event))`.
    """
    sock = sock or bind_socket(settings.web.host, settings.web.port)
    server = _EmbeddedServer(_config(db, settings))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    stopper = asyncio.create_task(stop_event.wait())
    try:
        done, _ = await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
        if task in done:
            task.result()
            return
        server.should_exit = True
        await task
    finally:
        stopper.cancel()
        if not task.done():
            server.should_exit = True
            await task
        sock.close()


def start_dashboard(
    db: Database, settings: Settings, stop_event: asyncio.Event
) -> asyncio.Task[None]:
    """`linkwatch run` with web.enabled: bind now (a busy address is a one-line InputError at
    start, not a surprise later), then serve in a task until `stop_event` is set. A failure of
    the dashboard is logged and never stops the daemon."""
    try:
        sock = bind_socket(settings.web.host, settings.web.port)
    except OSError as exc:
        raise InputError(
            f"web.enabled: cannot serve the dashboard on {settings.web.host}:{settings.web.port}: "
            f"{exc.strerror or exc}"
        ) from exc
    log.info("dashboard on http://%s:%d/", settings.web.host, bound_port(sock))

    async def run() -> None:
        try:
            await serve_dashboard(db, settings, stop_event, sock=sock)
        except Exception:
            log.exception("the dashboard stopped with an error; the monitor goes on")

    return asyncio.create_task(run(), name="dashboard")


async def stop_dashboard(task: asyncio.Task[None], stop_event: asyncio.Event) -> None:
    """Stop a dashboard started by `start_dashboard` (waits for requests in flight, 10 s)."""
    stop_event.set()
    try:
        await asyncio.wait_for(asyncio.shield(task), timeout=10.0)
    except TimeoutError:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
