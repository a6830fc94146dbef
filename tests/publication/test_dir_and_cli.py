"""Folder sources and the command line (`linkwatch add DIR | --sitemap | --feed`, `sources`)."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from service.cli.app import run
from service.monitor.sources import SourceStats, scan_dir_source
from service.settings import Settings
from service.store import repo
from service.store import sources as store
from service.store.db import open_database
from service.store.tables import ArticleRow, SourceRow
from tests.publication.conftest import site_settings
from tests.publication.site import NewsSite

T0 = datetime(2025, 1, 6, 8, 0, tzinfo=UTC)

HTML_PAGE = """<!doctype html><html><body><nav><a href="https://site.example/">Home</a></nav>
<article><p>Long body text of the article with a citation:
<a href="https://cited.example/paper">the paper</a> and more words here.</p></article>
<footer><a href="https://site.example/imprint">Imprint</a></footer></body></html>"""


def _write(folder: Path) -> None:
    (folder / "posts").mkdir(parents=True)
    (folder / "posts" / "one.md").write_text(
        "---\ndate: 2016-01-02\n---\n# One\n\nSee [a](https://a.example/1).\n", encoding="utf-8"
    )
    (folder / "posts" / "two.html").write_text(HTML_PAGE, encoding="utf-8")
    (folder / ".git").mkdir()
    (folder / ".git" / "HEAD.md").write_text("[x](https://git.example/)", encoding="utf-8")
    (folder / "notes.txt.bak").write_text("[x](https://bak.example/)", encoding="utf-8")


def test_folder_source_reads_changes_and_retires(sqlite_url: str, tmp_path: Path) -> None:
    folder = tmp_path / "content"
    _write(folder)
    db = open_database(sqlite_url)
    settings = Settings.model_validate({"database": {"url": sqlite_url}})
    try:
        with db.session() as session:
            source = store.add_source(session, "dir", str(folder), T0)
        stats = SourceStats()
        scan_dir_source(db, source, T0, settings, stats)
        one, two = str(folder / "posts" / "one.md"), str(folder / "posts" / "two.html")
        with db.session() as session:
            rows = {r.location: r for r in session.exec(select(ArticleRow)).all()}
            assert set(rows) == {one, two}  # hidden folders and unknown suffixes skipped
            links_two = [
                link.url for _, link in repo.article_occurrences(session, rows[two].id or 0) if link
            ]
        assert links_two == ["https://cited.example/paper"]  # HTML: body links only
        published = rows[one].published
        assert published is not None and published.year == 2016

        # Unchanged: nothing re-read. Changed: re-read. Deleted: retired.
        again = SourceStats()
        scan_dir_source(db, source, T0 + timedelta(hours=7), settings, again)
        assert again.fetched == 0 and again.unchanged == 2
        Path(one).write_text("# One\n\nNow [b](https://b.example/2).\n", encoding="utf-8")
        os.utime(one, ns=(10**18, 10**18))
        Path(two).unlink()
        third = SourceStats()
        scan_dir_source(db, source, T0 + timedelta(hours=14), settings, third)
        assert (third.fetched, third.retired) == (1, 1)
        with db.session() as session:
            row = repo.get_article(session, one)
            assert row is not None and row.id is not None
            urls = [link.url for _, link in repo.article_occurrences(session, row.id) if link]
            assert urls == ["https://b.example/2"]
            gone = repo.get_article(session, two)
            assert gone is not None and not gone.active
    finally:
        db.dispose()


def _config(tmp_path: Path, site: NewsSite, url: str) -> Path:
    settings = site_settings(site, url)
    pins = ", ".join(f'"{p}"' for p in settings.checks.resolve)
    path = tmp_path / "linkwatch.toml"
    path.write_text(
        f'[database]\nurl = "{url}"\n[checks]\nresolve = [{pins}]\nallow_private = true\n'
        "per_host_interval_s = 0\n",
        encoding="utf-8",
    )
    return path


def test_cli_add_sitemap_feed_dir_and_sources(
    sqlite_url: str, tmp_path: Path, site: NewsSite, capsys: pytest.CaptureFixture[str]
) -> None:
    config = str(_config(tmp_path, site, sqlite_url))
    assert run(["add", "--sitemap", site.url("/sitemap_index.xml"), "--config", config]) == 0
    out = capsys.readouterr().out
    assert "watching sitemap source 1" in out and "6 articles, 5 read" in out
    assert "1 refused by robots.txt" in out
    assert run(["add", "--feed", site.url("/feed.atom"), "--tag", "notes", "--config", config]) == 0
    assert "2 articles, 2 read" in capsys.readouterr().out
    folder = tmp_path / "content"
    _write(folder)
    assert run(["add", str(folder), "--config", config]) == 0
    assert "watching dir source 3" in capsys.readouterr().out

    assert run(["sources", "list", "--config", config]) == 0
    listing = capsys.readouterr().out
    assert "sitemap" in listing and "feed" in listing and str(folder) in listing

    db = open_database(sqlite_url)
    try:
        with db.session() as session:
            note = repo.get_article(session, site.url("/notes/x"))
            assert note is not None and note.tags == "notes"
    finally:
        db.dispose()

    assert run(["sources", "remove", "2", "--config", config]) == 0
    assert "2 articles retired" in capsys.readouterr().out
    db = open_database(sqlite_url)
    try:
        with db.session() as session:
            removed = session.get(SourceRow, 2)
            assert removed is not None and not removed.active
    finally:
        db.dispose()


def test_cli_errors_are_one_line(
    sqlite_url: str, tmp_path: Path, site: NewsSite, capsys: pytest.CaptureFixture[str]
) -> None:
    config = str(_config(tmp_path, site, sqlite_url))
    assert run(["add", "--sitemap", "not a url", "--config", config]) == 2
    assert "--sitemap: 'not a url' is not an http(s) URL" in capsys.readouterr().err
    assert run(["add", "--feed", site.url("/missing.xml"), "--config", config]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "HTTP 404" in err
    assert run(["add", "--sitemap", site.url("/feed.rss"), "x", "--config", config]) == 2
    assert "give one of" in capsys.readouterr().err
    assert run(["sources", "scan", "99", "--config", config]) == 2
    db = open_database(sqlite_url)
    try:
        with db.session() as session:
            assert store.list_sources(session, include_inactive=True) == []  # nothing kept
    finally:
        db.dispose()
