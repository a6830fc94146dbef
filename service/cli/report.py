"""`linkwatch report`, `linkwatch fix` and `linkwatch serve`: reading what the monitor knows."""

from __future__ import annotations

import shutil
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from service.cli.app import app
from service.cli.common import open_db, settings_from_cli
from service.errors import InputError, UsageError
from service.model import Health
from service.reports import FORMATS, build_report, only_drifted, render


def parse_health(value: str | None) -> set[Health] | None:
    """'dead,suspect' -> {Health.DEAD, Health.SUSPECT}; UsageError naming a bad value."""
    if not value:
        return None
    out: set[Health] = set()
    for part in value.split(","):
        name = part.strip().lower().replace("-", "_").replace(" ", "_")
        if not name:
            continue
        try:
            out.add(Health(name))
        except ValueError:
            choices = ", ".join(h.value for h in Health)
            raise UsageError(f"--health: unknown health {part.strip()!r}; use {choices}") from None
    return out or None


def write_output(text: str | bytes, output: Path | None) -> None:
    """Write to FILE or to stdout: text as UTF-8, bytes exactly as given."""
    data = text.encode("utf-8") if isinstance(text, str) else text
    if output is None:
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    try:
        output.write_bytes(data)
    except OSError as exc:
        raise UsageError(f"cannot write {output}: {exc.strerror or exc}") from exc


@app.command()
def report(
    article: Annotated[
        list[int] | None, typer.Option("--article", "-a", help="Only this article id (repeatable).")
    ] = None,
    health: Annotated[
        str | None, typer.Option("--health", help="Only links in these states, e.g. dead,suspect.")
    ] = None,
    fmt: Annotated[
        str, typer.Option("--format", "-f", help="table | json | markdown | html")
    ] = "table",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the report to FILE.")
    ] = None,
    drift: Annotated[
        bool,
        typer.Option(
            "--drift",
            help="Only alive links whose content drifted or was replaced since cited, "
            "most drifted first.",
        ),
    ] = False,
    config: Annotated[Path | None, typer.Option("--config", help="Configuration file.")] = None,
) -> None:
    """Print the status of every watched link, broken ones first, from the database."""
    if fmt not in FORMATS:
        raise UsageError(f"--format: unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    wanted = parse_health(health)
    filtered = wanted is not None or drift
    if drift:
        # Drift is only meaningful for links that answer: keep alive links (within --health).
        wanted = {Health.ALIVE} if wanted is None else wanted & {Health.ALIVE}
    settings = settings_from_cli(config)
    db = open_db(settings)
    try:
        with db.session() as session:
            result = build_report(
                session,
                article_ids=article or None,
                health=wanted,
                now=datetime.now(UTC),
                history=fmt == "html",
            )
    finally:
        db.dispose()
    if drift:
        result = only_drifted(result)
    width = shutil.get_terminal_size((100, 24)).columns if output is None else 100
    color = fmt == "table" and output is None and sys.stdout.isatty()
    text = render(result, fmt, width=max(60, width), color=color, by_year=not filtered)
    write_output(text, output)


@app.command()
def fix(
    source: Annotated[str, typer.Argument(help="The article file (Markdown or HTML).")],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the article to FILE.")
    ] = None,
    update_moved: Annotated[
        bool, typer.Option("--update-moved", help="Also point moved links at their new address.")
    ] = False,
    robust_links: Annotated[
        bool,
        typer.Option(
            "--robust-links",
            help="HTML: add data-originalurl/-versionurl/-versiondate to links with a capture.",
        ),
    ] = False,
    drifted: Annotated[
        str,
        typer.Option(
            "--drifted",
            help="Links whose content drifted since cited: keep (default), archive (point "
            "them at the capture the author saw) or decorate (HTML: Robust Links attributes).",
        ),
    ] = "keep",
    config: Annotated[Path | None, typer.Option("--config", help="Configuration file.")] = None,
) -> None:
    """Write the article with dead links pointed at their archived copy; nothing else changes."""
    from service.reports.repair import repair_file

    settings = settings_from_cli(config)
    db = open_db(settings)
    try:
        with db.session() as session:
            result = repair_file(
                session,
                Path(source),
                update_moved=update_moved,
                robust_links=robust_links,
                drifted=drifted,
            )
    finally:
        db.dispose()
    write_output(result.data, output)
    typer.echo(result.summary(), err=True)


@app.command()
def serve(
    host: Annotated[
        str | None, typer.Option("--host", help="Address to bind (default 127.0.0.1).")
    ] = None,
    port: Annotated[int | None, typer.Option("--port", help="Port (default 8080).")] = None,
    config: Annotated[Path | None, typer.Option("--config", help="Configuration file.")] = None,
) -> None:
    """Serve the dashboard, the JSON API, /metrics and /healthz (Ctrl-C stops it)."""
    from service.web.server import run_dashboard

    web: dict[str, object] = {}
    if host is not None:
        web["host"] = host
    if port is not None:
        if not 1 <= port <= 65535:
            raise UsageError(f"--port: {port} is not a port number (1-65535)")
        web["port"] = port
    settings = settings_from_cli(config, web=web)
    db = open_db(settings)
    try:
        run_dashboard(db, settings)
    except OSError as exc:
        raise InputError(
            f"cannot serve on {settings.web.host}:{settings.web.port}: {exc.strerror or exc}"
        ) from exc
    finally:
        db.dispose()
