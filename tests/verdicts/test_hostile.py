"""Hostile servers end within the deadline with bounded memory; fragments are warnings only."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from sqlmodel import select

from service.checks.checker import Checker
from service.cli.app import run
from service.model import Outcome
from service.store.db import open_database
from service.store.repo import warnings_from_json
from service.store.tables import CheckRow
from tests.support.farm import LinkFarm
from tests.verdicts.conftest import settings_for


def rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


async def test_endless_body_does_not_grow_resident_memory(zoo_farm: LinkFarm) -> None:
    cap = 1 << 20
    settings = settings_for(zoo_farm, max_body_bytes=cap, timeout_s=5)
    async with Checker(settings, head_first=False) as checker:
        warm = await checker.observe(zoo_farm.url("/endless"))  # allocator warm-up
        before = rss_bytes()
        started = time.monotonic()
        for _ in range(12):  # 12 x 1 MiB read and dropped; the server would send forever
            obs = await checker.observe(zoo_farm.url("/endless"))
            assert obs.status == 200 and len(obs.body) == cap
        bomb = await checker.observe(zoo_farm.url("/bomb?mib=1024"))  # 1 GiB once inflated
        grown = rss_bytes() - before
        elapsed = time.monotonic() - started
    assert warm.status == 200 and bomb.status == 200 and len(bomb.body) == cap
    assert grown < 24 * cap, f"resident memory grew by {grown / cap:.1f} MiB"
    assert elapsed < 60


async def test_hostile_servers_end_within_the_deadline(zoo_farm: LinkFarm) -> None:
    settings = settings_for(zoo_farm, timeout_s=1.5, retries=0)
    urls = [
        zoo_farm.url("/drip?every=0.1"),
        zoo_farm.drip_headers_url,
        zoo_farm.hang_url,
        zoo_farm.endless_headers_url,
        zoo_farm.huge_headers_url,
    ]
    async with Checker(settings, head_first=False) as checker:
        started = time.monotonic()
        results = await asyncio.wait_for(checker.check_many(urls), timeout=20)
        elapsed = time.monotonic() - started
    assert elapsed < 6  # 1.5 s deadline, all in parallel; generous for a loaded machine
    outcomes = [results[u].outcome for u in urls]
    assert outcomes[:3] == [Outcome.TIMEOUT] * 3
    assert outcomes[3:] == [Outcome.SERVER_ERROR] * 2


async def test_missing_fragment_is_a_warning_on_an_alive_link(zoo_farm: LinkFarm) -> None:
    url = zoo_farm.url("/doc", host="anchors.test")
    wanted = ["#present", "#named", "#gone", "#caf%C3%A9", "#top"]
    async with Checker(settings_for(zoo_farm, check_fragments=True)) as checker:
        result = await checker.check(url, wanted)
    assert result.outcome is Outcome.OK
    assert result.warnings == ("fragment #gone not found",)
    async with Checker(settings_for(zoo_farm)) as checker:  # off by default
        plain = await checker.check(url, wanted)
    assert plain.outcome is Outcome.OK and plain.warnings == ()


def test_check_fragments_flag(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    zoo_server: LinkFarm,
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'lw.db'}")
    monkeypatch.setenv("LINKWATCH_CHECKS__CANARIES", "[]")
    doc = zoo_server.url("/doc", host="anchors.test")
    (tmp_path / "post.md").write_text(f"[a]({doc}#present) and [b]({doc}#gone)\n")
    pins = ["--resolve", "anchors.test:127.0.0.21"]
    code = run(["check", "post.md", "--no-archive", "--format", "json", "--check-fragments", *pins])
    capsys.readouterr()
    assert code == 0  # a missing anchor never counts as broken
    db = open_database(f"sqlite:///{tmp_path / 'lw.db'}")
    try:
        with db.session() as session:
            (row,) = session.exec(select(CheckRow)).all()
        assert row.outcome == "ok"
        assert warnings_from_json(row.warnings) == ("fragment #gone not found",)
    finally:
        db.dispose()
