"""linkwatch benchmarks: engine throughput vs peers, the polite sweep, scale; writes RESULTS.md.

    python benchmarks/run.py [--smoke] [--only engine,polite,scale] [--runs 3]

Starts its own link farm (benchmarks/farm.py) on loopback and measures whole processes (wall
time, CPU user+sys and peak RSS from os.wait4). Artefacts go to benchmarks/out/ (git-ignored);
peers are installed into benchmarks/.peers/ when missing. `--smoke` is a small version for CI
that fails (exit 1) when linkwatch's verdicts are wrong. See the README.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shlex
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
OUT = HERE / "out"
PY = sys.executable
sys.path.insert(0, str(HERE))

from measure import Measurement, machine, median_of, run_measured  # noqa: E402
from peers import Peer, available  # noqa: E402

LINKWATCH = [PY, "-m", "service"]
KINDS = ("x", "r", "p")  # 404, 301 to a 200 page, 200
PG_ADMIN_URL = os.environ.get(
    "BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


class Failure(Exception):
    """A wrong verdict or a broken step: the run fails (exit 1)."""


# -- the farm ---------------------------------------------------------------------------------


class Farm:
    def __init__(self, proc: subprocess.Popen[str], port: int) -> None:
        self.proc, self.port = proc, port

    def _get(self, path: str) -> dict[str, Any]:
        url = f"http://127.0.0.1:{self.port}{path}"
        with urllib.request.urlopen(url, timeout=30) as resp:
            data: dict[str, Any] = json.loads(resp.read())
            return data

    def reset(self, latency_ms: float = 0) -> None:
        self._get(f"/__reset?latency_ms={latency_ms}")

    def stats(self) -> dict[str, Any]:
        return self._get("/__stats")

    def cpu_s(self) -> float:
        """The farm process's CPU time so far (user + system), from /proc; NaN elsewhere."""
        try:
            fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return float("nan")
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def farm() -> Iterator[Farm]:
    proc = subprocess.Popen(
        [PY, str(HERE / "farm.py")], stdout=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line.startswith("PORT "):
            raise Failure(f"the farm did not start: {line!r}")
        yield Farm(proc, int(line.split()[1]))
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


# -- common -----------------------------------------------------------------------------------


def write_links(path: Path, urls: list[str]) -> None:
    body = "".join(f'<p><a href="{u}">link {i}</a></p>\n' for i, u in enumerate(urls))
    path.write_text(f"<html><head><title>bench</title></head><body>\n{body}</body></html>\n")


def linkwatch_env(work: Path, db_url: str, **checks: Any) -> dict[str, str]:
    config = work / "empty.toml"
    config.write_text("# benchmarks: defaults + environment only\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("LINKWATCH_")}
    env.update(
        {
            "LINKWATCH_CONFIG": str(config),
            "DATABASE_URL": db_url,
            "LINKWATCH_WAYBACK__ENABLED": "false",
            "PYTHONPATH": str(ROOT),
        }
    )
    for key, value in checks.items():
        env[f"LINKWATCH_{key.upper()}"] = str(value)
    return env


def fresh_sqlite(work: Path, name: str) -> str:
    for suffix in ("", "-wal", "-shm"):
        (work / f"{name}{suffix}").unlink(missing_ok=True)
    return f"sqlite:///{work / name}"


def lw_verdict(stdout: Path) -> dict[str, int]:
    """Outcome counts of a `linkwatch check --format json` report (one row per occurrence)."""
    counts: dict[str, int] = {}
    for row in json.loads(stdout.read_text()):
        counts[row["outcome"]] = counts.get(row["outcome"], 0) + 1
    return counts


@dataclass
class Row:
    """One tool in one scenario: its runs and what it found."""

    tool: str
    runs: list[Measurement] = field(default_factory=list)
    found: list[int] = field(default_factory=list)
    requests: list[int] = field(default_factory=list)
    note: str = ""

    def med(self, attr: str) -> float:
        return median_of([getattr(m, attr) for m in self.runs])


def fmt_s(x: float) -> str:
    return "—" if x != x else f"{x:.2f}"


# -- 1. engine throughput ---------------------------------------------------------------------


def engine(f: Farm, n: int, runs: int, with_peers: bool, results: dict[str, Any]) -> None:
    work = OUT / "engine"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    host = "bench.test"
    lw_urls = [f"http://{host}:{f.port}/{KINDS[i % 3]}/n{i}" for i in range(n)]
    peer_urls = [f"http://127.0.0.1:{f.port}/{KINDS[i % 3]}/n{i}" for i in range(n)]
    expected = sum(1 for i in range(n) if i % 3 == 0)
    write_links(work / "linkwatch.html", lw_urls)
    write_links(work / "peers.html", peer_urls)
    (work / "urls.txt").write_text("\n".join(peer_urls) + "\n")

    tools: dict[str, Any] = {}
    tools["linkwatch"] = "linkwatch"
    tools["bare loop: httpx on AiohttpTransport"] = "aiohttp"
    tools["bare loop: httpx default transport"] = "httpx"
    peer_info: dict[str, Peer | str] = available(log) if with_peers else {}
    tools.update(peer_info)

    rows: dict[str, Row] = {name: Row(name) for name in tools}
    order = list(tools.items())
    for run in range(runs):
        # The order rotates from run to run: no tool always runs right after the same one
        # (a peer that leaves thousands of sockets in TIME_WAIT, or a warm cache).
        shift = run % len(order)
        for name, tool in order[shift:] + order[:shift]:
            row = rows[name]
            if isinstance(tool, str) and tool.startswith("not installed"):
                row.note = tool
                continue
            label = tool if isinstance(tool, str) else tool.name
            out = work / f"{name.split(':')[0].replace(' ', '_')}-{label}-{run}"
            f.reset(0)
            if tool == "linkwatch":
                env = linkwatch_env(
                    work,
                    fresh_sqlite(work, "engine.db"),
                    checks__per_host_concurrency=128,
                    checks__oneshot_interval_s=0,
                    checks__concurrency=128,
                )
                argv = [
                    *LINKWATCH,
                    "check",
                    str(work / "linkwatch.html"),
                    "--format",
                    "json",
                    "--resolve",
                    f"{host}:127.0.0.1",
                    "--no-archive",
                ]
                m = run_measured(argv, env=env, cwd=work, out=out)
                if m.returncode not in (0, 1):
                    raise Failure(f"linkwatch check exited {m.returncode}: see {m.stderr}")
                counts = lw_verdict(m.stdout)
                found = counts.get("not_found", 0)
                alive = counts.get("ok", 0) + counts.get("moved", 0)
                if found != expected or alive != n - expected:
                    raise Failure(
                        f"linkwatch verdicts wrong: {counts} (expected {expected} "
                        f"not_found and {n - expected} alive)"
                    )
            elif tool in ("aiohttp", "httpx"):
                argv = [
                    PY,
                    str(HERE / "bare_loop.py"),
                    "--transport",
                    str(tool),
                    str(work / "urls.txt"),
                ]
                m = run_measured(argv, out=out)
                found = int(json.loads(m.stdout.read_text())["broken"])
            else:
                assert isinstance(tool, Peer)
                m = run_measured(tool.argv(work / "peers.html", work), cwd=work, out=out)
                try:
                    found = tool.broken(m.stdout, work)
                except (ValueError, KeyError, OSError) as exc:
                    found = -1
                    row.note = f"output not understood: {exc}"
            row.runs.append(m)
            row.found.append(found)
            row.requests.append(int(f.stats()["requests"]))
            log(
                f"engine run {run + 1}/{runs} {name}: {m.wall_s:.2f} s wall, {m.cpu_s:.2f} s "
                f"cpu, {m.rss_mb:.0f} MB, found {found}/{expected}"
            )
    results["engine"] = {
        "n": n,
        "expected": expected,
        "rows": rows,
        "runs": runs,
        "peers": {
            k: (v.version, v.flags) if isinstance(v, Peer) else (v, "")
            for k, v in peer_info.items()
        },
    }


def engine_table(data: dict[str, Any]) -> list[str]:
    rows: dict[str, Row] = data["rows"]
    lw = rows["linkwatch"]
    lw_wall, lw_cpu = lw.med("wall_s"), lw.med("cpu_s")
    lines = [
        f"### 1. Engine throughput: {data['n']:,} links on one host, politeness off "
        f"(median of {data['runs']} runs)",
        "",
        "| tool | wall s | CPU s | peak RSS MB | requests | 404s found (want "
        f"{data['expected']}) | linkwatch wall / tool wall | linkwatch CPU / tool CPU |",
        "|---|---:|---:|---:|---:|---|---:|---:|",
    ]
    for name, row in rows.items():
        if not row.runs:
            lines.append(f"| {name} | {row.note or 'not run'} | | | | | | |")
            continue
        wall, cpu = row.med("wall_s"), row.med("cpu_s")
        ok = all(x == data["expected"] for x in row.found)
        found = ", ".join(str(x) for x in sorted(set(row.found)))
        lines.append(
            f"| {name} | {fmt_s(wall)} | {fmt_s(cpu)} | {row.med('rss_mb'):.0f} | "
            f"{int(median_of(row.requests))} | {found} {'✓' if ok else '✗'} "
            f"{row.note} | {lw_wall / wall:.2f}x | {lw_cpu / cpu:.2f}x |"
        )
    peers = data["peers"]
    if peers:
        lines += [
            "",
            "Peers: "
            + "; ".join(
                f"{name} ({ver}{': ' + flags if flags else ''})"
                for name, (ver, flags) in peers.items()
            )
            + ".",
        ]
    return lines


# -- 2. polite sweep --------------------------------------------------------------------------


def polite(
    f: Farm, hosts: int, per_host: int, latency_ms: float, runs: int, results: dict[str, Any]
) -> None:
    """All links answer 200 at once (one request per link), so the bound is exact."""
    work = OUT / "polite"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    n = hosts * per_host
    names = [f"polite{i}.test" for i in range(hosts)]  # 100 sites: see the README
    urls = [f"http://{names[i % hosts]}:{f.port}/p/n{i}" for i in range(n)]
    write_links(work / "links.html", urls)
    pins = ",".join(f"{h}:127.0.0.1" for h in names)
    concurrency = 2 * hosts  # the global limit must not be what binds
    bound = per_host / 2 * latency_ms / 1000
    out: dict[str, Any] = {
        "n": n,
        "hosts": hosts,
        "latency_ms": latency_ms,
        "bound_s": bound,
        "concurrency": concurrency,
        "runs": runs,
    }
    # (label, latency, checks.processes): the default (one worker per CPU, each owning whole
    # sites), one worker (everything checked by one process), and the default at 0 ms.
    variants = [("default", latency_ms, 0), ("one worker", latency_ms, 1), ("0 ms", 0.0, 0)]
    for label, latency, processes in variants:
        walls, cpus, rsss, phases, requests, farm_cpus = [], [], [], [], [], []
        for run in range(runs):
            f.reset(latency)
            env = linkwatch_env(
                work,
                fresh_sqlite(work, "polite.db"),
                checks__per_host_concurrency=2,
                checks__oneshot_interval_s=0,
                checks__concurrency=concurrency,
                checks__resolve=pins,
                checks__processes=processes,
            )
            farm_before = f.cpu_s()
            m = run_measured(
                [*LINKWATCH, "check", str(work / "links.html"), "--format", "json", "--no-archive"],
                env=env,
                cwd=work,
                out=work / f"lw-{latency:g}ms-p{processes}-{run}",
            )
            farm_cpus.append(f.cpu_s() - farm_before)
            counts = lw_verdict(m.stdout) if m.returncode in (0, 1) else {}
            if counts.get("ok", 0) != n:
                raise Failure(
                    f"polite sweep: linkwatch verdicts wrong: {counts} (want {n} ok); "
                    f"exit {m.returncode}, see {m.stderr}"
                )
            st = f.stats()
            if st["requests"] < n:
                raise Failure(f"polite sweep: the farm saw {st['requests']} requests, < {n}")
            requests.append(st["requests"])
            phase = st["last"] - st["first"]
            walls.append(m.wall_s)
            cpus.append(m.cpu_s)
            rsss.append(m.rss_mb)
            phases.append(phase)
            log(
                f"polite {label} run {run + 1}/{runs}: {m.wall_s:.2f} s wall, checking "
                f"phase {phase:.2f} s (bound {bound if latency else 0:.2f} s), max in flight "
                f"{st['max_inflight']}"
            )
        out[label] = {
            "wall": median_of(walls),
            "cpu": median_of(cpus),
            "rss": median_of(rsss),
            "phase": median_of(phases),
            "requests": median_of(requests),
            "farm_cpu": median_of(farm_cpus),
        }
    results["polite"] = out


def polite_table(d: dict[str, Any]) -> list[str]:
    slow, one, fast = d["default"], d["one worker"], d["0 ms"]
    bound = d["bound_s"]
    fixed = fast["wall"] - fast["phase"]
    return [
        f"### 2. Polite sweep: {d['n']:,} links on {d['hosts']} hosts, "
        f"{d['latency_ms']:g} ms per response, per-host concurrency 2 (median of {d['runs']})",
        "",
        f"Lower bound: {d['n'] // d['hosts']} links per host / 2 x {d['latency_ms']:g} ms = "
        f"**{bound:.2f} s**. Every link answers 200 to the first HEAD (one request per link, "
        f"so the bound is exact); global concurrency {d['concurrency']} (= hosts x 2, so only "
        "the per-host limit binds). The hosts are 100 sites (`polite0.test` ...), shared out "
        "whole among linkwatch's checking workers (`checks.processes`, default one per CPU).",
        "",
        "| measure | seconds | ratio to the bound |",
        "|---|---:|---:|",
        f"| checking phase (farm: first request in to last response out) | "
        f"{slow['phase']:.2f} | **{slow['phase'] / bound:.2f}x** |",
        f"| whole `linkwatch check` process | {slow['wall']:.2f} | {slow['wall'] / bound:.2f}x |",
        f"| one checking worker (`checks.processes = 1`): checking phase | {one['phase']:.2f} | "
        f"{one['phase'] / bound:.2f}x |",
        f"| one checking worker: whole process | {one['wall']:.2f} | {one['wall'] / bound:.2f}x |",
        f"| same sweep at 0 ms latency: whole process | {fast['wall']:.2f} | |",
        f"| same sweep at 0 ms latency: checking phase | {fast['phase']:.2f} | |",
        f"| whole process minus its 0 ms checking-free part ({fixed:.2f} s) | "
        f"{slow['wall'] - fixed:.2f} | {(slow['wall'] - fixed) / bound:.2f}x |",
        "",
        f"linkwatch CPU {slow['cpu']:.2f} s (one worker: {one['cpu']:.2f} s), peak RSS "
        f"{slow['rss']:.0f} MB; the farm (on the same two cores) used {slow['farm_cpu']:.2f} s "
        f"of CPU and served {slow['requests']:,.0f} requests (the links, plus linkwatch's "
        "soft-404 probes: one random sibling per host and directory, cached).",
    ]


# -- 3. scale ---------------------------------------------------------------------------------


@contextlib.contextmanager
def postgres_db(name: str) -> Iterator[str | None]:
    """A fresh PostgreSQL database (dropped afterwards), or None when the server is down."""
    try:
        import sqlalchemy as sa
    except ImportError:  # pragma: no cover
        yield None
        return
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as exc:
        log(f"PostgreSQL unavailable: {str(exc).splitlines()[0]}")
        admin.dispose()
        yield None
        return
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _helper(args: list[str], env: dict[str, str], out: Path) -> tuple[Measurement, dict[str, Any]]:
    m = run_measured([PY, str(HERE / "scale.py"), *args], env=env, out=out)
    if m.returncode != 0:
        raise Failure(
            f"scale.py {args[0]} failed (exit {m.returncode}): {m.stderr.read_text()[-800:]}"
        )
    return m, json.loads(m.stdout.read_text().strip().splitlines()[-1])


def scale(
    f: Farm,
    links: int,
    hosts: int,
    bookkeeping_n: int,
    report_links: int,
    days: int,
    results: dict[str, Any],
    databases: list[str],
) -> None:
    work = OUT / "scale"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    pins = ",".join(f"h{i}.bench.test:127.0.0.1" for i in range(hosts))
    f.reset(0)
    per_db: dict[str, Any] = {}
    for kind in databases:
        with contextlib.ExitStack() as stack:
            if kind == "sqlite":
                url: str | None = fresh_sqlite(work, "scale.db")
                rurl: str | None = fresh_sqlite(work, "report.db")
            else:
                url = stack.enter_context(postgres_db(f"lw_bench_scale_{os.getpid()}"))
                rurl = stack.enter_context(postgres_db(f"lw_bench_report_{os.getpid()}"))
            if url is None or rurl is None:
                per_db[kind] = {"skipped": "PostgreSQL not reachable at " + PG_ADMIN_URL}
                continue
            env = linkwatch_env(
                work,
                url,
                checks__resolve=pins,
                checks__per_host_concurrency=16,
                checks__per_host_interval_s=0,
                checks__oneshot_interval_s=0,
                checks__retries=0,
                monitor__tick_s=1,
            )
            r: dict[str, Any] = {}
            log(f"scale/{kind}: populating {links:,} links through repo.sync_article ...")
            _, r["populate"] = _helper(
                [
                    "populate",
                    str(work / f"articles-{kind}"),
                    "--links",
                    str(links),
                    "--hosts",
                    str(hosts),
                    "--port",
                    str(f.port),
                ],
                env,
                work / f"populate-{kind}",
            )
            log(f"scale/{kind}: {r['populate']}; bookkeeping over {bookkeeping_n} checks ...")
            _, r["bookkeeping"] = _helper(
                ["bookkeeping", "--checks", str(bookkeeping_n)], env, work / f"bookkeeping-{kind}"
            )
            log(f"scale/{kind}: {r['bookkeeping']}; everything due, `linkwatch run --once` ...")
            _helper(["due"], env, work / f"due-{kind}")
            f.reset(0)
            before = _count_checks(url)
            m = run_measured(
                [*LINKWATCH, "run", "--once"], env=env, cwd=work, out=work / f"daemon-{kind}"
            )
            if m.returncode != 0:
                raise Failure(
                    f"linkwatch run --once exited {m.returncode}: {m.stderr.read_text()[-800:]}"
                )
            served = f.stats()["requests"]
            r["daemon"] = {
                "wall": m.wall_s,
                "cpu": m.cpu_s,
                "rss": m.rss_mb,
                "requests": served,
                "checks": _count_checks(url) - before,
            }
            log(
                f"scale/{kind}: daemon {m.wall_s:.1f} s wall, {m.cpu_s:.1f} s cpu, "
                f"{m.rss_mb:.0f} MB, {r['daemon']['checks']:,} checks recorded"
            )
            # The report: its own database, `report_links` links with `days` of history.
            renv = linkwatch_env(work, rurl)
            _helper(
                [
                    "populate",
                    str(work / f"report-articles-{kind}"),
                    "--links",
                    str(report_links),
                    "--hosts",
                    str(hosts),
                    "--port",
                    str(f.port),
                ],
                renv,
                work / f"rpopulate-{kind}",
            )
            _, r["history"] = _helper(
                ["history", "--days", str(days)], renv, work / f"history-{kind}"
            )
            log(f"scale/{kind}: history {r['history']}; timing `linkwatch report` ...")
            r["report"] = {}
            for fmt in ("table", "json", "html"):
                m = run_measured(
                    [
                        *LINKWATCH,
                        "report",
                        "--format",
                        fmt,
                        "--output",
                        str(work / f"report-{kind}.{fmt}"),
                    ],
                    env=renv,
                    cwd=work,
                    out=work / f"report-{kind}-{fmt}",
                )
                if m.returncode != 0:
                    raise Failure(
                        f"linkwatch report --format {fmt} exited {m.returncode}: "
                        f"{m.stderr.read_text()[-800:]}"
                    )
                r["report"][fmt] = {"wall": m.wall_s, "cpu": m.cpu_s, "rss": m.rss_mb}
                log(f"scale/{kind}: report {fmt}: {m.wall_s:.2f} s, {m.rss_mb:.0f} MB")
            per_db[kind] = r
    results["scale"] = {
        "links": links,
        "hosts": hosts,
        "report_links": report_links,
        "days": days,
        "db": per_db,
    }


def _count_checks(url: str) -> int:
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(sa.text("SELECT count(*) FROM checks")).scalar_one())
    finally:
        engine.dispose()


def scale_table(d: dict[str, Any]) -> list[str]:
    lines = [
        f"### 3. Scale: {d['links']:,} monitored links on {d['hosts']} hosts (farm, no latency); "
        f"report over {d['report_links']:,} links x {d['days']} days of history",
        "",
        "| database | populate (sync_article) s | bookkeeping ms/check (claim + record) | "
        "daemon sweep: checks, wall s, CPU s | daemon peak RSS MB | report table / json / html s "
        "| report peak RSS MB |",
        "|---|---:|---:|---|---:|---|---:|",
    ]
    for kind, r in d["db"].items():
        if "skipped" in r:
            lines.append(f"| {kind} | {r['skipped']} | | | | | |")
            continue
        b, dm, rp = r["bookkeeping"], r["daemon"], r["report"]
        lines.append(
            f"| {kind} | {r['populate']['seconds']:.1f} | **{b['per_check_ms']:.2f}** "
            f"({b['claim_ms']:.2f} + {b['record_ms']:.2f}) | {dm['checks']:,}, "
            f"{dm['wall']:.1f}, {dm['cpu']:.1f} ({dm['cpu'] * 1000 / max(dm['checks'], 1):.2f} "
            f"ms CPU/check) | **{dm['rss']:.0f}** | "
            + " / ".join(f"{rp[x]['wall']:.2f}" for x in ("table", "json", "html"))
            + f" | {max(rp[x]['rss'] for x in rp):.0f} |"
        )
    return lines


# -- results ----------------------------------------------------------------------------------


def targets(results: dict[str, Any]) -> list[str]:
    rows: list[tuple[str, str, bool | None]] = []
    if "engine" in results:
        er: dict[str, Row] = results["engine"]["rows"]
        lw = er["linkwatch"]
        w = lw.med("wall_s")
        for peer in ("linkinator", "LinkChecker"):
            row = er.get(peer)
            if row is not None and row.runs:
                rows.append(
                    (
                        f"engine faster than {peer}",
                        f"{w:.2f} s vs {row.med('wall_s'):.2f} s",
                        w < row.med("wall_s"),
                    )
                )
        bare = er["bare loop: httpx on AiohttpTransport"]
        if bare.runs:
            ratio = w / bare.med("wall_s")
            rows.append(
                (
                    "engine <= 1.3x the AiohttpTransport bare loop (wall)",
                    f"{ratio:.2f}x (CPU {lw.med('cpu_s') / bare.med('cpu_s'):.2f}x)",
                    ratio <= 1.3,
                )
            )
        rows.append(
            ("engine peak RSS < 120 MB", f"{lw.med('rss_mb'):.0f} MB", lw.med("rss_mb") < 120)
        )
        ly = er.get("lychee")
        if ly is not None and ly.runs:
            ratio = w / ly.med("wall_s")
            rows.append(("stretch: within 4x of lychee", f"{ratio:.1f}x", ratio <= 4))
    if "polite" in results:
        d = results["polite"]
        ratio = d["default"]["phase"] / d["bound_s"]
        rows.append(
            (
                "polite sweep within 1.15x of the bound (checking phase)",
                f"{ratio:.2f}x",
                ratio <= 1.15,
            )
        )
    if "scale" in results:
        for kind, r in results["scale"]["db"].items():
            if "skipped" in r:
                continue
            b = r["bookkeeping"]["per_check_ms"]
            rows.append((f"bookkeeping < 2 ms/check ({kind})", f"{b:.2f} ms", b < 2))
            rss = r["daemon"]["rss"]
            rows.append(
                (
                    f"daemon RSS < 300 MB at {results['scale']['links']:,} links ({kind})",
                    f"{rss:.0f} MB",
                    rss < 300,
                )
            )
            rep = r["report"]["table"]["wall"]
            rows.append((f"report < 3 s ({kind}, table)", f"{rep:.2f} s", rep < 3))
    lines = ["| target | measured | met |", "|---|---|---|"]
    lines += [f"| {t} | {m} | {'yes' if ok else 'NO'} |" for t, m, ok in rows]
    return lines


def write_results(
    path: Path,
    results: dict[str, Any],
    info: dict[str, str],
    load_end: str,
    command: str,
    smoke: bool,
) -> None:
    lines = [
        "# linkwatch benchmark results" + (" (smoke run)" if smoke else ""),
        "",
        f"- date: {info['date']}",
        f"- machine: {info['cores']} cores ({info['cpu']}), {info['memory']} RAM, {info['os']}, "
        f"Python {info['python']}",
        f"- load average (1/5/15 min) at start: {info['load']}; at end: {load_end} "
        "(other processes share these cores: wall times are inflated by that load, CPU times "
        "much less)",
        f"- command: `{command}`",
        "- every number is a whole process (wall time, CPU user+sys and peak RSS from "
        "`os.wait4`), against the local farm `benchmarks/farm.py` on loopback",
        "",
        "## Targets",
        "",
        *targets(results),
        "",
    ]
    if "engine" in results:
        lines += [*engine_table(results["engine"]), ""]
    if "polite" in results:
        lines += [*polite_table(results["polite"]), ""]
    if "scale" in results:
        lines += [*scale_table(results["scale"]), ""]
    notes = HERE / "NOTES.md"
    if notes.exists() and not smoke:
        lines += [notes.read_text().rstrip(), ""]
    path.write_text("\n".join(lines))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny CI version (< 60 s)")
    parser.add_argument(
        "--only", default="engine,polite,scale", help="comma-separated: engine, polite, scale"
    )
    parser.add_argument("--runs", type=int, default=3, help="runs per tool (median reported)")
    parser.add_argument("--no-postgres", action="store_true", help="scale on SQLite only")
    parser.add_argument("--scale-links", type=int, default=100_000)
    parser.add_argument(
        "--output",
        type=Path,
        default=None,
        help="results file (default benchmarks/RESULTS.md; "
        "benchmarks/out/RESULTS-smoke.md with --smoke)",
    )
    args = parser.parse_args(argv)
    only = {p.strip() for p in args.only.split(",") if p.strip()}
    unknown = only - {"engine", "polite", "scale"}
    if unknown:
        parser.error(f"--only: unknown part(s) {', '.join(sorted(unknown))}")
    if args.runs < 1:
        parser.error("--runs must be >= 1")
    OUT.mkdir(parents=True, exist_ok=True)
    output = args.output or (OUT / "RESULTS-smoke.md" if args.smoke else HERE / "RESULTS.md")
    command = (
        "python benchmarks/run.py"
        + ("" if argv is None and len(sys.argv) < 2 else " ")
        + shlex.join(sys.argv[1:] if argv is None else argv)
    )
    info = machine()
    results: dict[str, Any] = {}
    started = time.perf_counter()
    try:
        with farm() as f:
            if args.smoke:
                if "engine" in only:
                    engine(f, 60, 1, with_peers=False, results=results)
                if "polite" in only:
                    polite(f, hosts=4, per_host=20, latency_ms=20, runs=1, results=results)
                if "scale" in only:
                    scale(
                        f,
                        links=500,
                        hosts=5,
                        bookkeeping_n=100,
                        report_links=300,
                        days=30,
                        results=results,
                        databases=["sqlite"],
                    )
            else:
                if "engine" in only:
                    engine(f, 2000, args.runs, with_peers=True, results=results)
                if "polite" in only:
                    polite(
                        f, hosts=100, per_host=100, latency_ms=50, runs=args.runs, results=results
                    )
                if "scale" in only:
                    dbs = ["sqlite"] if args.no_postgres else ["sqlite", "postgresql"]
                    scale(
                        f,
                        links=args.scale_links,
                        hosts=100,
                        bookkeeping_n=2000,
                        report_links=10_000,
                        days=365,
                        results=results,
                        databases=dbs,
                    )
    except Failure as exc:
        log(f"FAILED: {exc}")
        if results:  # keep what was measured, marked as incomplete
            partial = output.with_name(output.stem + "-partial.md")
            write_results(partial, results, info, "(failed)", command, args.smoke)
            log(f"partial results in {partial}")
        return 1
    load_end = " / ".join(f"{x:.2f}" for x in os.getloadavg())
    write_results(output, results, info, load_end, command, args.smoke)
    log(f"done in {time.perf_counter() - started:.0f} s; wrote {output}")
    print(output.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
