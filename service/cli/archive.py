"""`linkwatch archive lookup|save URL`: ask the Wayback Machine about one URL, by hand."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import typer

from service.cli.app import app
from service.cli.common import parse_date, settings_from_cli
from service.errors import ArchiveError, UsageError
from service.model import ArchiveInfo, Capture

archive_app = typer.Typer(
    name="archive",
    help="Wayback Machine: look up the archived copies of a URL, or ask for a new capture.",
    no_args_is_help=True,
)
app.add_typer(archive_app, name="archive")

_CONFIG = typer.Option(
    None, "--config", help="Configuration file (default: config/linkwatch.toml)."
)


def _check_url(url: str) -> str:
    if not url.startswith(("http://", "https://")):
        raise UsageError(f"{url!r} is not an http(s) URL")
    return url


def _capture_json(capture: Capture | None) -> dict[str, str] | None:
    if capture is None:
        return None
    return {"url": capture.archive_url, "timestamp": capture.timestamp.isoformat()}


def _line(label: str, capture: Capture | None) -> str:
    if capture is None:
        return f"{label}: no archived copy"
    return f"{label}: {capture.archive_url} ({capture.timestamp:%Y-%m-%d %H:%M} UTC)"


def _render(info: ArchiveInfo, as_json: bool) -> str:
    if as_json:
        return json.dumps(
            {
                "url": info.url,
                "archive": _capture_json(info.citation),
                "archive_latest": _capture_json(info.latest),
                "error": info.error,
            }
        )
    return "\n".join([_line("closest to citation", info.citation), _line("newest", info.latest)])


@archive_app.command("lookup")
def lookup(
    url: str = typer.Argument(..., help="The URL to look up."),
    cited: str | None = typer.Option(
        None, "--cited", help="Citation date YYYY-MM-DD (default: today)."
    ),
    as_json: bool = typer.Option(
        False, "--json", help="Print JSON ({archive, archive_latest, error})."
    ),
    config: Path | None = _CONFIG,
) -> None:
    """Print the capture closest to the citation date (the last one before it) and the newest."""
    from service.archive.lookup import ArchiveClient

    settings = settings_from_cli(config)
    citation = parse_date(cited, "--cited") if cited else None

    async def go() -> ArchiveInfo:
        async with ArchiveClient(settings.wayback) as client:
            return await client.lookup(_check_url(url), citation)

    info = asyncio.run(go())
    if info.error is not None:
        raise ArchiveError(f"archive lookup of {url} failed: {info.error}")
    typer.echo(_render(info, as_json))


@archive_app.command("save")
def save(
    url: str = typer.Argument(..., help="The URL to capture."),
    config: Path | None = _CONFIG,
) -> None:
    """Capture URL now with Save Page Now 2 (needs wayback.access_key and wayback.secret_key)."""
    from service.archive.spn import SavePageNow

    settings = settings_from_cli(config)
    if not settings.wayback.save_enabled:
        raise UsageError(
            "Save Page Now needs wayback.access_key and wayback.secret_key (or *_file)"
        )

    async def go() -> str:
        async with httpx.AsyncClient() as http:
            outcome = await SavePageNow(settings.wayback, http).save(_check_url(url))
        if outcome.capture is not None:
            return outcome.capture.archive_url
        if outcome.state == "pending":
            return f"capture still running (job {outcome.job_id})"
        raise ArchiveError(f"Save Page Now could not capture {url}: {outcome.error}")

    typer.echo(asyncio.run(go()))
