"""`linkwatch check SOURCE...`: one-shot check of articles, printed and recorded."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from service.checks.config import with_cli_overrides
from service.cli.app import EXIT_BROKEN, EXIT_OFFLINE, EXIT_OK, app, fail
from service.cli.common import open_db, parse_date, run_async, settings_from_cli
from service.clock import utcnow
from service.model import CheckResult
from service.monitor.logs import configure_logging
from service.oneshot import CheckPlan, fork_checks, load_articles, run_check, submit_checks
from service.reports import FORMATS, render


@app.command()
def check(
    sources: list[str] = typer.Argument(
        ..., help="Article files (Markdown, HTML) or article URLs."
    ),
    fmt: str = typer.Option("table", "--format", "-f", help="table | json | markdown | html"),
    resolve: list[str] = typer.Option([], "--resolve", help="Pin HOST:IP (repeatable), like curl."),
    allow_private: bool = typer.Option(
        False, "--allow-private", help="Also check private/loopback targets."
    ),
    published: str | None = typer.Option(
        None, "--published", help="The article's publication date (YYYY-MM-DD)."
    ),
    source_url: str | None = typer.Option(None, "--source-url", help="The article's original URL."),
    no_archive: bool = typer.Option(False, "--no-archive", help="Skip Wayback Machine lookups."),
    check_fragments: bool = typer.Option(
        False,
        "--check-fragments",
        help="Warn when a link's #anchor is missing from its page (never counts as broken).",
    ),
    output: Path | None = typer.Option(None, "--output", "-o", help="Write the report to FILE."),
    config: Path | None = typer.Option(
        None, "--config", help="Configuration file (default config/linkwatch.toml)."
    ),
) -> None:
    """Extract, check and archive-look-up every link; print the report; record it.

    Exit codes: 0 nothing broken, 1 some link is broken, 2 bad usage or unreadable input,
    3 the monitor itself is offline (the links could not be verified).
    """
    if fmt not in FORMATS:
        raise fail(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    settings = settings_from_cli(
        config, checks={"check_fragments": True} if check_fragments else {}
    )
    # --resolve pins are added to the configured ones (the command line wins for its host).
    checks = with_cli_overrides(settings.checks, resolve=resolve, allow_private=allow_private)
    settings = settings.model_copy(update={"checks": checks})
    configure_logging("oneshot", "WARNING")  # stage warnings as `linkwatch: warning: ...`
    pub: date | None = parse_date(published, "--published") if published else None

    # The checks run in worker processes (service.checks.pool): the first was forked as the
    # process started (service.cli.main) or is forked now, and imports the checker while this
    # process reads the articles; once the work is handed out, this process opens the store,
    # syncs the articles and looks up archives meanwhile, recording results as they come.
    progress = _progress()
    started = utcnow()
    workers = fork_checks(on_result=progress.advance)
    try:
        articles = run_async(load_articles(sources, settings, published=pub, source_url=source_url))
        if workers is not None:
            submit_checks(workers, settings, CheckPlan.of(articles))
        with progress:
            db = open_db(settings)
            try:
                run = run_async(
                    run_check(
                        db,
                        settings,
                        articles,
                        archive=not no_archive,
                        on_result=progress.advance,
                        workers=workers,
                        started=started,
                    )
                )
            finally:
                db.dispose()
    finally:
        if workers is not None:
            workers.close()

    text = render(run.report, fmt)
    if output is not None:
        try:
            output.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise fail(f"cannot write {output}: {exc.strerror}") from exc
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")

    if run.offline:
        typer.echo(
            f"linkwatch: the monitor is offline; {run.unverified} "
            f"{'link' if run.unverified == 1 else 'links'} could not be verified",
            err=True,
        )
        raise typer.Exit(EXIT_OFFLINE)
    raise typer.Exit(EXIT_BROKEN if run.broken else EXIT_OK)


class _progress:
    """A progress bar on stderr while checking, hidden when stderr is not a terminal.

    `advance` may be called from any thread (the worker readers), also before the bar is
    shown: the bar's thread starts on `__enter__`, after the workers are forked.
    """

    def __init__(self) -> None:
        self._console = Console(stderr=True)
        self._progress: Progress | None = None
        self._task: Any = None
        if self._console.is_terminal:
            self._progress = Progress(
                TextColumn("checking"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=self._console,
                transient=True,
            )
            self._task = self._progress.add_task("links", total=None)

    def __enter__(self) -> _progress:
        if self._progress is not None:
            self._progress.start()
        return self

    def advance(self, result: CheckResult) -> None:
        if self._progress is not None:
            self._progress.advance(self._task)

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()
