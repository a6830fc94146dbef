"""Article sources: files (format, decoding, one-line errors) and URLs (a real local server)."""

from __future__ import annotations

import os
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from aiohttp import web
from httpx_aiohttp import AiohttpTransport

from service.articles.sources import decode_text, fetch_article, is_url, read_article_file
from service.errors import InputError, UsageError
from service.model import LinkKind

# -- files --------------------------------------------------------------------------------------


def test_markdown_file_with_overrides(tmp_path: Path) -> None:
    path = tmp_path / "post.md"
    path.write_text("---\ntitle: T\ndate: 2018-05-26\n---\n[a](rel.html) [b](#)\n", "utf-8")
    article = read_article_file(path)
    assert (article.format, article.location, article.meta.title) == ("markdown", str(path), "T")
    assert str(article.meta.published) == "2018-05-26"
    assert article.occurrences[0].kind is LinkKind.RELATIVE
    overridden = read_article_file(
        str(path), published="2020-01-02", source_url="https://orig.example/blog/post"
    )
    assert str(overridden.meta.published) == "2020-01-02"
    assert overridden.meta.title == "T"
    assert overridden.occurrences[0].url == "https://orig.example/blog/rel.html"


def test_bad_overrides_are_usage_errors(tmp_path: Path) -> None:
    path = tmp_path / "post.md"
    path.write_text("x", "utf-8")
    with pytest.raises(UsageError, match="published date"):
        read_article_file(path, published="26/05/2018")
    with pytest.raises(UsageError, match="source URL"):
        read_article_file(path, source_url="not a url")


@pytest.mark.parametrize(
    ("name", "content", "fmt"),
    [
        ("a.html", "[md](x) <a href='h'>h</a>", "html"),
        ("a.HTM", "<a href='h'>h</a>", "html"),
        ("a.xhtml", "<a href='h'>h</a>", "html"),
        ("a.markdown", "<a href='h'>h</a>", "markdown"),
        ("a.txt", "[t](x)", "markdown"),
        ("a.mdx", "[t](x)", "markdown"),
        ("noext", "  <!DOCTYPE html><a href='h'>h</a>", "html"),
        ("page.php", "<html><body><a href='h'>h</a>", "html"),
        ("notes", "# Title\n[t](x)", "markdown"),
    ],
)
def test_format_from_extension_else_sniffed(
    tmp_path: Path, name: str, content: str, fmt: str
) -> None:
    path = tmp_path / name
    path.write_text(content, "utf-8")
    assert read_article_file(path).format == fmt


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"\xef\xbb\xbf[caf\xc3\xa9](#)", "[café](#)"),
        ("[café](#)".encode("utf-16"), "[café](#)"),
        ("[café](#)".encode("utf-16-be").join([b"\xfe\xff", b""]), "[café](#)"),
        (b"[caf\xe9](#)", "[café](#)"),  # not UTF-8: windows-1252
        (b"[\x93quoted\x94](#)", "[\u201cquoted\u201d](#)"),
        (
            b"<meta charset='koi8-r'><a href=#>\xf0\xd2\xc9</a>",
            "<meta charset='koi8-r'><a href=#>При</a>",
        ),
    ],
)
def test_decoding(data: bytes, expected: str) -> None:
    assert decode_text(data) == expected


def test_utf16_file_is_read(tmp_path: Path) -> None:
    path = tmp_path / "u16.md"
    path.write_bytes("[é](http://x.example/)".encode("utf-16"))
    [occurrence] = read_article_file(path).occurrences
    assert (occurrence.anchor_text, occurrence.url) == ("é", "http://x.example/")


def test_file_errors_are_one_line_input_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        read_article_file(tmp_path / "missing.md")
    with pytest.raises(InputError, match="is a directory"):
        read_article_file(tmp_path)
    binary = tmp_path / "image.md"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    with pytest.raises(InputError, match="binary data"):
        read_article_file(binary)
    big = tmp_path / "big.md"
    big.write_bytes(b"x" * 2000)
    with pytest.raises(InputError, match="too large"):
        read_article_file(big, max_bytes=1000)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_permission_denied(tmp_path: Path) -> None:
    path = tmp_path / "secret.md"
    path.write_text("x", "utf-8")
    path.chmod(0)
    try:
        with pytest.raises(InputError, match="permission denied"):
            read_article_file(path)
    finally:
        path.chmod(0o600)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("https://x.example/a", True),
        ("HTTP://x.example", True),
        ("  http://x.example", True),
        ("config/articles/a.md", False),
        ("ftp://x.example/", False),
        ("http.md", False),
    ],
)
def test_is_url(source: str, expected: bool) -> None:
    assert is_url(source) is expected


# -- URLs: a real server on loopback --------------------------------------------------------------

HTML = """<!doctype html><html><head><title>Remote</title>
<meta property="article:published_time" content="2018-05-26T10:00:00Z"></head>
<body><a href="next.html">next</a> <a href="/abs">abs</a> <a href="#">lost</a></body></html>"""

ETAG = '"v1"'
LAST_MODIFIED = "Sat, 26 May 2018 10:00:00 GMT"


def make_app() -> web.Application:
    async def article(request: web.Request) -> web.Response:
        if request.headers.get("If-None-Match") == ETAG:
            return web.Response(status=304, headers={"ETag": ETAG})
        return web.Response(
            text=HTML,
            content_type="text/html",
            headers={"ETag": ETAG, "Last-Modified": LAST_MODIFIED},
        )

    async def markdown(request: web.Request) -> web.Response:
        return web.Response(
            text="[rel](img/x.png) <https://other.example/>", content_type="text/markdown"
        )

    async def redirect(request: web.Request) -> web.Response:
        raise web.HTTPFound("/blog/2018/article.html")

    async def latin1(request: web.Request) -> web.Response:
        body = "<a href='x'>caf\u00e9</a>".encode("latin-1")
        return web.Response(body=body, headers={"Content-Type": "text/html; charset=iso-8859-1"})

    async def big(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/html"})
        await response.prepare(request)
        for _ in range(64):
            await response.write(b"<p>" + b"x" * 1024)
        return response

    async def image(request: web.Request) -> web.Response:
        return web.Response(body=b"\x89PNG", content_type="image/png")

    async def untyped(request: web.Request) -> web.Response:
        return web.Response(body=b"<html><a href='u'>u</a></html>", headers={"Content-Type": ""})

    app = web.Application()
    app.router.add_get("/blog/2018/article.html", article)
    app.router.add_get("/post.md", markdown)
    app.router.add_get("/old", redirect)
    app.router.add_get("/latin1", latin1)
    app.router.add_get("/big", big)
    app.router.add_get("/image.png", image)
    app.router.add_get("/untyped", untyped)
    return app


@pytest.fixture
async def server() -> AsyncIterator[str]:
    runner = web.AppRunner(make_app())
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


@pytest.fixture(params=["httpx", "aiohttp-transport"])
async def client(request: pytest.FixtureRequest) -> AsyncIterator[httpx.AsyncClient]:
    if request.param == "httpx":
        async with httpx.AsyncClient(trust_env=False, timeout=10) as plain:
            yield plain
    else:
        transport = AiohttpTransport(trust_env=False)
        async with httpx.AsyncClient(transport=transport, trust_env=False, timeout=10) as fast:
            yield fast


async def test_fetch_html_after_redirect_uses_final_url_as_base(
    server: str, client: httpx.AsyncClient
) -> None:
    fetched = await fetch_article(f"{server}/old", client)
    assert fetched is not None
    assert fetched.final_url == f"{server}/blog/2018/article.html"
    assert (fetched.etag, fetched.last_modified) == (ETAG, LAST_MODIFIED)
    article = fetched.article
    assert (article.location, article.format, article.meta.title) == (
        f"{server}/old",
        "html",
        "Remote",
    )
    assert str(article.meta.published) == "2018-05-26"
    assert [(o.kind, o.url) for o in article.occurrences] == [
        (LinkKind.HTTP, f"{server}/blog/2018/next.html"),
        (LinkKind.HTTP, f"{server}/abs"),
        (LinkKind.PLACEHOLDER, None),
    ]


async def test_conditional_get_returns_none_on_304(server: str, client: httpx.AsyncClient) -> None:
    url = f"{server}/blog/2018/article.html"
    assert await fetch_article(url, client, etag=ETAG) is None
    fetched = await fetch_article(url, client, etag='"stale"', published="2001-01-01")
    assert fetched is not None
    assert str(fetched.article.meta.published) == "2001-01-01"


async def test_markdown_by_content_type_and_charset(server: str, client: httpx.AsyncClient) -> None:
    fetched = await fetch_article(f"{server}/post.md", client)
    assert fetched is not None and fetched.article.format == "markdown"
    assert [o.url for o in fetched.article.occurrences] == [
        f"{server}/img/x.png",
        "https://other.example/",
    ]
    latin = await fetch_article(f"{server}/latin1", client)
    assert latin is not None and latin.article.occurrences[0].anchor_text == "café"
    untyped = await fetch_article(f"{server}/untyped", client)
    assert untyped is not None and untyped.article.format == "html"


async def test_fetch_errors_are_one_line_input_errors(
    server: str, client: httpx.AsyncClient
) -> None:
    with pytest.raises(InputError, match="HTTP 404"):
        await fetch_article(f"{server}/nothing-here", client)
    with pytest.raises(InputError, match="too large"):
        await fetch_article(f"{server}/big", client, max_bytes=10_000)
    with pytest.raises(InputError, match="not an article"):
        await fetch_article(f"{server}/image.png", client)
    with pytest.raises(InputError, match="not an http"):
        await fetch_article("ftp://127.0.0.1/x", client)
    with pytest.raises(InputError, match="invalid URL"):
        await fetch_article("http://127.0.0.1:99999/", client)
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        refused = sock.getsockname()[1]
    with pytest.raises(InputError, match="cannot fetch") as caught:
        await fetch_article(f"http://127.0.0.1:{refused}/x", client)
    assert "\n" not in str(caught.value)
