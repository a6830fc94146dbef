"""Warnings of a link's last check in the reports (issue 3 §7: a missing `#anchor` is a warning on
an alive link): per occurrence (only its own fragment's), in every format, through the real CLI."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiohttp import web

from service.cli.app import run
from service.model import Health, LinkKind, Outcome
from service.reports import render
from service.reports.build import report_from_links
from service.reports.model import LinkReport, occurrence_warnings
from tests.support.farm import LinkFarm

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
PAGE = (
    "<!DOCTYPE html><html><head><title>Guide</title></head><body>"
    '<h2 id="intro">Intro</h2><p>Text.</p></body></html>'
)


@pytest.fixture(scope="module")
def farm() -> Iterator[LinkFarm]:
    with LinkFarm() as running:

        async def page(request: web.Request, farm: LinkFarm) -> web.Response:
            return web.Response(text=PAGE, content_type="text/html")

        running.add("/guide", page)
        yield running


def _check_json(
    farm: LinkFarm,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    db_url: str,
    *flags: str,
) -> tuple[int, dict[str, list[str]]]:
    config = tmp_path / "linkwatch.toml"
    config.write_text("[wayback]\nenabled = false\n", encoding="utf-8")
    monkeypatch.setenv("LINKWATCH_CONFIG", str(config))
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("LINKWATCH_CHECKS__RETRIES", "0")
    monkeypatch.setenv("LINKWATCH_CHECKS__CANARIES", farm.url("/guide"))
    monkeypatch.chdir(tmp_path)
    guide = farm.url("/guide")
    post = tmp_path / "post.md"
    post.write_text(
        f"# Post\n\n- [intro]({guide}#intro)\n- [missing]({guide}#missing)\n- [plain]({guide})\n",
        encoding="utf-8",
    )
    code = run(["check", str(post), "--format", "json", *flags, *farm.resolve_args()])
    rows = json.loads(capsys.readouterr().out)
    assert len({row["link_id"] for row in rows}) == 1  # one link row, three occurrences
    for row in rows:
        assert row["outcome"] == "ok" and row["health"] == "alive"
        assert list(row)[-2:] == ["warnings", "link_id"]
    return code, {row["href"]: row["warnings"] for row in rows}


def test_missing_fragment_is_a_warning_on_its_own_occurrence_only(
    farm: LinkFarm,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    db_url: str,
) -> None:
    guide = farm.url("/guide")
    code, warnings = _check_json(farm, tmp_path, monkeypatch, capsys, db_url, "--check-fragments")
    assert code == 0  # a missing anchor never makes a link broken
    assert warnings == {
        f"{guide}#intro": [],
        f"{guide}#missing": ["fragment #missing not found"],
        guide: [],
    }
    # Without the flag, the next check has no warnings: only the LAST check's are reported.
    code, warnings = _check_json(farm, tmp_path, monkeypatch, capsys, db_url)
    assert code == 0
    assert all(w == [] for w in warnings.values())


def test_occurrence_warnings_keeps_its_fragment_and_general_warnings() -> None:
    last = ("fragment #a not found", "fragment #b not found", "page is very slow")
    assert occurrence_warnings(last, "#a") == ("fragment #a not found", "page is very slow")
    assert occurrence_warnings(last, None) == ("page is very slow",)
    assert occurrence_warnings(last, "#c") == ("page is very slow",)
    assert occurrence_warnings((), "#a") == ()
    assert occurrence_warnings(("fragment #caf%C3%A9 not found",), "#caf%C3%A9") == (
        "fragment #caf%C3%A9 not found",
    )


def _link(warnings: tuple[str, ...]) -> LinkReport:
    return LinkReport(
        article="post.md",
        anchor_text="guide",
        href="https://example.org/guide#<b>x</b>",
        url="https://example.org/guide",
        kind=LinkKind.HTTP,
        position=0,
        line=3,
        health=Health.ALIVE,
        link_id=1,
        outcome=Outcome.OK,
        http_status=200,
        warnings=warnings,
    )


@pytest.mark.parametrize("fmt", ["table", "json", "markdown", "html"])
def test_every_format_shows_the_warnings_escaped(fmt: str) -> None:
    hostile = "fragment #<b>x</b>|*\x1b[31m not found"
    text = render(report_from_links([_link((hostile,))], now=NOW), fmt)
    plain = render(report_from_links([_link(())], now=NOW), fmt)
    if fmt != "json":
        assert "warning:" not in plain.lower()
    if fmt == "json":
        (row,) = json.loads(text)
        assert row["warnings"] == [hostile]
        assert json.loads(plain)[0]["warnings"] == []
    elif fmt == "table":
        assert "warning: fragment #<b>x</b>|*" in text  # wrapped at the control character
        assert "\x1b" not in text
    elif fmt == "markdown":
        assert "warning: fragment #&lt;b&gt;x&lt;/b&gt;\\|\\*" in text
    else:
        assert '<div class="warning">Warning: fragment #&lt;b&gt;x&lt;/b&gt;' in text
        assert "<b>x</b>" not in text
