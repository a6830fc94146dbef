"""The checker's own CPU: one process checking a URL set against the farm, nothing else.

    python benchmarks/checker_cpu.py [--set polite|engine] [--runs 5] [--src DIR ...]

No store, no workers, no start-up: `service.oneshot.check_urls` in process (the code a
checking worker runs) over the polite sweep's URLs (10,000 links on 100 hosts, per-host
concurrency 2) or the engine's (2,000 links on one host: one third 404, one third 301, one
third 200), at 0 ms latency, so that the process's CPU time is the checker's cost. With
several `--src` checkouts (e.g. a `git worktree` of an older commit and this one), the runs
alternate between them and the medians are compared: the way to A/B a change to the checker
on a machine whose speed drifts from minute to minute. Prints one line per run and a summary;
exits 1 when a checkout's verdicts are wrong (`make bench-smoke` runs it once).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from run import farm  # noqa: E402

# Runs in a fresh interpreter per measurement, with the checkout under test first on the path.
_CHILD = """
import asyncio, json, sys, time
src, port, which = sys.argv[1], sys.argv[2], sys.argv[3]
sys.path.insert(0, src)
from service.oneshot import check_urls
from service.settings import ChecksSettings

if which == "polite":
    hosts = [f"polite{i}.test" for i in range(100)]
    urls = [f"http://{hosts[i % 100]}:{port}/p/n{i}" for i in range(10_000)]
    settings = ChecksSettings(per_host_concurrency=2, oneshot_interval_s=0, concurrency=200,
                              resolve=[f"{h}:127.0.0.1" for h in hosts])
else:
    urls = [f"http://bench.test:{port}/{('x', 'r', 'p')[i % 3]}/n{i}" for i in range(2_000)]
    settings = ChecksSettings(per_host_concurrency=128, oneshot_interval_s=0, concurrency=128,
                              resolve=["bench.test:127.0.0.1"])
started, cpu = time.perf_counter(), time.process_time()
results = asyncio.run(check_urls(settings, urls, {}))
outcomes = {}
for r in results.values():
    outcomes[r.outcome.value] = outcomes.get(r.outcome.value, 0) + 1
print(json.dumps({"cpu_s": time.process_time() - cpu, "wall_s": time.perf_counter() - started,
                  "checked": len(results), "outcomes": outcomes}))
"""


def _right(which: str, outcomes: dict[str, int]) -> bool:
    """The verdicts the farm's answers call for (a checkout that is wrong is not measured)."""
    if which == "polite":
        return outcomes == {"ok": 10_000}
    alive = outcomes.get("ok", 0) + outcomes.get("moved", 0)
    return outcomes.get("not_found") == 667 and alive == 1_333


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--set", choices=("polite", "engine"), default="polite")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--src", type=Path, action="append", help="checkout(s) to measure (default: this one)"
    )
    args = parser.parse_args()
    sources = [p.resolve() for p in args.src or [HERE.parent]]
    cpu: dict[Path, list[float]] = {src: [] for src in sources}
    env = {k: v for k, v in os.environ.items() if not k.startswith("LINKWATCH_")}
    with farm() as f:
        for run in range(args.runs):
            for src in sources:
                f.reset(0)
                out = subprocess.run(
                    [sys.executable, "-c", _CHILD, str(src), str(f.port), args.set],
                    env=env,
                    cwd=src,
                    capture_output=True,
                    text=True,
                    check=True,
                )
                got = json.loads(out.stdout.strip().splitlines()[-1])
                if not _right(args.set, got["outcomes"]):
                    print(f"{src}: wrong verdicts {got['outcomes']}", file=sys.stderr)
                    return 1
                cpu[src].append(got["cpu_s"])
                print(
                    f"run {run + 1}/{args.runs} {src}: cpu {got['cpu_s']:.2f} s, "
                    f"wall {got['wall_s']:.2f} s, {got['outcomes']}",
                    flush=True,
                )
    for src, values in cpu.items():
        print(f"{src}: median CPU {statistics.median(values):.2f} s over {len(values)} runs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
