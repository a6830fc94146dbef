"""The queries of every stage: the only place (with db.py) that writes SQL.

Every function works inside the caller's session and transaction and never commits: the
caller commits once (`with db.session() as s: ...`). Timestamps must be aware datetimes; they
are stored as naive UTC and come back as aware UTC.

Bulk paths (sync_article, record_checks) use set-based statements, a fixed number of queries
per call whatever the number of links; LinkRow/OccurrenceRow objects already loaded in the
same session before `sync_article` are not refreshed by it (load them afterwards).
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from types import EllipsisType
from typing import Any, TypeVar
from urllib.parse import urlsplit

from sqlalchemy import (
    JSON,
    Date,
    Table,
    Text,
    bindparam,
    func,
    insert,
    literal_column,
    true,
    update,
)
from sqlalchemy import cast as sa_cast
from sqlalchemy import column as sa_column
from sqlalchemy import select as sa_select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Dialect, Result
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key
from sqlalchemy.sql.dml import Insert
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import Select
from sqlmodel import Session, col, select

from service.errors import StoreError
from service.model import Article, CheckResult, Health, Hop, LinkKind, LinkState, Outcome
from service.monitor.health import DeathRule, step
from service.store.keyed import KEYS, first_per_key, first_per_key_query, per_key, wanted_keys
from service.store.located import get_by_id_or_location, list_rows
from service.store.tables import ArticleRow, CheckRow, LinkRow, OccurrenceRow, TransitionRow
from service.store.types import UTCDateTime, utc_text

CHUNK = 500  # keys per IN (...) list or array: far below SQLite's and PostgreSQL's parameter limits

_T = TypeVar("_T")
_M = TypeVar("_M", CheckRow, TransitionRow)

ARTICLES: Table = ArticleRow.__table__  # type: ignore[attr-defined]
LINKS: Table = LinkRow.__table__  # type: ignore[attr-defined]
OCCURRENCES: Table = OccurrenceRow.__table__  # type: ignore[attr-defined]
CHECKS: Table = CheckRow.__table__  # type: ignore[attr-defined]
TRANSITIONS: Table = TransitionRow.__table__  # type: ignore[attr-defined]


# -- small pure helpers ------------------------------------------------------------------------


def url_hash(url: str) -> str:
    """The key of a link row: sha256 hex of its normalised URL."""
    return hashlib.sha256(url.encode("utf-8")).hexdigest()


def url_host(url: str) -> str:
    """The host of a URL, lower-case ("" when it has none)."""
    origin = _ORIGIN.match(url)
    return _host(url if origin is None else origin.group())


# The scheme and authority of an http(s) URL: what urlsplit takes its host from (the rest
# cannot change it), unless a tab or line break, which urlsplit deletes first, is among them.
_ORIGIN = re.compile(r"https?://[^/?#\t\r\n]*(?=[/?#]|\Z)")


@functools.lru_cache(maxsize=4096)  # an article cites the same few hosts again and again
def _host(url: str) -> str:
    try:
        return (urlsplit(url).hostname or "")[:255]
    except ValueError:
        return ""


def link_state(link: LinkRow) -> LinkState:
    """The stored health of a link row as the state machine's input."""
    return LinkState(
        health=Health(link.health),
        since=link.health_since,
        dead_streak=link.dead_streak,
        dead_streak_started=link.dead_streak_started,
    )


def hops_to_json(hops: Iterable[Hop]) -> str:
    return json.dumps([{"url": h.url, "status": h.status, "location": h.location} for h in hops])


def hops_from_json(text: str | None) -> tuple[Hop, ...]:
    """The redirect chain of a CheckRow (its `redirect_chain` column) as Hop objects."""
    items: list[dict[str, Any]] = json.loads(text) if text else []
    return tuple(
        Hop(url=i["url"], status=int(i["status"]), location=i.get("location")) for i in items
    )


def warnings_from_json(text: str | None) -> tuple[str, ...]:
    """The warnings of a CheckRow (its `warnings` column)."""
    return tuple(json.loads(text)) if text else ()


def _aware(value: datetime, name: str) -> datetime:
    if value.tzinfo is None:
        raise ValueError(f"{name} must be an aware datetime (UTC), got naive {value!r}")
    return value


def _chunks(items: Sequence[_T], size: int = CHUNK) -> Iterator[Sequence[_T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


# -- articles ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _LinkInfo:
    id: int
    retired: bool
    created: bool


def sync_article(
    session: Session,
    article: Article,
    now: datetime,
    *,
    tags: Sequence[str] | None = None,
    interval_hours: float | EllipsisType | None = ...,
) -> ArticleRow:
    """Make the database match `article` as just read: its row, its links, its occurrences.

    - the article row is upserted by location (title, published, source_url from its meta);
      `tags` and `interval_hours` are replaced when given, kept when omitted
      (`interval_hours=None` clears the override);
    - one link row per distinct http URL, shared with every other article citing it; a new
      link is due at once (next_check_at = archive_next_at = now); its citation_date is the
      earliest published date of the articles that cite (or ever cited) it, else the day it
      was first seen;
    - occurrences unchanged by (position, href, anchor_text) keep their row; new ones are
      added; vanished ones are marked inactive (retired_at = now), never deleted;
    - links no longer cited by any active occurrence are retired; a retired link cited again
      is un-retired and due at once.
    """
    _aware(now, "now")
    meta = article.meta
    row = session.exec(select(ArticleRow).where(ArticleRow.location == article.location)).first()
    published_changed = False
    if row is None:
        row = ArticleRow(location=article.location, added_at=now)
        session.add(row)
    else:
        published_changed = row.published != meta.published
    row.format = article.format
    row.title = meta.title
    row.published = meta.published
    row.source_url = meta.source_url
    if tags is not None:
        row.tags = ",".join(dict.fromkeys(t.strip() for t in tags if t.strip()))
    if not isinstance(interval_hours, EllipsisType):
        row.interval_hours = interval_hours
    row.fetched_at = now
    row.active = True
    session.flush()
    assert row.id is not None
    article_id = row.id

    urls = list(
        dict.fromkeys(o.url for o in article.occurrences if o.kind is LinkKind.HTTP and o.url)
    )
    links = _ensure_links(session, urls, now, meta.published)

    # Occurrences: match the active rows by (position, href, anchor_text).
    existing: dict[tuple[int, str, str], list[Any]] = {}
    o = OCCURRENCES.c
    for occ_row in session.execute(
        sa_select(
            o.id, o.position, o.href, o.anchor_text, o.link_id, o.line, o.kind, o.fragment
        ).where(o.article_id == article_id, o.active.is_(True))
    ):
        existing.setdefault((occ_row.position, occ_row.href, occ_row.anchor_text), []).append(
            occ_row
        )

    new_rows: list[dict[str, Any]] = []
    changed_rows: list[dict[str, Any]] = []
    for occ in article.occurrences:
        info = links.get(occ.url) if occ.kind is LinkKind.HTTP and occ.url else None
        link_id = info.id if info else None
        values = {
            "link_id": link_id,
            "line": occ.line,
            "kind": occ.kind.value,
            "fragment": occ.fragment,
        }
        bucket = existing.get((occ.position, occ.href, occ.anchor_text))
        if bucket:
            old = bucket.pop(0)
            if (old.link_id, old.line, old.kind, old.fragment) != tuple(values.values()):
                changed_rows.append({"_id": old.id, **values})
            continue
        new_rows.append(
            {
                "article_id": article_id,
                "position": occ.position,
                "href": occ.href,
                "anchor_text": occ.anchor_text,
                "active": True,
                "first_seen_at": now,
                "retired_at": None,
                **values,
            }
        )
    vanished = [r for bucket in existing.values() for r in bucket]

    if new_rows:
        _insert_many(session, OCCURRENCES, new_rows)
    if changed_rows:
        c = OCCURRENCES.c
        session.exec(
            update(OCCURRENCES)
            .where(c.id == bindparam("_id"))
            .values(
                link_id=bindparam("link_id"),
                line=bindparam("line"),
                kind=bindparam("kind"),
                fragment=bindparam("fragment"),
            ),
            params=changed_rows,
        )
    if vanished:
        _retire_occurrences(session, [r.id for r in vanished], now)

    cited = {info.id for info in links.values()}
    revived = sorted(info.id for info in links.values() if info.retired)
    for ids in _chunks(revived):
        session.exec(
            update(LINKS).where(LINKS.c.id.in_(ids)).values(retired=False, next_check_at=now)
        )
    orphans = {r.link_id for r in vanished if r.link_id is not None} - cited
    _retire_orphan_links(session, orphans)

    # Citation dates: for links this article now cites anew (or all of them when its date changed).
    if published_changed:
        recheck = {i.id for i in links.values() if not i.created}
    else:
        newly = {r["link_id"] for r in new_rows if r["link_id"] is not None}
        newly |= {r["link_id"] for r in changed_rows if r["link_id"] is not None}
        recheck = {i.id for i in links.values() if not i.created and i.id in newly}
    _refresh_citation_dates(session, recheck)
    return row


def _ensure_links(
    session: Session, urls: Sequence[str], now: datetime, published: date | None
) -> dict[str, _LinkInfo]:
    """The link of every URL, inserting the missing ones (concurrent inserts are tolerated)."""
    if not urls:
        return {}
    by_hash = {url_hash(u): u for u in urls}
    found = _links_by_hash(session, list(by_hash))
    missing = [h for h in by_hash if h not in found]
    created: set[str] = set()
    if missing:
        rows = [
            {
                "url": by_hash[h],
                "url_hash": h,
                "host": url_host(by_hash[h]),
                "first_seen_at": now,
                "citation_date": published or now.astimezone(UTC).date(),
                "health": Health.UNCHECKED.value,
                "dead_streak": 0,
                "next_check_at": now,
                "archive_next_at": now,
                "retired": False,
                "ignored": False,
            }
            for h in missing
        ]
        if session.get_bind().dialect.insert_returning:
            inserted = _insert_returning(session, LINKS, rows, "url_hash", unless_exists="url_hash")
            fresh = {h: (link_id, False) for h, link_id in inserted.items()}
            # inserted meanwhile by another writer (their row won): look them up
            fresh.update(_links_by_hash(session, [h for h in missing if h not in fresh]))
        else:
            session.exec(
                sqlite_insert(LINKS).on_conflict_do_nothing(index_elements=["url_hash"]),
                params=rows,
            )
            fresh = _links_by_hash(session, missing)
        created = set(fresh)
        found.update(fresh)
    return {
        by_hash[h]: _LinkInfo(id=link_id, retired=retired, created=h in created)
        for h, (link_id, retired) in found.items()
    }


def _links_by_hash(session: Session, hashes: Sequence[str]) -> dict[str, tuple[int, bool]]:
    """{url_hash: (id, retired)} of the links among `hashes` (keyed.py: one index lookup each)."""
    out: dict[str, tuple[int, bool]] = {}
    lk = LINKS.c
    query = first_per_key_query(_dialect(session), lk.url_hash, (lk.id, lk.url_hash, lk.retired))
    for part in _chunks(hashes):
        for link_id, h, retired in session.execute(query, {KEYS: list(part)}):
            out[h] = (link_id, retired)
    return out


def _retire_occurrences(session: Session, ids: Sequence[int], now: datetime) -> None:
    for part in _chunks(sorted(ids)):
        session.exec(
            update(OCCURRENCES)
            .where(OCCURRENCES.c.id.in_(part))
            .values(active=False, retired_at=now)
        )


def _retire_orphan_links(session: Session, candidates: Iterable[int]) -> None:
    """Retire the links among `candidates` that no active occurrence cites any more."""
    ids = sorted(candidates)
    if not ids:
        return
    still: set[int] = set()
    o = OCCURRENCES.c
    dialect = _dialect(session)
    for part in _chunks(ids):
        query = first_per_key(dialect, o.link_id, part, o.link_id, where=[o.active.is_(True)])
        still.update(session.scalars(query.distinct()))
    orphans = [i for i in ids if i not in still]
    for part in _chunks(orphans):
        session.exec(update(LINKS).where(LINKS.c.id.in_(part)).values(retired=True))


def _refresh_citation_dates(session: Session, link_ids: Iterable[int]) -> None:
    """citation_date = earliest published date of an article citing the link, else first seen."""
    ids = sorted(link_ids)
    changes: list[dict[str, Any]] = []
    lk = LINKS.c
    dialect = _dialect(session)
    for part in _chunks(ids):
        earliest = _earliest_published(session, part)
        for link_id, current, first_seen in session.execute(
            first_per_key(dialect, lk.id, part, lk.id, lk.citation_date, lk.first_seen_at)
        ):
            wanted = earliest.get(link_id) or (first_seen.date() if first_seen else current)
            if wanted != current:
                changes.append({"_id": link_id, "citation_date": wanted})
    if changes:
        session.exec(
            update(LINKS)
            .where(LINKS.c.id == bindparam("_id"))
            .values(citation_date=bindparam("citation_date")),
            params=changes,
        )


def _earliest_published(session: Session, link_ids: Sequence[int]) -> dict[int, date | None]:
    """{link id: earliest published date of an article citing it} (None: none has a date)."""
    o, a = OCCURRENCES.c, ARTICLES.c
    if _dialect(session) == "postgresql":  # per link: its occurrences by index (keyed.py)

        def earliest(link_id: ColumnElement[Any]) -> Select[Any]:
            published = sa_select(a.published).where(a.id == o.article_id).scalar_subquery()
            return sa_select(
                link_id.label("link_id"), func.min(published).label("published")
            ).where(o.link_id == link_id)

        query = per_key(link_ids, LINKS.c.id.type, earliest)
    else:
        query = (
            sa_select(o.link_id, func.min(a.published))
            .join_from(OCCURRENCES, ARTICLES, a.id == o.article_id)
            .where(o.link_id.in_(link_ids))
            .group_by(o.link_id)
        )
    return {link_id: published for link_id, published in session.execute(query)}


def _insert_ids(session: Session, table: Table, rows: list[dict[str, Any]]) -> list[int]:
    """Insert rows (each with a distinct `link_id`) in one batch; their new ids, in order.

    Both databases return (link_id, id) of each new row (INSERT ... RETURNING, see
    `_insert_returning`). A SQLite older than 3.35 has no RETURNING: it inserts with
    executemany, then reads max(id) per link_id: the writer holds the database's write lock
    from its first write to its commit, so the newest rows are its own.
    """
    if not rows:
        return []
    if session.get_bind().dialect.insert_returning:
        new_ids = _insert_returning(session, table, rows, "link_id")
        return [new_ids[r["link_id"]] for r in rows]
    session.execute(insert(table), rows)
    newest: dict[int, int] = {}
    keys = sorted({r["link_id"] for r in rows})
    for part in _chunks(keys):
        query = (
            sa_select(table.c.link_id, func.max(table.c.id))
            .where(table.c.link_id.in_(part))
            .group_by(table.c.link_id)
        )
        newest.update((link_id, row_id) for link_id, row_id in session.execute(query))
    return [newest[r["link_id"]] for r in rows]


def _insert_returning(
    session: Session,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    key: str,
    *,
    unless_exists: str | None = None,
) -> dict[Any, int]:
    """Insert `rows` (all with the same columns, each with a distinct value of column `key`):
    {key value: new id}. With `unless_exists` (a unique column), a row whose value is already
    stored is not inserted and absent from the answer (ON CONFLICT DO NOTHING).

    Needs INSERT ... RETURNING (PostgreSQL; SQLite 3.35+). The rows come back in no promised
    order, hence the key. PostgreSQL gets the rows as one JSON document (`_insert_statement`);
    SQLite as executemany parameters, which SQLAlchemy sends as multi-row VALUES statements.
    """
    if not rows:
        return {}
    return {k: row_id for k, row_id in _insert_many(session, table, rows, key, unless_exists)}


def _insert_many(
    session: Session,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    returning: str | None = None,
    unless_exists: str | None = None,
) -> Result[Any, int]:
    """Insert `rows` (all with the same columns; at least one) by `_insert_statement`: on
    PostgreSQL as one JSON document, on SQLite by executemany. Its result: (returning, id) per
    new row when `returning` names a column."""
    columns = tuple(rows[0])
    dialect = session.get_bind().dialect
    stmt = _insert_statement(dialect.name, table, columns, returning, unless_exists)
    if dialect.name == "postgresql":
        return session.execute(stmt, {"rows": _json_rows(dialect, table, columns, rows)})
    return session.execute(stmt, list(rows))


@functools.cache
def _insert_statement(
    dialect: str,
    table: Table,
    columns: tuple[str, ...],
    returning: str | None,
    unless_exists: str | None,
) -> Insert:
    """The INSERT of `_insert_returning` and `_insert_many`, built once.

    PostgreSQL: `INSERT INTO t (c1, ...) SELECT c1, ... FROM json_to_recordset(:rows) AS
    given(c1 type1, ...)`, the rows as one JSON parameter (`_json_rows`), each value read by
    its column's own type (a string too long for its VARCHAR(n) is refused, as when bound).
    The same short text whatever the number of rows: psycopg parses it once and PostgreSQL
    prepares it once, where executemany sends SQLAlchemy's multi-row VALUES statements
    (thousands of parameters, new text for each batch size, which psycopg parses every time).
    It reads no table, so it has no plan to go wrong.
    """
    stmt: Insert
    if dialect == "postgresql":
        document = sa_cast(bindparam("rows", type_=Text), JSON)
        given = (
            func.json_to_recordset(document)
            .table_valued(*(sa_column(c, table.c[c].type) for c in columns))
            .render_derived(name="given", with_types=True)
        )
        pg_stmt = pg_insert(table).from_select(list(columns), sa_select(*given.c))
        if unless_exists is not None:
            pg_stmt = pg_stmt.on_conflict_do_nothing(index_elements=[unless_exists])
        stmt = pg_stmt
    else:
        sqlite_stmt = sqlite_insert(table)
        if unless_exists is not None:
            sqlite_stmt = sqlite_stmt.on_conflict_do_nothing(index_elements=[unless_exists])
        stmt = sqlite_stmt
    if returning is not None:
        stmt = stmt.returning(table.c[returning], table.c.id)
    return stmt


def _json_rows(
    dialect: Dialect, table: Table, columns: tuple[str, ...], rows: Sequence[Mapping[str, Any]]
) -> str:
    """The rows as a JSON array of objects for `json_to_recordset` (`_insert_statement`): aware
    datetimes as their naive UTC text (`utc_text`, the value `UTCDateTime` binds), dates as
    ISO text, other values through their column type's bind processing (as a bound parameter
    would be). PostgreSQL reads each back exactly.

    For the tables written this way (links, occurrences, checks, transitions): no float column,
    whose NaN or infinity JSON cannot carry.
    """
    converters: list[tuple[str, Callable[[Any], Any]]] = []
    for c in columns:
        kind = table.c[c].type
        convert: Callable[[Any], Any] | None
        if isinstance(kind, UTCDateTime):
            convert = utc_text()
        elif isinstance(kind, Date):
            convert = _date_text
        else:
            convert = kind._cached_bind_processor(dialect)
        if convert is not None:
            converters.append((c, convert))
    values = [dict(r) for r in rows]
    for c, convert in converters:
        for row in values:
            row[c] = convert(row[c])
    return json.dumps(values, ensure_ascii=False, separators=(",", ":"))


def _date_text(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def _as_objects(
    session: Session, model: type[_M], rows: list[dict[str, Any]], new_ids: list[int]
) -> list[_M]:
    """Rows just inserted, as persistent objects of the session (no second INSERT)."""
    objects: list[_M] = []
    for row, row_id in zip(rows, new_ids, strict=True):
        obj = model(**row, id=row_id)
        make_transient_to_detached(obj)  # known to be in the database: no second INSERT
        session.add(obj)
        objects.append(obj)
    return objects


def get_article(session: Session, id_or_location: int | str) -> ArticleRow | None:
    """An article by id, or by location (a string of digits that is no location is an id)."""
    return get_by_id_or_location(session, ArticleRow, id_or_location)


def list_articles(session: Session, *, include_inactive: bool = False) -> list[ArticleRow]:
    """Articles under watch (removed ones too with include_inactive), in the order added."""
    return list_rows(session, ArticleRow, include_inactive=include_inactive)


def remove_article(
    session: Session, id_or_location: int | str, now: datetime | None = None
) -> ArticleRow | None:
    """Stop watching an article: deactivate it and its occurrences, retire links nobody cites.

    History (checks, transitions, the rows themselves) is kept. None when there is no such article.
    """
    row = get_article(session, id_or_location)
    if row is None:
        return None
    now = _aware(now, "now") if now is not None else datetime.now(UTC)
    row.active = False
    session.flush()
    o = OCCURRENCES.c
    active = list(
        session.execute(
            sa_select(o.id, o.link_id).where(o.article_id == row.id, o.active.is_(True))
        )
    )
    _retire_occurrences(session, [occ_id for occ_id, _ in active], now)
    _retire_orphan_links(session, {link_id for _, link_id in active if link_id is not None})
    return row


def article_occurrences(
    session: Session, article_id: int, *, include_inactive: bool = False
) -> list[tuple[OccurrenceRow, LinkRow | None]]:
    """The article's (active) occurrences in position order, each with its link or None."""
    query = (
        select(OccurrenceRow, LinkRow)
        .join(LinkRow, col(OccurrenceRow.link_id) == col(LinkRow.id), isouter=True)
        .where(OccurrenceRow.article_id == article_id)
    )
    if not include_inactive:
        query = query.where(col(OccurrenceRow.active).is_(True))
    query = query.order_by(col(OccurrenceRow.position), col(OccurrenceRow.id))
    return [(occ, link) for occ, link in session.exec(query)]


# -- links and checks --------------------------------------------------------------------------


def links_for_urls(session: Session, urls: Iterable[str]) -> dict[str, LinkRow]:
    """The link rows of the given normalised URLs (URLs without a row are absent)."""
    by_hash = {url_hash(u): u for u in urls}
    out: dict[str, LinkRow] = {}
    for part in _chunks(list(by_hash)):
        for link in session.exec(select(LinkRow).where(col(LinkRow.url_hash).in_(part))):
            out[by_hash[link.url_hash]] = link
    return out


def link_ids_for_urls(session: Session, urls: Iterable[str]) -> dict[str, int]:
    """The link ids of the given normalised URLs (URLs without a row are absent); no ORM objects."""
    by_hash = {url_hash(u): u for u in urls}
    return {
        by_hash[h]: link_id for h, (link_id, _) in _links_by_hash(session, list(by_hash)).items()
    }


def get_link(session: Session, link_id: int) -> LinkRow | None:
    return session.get(LinkRow, link_id)


def link_history(session: Session, link_id: int, since: datetime | None = None) -> list[CheckRow]:
    """Every check of a link (at or after `since`), oldest first."""
    query = select(CheckRow).where(CheckRow.link_id == link_id)
    if since is not None:
        query = query.where(col(CheckRow.checked_at) >= _aware(since, "since"))
    return list(session.exec(query.order_by(col(CheckRow.checked_at), col(CheckRow.id))))


def record_check(
    session: Session,
    link_id: int,
    result: CheckResult,
    rule: DeathRule,
    *,
    worker: str | None = None,
    next_check_at: datetime | None = None,
) -> tuple[CheckRow, TransitionRow | None]:
    """Record one check of a link: its history row, the new health, and a transition if it changed.

    See `record_checks`; nothing is committed (the caller commits once).
    """
    return record_checks(
        session, {link_id: result}, rule, worker=worker, next_check_at=next_check_at
    )[link_id]


_LOCKED_COLUMNS = (
    LINKS.c.id,
    LINKS.c.health,
    LINKS.c.health_since,
    LINKS.c.dead_streak,
    LINKS.c.dead_streak_started,
    LINKS.c.lease_owner,
)


def _lock_links(session: Session, ids: Sequence[int]) -> dict[int, Any]:
    """{id: row of _LOCKED_COLUMNS} of the links among `ids` (sorted), locked FOR UPDATE on
    PostgreSQL one after the other in id order (SQLite: the writer locks the whole database)."""
    links: dict[int, Any] = {}
    query = first_per_key_query(_dialect(session), LINKS.c.id, _LOCKED_COLUMNS, for_update=True)
    for part in _chunks(ids):
        for row in session.execute(query, {KEYS: list(part)}):
            links[row.id] = row
    return links


def _lock_links_by_hash(session: Session, hashes: Sequence[str]) -> dict[str, Any]:
    """{url_hash: row of _LOCKED_COLUMNS} of the links among `hashes`, found and locked as by
    `_lock_links` (in id order) with one statement per CHUNK hashes (PostgreSQL: one in all)."""
    dialect = _dialect(session)
    if dialect == "postgresql":
        return {row.url_hash: row for row in session.execute(_pg_lock_by_hash(), {KEYS: hashes})}
    query = first_per_key_query(
        dialect, LINKS.c.url_hash, (*_LOCKED_COLUMNS, LINKS.c.url_hash), for_update=True
    )
    return {
        row.url_hash: row
        for part in _chunks(hashes)
        for row in session.execute(query, {KEYS: list(part)})
    }


@functools.cache
def _pg_lock_by_hash() -> Select[Any]:
    """PostgreSQL: the links of the url_hash array KEYS, locked FOR UPDATE in id order.

        SELECT locked.* FROM (SELECT found.id FROM unnest(:keys) AS wanted(value)
                              JOIN LATERAL (SELECT id FROM links WHERE url_hash = wanted.value
                                            LIMIT 1) AS found ON true
                              ORDER BY found.id) AS ids
        JOIN LATERAL (SELECT ... FROM links WHERE links.id = ids.id LIMIT 1 FOR UPDATE)
             AS locked ON true

    Every step is one index lookup per key whatever the plan (keyed.py). A subquery with an
    ORDER BY is never merged into its parent, and the lateral one runs once per row of it, in
    its order: the rows are locked one after the other in id order, as `_lock_links` does.
    """
    lk = LINKS.c
    wanted = wanted_keys(None, lk.url_hash.type)
    found = (
        sa_select(lk.id)
        .where(lk.url_hash == wanted.c.value)
        .limit(literal_column("1"))
        .lateral("found")
    )
    ids = (
        sa_select(found.c.id)
        .select_from(wanted)
        .join(found, true())
        .order_by(found.c.id)
        .subquery("ids")
    )
    locked = (
        sa_select(*_LOCKED_COLUMNS, lk.url_hash)
        .where(lk.id == ids.c.id)
        .limit(literal_column("1"))
        .with_for_update()
        .lateral("locked")
    )
    return sa_select(*locked.c).select_from(ids).join(locked, true())


@functools.cache
def _link_update(columns: tuple[str, ...]) -> Any:
    """`UPDATE links SET column = :column, ... WHERE id = :_id` (built once per column set)."""
    return (
        update(LINKS)
        .where(LINKS.c.id == bindparam("_id"))
        .values({c: bindparam(c) for c in columns})
    )


def _record_checks(
    session: Session,
    results: Mapping[int, CheckResult],
    rule: DeathRule,
    *,
    worker: str | None = None,
    next_check_at: datetime | Mapping[int, datetime] | None = None,
    locked: Mapping[int, Any] | None = None,
) -> _Recorded:
    """Record checks of several links (one result per link id) in the caller's transaction.

    For each link: a CheckRow (redirect chain and warnings as JSON), the health state machine
    applied to its stored state (health, health_since, dead_streak, dead_streak_started), its
    last_* fields, its next_check_at when given (one datetime for all, or per link id), its
    lease released when held by `worker`, and a TransitionRow when its health changed.
    An `offline` outcome is recorded as history and changes neither health nor last_* fields.
    The links are locked (FOR UPDATE on PostgreSQL) in id order, so concurrent recorders of the
    same link serialise instead of losing an update (`locked`: their rows, already locked so
    by the caller, see `_lock_links`).
    """
    ids = sorted(results)
    for link_id in ids:
        _aware(results[link_id].checked_at, "checked_at")
    links = _lock_links(session, ids) if locked is None else locked
    missing = [i for i in ids if i not in links]
    if missing:
        raise StoreError(
            f"cannot record checks: no link with id {', '.join(map(str, missing[:5]))}"
        )

    check_rows: list[dict[str, Any]] = []
    moves: dict[int, tuple[Health, Health]] = {}
    # The link updates, grouped by the columns they set (one executemany per group), written
    # with Core statements: no ORM objects loaded, flushed and compared one by one.
    updates: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for link_id in ids:
        result = results[link_id]
        link = links[link_id]
        check_rows.append(
            {
                "link_id": link_id,
                "checked_at": result.checked_at,
                "outcome": result.outcome.value,
                "http_status": result.http_status,
                "final_url": result.final_url,
                "redirect_chain": hops_to_json(result.hops),
                "latency_ms": result.latency_ms,
                "error": result.error,
                "warnings": json.dumps(list(result.warnings)) if result.warnings else None,
                "worker": worker,
            }
        )
        values: dict[str, Any] = {}
        if result.outcome is not Outcome.OFFLINE:
            before = LinkState(
                health=Health(link.health),
                since=link.health_since,
                dead_streak=link.dead_streak,
                dead_streak_started=link.dead_streak_started,
            )
            after = step(before, result.outcome, result.checked_at, rule)
            if after != before:
                values["health"] = after.health.value
                values["health_since"] = after.since
                values["dead_streak"] = after.dead_streak
                values["dead_streak_started"] = after.dead_streak_started
            if after.health is not before.health:
                moves[link_id] = (before.health, after.health)
            values["last_checked_at"] = result.checked_at
            values["last_outcome"] = result.outcome.value
            values["last_status"] = result.http_status
            values["last_final_url"] = result.final_url
        when = next_check_at.get(link_id) if isinstance(next_check_at, Mapping) else next_check_at
        if when is not None:
            values["next_check_at"] = _aware(when, "next_check_at")
        if worker is not None and link.lease_owner == worker:
            values["lease_owner"] = None
            values["lease_expires_at"] = None
        if values:
            updates.setdefault(tuple(values), []).append({"_id": link_id, **values})
    for columns, params in updates.items():
        session.execute(_link_update(columns), params)
    _sync_loaded_links(session, updates)

    check_ids = dict(zip(ids, _insert_ids(session, CHECKS, check_rows), strict=True))
    transition_rows = [
        {
            "link_id": link_id,
            "check_id": check_ids[link_id],
            "at": results[link_id].checked_at,
            "from_health": old.value,
            "to_health": new.value,
            "outcome": results[link_id].outcome.value,
        }
        for link_id, (old, new) in moves.items()
    ]
    transition_ids = _insert_ids(session, TRANSITIONS, transition_rows)
    return _Recorded(ids, check_rows, check_ids, transition_rows, transition_ids)


def _sync_loaded_links(
    session: Session, updates: Mapping[tuple[str, ...], list[dict[str, Any]]]
) -> None:
    """Give LinkRow objects already loaded in `session` the values just written (Core UPDATEs
    bypass the identity map), as committed state: callers holding a link see its new health."""
    if not session.identity_map:
        return
    for params in updates.values():
        for values in params:
            obj = session.identity_map.get(identity_key(LinkRow, values["_id"]))
            if obj is None:
                continue
            for column, value in values.items():
                if column != "_id":
                    set_committed_value(obj, column, value)


@dataclass(frozen=True, slots=True)
class _Recorded:
    ids: list[int]
    check_rows: list[dict[str, Any]]
    check_ids: dict[int, int]
    transition_rows: list[dict[str, Any]]
    transition_ids: list[int]


def record_checks(
    session: Session,
    results: Mapping[int, CheckResult],
    rule: DeathRule,
    *,
    worker: str | None = None,
    next_check_at: datetime | Mapping[int, datetime] | None = None,
) -> dict[int, tuple[CheckRow, TransitionRow | None]]:
    """Record checks of several links (see `_record_checks`); {link_id: (check, transition)}.

    The CheckRow and TransitionRow objects are persistent in `session`. Callers that need
    no objects use `record_checks_bulk` (the same writes, without building them).
    """
    done = _record_checks(session, results, rule, worker=worker, next_check_at=next_check_at)
    checks = _as_objects(session, CheckRow, done.check_rows, [done.check_ids[i] for i in done.ids])
    transitions = _as_objects(session, TransitionRow, done.transition_rows, done.transition_ids)
    by_link = {t.link_id: t for t in transitions}
    return {
        link_id: (check, by_link.get(link_id))
        for link_id, check in zip(done.ids, checks, strict=True)
    }


@dataclass(frozen=True, slots=True)
class RecordedCheck:
    """What `record_checks_bulk` wrote for one link: its check row and health change."""

    check_id: int
    transition_id: int | None = None
    from_health: Health | None = None  # set with a transition
    to_health: Health | None = None


def record_checks_bulk(
    session: Session,
    results: Mapping[int, CheckResult],
    rule: DeathRule,
    *,
    worker: str | None = None,
    next_check_at: datetime | Mapping[int, datetime] | None = None,
) -> dict[int, RecordedCheck]:
    """`record_checks` without ORM objects for the new rows (cheaper for large batches)."""
    done = _record_checks(session, results, rule, worker=worker, next_check_at=next_check_at)
    return _recorded_checks(done)


def record_checks_by_url(
    session: Session, results: Mapping[str, CheckResult], rule: DeathRule
) -> dict[str, RecordedCheck]:
    """`record_checks_bulk` of results keyed by normalised URL: URLs without a link row are
    skipped. Each link is found and locked by one statement (`_lock_links_by_hash`)."""
    by_hash = {url_hash(u): u for u in results}
    locked = _lock_links_by_hash(session, list(by_hash))
    url_of = {row.id: by_hash[h] for h, row in locked.items()}
    done = _record_checks(
        session,
        {link_id: results[url] for link_id, url in url_of.items()},
        rule,
        locked={row.id: row for row in locked.values()},
    )
    return {url_of[link_id]: r for link_id, r in _recorded_checks(done).items()}


def _recorded_checks(done: _Recorded) -> dict[int, RecordedCheck]:
    out = {link_id: RecordedCheck(done.check_ids[link_id]) for link_id in done.ids}
    for row, row_id in zip(done.transition_rows, done.transition_ids, strict=True):
        link_id = row["link_id"]
        out[link_id] = RecordedCheck(
            out[link_id].check_id, row_id, Health(row["from_health"]), Health(row["to_health"])
        )
    return out
