"""`linkwatch archive lookup|save` against the fake Wayback server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from service.cli.app import run
from tests.support.fake_wayback import FailStatus, FakeCapture, FakeWayback

URL = "https://example.com/cited"


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[FakeWayback]:
    monkeypatch.chdir(tmp_path)
    wb = FakeWayback({URL: [FakeCapture("20180101000000"), FakeCapture("20230101000000")]})
    with wb.running_in_thread():
        monkeypatch.setenv("LINKWATCH_WAYBACK_URL", wb.base_url)
        monkeypatch.setenv("LINKWATCH_WAYBACK__TIMEOUT_S", "3")
        monkeypatch.setenv("LINKWATCH_WAYBACK__CDX_PER_MINUTE", "60000")
        yield wb


def test_lookup_prints_both_captures(
    server: FakeWayback, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["archive", "lookup", URL, "--cited", "2020-01-01", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["archive"]["url"] == f"{server.base_url}/web/20180101000000/{URL}"
    assert out["archive_latest"]["timestamp"].startswith("2023-01-01")
    assert out["error"] is None


def test_lookup_never_archived(server: FakeWayback, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["archive", "lookup", "https://example.com/none"]) == 0
    assert "no archived copy" in capsys.readouterr().out


def test_lookup_failure_is_one_line(
    server: FakeWayback, capsys: pytest.CaptureFixture[str]
) -> None:
    server.fail_with(FailStatus(503), endpoints=["cdx", "available"])
    assert run(["archive", "lookup", URL]) == 1
    err = capsys.readouterr().err
    assert err.startswith("linkwatch: archive lookup of") and err.count("\n") == 1


def test_bad_input(server: FakeWayback, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["archive", "lookup", "ftp://x"]) == 2
    assert run(["archive", "lookup", URL, "--cited", "yesterday"]) == 2
    assert run(["archive", "save", URL]) == 2  # no keys configured
    assert "access_key" in capsys.readouterr().err


def test_save(
    server: FakeWayback, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LINKWATCH_WAYBACK__ACCESS_KEY", "key")
    monkeypatch.setenv("LINKWATCH_WAYBACK__SECRET_KEY", "secret")
    server.default_save_plan.pending_polls = 0
    import service.archive.spn as spn

    monkeypatch.setattr(spn, "POLL_INITIAL_S", 0.01)
    assert run(["archive", "save", "https://example.com/new"]) == 0
    assert f"{server.base_url}/web/" in capsys.readouterr().out
    assert server.count("save") == 1
