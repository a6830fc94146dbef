"""Scale helpers, each run as its own process by run.py (settings from the environment).

    python benchmarks/scale.py populate DIR --links N --hosts H --port P [--per-article 1000]
        writes N links (one third 404, one third redirects, one third 200 on the farm, spread
        over H pinned host names) into HTML articles under DIR and syncs them into the
        database through service.store.repo.sync_article (the path `linkwatch add` takes)
    python benchmarks/scale.py bookkeeping --checks N
        the daemon's bookkeeping, in process: Daemon._claim (lease a batch of due links) and
        Daemon._record_batch_sync (lock, health state machine, schedule, CheckRows,
        transitions; one transaction per `record_batch` results, as the daemon flushes them)
        for N links; the checks themselves run against the farm and are not timed
    python benchmarks/scale.py history --days D
        a bulk INSERT ... SELECT of one check per link per day for the last D days (what a
        year of daily checks leaves in `checks`, within the default retention of 400 days)
    python benchmarks/scale.py due
        marks every link due now (next_check_at = NULL) and frees its lease

Each prints one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from service.articles.sources import read_article_file
from service.checks.checker import Checker
from service.monitor.daemon import Daemon
from service.settings import load_settings
from service.store import repo
from service.store.db import open_database

KINDS = ("x", "r", "p")  # 404, redirect to a 200 page, 200


def host_name(i: int) -> str:
    return f"h{i}.bench.test"


def url_for(i: int, hosts: int, port: int) -> str:
    return f"http://{host_name(i % hosts)}:{port}/{KINDS[i % 3]}/n{i}"


def populate(work: Path, links: int, hosts: int, port: int, per_article: int) -> dict[str, Any]:
    settings = load_settings()
    db = open_database(settings.database.url)
    work.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    synced = 0
    try:
        for start in range(0, links, per_article):
            path = work / f"article-{start // per_article:05d}.html"
            body = "".join(
                f'<li><a href="{url_for(i, hosts, port)}">link {i}</a></li>\n'
                for i in range(start, min(links, start + per_article))
            )
            path.write_text(
                f"<html><head><title>Bench {start}</title></head><body><ul>\n"
                f"{body}</ul></body></html>\n"
            )
            article = read_article_file(path)
            with db.session() as session:
                repo.sync_article(session, article, datetime.now(UTC))
                session.commit()
            synced += len(article.occurrences)
    finally:
        db.dispose()
    return {"links": synced, "seconds": round(time.perf_counter() - started, 2)}


async def _bookkeeping(checks: int) -> dict[str, Any]:
    settings = load_settings()
    db = open_database(settings.database.url)
    daemon = Daemon(settings, db, worker="bench-bookkeeping", sync_articles=False, retention=False)
    claim_s = record_s = 0.0
    done = transitions = 0
    try:
        async with Checker(settings.checks) as checker:
            while done < checks:
                t0 = time.perf_counter()
                batch = daemon._claim(min(settings.monitor.batch_size, checks - done))
                claim_s += time.perf_counter() - t0
                if not batch:
                    break
                results = await asyncio.gather(*(checker.check(link.url) for link in batch))
                # The daemon writes results in batches of `record_batch` (one transaction each).
                items = list(zip(batch, results, strict=True))
                t0 = time.perf_counter()
                for start in range(0, len(items), daemon.record_batch):
                    recs = daemon._record_batch_sync(items[start : start + daemon.record_batch])
                    transitions += sum(r is not None and r.transition is not None for r in recs)
                record_s += time.perf_counter() - t0
                done += len(batch)
    finally:
        db.dispose()
    return {
        "checks": done,
        "transitions": transitions,
        "claim_ms": round(claim_s * 1000 / max(done, 1), 3),
        "record_ms": round(record_s * 1000 / max(done, 1), 3),
        "per_check_ms": round((claim_s + record_s) * 1000 / max(done, 1), 3),
    }


def history(days: int) -> dict[str, Any]:
    """One check per link per day for `days` days, in one INSERT ... SELECT per statement."""
    settings = load_settings()
    db = open_database(settings.database.url)
    started = time.perf_counter()
    try:
        with db.session() as session:
            dialect = session.get_bind().dialect.name
            if dialect == "postgresql":
                days_sql = "SELECT generate_series(1, :days) AS d"
                at = "(now() AT TIME ZONE 'UTC') - make_interval(days => d.d) "
            else:
                days_sql = (
                    "WITH RECURSIVE n(d) AS (SELECT 1 UNION ALL SELECT d + 1 FROM n "
                    "WHERE d < :days) SELECT d FROM n"
                )
                at = "strftime('%Y-%m-%d %H:%M:%f', 'now', '-' || d.d || ' days')"
            # A day in 30 is a 503 (transient), the rest whatever the link really answers.
            outcome = (
                "CASE WHEN d.d % 30 = 0 THEN 'server_error' WHEN l.id % 3 = 1 "
                "THEN 'not_found' ELSE 'ok' END"
            )
            status = "CASE WHEN d.d % 30 = 0 THEN 503 WHEN l.id % 3 = 1 THEN 404 ELSE 200 END"
            session.execute(
                sa.text(
                    "INSERT INTO checks (link_id, checked_at, outcome, http_status, final_url, "
                    "redirect_chain, latency_ms, error, warnings, worker) "
                    f"SELECT l.id, {at}, {outcome}, {status}, l.url, '[]', 12, NULL, NULL, "
                    f"'bench' FROM links l CROSS JOIN ({days_sql}) d"
                ),
                {"days": days},
            )
            session.execute(
                sa.text(
                    "UPDATE links SET last_checked_at = :now, "
                    "last_outcome = CASE WHEN id % 3 = 1 THEN 'not_found' ELSE 'ok' END, "
                    "last_status = CASE WHEN id % 3 = 1 THEN 404 ELSE 200 END, "
                    "health = CASE WHEN id % 3 = 1 THEN 'dead' ELSE 'alive' END, "
                    "health_since = :now, next_check_at = :later"
                ),
                {"now": datetime.now(UTC).replace(tzinfo=None), "later": datetime(2100, 1, 1)},
            )
            rows = session.execute(sa.text("SELECT count(*) FROM checks")).scalar_one()
            session.commit()
        if db.engine.dialect.name == "postgresql":
            with db.engine.connect() as conn:
                conn.execute(sa.text("ANALYZE"))
                conn.commit()
    finally:
        db.dispose()
    return {"checks": int(rows), "seconds": round(time.perf_counter() - started, 2)}


def make_due() -> dict[str, Any]:
    settings = load_settings()
    db = open_database(settings.database.url)
    try:
        with db.session() as session:
            session.execute(
                sa.text(
                    "UPDATE links SET next_check_at = NULL, lease_owner = NULL, "
                    "lease_expires_at = NULL"
                )
            )
            n = session.execute(sa.text("SELECT count(*) FROM links")).scalar_one()
            session.commit()
    finally:
        db.dispose()
    return {"due": n}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("populate")
    p.add_argument("dir", type=Path)
    p.add_argument("--links", type=int, required=True)
    p.add_argument("--hosts", type=int, required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--per-article", type=int, default=1000)
    b = sub.add_parser("bookkeeping")
    b.add_argument("--checks", type=int, required=True)
    h = sub.add_parser("history")
    h.add_argument("--days", type=int, required=True)
    sub.add_parser("due")
    args = parser.parse_args()
    if args.cmd == "populate":
        out = populate(args.dir, args.links, args.hosts, args.port, args.per_article)
    elif args.cmd == "bookkeeping":
        out = asyncio.run(_bookkeeping(args.checks))
    elif args.cmd == "history":
        out = history(args.days)
    else:
        out = make_due()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
