"""Retries of transient outcomes inside one check, bounded by the check's deadline.

A check that meets a passing hiccup (a 5xx, a 429, a connection that timed out early, an answer
that is not valid HTTP) tries again after a pause: `retries` more times (default 2), pausing
`backoff_s` then doubling (1 s, 2 s, ...), or the server's `Retry-After` when longer (capped
at `retry_after_cap_s`). A retry happens only if its pause ends before the check's deadline.
Connection refused, DNS failures, TLS failures and every 4xx but 429 are never retried: asking
again would get the same answer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from service.model import Outcome
from service.settings import ChecksSettings

RETRIED_OUTCOMES = frozenset({Outcome.TIMEOUT, Outcome.SERVER_ERROR, Outcome.RATE_LIMITED})

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    retries: int = 2
    backoff_s: float = 1.0
    retry_after_cap_s: float = 60.0

    @classmethod
    def from_settings(cls, settings: ChecksSettings) -> RetryPolicy:
        return cls(settings.retries, settings.retry_backoff_s, settings.retry_after_cap_s)

    def delay(
        self,
        attempts: int,
        outcome: Outcome,
        retry_after_s: float | None = None,
        remaining_s: float | None = None,
    ) -> float | None:
        """The pause before the next attempt, or None when there must be no next attempt.

        `attempts` made so far (1 after the first), the last `outcome` and its parsed
        `Retry-After`, and the seconds left before the check's deadline (None: no deadline).
        """
        if attempts > self.retries or outcome not in RETRIED_OUTCOMES:
            return None
        pause = self.backoff_s * float(2 ** (attempts - 1))
        if retry_after_s is not None:
            pause = max(pause, min(retry_after_s, self.retry_after_cap_s))
        if remaining_s is not None and pause >= remaining_s:
            return None
        return pause


async def with_retries(
    attempt: Callable[[], Awaitable[T]],
    judge: Callable[[T], tuple[Outcome, float | None]],
    policy: RetryPolicy,
    *,
    remaining_s: Callable[[], float | None] = lambda: None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> tuple[T, int]:
    """Run `attempt` until its outcome is not retried (see `RetryPolicy.delay`).

    `judge` gives (outcome, retry_after_s) of a result. Returns the last result and the number
    of attempts made.
    """
    attempts = 0
    while True:
        result = await attempt()
        attempts += 1
        outcome, retry_after = judge(result)
        pause = policy.delay(attempts, outcome, retry_after, remaining_s())
        if pause is None:
            return result, attempts
        await sleep(pause)
