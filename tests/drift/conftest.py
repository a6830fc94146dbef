"""Fixtures of the drift tests: the link farm serving pages that changed (or not) since their
capture, the fake Wayback Machine holding the captures, and a database that knows the links
as alive with a citation capture (as the check and archive stages leave it)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from aiohttp import web

from service.archive.limiter import ArchiveLimits
from service.articles.extract import parse_article
from service.checks.client import build_client
from service.model import ArchiveInfo, ArticleMeta, Capture, CheckResult, LinkKind, Outcome
from service.monitor.health import DeathRule
from service.settings import ChecksSettings, DriftSettings, Settings, WaybackSettings
from service.store import repo, snapshots
from service.store.db import Database, open_database
from tests.drift import pages
from tests.support.fake_wayback import FakeCapture, FakeWayback
from tests.support.farm import LinkFarm

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)  # links checked and looked up
T1 = T0 + timedelta(hours=1)  # the first drift sweep
CAPTURE_TS = "20200115093000"
CAPTURED_AT = datetime(2020, 1, 15, 9, 30, tzinfo=UTC)
RULE = DeathRule(signals=1, span=timedelta(0))

# path on the farm -> (captured HTML or None: no capture, live HTML or status code)
SCENARIOS: dict[str, tuple[str | None, str | int]] = {
    "/drift/unchanged": (pages.original(), pages.original()),
    "/drift/comments": (pages.original(), pages.with_comments_and_new_sidebar()),
    "/drift/rewritten": (pages.original(), pages.rewritten()),
    "/drift/unrelated": (pages.original(), pages.unrelated()),
    "/drift/parked": (pages.original(), pages.parked()),
    "/drift/lost-capture": (None, pages.original()),
}


@dataclass
class LivePages:
    """What the farm serves under /drift/: HTML (200) or a bare status code; mutable."""

    pages: dict[str, str | int] = field(default_factory=dict)

    async def handler(self, request: web.Request, farm: LinkFarm) -> web.StreamResponse:
        served = self.pages.get(request.path)
        if served is None:
            return web.Response(status=404, text="not found", content_type="text/html")
        if isinstance(served, int):
            return web.Response(status=served, text=f"status {served}", content_type="text/html")
        return web.Response(text=served, content_type="text/html")


@pytest.fixture(scope="session")
def farm_server() -> Iterator[LinkFarm]:
    with LinkFarm() as farm:
        yield farm


@pytest.fixture
def live(farm_server: LinkFarm) -> LivePages:
    pages_ = LivePages({path: live for path, (_, live) in SCENARIOS.items()})
    farm_server.add("/drift/", pages_.handler)
    farm_server.reset()
    return pages_


@pytest.fixture
def farm(farm_server: LinkFarm, live: LivePages) -> LinkFarm:
    return farm_server


@pytest.fixture
async def client(farm: LinkFarm) -> AsyncIterator[httpx.AsyncClient]:
    """The guarded checker client, the farm's names pinned."""
    c = build_client(ChecksSettings(resolve=farm.pins, timeout_s=5.0))
    try:
        yield c
    finally:
        await c.aclose()


@pytest.fixture
async def wayback(farm: LinkFarm) -> AsyncIterator[FakeWayback]:
    captures = {
        farm.url(path): [FakeCapture(CAPTURE_TS, body=captured)]
        for path, (captured, _) in SCENARIOS.items()
        if captured is not None
    }
    async with FakeWayback(captures) as server:
        yield server


def make_settings(farm: LinkFarm, wayback: FakeWayback, **drift: object) -> Settings:
    return Settings(
        checks=ChecksSettings(resolve=farm.pins, timeout_s=5.0, connect_timeout_s=3.0),
        wayback=WaybackSettings(base_url=wayback.base_url, timeout_s=5.0),
        drift=DriftSettings.model_validate(drift),
    )


def fast_limits() -> ArchiveLimits:
    """Limits that never make a test wait (the limiter itself is tested by the archive stage)."""
    return ArchiveLimits.create(lookups_per_minute=1_000_000, saves_per_minute=1_000_000)


def seed(db: Database, farm: LinkFarm, wayback_base: str, paths: list[str]) -> dict[str, int]:
    """An article citing the farm pages; each link checked alive and given its citation capture.

    Returns {path: link id}. The capture is stored even for a URL the fake archive does not
    hold (the archive lost it since the lookup): fetching it then fails.
    """
    text = "---\ntitle: Cites\npublished: 2020-01-20\n---\n\n" + "".join(
        f"- [{path}]({farm.url(path)})\n" for path in paths
    )
    article = parse_article(text, "markdown", "articles/drift.md", meta_override=ArticleMeta())
    urls = {farm.url(p): p for p in paths}
    ids: dict[str, int] = {}
    with db.session() as session:
        repo.sync_article(session, article, T0 - timedelta(days=1))
        links = repo.links_for_urls(session, urls)
        for url, link in links.items():
            assert link.id is not None
            ids[urls[url]] = link.id
            repo.record_check(session, link.id, CheckResult(url, Outcome.OK, T0, 200), RULE)
            capture = Capture(url, CAPTURED_AT, f"{wayback_base}/web/{CAPTURE_TS}/{url}", 200)
            snapshots.store_archive_info(session, link.id, ArchiveInfo(url, capture, capture, T0))
    assert all(o.kind is LinkKind.HTTP for o in article.occurrences)
    return ids


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = open_database(db_url)
    try:
        yield database
    finally:
        database.dispose()
