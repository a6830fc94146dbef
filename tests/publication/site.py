"""A small news site on loopback: sitemap index, gzip sitemaps, RSS and Atom feeds, robots.txt,
and article pages with navigation, sidebars and footers full of links.

The site runs in its own thread and event loop (tests call `asyncio.run` or the CLI), and
counts every request per path and per answer, so tests assert what was fetched on the
server side. Its state is plain attributes that tests change between scans.

    with NewsSite() as site:
        site.url("/sitemap_index.xml")     # http://news.test:PORT/sitemap_index.xml
        site.pins                          # ["news.test:127.0.0.x"] for checks.resolve
        site.gets("/posts/1")              # GETs answered 200 for that path
"""

from __future__ import annotations

import gzip
import hashlib
from collections import Counter
from dataclasses import dataclass, field
from types import TracebackType

from aiohttp import web

from tests.support.serving import LoopThread

HOST = "news.test"
IP = "127.0.0.42"

NAV_LINKS = (
    ("/", "Home"),
    ("/about", "About us"),
    ("/subscribe", "Subscribe"),
    ("https://social.example/share?u=news", "Share"),
)
FOOTER_LINKS = (
    ("/privacy", "Privacy"),
    ("https://ads.example/partner", "Our partners"),
)


@dataclass
class Page:
    """One article: its body links (href, text) and metadata."""

    body_links: list[tuple[str, str]]
    published: str | None = "2019-05-01"
    title: str = "A story"
    etag_salt: str = ""
    status: int = 200

    def html(self) -> str:
        nav = "".join(f'<li><a href="{h}">{t}</a></li>' for h, t in NAV_LINKS)
        foot = "".join(f'<a href="{h}">{t}</a> ' for h, t in FOOTER_LINKS)
        body = " ".join(
            f'<p>Paragraph of reporting with a source: <a href="{h}">{t}</a>, and more '
            "prose so the article body is clearly the main content of the page.</p>"
            for h, t in self.body_links
        )
        date = (
            f'<meta property="article:published_time" content="{self.published}">'
            if self.published
            else ""
        )
        return (
            f"<!doctype html><html><head><title>{self.title}</title>{date}</head><body>"
            f'<header class="site-header"><nav><ul>{nav}</ul></nav></header>'
            f"<main><article><h1>{self.title}</h1>{body}</article>"
            '<aside class="sidebar"><a href="/popular">Most read</a></aside></main>'
            f'<footer>{foot}</footer><div class="share-buttons">'
            '<a href="https://social.example/tweet">Tweet</a></div></body></html>'
        )

    def etag(self) -> str:
        digest = hashlib.sha256((self.html() + self.etag_salt).encode()).hexdigest()[:16]
        return f'"{digest}"'


@dataclass
class NewsSite:
    """The site; see the module docstring."""

    ip: str = IP
    pages: dict[str, Page] = field(default_factory=dict)
    # sitemap name -> [(path, lastmod)]; names ending .gz are served gzip-compressed
    sitemaps: dict[str, list[tuple[str, str | None]]] = field(default_factory=dict)
    rss_items: list[tuple[str, str, str | None]] = field(default_factory=list)  # path, title, date
    atom_entries: list[tuple[str, str, str]] = field(default_factory=list)  # rel. href, title, date
    robots: str = "User-agent: *\nDisallow: /private/\n"
    robots_status: int = 200
    requests: Counter[tuple[str, int]] = field(default_factory=Counter)
    port: int = 0

    def __post_init__(self) -> None:
        self._runner: web.AppRunner | None = None
        self._serving = LoopThread("news-site", self._start, self._close)

    # -- URLs and counts --------------------------------------------------------------------

    @property
    def origin(self) -> str:
        return f"http://{HOST}:{self.port}"

    def url(self, path: str) -> str:
        return self.origin + path

    @property
    def pins(self) -> list[str]:
        return [f"{HOST}:{self.ip}"]

    def gets(self, path: str, status: int = 200) -> int:
        return self.requests[(path, status)]

    def page_requests(self) -> int:
        """Every request for an article page (any answer)."""
        return sum(n for (path, _), n in self.requests.items() if path in self.pages)

    # -- content -----------------------------------------------------------------------------

    def sitemap_index(self) -> str:
        items = "".join(
            f"<sitemap><loc>{self.url('/sitemaps/' + name)}</loc></sitemap>"
            for name in self.sitemaps
        )
        return (
            '<?xml version="1.0" encoding="UTF-8"?>'
            f'<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{items}</sitemapindex>'
        )

    def urlset(self, name: str) -> str:
        items = "".join(
            f"<url><loc>{self.url(path)}</loc>"
            + (f"<lastmod>{lastmod}</lastmod>" if lastmod else "")
            + "</url>"
            for path, lastmod in self.sitemaps[name]
        )
        return (
            '<?xml version="1.0" encoding="UTF-8"?>'
            f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{items}</urlset>'
        )

    def rss(self) -> str:
        items = "".join(
            f"<item><title>{title}</title><link>{self.url(path)}</link>"
            + (f"<pubDate>{date}</pubDate>" if date else "")
            + "</item>"
            for path, title, date in self.rss_items
        )
        return (
            '<?xml version="1.0"?><rss version="2.0"><channel><title>News</title>'
            f"<link>{self.origin}/</link>{items}</channel></rss>"
        )

    def atom(self) -> str:
        entries = "".join(
            f'<entry><title>{title}</title><link rel="alternate" href="{href}"/>'
            f"<id>{href}</id><updated>{date}</updated></entry>"
            for href, title, date in self.atom_entries
        )
        return (
            '<?xml version="1.0" encoding="utf-8"?>'
            f'<feed xmlns="http://www.w3.org/2005/Atom" xml:base="{self.origin}/notes/">'
            f"<title>Notes</title>{entries}</feed>"
        )

    # -- server ------------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        response = self._answer(request, path)
        self.requests[(path, response.status)] += 1
        return response

    def _answer(self, request: web.Request, path: str) -> web.Response:
        if path == "/robots.txt":
            return web.Response(text=self.robots, status=self.robots_status)
        if path == "/sitemap_index.xml":
            return web.Response(text=self.sitemap_index(), content_type="application/xml")
        if path.startswith("/sitemaps/"):
            name = path.removeprefix("/sitemaps/")
            if name not in self.sitemaps:
                return web.Response(status=404)
            xml = self.urlset(name).encode()
            if name.endswith(".gz"):
                return web.Response(body=gzip.compress(xml), content_type="application/gzip")
            return web.Response(body=xml, content_type="application/xml")
        if path == "/feed.rss":
            return web.Response(text=self.rss(), content_type="application/rss+xml")
        if path == "/feed.atom":
            return web.Response(text=self.atom(), content_type="application/atom+xml")
        page = self.pages.get(path)
        if page is None:
            return web.Response(status=404, text="not found")
        if page.status != 200:
            return web.Response(status=page.status, text="gone")
        etag = page.etag()
        if request.headers.get("If-None-Match") == etag:
            return web.Response(status=304, headers={"ETag": etag})
        return web.Response(text=page.html(), content_type="text/html", headers={"ETag": etag})

    def __enter__(self) -> NewsSite:
        if not self._serving.start(10):
            raise RuntimeError("the news site did not start")
        return self

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_route("GET", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.ip, 0)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]

    async def _close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._serving.stop()
