"""Queries of publication sources: the sources, their articles' listing state, a bulk sync path.

Like repo.py, every function works in the caller's session and never commits.

- `add_source` / `get_source` / `list_sources` / `remove_source`: the `sources` table;
- `apply_listing`: what a scan of a source found (URLs or files, with their `lastmod`) becomes
  article rows: new ones registered as pending (due for a fetch at once), changed ones
  (another `lastmod`) due again, vanished ones retired (history kept) when asked;
- `due_fetches`: the pending article fetches of web sources (most overdue first);
- `bulk_add_articles`: many articles read for the first time in a fixed number of
  statements per batch (not per article), for the first scan of a large publication;
  articles already holding occurrences go through `repo.sync_article` instead.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlmodel import Session, col, select

from service.model import Article, Health, LinkKind
from service.store import repo
from service.store.keyed import first_per_key
from service.store.located import get_by_id_or_location, list_rows
from service.store.tables import ArticleRow, LinkRow, OccurrenceRow, SourceRow

ARTICLES: sa.Table = ArticleRow.__table__  # type: ignore[attr-defined]
LINKS: sa.Table = LinkRow.__table__  # type: ignore[attr-defined]
OCCURRENCES: sa.Table = OccurrenceRow.__table__  # type: ignore[attr-defined]
SOURCES: sa.Table = SourceRow.__table__  # type: ignore[attr-defined]

SOURCE_KINDS = ("sitemap", "feed", "dir")
WEB_KINDS = ("sitemap", "feed")
CHUNK = repo.CHUNK
_T = TypeVar("_T")


def _chunks(items: Sequence[_T], size: int = CHUNK) -> Iterator[Sequence[_T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def _tags(tags: Iterable[str]) -> str:
    return ",".join(dict.fromkeys(t.strip() for t in tags if t.strip()))


def source_tags(row: SourceRow) -> tuple[str, ...]:
    return tuple(t for t in row.tags.split(",") if t)


# -- the sources table -------------------------------------------------------------------------


def add_source(
    session: Session,
    kind: str,
    location: str,
    now: datetime,
    *,
    tags: Sequence[str] | None = None,
    all_links: bool = False,
) -> SourceRow:
    """Store a source (or update and re-activate the one at `location`); it is due at once."""
    if kind not in SOURCE_KINDS:
        raise ValueError(f"unknown source kind {kind!r}")
    row = session.exec(select(SourceRow).where(SourceRow.location == location)).first()
    if row is None:
        row = SourceRow(kind=kind, location=location, added_at=now)
        session.add(row)
    row.kind = kind
    if tags is not None:
        row.tags = _tags(tags)
    row.all_links = all_links
    row.active = True
    row.next_scan_at = now
    session.flush()
    return row


def get_source(session: Session, id_or_location: int | str) -> SourceRow | None:
    """A source by id or by location (a string of digits that is no location is an id)."""
    return get_by_id_or_location(session, SourceRow, id_or_location)


def list_sources(session: Session, *, include_inactive: bool = False) -> list[SourceRow]:
    """Publication sources (removed ones too with include_inactive), in the order added."""
    return list_rows(session, SourceRow, include_inactive=include_inactive)


def due_sources(session: Session, now: datetime) -> list[SourceRow]:
    """Active sources whose next scan is due, most overdue first."""
    query = (
        select(SourceRow)
        .where(col(SourceRow.active).is_(True))
        .where(sa.or_(col(SourceRow.next_scan_at).is_(None), col(SourceRow.next_scan_at) <= now))
        .order_by(col(SourceRow.next_scan_at), col(SourceRow.id))
    )
    return list(session.exec(query))


def claim_scan(session: Session, source_id: int, now: datetime, until: datetime) -> bool:
    """Take a due scan by moving `next_scan_at` forward (one replica wins a given scan)."""
    s = SOURCES.c
    result = session.execute(
        sa.update(SOURCES)
        .where(s.id == source_id, sa.or_(s.next_scan_at.is_(None), s.next_scan_at <= now))
        .values(next_scan_at=until)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def mark_scanned(
    session: Session,
    source_id: int,
    now: datetime,
    next_scan_at: datetime,
    *,
    etag: str | None = None,
    last_modified: str | None = None,
) -> None:
    session.execute(
        sa.update(SOURCES)
        .where(SOURCES.c.id == source_id)
        .values(last_scan_at=now, next_scan_at=next_scan_at, etag=etag, last_modified=last_modified)
    )


def remove_source(session: Session, source_id: int, now: datetime) -> int:
    """Deactivate a source and retire its articles (history kept). Returns articles retired."""
    session.execute(sa.update(SOURCES).where(SOURCES.c.id == source_id).values(active=False))
    ids = list(
        session.scalars(
            sa.select(ARTICLES.c.id).where(
                ARTICLES.c.source_id == source_id, ARTICLES.c.active.is_(True)
            )
        )
    )
    for article_id in ids:
        repo.remove_article(session, article_id, now)
    return len(ids)


# -- listings ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ListedArticle:
    """One article a scan found: its location (URL or file path) and what the listing says."""

    location: str
    lastmod: str | None = None
    published: date | None = None
    title: str | None = None


@dataclass
class ListingResult:
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    retired: int = 0
    foreign: int = 0  # listed, but already watched by hand or by another source
    due_ids: list[int] = field(default_factory=list)  # articles to (re)read now


@dataclass(frozen=True, slots=True)
class OwnArticle:
    id: int
    location: str
    lastmod: str | None
    active: bool
    fetched_at: datetime | None


def source_articles(session: Session, source_id: int) -> dict[str, OwnArticle]:
    """Every article (active or retired) of a source, by location."""
    a = ARTICLES.c
    rows = session.execute(
        sa.select(a.id, a.location, a.lastmod, a.active, a.fetched_at).where(
            a.source_id == source_id
        )
    )
    out: dict[str, OwnArticle] = {}
    for r in rows:
        fetched = r.fetched_at
        if isinstance(fetched, str):
            fetched = datetime.fromisoformat(fetched)
        if fetched is not None and fetched.tzinfo is None:
            fetched = fetched.replace(tzinfo=UTC)
        out[r.location] = OwnArticle(r.id, r.location, r.lastmod, bool(r.active), fetched)
    return out


def apply_listing(
    session: Session,
    source_id: int,
    listed: Sequence[ListedArticle],
    now: datetime,
    *,
    fmt: str = "html",
    tags: Sequence[str] = (),
    retire_missing: bool = True,
) -> ListingResult:
    """Make the source's article rows match a scan (see the module docstring).

    New articles are registered (no links yet) with `next_fetch_at = now`; an article whose
    `lastmod` changed, that has none, or that was retired and is listed again is due now too;
    one with the same `lastmod` as last time keeps its schedule (not re-read). Locations
    already watched by hand or by another source are left alone (`foreign`).
    """
    result = ListingResult()
    own = source_articles(session, source_id)
    wanted: dict[str, ListedArticle] = {}
    for item in listed:
        wanted.setdefault(item.location, item)
    new_items = [i for loc, i in wanted.items() if loc not in own]
    if new_items:
        taken = _existing_locations(session, [i.location for i in new_items])
        result.foreign = len(taken)
        rows = [
            {
                "location": i.location,
                "format": fmt,
                "title": i.title,
                "published": i.published,
                "tags": _tags(tags),
                "added_at": now,
                "next_fetch_at": now,
                "lastmod": i.lastmod,
                "source_id": source_id,
                "active": True,
            }
            for i in new_items
            if i.location not in taken
        ]
        if rows:
            session.execute(sa.insert(ARTICLES), rows)
            result.new = len(rows)
            fresh = _ids_by_location(session, [str(r["location"]) for r in rows])
            result.due_ids.extend(fresh.values())
    due_again: list[dict[str, Any]] = []
    for location, item in wanted.items():
        mine = own.get(location)
        if mine is None:
            continue
        if (
            mine.active
            and mine.fetched_at is not None
            and item.lastmod is not None
            and (item.lastmod == mine.lastmod)
        ):
            result.unchanged += 1
            continue
        if mine.active and mine.fetched_at is not None and item.lastmod is None:
            result.unchanged += 1  # no lastmod: refreshed on its own schedule (conditional GET)
            continue
        result.changed += 1
        result.due_ids.append(mine.id)
        due_again.append({"_id": mine.id, "lastmod": item.lastmod, "published": item.published})
    if due_again:
        a = ARTICLES.c
        session.execute(
            sa.update(ARTICLES)
            .where(a.id == sa.bindparam("_id"))
            .values(lastmod=sa.bindparam("lastmod"), next_fetch_at=now, active=True),
            due_again,
        )
        dated = [r for r in due_again if r["published"] is not None]
        if dated:
            session.execute(
                sa.update(ARTICLES)
                .where(a.id == sa.bindparam("_id"), a.published.is_(None))
                .values(published=sa.bindparam("published")),
                [{"_id": r["_id"], "published": r["published"]} for r in dated],
            )
    if retire_missing:
        gone = [m.id for loc, m in own.items() if m.active and loc not in wanted]
        for article_id in gone:
            repo.remove_article(session, article_id, now)
        result.retired = len(gone)
    return result


def _existing_locations(session: Session, locations: Sequence[str]) -> set[str]:
    return set(_ids_by_location(session, locations))


def _ids_by_location(session: Session, locations: Sequence[str]) -> dict[str, int]:
    """{location: article id} of the articles among `locations` (keyed.py: one lookup each)."""
    out: dict[str, int] = {}
    a = ARTICLES.c
    dialect = _dialect(session)
    for part in _chunks(list(locations)):
        query = first_per_key(dialect, a.location, part, a.location, a.id)
        out.update((loc, i) for loc, i in session.execute(query))
    return out


# -- pending fetches ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PendingFetch:
    """An article page of a web source that is due for a (conditional) fetch."""

    article_id: int
    url: str
    source_id: int
    all_links: bool
    tags: tuple[str, ...]
    etag: str | None
    last_modified: str | None
    published: date | None
    lastmod: str | None
    fetched_before: bool


def due_fetches(
    session: Session, now: datetime, limit: int, *, source_id: int | None = None
) -> list[PendingFetch]:
    """Due article fetches of active web sources (never fetched first, then most overdue)."""
    a, s = ARTICLES.c, SOURCES.c
    query = (
        sa.select(
            a.id,
            a.location,
            a.source_id,
            a.etag,
            a.last_modified,
            a.published,
            a.lastmod,
            a.fetched_at,
            s.all_links,
            s.tags,
        )
        .join_from(ARTICLES, SOURCES, s.id == a.source_id)
        .where(
            a.active.is_(True),
            s.active.is_(True),
            s.kind.in_(WEB_KINDS),
            sa.or_(a.next_fetch_at.is_(None), a.next_fetch_at <= now),
        )
        .order_by(a.fetched_at.is_not(None), a.next_fetch_at, a.id)
        .limit(limit)
    )
    if source_id is not None:
        query = query.where(a.source_id == source_id)
    return [
        PendingFetch(
            article_id=r.id,
            url=r.location,
            source_id=r.source_id,
            all_links=bool(r.all_links),
            tags=tuple(t for t in (r.tags or "").split(",") if t),
            etag=r.etag,
            last_modified=r.last_modified,
            published=r.published,
            lastmod=r.lastmod,
            fetched_before=r.fetched_at is not None,
        )
        for r in session.execute(query)
    ]


def count_due_fetches(session: Session, now: datetime, *, source_id: int | None = None) -> int:
    a, s = ARTICLES.c, SOURCES.c
    query = (
        sa.select(sa.func.count())
        .select_from(ARTICLES.join(SOURCES, s.id == a.source_id))
        .where(
            a.active.is_(True),
            s.active.is_(True),
            s.kind.in_(WEB_KINDS),
            sa.or_(a.next_fetch_at.is_(None), a.next_fetch_at <= now),
        )
    )
    if source_id is not None:
        query = query.where(a.source_id == source_id)
    return int(session.scalar(query) or 0)


def mark_article_read(
    session: Session,
    article_id: int,
    now: datetime,
    *,
    next_fetch_at: datetime | None,
    etag: str | None = None,
    last_modified: str | None = None,
    lastmod: str | None = None,
    source_id: int | None = None,
) -> None:
    """After a (re)read: when, when next, the validators, the lastmod acted upon, the owner."""
    values: dict[str, Any] = {
        "fetched_at": now,
        "next_fetch_at": next_fetch_at,
        "etag": etag,
        "last_modified": last_modified,
        "lastmod": lastmod,
    }
    if source_id is not None:
        values["source_id"] = source_id
    session.execute(sa.update(ARTICLES).where(ARTICLES.c.id == article_id).values(**values))


def postpone_fetch(session: Session, article_id: int, until: datetime) -> None:
    session.execute(
        sa.update(ARTICLES).where(ARTICLES.c.id == article_id).values(next_fetch_at=until)
    )


def has_occurrences(session: Session, article_ids: Sequence[int]) -> set[int]:
    """The ids among `article_ids` that have at least one occurrence row (active or not)."""
    out: set[int] = set()
    o = OCCURRENCES.c
    dialect = _dialect(session)
    for part in _chunks(sorted(article_ids)):
        query = first_per_key(dialect, o.article_id, part, o.article_id)
        out.update(session.scalars(query.distinct()))
    return out


# -- bulk path ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BulkItem:
    """One article read for the first time, with its bookkeeping."""

    article: Article
    lastmod: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    next_fetch_at: datetime | None = None


def bulk_add_articles(
    session: Session,
    items: Sequence[BulkItem],
    now: datetime,
    *,
    source_id: int | None,
    tags: Sequence[str] = (),
) -> dict[str, int]:
    """Record articles that hold no occurrence yet (new, or registered pending) in bulk.

    Same result as `repo.sync_article` for each (article rows upserted by location, one link
    row per distinct URL shared with every citing article, citation dates the earliest
    published date of the citers, retired links cited again revived), in a fixed number of
    statements per call. Returns {location: article id}. The caller makes sure the articles
    hold no occurrence yet (`has_occurrences`); others must go through `repo.sync_article`.
    """
    if not items:
        return {}
    tag_text = _tags(tags)
    locations = [i.article.location for i in items]
    ids = _ids_by_location(session, locations)
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    for item in items:
        art = item.article
        values = {
            "format": art.format,
            "title": art.meta.title,
            "published": art.meta.published,
            "source_url": art.meta.source_url,
            "fetched_at": now,
            "next_fetch_at": item.next_fetch_at,
            "etag": item.etag,
            "last_modified": item.last_modified,
            "lastmod": item.lastmod,
            "source_id": source_id,
            "active": True,
        }
        if art.location in ids:
            updates.append({"_id": ids[art.location], **values})
        else:
            inserts.append({"location": art.location, "tags": tag_text, "added_at": now, **values})
    if inserts:
        session.execute(sa.insert(ARTICLES), inserts)
        ids.update(_ids_by_location(session, [r["location"] for r in inserts]))
    if updates:
        a = ARTICLES.c
        session.execute(
            sa.update(ARTICLES)
            .where(a.id == sa.bindparam("_id"))
            .values(**{k: sa.bindparam(k) for k in updates[0] if k != "_id"}),
            updates,
        )

    # Links: the earliest published date of each URL among these articles.
    earliest: dict[str, date | None] = {}
    for item in items:
        published = item.article.meta.published
        for occ in item.article.occurrences:
            if occ.kind is LinkKind.HTTP and occ.url:
                if occ.url not in earliest:
                    earliest[occ.url] = published
                elif published is not None:
                    current = earliest[occ.url]
                    earliest[occ.url] = published if current is None else min(current, published)
    link_ids = _ensure_links_bulk(session, earliest, now)

    occurrence_rows: list[dict[str, Any]] = []
    for item in items:
        article_id = ids[item.article.location]
        for occ in item.article.occurrences:
            link_id = link_ids.get(occ.url) if occ.kind is LinkKind.HTTP and occ.url else None
            occurrence_rows.append(
                {
                    "article_id": article_id,
                    "link_id": link_id,
                    "position": occ.position,
                    "href": occ.href,
                    "anchor_text": occ.anchor_text,
                    "line": occ.line,
                    "kind": occ.kind.value,
                    "fragment": occ.fragment,
                    "active": True,
                    "first_seen_at": now,
                    "retired_at": None,
                }
            )
    for part in _chunks(occurrence_rows, 5000):
        session.execute(sa.insert(OCCURRENCES), list(part))
    return ids


def _ensure_links_bulk(
    session: Session, earliest: Mapping[str, date | None], now: datetime
) -> dict[str, int]:
    """Link ids of every URL, inserting the missing ones; existing ones get an earlier
    citation date when these articles are older, and are revived when retired."""
    if not earliest:
        return {}
    by_hash = {repo.url_hash(u): u for u in earliest}
    found: dict[str, tuple[int, bool, date | None]] = {}
    lk = LINKS.c
    dialect = _dialect(session)
    for part in _chunks(list(by_hash)):
        query = first_per_key(
            dialect, lk.url_hash, part, lk.id, lk.url_hash, lk.retired, lk.citation_date
        )
        for link_id, h, retired, cited in session.execute(query):
            found[h] = (link_id, bool(retired), cited)
    missing = [h for h in by_hash if h not in found]
    created = set(missing)
    today = now.astimezone(UTC).date()
    if missing:
        rows = [
            {
                "url": by_hash[h],
                "url_hash": h,
                "host": repo.url_host(by_hash[h]),
                "first_seen_at": now,
                "citation_date": earliest[by_hash[h]] or today,
                "health": Health.UNCHECKED.value,
                "dead_streak": 0,
                "next_check_at": now,
                "archive_next_at": now,
                "retired": False,
                "ignored": False,
            }
            for h in missing
        ]
        if _dialect(session) == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as upsert
        else:
            from sqlalchemy.dialects.sqlite import insert as upsert  # type: ignore[assignment]
        for rows_part in _chunks(rows, 2000):
            session.execute(
                upsert(LINKS).on_conflict_do_nothing(index_elements=["url_hash"]), list(rows_part)
            )
        for hash_part in _chunks(missing):
            query = first_per_key(dialect, lk.url_hash, hash_part, lk.id, lk.url_hash)
            for link_id, h in session.execute(query):
                found[h] = (link_id, False, None)
    revived = sorted(i for i, retired, _ in found.values() if retired)
    for id_part in _chunks(revived):
        session.execute(
            sa.update(LINKS).where(lk.id.in_(id_part)).values(retired=False, next_check_at=now)
        )
    earlier = [
        {"_id": link_id, "citation_date": earliest[by_hash[h]]}
        for h, (link_id, _, cited) in found.items()
        if h not in created
        and earliest[by_hash[h]] is not None
        and (cited is None or earliest[by_hash[h]] < cited)  # type: ignore[operator]
    ]
    if earlier:
        session.execute(
            sa.update(LINKS)
            .where(lk.id == sa.bindparam("_id"))
            .values(citation_date=sa.bindparam("citation_date")),
            earlier,
        )
    return {by_hash[h]: info[0] for h, info in found.items()}
