"""A small but complete database for report tests, filled through the real store API.

`fill_sample` syncs two articles (sync_article), records a history of checks for each link
(record_checks, so health moves through the real state machine) and stores snapshots. Times are
fixed relative to NOW so every formatter's output is reproducible.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlmodel import Session

from service.model import Article, ArticleMeta, CheckResult, LinkKind, Occurrence, Outcome
from service.monitor.health import DeathRule
from service.store import repo
from service.store.tables import SnapshotRow

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
RULE = DeathRule(signals=3, span=timedelta(hours=24))
HOSTILE = "<script>alert(1)</script>"
WAYBACK = "https://web.archive.org/web"


def occ(
    position: int, href: str, text: str, kind: LinkKind, line: int, url: str | None = None
) -> Occurrence:
    return Occurrence(href=href, anchor_text=text, line=line, kind=kind, url=url, position=position)


ARTICLE_A = Article(
    location="articles/a.md",
    format="markdown",
    meta=ArticleMeta(title="Trump & Kim: <the talks>", published=date(2018, 5, 26)),
    occurrences=(
        occ(
            0,
            "https://alive.example/page",
            "an alive page",
            LinkKind.HTTP,
            3,
            "https://alive.example/page",
        ),
        occ(
            1, "https://gone.example/story", HOSTILE, LinkKind.HTTP, 5, "https://gone.example/story"
        ),
        occ(2, "#", "lost target", LinkKind.PLACEHOLDER, 6),
        occ(
            3,
            "mailto:editor@example.org",
            "write to us",
            LinkKind.MAILTO,
            7,
            "mailto:editor@example.org",
        ),
        occ(
            4,
            "https://moved.example/old",
            "moved page",
            LinkKind.HTTP,
            8,
            "https://moved.example/old",
        ),
        occ(5, "https://flaky.example/", "flaky site", LinkKind.HTTP, 9, "https://flaky.example/"),
        occ(6, "javascript:alert(2)", "js link", LinkKind.PLACEHOLDER, 10),
    ),
)

ARTICLE_B = Article(
    location="https://blog.example/post",
    format="html",
    meta=ArticleMeta(title="Second article", published=date(2020, 1, 2)),
    occurrences=(
        occ(
            0,
            "https://gone.example/story",
            "same dead story",
            LinkKind.HTTP,
            12,
            "https://gone.example/story",
        ),
        occ(
            1,
            "https://blocked.example/x",
            "paywalled",
            LinkKind.HTTP,
            14,
            "https://blocked.example/x",
        ),
        occ(
            2,
            "https://suspect.example/p",
            "maybe gone",
            LinkKind.HTTP,
            15,
            "https://suspect.example/p",
        ),
    ),
)


def result(
    url: str, outcome: Outcome, at: datetime, status: int | None = None, final: str | None = None
) -> CheckResult:
    return CheckResult(
        url=url, outcome=outcome, checked_at=at, http_status=status, final_url=final, latency_ms=40
    )


@dataclass(frozen=True)
class SampleIds:
    article_a: int
    article_b: int
    links: dict[str, int]


def _history(url: str, day: int, at: datetime) -> CheckResult | None:
    """What the link answered on `day` days before NOW (one check a day, at `at`)."""
    if url == "https://alive.example/page":
        return result(url, Outcome.OK, at, 200)
    if url == "https://gone.example/story":
        return (
            result(url, Outcome.NOT_FOUND, at, 404) if day < 5 else result(url, Outcome.OK, at, 200)
        )
    if url == "https://moved.example/old":
        return result(url, Outcome.MOVED, at, 200, "https://moved.example/new")
    if url == "https://flaky.example/":
        if day % 10 == 3:
            return result(url, Outcome.TIMEOUT, at)
        if day == 20:
            return result(url, Outcome.OFFLINE, at)
        return result(url, Outcome.OK, at, 200)
    if url == "https://blocked.example/x":
        return result(url, Outcome.BLOCKED, at, 403) if day < 40 else None
    if url == "https://suspect.example/p":
        return (
            result(url, Outcome.OK, at, 200)
            if day > 0
            else result(url, Outcome.SERVER_ERROR, at, 503)
        )
    raise AssertionError(url)


def fill_sample(session: Session, now: datetime = NOW, days: int = 100) -> SampleIds:
    a = repo.sync_article(session, ARTICLE_A, now - timedelta(days=days + 1))
    b = repo.sync_article(session, ARTICLE_B, now - timedelta(days=days + 1))
    session.flush()
    urls = sorted(
        {
            o.url
            for art in (ARTICLE_A, ARTICLE_B)
            for o in art.occurrences
            if o.kind is LinkKind.HTTP and o.url
        }
    )
    links = {
        url: link.id
        for url, link in repo.links_for_urls(session, urls).items()
        if link.id is not None
    }
    for day in range(days - 1, -1, -1):
        at = now - timedelta(days=day, hours=2)
        batch = {}
        for url, link_id in links.items():
            r = _history(url, day, at)
            if r is not None:
                batch[link_id] = r
        repo.record_checks(session, batch, RULE)
    # The suspect link: a dead signal an hour ago, after the 503 this morning.
    repo.record_checks(
        session,
        {
            links["https://suspect.example/p"]: result(
                "https://suspect.example/p", Outcome.NOT_FOUND, now - timedelta(hours=1), 404
            )
        },
        RULE,
    )
    gone = links["https://gone.example/story"]
    session.add(
        SnapshotRow(
            link_id=gone,
            role="citation",
            looked_up_at=now,
            found=True,
            archive_url=f"{WAYBACK}/20180526093000/https://gone.example/story",
            captured_at=datetime(2018, 5, 26, 9, 30, tzinfo=UTC),
            status=200,
        )
    )
    session.add(
        SnapshotRow(
            link_id=gone,
            role="latest",
            looked_up_at=now,
            found=True,
            archive_url=f"{WAYBACK}/20240101000000/https://gone.example/story",
            captured_at=datetime(2024, 1, 1, tzinfo=UTC),
            status=200,
        )
    )
    moved = links["https://moved.example/old"]
    session.add(
        SnapshotRow(
            link_id=moved,
            role="latest",
            looked_up_at=now,
            found=True,
            archive_url=f"{WAYBACK}/20230101000000/https://moved.example/old",
            captured_at=datetime(2023, 1, 1, tzinfo=UTC),
            status=200,
        )
    )
    flaky = links["https://flaky.example/"]
    session.add(SnapshotRow(link_id=flaky, role="citation", looked_up_at=now, found=False))
    session.flush()
    assert a.id is not None and b.id is not None
    return SampleIds(a.id, b.id, links)
