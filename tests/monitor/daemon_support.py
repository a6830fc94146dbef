"""Running `python -m service run` as a real subprocess against a temp config and the link farm."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from tests.support.farm import LinkFarm

ROOT = Path(__file__).resolve().parents[2]


def write_config(
    tmp: Path,
    db_url: str,
    farm: LinkFarm,
    *,
    articles: Sequence[str] = (),
    monitor: dict[str, Any] | None = None,
    checks: dict[str, Any] | None = None,
    name: str = "linkwatch.toml",
) -> Path:
    mon = {"tick_s": 0.3, "grace_s": 5.0, "batch_size": 50, "lease_s": 60.0, **(monitor or {})}
    chk = {
        "resolve": farm.pins,
        "per_host_interval_s": 0.0,
        "per_host_concurrency": 64,
        "concurrency": 128,
        "canaries": [],
        "retries": 0,
        "timeout_s": 10.0,
        "soft404_probe": False,
        **(checks or {}),
    }

    def table(values: dict[str, Any]) -> str:
        return "\n".join(f"{k} = {json.dumps(v)}" for k, v in values.items())

    text = f"[database]\nurl = {json.dumps(db_url)}\n\n[checks]\n{table(chk)}\n\n"
    text += f"[wayback]\nenabled = false\n\n[monitor]\n{table(mon)}\n"
    for source in articles:
        text += f"\n[[articles]]\nsource = {json.dumps(source)}\npublished = 2020-01-01\n"
    path = tmp / name
    path.write_text(text, encoding="utf-8")
    return path


def env_for(config: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LINKWATCH_")}
    env.pop("DATABASE_URL", None)
    env["LINKWATCH_CONFIG"] = str(config)
    env["PYTHONPATH"] = str(ROOT)
    return env


def start_daemon(config: Path, *args: str, log: Path | None = None) -> subprocess.Popen[str]:
    out = open(log, "w") if log is not None else subprocess.DEVNULL
    return subprocess.Popen(
        [sys.executable, "-m", "service", "run", *args],
        env=env_for(config),
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=out,
        text=True,
    )


def cli(config: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "service", *args],
        env=env_for(config),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def wait_for(predicate: Callable[[], bool], timeout: float, what: str, step: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def stop(proc: subprocess.Popen[str], timeout: float = 30) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    return proc.wait(timeout=timeout)


def scalar(engine: sa.Engine, sql: str, **params: Any) -> Any:
    """One value, or None while the daemon has not created the tables yet."""
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text(sql), params).scalar()
    except sa.exc.DBAPIError:
        return None


def markdown_article(path: Path, urls: Sequence[str]) -> Path:
    lines = ["# An article", ""] + [f"- [link {i}]({u})" for i, u in enumerate(urls)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
