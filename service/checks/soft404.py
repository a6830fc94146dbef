"""Soft-404 detection: a 2xx answer that is really a "not found" page. Pure, no I/O here.

Two kinds of evidence (the README explains them to users):

- Cheap signals, from the answer already fetched (`cheap_verdict`): a redirect that ends at a
  URL like `/404`, `/not-found`, `/notfound`, `/error`; an error phrase in the `<title>`
  ("page not found", "404", "no longer available", ...). A `<link rel=canonical>` that points
  at the URL itself means the page is alive and wins over the title.
- The random-sibling probe (`probe_urls`, `judge_probe`): the checker requests the URL's parent
  path plus a random 25-letter segment (and, when the URL has a numeric id segment, the same URL
  with that id randomised). A 4xx answer means the site reports missing pages honestly: the
  link is alive. A 2xx answer that ends at the same final URL as the link (not a login page),
  or whose body is near-identical (>= 0.95 similarity on whitespace tokens), means the link's
  page is what the site answers for *any* path: a soft-404.

Probe answers are cached per host and directory (`ProbeCache`, TTL, injectable clock); the
random source is injectable so tests can predict probe URLs.
"""

from __future__ import annotations

import random
import re
import string
import time
from collections import Counter, OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache
from html import unescape
from urllib.parse import urljoin, urlsplit

from service.checks.roots import is_deep, is_login_url
from service.checks.urls import same_page

PROBE_SEGMENT_LETTERS = 25
SIMILAR = 0.95

_NOT_FOUND_URL = re.compile(
    r"(?:^|[/._=-])(?:404|not[-_]?found|error)(?:$|[/._?&=-])", re.IGNORECASE
)
_ERROR_TITLES = tuple(
    re.compile(p, re.IGNORECASE)
    for p in (
        r"\b404\b",
        r"\bpage not found\b",
        r"^\s*not found\b",
        r"\bnot found\s*$",
        r"\bno longer (?:available|exists?)\b",
        r"\b(?:page|article|post|content|document|file|resource|story)\s+(?:you requested\s+)?"
        r"(?:does not|doesn't|could not|couldn't|cannot|can't|can not)\s+(?:be found|exist)",
        r"\b(?:page|article|post|content)\s+(?:is\s+)?(?:missing|unavailable|gone|removed)\b",
        r"\bhas been (?:removed|deleted)\b",
        r"\bseite nicht gefunden\b",
        r"\bpage introuvable\b",
        r"\bp[aá]gina no encontrada\b",
    )
)
_LINK_TAG = re.compile(rb"<link\b[^>]*>", re.IGNORECASE)
_ATTR = re.compile(rb"""([a-zA-Z_:-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""")
_YEAR = re.compile(r"^(?:19|20)\d\d$")


class Verdict(StrEnum):
    """What a soft-404 signal says about a 2xx answer."""

    ALIVE = "alive"  # the page is real
    SOFT_404 = "soft_404"  # the page is a "not found" page
    UNKNOWN = "unknown"  # no conclusion (probe needed, or the probe said nothing)


# -- cheap signals -----------------------------------------------------------------------------


@lru_cache(maxsize=8192)
def not_found_url(url: str) -> bool:
    """Whether a URL's path or query looks like an error page (`/404`, `not-found`, `error`...)."""
    parts = urlsplit(url)
    return bool(_NOT_FOUND_URL.search(parts.path) or _NOT_FOUND_URL.search(parts.query))


def error_title(title: str | None) -> bool:
    """Whether a page title says "not found" ("Page not found", "404", "no longer available")."""
    if not title:
        return False
    return any(p.search(title) for p in _ERROR_TITLES)


def canonical_url(body: bytes, base_url: str) -> str | None:
    """The absolute href of the first `<link rel=canonical>` in an HTML body, or None."""
    for tag in _LINK_TAG.finditer(body[: 256 * 1024]):
        attrs: dict[bytes, bytes] = {}
        for m in _ATTR.finditer(tag.group(0)):
            attrs[m.group(1).lower()] = m.group(2) or m.group(3) or m.group(4) or b""
        rels = attrs.get(b"rel", b"").lower().split()
        href = attrs.get(b"href")
        if b"canonical" in rels and href:
            text = unescape(href.decode("utf-8", errors="replace")).strip()
            return urljoin(base_url, text) if text else None
    return None


def cheap_verdict(url: str, final_url: str | None, title: str | None, body: bytes) -> Verdict:
    """The verdict of the signals needing no extra request (see the module doc).

    `url` is the link as requested, `final_url` where its redirects ended, `title` the
    `<title>` and `body` the (bounded) HTML body, when a GET read them (else None / b"").
    """
    final = final_url or url
    redirected = not same_page(url, final)
    if redirected and not_found_url(final) and not not_found_url(url):
        return Verdict.SOFT_404
    canonical = canonical_url(body, final) if body else None
    if canonical is not None:
        if same_page(canonical, url) or same_page(canonical, final):
            return Verdict.ALIVE
        if not_found_url(canonical) and not not_found_url(url):
            return Verdict.SOFT_404
    if error_title(title):
        return Verdict.SOFT_404
    return Verdict.UNKNOWN


# -- the random-sibling probe ------------------------------------------------------------------


def _random_letters(rng: random.Random, n: int = PROBE_SEGMENT_LETTERS) -> str:
    return "".join(rng.choice(string.ascii_lowercase) for _ in range(n))


def _random_digits(rng: random.Random, like: str) -> str:
    while True:
        digits = rng.choice("123456789") + "".join(
            rng.choice(string.digits) for _ in range(len(like) - 1)
        )
        if digits != like:
            return digits


def _split(url: str) -> tuple[str, str, list[str], bool]:
    parts = urlsplit(url)
    origin = f"{parts.scheme.lower()}://{parts.netloc.lower()}"
    segments = [s for s in parts.path.split("/") if s]
    return origin, parts.path, segments, parts.path.endswith("/")


def _directory_key(origin: str, segments: list[str]) -> str:
    """`scheme://host:port/parent/` of a URL: the cache key of its sibling probe."""
    parent = "/".join(segments[:-1])
    return f"{origin}/{parent + '/' if parent else ''}"


def _numeric_index(segments: list[str]) -> int | None:
    """Index of the last all-digit segment of 4+ digits that is not a year, if any.

    Shorter numbers are page numbers or HTTP codes more often than ids, and a random short id
    too often names another real page.
    """
    for i in range(len(segments) - 1, -1, -1):
        seg = segments[i]
        if seg.isdigit() and len(seg) >= 4 and not _YEAR.match(seg):
            return i
    return None


def _numeric_key(origin: str, segments: list[str], slash: bool, i: int) -> str:
    """Cache key of the numeric-id probe: the URL with its id segment (`segments[i]`) replaced
    by `{n<len>}`."""
    templ = [*segments[:i], f"{{n{len(segments[i])}}}", *segments[i + 1 :]]
    return f"{origin}/{'/'.join(templ)}{'/' if slash else ''}"


@dataclass(frozen=True, slots=True)
class Probe:
    """One probe to make for a link: its URL and the cache key of its answer."""

    url: str
    key: str
    kind: str  # "sibling" | "numeric"


@dataclass(frozen=True, slots=True)
class ProbeKey:
    """A probe not yet drawn: its cache key; `draw(rng)` makes its random URL (on a cache miss)."""

    link: str
    key: str
    kind: str  # "sibling" | "numeric"

    def draw(self, rng: random.Random) -> Probe:
        origin, _, segments, slash = _split(self.link)
        tail = "/" if slash else ""
        if self.kind == "sibling":
            path = "/".join([*segments[:-1], _random_letters(rng)])
        else:
            i = _numeric_index(segments)
            assert i is not None  # a numeric key is only made for a URL with an id
            path = "/".join([*segments[:i], _random_digits(rng, segments[i]), *segments[i + 1 :]])
        return Probe(f"{origin}/{path}{tail}", self.key, self.kind)


def probe_keys(url: str) -> list[ProbeKey]:
    """The probes for a link, undrawn (see `probe_urls`): what a cached answer is looked up by,
    without drawing random URLs that a cache hit would throw away."""
    if not is_deep(url):
        return []
    origin, _, segments, slash = _split(url)
    keys = [ProbeKey(url, _directory_key(origin, segments), "sibling")]
    i = _numeric_index(segments)
    if i is not None:
        keys.append(ProbeKey(url, _numeric_key(origin, segments, slash, i), "numeric"))
    return keys


def probe_urls(url: str, rng: random.Random) -> list[Probe]:
    """The probes for a link: the random sibling, plus the numeric-id variant when it applies.

    Queries and fragments are dropped; a trailing slash is kept (some sites redirect without).
    Home pages (`/`, `/index.html`, `/en/`) get no probe: a home page is never a soft-404.
    """
    return [key.draw(rng) for key in probe_keys(url)]


def tokens(body: bytes) -> Counter[str]:
    """The whitespace-separated tokens of a body (decoded leniently), counted."""
    return Counter(body.decode("utf-8", errors="replace").split())


def similarity(a: Counter[str], b: Counter[str]) -> float:
    """Weighted Jaccard similarity of two token multisets, 0..1 (both empty: 1)."""
    if not a and not b:
        return 1.0
    inter = sum((a & b).values())
    union = sum((a | b).values())
    return inter / union if union else 1.0


@dataclass(frozen=True, slots=True)
class PageSeen:
    """What one request (the link, or a probe) ended at: for comparing the two."""

    status: int | None  # final status; None when no answer
    final_url: str | None
    body_tokens: Counter[str] | None = field(default=None, compare=False)  # None: not read

    @classmethod
    def of(cls, status: int | None, final_url: str | None, body: bytes | None) -> PageSeen:
        return cls(status, final_url, tokens(body) if body is not None else None)


def probe_says_honest(probe: PageSeen) -> bool:
    """The probe got a real 4xx (not 429): the site reports missing pages honestly."""
    return probe.status is not None and 400 <= probe.status < 500 and probe.status != 429


def judge_probe(link: PageSeen, probe: PageSeen) -> Verdict:
    """Compare the link's 2xx answer with its probe's answer (see the module doc).

    UNKNOWN when the probe answered 2xx but one of the bodies was not read (the caller
    fetches them and asks again), or when the probe proves nothing (no answer, 5xx, 429).
    """
    if probe_says_honest(probe):
        return Verdict.ALIVE
    if probe.status is None or not 200 <= probe.status < 300:
        return Verdict.UNKNOWN
    if (
        link.final_url
        and probe.final_url
        and same_page(link.final_url, probe.final_url)
        and not is_login_url(link.final_url)
    ):
        return Verdict.SOFT_404
    if link.body_tokens is None or probe.body_tokens is None:
        return Verdict.UNKNOWN
    if similarity(link.body_tokens, probe.body_tokens) >= SIMILAR:
        return Verdict.SOFT_404
    return Verdict.ALIVE


class ProbeCache:
    """Probe answers per key (host + directory, or the numeric-id template), with a TTL.

    `clock` is a monotonic time source in seconds (injectable); at most `max_entries` kept,
    least recently used dropped first.
    """

    def __init__(
        self,
        ttl_s: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_entries: int = 1024,
    ) -> None:
        self.ttl_s = ttl_s
        self.clock = clock
        self.max_entries = max_entries
        self._entries: OrderedDict[str, tuple[float, PageSeen]] = OrderedDict()

    def get(self, key: str) -> PageSeen | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        expires, seen = entry
        if self.clock() >= expires:
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return seen

    def put(self, key: str, seen: PageSeen) -> None:
        self._entries[key] = (self.clock() + self.ttl_s, seen)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)
