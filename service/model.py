"""The vocabulary of linkwatch (DESIGN.md): enums and frozen dataclasses shared by every stage.

One meaning each, used the same way in code, database, JSON and docs. Nothing here does I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum


class LinkKind(StrEnum):
    """What a link is, decided at extraction time with no network."""

    HTTP = "http"  # http:// or https://
    MAILTO = "mailto"
    TEL = "tel"
    PLACEHOLDER = "placeholder"  # "#", empty href, javascript:
    FRAGMENT = "fragment"  # "#section" inside the same article
    RELATIVE = "relative"  # relative path, and the article has no base URL to resolve it
    UNSUPPORTED = "unsupported"  # ftp:, data:, ...
    INVALID = "invalid"  # cannot be parsed


class Signal(StrEnum):
    """What an outcome says about the link's health."""

    ALIVE = "alive"
    DEAD = "dead"
    TRANSIENT = "transient"
    UNKNOWN = "unknown"
    NONE = "none"  # says nothing about the link (the monitor was offline)


class Outcome(StrEnum):
    """The result of one check of one http link: a closed enum, a pure function of what was seen."""

    OK = "ok"
    MOVED = "moved"
    NOT_FOUND = "not_found"
    SOFT_404 = "soft_404"
    REDIRECT_TO_ROOT = "redirect_to_root"
    DNS_ERROR = "dns_error"
    REFUSED = "refused"
    TLS_ERROR = "tls_error"
    TIMEOUT = "timeout"
    SERVER_ERROR = "server_error"
    RATE_LIMITED = "rate_limited"
    BLOCKED = "blocked"
    TOO_MANY_REDIRECTS = "too_many_redirects"
    PRIVATE_TARGET = "private_target"
    OFFLINE = "offline"

    @property
    def signal(self) -> Signal:
        return OUTCOME_SIGNAL[self]

    @property
    def explanation(self) -> str:
        return OUTCOME_EXPLANATION[self]


OUTCOME_SIGNAL: dict[Outcome, Signal] = {
    Outcome.OK: Signal.ALIVE,
    Outcome.MOVED: Signal.ALIVE,
    Outcome.NOT_FOUND: Signal.DEAD,
    Outcome.SOFT_404: Signal.DEAD,
    Outcome.REDIRECT_TO_ROOT: Signal.DEAD,
    Outcome.DNS_ERROR: Signal.DEAD,
    Outcome.REFUSED: Signal.DEAD,
    Outcome.TLS_ERROR: Signal.TRANSIENT,
    Outcome.TIMEOUT: Signal.TRANSIENT,
    Outcome.SERVER_ERROR: Signal.TRANSIENT,
    Outcome.RATE_LIMITED: Signal.TRANSIENT,
    Outcome.BLOCKED: Signal.UNKNOWN,
    Outcome.TOO_MANY_REDIRECTS: Signal.DEAD,
    Outcome.PRIVATE_TARGET: Signal.UNKNOWN,
    Outcome.OFFLINE: Signal.NONE,
}

# One line a user can act on, per outcome (README and reports use these).
OUTCOME_EXPLANATION: dict[Outcome, str] = {
    Outcome.OK: "The page answers. Nothing to do.",
    Outcome.MOVED: "The page moved permanently; update the link to the new address.",
    Outcome.NOT_FOUND: (
        "The server says the page is gone (404/410); point the link at an archived copy."
    ),
    Outcome.SOFT_404: (
        "The server answers, but with a 'not found' page; point the link at an archived copy."
    ),
    Outcome.REDIRECT_TO_ROOT: (
        "The deep link now lands on the site's home or login page; the page is gone."
    ),
    Outcome.DNS_ERROR: "The host name no longer exists; the whole site is gone or renamed.",
    Outcome.REFUSED: "The server refuses connections; the site is down or gone.",
    Outcome.TLS_ERROR: (
        "The site's certificate or TLS handshake failed; often fixed by the site, re-checked."
    ),
    Outcome.TIMEOUT: "No complete answer within the deadline; re-checked later before any verdict.",
    Outcome.SERVER_ERROR: "The server failed (5xx); usually temporary, re-checked later.",
    Outcome.RATE_LIMITED: "The site asked us to slow down (429); re-checked after its Retry-After.",
    Outcome.BLOCKED: "A login, paywall or bot wall answered (401/403/451/999); verify it by hand.",
    Outcome.TOO_MANY_REDIRECTS: (
        "The redirects loop or never end; the link is broken for readers too."
    ),
    Outcome.PRIVATE_TARGET: (
        "The link points at a private or local address; not checked (--allow-private)."
    ),
    Outcome.OFFLINE: "The monitor itself had no network; this says nothing about the link.",
}

DEAD_OUTCOMES: frozenset[Outcome] = frozenset(
    o for o, s in OUTCOME_SIGNAL.items() if s is Signal.DEAD
)


class Health(StrEnum):
    """The stored state of a link, moved by its outcomes (see service.monitor.health)."""

    UNCHECKED = "unchecked"
    ALIVE = "alive"
    SUSPECT = "suspect"
    DEAD = "dead"
    UNKNOWN = "unknown"
    NOT_APPLICABLE = "not_applicable"


@dataclass(frozen=True, slots=True)
class ArticleMeta:
    """What an article says about itself (front matter, HTML meta), maybe overridden."""

    title: str | None = None
    published: date | None = None
    source_url: str | None = None


@dataclass(frozen=True, slots=True)
class Occurrence:
    """One hyperlink as written in one article."""

    href: str  # exactly as written
    anchor_text: str
    line: int  # 1-based line in the source text
    kind: LinkKind
    url: str | None = None  # normalised absolute URL (http, mailto, tel kinds), else None
    fragment: str | None = None  # "#anchor" part, kept apart from url
    position: int = 0  # 0-based order among the article's occurrences
    href_span: tuple[int, int] | None = (
        None  # [start, end) character offsets of href in the source text
    )


@dataclass(frozen=True, slots=True)
class Article:
    """An article as read from its source: where it is, what it says about itself, its links."""

    location: str  # file path (as given) or URL
    format: str  # "markdown" | "html"
    meta: ArticleMeta
    occurrences: tuple[Occurrence, ...]
    base_url: str | None = None


@dataclass(frozen=True, slots=True)
class Hop:
    """One request of a redirect chain."""

    url: str
    status: int
    location: str | None = None  # the Location header, resolved, when this hop redirected


@dataclass(frozen=True, slots=True)
class CheckResult:
    """Everything seen by one check of one http link, with its classified outcome."""

    url: str
    outcome: Outcome
    checked_at: datetime
    http_status: int | None = None
    final_url: str | None = None
    hops: tuple[Hop, ...] = ()
    latency_ms: int = 0
    error: str | None = None  # short detail for humans ("connection refused", ...)
    retry_after_s: float | None = None  # from a 429/503 Retry-After, already parsed
    permanent_redirect: bool = False  # every redirect hop was 301/308
    warnings: tuple[str, ...] = ()  # e.g. "fragment #x not found"


@dataclass(frozen=True, slots=True)
class Capture:
    """One Wayback Machine capture of a URL."""

    original_url: str
    timestamp: datetime  # UTC
    archive_url: str  # {base}/web/<14-digit timestamp>/<original>
    status: int | None = None  # HTTP status recorded by the archive
    mimetype: str | None = None


@dataclass(frozen=True, slots=True)
class ArchiveInfo:
    """What the archive knows of a link: the capture closest to the citation date, the newest."""

    url: str
    citation: Capture | None
    latest: Capture | None
    looked_up_at: datetime
    error: str | None = (
        None  # set when the lookup failed (then the captures are unknown, not absent)
    )


@dataclass(frozen=True, slots=True)
class Transition:
    """A change of a link's health."""

    link_url: str
    at: datetime
    from_health: Health
    to_health: Health
    outcome: Outcome | None = None


@dataclass(frozen=True, slots=True)
class LinkState:
    """The stored health of a link and the facts the state machine needs."""

    health: Health = Health.UNCHECKED
    since: datetime | None = None
    dead_streak: int = 0  # consecutive dead signals
    dead_streak_started: datetime | None = None  # time of the first dead signal of the streak
