"""A database filled by REAL checks of real links: two articles whose links point at the link farm.

Three check rounds 13 hours apart (the Checker's clock is injected, the HTTP is real), recorded
through the store, so `/status/404` and the refused port become confirmed dead, `/moved/page`
moved, `/status/403` unknown, `/status/503` stays transient. The dead page gets a citation
capture as the archive stage would store it; `/ok` and `/moved/page` get drift comparisons
(`/ok` was the same as cited, then drifted; `/moved/page` is the same) as the drift stage
would store them.
"""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, date, datetime, timedelta

from service.articles.extract import parse_article
from service.checks.checker import Checker
from service.model import ArticleMeta, LinkKind
from service.settings import ChecksSettings
from service.store import repo
from service.store.db import Database
from service.store.tables import DriftRow, SnapshotRow
from tests.reports.sample import RULE
from tests.support.farm import LinkFarm

T0 = datetime(2024, 5, 20, 9, 0, tzinfo=UTC)
ROUNDS = 3
ROUND_GAP = timedelta(hours=13)
NOW = T0 + ROUND_GAP * (ROUNDS - 1) + timedelta(hours=1)
WAYBACK = "https://web.archive.org/web"


def markdown_article(farm: LinkFarm) -> str:
    return (
        "---\ntitle: Farm report article\npublished: 2019-03-04\n---\n\n"
        f"An [alive page]({farm.url('/ok')}) and a [gone page]({farm.url('/status/404')}).\n"
        f"A [moved page]({farm.url('/moved/page')}), a [paywall]({farm.url('/status/403')}).\n"
        f"A [broken server]({farm.url('/status/503')}) and a [dead host]({farm.refused_url}).\n"
        "A [lost link](#) and [mail](mailto:editor@example.org).\n"
    )


def html_article(farm: LinkFarm) -> str:
    return (
        "<!DOCTYPE html><html><head><title>Hostile &lt;b&gt;title&lt;/b&gt;</title></head><body>\n"
        f'<p><a href="{farm.url("/status/404")}">&lt;script&gt;alert(1)&lt;/script&gt;</a>\n'
        '<a href="javascript:alert(2)">js</a>\n'
        f'<a href="{farm.url("/ok")}">ok again</a></p>\n</body></html>\n'
    )


async def _rounds(settings: ChecksSettings, urls: list[str]) -> list[dict[str, object]]:
    results = []
    for i in range(ROUNDS):
        at = T0 + ROUND_GAP * i

        def clock(at: datetime = at) -> datetime:
            return at

        async with Checker(settings, clock=clock, per_host_interval_s=0.0) as checker:
            results.append(dict(await checker.check_many(urls)))
    return results


def fill_from_farm(db: Database, farm: LinkFarm) -> tuple[int, int]:
    """Sync both articles, run the real check rounds, record them; the two article ids."""
    md = parse_article(markdown_article(farm), "markdown", "articles/farm.md")
    html = parse_article(
        html_article(farm),
        "html",
        "articles/hostile.html",
        meta_override=ArticleMeta(published=date(2021, 6, 7)),
    )
    with db.session() as session:
        a = repo.sync_article(session, md, T0 - timedelta(hours=1))
        b = repo.sync_article(session, html, T0 - timedelta(hours=1))
        ids = (a.id, b.id)
    urls = sorted(
        {o.url for art in (md, html) for o in art.occurrences if o.kind is LinkKind.HTTP and o.url}
    )
    settings = ChecksSettings(
        resolve=farm.pins, timeout_s=3.0, connect_timeout_s=2.0, retries=0, per_host_interval_s=0.0
    )
    rounds = asyncio.run(_rounds(settings, urls))
    with db.session() as session:
        links = repo.links_for_urls(session, urls)
        for results in rounds:
            for url, result in results.items():
                link_id = links[url].id
                assert link_id is not None
                repo.record_check(session, link_id, result, RULE)  # type: ignore[arg-type]
        gone = links[farm.url("/status/404")].id
        assert gone is not None
        session.add(
            SnapshotRow(
                link_id=gone,
                role="citation",
                looked_up_at=NOW,
                found=True,
                archive_url=f"{WAYBACK}/20190304101500/{farm.url('/status/404')}",
                captured_at=datetime(2019, 3, 4, 10, 15, tzinfo=UTC),
                status=200,
            )
        )
        drift = [
            (farm.url("/ok"), NOW - timedelta(days=40), "same", 0.93),
            (farm.url("/ok"), NOW - timedelta(hours=2), "drifted", 0.4213),
            (farm.url("/moved/page"), NOW - timedelta(hours=2), "same", 0.9871),
        ]
        for url, at, verdict, cosine in drift:
            session.add(
                DriftRow(
                    link_id=links[url].id,
                    checked_at=at,
                    capture_timestamp=datetime(2019, 3, 4, 10, 15, tzinfo=UTC),
                    verdict=verdict,
                    cosine=cosine,
                    containment=cosine,
                    word_count_capture=800,
                    word_count_live=760,
                )
            )
    assert ids[0] is not None and ids[1] is not None
    return ids[0], ids[1]


def normalise(text: str, farm: LinkFarm) -> str:
    """Replace the farm's ephemeral ports by stable words (goldens must not depend on them)."""
    names = {str(farm.port): "PORT", str(farm.tls_port): "TLSPORT"}
    names.update({str(p): f"RAW{name.upper()}" for name, p in farm.raw_ports.items()})
    return re.sub(r"(?<=:)(\d{2,5})\b", lambda m: names.get(m.group(1), m.group(1)), text)
