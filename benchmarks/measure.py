"""Whole-process measurements (wall, CPU user+sys, peak RSS) and the machine's description."""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path


@dataclass(frozen=True)
class Measurement:
    wall_s: float
    user_s: float
    sys_s: float
    rss_mb: float  # peak resident set size of the process (and its waited-for children)
    returncode: int
    stdout: Path
    stderr: Path

    @property
    def cpu_s(self) -> float:
        return self.user_s + self.sys_s


def run_measured(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    out: Path,
    timeout_s: float = 1800,
) -> Measurement:
    """Run `argv` to completion; its stdout/stderr go to `out`.stdout/.stderr.

    Times come from os.wait4 (the kernel's accounting of the child and the children it
    waited for), so a wrapper process cannot hide its workers' CPU or memory.
    """
    stdout, stderr = out.with_suffix(".stdout"), out.with_suffix(".stderr")
    with stdout.open("wb") as so, stderr.open("wb") as se:
        started = time.perf_counter()
        proc = subprocess.Popen(
            list(argv),
            env=dict(env) if env is not None else None,
            cwd=cwd,
            stdout=so,
            stderr=se,
            stdin=subprocess.DEVNULL,
        )
        deadline = started + timeout_s
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.005)
        wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)  # already reaped: tell Popen
    return Measurement(
        wall_s=wall,
        user_s=usage.ru_utime,
        sys_s=usage.ru_stime,
        rss_mb=usage.ru_maxrss / 1024,  # Linux: kilobytes
        returncode=proc.returncode,
        stdout=stdout,
        stderr=stderr,
    )


def median_of(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def _first_line(path: str, key: str) -> str:
    try:
        for line in Path(path).read_text().splitlines():
            if line.lower().startswith(key.lower()):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def machine() -> dict[str, str]:
    mem_kb = _first_line("/proc/meminfo", "MemTotal").split()[0]
    try:
        mem = f"{int(mem_kb) / 1024 / 1024:.1f} GiB"
    except ValueError:
        mem = "unknown"
    load = os.getloadavg()
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cores": str(os.cpu_count()),
        "memory": mem,
        "cpu": _first_line("/proc/cpuinfo", "model name"),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "load": " / ".join(f"{x:.2f}" for x in load),
    }
