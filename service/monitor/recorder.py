"""Batched recording of check results: one transaction per batch instead of one per check.

The daemon's bookkeeping per check is mostly fixed cost (a transaction, a lock query, the
statements' construction), so results are gathered and written together: a batch is flushed
when it holds `max_items` results or its first result has waited `max_delay_s`, whichever
comes first (at once while hurrying: a stop was requested). One flush runs at a time.

Each `record()` call waits for its own batch's outcome, so callers keep their per-check
logic (statistics, logs). A caller cancelled while waiting does not take its result out of
the batch: a check that completed is still written. A crash loses at most the results not
yet flushed; their leases expire and the links are checked again.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

_K = TypeVar("_K")  # what is recorded (the claimed link and its result)
_R = TypeVar("_R")  # what one recorded item gives back

Flush = Callable[[Sequence[_K]], Awaitable[Sequence[_R]]]


class BatchRecorder(Generic[_K, _R]):
    """Collects items and hands them to `flush` in batches; see the module doc.

    `flush(items)` returns one answer per item, in order (it handles its own retries). An
    exception from it is given to every caller of that batch.
    """

    def __init__(self, flush: Flush[_K, _R], *, max_items: int = 50, max_delay_s: float = 0.5):
        if max_items < 1:
            raise ValueError("max_items must be >= 1")
        self._flush = flush
        self.max_items = max_items
        self.max_delay_s = max(0.0, max_delay_s)
        self._pending: list[tuple[_K, asyncio.Future[_R]]] = []
        self._first_at = 0.0  # loop time when the oldest pending item arrived
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._hurry = False
        self.flushes = 0

    @property
    def pending(self) -> int:
        return len(self._pending)

    async def record(self, item: _K) -> _R:
        """Queue `item` and wait for the answer of the batch that writes it."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[_R] = loop.create_future()
        if not self._pending:
            self._first_at = loop.time()
        self._pending.append((item, future))
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="batch-recorder")
        if len(self._pending) >= self.max_items:
            self._wake.set()
        return await future

    def hurry(self) -> None:
        """Flush without waiting for batches to fill (a stop was requested)."""
        self._hurry = True
        self._wake.set()

    async def drain(self) -> None:
        """Flush everything queued now; then the recorder starts afresh (batches fill again)."""
        self.hurry()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.shield(self._task)
        self._task = None
        self._hurry = False

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while self._pending:
            while len(self._pending) < self.max_items and not self._hurry:
                remaining = self._first_at + self.max_delay_s - loop.time()
                if remaining <= 0:
                    break
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), remaining)
            batch = self._pending[: self.max_items]
            del self._pending[: len(batch)]
            if self._pending:
                self._first_at = loop.time()
            await self._write(batch)

    async def _write(self, batch: list[tuple[_K, asyncio.Future[_R]]]) -> None:
        self.flushes += 1
        try:
            answers = await self._flush([item for item, _ in batch])
        except asyncio.CancelledError:
            for _, future in batch:
                if not future.done():
                    future.cancel()
            raise
        except Exception as exc:
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
                    future.exception()  # retrieved: the caller may have been cancelled
            return
        for (_, future), answer in zip(batch, answers, strict=True):
            if not future.done():
                future.set_result(answer)
