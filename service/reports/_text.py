"""Small shared helpers of the formatters: times, percentages, labels. Pure functions."""

from __future__ import annotations

from datetime import UTC, datetime

from service.model import Health
from service.reports.model import ArticleReport, Availability

HEALTH_LABEL: dict[Health, str] = {
    Health.DEAD: "dead",
    Health.SUSPECT: "suspect",
    Health.UNKNOWN: "unknown",
    Health.UNCHECKED: "unchecked",
    Health.ALIVE: "alive",
    Health.NOT_APPLICABLE: "not applicable",
}


def iso(value: datetime | None) -> str | None:
    """ISO 8601 in UTC with a Z, to the second: 2024-05-01T12:00:00Z."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def short_time(value: datetime | None) -> str:
    """'2024-05-01 12:00' UTC, or '-'."""
    if value is None:
        return "-"
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M")


def day(value: datetime | None) -> str:
    if value is None:
        return "-"
    return value.astimezone(UTC).strftime("%Y-%m-%d")


def percent(value: float | None) -> str:
    if value is None:
        return "-"
    text = f"{value:.1f}".removesuffix(".0")
    return f"{text}%"


def uptime(a: Availability) -> str:
    """'98.5% of 30' or '-' when there was no check."""
    if not a.checks:
        return "-"
    return f"{percent(a.uptime)} of {a.checks}"


def summary_line(article: ArticleReport) -> str:
    """'55 links: 1 alive, 54 not applicable; score 100%'."""
    parts = [f"{n} {HEALTH_LABEL[h]}" for h, n in article.counts.items() if n]
    score = percent(article.score) if article.score is not None else "n/a"
    noun = "link" if article.total == 1 else "links"
    return f"{article.total} {noun}: {', '.join(parts) or 'none'}; health score {score}"


def drift_text(verdict: str | None, score: float | None) -> str:
    """'drifted (0.55)' / 'same (0.03)' / '-': a drift verdict and its score (1 - cosine)."""
    if verdict is None:
        return "-"
    return f"{verdict} ({score:.2f})" if score is not None else verdict


def drift_sentence(verdict: str, score: float | None) -> str:
    """What a drift verdict means for a reader of the article, in one line."""
    what = {
        "same": "content still as cited",
        "drifted": "content drifted since cited",
        "replaced": "content replaced since cited (now about something else)",
    }.get(verdict, verdict)
    return f"{what} (drift score {score:.2f})" if score is not None else what
