"""Article discovery: sitemaps, sitemap indexes, RSS 2.0 / RSS 1.0 and Atom feeds (pure, no I/O).

    doc = parse_listing(data, "https://example.com/sitemap.xml")   # bytes as downloaded
    doc.kind        # "urlset" | "sitemapindex" | "rss" | "atom"
    doc.entries     # articles: DiscoveredEntry(url, lastmod, published, title)
    doc.sitemaps    # for an index: the child sitemaps (their own lastmod)

- gzip-compressed documents (`sitemap.xml.gz`, served without Content-Encoding) are
  recognised by their magic bytes and inflated to at most `max_bytes` (a gzip bomb stops
  there with `DiscoveryError`);
- element names are matched by local name, so the sitemap namespace (or its absence, or an
  old Google namespace) does not matter;
- documents declaring entities (`<!ENTITY`) are refused: sitemaps and feeds never need them,
  and entity expansion is the classic XML bomb;
- URLs are resolved against the document's URL (Atom `xml:base` too), normalised, and
  deduplicated (first occurrence wins); entries that are not http(s) are skipped;
- `lastmod` (sitemap `<lastmod>`, Atom `<updated>`) is kept as a canonical string (ISO 8601
  UTC when it parses, else as written): equal strings mean the listing says the article did
  not change. RSS has no modification date (`<pubDate>` is the publication date, kept as
  `published`), so RSS entries have no lastmod and are refreshed by conditional GETs.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from email.utils import parsedate_to_datetime
from functools import lru_cache
from typing import Any
from urllib.parse import urljoin

from service.articles.normalize import normalize_url

DEFAULT_MAX_BYTES = 50 * 2**20  # the sitemap protocol's own limit (uncompressed)
_XML_BASE = "{http://www.w3.org/XML/1998/namespace}base"
_GZIP_MAGIC = b"\x1f\x8b"
_ENTITY = re.compile(rb"<!ENTITY", re.IGNORECASE)
_W3C_DATE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")

LISTING_KINDS = ("urlset", "sitemapindex", "rss", "atom")


@lru_cache(maxsize=1)
def _extractor() -> Callable[[str], Any]:
    """The Public Suffix List snapshot shipped with tldextract: never downloaded (offline-safe).

    Built on first use: tldextract (and requests) are not imported at start-up."""
    import tldextract

    return tldextract.TLDExtract(
        suffix_list_urls=(), cache_dir=None, include_psl_private_domains=True
    )


class DiscoveryError(ValueError):
    """A listing that cannot be read (not XML, not a sitemap or feed, too large)."""


@dataclass(frozen=True, slots=True)
class DiscoveredEntry:
    """One article (or, in an index, one child sitemap) named by a listing."""

    url: str  # normalised absolute http(s) URL
    lastmod: str | None = None  # canonical string (see module docstring)
    published: date | None = None  # publication date when the listing says it
    title: str | None = None


@dataclass(frozen=True, slots=True)
class Listing:
    """What a sitemap or feed lists."""

    kind: str  # one of LISTING_KINDS
    entries: tuple[DiscoveredEntry, ...] = ()
    sitemaps: tuple[DiscoveredEntry, ...] = ()  # sitemapindex only
    title: str | None = None  # a feed's title

    @property
    def is_feed(self) -> bool:
        return self.kind in ("rss", "atom")


def inflate(data: bytes, max_bytes: int = DEFAULT_MAX_BYTES) -> bytes:
    """`data` itself, or its gzip-inflated content when it starts with the gzip magic bytes.

    `DiscoveryError` when the inflated content would exceed `max_bytes` or is corrupt.
    """
    if not data.startswith(_GZIP_MAGIC):
        if len(data) > max_bytes:
            raise DiscoveryError(f"document too large ({len(data)} bytes, limit {max_bytes})")
        return data
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(data, max_bytes + 1)
    except zlib.error as exc:
        raise DiscoveryError(f"corrupt gzip data ({exc})") from None
    if len(out) > max_bytes or inflater.unconsumed_tail:
        raise DiscoveryError(f"document too large once decompressed (limit {max_bytes} bytes)")
    if not inflater.eof:
        raise DiscoveryError("truncated gzip data")
    return out


def parse_listing(data: bytes, url: str, *, max_bytes: int = DEFAULT_MAX_BYTES) -> Listing:
    """Parse a sitemap, sitemap index, RSS or Atom document (gzip or not) found at `url`."""
    raw = inflate(data, max_bytes)
    if _ENTITY.search(raw[:65536]):
        raise DiscoveryError("document declares XML entities (refused)")
    try:
        # Entity declarations were refused above, which is what defusedxml guards against.
        root = ET.fromstring(raw.lstrip(b"\xef\xbb\xbf \t\r\n"))  # noqa: S314
    except ET.ParseError as exc:
        raise DiscoveryError(f"not XML ({exc})") from None
    name = _local(root.tag)
    if name == "urlset":
        return Listing("urlset", entries=_sitemap_entries(root, url, "url"))
    if name == "sitemapindex":
        return Listing("sitemapindex", sitemaps=_sitemap_entries(root, url, "sitemap"))
    if name == "rss":
        channel = _child(root, "channel")
        if channel is None:
            raise DiscoveryError("RSS document without a <channel>")
        return Listing("rss", entries=_rss_items(channel, url), title=_text(channel, "title"))
    if name == "RDF":  # RSS 1.0
        items = [e for e in root if _local(e.tag) == "item"]
        channel = _child(root, "channel")
        title = _text(channel, "title") if channel is not None else None
        return Listing("rss", entries=_rss_entries(items, url), title=title)
    if name == "feed":
        return Listing("atom", entries=_atom_entries(root, url), title=_text(root, "title"))
    raise DiscoveryError(f"not a sitemap or feed (root element <{name}>)")


# -- sitemaps ----------------------------------------------------------------------------------


def _sitemap_entries(root: ET.Element, base: str, item: str) -> tuple[DiscoveredEntry, ...]:
    out: dict[str, DiscoveredEntry] = {}
    for element in root:
        if _local(element.tag) != item:
            continue
        url = _absolute(_text(element, "loc"), base)
        if url is None or url in out:
            continue
        published = None
        news = _child(element, "news")
        if news is not None:
            published = parse_date(_text(news, "publication_date"))
        out[url] = DiscoveredEntry(
            url=url,
            lastmod=canonical_lastmod(_text(element, "lastmod")),
            published=published,
            title=_text(news, "title") if news is not None else None,
        )
    return tuple(out.values())


# -- feeds -------------------------------------------------------------------------------------


def _rss_items(channel: ET.Element, base: str) -> tuple[DiscoveredEntry, ...]:
    return _rss_entries([e for e in channel if _local(e.tag) == "item"], base)


def _rss_entries(items: list[ET.Element], base: str) -> tuple[DiscoveredEntry, ...]:
    out: dict[str, DiscoveredEntry] = {}
    for item in items:
        link = _text(item, "link")
        if link is None:
            guid = _child(item, "guid")
            permalink = guid is not None and guid.get("isPermaLink", "true").lower() != "false"
            link = _text(item, "guid") if permalink else None
        if link is None:
            link = item.get("{http://www.w3.org/1999/02/22-rdf-syntax-ns#}about")
        url = _absolute(link, base)
        if url is None or url in out:
            continue
        when = _text(item, "pubDate") or _text(item, "date")
        stamp = parse_datetime(when)
        out[url] = DiscoveredEntry(
            url=url,
            lastmod=None,  # pubDate is when it was published, not when it last changed
            published=stamp.date() if stamp else None,
            title=_text(item, "title"),
        )
    return tuple(out.values())


def _atom_entries(feed: ET.Element, base: str) -> tuple[DiscoveredEntry, ...]:
    feed_base = urljoin(base, feed.get(_XML_BASE, "")) if feed.get(_XML_BASE) else base
    out: dict[str, DiscoveredEntry] = {}
    for entry in feed:
        if _local(entry.tag) != "entry":
            continue
        entry_base = (
            urljoin(feed_base, entry.get(_XML_BASE, "")) if entry.get(_XML_BASE) else feed_base
        )
        url = _absolute(_atom_link(entry), entry_base)
        if url is None or url in out:
            continue
        updated = _text(entry, "updated")
        published_raw = _text(entry, "published") or updated
        stamp = parse_datetime(published_raw)
        out[url] = DiscoveredEntry(
            url=url,
            lastmod=canonical_lastmod(updated or published_raw),
            published=stamp.date() if stamp else None,
            title=_text(entry, "title"),
        )
    return tuple(out.values())


def _atom_link(entry: ET.Element) -> str | None:
    """The entry's rel="alternate" link (rel absent means alternate); HTML type preferred."""
    fallback: str | None = None
    for link in entry:
        if _local(link.tag) != "link" or not link.get("href"):
            continue
        if link.get("rel", "alternate") != "alternate":
            continue
        kind = (link.get("type") or "text/html").lower()
        if kind in ("text/html", "application/xhtml+xml"):
            return link.get("href")
        fallback = fallback or link.get("href")
    return fallback


# -- dates -------------------------------------------------------------------------------------


def parse_datetime(value: str | None) -> datetime | None:
    """A W3C/ISO 8601 or RFC 822 date-time as aware UTC; a bare date is midnight UTC; else None."""
    if not value:
        return None
    text = value.strip()
    if _W3C_DATE.match(text):
        parts = [int(p) for p in text.split("-")] + [1, 1]
        try:
            return datetime(parts[0], parts[1], parts[2], tzinfo=UTC)
        except ValueError:
            return None
    try:
        stamp = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        try:
            stamp = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)
    return stamp.astimezone(UTC)


def parse_date(value: str | None) -> date | None:
    stamp = parse_datetime(value)
    return stamp.date() if stamp else None


def canonical_lastmod(value: str | None) -> str | None:
    """The comparable form of a lastmod: ISO 8601 UTC when it parses, else the trimmed text."""
    if value is None or not value.strip():
        return None
    stamp = parse_datetime(value)
    if stamp is None:
        return value.strip()[:64]
    return stamp.isoformat().replace("+00:00", "Z")


@lru_cache(maxsize=65536)
def registrable_domain(host: str) -> str:
    """'www.news.example.co.uk' -> 'example.co.uk' (offline Public Suffix List snapshot).

    Hosts without a public suffix (IP addresses, 'localhost', '*.test') are their own domain.
    """
    host = host.lower().rstrip(".")
    if not host:
        return ""
    return _extractor()(host).top_domain_under_public_suffix or host


# -- XML helpers -------------------------------------------------------------------------------


def _local(tag: object) -> str:
    name = tag if isinstance(tag, str) else ""
    return name.rpartition("}")[2]


def _child(element: ET.Element, name: str) -> ET.Element | None:
    for child in element:
        if _local(child.tag) == name:
            return child
    return None


def _text(element: ET.Element | None, name: str) -> str | None:
    if element is None:
        return None
    child = _child(element, name)
    if child is None:
        return None
    text = "".join(child.itertext()).strip()
    return text or None


def _absolute(value: str | None, base: str) -> str | None:
    if not value:
        return None
    try:
        return normalize_url(urljoin(base, value.strip()))
    except ValueError:
        return None


__all__ = [
    "DEFAULT_MAX_BYTES",
    "DiscoveredEntry",
    "DiscoveryError",
    "Listing",
    "canonical_lastmod",
    "inflate",
    "parse_date",
    "parse_datetime",
    "parse_listing",
    "registrable_domain",
]
