"""Helpers shared by CLI commands: settings from flags, opening the database, parsing dates."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from service.errors import UsageError
from service.settings import ConfigError, Settings, load_settings
from service.store.db import Database, open_database


def settings_from_cli(config: Path | None = None, **sections: dict[str, Any]) -> Settings:
    """Effective settings: the config file, then environment, then the command's flags."""
    overrides = {name: values for name, values in sections.items() if values}
    try:
        return load_settings(config, overrides=overrides or None)
    except ConfigError as exc:
        raise UsageError("configuration: " + "; ".join(exc.errors)) from exc


def open_db(settings: Settings) -> Database:
    """Open the configured database, applying migrations on first use (StoreError on failure)."""
    return open_database(settings.database.url)


def parse_date(value: str, flag: str) -> date:
    try:
        return date.fromisoformat(value[:10])
    except ValueError as exc:
        raise UsageError(f"{flag}: {value!r} is not a date (expected YYYY-MM-DD)") from exc
