"""Helpers shared by CLI commands: settings from flags, opening the database, parsing dates."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from service.errors import UsageError
from service.settings import ConfigError, Settings, load_settings

if TYPE_CHECKING:
    from service.store.db import Database


def settings_from_cli(config: Path | None = None, **sections: dict[str, Any]) -> Settings:
    """Effective settings: the config file, then environment, then the command's flags."""
    overrides = {name: values for name, values in sections.items() if values}
    try:
        return load_settings(config, overrides=overrides or None)
    except ConfigError as exc:
        raise UsageError("configuration: " + "; ".join(exc.errors)) from exc


def open_db(settings: Settings) -> Database:
    """Open the configured database, applying migrations on first use (StoreError on failure)."""
    # Imported here: SQLAlchemy is a third of a command's start-up, and `linkwatch check`
    # starts its checks before it opens the store (service.oneshot).
    from service.store.db import open_database

    return open_database(settings.database.url)


def parse_date(value: str, flag: str) -> date:
    try:
        return date.fromisoformat(value[:10])
    except ValueError as exc:
        raise UsageError(f"{flag}: {value!r} is not a date (expected YYYY-MM-DD)") from exc


_T = TypeVar("_T")


def run_async(coro: Coroutine[Any, Any, _T]) -> _T:
    """`asyncio.run(coro)`, without its hidden cost for large results.

    On its way out, Python 3.11's `asyncio.Runner` compares the SIGINT handler, and that
    comparison formats the main task, whose repr holds the repr of its result: for a result
    with thousands of links (articles, check results) that is a noticeable share of a
    command's CPU. The result is handed back outside the task instead.
    """
    box: list[_T] = []

    async def main() -> None:
        box.append(await coro)

    asyncio.run(main())
    return box[0]
