"""`linkwatch drift [--article ID] [--all]`: compare live pages with their citation capture now."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from service.checks.client import build_client
from service.cli.app import app
from service.cli.common import open_db, settings_from_cli
from service.errors import UsageError
from service.settings import Settings
from service.store import repo
from service.store.db import Database

if TYPE_CHECKING:
    from service.drift.sweep import DriftResult, DriftStats


def _result_json(result: DriftResult) -> dict[str, Any]:
    from service.drift.verdict import Verdict, drift_score

    s = result.scores
    return {
        "link_id": result.link_id,
        "url": result.url,
        "drift": None if result.verdict is Verdict.ERROR else result.verdict.value,
        "drift_score": drift_score(s.cosine) if s else None,
        "previous": result.previous.value if result.previous else None,
        "cosine": s.cosine if s else None,
        "containment": s.containment if s else None,
        "title_similarity": s.title_similarity if s else None,
        "word_count_capture": s.word_count_capture if s else None,
        "word_count_live": s.word_count_live if s else None,
        "capture_timestamp": result.capture_timestamp.isoformat(),
        "error": result.error,
    }


def result_line(result: DriftResult) -> str:
    """One line per comparison: verdict, scores, URL (or why there is no verdict)."""
    from service.drift.verdict import Verdict

    s = result.scores
    if result.verdict is Verdict.ERROR or s is None:
        return f"{'-':<9} {result.url}: no verdict, {result.error} (retried later)"
    title = "-" if s.title_similarity is None else f"{s.title_similarity:.2f}"
    words = f"{s.word_count_capture}->{s.word_count_live}"
    return (
        f"{result.verdict.value:<9} cosine {s.cosine:.2f}  containment {s.containment:.2f}  "
        f"title {title}  words {words}  {result.url}"
    )


def summary_line(stats: DriftStats) -> str:
    text = (
        f"drift: {len(stats.results)} compared: {stats.same} same, {stats.drifted} drifted, "
        f"{stats.replaced} replaced, {stats.errors} without verdict"
    )
    if stats.stopped:
        text += f"; stopped early ({stats.stopped}), {stats.released} left for later"
    return text


def _article_id(db: Database, article: str) -> int:
    with db.session() as session:
        row = repo.get_article(session, article)
        if row is None or row.id is None:
            raise UsageError(f"no article {article!r} (see `linkwatch list`)")
        return row.id


async def _sweep(
    db: Database, settings: Settings, article_id: int | None, everything: bool
) -> DriftStats:
    from service.drift.fetch import archive_http_client
    from service.drift.sweep import drift_sweep

    client = build_client(settings.checks)
    try:
        async with archive_http_client(settings.wayback.timeout_s) as http:
            return await drift_sweep(
                db,
                settings,
                datetime.now(UTC),
                client=client,
                archive_http=http,
                limit="all",
                article_id=article_id,
                force=everything,
            )
    finally:
        await client.aclose()


@app.command("drift")
def drift(
    article: str | None = typer.Option(
        None, "--article", help="Only the links of this article (id or location)."
    ),
    everything: bool = typer.Option(
        False, "--all", help="Compare every eligible link now, even if compared recently."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the results as a JSON list."),
    resolve: list[str] = typer.Option([], "--resolve", help="Pin HOST:IP (repeatable), like curl."),
    allow_private: bool = typer.Option(
        False, "--allow-private", help="Also fetch private/loopback targets."
    ),
    config: Path | None = typer.Option(
        None, "--config", help="Configuration file (default config/linkwatch.toml)."
    ),
) -> None:
    """Compare alive links with the Wayback capture closest to their citation date.

    Compares the links that are due (see drift.interval_days), or every eligible one with --all.

    Each comparison costs one archive request.

    Verdicts: same, drifted, replaced; '-' means no verdict yet (retried later).
    """
    overrides: dict[str, Any] = {}
    if resolve:
        overrides["resolve"] = list(resolve)
    if allow_private:
        overrides["allow_private"] = True
    settings = settings_from_cli(config, checks=overrides)
    if not settings.wayback.enabled:
        raise UsageError("drift compares pages with Wayback captures; wayback.enabled is false")
    db = open_db(settings)
    try:
        article_id = _article_id(db, article) if article is not None else None
        stats = asyncio.run(_sweep(db, settings, article_id, everything))
    finally:
        db.dispose()
    if as_json:
        typer.echo(json.dumps([_result_json(r) for r in stats.results], indent=2))
        return
    if not stats.results and not stats.stopped:
        typer.echo(
            "drift: no link is due for a comparison (--all compares every eligible link now; "
            "eligible: alive links with a capture near their citation date)"
        )
        return
    for result in stats.results:
        typer.echo(result_line(result))
    typer.echo(summary_line(stats))
