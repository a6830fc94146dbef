"""Scanning a real (loopback) news site: discovery, body links, lastmod, feeds, retirement."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlmodel import select

from service.checks.client import build_client
from service.monitor.sources import PageFetcher, SourceStats, run_sources
from service.settings import Settings
from service.store import repo
from service.store import sources as store
from service.store.db import Database, open_database
from service.store.tables import ArticleRow, LinkRow
from tests.publication.conftest import site_settings
from tests.publication.site import NAV_LINKS, NewsSite, Page

T0 = datetime(2025, 1, 6, 8, 0, tzinfo=UTC)


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = open_database(db_url)
    try:
        yield database
    finally:
        database.dispose()


def run(db: Database, settings: Settings, now: datetime) -> SourceStats:
    async def go() -> SourceStats:
        client = build_client(settings.checks)
        try:
            return await run_sources(db, PageFetcher(client, settings), now)
        finally:
            await client.aclose()

    return asyncio.run(go())


def add(db: Database, kind: str, url: str, *, all_links: bool = False) -> int:
    with db.session() as session:
        row = store.add_source(session, kind, url, T0 - timedelta(minutes=1), all_links=all_links)
        assert row.id is not None
        return row.id


def articles(db: Database, *, active: bool = True) -> dict[str, ArticleRow]:
    with db.session() as session:
        rows = session.exec(select(ArticleRow).where(ArticleRow.active == active)).all()
        return {row.location: row for row in rows}


def cited(db: Database, location: str) -> list[str]:
    with db.session() as session:
        row = repo.get_article(session, location)
        assert row is not None and row.id is not None
        return [link.url for _, link in repo.article_occurrences(session, row.id) if link]


def test_sitemap_index_discovery_body_links_and_lastmod(db: Database, site: NewsSite) -> None:
    settings = site_settings(site, str(db.url.render_as_string(hide_password=False)))
    add(db, "sitemap", site.url("/sitemap_index.xml"))

    stats = run(db, settings, T0)

    posts = {site.url(f"/posts/{n}") for n in range(1, 6)}
    found = articles(db)
    assert set(found) == posts | {site.url("/private/secret")}
    assert site.gets("/sitemaps/posts-1.xml.gz") == 1 and site.gets("/sitemaps/posts-2.xml") == 1
    # robots.txt refuses /private/: listed, never fetched
    assert site.gets("/private/secret") == 0 and stats.blocked == 1
    assert found[site.url("/private/secret")].fetched_at is None
    assert all(site.gets(f"/posts/{n}") == 1 for n in range(1, 6))
    # body links only: no navigation, sidebar, share or footer link
    assert cited(db, site.url("/posts/2")) == [
        "https://ext2.example/story/2",
        "https://shared.example/ref",
        site.url("/posts/1"),
    ]
    assert found[site.url("/posts/2")].published == date(2012, 3, 2)
    # one link row for the URL every post cites
    with db.session() as session:
        shared = session.exec(
            select(LinkRow).where(LinkRow.url == "https://shared.example/ref")
        ).all()
        assert len(shared) == 1
        assert shared[0].citation_date == date(2011, 3, 1)  # the oldest citing post

    # Next scan: nothing changed -> the sitemaps are read again, no article page is.
    before = site.page_requests()
    run(db, settings, T0 + timedelta(hours=7))
    assert site.gets("/sitemaps/posts-2.xml") == 2
    assert site.page_requests() == before

    # post 2 gets a new lastmod and a new link; post 3 leaves the sitemap.
    site.pages["/posts/2"].body_links.append(("https://ext-new.example/", "new source"))
    site.sitemaps["posts-1.xml.gz"][1] = ("/posts/2", "2024-03-01")
    site.sitemaps["posts-2.xml"] = [("/posts/4", None), ("/posts/5", "2024-02-05")]
    stats = run(db, settings, T0 + timedelta(hours=14))
    assert site.gets("/posts/2") == 2 and site.gets("/posts/1") == 1
    assert site.page_requests() == before + 1
    assert "https://ext-new.example/" in cited(db, site.url("/posts/2"))
    assert stats.retired == 1
    retired = articles(db, active=False)
    assert set(retired) == {site.url("/posts/3")}
    with db.session() as session:
        ext3 = session.exec(
            select(LinkRow).where(LinkRow.url == "https://ext3.example/story/3")
        ).one()
        assert ext3.retired  # nobody else cites it; its history is kept
        shared_row = session.exec(
            select(LinkRow).where(LinkRow.url == "https://shared.example/ref")
        ).one()
        assert not shared_row.retired


def test_all_links_keeps_navigation(sqlite_url: str, site: NewsSite) -> None:
    db = open_database(sqlite_url)
    try:
        settings = site_settings(site, sqlite_url)
        add(db, "sitemap", site.url("/sitemaps/posts-2.xml"), all_links=True)
        run(db, settings, T0)
        urls = cited(db, site.url("/posts/3"))
        assert site.url("/about") in urls and "https://ads.example/partner" in urls
        assert len(urls) > len(NAV_LINKS) + 3
    finally:
        db.dispose()


def test_feeds_new_entries_next_scan_and_gone_pages(sqlite_url: str, site: NewsSite) -> None:
    db = open_database(sqlite_url)
    try:
        settings = site_settings(site, sqlite_url)
        add(db, "feed", site.url("/feed.rss"))
        add(db, "feed", site.url("/feed.atom"))
        run(db, settings, T0)
        found = articles(db)
        assert set(found) == {site.url(p) for p in ("/news/a", "/news/b", "/notes/x", "/notes/y")}
        # the page has no date: the feed's pubDate is used
        assert found[site.url("/news/a")].published == date(2021, 3, 2)
        assert cited(db, site.url("/notes/y")) == ["https://notes.example/y"]

        # A new entry appears; the oldest scrolls out of the feed window; one page is gone.
        site.pages["/news/c"] = Page([("https://wire.example/c", "wire c")], published="2021-03-04")
        site.rss_items = [("/news/c", "C", "Thu, 04 Mar 2021 10:00:00 GMT"), site.rss_items[1]]
        run(db, settings, T0 + timedelta(hours=7))
        found = articles(db)
        assert site.url("/news/c") in found and site.gets("/news/c") == 1
        assert site.url("/news/a") in found  # a feed is a window: still watched
        assert site.gets("/news/b") == 1  # same pubDate: not fetched again

        site.pages["/news/a"].status = 410
        run(db, settings, T0 + timedelta(days=2))  # past monitor.article_refresh_h
        assert site.gets("/news/a", 410) == 1
        assert site.url("/news/a") in articles(db, active=False)
    finally:
        db.dispose()


def test_conditional_get_for_articles_without_lastmod(sqlite_url: str, site: NewsSite) -> None:
    db = open_database(sqlite_url)
    try:
        settings = site_settings(site, sqlite_url)
        add(db, "sitemap", site.url("/sitemaps/posts-2.xml"))
        run(db, settings, T0)
        assert site.gets("/posts/4") == 1
        # /posts/4 has no lastmod: re-fetched after article_refresh_h, with If-None-Match
        run(db, settings, T0 + timedelta(hours=25))
        assert site.gets("/posts/4", 304) == 1
        assert site.gets("/posts/3") == 1 and site.gets("/posts/3", 304) == 0
    finally:
        db.dispose()


def test_unreadable_source_keeps_its_articles(sqlite_url: str, site: NewsSite) -> None:
    db = open_database(sqlite_url)
    try:
        settings = site_settings(site, sqlite_url)
        add(db, "sitemap", site.url("/sitemaps/posts-2.xml"))
        run(db, settings, T0)
        del site.sitemaps["posts-2.xml"]  # now 404
        stats = run(db, settings, T0 + timedelta(hours=7))
        assert stats.errors and "HTTP 404" in stats.errors[0]
        assert len(articles(db)) == 3 and not articles(db, active=False)
    finally:
        db.dispose()


def test_robots_unreachable_means_no_page_fetch(sqlite_url: str, site: NewsSite) -> None:
    db = open_database(sqlite_url)
    try:
        site.robots_status = 503
        settings = site_settings(site, sqlite_url)
        add(db, "sitemap", site.url("/sitemaps/posts-2.xml"))
        stats = run(db, settings, T0)
        assert site.page_requests() == 0 and stats.blocked == 3
        with db.session() as session:
            pending = session.execute(
                sa.select(sa.func.count())
                .select_from(ArticleRow)
                .where(
                    ArticleRow.fetched_at.is_(None)  # type: ignore[union-attr]
                )
            ).scalar_one()
        assert pending == 3
    finally:
        db.dispose()
