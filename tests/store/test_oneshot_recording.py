"""`linkwatch check` records its workers' results in larger transactions while they go on
(service.oneshot.RECORD_BATCH): a run stopped before the next one still records what came in.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from service.articles.extract import parse_article
from service.checks.pool import CheckWorkers, Job, can_fork
from service.model import CheckResult, Outcome
from service.oneshot import RECORD_BATCH, run_check
from service.settings import Settings
from service.store import repo
from service.store.db import open_database

pytestmark = pytest.mark.skipif(not can_fork(), reason="workers are forked on Linux only")

ARTICLE = "# Post\n\n[a](http://a.test/ok) [b](http://b.test/gone) [c](http://c.test/hangs)\n"


def test_a_run_interrupted_while_checking_has_recorded_what_came_in(tmp_path: Path) -> None:
    async def two_then_hang(job: Job, send: Callable[[CheckResult], None]) -> object:
        send(CheckResult("http://a.test/ok", Outcome.OK, datetime.now(UTC), http_status=200))
        send(CheckResult("http://b.test/gone", Outcome.NOT_FOUND, datetime.now(UTC), 404))
        await asyncio.sleep(60)  # c never finishes
        return None

    came_in = threading.Event()
    seen: list[str] = []

    def on_result(result: CheckResult) -> None:  # in a reader thread, as the results arrive
        seen.append(result.url)
        if len(seen) == 2:
            came_in.set()

    settings = Settings.model_validate(
        {"database": {"url": f"sqlite:///{tmp_path / 'lw.db'}"}, "wayback": {"enabled": False}}
    )
    db = open_database(settings.database.url)
    article = parse_article(ARTICLE, "markdown", "post.md")
    urls = [o.url for o in article.occurrences if o.url]
    assert RECORD_BATCH > 2  # so the two results wait for more

    async def interrupted() -> None:
        run = asyncio.create_task(
            run_check(db, settings, [article], archive=False, workers=workers)
        )
        assert await asyncio.to_thread(came_in.wait, 30)
        while workers._arrived:  # not yet taken in by the run
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)  # the run holds them, waiting for more
        run.cancel()  # as Ctrl-C does
        with pytest.raises(asyncio.CancelledError):
            await run

    try:
        workers = CheckWorkers(two_then_hang, on_result=on_result)
        workers.fork()
        workers.submit([Job(urls)])
        with workers:
            asyncio.run(interrupted())
        with db.session() as session:
            links = repo.links_for_urls(session, urls)
            checked = {u: link.last_outcome for u, link in links.items()}
    finally:
        db.dispose()
    assert checked == {
        "http://a.test/ok": "ok",
        "http://b.test/gone": "not_found",
        "http://c.test/hangs": None,
    }
