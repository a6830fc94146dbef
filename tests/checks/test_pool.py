"""`linkwatch check`'s worker processes: whole sites per worker, every result back, failures told.

The workers are real forked processes checking against the link farm (a thread of this test
process, so its request log sees every worker's requests).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from service.articles.extract import parse_article
from service.checks.pool import CheckWorkers, Job, JobRunner, can_fork, shard_by_site, site_of
from service.errors import WorkerError
from service.model import CheckResult, Outcome
from service.oneshot import CheckPlan, check_urls, fork_checks, run_check, submit_checks
from service.settings import Settings
from service.store import repo
from service.store.db import open_database
from tests.checks.conftest import make_settings
from tests.support.farm import LinkFarm

pytestmark = pytest.mark.skipif(not can_fork(), reason="workers are forked on Linux only")


def test_site_groups_a_host_with_its_www_and_subdomains() -> None:
    assert site_of("http://www.example.com/a") == site_of("https://example.com:8443/b")
    assert site_of("http://news.example.com/") == "example.com"
    assert site_of("http://EXAMPLE.com./") == "example.com"
    assert site_of("http://127.0.0.2:8080/x") == "127.0.0.2"
    assert site_of("http://[::1]:80/x") == "::1"
    assert site_of("http://[broken/") == ""


def test_shards_hold_whole_sites_balanced_and_in_order() -> None:
    urls = [f"http://big.test/{i}" for i in range(6)]
    urls += [f"http://www.mid.test/{i}" for i in range(2)] + ["http://mid.test/x"]
    urls += ["http://a.small.test/1", "http://b.small.test/2", "http://one.test/"]
    shards = shard_by_site(urls, 2)
    assert len(shards) == 2
    assert sorted(u for s in shards for u in s) == sorted(urls)
    for shard in shards:  # a site never straddles two shards, and keeps its order
        sites = {site_of(u) for u in shard}
        for other in shards:
            if other is not shard:
                assert not sites & {site_of(u) for u in other}
        assert [u for u in shard if "big.test" in u] in ([], urls[:6])
    assert sorted(len(s) for s in shards) == [6, 6]  # 6 | 3 + 2 + 1
    assert shard_by_site(urls, 64) == shard_by_site(urls, 4)  # never more shards than sites
    assert len(shard_by_site(urls, 64)) == 4  # big, mid, small, one
    assert shard_by_site(["http://only.test/a", "http://only.test/b"], 8) == [
        ["http://only.test/a", "http://only.test/b"]
    ]


def test_workers_return_what_one_process_finds(farm: LinkFarm) -> None:
    settings = Settings(checks=make_settings(farm, per_host_concurrency=2, processes=2))
    paths = ["/ok", "/status/404", "/redirect/301", "/status/500", "/moved/page", "/status/410"]
    urls = [farm.url(p, host=h) for h in ("farm.test", "other.test", "third.test") for p in paths]
    plan = CheckPlan(sorted(urls), {u: set() for u in urls})
    seen: list[str] = []

    alone = asyncio.run(check_urls(settings.checks, plan.urls, plan.fragments))
    farm.reset()
    workers = fork_checks(on_result=lambda r: seen.append(r.url))
    assert workers is not None
    with workers:
        submit_checks(workers, settings, plan)
        assert len(workers.jobs) == 2  # three sites over two workers
        together = asyncio.run(workers.results())
    assert list(together) == [u for job in workers.jobs for u in job.urls]
    assert {u: r.outcome for u, r in together.items()} == {u: r.outcome for u, r in alone.items()}
    assert sorted(seen) == sorted(urls)  # on_result once per URL, from the reader threads
    assert Outcome.NOT_FOUND in {r.outcome for r in together.values()}
    for host in ("farm.test", "other.test", "third.test"):  # politeness held across workers
        assert farm.max_concurrency(host) <= 2


def test_idle_workers_are_released_and_an_empty_plan_checks_nothing() -> None:
    workers = fork_checks()
    assert workers is not None
    with workers:
        workers.fork()  # two idle workers, no work for either
        submit_checks(workers, Settings(), CheckPlan([], {}))
        assert asyncio.run(workers.results()) == {}
        for proc in workers._procs:
            proc.join(10)
            assert proc.exitcode == 0


def _workers(runner: JobRunner, *jobs: Job) -> CheckWorkers:
    workers = CheckWorkers(runner)
    workers.fork()
    workers.submit(jobs)
    return workers


def test_a_failing_worker_is_an_error_not_a_partial_result(farm: LinkFarm) -> None:
    async def boom(job: Job, send: Callable[[CheckResult], None]) -> object:
        raise ValueError("the resolver exploded")

    with _workers(boom, Job(["http://a.test/"])) as workers:
        with pytest.raises(WorkerError, match=r"worker 0 failed: ValueError: the resolver"):
            asyncio.run(workers.results())


def test_a_worker_that_dies_silently_is_an_error() -> None:
    async def die(job: Job, send: Callable[[CheckResult], None]) -> object:
        os._exit(3)

    with _workers(die, Job(["http://a.test/"])) as workers:
        with pytest.raises(WorkerError, match="exited with code 3"):
            asyncio.run(workers.results())


def test_a_worker_that_skips_a_url_is_an_error() -> None:
    async def lazy(job: Job, send: Callable[[CheckResult], None]) -> object:
        return None  # says done without a result for its URL

    with _workers(lazy, Job(["http://a.test/"])) as workers:
        with pytest.raises(WorkerError, match=r"no result for http://a\.test/"):
            asyncio.run(workers.results())


def test_close_stops_workers_that_are_still_checking() -> None:
    async def forever(job: Job, send: Callable[[CheckResult], None]) -> object:
        await asyncio.sleep(3600)
        return None

    workers = _workers(forever, Job(["http://a.test/"]), Job(["http://b.test/"]))
    began = time.monotonic()
    workers.close()
    assert time.monotonic() - began < 5
    assert all(not p.is_alive() for p in workers._procs)


async def test_workers_are_never_forked_inside_an_event_loop() -> None:
    async def nothing(job: Job, send: Callable[[CheckResult], None]) -> object:
        return None

    with pytest.raises(RuntimeError, match="outside the event loop"):
        CheckWorkers(nothing).fork()


def test_the_check_command_forks_before_it_imports_the_store_or_the_checker() -> None:
    """`linkwatch check` loads only its own command, and neither SQLAlchemy nor aiohttp: the
    workers import the checker and the parent the store, each on its own core."""
    code = (
        "import sys\n"
        "from service.cli import load_commands\n"
        "load_commands(['check', 'article.md'])\n"
        "heavy = sorted(m for m in ('sqlalchemy', 'aiohttp', 'alembic', 'service.store.db',"
        " 'service.checks.checker', 'service.cli.report') if m in sys.modules)\n"
        "print(heavy)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == "[]"


ARTICLE = (
    "# Post\n\n[a](http://a.test/ok) [b](http://b.test/gone) [c](http://c.test/nodns) "
    "[d](http://d.test/late)\n"
)


def _result(url: str, outcome: Outcome, status: int | None) -> CheckResult:
    return CheckResult(url, outcome, datetime.now(UTC), http_status=status)


def test_results_are_recorded_as_they_come_in_and_network_failures_wait(
    tmp_path: Path,
) -> None:
    """run_check records what the workers send while they go on; a network failure waits for
    the canaries' verdict, so a worker that dies later leaves only verdict-proof rows."""
    first_batch = [
        _result("http://a.test/ok", Outcome.OK, 200),
        _result("http://b.test/gone", Outcome.NOT_FOUND, 404),
        _result("http://c.test/nodns", Outcome.DNS_ERROR, None),
    ]

    async def then_die(job: Job, send: Callable[[CheckResult], None]) -> object:
        for result in first_batch:
            send(result)
        await asyncio.sleep(0.3)  # past the worker's flush interval: the batch leaves alone
        send(_result("http://d.test/late", Outcome.OK, 200))  # buffered, never flushed
        os._exit(9)

    settings = Settings.model_validate(
        {"database": {"url": f"sqlite:///{tmp_path / 'lw.db'}"}, "wayback": {"enabled": False}}
    )
    db = open_database(settings.database.url)
    try:
        article = parse_article(ARTICLE, "markdown", "post.md")
        workers = CheckWorkers(then_die)
        workers.fork()
        workers.submit([Job([o.url for o in article.occurrences if o.url])])
        with workers, pytest.raises(WorkerError, match="exited with code 9"):
            asyncio.run(run_check(db, settings, [article], archive=False, workers=workers))
        with db.session() as session:
            links = repo.links_for_urls(session, [o.url for o in article.occurrences if o.url])
            checked = {u: link.last_outcome for u, link in links.items()}
    finally:
        db.dispose()
    assert checked == {
        "http://a.test/ok": "ok",
        "http://b.test/gone": "not_found",
        "http://c.test/nodns": None,  # held for the canaries, who never got asked
        "http://d.test/late": None,
    }


def test_linkwatch_check_as_a_process_forks_its_worker_first_and_records_it_all(
    farm: LinkFarm, tmp_path: Path
) -> None:
    """The real entry point: main() preforks the first worker before the command line is
    imported, the command takes it over, and the whole run is recorded and reported."""
    urls = [farm.url("/ok"), farm.url("/status/404"), farm.url("/ok", host="other.test")]
    env = _article_and_env(tmp_path, urls, LINKWATCH_CHECKS__TIMEOUT_S="5")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "service",
            "check",
            "post.md",
            "--format",
            "json",
            *farm.resolve_args(),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1, done.stderr  # one broken link
    outcomes = {row["url"]: row["outcome"] for row in json.loads(done.stdout)}
    assert outcomes == {urls[0]: "ok", urls[1]: "not_found", urls[2]: "ok"}
    db = open_database(env["DATABASE_URL"])
    try:
        with db.session() as session:
            links = repo.links_for_urls(session, urls)
            assert {u: link.last_outcome for u, link in links.items()} == outcomes
    finally:
        db.dispose()


def _article_and_env(tmp_path: Path, urls: list[str], **settings: str) -> dict[str, str]:
    """Write `post.md` citing `urls` and an empty config; the environment of a `linkwatch`
    process on its own SQLite file (this machine's LINKWATCH_* variables left out)."""
    (tmp_path / "post.md").write_text(" ".join(f"[l]({u})" for u in urls), encoding="utf-8")
    (tmp_path / "none.toml").write_text("")
    env = {k: v for k, v in os.environ.items() if not k.startswith("LINKWATCH_")}
    return env | {
        "LINKWATCH_CONFIG": str(tmp_path / "none.toml"),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'lw.db'}",
        "LINKWATCH_WAYBACK__ENABLED": "false",
        **settings,
    }


def _slow_check(farm: LinkFarm, tmp_path: Path) -> subprocess.Popen[bytes]:
    """`linkwatch check` as its own process group, on links that answer after 5 s; its output
    goes to files (a pipe would be held open by the workers and hide their fate)."""
    urls = [
        farm.url(f"/sleep?s=5&n={i}", host=h) for i in range(3) for h in ("farm.test", "other.test")
    ]
    env = _article_and_env(tmp_path, urls, LINKWATCH_CHECKS__PROCESSES="2")
    with (tmp_path / "out.txt").open("wb") as out, (tmp_path / "err.txt").open("wb") as err:
        return subprocess.Popen(  # the child keeps its own copies of the two files
            [sys.executable, "-m", "service", "check", "post.md", *farm.resolve_args()],
            cwd=tmp_path,
            env=env,
            stdout=out,
            stderr=err,
            start_new_session=True,
        )


def _stat(pid: int) -> list[str] | None:
    """The fields of /proc/PID/stat after the command name (state, parent, ...); None when
    the process is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def _workers_of(pid: int) -> list[int]:
    """The processes whose parent is `pid`."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat(int(entry.name))
            if fields is not None and int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def _wait_for_checks(farm: LinkFarm, hosts: tuple[str, ...]) -> None:
    """Until the farm has a /sleep request in flight from each host's worker."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if all(farm.count("/sleep", host=h) for h in hosts):
            return
        time.sleep(0.05)
    raise AssertionError("the workers never started checking")


def _wait_for_workers(pid: int, n: int) -> list[int]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        found = _workers_of(pid)
        if len(found) >= n:
            return found
        time.sleep(0.05)
    raise AssertionError(f"{pid} never had {n} workers")


def _gone(pids: list[int], within_s: float) -> bool:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if all(_state(p) == "Z" for p in pids):
            return True
        time.sleep(0.05)
    return False


def _state(pid: int) -> str:
    """The process's state letter; a gone process counts as exited ("Z")."""
    fields = _stat(pid)
    return fields[0] if fields is not None else "Z"


def test_ctrl_c_stops_the_workers_and_says_interrupted(farm: LinkFarm, tmp_path: Path) -> None:
    proc = _slow_check(farm, tmp_path)
    workers = _wait_for_workers(proc.pid, 2)
    _wait_for_checks(farm, ("farm.test", "other.test"))
    os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does
    assert proc.wait(timeout=10) == 130
    err = (tmp_path / "err.txt").read_text()
    assert err.strip().endswith("linkwatch: interrupted") and "Traceback" not in err
    assert _gone(workers, 5)


def test_workers_die_with_a_killed_parent(farm: LinkFarm, tmp_path: Path) -> None:
    """SIGKILL gives the parent no chance to stop its workers: the kernel does it."""
    proc = _slow_check(farm, tmp_path)
    workers = _wait_for_workers(proc.pid, 2)
    _wait_for_checks(farm, ("farm.test", "other.test"))  # each worker is mid-check
    proc.kill()
    proc.wait(timeout=10)
    assert _gone(workers, 2)  # long before their 5 s checks would have ended
