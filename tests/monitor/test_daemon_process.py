"""The daemon as users run it: a subprocess on a temp config, the link farm, SQLite, PostgreSQL."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from service.store.db import normalize_url
from tests.monitor.daemon_support import (
    cli,
    markdown_article,
    scalar,
    start_daemon,
    stop,
    wait_for,
    write_config,
)
from tests.support.farm import LinkFarm


@pytest.fixture(scope="module")
def farm() -> Iterator[LinkFarm]:
    with LinkFarm() as f:
        yield f


def engine_for(url: str) -> sa.Engine:
    return sa.create_engine(normalize_url(url))


def test_daemon_checks_records_and_stops_on_sigterm(
    db_url: str, farm: LinkFarm, tmp_path: Path
) -> None:
    ok = [farm.url(f"/ok?n={i}") for i in range(12)]
    gone = [farm.url("/status/404"), farm.url("/status/410", host="other.test")]
    article = markdown_article(tmp_path / "post.md", [*ok, *gone, "mailto:me@example.org", "#"])
    config = write_config(tmp_path, db_url, farm, articles=[str(article)])
    proc = start_daemon(config, log=tmp_path / "daemon.log")
    engine = engine_for(db_url)
    try:
        wait_for(
            lambda: (scalar(engine, "SELECT COUNT(DISTINCT link_id) FROM checks") or 0) >= 14,
            60,
            "every link checked",
        )
        assert proc.poll() is None
        running = cli(config, "status")
        assert running.returncode == 0, running.stdout + running.stderr
        assert "running" in running.stdout
    finally:
        code = stop(proc)
    log = (tmp_path / "daemon.log").read_text()
    assert code == 0, log
    assert "stopped" in log
    with engine.connect() as conn:
        links = conn.execute(sa.text("SELECT url, health, lease_owner FROM links")).all()
        health = {url: h for url, h, _ in links}
        assert {health[u] for u in ok} == {"alive"}
        assert {health[u] for u in gone} == {"suspect"}
        assert len(links) == 14  # mailto and '#' have no link row to check
        assert all(owner is None for _, _, owner in links)  # every lease released
        checks = conn.execute(
            sa.text("SELECT link_id, COUNT(*) FROM checks GROUP BY link_id")
        ).all()
        assert len(checks) == 14 and all(n == 1 for _, n in checks)  # next checks are hours away
        moves = conn.execute(
            sa.text("SELECT from_health, to_health, COUNT(*) FROM transitions GROUP BY 1, 2")
        ).all()
        assert sorted(tuple(m) for m in moves) == [
            ("unchecked", "alive", 12),
            ("unchecked", "suspect", 2),
        ]
        worker = conn.execute(sa.text("SELECT stopping FROM workers")).all()
        assert [bool(w[0]) for w in worker] == [True]
    engine.dispose()
    stopped = cli(config, "status")
    assert stopped.returncode == 1
    assert "no daemon heartbeat" in stopped.stderr


def test_second_daemon_on_one_sqlite_file_exits_at_once(
    sqlite_url: str, farm: LinkFarm, tmp_path: Path
) -> None:
    config = write_config(tmp_path, sqlite_url, farm)
    first = start_daemon(config, log=tmp_path / "first.log")
    try:
        engine = engine_for(sqlite_url)
        wait_for(
            lambda: scalar(engine, "SELECT COUNT(*) FROM workers") == 1,
            30,
            "the first daemon's beat",
        )
        engine.dispose()
        started = time.monotonic()
        second = cli(config, "run", timeout=30)
        assert time.monotonic() - started < 15
        assert second.returncode == 2
        lines = second.stderr.strip().splitlines()
        assert len(lines) == 1, second.stderr
        assert "another linkwatch daemon" in lines[0] and "already running" in lines[0]
        assert first.poll() is None
    finally:
        assert stop(first) == 0
    # the lock died with the first daemon: a new one starts fine
    again = cli(config, "run", "--once")
    assert again.returncode == 0, again.stderr


def test_once_with_json_logs(sqlite_url: str, farm: LinkFarm, tmp_path: Path) -> None:
    article = markdown_article(tmp_path / "a.md", [farm.url("/ok?j=1"), farm.url("/status/404")])
    config = write_config(tmp_path, sqlite_url, farm, articles=[str(article)])
    done = cli(config, "run", "--once", "--log-format", "json")
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stderr.splitlines() if line.strip()]
    assert lines, "no log lines"
    assert all(set(obj) == {"time", "level", "message", "fields"} for obj in lines)
    stopped = [o for o in lines if o["message"] == "linkwatch daemon stopped"]
    assert stopped and stopped[0]["fields"]["recorded"] == 2
    bad = cli(config, "run", "--once", "--log-format", "xml")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1


def test_status_without_any_daemon(sqlite_url: str, farm: LinkFarm, tmp_path: Path) -> None:
    config = write_config(tmp_path, sqlite_url, farm)
    res = cli(config, "status")
    assert res.returncode == 1
    assert "no daemon heartbeat within 120 s" in res.stderr


@pytest.mark.postgres
@pytest.mark.slow
def test_three_daemons_share_five_thousand_links(
    pg_server: str, farm: LinkFarm, tmp_path: Path
) -> None:
    from tests.conftest import _reset_pg
    from tests.monitor.helpers import T0, article

    _reset_pg(pg_server)
    from service.store.db import open_database
    from service.store.repo import sync_article

    n = int(os.environ.get("TEST_SCALE_LINKS", "5000"))
    hosts = ["farm.test", "other.test", "third.test", "www.farm.test"]
    urls = [farm.url(f"/ok?k={i}", host=hosts[i % len(hosts)]) for i in range(n)]
    db = open_database(pg_server)
    with db.session() as s:
        sync_article(s, article("bulk.md", urls), T0)
    db.dispose()
    config = write_config(tmp_path, pg_server, farm, monitor={"batch_size": 100, "tick_s": 0.5})
    started = time.monotonic()
    procs = [start_daemon(config, "--once", log=tmp_path / f"d{i}.log") for i in range(3)]
    codes = [p.wait(timeout=180) for p in procs]
    elapsed = time.monotonic() - started
    logs = "\n".join((tmp_path / f"d{i}.log").read_text()[-2000:] for i in range(3))
    assert codes == [0, 0, 0], logs
    engine = engine_for(pg_server)
    with engine.connect() as conn:
        per_link = dict(
            conn.execute(sa.text("SELECT link_id, COUNT(*) FROM checks GROUP BY link_id")).all()
        )
        by_worker = conn.execute(
            sa.text("SELECT worker, COUNT(*) FROM checks GROUP BY worker")
        ).all()
        leased = conn.execute(
            sa.text("SELECT COUNT(*) FROM links WHERE lease_owner IS NOT NULL")
        ).scalar()
    engine.dispose()
    assert len(per_link) == n
    assert set(per_link.values()) == {1}, "a link was checked more than once"
    assert leased == 0
    assert len(by_worker) >= 2, by_worker  # the work was shared
    print(f"3 daemons, {n} links: {elapsed:.1f} s; per worker {sorted(c for _, c in by_worker)}")


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_kill_9_mid_sweep_then_restart(
    backend: str, request: pytest.FixtureRequest, farm: LinkFarm, tmp_path: Path
) -> None:
    if backend == "sqlite":
        db_url = request.getfixturevalue("sqlite_url")
    else:
        from tests.conftest import _reset_pg

        db_url = request.getfixturevalue("pg_server")
        _reset_pg(db_url)
    urls = [farm.url(f"/sleep?s=0.6&i={i}") for i in range(40)]
    article = markdown_article(tmp_path / "slow.md", urls)
    lease_s = 3.0
    config = write_config(
        tmp_path,
        db_url,
        farm,
        articles=[str(article)],
        monitor={"batch_size": 16, "lease_s": lease_s, "tick_s": 0.3},
        checks={"per_host_concurrency": 4},
    )
    engine = engine_for(db_url)
    first = start_daemon(config, log=tmp_path / "first.log")
    try:
        wait_for(
            lambda: (scalar(engine, "SELECT COUNT(*) FROM checks") or 0) >= 6, 60, "some checks"
        )
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    with engine.connect() as conn:
        committed = conn.execute(sa.text("SELECT id, link_id, checked_at FROM checks")).all()
        dead_worker = conn.execute(sa.text("SELECT name FROM workers")).scalar()
        orphaned = conn.execute(
            sa.text("SELECT id, lease_expires_at FROM links WHERE lease_owner = :w"),
            {"w": dead_worker},
        ).all()
    assert 6 <= len(committed) < 40
    assert orphaned, "the killed daemon held no lease: it was not mid-sweep"
    second = start_daemon(config, log=tmp_path / "second.log")
    try:
        wait_for(
            lambda: (scalar(engine, "SELECT COUNT(DISTINCT link_id) FROM checks") or 0) >= 40,
            90,
            "every link checked after the restart",
        )
    finally:
        assert stop(second) == 0, (tmp_path / "second.log").read_text()[-3000:]
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT id, link_id, checked_at, worker FROM checks")).all()
        transitions = conn.execute(
            sa.text("SELECT link_id, COUNT(*) FROM transitions GROUP BY link_id")
        ).all()
    engine.dispose()
    by_id = {r.id: r for r in rows}
    for c in committed:  # no committed check lost
        assert c.id in by_id and by_id[c.id].link_id == c.link_id
    per_link: dict[int, list] = {}
    for r in rows:
        per_link.setdefault(r.link_id, []).append(r)
    assert len(per_link) == 40 and all(len(v) == 1 for v in per_link.values())
    for link_id, expires in orphaned:  # claimed by the dead daemon: checked after its lease expired
        (check,) = per_link[link_id]
        assert check.worker != dead_worker
        assert _aware(check.checked_at) >= _aware(expires)
    assert len(transitions) == 40 and all(n == 1 for _, n in transitions)


def _aware(value: object) -> object:
    from datetime import UTC, datetime

    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    assert isinstance(value, datetime)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@pytest.mark.postgres
def test_database_outage_under_a_running_daemon(
    pg_server: str, farm: LinkFarm, tmp_path: Path
) -> None:
    """Connections cut and refused a few seconds mid-sweep: the daemon logs, retries, resumes."""
    from tests.conftest import PG_ADMIN_URL, _reset_pg

    _reset_pg(pg_server)
    slow = [farm.url(f"/sleep?s=0.5&c={i}") for i in range(24)]
    first = markdown_article(tmp_path / "one.md", slow)
    config = write_config(
        tmp_path,
        pg_server,
        farm,
        articles=[str(first)],
        monitor={"batch_size": 8},
        checks={"per_host_concurrency": 2},
    )
    engine = engine_for(pg_server)
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    db_name = normalize_url(pg_server).database

    def outage(allow: bool) -> None:
        with admin.connect() as conn:
            conn.execute(
                sa.text(f'ALTER DATABASE "{db_name}" ALLOW_CONNECTIONS {str(allow).lower()}')
            )
            if not allow:
                conn.execute(
                    sa.text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = :d AND pid <> pg_backend_pid()"
                    ),
                    {"d": db_name},
                )

    proc = start_daemon(config, log=tmp_path / "daemon.log")
    try:
        wait_for(
            lambda: (scalar(engine, "SELECT COUNT(*) FROM checks") or 0) >= 2, 60, "first checks"
        )
        outage(allow=False)
        try:
            time.sleep(3.0)
            assert proc.poll() is None, "the daemon died during the outage"
        finally:
            outage(allow=True)
        wait_for(
            lambda: (scalar(engine, "SELECT COUNT(DISTINCT link_id) FROM checks") or 0) >= 24,
            60,
            "the sweep finished after the outage",
        )
        # it resumes: an article added now is picked up by the running daemon
        second = markdown_article(tmp_path / "two.md", [farm.url("/ok?after=outage")])
        added = cli(config, "add", str(second))
        assert added.returncode == 0, added.stderr
        wait_for(
            lambda: (scalar(engine, "SELECT COUNT(DISTINCT link_id) FROM checks") or 0) >= 25,
            60,
            "the new link checked after the outage",
        )
        assert proc.poll() is None
    finally:
        outage(allow=True)
        code = stop(proc)
    log = (tmp_path / "daemon.log").read_text()
    assert code == 0, log[-3000:]
    assert "database unreachable" in log and "database reachable again" in log, log[-3000:]
    assert "Traceback" not in log
    with engine.connect() as conn:
        per_link = conn.execute(
            sa.text("SELECT link_id, COUNT(*) FROM checks GROUP BY link_id")
        ).all()
    engine.dispose()
    admin.dispose()
    assert len(per_link) == 25 and all(n == 1 for _, n in per_link)
