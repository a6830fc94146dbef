"""`linkwatch recover` end to end: the fake Wayback server serves synthetic captured originals."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from sqlmodel import select

from service.cli.app import run
from service.store.db import open_database
from service.store.tables import LinkRow
from tests.recover.pages import page
from tests.support.fake_wayback import FailStatus, FakeCapture, FakeWayback

ORIGINAL = "https://news.example/2018/05/story"
TS = "20180527093000"


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[FakeWayback]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LINKWATCH_CONFIG", raising=False)
    wb = FakeWayback()
    with wb.running_in_thread():
        monkeypatch.setenv("LINKWATCH_WAYBACK_URL", wb.base_url)
        monkeypatch.setenv("LINKWATCH_WAYBACK__TIMEOUT_S", "5")
        monkeypatch.setenv("LINKWATCH_WAYBACK__CDX_PER_MINUTE", "60000")
        monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'lw.db'}")
        yield wb


def article(tmp_path: Path, body: str, *, url: str | None = ORIGINAL) -> Path:
    front = "---\ntitle: A story\npublished: 2018-05-26\n"
    if url:
        front += f"source_url: {url}\n"
    path = tmp_path / "story.md"
    path.write_bytes((front + "---\n\n" + body).encode())
    return path


def recover_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, object]:
    capsys.readouterr()
    code = run(["recover", *args, "--format", "json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    data: dict[str, object] = json.loads(captured.out)
    return data


def links_of(data: dict[str, object]) -> list[dict[str, object]]:
    links = data["links"]
    assert isinstance(links, list)
    return links


def test_recovers_exact_duplicates_fuzzy_and_leaves_absent(
    server: FakeWayback, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    server.add_capture(
        ORIGINAL,
        FakeCapture(
            TS,
            body=page(
                [
                    ("cancelled", "https://e.org/cancel"),
                    ("responded", "https://e.org/r1"),
                    ("leave open room", "https://e.org/room"),
                    ("responded", "https://e.org/r2"),
                ],
                nav=[("responded", "https://wrong.example/nav"), ("Asia", "/asia")],
                sidebar=[("missing link", "https://wrong.example/side")],
                footer=[("cancelled", "https://wrong.example/foot")],
            ),
        ),
    )
    src = article(
        tmp_path,
        "He [Cancelled](#) it. They [responded](#), leaving [leaves open room](#).\n\n"
        "Later they [responded](#) again; [missing link](#) and [Asia](#) were never there.\n",
    )
    before = src.read_bytes()
    data = recover_json(capsys, str(src))
    got = [(d["anchor_text"], d["url"], d["confidence"], d["match"]) for d in links_of(data)]
    assert got[:4] == [
        ("Cancelled", "https://e.org/cancel", 1.0, "exact"),
        ("responded", "https://e.org/r1", 1.0, "exact"),
        ("leaves open room", "https://e.org/room", got[2][2], "fuzzy"),
        ("responded", "https://e.org/r2", 1.0, "exact"),
    ]
    assert 0.8 <= float(got[2][2]) < 1.0  # type: ignore[arg-type]
    assert got[4:] == [("missing link", None, 0.0, "none"), ("Asia", None, 0.0, "none")]
    assert all(d["reason"] for d in links_of(data)[4:])
    capture = data["capture"]
    assert isinstance(capture, dict)
    assert capture["matched_by"] == "exact"
    assert capture["raw_url"] == f"{server.base_url}/web/{TS}id_/{ORIGINAL}"
    assert capture["archive_url"] == f"{server.base_url}/web/{TS}/{ORIGINAL}"
    assert (data["recovered"], data["unrecovered"]) == (4, 2)
    assert src.read_bytes() == before  # no --write: nothing written
    assert [h.path_qs for h in server.hits if h.endpoint == "playback"] == [
        f"/web/{TS}id_/{ORIGINAL}"
    ]


def test_table_names_the_capture(
    server: FakeWayback, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    server.add_capture(ORIGINAL, FakeCapture(TS, body=page([("one", "https://e.org/1")])))
    src = article(tmp_path, "[one](#) and [two](#)\n")
    assert run(["recover", str(src)]) == 0
    out = capsys.readouterr().out
    assert (
        f"capture: {server.base_url}/web/{TS}/{ORIGINAL} (captured 2018-05-27 09:30:00 UTC)" in out
    )
    assert "https://e.org/1" in out and "1.00" in out
    assert "recovered 1 of 2 lost link targets (1 exact, 0 fuzzy); 1 unrecovered" in out


def test_capture_closest_to_the_published_date_before_after(
    server: FakeWayback, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for ts, target in (
        ("20170101000000", "https://e.org/too-early"),
        ("20180525120000", "https://e.org/before"),
        ("20180601000000", "https://e.org/after"),
        ("20230101000000", "https://e.org/latest"),
    ):
        server.add_capture(ORIGINAL, FakeCapture(ts, body=page([("x link", target)])))
    server.add_capture(ORIGINAL, FakeCapture("20180526120000", status=404, body="gone"))
    src = article(tmp_path, "[x link](#)\n")
    assert links_of(recover_json(capsys, str(src)))[0]["url"] == "https://e.org/before"
    # earlier than every capture: the first one after
    data = recover_json(capsys, str(src), "--published", "2016-05-01")
    assert links_of(data)[0]["url"] == "https://e.org/too-early"


def test_archive_rewritten_hrefs_unwrapped(
    server: FakeWayback, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    body = page(
        [
            ("plain", f"/web/{TS}/https://e.org/plain"),
            ("image", f"https://web.archive.org/web/{TS}im_/https://e.org/img.png"),
            ("own host", f"{server.base_url}/web/{TS}/https://e.org/own"),
            ("relative", "/2018/05/other"),
        ]
    )
    server.add_capture(ORIGINAL, FakeCapture(TS, body=body))
    src = article(tmp_path, "[plain](#) [image](#) [own host](#) [relative](#)\n")
    urls = [d["url"] for d in links_of(recover_json(capsys, str(src)))]
    assert urls == [
        "https://e.org/plain",
        "https://e.org/img.png",
        "https://e.org/own",
        "https://news.example/2018/05/other",
    ]


def test_prefix_match_when_the_url_lacks_the_article_id(
    server: FakeWayback, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    full = ORIGINAL + "/5642123"
    server.add_capture(full, FakeCapture(TS, body=page([("one", "https://e.org/1")])))
    server.add_capture(full + "?print=1", FakeCapture(TS, body=page([("one", "https://e.org/p")])))
    server.add_capture(ORIGINAL + "/5642123/logo.png", FakeCapture(TS, mimetype="image/png"))
    src = article(tmp_path, "[one](#)\n", url=ORIGINAL + "/")
    data = recover_json(capsys, str(src))
    capture = data["capture"]
    assert isinstance(capture, dict)
    assert (capture["matched_by"], capture["original_url"]) == ("prefix", full)
    assert links_of(data)[0]["url"] == "https://e.org/1"
    assert run(["recover", str(src)]) == 0
    assert f"original: {full} (no capture of {ORIGINAL}/" in capsys.readouterr().out


def test_no_capture_exit_1_and_nothing_written(
    server: FakeWayback, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = article(tmp_path, "[one](#)\n")
    before = src.read_bytes()
    out = tmp_path / "out.md"
    assert run(["recover", str(src), "--write", str(out)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"linkwatch: no capture of {ORIGINAL} in the Wayback Machine")
    assert err.count("\n") == 1
    assert not out.exists() and src.read_bytes() == before
    assert run(["recover", str(src), "--write", str(src)]) == 1
    assert src.read_bytes() == before


def test_fetch_failure_exit_1_and_nothing_written(
    server: FakeWayback, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    server.add_capture(ORIGINAL, FakeCapture(TS, body=page([("one", "https://e.org/1")])))
    server.fail_with(FailStatus(503), endpoints=["playback"])
    src = article(tmp_path, "[one](#)\n")
    before = src.read_bytes()
    assert run(["recover", str(src), "--write", str(src)]) == 1
    err = capsys.readouterr().err
    raw = f"{server.base_url}/web/{TS}id_/{ORIGINAL}"
    assert err == f"linkwatch: cannot fetch the capture {raw}: HTTP 503\n"
    assert src.read_bytes() == before
    server.heal()
    server.fail_with(FailStatus(503), endpoints=["cdx", "available"])
    assert run(["recover", str(src)]) == 1
    assert "archive lookup of" in capsys.readouterr().err


def test_bad_input_one_line(
    server: FakeWayback, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = article(tmp_path, "[one](#)\n", url=None)
    assert run(["recover", str(src)]) == 2
    assert "give --source-url" in capsys.readouterr().err
    assert run(["recover", str(src), "--source-url", ORIGINAL, "--format", "xml"]) == 2
    assert run(["recover", str(src), "--published", "May 2018", "--source-url", ORIGINAL]) == 2
    assert run(["recover", str(tmp_path / "nope.md")]) == 2
    assert run(["recover", str(src), "--watch"]) == 2
    assert server.count() == 0
    none = tmp_path / "none.md"
    none.write_text("[a](https://e.org/a)\n")
    assert run(["recover", str(none), "--source-url", ORIGINAL]) == 0
    assert "no lost (#) link targets" in capsys.readouterr().out


def test_source_url_and_published_flags_override(
    server: FakeWayback, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = "https://other.example/copy"
    server.add_capture(
        other, FakeCapture("20200101000000", body=page([("one", "https://e.org/o")]))
    )
    src = article(tmp_path, "[one](#)\n")
    data = recover_json(capsys, str(src), "--source-url", other, "--published", "2020-01-01")
    assert links_of(data)[0]["url"] == "https://e.org/o"
    assert data["published"] == "2020-01-01"


def test_html_article_written_in_place(
    server: FakeWayback, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    server.add_capture(ORIGINAL, FakeCapture(TS, body=page([("one", "https://e.org/1?a=1&b=2")])))
    src = tmp_path / "copy.html"
    head = f'<html><head><link rel="canonical" href="{ORIGINAL}"></head>'
    src.write_text(
        head + "<body><p><a href='#' class=x>one</a> <a href=\"#\">two</a></p></body></html>"
    )
    assert run(["recover", str(src), "--published", "2018-05-26", "--write", str(src)]) == 0
    assert src.read_text() == (
        head + "<body><p><a href='https://e.org/1?a=1&amp;b=2' class=x>one</a> "
        '<a href="#">two</a></p></body></html>'
    )


def test_min_confidence_writes_only_sure_targets(
    server: FakeWayback, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    server.add_capture(
        ORIGINAL,
        FakeCapture(
            TS,
            body=page([("exact one", "https://e.org/1"), ("leave open room", "https://e.org/2")]),
        ),
    )
    src = article(tmp_path, "[exact one](#) [leaves open room](#)\n")
    out = tmp_path / "out.md"
    assert run(["recover", str(src), "--write", str(out), "--min-confidence", "1"]) == 0
    assert out.read_text().endswith("[exact one](https://e.org/1) [leaves open room](#)\n")


def test_write_joins_the_watch_with_the_published_date(
    server: FakeWayback, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    server.add_capture(ORIGINAL, FakeCapture(TS, body=page([("one", "https://e.org/1")])))
    src = article(tmp_path, "[one](#) and [kept](https://kept.example/)\n")
    assert run(["add", str(src)]) == 0
    assert run(["recover", str(src), "--write", str(src)]) == 0
    out = capsys.readouterr().out
    assert f"wrote {src} (1 link targets recovered)" in out
    assert "watching article 1:" in out and "cited 2018-05-26" in out
    db = open_database(f"sqlite:///{tmp_path / 'lw.db'}")
    try:
        with db.session() as session:
            links = {link.url: link for link in session.exec(select(LinkRow))}
    finally:
        db.dispose()
    assert set(links) == {"https://e.org/1", "https://kept.example/"}
    assert links["https://e.org/1"].citation_date == date(2018, 5, 26)
    assert not links["https://e.org/1"].retired


def test_write_elsewhere_with_watch_flag(
    server: FakeWayback, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    server.add_capture(ORIGINAL, FakeCapture(TS, body=page([("one", "https://e.org/1")])))
    src = article(tmp_path, "[one](#)\n")
    out = tmp_path / "fixed.md"
    assert run(["recover", str(src), "--write", str(out)]) == 0
    assert not (tmp_path / "lw.db").exists()  # not watched, no --watch: the store is untouched
    capsys.readouterr()
    assert run(["recover", str(src), "--write", str(out), "--watch", "--format", "json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["written"] == str(out)  # messages go to stderr with JSON
    assert f"wrote {out} (1 link targets recovered)" in captured.err
    assert f"watching article 1: {out}" in captured.err
    assert out.read_text().endswith("[one](https://e.org/1)\n")


def test_url_source(
    server: FakeWayback,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LINKWATCH_CHECKS__ALLOW_PRIVATE", "true")  # the copy is on loopback
    server.add_capture(ORIGINAL, FakeCapture(TS, body=page([("one", "https://e.org/1")])))
    copy = "https://copy.example/syndicated"
    server.add_capture(copy, FakeCapture("20200101000000", body='<p><a href="#">one</a></p>'))
    source = f"{server.base_url}/web/20200101000000id_/{copy}"
    data = recover_json(capsys, source, "--source-url", ORIGINAL, "--published", "2018-05-26")
    assert links_of(data)[0]["url"] == "https://e.org/1"
    assert run(["recover", source, "--write", str(tmp_path / "x.html")]) == 2
    assert "--write needs an article file" in capsys.readouterr().err
