"""The archived original of an article, for recovering its lost (`#`) link targets.

    original = await fetch_original(settings.wayback, source_url, published)
    links = original_links(original.html, original.capture.original_url, settings.wayback.base_url)

1. Which capture (`find_original_capture`): the capture of `url` closest to the published
   date with status 200, preferring the last one on or before that day, else the first after
   (`ArchiveClient.lookup`, CDX); with no date, the oldest 200 capture. When the exact URL has
   none, a CDX prefix query (`matchType=prefix`, status 200, text/html, one row per URL)
   finds the URLs under it: a copy often knows the article's slug but not the site's full URL
   (Global Research appends a numeric id: `.../<slug>/5642xxx`). The URL used is reported.
2. Its bytes as captured (`fetch_capture_html`): `{base}/web/<timestamp>id_/<url>`, without
   the archive's toolbar or rewritten links, with a timeout and a size cap.
3. Its body links (`original_links`): `service.articles.body.body_links`, archive-rewritten
   hrefs that remain unwrapped (`unwrap_archived`), relative ones resolved against the
   original URL, same-page fragments and `javascript:` dropped.

Every archive request (CDX queries and the page fetch) first takes a slot of the process-wide
archive limiter; a 429 pauses every archive call (see limiter.py). Failures raise
`ArchiveError` (exit code 1 on the command line); "no capture at all" is `NoCapture`.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from typing import TypeVar
from urllib.parse import urlsplit, urlunsplit

import httpx
import waybackpy
from waybackpy.exceptions import BlockedSiteError, WaybackError

from service.archive.limiter import ArchiveLimits, shared_limits
from service.archive.lookup import ARCHIVE_TIMEOUT, ArchiveClient, archive_executor
from service.archive.wayback import (
    USER_AGENT,
    ArchiveBlocked,
    ArchiveTimeout,
    WaybackApi,
    WaybackEndpoints,
    call_config,
    parse_retry_after,
    to_timestamp,
)
from service.articles.align import OriginalLink
from service.articles.body import body_links
from service.articles.sources import decode_text
from service.errors import ArchiveError, ArchiveRateLimited, InputError
from service.model import Capture
from service.settings import WaybackSettings

T = TypeVar("T")

MAX_PAGE_BYTES = 20 * 2**20
PREFIX_ROWS = 25  # URLs read from one prefix query (one page: never a resume-key request)
PREFIX_TRIES = 2  # URLs under the prefix whose captures are looked up
KNOWN_ARCHIVE_HOSTS = frozenset({"web.archive.org", "wayback.archive.org", "archive.org"})
KEPT_SCHEMES = frozenset({"http", "https", "mailto", "tel"})
EXACT = "exact"
PREFIX = "prefix"

_WRAPPED = re.compile(
    r"^(?:(?:https?:)?//(?P<host>[^/?#]+))?/web/(?P<ts>\d{1,14})(?:[a-z]{2}_|\*)?/(?P<orig>.+)$",
    re.IGNORECASE,
)
_COLLAPSED_SCHEME = re.compile(r"^(https?):/(?!/)", re.IGNORECASE)


class NoCapture(ArchiveError):
    """The archive holds no usable (status 200) capture of the article."""


@dataclass(frozen=True, slots=True)
class ArchivedOriginal:
    """The archived original article: which capture, found how, and its HTML as captured."""

    requested_url: str  # the URL asked for (the article's source URL)
    capture: Capture  # capture.original_url is the URL actually used
    matched_by: str  # "exact" | "prefix"
    raw_url: str  # the id_ playback URL the HTML came from
    html: str


# -- archive-rewritten hrefs (pure) ----------------------------------------------------------


def archive_hosts(base_url: str | None = None) -> frozenset[str]:
    """Host names whose `/web/<ts>/...` paths are archive playback: the Wayback Machine's and
    the configured archive's."""
    hosts = set(KNOWN_ARCHIVE_HOSTS)
    if base_url:
        host = urlsplit(base_url).netloc.lower()
        if host:
            hosts.add(host)
    return frozenset(hosts)


def unwrap_archived(href: str, hosts: Iterable[str] = KNOWN_ARCHIVE_HOSTS) -> str | None:
    """The original URL inside an archive playback href; None when `href` is not one.

    Handles `/web/<ts>/<url>`, `/web/<ts>im_/<url>` (any two-letter modifier),
    `//web.archive.org/web/...` and `https://web.archive.org/web/...` (or the configured
    archive's host), a collapsed `https:/` and a missing scheme; wrapped twice, unwrapped twice.
    """
    known = {h.lower() for h in hosts}
    current = href.strip()
    found: str | None = None
    for _ in range(3):
        match = _WRAPPED.match(current)
        if match is None:
            break
        host = (match.group("host") or "").lower()
        if host and host not in known:
            break
        original = _COLLAPSED_SCHEME.sub(r"\1://", match.group("orig"))
        if not re.match(r"^[a-z][a-z0-9+.-]*:", original, re.IGNORECASE):
            original = "http://" + original.lstrip("/")
        found = current = original
    return found


def _same_page(url: str, page_url: str) -> bool:
    try:
        a, b = urlsplit(url), urlsplit(page_url)
    except ValueError:
        return False
    return bool(a.fragment) and (a.scheme, a.netloc.lower(), a.path or "/", a.query) == (
        b.scheme,
        b.netloc.lower(),
        b.path or "/",
        b.query,
    )


def original_links(
    html: str, page_url: str, archive_base: str | None = None, *, all_links: bool = False
) -> list[OriginalLink]:
    """The body links of a captured page with their original targets, in document order.

    `page_url` is the page's original URL (relative hrefs resolve against it).
    """
    hosts = archive_hosts(archive_base)
    out: list[OriginalLink] = []
    for link in body_links(html, page_url, all_links=all_links):
        url = unwrap_archived(link.href, hosts) or (
            unwrap_archived(link.url, hosts) if link.url else None
        )
        url = url or link.url
        if not url:
            continue
        try:
            scheme = urlsplit(url).scheme.lower()
        except ValueError:
            continue
        if scheme not in KEPT_SCHEMES or _same_page(url, page_url):
            continue
        out.append(OriginalLink(url=url, anchor_text=link.anchor_text, position=link.position))
    return out


# -- finding the capture ---------------------------------------------------------------------


async def _blocking(client: ArchiveClient, fn: Callable[[], T]) -> T:
    """One blocking archive request: a limiter slot, a worker thread, bounded in time."""
    await client.limiter.acquire()
    loop = asyncio.get_running_loop()
    future = loop.run_in_executor(archive_executor(), fn)
    try:
        return await asyncio.wait_for(future, timeout=client.settings.timeout_s + 2.0)
    except TimeoutError as exc:
        raise ArchiveTimeout(ARCHIVE_TIMEOUT) from exc
    except ArchiveRateLimited as exc:
        client.limits.gate.pause(exc.retry_after_s)
        raise


def _cdx_query(
    api: WaybackApi, url: str, *, match_type: str | None, limit: int, html_only: bool
) -> list[Capture]:
    """Up to `limit` status-200 captures (one per URL for a prefix query), oldest first."""
    filters = ["statuscode:200"] + (["mimetype:text/html"] if html_only else [])
    cdx = waybackpy.WaybackMachineCDXServerAPI(
        url,
        user_agent=api.config.user_agent,
        filters=filters,
        match_type=match_type,
        collapses=["urlkey"] if match_type == PREFIX else None,
        limit=str(limit),
    )
    cdx.endpoint = api.endpoints.cdx
    captures: list[Capture] = []
    with call_config(api.config):
        try:
            snapshots = cdx.snapshots()
            # At most `limit` rows: the first page. Reading on would make waybackpy follow a
            # resume key with a request the rate limiter never saw.
            for snapshot in snapshots:
                if snapshot.statuscode == "200":
                    captures.append(
                        api.capture(snapshot.original, snapshot.timestamp, 200, snapshot.mimetype)
                    )
                if len(captures) >= limit:
                    break
            snapshots.close()
        except BlockedSiteError as exc:
            raise ArchiveBlocked(f"{url} is excluded from the Wayback Machine") from exc
        except WaybackError as exc:
            raise ArchiveError(f"unreadable CDX answer for {url}") from exc
    return captures


async def _closest(client: ArchiveClient, url: str, published: date | None) -> Capture | None:
    if published is None:
        oldest = await _blocking(
            client,
            lambda: _cdx_query(client.api, url, match_type=None, limit=1, html_only=False),
        )
        return oldest[0] if oldest else None
    info = await client.lookup(url, published)
    if info.error:
        raise ArchiveError(f"archive lookup of {url} failed: {info.error}")
    return info.citation


def prefix_for(url: str) -> str:
    """The URL prefix under which the article's full URL may live: '<url without query>/'."""
    parts = urlsplit(url.strip())
    path = parts.path.rstrip("/") + "/"
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def _rank(capture: Capture) -> tuple[int, int, str]:
    parts = urlsplit(capture.original_url)
    return (1 if parts.query else 0, len(capture.original_url), capture.original_url)


async def find_original_capture(
    client: ArchiveClient, url: str, published: date | None
) -> tuple[Capture, str]:
    """The capture to read and how it was found ("exact" or "prefix"); NoCapture when none."""
    try:
        capture = await _closest(client, url, published)
        if capture is not None:
            return capture, EXACT
        prefix = prefix_for(url)
        under = await _blocking(
            client,
            lambda: _cdx_query(
                client.api, prefix, match_type=PREFIX, limit=PREFIX_ROWS, html_only=True
            ),
        )
    except ArchiveBlocked as exc:
        raise NoCapture(
            f"no capture of {url}: the site is excluded from the Wayback Machine"
        ) from exc
    exact_key = url.rstrip("/")
    candidates = sorted((c for c in under if c.original_url.rstrip("/") != exact_key), key=_rank)
    for candidate in candidates[:PREFIX_TRIES]:
        capture = await _closest(client, candidate.original_url, published)
        if capture is not None:
            return capture, PREFIX
    raise NoCapture(f"no capture of {url} in the Wayback Machine (nor of any page under {prefix})")


# -- fetching it -----------------------------------------------------------------------------


async def fetch_capture_html(
    capture: Capture,
    settings: WaybackSettings,
    limits: ArchiveLimits,
    http: httpx.AsyncClient,
    *,
    max_bytes: int = MAX_PAGE_BYTES,
) -> tuple[str, str]:
    """(id_ playback URL, the page's text as captured); ArchiveError when it cannot be had."""
    endpoints = WaybackEndpoints.from_base(settings.base_url)
    raw_url = endpoints.raw(to_timestamp(capture.timestamp), capture.original_url)
    where = f"cannot fetch the capture {raw_url}"
    await limits.lookups.acquire()
    try:
        async with http.stream(
            "GET", raw_url, follow_redirects=True, timeout=settings.timeout_s
        ) as response:
            if response.status_code == 429:
                retry = parse_retry_after(response.headers.get("Retry-After"))
                limits.gate.pause(retry)
                raise ArchiveRateLimited(f"{where}: archive rate limited (HTTP 429)", retry)
            if response.status_code != 200:
                raise ArchiveError(f"{where}: HTTP {response.status_code}")
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > max_bytes:
                    raise ArchiveError(f"{where}: larger than {max_bytes} bytes")
            charset = response.charset_encoding
    except httpx.TimeoutException as exc:
        raise ArchiveTimeout(f"{where}: archive timeout") from exc
    except httpx.HTTPError as exc:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ArchiveError(f"{where}: {detail}") from exc
    try:
        return raw_url, decode_text(bytes(body), charset, name=raw_url)
    except InputError as exc:
        raise ArchiveError(f"{where}: {exc}") from exc


async def fetch_original(
    settings: WaybackSettings,
    url: str,
    published: date | None,
    *,
    limits: ArchiveLimits | None = None,
    http: httpx.AsyncClient | None = None,
) -> ArchivedOriginal:
    """Find and fetch the archived original of the article at `url` (see the module docstring)."""
    limits = limits if limits is not None else shared_limits(settings)
    client = ArchiveClient(settings, limits=limits)
    capture, matched_by = await find_original_capture(client, url, published)
    own = http is None
    http = http if http is not None else httpx.AsyncClient(headers={"User-Agent": USER_AGENT})
    try:
        raw_url, html = await fetch_capture_html(capture, settings, limits, http)
    finally:
        if own:
            await http.aclose()
    return ArchivedOriginal(url, capture, matched_by, raw_url, html)
