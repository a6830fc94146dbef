"""By-year, by-domain and by-source reports on a generated publication with known rot."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa

from service.cli.app import run
from service.model import Article, ArticleMeta, LinkKind, Occurrence
from service.reports.publication import (
    DomainRow,
    PublicationReport,
    SourceReportRow,
    YearRow,
    publication_report,
    render_publication,
)
from service.store import sources as store
from service.store.db import Database, open_database
from service.store.tables import LinkRow

NOW = datetime(2025, 6, 1, tzinfo=UTC)
SITE = "https://www.paper.co.uk"  # registrable domain: paper.co.uk
# year -> (articles, links per article that are dead, links per article alive)
ROT = {2015: (4, 3, 1), 2018: (4, 2, 2), 2022: (4, 0, 4)}


def _article(location: str, published: date | None, urls: list[str]) -> Article:
    occurrences = tuple(
        Occurrence(href=u, anchor_text=f"l{i}", line=i + 1, kind=LinkKind.HTTP, url=u, position=i)
        for i, u in enumerate(urls)
    )
    return Article(location, "html", ArticleMeta(title=location, published=published), occurrences)


def build_publication(db: Database) -> None:
    """Articles per year with a known number of dead links; per-article links are distinct,
    except one internal link every article cites."""
    dead: list[str] = []
    items: list[store.BulkItem] = []
    for year, (count, n_dead, n_alive) in ROT.items():
        for a in range(count):
            urls = [f"https://rot{year}.example/{a}/{k}" for k in range(n_dead)]
            dead.extend(urls)
            urls += [f"https://alive.example/{year}/{a}/{k}" for k in range(n_alive)]
            urls.append(f"{SITE}/about")  # internal, alive
            items.append(store.BulkItem(_article(f"{SITE}/{year}/{a}", date(year, 5, 1), urls)))
    items.append(store.BulkItem(_article(f"{SITE}/undated", None, ["https://alive.example/u"])))
    with db.session() as session:
        row = store.add_source(session, "sitemap", f"{SITE}/sitemap.xml", NOW)
        store.bulk_add_articles(session, items, NOW, source_id=row.id)
        links = LinkRow.__table__  # type: ignore[attr-defined]
        session.execute(sa.update(links).values(health="alive"))
        session.execute(sa.update(links).where(links.c.url.in_(dead)).values(health="dead"))


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = open_database(db_url)
    try:
        build_publication(database)
        yield database
    finally:
        database.dispose()


def report(db: Database, by: str, scope: str = "all") -> PublicationReport:
    with db.session() as session:
        return publication_report(session, by, now=NOW, scope=scope)


def test_by_year_dead_share(db: Database) -> None:
    rows = {r.year: r for r in report(db, "year").rows if isinstance(r, YearRow)}
    assert set(rows) == {2015, 2018, 2022, None}
    # 2015: 4 articles x 3 dead, 4 x 1 alive, 1 shared internal alive link -> 12 / 17
    assert (rows[2015].articles, rows[2015].counts.dead, rows[2015].counts.checked) == (4, 12, 17)
    assert rows[2015].counts.dead_share == pytest.approx(12 / 17)
    assert rows[2018].counts.dead_share == pytest.approx(8 / 17)
    assert rows[2022].counts.dead_share == 0.0
    assert rows[None].articles == 1 and rows[None].counts.links == 1
    shares = [rows[y].counts.dead_share or 0 for y in (2015, 2018, 2022)]
    assert shares == sorted(shares, reverse=True)  # the link-rot curve: older rots more


def test_by_domain_most_dead_first_and_internal(db: Database) -> None:
    result = report(db, "domain")
    rows = [r for r in result.rows if isinstance(r, DomainRow)]
    assert [r.domain for r in rows[:2]] == ["rot2015.example", "rot2018.example"]
    assert rows[0].counts.dead == 12 and rows[0].counts.dead_share == 1.0
    assert rows[0].oldest_citation == date(2015, 5, 1)
    assert len(rows[0].dead_links) == 12
    paper = next(r for r in rows if r.domain == "paper.co.uk")
    assert paper.internal and paper.counts.links == 1  # cited by 13 articles, counted once
    alive = next(r for r in rows if r.domain == "alive.example")
    assert not alive.internal and alive.counts.dead_share == 0.0
    assert result.total.dead == 20
    external = report(db, "domain", scope="external")
    assert "paper.co.uk" not in {r.domain for r in external.rows if isinstance(r, DomainRow)}


def test_by_source_and_renderings(db: Database) -> None:
    rows = [r for r in report(db, "source").rows if isinstance(r, SourceReportRow)]
    assert len(rows) == 1 and rows[0].articles == 13 and rows[0].counts.dead == 20

    year = report(db, "year")
    html = render_publication(year, "html")
    bars = re.findall(r'<rect class="bar" data-year="(\d+)" data-share="([0-9.]+)"', html)
    assert [(y, round(float(s), 3)) for y, s in bars] == [
        ("2015", round(12 / 17, 3)),
        ("2018", round(8 / 17, 3)),
        ("2022", 0.0),
    ]
    assert "<script" not in html
    data = json.loads(render_publication(year, "json"))
    assert data["by"] == "year" and data["rows"][0]["counts"]["dead"] == 12
    markdown = render_publication(report(db, "domain"), "markdown")
    assert "| rot2015.example | external | 12 | 12 | 12 | 0 | 100.0% | 2015-05-01 |" in markdown
    table = render_publication(report(db, "domain"), "table")
    assert table.splitlines()[4].startswith("rot2015.example")


def test_cli_publication_report(
    sqlite_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    database = open_database(sqlite_url)
    build_publication(database)
    database.dispose()
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    assert run(["publication-report", "--by", "year", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)["rows"]
    assert [r["year"] for r in rows] == [2015, 2018, 2022, None]
    assert run(["publication-report", "--by", "planet"]) == 2
    assert "unknown view 'planet'" in capsys.readouterr().err
