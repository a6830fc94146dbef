"""The repaired article: only link targets change; every other byte stays as it was."""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from service.articles.extract import parse_article
from service.articles.sources import read_article_file
from service.cli.app import run
from service.model import CheckResult, Outcome
from service.reports.fix import fix_text, markdown_target
from service.reports.repair import repair_bytes
from service.store import repo
from service.store.db import Database, open_database
from service.store.tables import SnapshotRow
from tests.reports.sample import RULE

SEED = Path("config/articles/us-intransigence-trump-kim.md")
T0 = datetime(2024, 3, 1, 8, 0, tzinfo=UTC)
WB = "https://web.archive.org/web"


@pytest.fixture
def db(sqlite_url: str) -> Iterator[Database]:
    database = open_database(sqlite_url)
    yield database
    database.dispose()


def record(db: Database, url: str, outcomes: list[Outcome], final_url: str | None = None) -> int:
    """Record real checks of `url` (12 h apart) through the store and its health state machine."""
    with db.session() as session:
        link = repo.links_for_urls(session, [url])[url]
        assert link.id is not None
        for i, outcome in enumerate(outcomes):
            at = T0 + timedelta(hours=1 + 13 * i)
            status = {Outcome.NOT_FOUND: 404, Outcome.OK: 200, Outcome.MOVED: 200}.get(outcome)
            repo.record_check(
                session,
                link.id,
                CheckResult(
                    url=url, outcome=outcome, checked_at=at, http_status=status, final_url=final_url
                ),
                RULE,
            )
        return link.id


def capture(db: Database, link_id: int, role: str, archive_url: str, when: datetime) -> None:
    with db.session() as session:
        session.add(
            SnapshotRow(
                link_id=link_id,
                role=role,
                looked_up_at=T0,
                found=True,
                archive_url=archive_url,
                captured_at=when,
                status=200,
            )
        )


def changed_regions(before: str, after: str) -> list[tuple[int, int, str]]:
    """Every region of `before` that differs in `after`: (start, end, replacement)."""
    matcher = difflib.SequenceMatcher(None, before, after, autojunk=False)
    return [
        (i1, i2, after[j1:j2]) for tag, i1, i2, j1, j2 in matcher.get_opcodes() if tag != "equal"
    ]


def assert_only_spans_changed(before: str, after: str, spans: list[tuple[int, int]]) -> None:
    for start, end, _ in changed_regions(before, after):
        assert any(s <= start and end <= e + 1 for s, e in spans), (
            start,
            end,
            before[start - 20 : end + 20],
        )


# -- the seed article ------------------------------------------------------------------------


def test_seed_article_only_the_dead_link_target_changes(db: Database) -> None:
    data = SEED.read_bytes()
    article = read_article_file(SEED, published="2018-05-26")
    with db.session() as session:
        repo.sync_article(session, article, T0)
    http = [o for o in article.occurrences if o.url and o.url.startswith("http")]
    assert len(http) == 1
    occ = http[0]
    with db.session() as session:  # nothing dead yet: the output is the input
        untouched = repair_bytes(session, data, str(SEED))
    assert untouched.data == data and untouched.dead_fixed == 0

    link_id = record(db, occ.url or "", [Outcome.NOT_FOUND] * 3)
    archived = f"{WB}/20180526120000/http://www.globalresearch.ca/"
    capture(db, link_id, "citation", archived, datetime(2018, 5, 26, 12, tzinfo=UTC))
    capture(db, link_id, "latest", f"{WB}/20240101000000/http://www.globalresearch.ca/", T0)
    with db.session() as session:
        fixed = repair_bytes(session, data, str(SEED))
    assert fixed.dead_fixed == 1
    text = data.decode("utf-8")
    assert occ.href_span is not None
    start, end = occ.href_span
    prefix, suffix = text[:start].encode(), text[end:].encode()
    assert fixed.data.startswith(prefix) and fixed.data.endswith(suffix)
    assert fixed.data[len(prefix) : len(fixed.data) - len(suffix)] == archived.encode()
    assert len(fixed.data) == len(data) - (end - start) + len(archived)


def test_seed_article_with_crlf_and_bom_keeps_them(db: Database, tmp_path: Path) -> None:
    data = b"\xef\xbb\xbf" + SEED.read_bytes().replace(b"\n", b"\r\n")
    copy = tmp_path / "seed.md"
    copy.write_bytes(data)
    article = read_article_file(copy)
    with db.session() as session:
        repo.sync_article(session, article, T0)
    link_id = record(db, "http://www.globalresearch.ca/", [Outcome.NOT_FOUND] * 3)
    archived = f"{WB}/20180526120000/http://www.globalresearch.ca/"
    capture(db, link_id, "citation", archived, datetime(2018, 5, 26, 12, tzinfo=UTC))
    with db.session() as session:
        fixed = repair_bytes(session, data, str(copy))
    assert fixed.data.startswith(b"\xef\xbb\xbf")
    assert fixed.data.replace(archived.encode(), b"http://www.globalresearch.ca") == data
    assert fixed.data.count(b"\r\n") == data.count(b"\r\n")


def test_suspect_links_are_not_rewritten(db: Database) -> None:
    data = SEED.read_bytes()
    with db.session() as session:
        repo.sync_article(session, read_article_file(SEED), T0)
    link_id = record(
        db, "http://www.globalresearch.ca/", [Outcome.NOT_FOUND] * 2
    )  # 13 h: not confirmed
    capture(db, link_id, "citation", f"{WB}/2018/http://www.globalresearch.ca/", T0)
    with db.session() as session:
        assert repair_bytes(session, data, str(SEED)).data == data


# -- an HTML article -------------------------------------------------------------------------

HTML = (
    '<!DOCTYPE html>\r\n<html><head><meta charset="utf-8">'
    "<title>Éditorial – “liens”</title></head>\r\n"
    '<body>\r\n<!-- <a href="https://dead.example/a">in a comment</a> -->\r\n'
    '<p>Un <A HREF="https://dead.example/a" class=x>lien mort</A>, '
    "<a title='t' href='https://dead.example/b?x=1&amp;y=2'>un autre</a>,\r\n"
    "<a href=https://dead.example/c>sans guillemets</a>, "
    '<a href="https://moved.example/old#part">déplacé</a>,\r\n'
    '<a href="https://alive.example/">vivant</a> et <a href="#top">haut</a>.</p>\r\n'
    "</body></html>\r\n"
)


def fill_html(db: Database, text: str) -> dict[str, int]:
    article = parse_article(text, "html", "article.html")
    with db.session() as session:
        repo.sync_article(session, article, T0)
    ids = {
        "a": record(db, "https://dead.example/a", [Outcome.NOT_FOUND] * 3),
        "b": record(db, "https://dead.example/b?x=1&y=2", [Outcome.NOT_FOUND] * 3),
        "c": record(db, "https://dead.example/c", [Outcome.NOT_FOUND] * 3),
        "moved": record(
            db, "https://moved.example/old", [Outcome.MOVED], "https://moved.example/new"
        ),
        "alive": record(db, "https://alive.example/", [Outcome.OK]),
    }
    capture(
        db,
        ids["a"],
        "citation",
        f"{WB}/20190101000000/https://dead.example/a",
        datetime(2019, 1, 1, tzinfo=UTC),
    )
    capture(
        db,
        ids["b"],
        "latest",
        f"{WB}/20200101000000/https://dead.example/b?x=1&y=2",
        datetime(2020, 1, 1, tzinfo=UTC),
    )
    capture(
        db,
        ids["c"],
        "citation",
        f"{WB}/20190202000000/https://dead.example/c",
        datetime(2019, 2, 2, tzinfo=UTC),
    )
    capture(
        db,
        ids["alive"],
        "latest",
        f"{WB}/20230303000000/https://alive.example/",
        datetime(2023, 3, 3, 5, tzinfo=UTC),
    )
    return ids


def test_html_article_dead_and_moved_targets_only(db: Database) -> None:
    fill_html(db, HTML)
    data = HTML.encode("utf-8")
    with db.session() as session:
        fixed = repair_bytes(session, data, "article.html", update_moved=True)
    assert (fixed.dead_fixed, fixed.moved_updated) == (3, 1)
    out = fixed.data.decode("utf-8")
    assert 'HREF="https://web.archive.org/web/20190101000000/https://dead.example/a" class=x' in out
    # the citation capture is missing for b: the newest one is used, & written as &amp;
    assert (
        "href='https://web.archive.org/web/20200101000000/https://dead.example/b?x=1&amp;y=2'"
        in out
    )
    assert "<a href=https://web.archive.org/web/20190202000000/https://dead.example/c>" in out
    assert '<a href="https://moved.example/new#part">' in out
    assert '<a href="https://alive.example/">' in out
    assert '<!-- <a href="https://dead.example/a">in a comment</a> -->' in out
    spans = [
        o.href_span for o in parse_article(HTML, "html", "article.html").occurrences if o.href_span
    ]
    assert_only_spans_changed(HTML, out, spans)


def test_html_robust_links_decorate_every_link_with_a_capture(db: Database) -> None:
    fill_html(db, HTML)
    with db.session() as session:
        fixed = repair_bytes(session, HTML.encode(), "article.html", robust_links=True)
    out = fixed.text
    assert fixed.robust_decorated == 4
    assert (
        '<a href="https://alive.example/" data-originalurl="https://alive.example/" '
        'data-versionurl="https://web.archive.org/web/20230303000000/https://alive.example/" '
        'data-versiondate="2023-03-03">vivant</a>'
    ) in out
    assert 'data-originalurl="https://dead.example/b?x=1&amp;y=2"' in out
    assert '<a href="https://moved.example/old#part">' in out  # no capture, not decorated
    # outside the link targets and the inserted attributes, nothing changed
    inserted = [
        (o.href_span[1], o.href_span[1])
        for o in parse_article(HTML, "html", "a.html").occurrences
        if o.href_span
    ]
    spans = [o.href_span for o in parse_article(HTML, "html", "a.html").occurrences if o.href_span]
    assert_only_spans_changed(HTML, out, spans + inserted)
    # decorating twice does not add the attributes twice
    with db.session() as session:
        again = repair_bytes(session, fixed.data, "article.html", robust_links=True)
    assert again.text.count("data-versionurl") == 4


def test_robust_links_refused_for_markdown(db: Database) -> None:
    from service.errors import UsageError

    with db.session() as session, pytest.raises(UsageError, match="HTML"):
        repair_bytes(session, SEED.read_bytes(), str(SEED), robust_links=True)


# -- Markdown targets that need care ---------------------------------------------------------


def test_markdown_targets_with_spaces_and_parentheses_stay_links(db: Database) -> None:
    text = (
        "# T\n\nSee [the (old) page](https://dead.example/wiki/A_(b)) and "
        '[ref][r] and [titled](https://dead.example/t "A title").\n\n'
        "[r]: <https://dead.example/ref>\n"
    )
    article = parse_article(text, "markdown", "t.md")
    with db.session() as session:
        repo.sync_article(session, article, T0)
    weird = {
        "https://dead.example/wiki/A_(b)": f"{WB}/2019/https://dead.example/wiki/A_(b) c",
        "https://dead.example/t": f"{WB}/2019/https://dead.example/t<x>",
        "https://dead.example/ref": f"{WB}/2019/https://dead.example/ref (1)",
    }
    for url, archived in weird.items():
        link_id = record(db, url, [Outcome.NOT_FOUND] * 3)
        capture(db, link_id, "citation", archived, datetime(2019, 1, 1, tzinfo=UTC))
    with db.session() as session:
        fixed = repair_bytes(session, text.encode(), "t.md")
    assert fixed.dead_fixed == 3
    again = parse_article(fixed.text, "markdown", "t.md")
    hrefs = [o.href for o in again.occurrences]
    assert hrefs == [
        f"{WB}/2019/https://dead.example/wiki/A_%28b%29%20c",
        f"{WB}/2019/https://dead.example/ref (1)",  # inside <...>: spaces and parentheses are fine
        f"{WB}/2019/https://dead.example/t%3Cx%3E",
    ]
    assert [o.anchor_text for o in again.occurrences] == ["the (old) page", "ref", "titled"]
    assert '"A title")' in fixed.text and "[r]: <" in fixed.text


def test_fix_text_is_pure_and_rejects_bad_spans() -> None:
    text = "[a](http://x.example/1) [b](http://x.example/2)\n"
    occs = parse_article(text, "markdown", "m.md").occurrences
    assert fix_text(text, occs, {}) == text
    assert (
        fix_text(text, occs, {1: "http://y.example/(2)"})
        == "[a](http://x.example/1) [b](http://y.example/%282%29)\n"
    )
    assert markdown_target("a b", bracketed=True) == "a b"
    assert markdown_target("a<b>", bracketed=True) == "a%3Cb%3E"
    from dataclasses import replace

    bad = [replace(occs[0], href_span=(0, 10_000))]
    with pytest.raises(ValueError, match="outside"):
        fix_text(text, bad, {0: "http://z.example/"})


# -- the command -----------------------------------------------------------------------------


def test_linkwatch_fix_command_writes_the_file(
    tmp_path: Path,
    sqlite_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    monkeypatch.setenv("LINKWATCH_CONFIG", str(tmp_path / "none.toml"))
    (tmp_path / "none.toml").write_text("")
    database = open_database(sqlite_url)
    try:
        fill_html(database, HTML)
    finally:
        database.dispose()
    source = tmp_path / "in.html"
    source.write_bytes(HTML.encode())
    out = tmp_path / "out.html"
    assert run(["fix", str(source), "--output", str(out), "--robust-links"]) == 0
    assert "3 dead link(s) pointed at an archived copy" in capsys.readouterr().err
    assert b'data-versiondate="2019-01-01"' in out.read_bytes()
    assert run(["fix", str(tmp_path / "missing.md")]) == 2
    assert "no such file" in capsys.readouterr().err
    assert run(["fix", str(SEED), "--robust-links"]) == 2
    assert "HTML articles only" in capsys.readouterr().err
