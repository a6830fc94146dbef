"""A real dashboard: uvicorn on a loopback port, in a thread, over a filled SQLite database."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

import httpx
import pytest
import uvicorn

from service.settings import Settings
from service.store.db import Database, open_database
from service.web.app import create_app
from service.web.server import bind_socket, bound_port
from tests.reports.sample import NOW, SampleIds, fill_sample

TOKEN = "t0ken-for-tests"


@dataclass
class Dashboard:
    base: str
    db: Database
    ids: SampleIds

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
        return httpx.Client(base_url=self.base, headers=headers, timeout=30, trust_env=False)


@contextmanager
def running(db: Database, settings: Settings, clock: Callable[[], datetime]) -> Iterator[str]:
    """Serve create_app(db, settings) with uvicorn on 127.0.0.1:<free port>; yield the base URL."""
    sock = bind_socket("127.0.0.1", 0)
    config = uvicorn.Config(
        create_app(db, settings, clock=clock), log_level="warning", lifespan="off", access_log=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{bound_port(sock)}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def settings_with(token: str | None) -> Settings:
    web: dict[str, object] = {"host": "127.0.0.1", "port": 8080}
    if token is not None:
        web["token"] = token
    return Settings.model_validate({"web": web})


@pytest.fixture(scope="module")
def filled_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Database, SampleIds]]:
    db = open_database(f"sqlite:///{tmp_path_factory.mktemp('web') / 'lw.db'}")
    with db.session() as session:
        ids = fill_sample(session)
    yield db, ids
    db.dispose()


@pytest.fixture(scope="module")
def dashboard(filled_db: tuple[Database, SampleIds]) -> Iterator[Dashboard]:
    db, ids = filled_db
    with running(db, settings_with(TOKEN), lambda: NOW) as base:
        yield Dashboard(base, db, ids)


@pytest.fixture(scope="module")
def tokenless(filled_db: tuple[Database, SampleIds]) -> Iterator[Dashboard]:
    db, ids = filled_db
    with running(db, settings_with(None), lambda: NOW) as base:
        yield Dashboard(base, db, ids)
