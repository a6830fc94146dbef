"""The monitor's own connectivity: with no network, links are `offline`, never broken."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.articles.extract import parse_article
from service.checks.canary import Connectivity, monitor_is_offline, needs_canary
from service.checks.checker import Checker
from service.checks.guard import FailingResolver
from service.cli.app import run
from service.model import Outcome
from service.oneshot import run_check
from service.settings import ChecksSettings, Settings
from service.store import repo
from service.store.db import open_database
from tests.support.farm import LinkFarm
from tests.verdicts.conftest import settings_for

LINKS = ["http://gone.invalid/a", "http://also-gone.invalid/b"]
CANARIES = ["http://canary-one.invalid/", "http://canary-two.invalid/"]
ARTICLE = "# Post\n\nSee [one](http://gone.invalid/a) and [two](http://also-gone.invalid/b).\n"


async def test_every_name_failing_means_offline_through_the_library() -> None:
    settings = ChecksSettings(canaries=CANARIES, timeout_s=2.0)
    async with Checker(settings, resolver=FailingResolver()) as checker:
        results = await checker.check_many(LINKS)
        assert [r.outcome for r in results.values()] == [Outcome.DNS_ERROR] * 2
        assert needs_canary(results)
        assert await monitor_is_offline(checker, settings.canaries, results)
        assert not await monitor_is_offline(checker, [], results)  # no canaries: no verdict


async def test_a_canary_that_answers_means_the_links_are_dead(zoo_farm: LinkFarm) -> None:
    settings = settings_for(zoo_farm, canaries=[zoo_farm.url("/", host="honest.test")])
    async with Checker(settings, resolver=FailingResolver()) as checker:
        results = await checker.check_many(LINKS)
        assert not await monitor_is_offline(checker, settings.canaries, results)


async def test_connectivity_is_cached_and_single_flight(zoo_farm: LinkFarm) -> None:
    import asyncio

    now = [0.0]
    canary_url = zoo_farm.url("/", host="honest.test")
    async with Checker(settings_for(zoo_farm)) as checker:
        conn = Connectivity(checker, [canary_url], ttl_s=60, monotonic=lambda: now[0])
        answers = await asyncio.gather(*(conn.status() for _ in range(5)))
        assert sorted(answers) == [(True, False)] * 4 + [(True, True)]
        assert (await conn.status()) == (True, False)
        now[0] = 61
        assert (await conn.status()) == (True, True)
    assert zoo_farm.count("/", host="honest.test") == 2


async def test_run_check_records_offline_and_moves_no_health(tmp_path: Path) -> None:
    settings = Settings.model_validate(
        {
            "database": {"url": f"sqlite:///{tmp_path / 'lw.db'}"},
            "checks": {"canaries": CANARIES, "timeout_s": 2.0},
            "wayback": {"enabled": False},
        }
    )
    db = open_database(settings.database.url)
    try:
        article = parse_article(ARTICLE, "markdown", "post.md")
        outcome = await run_check(
            db, settings, [article], archive=False, resolver=FailingResolver()
        )
        assert outcome.offline and outcome.unverified == 2 and outcome.broken == 0
        assert {r.outcome for r in outcome.results.values()} == {Outcome.OFFLINE}
        with db.session() as session:
            links = repo.links_for_urls(session, LINKS)
            assert {links[u].health for u in LINKS} == {"unchecked"}
    finally:
        db.dispose()


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'lw.db'}")
    monkeypatch.setenv("LINKWATCH_CHECKS__TIMEOUT_S", "2")
    (tmp_path / "post.md").write_text(ARTICLE, encoding="utf-8")
    return tmp_path


def test_linkwatch_check_with_no_network_says_offline_and_exits_3(
    workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # `.invalid` names never resolve (RFC 6761): links and canaries alike, as with no network.
    monkeypatch.setenv("LINKWATCH_CHECKS__CANARIES", ",".join(CANARIES))
    code = run(["check", "post.md", "--no-archive"])
    err = capsys.readouterr().err
    assert code == 3, err
    assert "the monitor is offline; 2 links could not be verified" in err
    assert "broken" not in err


def test_linkwatch_check_with_a_live_canary_reports_broken_links(
    workdir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    zoo_server: LinkFarm,
) -> None:
    monkeypatch.setenv("LINKWATCH_CHECKS__CANARIES", zoo_server.url("/", host="honest.test"))
    code = run(["check", "post.md", "--no-archive", "--resolve", "honest.test:127.0.0.21"])
    err = capsys.readouterr().err
    assert code == 1, err
    assert "offline" not in err
