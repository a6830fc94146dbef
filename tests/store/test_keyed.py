"""Lookups by many keys use the indexes even under a generic plan made on small tables.

psycopg prepares a statement on its sixth run and PostgreSQL may then keep a generic plan
made while the tables were small; without an ANALYZE it is never replaced (issue #10: 387 s
to populate 100,000 links). Here every statement is prepared at once (psycopg
`prepare_threshold = 0`) and planned generically (`plan_cache_mode = force_generic_plan`)
on nearly empty tables, the worst case, and the sequential scans each step starts are
counted in the transaction's statistics (pg_stat_get_xact_numscans).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from service.model import Article, ArticleMeta, LinkKind, Occurrence
from service.store import repo, sources
from service.store.db import Database
from service.store.keyed import first_per_key
from service.store.tables import LinkRow

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
TABLES = ("links", "occurrences", "articles")


def cited(location: str, urls: list[str], published: date | None = None) -> Article:
    return Article(
        location=location,
        format="markdown",
        meta=ArticleMeta(title="t", published=published, source_url=None),
        occurrences=tuple(
            Occurrence(href=u, anchor_text="", line=1, kind=LinkKind.HTTP, url=u, position=i)
            for i, u in enumerate(urls)
        ),
    )


def urls(prefix: str, count: int) -> list[str]:
    return [f"https://{prefix}.example/{i}" for i in range(count)]


def seq_scans(session: Session) -> dict[str, int]:
    query = sa.text("SELECT pg_stat_get_xact_numscans(CAST(:t AS regclass))")
    return {t: int(session.execute(query, {"t": t}).scalar_one()) for t in TABLES}


def generic_plans_on_small_tables(session: Session) -> None:
    session.connection().connection.driver_connection.prepare_threshold = 0  # type: ignore[attr-defined]
    session.execute(sa.text("SET plan_cache_mode = force_generic_plan"))
    repo.sync_article(session, cited("seed.md", urls("seed", 3)), NOW)


def _bulk_add(session: Session) -> None:
    source = sources.add_source(session, "dir", "/srv/blog", NOW)
    items = [sources.BulkItem(cited(f"bulk{n}.md", urls(f"bulk{n}", 300))) for n in range(2)]
    ids = sources.bulk_add_articles(session, items, NOW, source_id=source.id)
    assert sources.has_occurrences(session, list(ids.values())) == set(ids.values())


STEPS: list[tuple[str, Callable[[Session], object]]] = [
    ("a new article", lambda s: repo.sync_article(s, cited("a.md", urls("a", 600)), NOW)),
    (
        # links cited before: their citation dates are recomputed from every citer
        "an older article citing known links",
        lambda s: repo.sync_article(
            s, cited("b.md", urls("a", 300) + urls("b", 300), date(2020, 1, 1)), NOW
        ),
    ),
    ("link ids of many URLs", lambda s: repo.link_ids_for_urls(s, urls("a", 600))),
    ("articles added in bulk", _bulk_add),
    (
        "a listing of known and new locations",
        lambda s: sources.apply_listing(
            s,
            sources.add_source(s, "sitemap", "https://blog.example/sitemap.xml", NOW).id or 0,
            [sources.ListedArticle(loc) for loc in ["a.md", "b.md", "new.md"]],
            NOW,
        ),
    ),
]


@pytest.mark.postgres
@pytest.mark.parametrize(("name", "step"), STEPS, ids=[name for name, _ in STEPS])
def test_lookups_by_many_keys_scan_no_table(
    pg_db: Database, name: str, step: Callable[[Session], object]
) -> None:
    with pg_db.session() as session:
        generic_plans_on_small_tables(session)
        for _ in range(2):  # the second run reuses the plans the first one cached
            before = seq_scans(session)
            step(session)
            after = seq_scans(session)
            assert {t: after[t] - before[t] for t in TABLES} == dict.fromkeys(TABLES, 0), name


@pytest.mark.postgres
def test_the_count_notices_a_sequential_scan(pg_db: Database) -> None:
    """Negative control: the same generic plan for a plain IN list scans `links`."""
    with pg_db.session() as session:
        generic_plans_on_small_tables(session)
        hashes = [repo.url_hash(u) for u in urls("seed", 3)]
        before = seq_scans(session)
        session.execute(sa.select(LinkRow.id).where(LinkRow.url_hash.in_(hashes)))  # type: ignore[attr-defined]
        assert seq_scans(session)["links"] == before["links"] + 1


def test_first_per_key_finds_each_key_once_in_key_order(db: Database) -> None:
    """Both databases: unique keys, missing keys, repeated keys, an extra condition, locking."""
    with db.session() as session:
        repo.sync_article(session, cited("k.md", urls("k", 5)), NOW)
        links = repo.links_for_urls(session, urls("k", 5))
        by_url = {u: links[u].id for u in urls("k", 5)}
        keys = [repo.url_hash(u) for u in reversed(urls("k", 5))] + ["0" * 64]
        lk = LinkRow.__table__.c  # type: ignore[attr-defined]
        query = first_per_key(db.dialect, lk.url_hash, keys, lk.id, lk.url)
        rows = session.execute(query).all()
        assert sorted((r.url, r.id) for r in rows) == sorted(by_url.items())
        if db.dialect == "postgresql":
            assert [r.url for r in rows] == list(reversed(urls("k", 5)))
        ids = sorted(by_url.values())
        locked = first_per_key(
            db.dialect, lk.id, ids, lk.id, where=[lk.id != ids[0]], for_update=True
        )
        assert sorted(session.scalars(locked)) == ids[1:]
