"""`linkwatch check`'s checks in forked worker processes, each owning whole sites.

A one-shot check does two jobs that share nothing until the end: the checks (aiohttp, up to a
core's worth of CPU) and the store (SQLAlchemy's import, the schema, syncing the article,
recording, the report). Forking the checks off before the store is opened runs the two on
different cores, and a large sweep split over several workers uses every core.

Per-host politeness holds because a site (a host's last two labels: www.example.com and
example.com go together) belongs to exactly one worker, whose Checker keeps that site's
concurrency and interval limits, `Retry-After` holds and soft-404 probe cache. The exception:
a redirect into a site that another worker owns is limited per worker, so such a target may
see one request stream per worker.

Fork, not spawn: a worker needs the parent's settings and code (and a test's injected
resolver) and re-importing them would cost what forking saves. The first worker is forked as
soon as the command starts and imports the checker while the parent reads the articles;
the others when the sites are known. Forks happen outside any event loop and before the
parent starts threads of its own: the readers `submit` starts are its only threads until
the results are in. Workers ignore SIGINT: an interrupted parent
terminates them (`close`). Results stream back in small batches, so a progress bar moves and
a pipe never fills.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import multiprocessing
import os
import signal
import sys
import threading
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

from service.errors import WorkerError
from service.model import CheckResult

OnResult = Callable[[CheckResult], None]


@dataclass(frozen=True, slots=True)
class Job:
    """One worker's share of a run: its URLs (whole sites) and what its runner needs besides
    (pickled to the worker)."""

    urls: list[str]
    params: Any = None


# Runs inside a worker: check job.urls, calling on_result once per URL as it finishes.
JobRunner = Callable[[Job, OnResult], Coroutine[Any, Any, object]]

BATCH = 64  # results per message from a worker ...
FLUSH_S = 0.1  # ... or fewer, this long after the first of them


def can_fork() -> bool:
    """Whether workers are forked here: Linux only (macOS's system libraries are not
    fork-safe, and Windows has no fork); elsewhere `linkwatch check` checks in process."""
    return sys.platform.startswith("linux")


def available_cpus() -> int:
    """The CPUs this process may run on (its affinity mask, so a CPU-limited container counts)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def site_of(url: str) -> str:
    """The politeness unit of a URL: its host's last two labels, or the whole host when it is
    an IP literal. Coarser than the registrable domain for hosts under two-label public
    suffixes (every *.co.uk is one "site"), which only costs balance, never politeness."""
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        return ""
    if ":" in host or host.replace(".", "").isdigit():
        return host
    return ".".join(host.rstrip(".").split(".")[-2:])


def shard_by_site(urls: Sequence[str], workers: int) -> list[list[str]]:
    """At most `workers` non-empty shards, each holding whole sites, balanced by URL count
    (largest site first, into the smallest shard); URL order is kept within a site."""
    by_site: dict[str, list[str]] = {}
    for url in urls:
        by_site.setdefault(site_of(url), []).append(url)
    shards: list[list[str]] = [[] for _ in range(max(1, min(workers, len(by_site))))]
    for site_urls in sorted(by_site.values(), key=len, reverse=True):
        min(shards, key=len).extend(site_urls)
    return [shard for shard in shards if shard]


class CheckWorkers:
    """Forked worker processes, each checking one Job with `runner`; `await results()`.

    `fork()` starts an idle worker early: it runs `prepare` (imports the checker) while this
    process is still reading the articles. `submit(jobs)` forks what more the jobs need, hands
    one job to each worker (surplus idle workers are released) and starts the readers.
    `on_result` (settable until results arrive) is called in a reader thread for each result
    as it comes in. Use as a context manager, or call `close()`: it terminates workers that
    are still running (an interrupted or failed command).
    """

    def __init__(
        self,
        runner: JobRunner,
        *,
        prepare: Callable[[], object] | None = None,
        on_result: OnResult | None = None,
    ) -> None:
        self.on_result = on_result
        self.jobs: list[Job] = []
        self._runner = runner
        self._prepare = prepare
        self._results: dict[str, CheckResult] = {}
        self._lock = threading.Lock()
        self._procs: list[BaseProcess] = []
        self._conns: list[Connection] = []
        self._readers: list[threading.Thread] = []
        self._errors: dict[int, str] = {}
        self._done: set[int] = set()
        self._submitted = False
        self._arrived: list[CheckResult] = []  # not yet taken by `arrivals`
        self._finished = 0  # readers that have stopped
        self._wake: Callable[[], None] | None = None

    def fork(self) -> None:
        """Start one idle worker (outside any event loop, while this process has no threads)."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass
        else:
            raise RuntimeError("CheckWorkers.fork() must be called outside the event loop")
        if self._submitted:
            raise RuntimeError("CheckWorkers.fork() after submit()")
        context = multiprocessing.get_context("fork")
        mine, theirs = context.Pipe()
        proc = context.Process(
            target=_work,
            args=(theirs, list(self._conns), self._prepare, self._runner, os.getpid()),
            name=f"linkwatch-check-{len(self._procs)}",
            daemon=True,  # never outlives the command
        )
        try:
            proc.start()
        finally:
            theirs.close()  # the worker holds the only copy: its exit means EOF here
        self._procs.append(proc)
        self._conns.append(mine)

    def submit(self, jobs: Sequence[Job]) -> None:
        """Give each job a worker (forking more when needed), release the idle rest, and start
        reading results."""
        jobs = [job for job in jobs if job.urls]
        try:
            while len(self._procs) < len(jobs):
                self.fork()
            self._submitted = True
            self.jobs = jobs
            for index, conn in enumerate(self._conns):
                conn.send(jobs[index] if index < len(jobs) else None)
        except BaseException:
            self.close()
            raise
        for index, conn in enumerate(self._conns[: len(jobs)]):
            reader = threading.Thread(
                target=self._read, args=(index, conn), name=f"linkwatch-read-{index}", daemon=True
            )
            reader.start()
            self._readers.append(reader)

    def _read(self, index: int, conn: Connection) -> None:
        """Collect one worker's messages until it says done, fails, or its pipe closes."""
        try:
            while True:
                kind, payload = conn.recv()
                if kind == "results":
                    with self._lock:
                        for result in payload:
                            self._results[result.url] = result
                        self._arrived.extend(payload)
                    self._notify()
                    callback = self.on_result
                    if callback is not None:
                        for result in payload:
                            callback(result)
                elif kind == "done":
                    self._done.add(index)
                    return
                else:
                    self._errors[index] = str(payload)
                    return
        except (EOFError, OSError):
            return  # died without a word: `results` reports its exit code
        finally:
            with self._lock:
                self._finished += 1
            self._notify()

    def _notify(self) -> None:
        with self._lock:
            wake = self._wake
        if wake is not None:
            wake()

    async def arrivals(self) -> AsyncIterator[list[CheckResult]]:
        """The results in batches as they come in (what came before this call first), until
        every worker has stopped; then `results()` tells whether all went well."""
        if not self._submitted:
            raise RuntimeError("CheckWorkers.arrivals() before submit()")
        loop = asyncio.get_running_loop()
        woken = asyncio.Event()

        def wake() -> None:
            with contextlib.suppress(RuntimeError):  # the loop has closed meanwhile
                loop.call_soon_threadsafe(woken.set)

        with self._lock:
            self._wake = wake
        try:
            while True:
                woken.clear()  # before looking: a batch arriving after the look wakes us
                with self._lock:
                    batch, self._arrived = self._arrived, []
                    finished = self._finished == len(self._readers)
                if batch:
                    yield batch
                elif finished:
                    return
                else:
                    await woken.wait()
        finally:
            with self._lock:
                self._wake = None

    def _wait(self) -> None:
        for reader in self._readers:
            reader.join()
        for proc in self._procs:
            proc.join()

    async def results(self) -> dict[str, CheckResult]:
        """Every URL's result, in job order; WorkerError if a worker failed or fell silent."""
        if not self._submitted:
            raise RuntimeError("CheckWorkers.results() before submit()")
        await asyncio.to_thread(self._wait)
        for index, _job in enumerate(self.jobs):
            if index in self._errors:
                raise WorkerError(f"checking worker {index} failed: {self._errors[index]}")
            if index not in self._done:
                raise WorkerError(
                    f"checking worker {index} exited with code {self._procs[index].exitcode} "
                    "before finishing its checks"
                )
        with self._lock:
            missing = [u for job in self.jobs for u in job.urls if u not in self._results]
            if missing:
                raise WorkerError(f"checking workers returned no result for {missing[0]}")
            return {u: self._results[u] for job in self.jobs for u in job.urls}

    def close(self) -> None:
        """Terminate the workers still running, reap every one, close the pipes (idempotent)."""
        for proc in self._procs:
            if proc.is_alive():
                proc.terminate()
        for proc in self._procs:
            proc.join(5)
            if proc.is_alive():  # pragma: no cover - SIGTERM is not caught by workers
                proc.kill()
                proc.join()
        for conn in self._conns:
            conn.close()

    def __enter__(self) -> CheckWorkers:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


PR_SET_PDEATHSIG = 1  # linux/prctl.h


def _die_with(parent: int) -> None:
    """Have the kernel send this worker SIGTERM when its parent dies, however it dies (a
    SIGKILL or SIGTERM skips the parent's `close()`); exit at once if it already has."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:
        os._exit(0)


async def _quietly(coro: Coroutine[Any, Any, object]) -> None:
    """Await `coro` and drop its result (asyncio.run formats a main task's result on exit)."""
    await coro


def _work(
    conn: Connection,
    others: list[Connection],
    prepare: Callable[[], object] | None,
    runner: JobRunner,
    parent: int,
) -> None:
    """A worker's life: get ready, wait for a job, check it, stream results, say done (or
    why not), exit. No job (None, or the parent gone) is a quiet exit."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
    _die_with(parent)
    for other in others:  # the parent's ends of earlier workers' pipes: not ours to hold
        other.close()
    code = 0
    batch: list[CheckResult] = []
    timer: asyncio.TimerHandle | None = None

    def flush() -> None:
        nonlocal timer
        if timer is not None:
            timer.cancel()
            timer = None
        if batch:
            conn.send(("results", batch[:]))
            batch.clear()

    def send(result: CheckResult) -> None:  # runs in the worker's event loop
        nonlocal timer
        batch.append(result)
        if len(batch) >= BATCH:
            flush()
        elif timer is None:  # a slow last check must not hold finished ones back
            timer = asyncio.get_running_loop().call_later(FLUSH_S, flush)

    try:
        if prepare is not None:
            prepare()
        job = conn.recv()
        if job is not None:
            asyncio.run(_quietly(runner(job, send)))
            timer = None  # its loop is closed
            flush()
            conn.send(("done", None))
    except EOFError:
        pass  # the parent went away before handing out jobs
    except BaseException as exc:  # reported to the parent, which prints one line
        code = 1
        with contextlib.suppress(OSError, ValueError):  # the parent is gone
            conn.send(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        conn.close()
    sys.exit(code)
