"""Where articles come from: local files and URLs. The only module of ``articles/`` doing I/O.

Every failure a user can cause (missing file, directory, permission, binary data, bad URL,
HTTP error, network error, too large) raises ``InputError`` with a one-line message.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import httpx

from service.articles.extract import parse_article
from service.articles.metadata import merge_meta
from service.articles.normalize import normalize_url
from service.errors import InputError
from service.model import Article, ArticleMeta

DEFAULT_MAX_BYTES = 10 * 2**20

MARKDOWN_SUFFIXES = frozenset({".md", ".markdown", ".mdx", ".mdown", ".mkd", ".txt"})
HTML_SUFFIXES = frozenset({".html", ".htm", ".xhtml", ".shtml"})

_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
_MARKDOWN_TYPES = frozenset({"text/markdown", "text/x-markdown", "text/plain"})
_UNTYPED = frozenset({"", "application/octet-stream", "binary/octet-stream"})

_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9._:\-]+)""", re.I)
_XML_ENCODING = re.compile(rb"""^<\?xml[^>]+encoding\s*=\s*["']([A-Za-z0-9._\-]+)""")
_HTML_SNIFF = re.compile(r"^\s*(?:<!doctype\s+html|<html[\s>]|<head[\s>]|<body[\s>]|<\?xml)", re.I)
_URL_RE = re.compile(r"^https?://", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class FetchedArticle:
    """An article fetched by URL, with what a later conditional GET needs."""

    article: Article
    final_url: str  # after redirects; the base URL of the article's relative links
    etag: str | None = None
    last_modified: str | None = None


def is_url(source: str) -> bool:
    """True when ``source`` names an http(s) URL rather than a file."""
    return bool(_URL_RE.match(source.strip()))


def format_for_suffix(path: str | Path) -> str | None:
    """The format ("markdown" or "html") a file name's extension says; None when unknown."""
    suffix = Path(path).suffix.lower()
    if suffix in MARKDOWN_SUFFIXES:
        return "markdown"
    if suffix in HTML_SUFFIXES:
        return "html"
    return None


def sniff_format(text: str) -> str:
    """The format of a text: "html" when it starts like an HTML document, else "markdown"."""
    return "html" if _HTML_SNIFF.match(text[:1024].lstrip("\ufeff")) else "markdown"


def decode_text(data: bytes, declared: str | None = None, *, name: str = "input") -> str:
    """Bytes to text: BOM, then UTF-8, then the declared/meta charset, then windows-1252/latin-1.

    ``InputError`` when the data is binary (NUL bytes outside a UTF-16/32 encoding).
    """
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            text = data[len(bom) :].decode(encoding, errors="replace")
            break
    else:
        if b"\x00" in data:
            raise InputError(f"{name}: binary data (NUL bytes), not a text article")
        text = _decode_unmarked(data, declared)
    if "\x00" in text:
        raise InputError(f"{name}: binary data (NUL bytes), not a text article")
    return text


def _decode_unmarked(data: bytes, declared: str | None) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    candidates = [declared] if declared else []
    head = data[:4096]
    for pattern in (_META_CHARSET, _XML_ENCODING):
        match = pattern.search(head)
        if match:
            candidates.append(match.group(1).decode("ascii", errors="replace"))
    for name in candidates:
        try:
            codecs.lookup(name)
            return data.decode(name, errors="replace")
        except (LookupError, ValueError):
            continue
    try:
        return data.decode("windows-1252")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _overrides(published: date | datetime | str | None, source_url: str | None) -> ArticleMeta:
    return merge_meta(ArticleMeta(), published=published, source_url=source_url)


def read_article_file(
    path: str | Path,
    *,
    published: date | datetime | str | None = None,
    source_url: str | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> Article:
    """Read and parse a Markdown or HTML file (format from its extension, else sniffed)."""
    override = _overrides(published, source_url)
    name = str(path)
    file = Path(path)
    try:
        if file.is_dir():
            raise InputError(f"{name}: is a directory, not an article file")
        size = file.stat().st_size
        if size > max_bytes:
            raise InputError(f"{name}: too large ({size} bytes, limit {max_bytes})")
        data = file.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{name}: no such file") from None
    except PermissionError:
        raise InputError(f"{name}: permission denied") from None
    except IsADirectoryError:
        raise InputError(f"{name}: is a directory, not an article file") from None
    except OSError as exc:
        raise InputError(f"{name}: cannot read ({exc.strerror or type(exc).__name__})") from None
    text = decode_text(data, name=name)
    fmt = format_for_suffix(file) or sniff_format(text)
    return parse_article(text, fmt, name, meta_override=override)


async def fetch_article(
    url: str,
    client: httpx.AsyncClient,
    *,
    published: date | datetime | str | None = None,
    source_url: str | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    etag: str | None = None,
    last_modified: str | None = None,
) -> FetchedArticle | None:
    """GET an article (redirects followed, body capped at ``max_bytes``) and parse it.

    ``etag`` / ``last_modified`` make the GET conditional: None means "304 Not Modified".
    The client is the caller's (built with the network guard); its errors become ``InputError``.
    """
    override = _overrides(published, source_url)
    if not is_url(url):
        raise InputError(f"not an http(s) URL: {url!r}")
    try:
        normalize_url(url)
    except ValueError as exc:
        raise InputError(f"invalid URL {url!r}: {exc}") from None
    headers = {
        "Accept": "text/html, application/xhtml+xml, text/markdown;q=0.9, text/plain;q=0.8, "
        "*/*;q=0.1"
    }
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    try:
        async with client.stream("GET", url, headers=headers, follow_redirects=True) as response:
            if response.status_code == 304 and (etag or last_modified):
                return None
            if not 200 <= response.status_code < 300:
                reason = f" {response.reason_phrase}" if response.reason_phrase else ""
                raise InputError(f"{url}: HTTP {response.status_code}{reason}")
            content_type = response.headers.get("content-type", "")
            mime = content_type.partition(";")[0].strip().lower()
            _check_textual(url, mime)
            body = await _read_capped(response, url, max_bytes)
            final_url = str(response.url)
            charset = response.charset_encoding
            new_etag = response.headers.get("etag")
            new_last_modified = response.headers.get("last-modified")
    except httpx.HTTPError as exc:
        raise InputError(f"cannot fetch {url}: {_one_line(exc)}") from None
    except (httpx.InvalidURL, httpx.StreamError, OSError) as exc:
        raise InputError(f"cannot fetch {url}: {_one_line(exc)}") from None
    text = decode_text(body, charset, name=url)
    fmt = _format_for(mime, final_url, text)
    article = parse_article(text, fmt, url, base_url=final_url, meta_override=override)
    return FetchedArticle(article, final_url, new_etag, new_last_modified)


def _check_textual(url: str, mime: str) -> None:
    textual = mime.startswith("text/") or mime.endswith(("+xml", "/xml")) or mime in _UNTYPED
    if not textual:
        raise InputError(f"{url}: not an article (content type {mime})")


async def _read_capped(response: httpx.Response, url: str, max_bytes: int) -> bytes:
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise InputError(f"{url}: too large ({declared} bytes, limit {max_bytes})")
    body = bytearray()
    async for chunk in response.aiter_bytes():
        body += chunk
        if len(body) > max_bytes:
            raise InputError(f"{url}: too large (more than {max_bytes} bytes)")
    return bytes(body)


def _format_for(mime: str, final_url: str, text: str) -> str:
    if mime in _HTML_TYPES:
        return "html"
    if mime in _MARKDOWN_TYPES and not (mime == "text/plain" and sniff_format(text) == "html"):
        return "markdown"
    path = httpx.URL(final_url).path
    return format_for_suffix(path) or sniff_format(text)


def _one_line(exc: BaseException) -> str:
    cause = exc.__cause__
    text = str(exc).strip() or (str(cause).strip() if cause else "") or type(exc).__name__
    return text.splitlines()[0]
