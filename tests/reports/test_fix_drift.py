"""`linkwatch fix --drifted archive|decorate` (issue 11 §4): alive links whose content drifted
since cited point at the capture the author saw; every other byte stays as it was."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from service.articles.extract import parse_article
from service.cli.app import run
from service.errors import UsageError
from service.model import Outcome
from service.reports.repair import repair_bytes
from service.store import repo
from service.store.db import Database, open_database
from service.store.tables import DriftRow
from tests.reports.test_fix import T0, WB, assert_only_spans_changed, capture, record

CAPTURED = datetime(2019, 1, 1, tzinfo=UTC)
ROBUST = re.compile(r' data-originalurl="[^"]*" data-versionurl="[^"]*" data-versiondate="[^"]*"')

MARKDOWN = (
    "---\r\ntitle: Drift\r\n---\r\n\r\n"
    'A [rewritten page](https://drift.example/rewritten#s2 "its title") and a\r\n'
    "[replaced page](<https://drift.example/replaced?a=1&b=2>), an [unchanged one](https://same.example/),\r\n"
    "a [drifted page without capture](https://drift.example/no-capture), a\r\n"
    "[dead page](https://dead.example/x) and [again](https://drift.example/rewritten).\r\n"
)

HTML = (
    '<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>Drift – “pages”</title></head>\n'
    '<body><p><a class=c HREF="https://drift.example/rewritten#s2">rewritten</a>, '
    "<a href='https://drift.example/replaced?a=1&amp;b=2' title=x>replaced</a>,\n"
    "<a href=https://same.example/>same</a>, "
    '<a href="https://drift.example/no-capture">no capture</a>,\n'
    '<a href="https://dead.example/x">dead</a></p></body></html>\n'
)


def drift(db: Database, link_id: int, verdict: str, cosine: float, days_ago: float = 1) -> None:
    with db.session() as session:
        session.add(
            DriftRow(
                link_id=link_id,
                checked_at=T0 + timedelta(days=3) - timedelta(days=days_ago),
                capture_timestamp=CAPTURED,
                verdict=verdict,
                cosine=cosine,
            )
        )


def fill(db: Database, text: str, fmt: str, name: str) -> None:
    with db.session() as session:
        repo.sync_article(session, parse_article(text, fmt, name), T0)
    rewritten = record(db, "https://drift.example/rewritten", [Outcome.OK])
    replaced = record(db, "https://drift.example/replaced?a=1&b=2", [Outcome.OK])
    same = record(db, "https://same.example/", [Outcome.OK])
    no_capture = record(db, "https://drift.example/no-capture", [Outcome.OK])
    dead = record(db, "https://dead.example/x", [Outcome.NOT_FOUND] * 3)
    for link_id, path in ((rewritten, "drift.example/rewritten"), (same, "same.example/")):
        capture(db, link_id, "citation", f"{WB}/20190101000000/https://{path}", CAPTURED)
    capture(
        db,
        replaced,
        "citation",
        f"{WB}/20190101000000/https://drift.example/replaced?a=1&b=2",
        CAPTURED,
    )
    # the newest capture already holds the drifted page: never the one to point readers at
    capture(db, replaced, "latest", f"{WB}/20240101000000/https://drift.example/replaced", T0)
    capture(db, no_capture, "latest", f"{WB}/20240101000000/https://drift.example/no-capture", T0)
    capture(db, dead, "citation", f"{WB}/20190101000000/https://dead.example/x", CAPTURED)
    drift(db, rewritten, "same", 0.95, days_ago=30)
    drift(db, rewritten, "drifted", 0.5)
    drift(db, replaced, "replaced", 0.05)
    drift(db, same, "drifted", 0.5, days_ago=30)
    drift(db, same, "same", 0.9)  # drifted once, the same again now: nothing to do
    drift(db, no_capture, "drifted", 0.4)


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = open_database(db_url)
    yield database
    database.dispose()


def spans(text: str, fmt: str) -> list[tuple[int, int]]:
    return [o.href_span for o in parse_article(text, fmt, f"a.{fmt}").occurrences if o.href_span]


def test_markdown_drifted_links_point_at_the_citation_capture(db: Database) -> None:
    fill(db, MARKDOWN, "markdown", "drift.md")
    data = MARKDOWN.encode()
    with db.session() as session:
        kept = repair_bytes(session, data, "drift.md")
        fixed = repair_bytes(session, data, "drift.md", drifted="archive")
    assert kept.data == data.replace(
        b"https://dead.example/x",
        b"https://web.archive.org/web/20190101000000/https://dead.example/x",
    )
    out = fixed.text
    assert (fixed.dead_fixed, fixed.drifted_fixed, fixed.drifted_without_capture) == (1, 3, 1)
    # the fragment survives; both occurrences of the rewritten page are pointed at the capture
    assert (
        f'[rewritten page]({WB}/20190101000000/https://drift.example/rewritten#s2 "its title")'
        in out
    )
    assert f"[again]({WB}/20190101000000/https://drift.example/rewritten)." in out
    # the citation capture, not the newer one; the <...> form and the query kept
    assert f"[replaced page](<{WB}/20190101000000/https://drift.example/replaced?a=1&b=2>)" in out
    assert "[unchanged one](https://same.example/)" in out
    assert "[drifted page without capture](https://drift.example/no-capture)" in out
    assert "3 drifted link(s) pointed at the capture the author saw" in fixed.summary()
    assert "1 drifted link(s) without a citation capture" in fixed.summary()
    assert_only_spans_changed(MARKDOWN, out, spans(MARKDOWN, "markdown"))
    expected = MARKDOWN
    for target in (
        "https://drift.example/rewritten#s2 ",
        "<https://drift.example/replaced?a=1&b=2>",
        "https://drift.example/rewritten).",
        "https://dead.example/x",
    ):
        at = 1 if target.startswith("<") else 0
        expected = expected.replace(
            f"({target}", f"({target[:at]}{WB}/20190101000000/{target[at:]}"
        )
    assert fixed.data == expected.encode()  # byte for byte, CRLF line ends included


def test_html_drifted_archive_and_decorate(db: Database) -> None:
    fill(db, HTML, "html", "drift.html")
    data = HTML.encode()
    with db.session() as session:
        archived = repair_bytes(session, data, "drift.html", drifted="archive")
        decorated = repair_bytes(session, data, "drift.html", drifted="decorate")
        both = repair_bytes(session, data, "drift.html", drifted="decorate", robust_links=True)
    out = archived.text
    assert f'HREF="{WB}/20190101000000/https://drift.example/rewritten#s2"' in out
    assert f"href='{WB}/20190101000000/https://drift.example/replaced?a=1&amp;b=2' title=x" in out
    assert "<a href=https://same.example/>" in out
    assert "data-versionurl" not in out
    assert_only_spans_changed(HTML, out, spans(HTML, "html"))

    # decorate: live targets kept, the capture the author saw named beside them
    out = decorated.text
    assert (decorated.drifted_decorated, decorated.drifted_fixed) == (2, 0)
    assert (
        '<a class=c HREF="https://drift.example/rewritten#s2" '
        'data-originalurl="https://drift.example/rewritten#s2" '
        f'data-versionurl="{WB}/20190101000000/https://drift.example/rewritten" '
        'data-versiondate="2019-01-01">rewritten</a>'
    ) in out
    assert (
        f'data-versionurl="{WB}/20190101000000/https://drift.example/replaced?a=1&amp;b=2"' in out
    )
    assert out.count("data-versionurl") == 2  # not the unchanged link, nor one without capture
    assert "2 drifted link(s) decorated with the capture the author saw" in decorated.summary()
    # the only change is the inserted attributes: without them the output is the input (the
    # dead link aside, whose target is its capture)
    dead_capture = f"{WB}/20190101000000/https://dead.example/x"
    assert ROBUST.sub("", out) == HTML.replace('"https://dead.example/x"', f'"{dead_capture}"')

    # with --robust-links every link with a capture is decorated; drifted ones with the
    # citation capture (the replaced page's newer capture is not used)
    out = both.text
    assert out.count("data-versionurl") == 5
    assert "20240101000000/https://drift.example/replaced" not in out
    assert f'data-versionurl="{WB}/20240101000000/https://drift.example/no-capture"' in out
    assert ROBUST.sub("", out) == HTML.replace('"https://dead.example/x"', f'"{dead_capture}"')


def test_drifted_mode_errors(db: Database) -> None:
    fill(db, MARKDOWN, "markdown", "drift.md")
    with db.session() as session:
        with pytest.raises(UsageError, match="HTML articles only"):
            repair_bytes(session, MARKDOWN.encode(), "drift.md", drifted="decorate")
        with pytest.raises(UsageError, match="unknown mode 'everything'"):
            repair_bytes(session, MARKDOWN.encode(), "drift.md", drifted="everything")


def test_linkwatch_fix_drifted_command(
    tmp_path: Path,
    sqlite_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    (tmp_path / "none.toml").write_text("")
    monkeypatch.setenv("LINKWATCH_CONFIG", str(tmp_path / "none.toml"))
    database = open_database(sqlite_url)
    try:
        fill(database, MARKDOWN, "markdown", "drift.md")
    finally:
        database.dispose()
    source = tmp_path / "drift.md"
    source.write_bytes(MARKDOWN.encode())
    out = tmp_path / "fixed.md"
    assert run(["fix", str(source), "--drifted", "archive", "--output", str(out)]) == 0
    assert "3 drifted link(s) pointed at the capture the author saw" in capsys.readouterr().err
    assert out.read_bytes().count(b"/20190101000000/https://drift.example/") == 3
    assert run(["fix", str(source), "--drifted", "decorate"]) == 2
    err = capsys.readouterr().err
    assert "--drifted decorate applies to HTML articles only" in err and err.count("\n") == 1
