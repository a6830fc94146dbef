"""Pure parts: sitemap/feed parsing (gzip, bombs, entities), robots.txt, body restriction."""

from __future__ import annotations

import gzip
from datetime import date

import pytest

from service.articles.discover import (
    DiscoveryError,
    canonical_lastmod,
    parse_listing,
    registrable_domain,
)
from service.articles.extract import parse_article
from service.articles.maincontent import restrict_to_body
from service.articles.robots import parse_robots, robots_for_status
from tests.publication.site import NewsSite, Page

BASE = "https://news.example.com/sitemap.xml"


def test_urlset_with_news_dates_relative_and_duplicate_locs() -> None:
    xml = b"""<?xml version="1.0"?>
    <urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"
            xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">
      <url><loc> https://news.example.com/a </loc><lastmod>2024-01-02T03:04:05+01:00</lastmod>
        <news:news><news:publication_date>2023-12-31</news:publication_date>
        <news:title>A</news:title></news:news></url>
      <url><loc>/b</loc><lastmod>2024-01-05</lastmod></url>
      <url><loc>https://news.example.com/a</loc></url>
      <url><loc>ftp://news.example.com/c</loc></url>
    </urlset>"""
    listing = parse_listing(xml, BASE)
    assert listing.kind == "urlset"
    assert [(e.url, e.lastmod, e.published) for e in listing.entries] == [
        ("https://news.example.com/a", "2024-01-02T02:04:05Z", date(2023, 12, 31)),
        ("https://news.example.com/b", "2024-01-05T00:00:00Z", None),
    ]


def test_gzip_index_and_bomb() -> None:
    index = b"""<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
      <sitemap><loc>https://news.example.com/s1.xml.gz</loc><lastmod>2024-01-01</lastmod></sitemap>
    </sitemapindex>"""
    listing = parse_listing(gzip.compress(index), BASE)
    assert listing.kind == "sitemapindex" and listing.sitemaps[0].url.endswith("/s1.xml.gz")
    bomb = gzip.compress(b"<urlset>" + b" " * 3_000_000 + b"</urlset>")
    with pytest.raises(DiscoveryError, match="too large"):
        parse_listing(bomb, BASE, max_bytes=1_000_000)
    with pytest.raises(DiscoveryError, match=r"corrupt|truncated"):
        parse_listing(gzip.compress(index)[:30], BASE)


def test_refused_and_unknown_documents() -> None:
    laughs = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><urlset>&a;</urlset>'
    with pytest.raises(DiscoveryError, match="entities"):
        parse_listing(laughs, BASE)
    with pytest.raises(DiscoveryError, match="not XML"):
        parse_listing(b"<html><body>hello", BASE)
    with pytest.raises(DiscoveryError, match="root element <html>"):
        parse_listing(b"<html><body>hello</body></html>", BASE)


def test_rss_and_atom_from_the_test_site() -> None:
    site = NewsSite(port=8080)
    site.pages["/news/a"] = Page([])
    site.rss_items = [("/news/a", "A", "Tue, 02 Mar 2021 10:00:00 GMT"), ("/news/b", "B", None)]
    rss = parse_listing(site.rss().encode(), site.url("/feed.rss"))
    assert rss.kind == "rss" and rss.title == "News"
    assert [(e.url, e.published, e.lastmod) for e in rss.entries] == [
        ("http://news.test:8080/news/a", date(2021, 3, 2), None),
        ("http://news.test:8080/news/b", None, None),
    ]
    site.atom_entries = [("x", "X", "2022-07-01T00:00:00Z")]
    atom = parse_listing(site.atom().encode(), site.url("/feed.atom"))
    assert [(e.url, e.lastmod, e.title) for e in atom.entries] == [
        ("http://news.test:8080/notes/x", "2022-07-01T00:00:00Z", "X")
    ]


def test_atom_prefers_the_html_alternate_link() -> None:
    xml = b"""<feed xmlns="http://www.w3.org/2005/Atom"><entry>
      <link rel="self" href="https://n.example.com/self"/>
      <link rel="alternate" type="application/json" href="https://n.example.com/e.json"/>
      <link href="https://n.example.com/e"/>
      <published>2020-02-02T00:00:00Z</published><updated>2021-01-01T00:00:00Z</updated>
    </entry></feed>"""
    (entry,) = parse_listing(xml, BASE).entries
    assert entry.url == "https://n.example.com/e"
    assert entry.published == date(2020, 2, 2) and entry.lastmod == "2021-01-01T00:00:00Z"


def test_canonical_lastmod_and_domains() -> None:
    assert canonical_lastmod("2024-01-02") == canonical_lastmod("2024-01-02T00:00:00Z")
    assert canonical_lastmod("  yesterday ") == "yesterday"
    assert canonical_lastmod("") is None
    assert registrable_domain("www.bbc.co.uk") == "bbc.co.uk"
    assert registrable_domain("user.github.io") == "user.github.io"


def test_robots_longest_match_wildcards_agents_and_status() -> None:
    rules = parse_robots(
        "User-agent: *\nDisallow: /private/\nAllow: /private/open$\nDisallow: /*.pdf$\n\n"
        "User-agent: LinkWatch\nUser-agent: other\nDisallow: /drafts\nCrawl-delay: 2.5\n"
    )
    ua = "linkwatch/1.0 (+https://example.org)"
    assert not rules.allowed("https://s.example/private/x", "somebot")
    assert not rules.allowed("https://s.example/private/x", "otherbot/1")  # not "other"
    assert rules.allowed("https://s.example/private/x", "other/2")
    assert rules.allowed("https://s.example/private/open", "somebot/1")
    assert not rules.allowed("https://s.example/private/open/more", "somebot/1")
    assert not rules.allowed("https://s.example/files/a.pdf", "somebot/1")
    assert not rules.allowed("https://s.example/drafts/1", ua)
    assert rules.allowed("https://s.example/private/x", ua)  # its own group only
    assert rules.crawl_delay(ua) == 2.5 and rules.crawl_delay("somebot") is None
    assert robots_for_status(404, None).allowed("https://s.example/x", ua)
    assert not robots_for_status(503, None).allowed("https://s.example/x", ua)
    assert not robots_for_status(None, None).allowed("https://s.example/x", ua)
    assert robots_for_status(None, None).allowed("https://s.example/robots.txt", ua)


def test_restrict_to_body_keeps_lines_and_renumbers() -> None:
    page = Page([("https://a.example/", "A"), ("/about", "About us")], title="T")
    html = page.html()
    article = parse_article(
        html, "html", "https://news.example.com/p", base_url="https://news.example.com/p"
    )
    body = restrict_to_body(article, html)
    assert [o.url for o in body.occurrences] == [
        "https://a.example/",
        "https://news.example.com/about",
    ]
    assert [o.position for o in body.occurrences] == [0, 1]
    # the body's "/about" (text "About us") is the one in <article>, not the nav's
    nav_about = next(o for o in article.occurrences if o.href == "/about")
    assert body.occurrences[1].href_span != nav_about.href_span
    assert len(article.occurrences) > len(body.occurrences) + 5
    md = parse_article("[x](https://x.example/)", "markdown", "a.md")
    assert restrict_to_body(md, "") is md
