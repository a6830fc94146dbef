"""`linkwatch db upgrade|current` through the real CLI entry point."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.cli.app import run
from service.store.db import head_revision

HEAD = head_revision()


@pytest.fixture(autouse=True)
def _no_config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no config/linkwatch.toml here: defaults plus environment
    monkeypatch.delenv("LINKWATCH_CONFIG", raising=False)


def test_db_upgrade_prints_the_revision_reached(
    db_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", db_url)
    assert run(["db", "current"]) == 0
    assert "revision none (empty database" in capsys.readouterr().out
    assert run(["db", "upgrade"]) == 0
    out = capsys.readouterr().out
    assert out.strip().endswith(f"schema at revision {HEAD} (head)")
    assert run(["db", "upgrade"]) == 0  # idempotent
    assert f"{HEAD} (head)" in capsys.readouterr().out
    assert run(["db", "current"]) == 0
    assert capsys.readouterr().out.strip().endswith(f"schema at revision {HEAD} (head)")


def test_db_upgrade_uses_the_default_sqlite_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("LINKWATCH_DATABASE__URL", raising=False)
    assert run(["db", "upgrade"]) == 0
    assert (
        f"sqlite:///data/linkwatch.db: schema at revision {HEAD} (head)" in capsys.readouterr().out
    )
    assert (tmp_path / "data" / "linkwatch.db").is_file()


def test_db_upgrade_on_an_unreachable_server_is_one_line_without_password(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgres://linkwatch:hunter2@127.0.0.1:1/linkwatch")
    assert run(["db", "upgrade"]) == 4
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("linkwatch: cannot open database")
    assert captured.err.count("\n") == 1
    assert "hunter2" not in captured.err and "linkwatch:***@" in captured.err
