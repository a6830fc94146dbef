"""Small builders shared by the monitor tests (articles and check results, no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime

from service.model import Article, ArticleMeta, CheckResult, LinkKind, Occurrence, Outcome

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def article(location: str, urls: list[str]) -> Article:
    occurrences = tuple(
        Occurrence(
            href=u, anchor_text=f"link {i}", line=i + 1, kind=LinkKind.HTTP, url=u, position=i
        )
        for i, u in enumerate(urls)
    )
    return Article(
        location=location, format="markdown", meta=ArticleMeta(), occurrences=occurrences
    )


def result(url: str, outcome: Outcome, at: datetime, status: int | None = None) -> CheckResult:
    return CheckResult(url=url, outcome=outcome, checked_at=at, http_status=status)
