"""`linkwatch recover SOURCE`: lost (`#`) link targets, recovered from the archived original.

    linkwatch recover article.md [--source-url URL] [--published DATE] [--format table|json]
                                 [--write FILE] [--min-confidence X] [--watch] [--all-links]

The article's front matter (or HTML metadata) supplies the original URL and the published
date; the flags override them. The archived original is found and read by
`service.archive.recover`, its body links aligned to the article's placeholder links by
`service.articles.align`. `--write FILE` writes the article with the recovered targets: only
the characters of those targets change (`service.reports.fix.fix_text`), every other byte of
the file is kept. When the article is under watch (or with `--watch`) the written file is
then recorded, so the recovered links are checked like any other link, cited on the
article's published date. No capture, or a capture that cannot be fetched: one line, exit 1,
nothing written.
"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.engine import make_url

from service.articles.sources import is_url, read_article_file
from service.cli.app import app
from service.cli.common import open_db, parse_date, settings_from_cli
from service.errors import InputError, UsageError
from service.model import Article, ArticleMeta, LinkKind
from service.settings import Settings
from service.store import repo

if TYPE_CHECKING:
    from service.archive.recover import ArchivedOriginal
    from service.articles.align import Placeholder, Recovery

FORMATS = ("table", "json")


@dataclass(frozen=True, slots=True)
class SourceFile:
    """An article file as read: bom + text.encode(encoding) == its bytes; the article parsed
    from that text (its occurrences' href spans are offsets into `text`)."""

    path: Path
    bom: bytes
    encoding: str
    text: str
    article: Article


# -- reading and writing the article ---------------------------------------------------------


def read_source(source: str, published: date | None, source_url: str | None) -> SourceFile:
    """Read an article file (InputError with one line when it cannot be read or parsed)."""
    from service.articles.extract import parse_article
    from service.articles.metadata import merge_meta
    from service.reports.repair import decode_exact

    checked = read_article_file(source, published=published, source_url=source_url)
    path = Path(source)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{source}: cannot read ({exc.strerror or type(exc).__name__})") from None
    bom, encoding, text = decode_exact(data, source)
    override = merge_meta(ArticleMeta(), published=published, source_url=source_url)
    article = parse_article(text, checked.format, source, meta_override=override)
    return SourceFile(path, bom, encoding, text, article)


def write_atomically(path: Path, data: bytes) -> None:
    """Replace `path` with `data` in one step (a temporary file renamed over it)."""
    folder = path.parent if str(path.parent) else Path(".")
    try:
        mode = path.stat().st_mode & 0o7777 if path.exists() else None
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            if mode is not None:
                os.chmod(tmp, mode)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None


def rewrite(source: SourceFile, recoveries: list[Recovery], min_confidence: float) -> bytes:
    """The article's bytes with the recovered targets written in; nothing else changes."""
    from service.reports.fix import fix_text

    replacements = {
        r.position: r.url for r in recoveries if r.url and r.confidence >= min_confidence
    }
    new_text = fix_text(
        source.text, source.article.occurrences, replacements, fmt=source.article.format
    )
    _verify(source, new_text, replacements)
    try:
        return source.bom + new_text.encode(source.encoding)
    except UnicodeEncodeError:
        raise InputError(
            f"{source.path}: a recovered target cannot be written in its encoding "
            f"({source.encoding}); convert the file to UTF-8 first"
        ) from None


def _verify(source: SourceFile, new_text: str, replacements: dict[int, str]) -> None:
    """The rewritten article still has the same links, the recovered ones now with targets."""
    from service.articles.extract import parse_article

    again = parse_article(
        new_text, source.article.format, str(source.path), meta_override=source.article.meta
    )
    before, after = source.article.occurrences, again.occurrences
    if len(before) != len(after) or any(
        (a.kind is LinkKind.PLACEHOLDER) != (b.position not in replacements)
        for a, b in zip(after, before, strict=True)
        if b.kind is LinkKind.PLACEHOLDER
    ):
        raise InputError(
            f"{source.path}: the rewritten article would not parse the same; not written"
        )


# -- the watch ---------------------------------------------------------------------------------


def _same_file(a: str, b: Path) -> bool:
    if is_url(a):
        return False
    try:
        return Path(a).resolve() == b.resolve()
    except OSError:
        return False


def _database_exists(settings: Settings) -> bool:
    url = make_url(settings.database.url)
    if url.get_backend_name() != "sqlite":
        return True
    database = url.database or ""
    return bool(database) and database != ":memory:" and Path(database).exists()


def watched_location(settings: Settings, path: Path) -> str | None:
    """The location under which this file is watched (configuration or database), else None."""
    for entry in settings.articles:
        if _same_file(entry.source, path):
            return entry.source
    if not _database_exists(settings):
        return None
    db = open_db(settings)
    try:
        with db.session() as session:
            for row in repo.list_articles(session):
                if _same_file(row.location, path):
                    return row.location
    finally:
        db.dispose()
    return None


def join_watch(settings: Settings, location: str, meta: ArticleMeta) -> tuple[int, int]:
    """Record the written article; (article id, http links it now cites)."""
    from service.monitor.watchlist import WatchEntry, add_article

    entry = WatchEntry(source=location, published=meta.published, source_url=meta.source_url)
    db = open_db(settings)

    async def _add() -> int:
        async with httpx.AsyncClient() as unused:  # a file: nothing is fetched
            row = await add_article(db, settings, entry, unused, datetime.now(UTC))
        assert row.id is not None
        return row.id

    try:
        article_id = asyncio.run(_add())
        with db.session() as session:
            occurrences = repo.article_occurrences(session, article_id)
    finally:
        db.dispose()
    return article_id, len({link.id for _, link in occurrences if link is not None})


# -- output ------------------------------------------------------------------------------------


def _when(original: ArchivedOriginal) -> str:
    return original.capture.timestamp.strftime("%Y-%m-%d %H:%M:%S UTC")


def render_json(
    source: str,
    article: Article,
    original: ArchivedOriginal,
    recoveries: list[Recovery],
    written: str | None,
) -> str:
    lines = {o.position: o.line for o in article.occurrences}
    data: dict[str, Any] = {
        "article": source,
        "source_url": original.requested_url,
        "published": article.meta.published.isoformat() if article.meta.published else None,
        "capture": {
            "original_url": original.capture.original_url,
            "matched_by": original.matched_by,
            "timestamp": original.capture.timestamp.isoformat(),
            "archive_url": original.capture.archive_url,
            "raw_url": original.raw_url,
        },
        "placeholders": len(recoveries),
        "recovered": sum(1 for r in recoveries if r.recovered),
        "unrecovered": sum(1 for r in recoveries if not r.recovered),
        "links": [
            {
                "position": r.position,
                "line": lines.get(r.position),
                "anchor_text": r.anchor_text,
                "url": r.url,
                "confidence": r.confidence,
                "match": r.match,
                "original_anchor_text": r.original_text,
                "original_position": r.original_position,
                "reason": r.reason,
            }
            for r in recoveries
        ],
        "written": written,
    }
    return json.dumps(data, indent=2, ensure_ascii=False)


def render_table(article: Article, original: ArchivedOriginal, recoveries: list[Recovery]) -> None:
    console = Console(width=220, soft_wrap=True, highlight=False)
    capture = original.capture
    console.print(f"capture: {capture.archive_url} (captured {_when(original)})", markup=False)
    if original.matched_by == "prefix":
        console.print(
            f"original: {capture.original_url} (no capture of {original.requested_url}; "
            "found by a prefix search under it)",
            markup=False,
        )
    lines = {o.position: o.line for o in article.occurrences}
    table = Table(box=None, pad_edge=False)
    for name, justify in (
        ("line", "right"),
        ("anchor text", "left"),
        ("recovered URL", "left"),
        ("confidence", "right"),
        ("note", "left"),
    ):
        table.add_column(name, justify=justify, overflow="fold")  # type: ignore[arg-type]
    for r in recoveries:
        note = r.reason or ""
        if r.match == "fuzzy" and r.original_text:
            note = f"original text: {r.original_text!r}"
        table.add_row(
            str(lines.get(r.position, "")),
            r.anchor_text or "(none)",
            r.url or "-",
            f"{r.confidence:.2f}",
            note,
        )
    console.print(table, markup=False)
    exact = sum(1 for r in recoveries if r.match == "exact")
    fuzzy = sum(1 for r in recoveries if r.match == "fuzzy")
    lost = sum(1 for r in recoveries if not r.recovered)
    console.print(
        f"recovered {exact + fuzzy} of {len(recoveries)} lost link targets "
        f"({exact} exact, {fuzzy} fuzzy); {lost} unrecovered",
        markup=False,
    )


# -- the command -------------------------------------------------------------------------------


def _placeholders(article: Article) -> list[Placeholder]:
    from service.articles.align import Placeholder

    return [
        Placeholder(o.position, o.anchor_text)
        for o in article.occurrences
        if o.kind is LinkKind.PLACEHOLDER
    ]


async def _fetch_url_article(
    settings: Settings, source: str, published: date | None, source_url: str | None
) -> Article:
    from service.articles.sources import fetch_article
    from service.checks.client import build_client

    client = build_client(settings.checks)
    try:
        fetched = await fetch_article(source, client, published=published, source_url=source_url)
    finally:
        await client.aclose()
    assert fetched is not None  # an unconditional GET never answers "not modified"
    return fetched.article


def _say(message: str, fmt: str) -> None:
    typer.echo(message, err=fmt == "json")


@app.command("recover")
def recover(
    source: str = typer.Argument(..., help="The article (a Markdown or HTML file, or a URL)."),
    source_url: str | None = typer.Option(
        None, "--source-url", help="The original article's URL (default: its metadata)."
    ),
    published: str | None = typer.Option(
        None, "--published", help="Its publication date, YYYY-MM-DD (default: its metadata)."
    ),
    fmt: str = typer.Option("table", "--format", "-f", help="table | json"),
    write: Path | None = typer.Option(
        None, "--write", help="Write the article with the recovered targets to FILE."
    ),
    min_confidence: float = typer.Option(
        0.0, "--min-confidence", help="Write only recoveries at least this confident (0-1)."
    ),
    watch: bool = typer.Option(
        False, "--watch", help="With --write: watch the written article (automatic when watched)."
    ),
    all_links: bool = typer.Option(
        False, "--all-links", help="Match against every link of the original page, not its body."
    ),
    config: Path | None = typer.Option(None, "--config", help="Configuration file."),
) -> None:
    """Recover lost (`#`) link targets from the archived original of the article."""
    from service.archive.recover import fetch_original, original_links
    from service.articles.align import align_links

    fmt = fmt.strip().lower()
    if fmt not in FORMATS:
        raise UsageError(f"--format: {fmt!r} is not one of {', '.join(FORMATS)}")
    if not 0.0 <= min_confidence <= 1.0:
        raise UsageError(f"--min-confidence: {min_confidence:g} is not between 0 and 1")
    if watch and write is None:
        raise UsageError("--watch needs --write FILE (the written article is what is watched)")
    settings = settings_from_cli(config)
    day = parse_date(published, "--published") if published else None
    if is_url(source) and write is not None:
        raise UsageError("--write needs an article file; save the article and recover the file")
    file = None if is_url(source) else read_source(source, day, source_url)
    article = (
        file.article if file else asyncio.run(_fetch_url_article(settings, source, day, source_url))
    )
    placeholders = _placeholders(article)
    if not placeholders:
        _say(f"{source}: no lost (#) link targets to recover", fmt)
        return
    url = article.meta.source_url
    if not url:
        raise UsageError(
            f"{source}: no original URL; give --source-url or a source_url in its front matter"
        )
    original = asyncio.run(fetch_original(settings.wayback, url, article.meta.published))
    candidates = original_links(
        original.html, original.capture.original_url, settings.wayback.base_url, all_links=all_links
    )
    recoveries = align_links(placeholders, candidates)
    # Everything that can fail is done before anything is printed or written.
    data = rewrite(file, recoveries, min_confidence) if file and write else None
    if fmt == "json":
        typer.echo(render_json(source, article, original, recoveries, str(write) if data else None))
    else:
        render_table(article, original, recoveries)
    if file is not None and write is not None and data is not None:
        changed = sum(1 for r in recoveries if r.url and r.confidence >= min_confidence)
        write_atomically(write, data)
        _say(f"wrote {write} ({changed} link targets recovered)", fmt)
        _watch_written(settings, file, write, watch=watch, fmt=fmt)


def _watch_written(
    settings: Settings, file: SourceFile, write: Path, *, watch: bool, fmt: str
) -> None:
    """Record the written article when its source is watched, or when asked (--watch)."""
    watched = watched_location(settings, file.path)
    if not (watch or watched):
        return
    in_place = write.resolve() == file.path.resolve()
    location = watched if in_place and watched else str(write)
    meta = file.article.meta
    article_id, links = join_watch(settings, location, meta)
    cited = meta.published.isoformat() if meta.published else "the day first seen"
    _say(f"watching article {article_id}: {location} ({links} links to check, cited {cited})", fmt)
    if watched and not in_place:
        _say(
            f"note: {watched} (without the recovered targets) is still watched; "
            f"`linkwatch remove {watched}` if {write} replaces it",
            fmt,
        )
