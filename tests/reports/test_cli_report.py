"""`linkwatch report` end to end: real database, real command, real output file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from service.cli.app import run
from service.store.db import open_database
from tests.reports.sample import fill_sample


@pytest.fixture
def env(tmp_path: Path, sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    config = tmp_path / "linkwatch.toml"
    config.write_text("")
    monkeypatch.setenv("LINKWATCH_CONFIG", str(config))
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    db = open_database(sqlite_url)
    with db.session() as session:
        ids = fill_sample(session)
    db.dispose()
    return {"a": ids.article_a, "b": ids.article_b}


def test_report_formats_filters_and_output(
    env: dict[str, int], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["report", "--format", "json", "--health", "dead,suspect"]) == 0
    objects = json.loads(capsys.readouterr().out)
    assert [(o["article"], o["health"]) for o in objects] == [
        ("articles/a.md", "dead"),
        ("https://blog.example/post", "dead"),
        ("https://blog.example/post", "suspect"),
    ]
    assert run(["report", "--article", str(env["b"])]) == 0
    table = capsys.readouterr().out
    assert "Second article" in table and "articles/a.md" not in table and "3 broken" not in table
    out = tmp_path / "report.html"
    assert run(["report", "--format", "html", "--output", str(out)]) == 0
    page = out.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and page.count('<svg class="strip"') == 7
    assert run(["report", "--format", "markdown"]) == 0
    assert capsys.readouterr().out.startswith("# linkwatch report")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--article", "999"], "no article with id 999"),
        (["--format", "pdf"], "unknown format 'pdf'"),
        (["--health", "zombie"], "unknown health 'zombie'"),
        (["--output", "/nonexistent-dir/r.txt"], "cannot write /nonexistent-dir/r.txt"),
    ],
)
def test_report_bad_input_is_one_line(
    env: dict[str, int], args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["report", *args]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err
