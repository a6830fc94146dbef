"""`linkwatch drift` end to end: real farm, fake Wayback in a thread, a SQLite file."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from service.cli.app import run
from service.store.db import open_database
from tests.drift.conftest import CAPTURE_TS, SCENARIOS, seed
from tests.support.fake_wayback import FakeCapture, FakeWayback
from tests.support.farm import LinkFarm

PATHS = ["/drift/unchanged", "/drift/rewritten", "/drift/parked", "/drift/lost-capture"]


@pytest.fixture
def wayback_thread(
    farm: LinkFarm, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, sqlite_url: str
) -> Iterator[FakeWayback]:
    monkeypatch.chdir(tmp_path)
    captures = {
        farm.url(p): [FakeCapture(CAPTURE_TS, body=captured)]
        for p, (captured, _) in SCENARIOS.items()
        if captured is not None
    }
    wb = FakeWayback(captures)
    with wb.running_in_thread():
        monkeypatch.setenv("LINKWATCH_WAYBACK_URL", wb.base_url)
        monkeypatch.setenv("LINKWATCH_WAYBACK__TIMEOUT_S", "5")
        monkeypatch.setenv("LINKWATCH_WAYBACK__CDX_PER_MINUTE", "600000")
        monkeypatch.setenv("DATABASE_URL", sqlite_url)
        db = open_database(sqlite_url)
        try:
            seed(db, farm, wb.base_url, PATHS)
        finally:
            db.dispose()
        yield wb


def test_drift_prints_a_verdict_per_link(
    farm: LinkFarm, wayback_thread: FakeWayback, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["drift", *farm.resolve_args()]) == 0
    lines = capsys.readouterr().out.splitlines()
    by_url = {line.split()[-1]: line for line in lines[:-1] if not line.startswith("-")}
    assert by_url[farm.url("/drift/unchanged")].startswith("same ")
    assert by_url[farm.url("/drift/rewritten")].startswith("drifted ")
    assert by_url[farm.url("/drift/parked")].startswith("replaced ")
    assert any(
        line.startswith("-") and farm.url("/drift/lost-capture") in line and "retried later" in line
        for line in lines
    )
    assert lines[-1] == ("drift: 4 compared: 1 same, 1 drifted, 1 replaced, 1 without verdict")

    # A second run right away: nothing is due; --all compares again, as JSON.
    assert run(["drift", *farm.resolve_args()]) == 0
    assert "no link is due" in capsys.readouterr().out
    assert (
        run(["drift", "--all", "--json", "--article", "articles/drift.md", *farm.resolve_args()])
        == 0
    )
    results = {r["url"]: r for r in json.loads(capsys.readouterr().out)}
    assert results[farm.url("/drift/rewritten")]["drift"] == "drifted"
    assert results[farm.url("/drift/rewritten")]["previous"] == "drifted"
    assert 0.5 < results[farm.url("/drift/rewritten")]["drift_score"] < 1
    assert results[farm.url("/drift/unchanged")]["drift_score"] == 0.0
    assert results[farm.url("/drift/lost-capture")]["drift"] is None


def test_bad_input_is_one_line(
    farm: LinkFarm,
    wayback_thread: FakeWayback,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert run(["drift", "--article", "nope.md"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("linkwatch: no article 'nope.md'") and err.count("\n") == 1
    monkeypatch.setenv("LINKWATCH_WAYBACK__ENABLED", "false")
    assert run(["drift"]) == 2
    assert "wayback.enabled" in capsys.readouterr().err
    monkeypatch.delenv("LINKWATCH_WAYBACK__ENABLED")
    monkeypatch.setenv("LINKWATCH_DRIFT__SAME_COSINE", "2")
    assert run(["drift"]) == 2
    assert "drift.same_cosine" in capsys.readouterr().err
