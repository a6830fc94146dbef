"""The daemon's way to run the dashboard: serve_dashboard until its stop event is set."""

from __future__ import annotations

import asyncio
import signal

import httpx
import pytest

from service.web.server import bind_socket, bound_port, serve_dashboard
from tests.web.conftest import settings_with


async def test_serve_dashboard_stops_on_the_event_and_leaves_signals_alone(filled_db) -> None:
    db, _ = filled_db
    before = signal.getsignal(signal.SIGTERM)
    sock = bind_socket("127.0.0.1", 0)
    port = bound_port(sock)
    stop = asyncio.Event()
    task = asyncio.create_task(serve_dashboard(db, settings_with(None), stop, sock=sock))
    async with httpx.AsyncClient(trust_env=False, timeout=10) as client:
        for _ in range(200):
            try:
                r = await client.get(f"http://127.0.0.1:{port}/healthz")
                break
            except httpx.ConnectError:
                await asyncio.sleep(0.05)
        assert r.status_code == 200
        assert (
            signal.getsignal(signal.SIGTERM) == before
        )  # uvicorn did not take the daemon's signals
        stop.set()
        await asyncio.wait_for(task, 10)
        with pytest.raises(httpx.ConnectError):
            await client.get(f"http://127.0.0.1:{port}/healthz")


async def test_serve_dashboard_reports_a_busy_port(filled_db) -> None:
    db, _ = filled_db
    taken = bind_socket("127.0.0.1", 0)
    try:
        settings = settings_with(None).model_copy(
            update={"web": settings_with(None).web.model_copy(update={"port": bound_port(taken)})}
        )
        with pytest.raises(OSError):
            await serve_dashboard(db, settings, asyncio.Event())
    finally:
        taken.close()
