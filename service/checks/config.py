"""Command-line overrides of the checks settings (`--resolve HOST:IP`, `--allow-private`)."""

from __future__ import annotations

from collections.abc import Sequence

from service.errors import UsageError
from service.settings import ChecksSettings, parse_pin


def with_cli_overrides(
    checks: ChecksSettings, *, resolve: Sequence[str] = (), allow_private: bool = False
) -> ChecksSettings:
    """`checks` plus the command line's pins (added to the configured ones; a pin given on the
    command line wins for its host) and `--allow-private` (only ever turns the guard off).

    A malformed pin raises UsageError with a one-line message.
    """
    for pin in resolve:
        try:
            parse_pin(pin)
        except ValueError as exc:
            raise UsageError(str(exc)) from exc
    return checks.model_copy(
        update={
            "resolve": [*checks.resolve, *resolve],
            "allow_private": checks.allow_private or allow_private,
        }
    )
