"""The watch list (add/list/remove, refreshes) and the daemon's hooks, run in-process."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from aiohttp import web

from service.checks.checker import Checker
from service.checks.client import build_client
from service.cli.app import run as cli
from service.monitor.daemon import Daemon, JobContext, PeriodicJob
from service.monitor.watchlist import refresh_articles
from service.settings import load_settings
from service.store.db import open_database
from service.store.tables import ArticleRow, LinkRow
from tests.monitor.daemon_support import markdown_article, write_config
from tests.support.farm import LinkFarm


@pytest.fixture(scope="module")
def farm() -> Iterator[LinkFarm]:
    with LinkFarm() as f:
        yield f


@pytest.fixture
def config(
    sqlite_url: str, farm: LinkFarm, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Path:
    path = write_config(tmp_path, sqlite_url, farm, monitor={"grace_s": 0.5})
    monkeypatch.setenv("LINKWATCH_CONFIG", str(path))
    for key in [k for k in os.environ if k.startswith("LINKWATCH_") and k != "LINKWATCH_CONFIG"]:
        monkeypatch.delenv(key)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    return path


def test_add_list_remove(
    config: Path, farm: LinkFarm, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a = markdown_article(
        tmp_path / "a.md", [farm.url("/ok?a=1"), farm.url("/ok?shared=1"), "mailto:x@y.org"]
    )
    b = markdown_article(tmp_path / "b.md", [farm.url("/ok?shared=1")])
    assert cli(["add", str(a), "--tag", "news", "--interval", "6"]) == 0
    assert "watching article 1" in capsys.readouterr().out
    assert cli(["add", str(b), "--published", "2019-02-03"]) == 0
    capsys.readouterr()
    assert cli(["list"]) == 0
    out = capsys.readouterr().out
    assert "location" in out and str(a) in out and str(b) in out and "never" in out
    settings = load_settings(config)
    db = open_database(settings.database.url)
    with db.session() as s:
        rows = s.execute(
            sa.select(ArticleRow.location, ArticleRow.tags, ArticleRow.interval_hours)
        ).all()
        assert sorted(tuple(r) for r in rows) == sorted([(str(a), "news", 6.0), (str(b), "", None)])
        assert (
            s.execute(sa.select(sa.func.count()).select_from(LinkRow)).scalar() == 2
        )  # shared once
    assert cli(["remove", str(a)]) == 0
    assert "removed article 1" in capsys.readouterr().out
    with db.session() as s:
        links = dict(s.execute(sa.select(LinkRow.url, LinkRow.retired)).all())
    assert links == {farm.url("/ok?a=1"): True, farm.url("/ok?shared=1"): False}
    assert cli(["remove", "99"]) == 2
    assert (
        capsys.readouterr().err.strip()
        == "linkwatch: no article '99' under watch (see `linkwatch list`)"
    )
    assert cli(["add", str(tmp_path / "missing.md")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no such file" in err[0]
    assert cli(["add", str(b), "--interval", "0"]) == 2
    db.dispose()


def test_file_and_url_articles_are_refreshed(config: Path, farm: LinkFarm, tmp_path: Path) -> None:
    served = {
        "body": f"# Post\n\n[one]({farm.url('/ok?u=1')}) [two]({farm.url('/ok?u=2')})\n",
        "etag": '"v1"',
    }
    seen: list[str | None] = []

    async def article(request: web.Request, _farm: LinkFarm) -> web.StreamResponse:
        seen.append(request.headers.get("If-None-Match"))
        if request.headers.get("If-None-Match") == served["etag"]:
            return web.Response(status=304)
        return web.Response(
            text=served["body"], content_type="text/markdown", headers={"ETag": served["etag"]}
        )

    farm.add("/post.md", article)
    path = markdown_article(tmp_path / "f.md", [farm.url("/ok?f=1"), farm.url("/ok?f=2")])
    url = farm.url("/post.md")
    assert cli(["add", str(path)]) == 0
    assert cli(["add", url]) == 0
    settings = load_settings(config)
    db = open_database(settings.database.url)

    def links() -> dict[str, bool]:
        with db.session() as s:
            return dict(s.execute(sa.select(LinkRow.url, LinkRow.retired)).all())

    async def refresh(now: datetime) -> None:
        client = build_client(settings.checks)
        try:
            await refresh_articles(db, settings, client, now)
        finally:
            await client.aclose()

    now = datetime.now(UTC)
    asyncio.run(refresh(now + timedelta(minutes=1)))  # nothing changed, URL not due
    assert seen == [None]
    markdown_article(path, [farm.url("/ok?f=2"), farm.url("/ok?f=3")])
    asyncio.run(refresh(now + timedelta(hours=25)))  # file changed; URL due: conditional GET -> 304
    assert seen == [None, '"v1"']
    got = links()
    assert got[farm.url("/ok?f=1")] is True and got[farm.url("/ok?f=3")] is False
    served.update(
        body=f"# Post\n\n[two]({farm.url('/ok?u=2')}) [new]({farm.url('/ok?u=3')})\n", etag='"v2"'
    )
    asyncio.run(refresh(now + timedelta(hours=50)))
    assert seen == [None, '"v1"', '"v1"']
    got = links()
    assert got[farm.url("/ok?u=1")] is True and got[farm.url("/ok?u=3")] is False
    with db.session() as s:
        etag = s.execute(sa.select(ArticleRow.etag).where(ArticleRow.location == url)).scalar()
    assert etag == '"v2"'
    db.dispose()


def test_jobs_hooks_and_graceful_stop(config: Path, farm: LinkFarm, tmp_path: Path) -> None:
    """Periodic jobs run with their context; a link turning suspect is marked due for the archive;
    on stop, checks that cannot finish within the grace period are cancelled and released."""
    settings = load_settings(config)
    fast = [farm.url("/status/404?h=1"), farm.url("/ok?h=2")]
    slow = [farm.url(f"/sleep?s=30&h={i}") for i in range(3)]
    markdown_article(tmp_path / "h.md", [*fast, *slow])
    assert cli(["add", str(tmp_path / "h.md")]) == 0
    db = open_database(settings.database.url)
    with db.session() as s:
        s.execute(sa.update(LinkRow).values(archive_next_at=datetime.now(UTC) + timedelta(days=30)))
    runs: list[JobContext] = []

    async def job(ctx: JobContext) -> None:
        runs.append(ctx)

    async def boom(ctx: JobContext) -> None:
        raise RuntimeError("job bug")

    async def main() -> int:
        async with Checker(settings.checks) as checker:
            daemon = Daemon(
                settings,
                db,
                worker="test-worker",
                checker=checker,
                jobs=[PeriodicJob("probe", job), PeriodicJob("boom", boom)],
            )
            task = asyncio.create_task(daemon.run())

            async def recorded() -> None:
                while True:
                    with db.session() as s:
                        n = s.execute(sa.text("SELECT COUNT(*) FROM checks")).scalar()
                    if n == 2 and len(runs) >= 2:
                        return
                    await asyncio.sleep(0.05)

            await asyncio.wait_for(recorded(), 30)
            daemon.request_stop()
            return await asyncio.wait_for(task, 10)

    assert asyncio.run(main()) == 0
    assert all(ctx.worker == "test-worker" and ctx.db is db for ctx in runs)
    with db.session() as s:
        rows = {r.url: r for r in s.execute(sa.select(LinkRow)).scalars()}
        workers = s.execute(sa.text("SELECT name, stopping FROM workers")).all()
    assert rows[fast[0]].health == "suspect"
    assert rows[fast[0]].archive_next_at is not None and rows[
        fast[0]
    ].archive_next_at < datetime.now(UTC)
    assert rows[fast[1]].archive_next_at > datetime.now(UTC) + timedelta(
        days=29
    )  # alive: untouched
    for u in slow:  # cancelled after the grace period: lease released, still due
        assert rows[u].lease_owner is None and rows[u].health == "unchecked"
    assert [(n, bool(s)) for n, s in workers] == [("test-worker", True)]
    db.dispose()


def test_daemon_checks_cited_fragments_when_configured(
    sqlite_url: str, farm: LinkFarm, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """checks.check_fragments: the daemon looks up every #anchor the articles cite; a missing
    one is a warning on the check, never a dead signal."""

    async def anchors(request: web.Request, farm: LinkFarm) -> web.Response:
        body = "<html><head><title>Guide</title></head><body><h2 id='intro'>Intro</h2></body>"
        return web.Response(text=body + "</html>", content_type="text/html")

    farm.add("/anchors", anchors)
    page = farm.url("/anchors")
    post = markdown_article(tmp_path / "f.md", [f"{page}#intro", f"{page}#missing"])
    path = write_config(
        tmp_path, sqlite_url, farm, articles=[str(post)], checks={"check_fragments": True}
    )
    monkeypatch.setenv("LINKWATCH_CONFIG", str(path))
    for key in [k for k in os.environ if k.startswith("LINKWATCH_") and k != "LINKWATCH_CONFIG"]:
        monkeypatch.delenv(key)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    assert cli(["run", "--once"]) == 0
    db = open_database(sqlite_url)
    with db.session() as s:
        rows = s.execute(sa.text("SELECT outcome, warnings FROM checks")).all()
        health = s.execute(sa.select(LinkRow.health)).scalars().all()
    db.dispose()
    assert len(rows) == 1  # one link row for both occurrences, checked once
    assert rows[0][0] == "ok"
    assert "fragment #missing not found" in rows[0][1]
    assert "#intro" not in rows[0][1]
    assert health == ["alive"]
