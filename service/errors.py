"""The exception tree of linkwatch: every error a user can cause maps to a one-line message."""

from __future__ import annotations


class LinkwatchError(Exception):
    """Base of every error shown to a user as `linkwatch: <message>` with `exit_code`."""

    exit_code: int = 2


class UsageError(LinkwatchError):
    """Bad arguments or configuration."""


class InputError(LinkwatchError):
    """An article or file that cannot be read or parsed."""


class WorkerError(LinkwatchError):
    """A checking worker process failed or died (service.checks.pool): nothing was recorded."""

    exit_code = 70


class StoreError(LinkwatchError):
    """The database cannot be opened, migrated or written."""

    exit_code = 4


class ArchiveError(LinkwatchError):
    """The Wayback Machine could not answer (timeout, 5xx, rate limit)."""

    exit_code = 1


class ArchiveRateLimited(ArchiveError):
    """The archive answered 429: pause all archive calls."""

    def __init__(self, message: str, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s
