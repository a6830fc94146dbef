"""The repaired article: rewrite only link targets, leave every other byte of the text alone.

`fix_text` is pure: given the article text, its extracted occurrences (each with `href_span`,
the [start, end) character offsets of the href as written) and the new targets by occurrence
position, it returns the text with exactly those spans replaced (written safely for the
format), and optionally Robust Links attributes added to HTML anchors.

`plan_fixes` decides the new targets from what the database knows about each link: dead links
point at their capture; with `drifted="archive"` alive links whose content drifted or was
replaced since cited (issue 11) point at the citation capture, what the author saw; with
`drifted="decorate"` (HTML) they keep their live target and get the Robust Links attributes
naming that capture.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape
from urllib.parse import quote

import sqlalchemy as sa
from sqlmodel import Session

from service.model import Health, Occurrence, Outcome
from service.reports.model import DRIFT_CHANGED, ArchiveRef
from service.store.drift import latest_drift
from service.store.repo import links_for_urls
from service.store.tables import ALL_TABLES

SNAPSHOTS = ALL_TABLES[0].metadata.tables["snapshots"]

# What `--drifted` does with links whose content drifted since cited.
DRIFTED_MODES: tuple[str, ...] = ("keep", "archive", "decorate")

# Characters that would end or break a Markdown link destination; percent-encoded when written.
_MD_UNSAFE = re.compile(r"[\s()<>\\`\"']")
_HTML_UNQUOTED_UNSAFE = re.compile(r"[\s\"'=<>`]")


def _percent(match: re.Match[str]) -> str:
    return quote(match.group(0), safe="")


def markdown_target(url: str, *, bracketed: bool = False) -> str:
    """A Markdown link destination for `url`; characters that could end the link are %-encoded.

    Inside the `<...>` form only `<`, `>` and line breaks matter; elsewhere spaces, parentheses,
    quotes and backslashes are encoded too (so `[a](x "t")` titles and nesting stay intact).
    """
    if bracketed:
        return re.sub(r"[<>\r\n]", _percent, url)
    return _MD_UNSAFE.sub(_percent, url)


def html_attribute_value(url: str, quote_char: str | None) -> str:
    """`url` written inside an HTML attribute delimited by `quote_char` (None: unquoted)."""
    if quote_char is None:
        return escape(_HTML_UNQUOTED_UNSAFE.sub(_percent, url), quote=True)
    return escape(url, quote=True)


def _quote_around(text: str, start: int, end: int) -> str | None:
    before = text[start - 1] if start > 0 else ""
    after = text[end] if end < len(text) else ""
    if before in {'"', "'"} and after == before:
        return before
    return None


def _bracketed(text: str, start: int, end: int) -> bool:
    return start > 0 and text[start - 1] == "<" and end < len(text) and text[end] == ">"


@dataclass(frozen=True, slots=True)
class RobustLink:
    """Robust Links decoration of one HTML anchor (https://robustlinks.mementoweb.org/)."""

    original_url: str
    version_url: str
    version_date: datetime

    def attributes(self) -> str:
        return (
            f' data-originalurl="{escape(self.original_url, quote=True)}"'
            f' data-versionurl="{escape(self.version_url, quote=True)}"'
            f' data-versiondate="{self.version_date.strftime("%Y-%m-%d")}"'
        )


def _tag_bounds(text: str, start: int, end: int) -> tuple[int, int] | None:
    """[open, close] of the start tag holding the attribute value at [start, end)."""
    open_at = text.rfind("<", 0, start)
    close_at = text.find(">", end)
    if open_at < 0 or close_at < 0:
        return None
    return open_at, close_at


def fix_text(
    text: str,
    occurrences: Iterable[Occurrence],
    replacements: Mapping[int, str],
    *,
    fmt: str = "markdown",
    robust: Mapping[int, RobustLink] | None = None,
) -> str:
    """The text with the href of each occurrence whose `position` is in `replacements` rewritten.

    Only the characters inside `href_span` change (and, for HTML with `robust`, attributes are
    inserted right after the href attribute); everything else is kept byte for byte. Several
    occurrences may share one span (a Markdown reference definition): it is rewritten once.
    Raises ValueError when a span does not fit the text or two spans overlap.
    """
    robust = robust or {}
    edits: dict[tuple[int, int], str] = {}
    inserts: dict[int, str] = {}
    for occ in occurrences:
        span = occ.href_span
        if span is None or (occ.position not in replacements and occ.position not in robust):
            continue
        start, end = span
        if not 0 <= start <= end <= len(text):
            raise ValueError(f"href span {span} of link {occ.position} is outside the text")
        if occ.position in replacements:
            new = replacements[occ.position]
            if fmt == "html":
                written = html_attribute_value(new, _quote_around(text, start, end))
            else:
                written = markdown_target(new, bracketed=_bracketed(text, start, end))
            previous = edits.get(span)
            if previous is not None and previous != written:
                raise ValueError(f"two different targets for the shared link at {span}")
            edits[span] = written
        if fmt == "html" and occ.position in robust:
            bounds = _tag_bounds(text, start, end)
            if bounds is not None and "data-versionurl" in text[bounds[0] : bounds[1]].lower():
                continue  # already decorated: leave the author's attributes alone
            q = _quote_around(text, start, end)
            at = end + 1 if q is not None else end
            inserts[at] = robust[occ.position].attributes()

    # Apply from the end so earlier offsets stay valid.
    changes: list[tuple[int, int, str]] = [(s, e, new) for (s, e), new in edits.items()]
    changes += [(at, at, attrs) for at, attrs in inserts.items()]
    changes.sort(key=lambda c: (c[0], c[1]))
    for (s1, e1, _), (s2, _e2, _) in itertools.pairwise(changes):
        if s2 < e1:
            raise ValueError(f"overlapping link spans at {s1}-{e1} and {s2}")
    out = text
    for s, e, new in reversed(changes):
        out = out[:s] + new + out[e:]
    return out


@dataclass(frozen=True, slots=True)
class LinkFacts:
    """What the database knows about one link, for fixing the occurrences that cite it."""

    url: str
    health: Health
    outcome: Outcome | None
    final_url: str | None
    citation: ArchiveRef | None
    latest: ArchiveRef | None
    drift: str | None = None  # newest drift verdict: same | drifted | replaced (None: never)

    @property
    def capture(self) -> ArchiveRef | None:
        """The capture closest to the citation date, else the newest one."""
        return self.citation or self.latest

    @property
    def drifted(self) -> bool:
        """Alive, but its content drifted or was replaced since cited."""
        return self.health is Health.ALIVE and self.drift in DRIFT_CHANGED


@dataclass(frozen=True, slots=True)
class FixPlan:
    replacements: dict[int, str]
    robust: dict[int, RobustLink]
    dead_fixed: int
    dead_without_capture: int
    moved_updated: int
    drifted_fixed: int = 0  # drifted links pointed at their citation capture
    drifted_decorated: int = 0  # drifted links given Robust Links attributes instead
    drifted_without_capture: int = 0  # drifted links left alone: no citation capture known


def _fragment(occ: Occurrence) -> str:
    if not occ.fragment:
        return ""
    return occ.fragment if occ.fragment.startswith("#") else "#" + occ.fragment


def plan_fixes(
    occurrences: Sequence[Occurrence],
    facts: Mapping[str, LinkFacts],
    *,
    update_moved: bool = False,
    robust_links: bool = False,
    drifted: str = "keep",
) -> FixPlan:
    """Decide new targets: dead links -> their capture; drifted links -> their citation
    capture (`drifted="archive"`) or a Robust Links decoration naming it (`"decorate"`, HTML);
    moved links -> final URL (if asked).

    `facts` maps an occurrence's normalised `url` to what is known about that link.
    """
    if drifted not in DRIFTED_MODES:
        raise ValueError(f"unknown drifted mode {drifted!r}")
    replacements: dict[int, str] = {}
    robust: dict[int, RobustLink] = {}
    dead_fixed = dead_without = moved = 0
    drift_fixed = drift_decorated = drift_without = 0
    for occ in occurrences:
        if occ.url is None or occ.href_span is None:
            continue
        fact = facts.get(occ.url)
        if fact is None:
            continue
        capture = fact.capture
        if fact.health is Health.DEAD:
            if capture is None:
                dead_without += 1
            else:
                replacements[occ.position] = capture.url + _fragment(occ)
                dead_fixed += 1
        elif fact.drifted and drifted != "keep":
            # Only the capture near the citation date shows what the author saw: a newer one
            # may hold the drifted page already.
            if fact.citation is None:
                drift_without += 1
            elif drifted == "archive":
                replacements[occ.position] = fact.citation.url + _fragment(occ)
                drift_fixed += 1
            else:
                robust[occ.position] = RobustLink(
                    original_url=occ.url + _fragment(occ),
                    version_url=fact.citation.url,
                    version_date=fact.citation.timestamp,
                )
                drift_decorated += 1
        elif (
            update_moved
            and fact.outcome is Outcome.MOVED
            and fact.final_url
            and fact.final_url != occ.url
        ):
            replacements[occ.position] = fact.final_url + _fragment(occ)
            moved += 1
        if robust_links and capture is not None and occ.position not in robust:
            robust[occ.position] = RobustLink(
                original_url=occ.url + _fragment(occ),
                version_url=capture.url,
                version_date=capture.timestamp,
            )
    return FixPlan(
        replacements,
        robust,
        dead_fixed,
        dead_without,
        moved,
        drifted_fixed=drift_fixed,
        drifted_decorated=drift_decorated,
        drifted_without_capture=drift_without,
    )


def load_link_facts(session: Session, urls: Iterable[str]) -> dict[str, LinkFacts]:
    """What the database knows about each of these normalised URLs (unknown URLs are absent)."""
    links = links_for_urls(session, urls)
    ids = {link.id: url for url, link in links.items() if link.id is not None}
    captures: dict[tuple[int, str], ArchiveRef] = {}
    id_list = sorted(ids)
    for start in range(0, len(id_list), 500):
        part = id_list[start : start + 500]
        query = sa.select(
            SNAPSHOTS.c.link_id, SNAPSHOTS.c.role, SNAPSHOTS.c.archive_url, SNAPSHOTS.c.captured_at
        ).where(
            SNAPSHOTS.c.link_id.in_(part),
            SNAPSHOTS.c.found.is_(True),
            SNAPSHOTS.c.archive_url.is_not(None),
            SNAPSHOTS.c.captured_at.is_not(None),
        )
        for row in session.connection().execute(query):
            captures[(row.link_id, row.role)] = ArchiveRef(row.archive_url, row.captured_at)
    drift = latest_drift(session, id_list)
    out: dict[str, LinkFacts] = {}
    for url, link in links.items():
        assert link.id is not None
        out[url] = LinkFacts(
            url=url,
            health=_health(link.health),
            outcome=_outcome(link.last_outcome),
            final_url=link.last_final_url,
            citation=captures.get((link.id, "citation")),
            latest=captures.get((link.id, "latest")),
            drift=drift[link.id].verdict if link.id in drift else None,
        )
    return out


def _health(value: str) -> Health:
    try:
        return Health(value)
    except ValueError:
        return Health.UNKNOWN


def _outcome(value: str | None) -> Outcome | None:
    try:
        return Outcome(value) if value else None
    except ValueError:
        return None
