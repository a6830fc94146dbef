"""BatchRecorder: results written in batches (size or delay, whichever first), none dropped."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from service.monitor.recorder import BatchRecorder


class Sink:
    """A flush function that remembers every batch it was given."""

    def __init__(self, fail: bool = False) -> None:
        self.batches: list[list[int]] = []
        self.fail = fail

    async def __call__(self, items: Sequence[int]) -> list[str]:
        self.batches.append(list(items))
        await asyncio.sleep(0)
        if self.fail:
            raise RuntimeError("database on fire")
        return [f"rec-{i}" for i in items]


async def test_a_full_batch_is_written_at_once_in_one_flush() -> None:
    sink = Sink()
    recorder = BatchRecorder(sink, max_items=5, max_delay_s=60.0)
    answers = await asyncio.wait_for(
        asyncio.gather(*(recorder.record(i) for i in range(5))), timeout=5
    )
    assert answers == [f"rec-{i}" for i in range(5)]
    assert sink.batches == [[0, 1, 2, 3, 4]]


async def test_a_partial_batch_is_written_after_the_delay() -> None:
    sink = Sink()
    recorder = BatchRecorder(sink, max_items=50, max_delay_s=0.05)
    loop = asyncio.get_running_loop()
    started = loop.time()
    answers = await asyncio.wait_for(
        asyncio.gather(*(recorder.record(i) for i in range(3))), timeout=5
    )
    assert answers == ["rec-0", "rec-1", "rec-2"]
    assert sink.batches == [[0, 1, 2]]
    assert loop.time() - started >= 0.04  # it waited for more results first


async def test_more_results_than_a_batch_are_split_in_order() -> None:
    sink = Sink()
    recorder = BatchRecorder(sink, max_items=4, max_delay_s=0.01)
    answers = await asyncio.wait_for(
        asyncio.gather(*(recorder.record(i) for i in range(10))), timeout=5
    )
    assert answers == [f"rec-{i}" for i in range(10)]
    assert [len(b) for b in sink.batches] == [4, 4, 2]
    assert [i for b in sink.batches for i in b] == list(range(10))


async def test_a_cancelled_caller_still_gets_its_result_written_and_drain_flushes_now() -> None:
    sink = Sink()
    recorder = BatchRecorder(sink, max_items=50, max_delay_s=60.0)
    waiter = asyncio.create_task(recorder.record(7))
    await asyncio.sleep(0)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert recorder.pending == 1
    await asyncio.wait_for(recorder.drain(), timeout=5)  # no 60 s wait: drain hurries
    assert sink.batches == [[7]]
    assert recorder.pending == 0


async def test_a_failing_flush_reaches_every_caller_of_its_batch() -> None:
    recorder = BatchRecorder(Sink(fail=True), max_items=2, max_delay_s=60.0)
    results = await asyncio.wait_for(
        asyncio.gather(recorder.record(1), recorder.record(2), return_exceptions=True), timeout=5
    )
    assert [str(r) for r in results] == ["database on fire", "database on fire"]
