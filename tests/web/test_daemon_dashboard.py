"""`linkwatch run` serves the dashboard when web.enabled (issue 7): a real daemon subprocess on
a free loopback port; /healthz answers 200, the pages render, SIGTERM stops both."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import httpx

from tests.monitor.daemon_support import cli, start_daemon, stop, wait_for
from tests.support.serving import free_port

HOST = "127.0.0.5"


def config(tmp: Path, port: int, *, enabled: bool = True) -> Path:
    sections: dict[str, dict[str, Any]] = {
        "database": {"url": f"sqlite:///{tmp / 'lw.db'}"},
        "checks": {"canaries": []},
        "wayback": {"enabled": False},
        "monitor": {"tick_s": 0.5, "grace_s": 5.0},
        "web": {"enabled": enabled, "host": HOST, "port": port},
    }
    text = "".join(
        f"[{name}]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in values.items()) + "\n"
        for name, values in sections.items()
    )
    path = tmp / "linkwatch.toml"
    path.write_text(text, encoding="utf-8")
    return path


def get(url: str) -> httpx.Response | None:
    try:
        return httpx.get(url, timeout=5, trust_env=False)
    except httpx.TransportError:
        return None


def test_linkwatch_run_serves_the_dashboard_and_stops_on_sigterm(tmp_path: Path) -> None:
    port = free_port(HOST)
    base = f"http://{HOST}:{port}"
    log = tmp_path / "daemon.log"
    proc = start_daemon(config(tmp_path, port), log=log)
    try:
        wait_for(
            lambda: (r := get(f"{base}/healthz")) is not None and r.status_code == 200,
            timeout=60,
            what=f"the dashboard on {base} (log: {log.read_text() if log.exists() else ''})",
        )
        health = get(f"{base}/healthz")
        assert health is not None and health.json() == {"status": "ok", "database": "ok"}
        home = get(f"{base}/")
        assert home is not None and home.status_code == 200 and "Articles" in home.text
        metrics = get(f"{base}/metrics")
        assert metrics is not None and metrics.status_code == 200
    finally:
        code = stop(proc)
    assert code == 0, log.read_text()
    assert get(f"{base}/healthz") is None  # the dashboard stopped with the daemon
    assert "Traceback" not in log.read_text()


def test_a_busy_dashboard_port_is_a_one_line_error(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind((HOST, 0))
        taken.listen(1)
        port = int(taken.getsockname()[1])
        result = cli(config(tmp_path, port), "run", timeout=60)
    assert result.returncode == 2
    err = result.stderr.strip().splitlines()
    assert err[-1].startswith("linkwatch: web.enabled: cannot serve the dashboard on "), err
    assert "Traceback" not in result.stderr


def test_without_web_enabled_nothing_listens(tmp_path: Path) -> None:
    port = free_port(HOST)
    log = tmp_path / "daemon.log"
    proc = start_daemon(config(tmp_path, port, enabled=False), log=log)
    try:
        wait_for(
            lambda: log.exists() and "daemon starting" in log.read_text(),
            timeout=60,
            what="the daemon to start",
        )
        wait_for(lambda: (tmp_path / "lw.db").exists(), timeout=30, what="its database")
        assert get(f"http://{HOST}:{port}/healthz") is None
    finally:
        assert stop(proc) == 0, log.read_text()
