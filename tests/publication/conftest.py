"""Fixtures of the publication tests: the news site on loopback and settings aimed at it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from service.settings import Settings
from tests.publication.site import NewsSite, Page


def populate(site: NewsSite) -> None:
    """Five posts in a sitemap index (one child gzip), one robots-refused page, feeds."""
    for n in range(1, 6):
        links = [
            (f"https://ext{n}.example/story/{n}", f"source {n}"),
            ("https://shared.example/ref", "shared"),
        ]
        if n > 1:
            links.append((f"/posts/{n - 1}", "previous post"))
        site.pages[f"/posts/{n}"] = Page(links, published=f"201{n}-03-0{n}", title=f"Post {n}")
    site.pages["/private/secret"] = Page([("https://secret.example/", "secret")])
    site.sitemaps["posts-1.xml.gz"] = [
        ("/posts/1", "2024-01-01"),
        ("/posts/2", "2024-01-02T10:00:00+00:00"),
        ("/private/secret", "2024-01-03"),
    ]
    site.sitemaps["posts-2.xml"] = [
        ("/posts/3", "2024-02-01"),
        ("/posts/4", None),
        ("/posts/5", "2024-02-05"),
    ]
    site.pages["/news/a"] = Page([("https://wire.example/a", "wire a")], published=None)
    site.pages["/news/b"] = Page([("https://wire.example/b", "wire b")], published=None)
    site.rss_items = [
        ("/news/a", "A", "Tue, 02 Mar 2021 10:00:00 GMT"),
        ("/news/b", "B", "Wed, 03 Mar 2021 10:00:00 GMT"),
    ]
    site.pages["/notes/x"] = Page([("https://notes.example/x", "x")], published="2022-07-01")
    site.pages["/notes/y"] = Page([("https://notes.example/y", "y")], published="2022-07-02")
    site.atom_entries = [("x", "X", "2022-07-01T00:00:00Z"), ("y", "Y", "2022-07-02T00:00:00Z")]


@pytest.fixture
def site() -> Iterator[NewsSite]:
    with NewsSite() as news:
        populate(news)
        yield news


def site_settings(site: NewsSite, db_url: str) -> Settings:
    return Settings.model_validate(
        {
            "database": {"url": db_url},
            "checks": {
                "resolve": site.pins,
                "allow_private": True,
                "per_host_interval_s": 0,
                "timeout_s": 5,
                "connect_timeout_s": 5,
            },
            "sources": {"scan_interval_h": 6, "fetch_batch": 100},
        }
    )
