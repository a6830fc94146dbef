"""The daemon asks the canaries when checks fail at the network level (in-process, real HTTP)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlmodel import select

from service.checks.checker import Checker
from service.checks.guard import FailingResolver, MappingResolver
from service.monitor.daemon import Daemon
from service.settings import Settings
from service.store import repo
from service.store.db import open_database
from service.store.tables import AlertRow, CheckRow
from tests.monitor.helpers import article
from tests.support.farm import LinkFarm

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
LINKS = ["http://gone.invalid/a", "http://also-gone.invalid/b"]


def _settings(tmp: Path, canary: str, pins: list[str]) -> Settings:
    return Settings.model_validate(
        {
            "database": {"url": f"sqlite:///{tmp / 'lw.db'}"},
            "checks": {"canaries": [canary], "timeout_s": 2.0, "resolve": pins, "retries": 0},
            "wayback": {"enabled": False},
            "alerts": {
                "offline_after_s": 0,
                "channels": {"ops": {"url": "json://localhost/hook"}},
            },
        }
    )


async def _sweep(settings: Settings, resolver: MappingResolver | FailingResolver) -> None:
    db = open_database(settings.database.url)
    try:
        async with Checker(settings.checks, resolver=resolver) as checker:
            daemon = Daemon(
                settings,
                db,
                checker=checker,
                clock=lambda: T0,
                sync_articles=False,
                retention=False,
            )
            await daemon.run(once=True)
    finally:
        db.dispose()


async def test_offline_sweep_records_offline_and_alerts(
    tmp_path: Path, zoo_server: LinkFarm
) -> None:
    # The canary is a name no resolver knows: with every name failing, the monitor is offline.
    settings = _settings(tmp_path, "http://canary.invalid/", [])
    db = open_database(settings.database.url)
    with db.session() as session:
        repo.sync_article(session, article("post.md", LINKS), T0)
    db.dispose()

    await _sweep(settings, FailingResolver())

    db = open_database(settings.database.url)
    try:
        with db.session() as session:
            outcomes = sorted(c.outcome for c in session.exec(select(CheckRow)).all())
            links = repo.links_for_urls(session, LINKS)
            events = [a.event for a in session.exec(select(AlertRow)).all()]
        assert outcomes == ["offline", "offline"]
        assert {links[u].health for u in LINKS} == {"unchecked"}  # no health moved
        assert events == ["monitor_offline"]
    finally:
        db.dispose()

    # The network is back (the canary answers): the links' failures count, monitor_online fires.
    canary = zoo_server.url("/", host="honest.test")
    online = _settings(tmp_path, canary, ["honest.test:127.0.0.21"])
    db = open_database(online.database.url)
    with db.session() as session:
        for link in repo.links_for_urls(session, LINKS).values():
            link.next_check_at = T0
            session.add(link)
    db.dispose()
    await _sweep(online, FailingResolver())
    db = open_database(online.database.url)
    try:
        with db.session() as session:
            events = sorted(a.event for a in session.exec(select(AlertRow)).all())
            links = repo.links_for_urls(session, LINKS)
        assert events == ["monitor_offline", "monitor_online"]
        assert {links[u].health for u in LINKS} == {"suspect"}
    finally:
        db.dispose()
