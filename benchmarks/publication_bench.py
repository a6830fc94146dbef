"""Benchmark: adding a whole publication (10,000 articles, 200,000 link occurrences).

    .venv/bin/python benchmarks/publication_bench.py                 # SQLite and PostgreSQL
    .venv/bin/python benchmarks/publication_bench.py --articles 2000 --db sqlite

A folder of generated Markdown articles (front matter with a date, `--links` links each,
drawn from a pool of `--distinct` URLs on 2,000 hosts, a few cited by hundreds of articles)
is added as a folder source: the real path of `linkwatch add DIR` (walk, read, extract,
deduplicate, record in bulk). Each database runs in its own child process, so the peak
memory (ru_maxrss) is that run's alone. One line per database:

    publication  db=sqlite  articles=10000  occurrences=200000  links=48889  time=43.0s
                 peak_rss=117MB  rescan=0.3s (re-read 0)      (printed on one line)
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def generate(folder: Path, articles: int, links: int, distinct: int, seed: int = 12) -> int:
    """Write the articles; returns the number of occurrences written."""
    rnd = random.Random(seed)
    pool = [f"https://site{i % 2000}.example/{i // 2000}/page-{i}" for i in range(distinct)]
    popular = pool[:50]  # cited by hundreds of articles
    total = 0
    for n in range(articles):
        sub = folder / f"{2005 + n % 20}"
        sub.mkdir(exist_ok=True)
        lines = [
            "---",
            f"title: Article {n}",
            f"date: {2005 + n % 20}-0{1 + n % 9}-1{n % 10}",
            "---",
            "",
        ]
        for k in range(links):
            url = rnd.choice(popular) if k == 0 else pool[rnd.randrange(distinct)]
            lines.append(f"Paragraph {k} cites [source {k}]({url}).")
            lines.append("")
            total += 1
        (sub / f"article-{n}.md").write_text("\n".join(lines), encoding="utf-8")
    return total


def run_one(url: str, folder: str) -> dict[str, object]:
    """In a child process: add the folder as a source, return the measurements."""
    from sqlmodel import func, select

    from service.monitor.sources import SourceStats, scan_dir_source
    from service.settings import Settings
    from service.store import sources as store
    from service.store.db import open_database
    from service.store.tables import LinkRow, OccurrenceRow

    db = open_database(url)
    settings = Settings.model_validate({"database": {"url": url}})
    now = datetime.now(UTC)
    started = time.perf_counter()
    with db.session() as session:
        row = store.add_source(session, "dir", folder, now)
    stats = SourceStats()
    scan_dir_source(db, row, now, settings, stats)
    elapsed = time.perf_counter() - started
    with db.session() as session:
        links = session.exec(select(func.count()).select_from(LinkRow)).one()
        occurrences = session.exec(select(func.count()).select_from(OccurrenceRow)).one()
    # A second scan of the unchanged folder: nothing is read again.
    rescan_started = time.perf_counter()
    with db.session() as session:
        session.get(type(row), row.id).next_scan_at = now  # type: ignore[union-attr]
    again = SourceStats()
    scan_dir_source(db, row, now, settings, again)
    rescan = time.perf_counter() - rescan_started
    db.dispose()
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "articles": stats.fetched,
        "occurrences": occurrences,
        "links": links,
        "seconds": round(elapsed, 1),
        "rescan_seconds": round(rescan, 1),
        "reread_on_rescan": again.fetched,
        "peak_rss_mb": round(peak_kb / 1024),
    }


def _pg_url() -> tuple[str, str]:
    import sqlalchemy as sa

    name = f"lw_bench_{uuid.uuid4().hex[:8]}"
    engine = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return PG_ADMIN.rsplit("/", 1)[0] + "/" + name, name


def _drop_pg(name: str) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=10_000)
    parser.add_argument("--links", type=int, default=20)
    parser.add_argument("--distinct", type=int, default=50_000)
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--child", nargs=2, metavar=("URL", "FOLDER"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_one(args.child[0], args.child[1])))
        return
    with tempfile.TemporaryDirectory(prefix="lw-pub-") as tmp:
        folder = Path(tmp) / "content"
        folder.mkdir()
        started = time.perf_counter()
        occurrences = generate(folder, args.articles, args.links, args.distinct)
        print(
            f"generated {args.articles} articles, {occurrences} occurrences "
            f"in {time.perf_counter() - started:.1f}s",
            file=sys.stderr,
        )
        targets = ["sqlite", "postgres"] if args.db == "both" else [args.db]
        for target in targets:
            cleanup = None
            if target == "sqlite":
                url = f"sqlite:///{Path(tmp) / 'bench.db'}"
            else:
                url, cleanup = _pg_url()
            try:
                out = subprocess.run(
                    [sys.executable, __file__, "--child", url, str(folder)],
                    check=True,
                    capture_output=True,
                    text=True,
                )
                result = json.loads(out.stdout.strip().splitlines()[-1])
            finally:
                if cleanup:
                    _drop_pg(cleanup)
            print(
                f"publication  db={target}  articles={result['articles']}  "
                f"occurrences={result['occurrences']}  links={result['links']}  "
                f"time={result['seconds']}s  peak_rss={result['peak_rss_mb']}MB  "
                f"rescan={result['rescan_seconds']}s (re-read {result['reread_on_rescan']})"
            )


if __name__ == "__main__":
    main()
