"""Fetching the two pages a drift check compares: the live page and the raw citation capture.

- The live page goes through the checker's guarded client (`service.checks.client.
  build_client`: pinned/guarded resolution, private addresses refused unless allowed), GET
  with redirects followed hop by hop, body read up to a cap (gzip bombs stay bounded).
- The capture is fetched raw (`{base}/web/<timestamp>id_/<url>`: the bytes as captured,
  without the Wayback toolbar or rewritten links) with the archive's own HTTP client, after
  taking one slot of the process-wide archive limiter. A 429 pauses every archive call (the
  shared gate) and raises `ArchiveRateLimited`; any other failure is a `FetchError`.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from datetime import datetime

import httpx

from service.archive.limiter import ArchiveLimits
from service.archive.wayback import USER_AGENT, WaybackEndpoints, parse_retry_after, to_timestamp
from service.checks.body import read_bounded
from service.checks.errors import failure_of
from service.errors import ArchiveRateLimited

REDIRECTS = frozenset({301, 302, 303, 307, 308})
ACCEPT_ENCODING = "gzip, deflate"  # the encodings read_bounded decodes with a bounded output
ARCHIVE_REDIRECTS = 3  # the archive redirects an inexact timestamp to the exact one

_PLAYBACK = re.compile(r"/web/\d{1,14}(?:[a-z]{2}_)?/(.+)$")


class FetchError(Exception):
    """A page could not be fetched or is not an HTML page (a one-line reason)."""


@dataclass(frozen=True, slots=True)
class Page:
    url: str  # the final URL (after redirects)
    status: int
    content_type: str | None
    body: bytes


def raw_capture_url(archive_url: str, captured_at: datetime, base_url: str, url: str) -> str:
    """The `id_` URL of a capture, on the configured archive (pure).

    `archive_url` is the stored playback URL (`{any base}/web/<ts>/<original>`); the original
    URL is read from it (else `url`), the timestamp from `captured_at`.
    """
    match = _PLAYBACK.search(archive_url)
    original = match.group(1) if match else url
    return WaybackEndpoints.from_base(base_url).raw(to_timestamp(captured_at), original)


def _is_html(content_type: str | None, body: bytes) -> bool:
    kind = (content_type or "").split(";")[0].strip().lower()
    if kind in {"text/html", "application/xhtml+xml"}:
        return True
    if kind in {"", "text/plain", "application/octet-stream"}:
        head = body[:1024].lstrip().lower()
        return head.startswith((b"<!doctype html", b"<html")) or b"<body" in head
    return False


async def _get(
    client: httpx.AsyncClient,
    url: str,
    *,
    max_bytes: int,
    max_redirects: int,
    what: str,
) -> Page:
    current = url
    for _ in range(max_redirects + 1):
        try:
            request = client.build_request("GET", current)
            request.headers["Accept-Encoding"] = ACCEPT_ENCODING
            response = await client.send(request, stream=True, follow_redirects=False)
        except httpx.InvalidURL as exc:
            raise FetchError(f"{what}: invalid URL {current!r}") from exc
        except Exception as exc:
            raise FetchError(f"{what}: {failure_of(exc)[1]}") from exc
        try:
            status = response.status_code
            if status in REDIRECTS:
                location = response.headers.get("location")
                if not location:
                    raise FetchError(f"{what}: HTTP {status} without Location")
                current = str(httpx.URL(current).join(location.strip()))
                continue
            if status == 429:
                retry = parse_retry_after(response.headers.get("retry-after"))
                raise ArchiveRateLimited(f"{what}: HTTP 429", retry_after_s=retry)
            if not 200 <= status < 300:
                raise FetchError(f"{what}: HTTP {status}")
            try:
                decoded = await read_bounded(
                    response.aiter_raw(), response.headers.get("content-encoding"), max_bytes
                )
            except Exception as exc:
                raise FetchError(f"{what}: {failure_of(exc)[1]}") from exc
            if decoded.error:
                raise FetchError(f"{what}: {decoded.error}")
            body = bytes(decoded.out)
            content_type = response.headers.get("content-type")
            if not _is_html(content_type, body):
                kind = (content_type or "unknown type").split(";")[0]
                raise FetchError(f"{what}: not an HTML page ({kind})")
            return Page(url=current, status=status, content_type=content_type, body=body)
        finally:
            await response.aclose()
    raise FetchError(f"{what}: more than {max_redirects} redirects")


async def fetch_live(
    client: httpx.AsyncClient,
    url: str,
    *,
    max_bytes: int,
    timeout_s: float,
    max_redirects: int = 10,
) -> Page:
    """GET the live page through the guarded checker client within `timeout_s` (all hops).

    FetchError when it cannot be used; a 429 from the site is a FetchError too (never the
    archive's rate limit).
    """
    try:
        async with asyncio.timeout(timeout_s):
            return await _get(
                client, url, max_bytes=max_bytes, max_redirects=max_redirects, what="live page"
            )
    except TimeoutError as exc:
        raise FetchError("live page: timeout") from exc
    except ArchiveRateLimited as exc:
        raise FetchError("live page: HTTP 429") from exc


async def fetch_capture(
    http: httpx.AsyncClient,
    raw_url: str,
    *,
    limits: ArchiveLimits,
    max_bytes: int,
    timeout_s: float,
) -> Page:
    """GET a raw capture: one archive limiter slot, bounded in time.

    Raises ArchiveRateLimited while the archive is paused or when it answers 429 (then every
    archive call pauses), FetchError for anything else.
    """
    await limits.lookups.acquire()
    try:
        async with asyncio.timeout(timeout_s + 2.0):
            return await _get(
                http,
                raw_url,
                max_bytes=max_bytes,
                max_redirects=ARCHIVE_REDIRECTS,
                what="capture",
            )
    except TimeoutError as exc:
        raise FetchError("capture: archive timeout") from exc
    except ArchiveRateLimited as exc:
        limits.gate.pause(exc.retry_after_s)
        raise


def archive_http_client(timeout_s: float) -> httpx.AsyncClient:
    """The plain client for archive playback (the archive is a configured, trusted endpoint)."""
    return httpx.AsyncClient(
        timeout=httpx.Timeout(timeout_s),
        headers={"User-Agent": USER_AGENT, "Accept": "text/html,*/*;q=0.8"},
        follow_redirects=False,
        trust_env=False,
    )
