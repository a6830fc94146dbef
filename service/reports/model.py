"""The report model: built once from the database (build.py), rendered by one formatter per format.

Everything here is a frozen dataclass with no I/O. A `Report` holds one `ArticleReport` per
article; an `ArticleReport` holds one `LinkReport` per link occurrence, broken links first.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime

from service.checks.fragments import fragment_warning
from service.model import Health, LinkKind, Outcome, Signal

# Order of links inside an article: what needs attention first.
HEALTH_ORDER: tuple[Health, ...] = (
    Health.DEAD,
    Health.SUSPECT,
    Health.UNKNOWN,
    Health.UNCHECKED,
    Health.ALIVE,
    Health.NOT_APPLICABLE,
)
HEALTH_RANK: dict[Health, int] = {h: i for i, h in enumerate(HEALTH_ORDER)}

# Drift verdicts stored per comparison (service.drift.verdict.Verdict without "error"), and those
# that mean the cited content is gone from the live page.
DRIFT_VERDICTS: tuple[str, ...] = ("same", "drifted", "replaced")
DRIFT_CHANGED: tuple[str, ...] = ("drifted", "replaced")

# The availability windows reported per link, in days.
WINDOWS: tuple[int, ...] = (7, 30, 90)
STRIP_DAYS = 90

# "Worst outcome of a day": a dead signal beats a transient one, which beats unknown, then alive;
# offline says nothing and ranks lowest.
SIGNAL_SEVERITY: dict[Signal, int] = {
    Signal.NONE: 0,
    Signal.ALIVE: 1,
    Signal.UNKNOWN: 2,
    Signal.TRANSIENT: 3,
    Signal.DEAD: 4,
}


def outcome_severity(outcome: Outcome) -> int:
    return SIGNAL_SEVERITY[outcome.signal]


@dataclass(frozen=True, slots=True)
class ArchiveRef:
    """One archived copy of a link: its Wayback URL and capture time (UTC)."""

    url: str
    timestamp: datetime


@dataclass(frozen=True, slots=True)
class Availability:
    """Checks of one link over the last `days` days (offline checks excluded)."""

    days: int
    checks: int = 0
    alive: int = 0

    @property
    def uptime(self) -> float | None:
        """Percentage of those checks with an alive outcome, one decimal; None without checks."""
        if not self.checks:
            return None
        return round(100.0 * self.alive / self.checks, 1)


@dataclass(frozen=True, slots=True)
class DayCell:
    """One day of a link's availability strip: the worst outcome seen that day (None: no check)."""

    day: date
    worst: Outcome | None = None
    checks: int = 0


@dataclass(frozen=True, slots=True)
class LinkReport:
    """One link occurrence (one hyperlink as written in one article) and what is known about it."""

    article: str  # the article's location
    anchor_text: str
    href: str  # as written
    url: str | None  # normalised URL of the link row, None for links that are not checked
    kind: LinkKind
    position: int
    line: int
    health: Health
    article_id: int | None = None
    occurrence_id: int | None = None
    link_id: int | None = None
    outcome: Outcome | None = None  # of the last check
    http_status: int | None = None
    final_url: str | None = None
    checked_at: datetime | None = None  # time of the last check
    since: datetime | None = None  # health unchanged since
    availability: tuple[Availability, ...] = ()  # one per WINDOWS entry, same order
    # the 90-day strip, oldest first (empty unless built with history=True)
    days: tuple[DayCell, ...] = ()
    archive: ArchiveRef | None = None  # capture closest to the citation date
    archive_latest: ArchiveRef | None = None  # newest capture
    moved_to: str | None = None  # final URL when the last outcome is `moved`
    at_risk: bool = False  # alive, and no archived copy known
    ignored: bool = False  # a user marked it "not broken"
    # Content drift (issue 11): the newest verdict of comparing the live page with the citation
    # capture (same | drifted | replaced; None: never compared), its score (1 - cosine) and when.
    drift: str | None = None
    drift_score: float | None = None
    drift_checked_at: datetime | None = None
    # The last check's warnings that concern this occurrence (its own `#fragment` missing, and
    # any warning not about a fragment), e.g. "fragment #usage not found".
    warnings: tuple[str, ...] = ()

    @property
    def broken(self) -> bool:
        return self.health in (Health.DEAD, Health.SUSPECT)

    @property
    def drifted(self) -> bool:
        """The page answers (alive) but no longer says what was cited (drifted or replaced).

        A verdict of a link that died since is kept in `drift` but is no news: dead wins."""
        return self.health is Health.ALIVE and self.drift in DRIFT_CHANGED

    @property
    def explanation(self) -> str | None:
        return self.outcome.explanation if self.outcome is not None else None

    @property
    def best_archive(self) -> ArchiveRef | None:
        """The copy to point readers at: the citation-date capture, else the newest one."""
        return self.archive or self.archive_latest

    def window(self, days: int) -> Availability:
        for a in self.availability:
            if a.days == days:
                return a
        return Availability(days)


@dataclass(frozen=True, slots=True)
class ArticleReport:
    """One article: its identity, health counts and score, and its links (broken first)."""

    id: int | None
    location: str
    title: str | None
    published: date | None
    source_url: str | None
    counts: dict[Health, int]  # every Health as a key, in HEALTH_ORDER
    score: float | None  # share of checked http links alive, 0-100, None when none checked
    links: tuple[LinkReport, ...]

    @property
    def total(self) -> int:
        return len(self.links)

    @property
    def broken(self) -> int:
        return self.counts.get(Health.DEAD, 0) + self.counts.get(Health.SUSPECT, 0)

    @property
    def name(self) -> str:
        return self.title or self.location


@dataclass(frozen=True, slots=True)
class Report:
    generated_at: datetime
    articles: tuple[ArticleReport, ...] = field(default_factory=tuple)

    @property
    def links(self) -> tuple[LinkReport, ...]:
        return tuple(link for article in self.articles for link in article.links)

    def counts(self) -> dict[Health, int]:
        total = dict.fromkeys(HEALTH_ORDER, 0)
        for article in self.articles:
            for health, n in article.counts.items():
                total[health] += n
        return total


_FRAGMENT_WARNING = re.compile(r"^fragment (#.*) not found$", re.DOTALL)


def occurrence_warnings(warnings: Iterable[str], fragment: str | None) -> tuple[str, ...]:
    """The warnings of a link's last check that concern one occurrence of it.

    A link row is shared by occurrences with different `#fragments`; a `fragment #x not found`
    warning belongs only to the occurrences written with `#x`. Other warnings concern them all.
    """
    own = fragment_warning(fragment) if fragment else None
    out = []
    for warning in warnings:
        if _FRAGMENT_WARNING.match(warning) and warning != own:
            continue
        out.append(warning)
    return tuple(out)


def sort_links(links: list[LinkReport] | tuple[LinkReport, ...]) -> tuple[LinkReport, ...]:
    """Broken first (dead, suspect, unknown, unchecked, alive, not applicable), then as written."""
    return tuple(sorted(links, key=lambda lk: (HEALTH_RANK[lk.health], lk.position)))


def count_health(links: tuple[LinkReport, ...] | list[LinkReport]) -> dict[Health, int]:
    counts = dict.fromkeys(HEALTH_ORDER, 0)
    for link in links:
        counts[link.health] += 1
    return counts


def health_score(links: tuple[LinkReport, ...] | list[LinkReport]) -> float | None:
    """Share (0-100, one decimal) of the checked http links that are alive; None if none."""
    checked = [
        lk
        for lk in links
        if lk.kind is LinkKind.HTTP and lk.health not in (Health.UNCHECKED, Health.NOT_APPLICABLE)
    ]
    if not checked:
        return None
    alive = sum(1 for lk in checked if lk.health is Health.ALIVE)
    return round(100.0 * alive / len(checked), 1)


def make_article_report(
    *,
    id: int | None,
    location: str,
    title: str | None,
    published: date | None,
    source_url: str | None,
    links: list[LinkReport] | tuple[LinkReport, ...],
) -> ArticleReport:
    """An ArticleReport with counts, score and link order derived from `links`."""
    ordered = sort_links(links)
    return ArticleReport(
        id=id,
        location=location,
        title=title,
        published=published,
        source_url=source_url,
        counts=count_health(ordered),
        score=health_score(ordered),
        links=ordered,
    )


def _drift_key(link: LinkReport) -> tuple[float, int]:
    return (-(link.drift_score if link.drift_score is not None else 0.0), link.position)


def only_drifted(report: Report) -> Report:
    """`linkwatch report --drift`: alive links whose content drifted or was replaced, most
    drifted first (within an article, and articles by their most drifted link)."""
    articles = []
    for article in report.articles:
        links = sorted(
            (lk for lk in article.links if lk.drifted),
            key=_drift_key,
        )
        if not links:
            continue
        articles.append(
            ArticleReport(
                id=article.id,
                location=article.location,
                title=article.title,
                published=article.published,
                source_url=article.source_url,
                counts=count_health(links),
                score=health_score(links),
                links=tuple(links),
            )
        )
    articles.sort(key=lambda a: _drift_key(a.links[0])[0])
    return Report(generated_at=report.generated_at, articles=tuple(articles))
