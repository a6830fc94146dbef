"""A database holding a realistic history in every exported table (for export/import tests)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from service.model import Article, ArticleMeta, CheckResult, Hop, LinkKind, Occurrence, Outcome
from service.monitor.health import DeathRule
from service.store import repo
from service.store.db import Database
from service.store.tables import (
    AlertRow,
    ArticleRow,
    CheckDailyRow,
    DriftRow,
    NotificationRow,
    SaveRequestRow,
    SnapshotRow,
    SourceRow,
)

T0 = datetime(2024, 3, 1, 8, 30, 15, 123456, tzinfo=UTC)


def _occ(position: int, href: str, text: str, kind: LinkKind = LinkKind.HTTP) -> Occurrence:
    return Occurrence(
        href=href,
        anchor_text=text,
        line=position + 3,
        kind=kind,
        url=href if kind is LinkKind.HTTP else None,
        position=position,
    )


def article(location: str, published: date | None, hrefs: list[str]) -> Article:
    occurrences = [_occ(i, h, f'lien «{i}» "quoted"\nline 2 ✓') for i, h in enumerate(hrefs)]
    occurrences.append(_occ(len(hrefs), "#", "lost target", LinkKind.PLACEHOLDER))
    return Article(
        location=location,
        format="markdown",
        meta=ArticleMeta(title=f"Title of {location} — ünïcode", published=published),
        occurrences=tuple(occurrences),
    )


DEAD = (Outcome.NOT_FOUND, Outcome.DNS_ERROR, Outcome.REFUSED, Outcome.NOT_FOUND)


def fill(db: Database, days: int = 6) -> None:
    """Two articles sharing a link; daily checks over `days` days (one link dies, one recovers)."""
    rule = DeathRule(signals=3, span=timedelta(hours=24))
    with db.session() as session:
        a = repo.sync_article(
            session,
            article(
                "posts/a.md",
                date(2018, 5, 26),
                [
                    "https://example.org/alive",
                    "https://example.org/dies",
                    "https://shared.example/page?q=1&r=ü",
                ],
            ),
            T0,
            tags=["blog", "politics"],
        )
        repo.sync_article(
            session,
            article("https://blog.example/b", None, ["https://shared.example/page?q=1&r=ü"]),
            T0 + timedelta(minutes=5),
            interval_hours=12.5,
        )
        links = {
            link.url: link.id
            for link in repo.links_for_urls(
                session,
                [
                    "https://example.org/alive",
                    "https://example.org/dies",
                    "https://shared.example/page?q=1&r=ü",
                ],
            ).values()
        }
        assert a.id is not None
    alive, dies, shared = (
        links[u]
        for u in (
            "https://example.org/alive",
            "https://example.org/dies",
            "https://shared.example/page?q=1&r=ü",
        )
    )
    for day in range(days):
        at = T0 + timedelta(days=day, seconds=day * 7)
        results = {
            alive: CheckResult(
                url="https://example.org/alive",
                outcome=Outcome.OK,
                checked_at=at,
                http_status=200,
                final_url="https://example.org/alive",
                latency_ms=120 + day,
            ),
            dies: CheckResult(
                url="https://example.org/dies",
                outcome=DEAD[day % len(DEAD)],
                checked_at=at,
                http_status=404 if day % 2 == 0 else None,
                error=None if day % 2 == 0 else "no such host",
                hops=(
                    Hop(
                        url="http://example.org/dies",
                        status=301,
                        location="https://example.org/dies",
                    ),
                ),
            ),
            shared: CheckResult(
                url="https://shared.example/page?q=1&r=ü",
                outcome=Outcome.SERVER_ERROR if day < 2 else Outcome.MOVED,
                checked_at=at,
                http_status=503 if day < 2 else 200,
                warnings=("fragment #x not found",),
                final_url="https://shared.example/new",
            ),
        }
        with db.session() as session:
            recorded = repo.record_checks(session, results, rule, worker="w-1")
            for link_id, (check, transition) in recorded.items():
                if transition is None:
                    continue
                alert = AlertRow(
                    event="broken" if transition.to_health == "dead" else "recovered",
                    event_key=f"transition:{transition.id}",
                    transition_id=transition.id,
                    channel="ops",
                    created_at=at + timedelta(seconds=1),
                    state="delivered",
                    attempts=2,
                    delivered_at=at + timedelta(minutes=2),
                    payload='{"url": "ü", "n": 1.5}',
                )
                session.add(alert)
                session.flush()
                assert alert.id is not None
                session.add(
                    NotificationRow(
                        alert_id=alert.id,
                        channel="ops",
                        at=at + timedelta(minutes=1),
                        ok=False,
                        error="timeout",
                    )
                )
                session.add(
                    NotificationRow(
                        alert_id=alert.id, channel="ops", at=at + timedelta(minutes=2), ok=True
                    )
                )
    with db.session() as session:
        session.add(
            AlertRow(
                event="monitor_offline",
                event_key="offline:1",
                channel="ops",
                created_at=T0 + timedelta(days=days),
                state="pending",
                next_attempt_at=T0 + timedelta(days=days, hours=1),
            )
        )
        for link_id in (alive, dies):
            session.add(
                CheckDailyRow(
                    link_id=link_id,
                    day=date(2023, 1, 1),
                    checks=3,
                    alive=1,
                    worst_outcome="not_found",
                )
            )
            session.add(
                CheckDailyRow(
                    link_id=link_id, day=date(2023, 1, 2), checks=1, alive=1, worst_outcome="ok"
                )
            )
            for role in ("citation", "latest"):
                session.add(
                    SnapshotRow(
                        link_id=link_id,
                        role=role,
                        looked_up_at=T0 + timedelta(days=1),
                        found=role == "latest",
                        archive_url="https://web.archive.org/web/2018/x"
                        if role == "latest"
                        else None,
                        captured_at=datetime(2018, 5, 1, tzinfo=UTC) if role == "latest" else None,
                        status=200,
                    )
                )
        session.add(
            SaveRequestRow(
                link_id=dies,
                submitted_at=T0 + timedelta(days=2),
                job_id="spn2-abc",
                state="success",
                attempts=1,
                captured_at=T0 + timedelta(days=2, minutes=3),
            )
        )
        session.add(SaveRequestRow(link_id=alive, state="queued", next_attempt_at=T0))
        # a publication source owning one article, and drift comparisons of a live link
        source = SourceRow(
            kind="sitemap",
            location="https://news.example/sitemap.xml",
            tags="news",
            added_at=T0,
            last_scan_at=T0 + timedelta(hours=1),
            next_scan_at=T0 + timedelta(days=1),
            etag='"abc"',
        )
        session.add(source)
        session.flush()
        owned = session.get(ArticleRow, 1)
        assert owned is not None
        owned.source_id = source.id
        owned.lastmod = "2024-05-01"
        for day, verdict, cosine in ((1, "same", 0.93), (4, "drifted", 0.41)):
            session.add(
                DriftRow(
                    link_id=alive,
                    checked_at=T0 + timedelta(days=day),
                    capture_timestamp=T0 - timedelta(days=300),
                    verdict=verdict,
                    cosine=cosine,
                    containment=cosine - 0.1,
                    title_similarity=1.0,
                    word_count_capture=800,
                    word_count_live=760,
                )
            )
