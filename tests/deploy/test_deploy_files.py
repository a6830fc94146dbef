"""The deployment files: docker-compose.yml, Dockerfile, .dockerignore and the systemd unit.

No Docker engine runs here: the compose file is validated by `docker-compose config -q`
(Debian package docker-compose) and its content checked; the systemd unit by
`systemd-analyze verify` on a copy whose ExecStart points at an existing binary (the real
/opt/linkwatch/bin/linkwatch is absent on a build machine), plus a syntax check of our own that
runs everywhere.
"""

from __future__ import annotations

import fnmatch
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from service.settings import load_settings

ROOT = Path(__file__).resolve().parents[2]
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
UNIT = ROOT / "config" / "linkwatch.service"


def _need(tool: str, *, required_in_ci: bool = True) -> str:
    path = shutil.which(tool)
    if path is None:
        if IN_CI and required_in_ci:
            pytest.fail(f"{tool} is missing (CI installs it)")
        pytest.skip(f"{tool} is not installed")
    return path


# --------------------------------------------------------------------------- compose


_CACHE: dict[tuple[tuple[str, str], ...], dict] = {}  # type: ignore[type-arg]


def _compose_config(tmp_path: Path, env: dict[str, str] | None = None) -> dict:  # type: ignore[type-arg]
    key = tuple(sorted((env or {}).items()))
    if key not in _CACHE:
        _CACHE[key] = _run_compose_config(env)
    return _CACHE[key]


def _run_compose_config(env: dict[str, str] | None) -> dict:  # type: ignore[type-arg]
    tool = _need("docker-compose")
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("LINKWATCH_", "COMPOSE_"))}
    full_env.update(env or {})
    result = subprocess.run(
        [tool, "-f", str(ROOT / "docker-compose.yml"), "config"],
        capture_output=True,
        text=True,
        timeout=60,
        env=full_env,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


def test_compose_file_is_valid() -> None:
    tool = _need("docker-compose")
    result = subprocess.run(
        [tool, "-f", str(ROOT / "docker-compose.yml"), "config", "-q"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""


def test_compose_wiring(tmp_path: Path) -> None:
    cfg = _compose_config(tmp_path)
    services = cfg["services"]
    pg, lw = services["postgres"], services["linkwatch"]

    assert pg["image"].startswith("postgres:16")
    assert "pg_isready" in " ".join(pg["healthcheck"]["test"])
    assert any(
        v["target"] == "/var/lib/postgresql/data" and v["type"] == "volume" for v in _volumes(pg)
    )
    assert lw["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert lw["command"] == ["run"]

    # Secrets: PostgreSQL reads its password from a file; linkwatch its URL from another.
    assert pg["environment"]["POSTGRES_PASSWORD_FILE"] == "/run/secrets/postgres_password"
    assert [s["source"] for s in pg["secrets"]] == ["postgres_password"]
    assert lw["environment"]["LINKWATCH_DATABASE__URL_FILE"] == "/run/secrets/database_url"
    assert [s["source"] for s in lw["secrets"]] == ["database_url"]
    assert not any("PASSWORD" in k and v for k, v in lw["environment"].items())

    # The dashboard listens on every interface of the container, published on the host's loopback.
    assert lw["environment"]["LINKWATCH_WEB__ENABLED"] == "true"
    assert lw["environment"]["LINKWATCH_WEB__HOST"] == "0.0.0.0"
    assert [(p["published"], p["target"]) for p in _ports(lw)] == [("8080", 8080)] or [
        (str(p["published"]), p["target"]) for p in _ports(lw)
    ] == [("8080", 8080)]

    # The configuration directory of the clone, read-only; the data in a named volume.
    mounts = {v["target"]: v for v in _volumes(lw)}
    assert mounts["/config"]["type"] == "bind" and mounts["/config"].get("read_only") is True
    assert Path(mounts["/config"]["source"]) == ROOT / "config"
    assert mounts["/data"]["type"] == "volume"

    # The mail catcher exists only in the `mail` profile.
    assert services["mailpit"]["profiles"] == ["mail"]
    assert set(cfg["volumes"]) == {"postgres-data", "linkwatch-data"}


def _volumes(service: dict) -> list[dict]:  # type: ignore[type-arg]
    out = []
    for v in service.get("volumes", []):
        if isinstance(v, str):  # compose v1 prints "source:target:mode"
            source, target, *mode = v.split(":")
            kind = "bind" if source.startswith(("/", ".")) else "volume"
            out.append(
                {"source": source, "target": target, "type": kind, "read_only": mode == ["ro"]}
            )
        else:
            out.append(v)
    return out


def _ports(service: dict) -> list[dict]:  # type: ignore[type-arg]
    out = []
    for p in service.get("ports", []):
        if isinstance(p, str):  # "127.0.0.1:8080:8080/tcp"
            parts = p.split("/")[0].split(":")
            out.append(
                {
                    "host_ip": parts[0] if len(parts) == 3 else "",
                    "published": parts[-2],
                    "target": int(parts[-1]),
                }
            )
        else:
            out.append(p)
    return out


def test_dashboard_binds_loopback_unless_asked(tmp_path: Path) -> None:
    assert [
        p.get("host_ip") for p in _ports(_compose_config(tmp_path)["services"]["linkwatch"])
    ] == ["127.0.0.1"]
    ports = _ports(
        _compose_config(tmp_path, {"LINKWATCH_PUBLISH": "8080"})["services"]["linkwatch"]
    )
    assert [p.get("host_ip", "") for p in ports] in ([""], [None])


def test_compose_environment_is_a_valid_configuration(tmp_path: Path) -> None:
    """What the container sees (its environment + the mounted config) passes the settings."""
    lw = _compose_config(tmp_path)["services"]["linkwatch"]
    url_file = tmp_path / "database_url"
    url_file.write_text("postgresql+psycopg://linkwatch:pw@postgres:5432/linkwatch\n")
    env = {k: v for k, v in lw["environment"].items() if v is not None}
    env["LINKWATCH_DATABASE__URL_FILE"] = str(url_file)
    env.pop("LINKWATCH_CONFIG")
    settings = load_settings(ROOT / "config" / "linkwatch.toml", env=env)
    assert settings.database.url == "postgresql+psycopg://linkwatch:pw@postgres:5432/linkwatch"
    assert (settings.web.enabled, settings.web.host, settings.web.port) == (True, "0.0.0.0", 8080)


# --------------------------------------------------------------------------- image


def test_dockerfile_shape() -> None:
    text = (ROOT / "Dockerfile").read_text()
    stages = re.findall(r"^FROM\s+(\S+)(?:\s+AS\s+(\S+))?", text, re.MULTILINE)
    assert [s[0] for s in stages] == ["python:3.11-slim", "python:3.11-slim"]
    assert "COPY --from=build" in text
    assert re.search(r"^USER\s+linkwatch", text, re.MULTILINE)
    assert re.search(r'^HEALTHCHECK .*\n?.*CMD \["linkwatch", "status"\]', text, re.MULTILINE)
    assert re.search(r'^ENTRYPOINT \["linkwatch"\]\nCMD \["run"\]', text, re.MULTILINE)
    assert 'VOLUME ["/data"]' in text
    assert "LINKWATCH_CONFIG=/config/linkwatch.toml" in text
    assert "LINKWATCH_WEB__HOST=0.0.0.0" in text


def _ignored(path: str, patterns: list[str]) -> bool:
    ignored = False
    for pat in patterns:
        neg = pat.startswith("!")
        pat = pat.lstrip("!").rstrip("/")
        parts = path.split("/")
        hit = any(
            fnmatch.fnmatch("/".join(parts[:i]), pat)
            or fnmatch.fnmatch("/".join(parts[:i]), "**/" + pat.removeprefix("**/"))
            or (pat.startswith("**/") and fnmatch.fnmatch(parts[i - 1], pat[3:]))
            for i in range(1, len(parts) + 1)
        )
        if hit:
            ignored = not neg
    return ignored


def test_dockerignore_keeps_the_build_inputs_and_drops_secrets() -> None:
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for needed in (
        "pyproject.toml",
        "README.md",
        "service/store/migrations/env.py",
        "config/linkwatch.toml",
    ):
        assert not _ignored(needed, patterns), needed
    for dropped in (
        ".venv/bin/python",
        ".git/config",
        "secrets/postgres_password",
        "data/linkwatch.db",
        "service/__pycache__/x.pyc",
        ".env",
    ):
        assert _ignored(dropped, patterns), dropped
    # Every path the Dockerfile copies from the context exists in the clone.
    text = (ROOT / "Dockerfile").read_text()
    for line in re.findall(r"^COPY (?!--from)(.+)$", text, re.MULTILINE):
        for src in line.split()[:-1]:
            assert (ROOT / src).exists(), src


# --------------------------------------------------------------------------- systemd


def _unit_entries(text: str) -> list[tuple[str, str, str, int]]:
    """(section, key, value, line) of a unit file; raises on lines that are not unit syntax."""
    section = ""
    out = []
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        m = re.fullmatch(r"\[([A-Za-z]+)\]", line)
        if m:
            section = m.group(1)
            continue
        m = re.fullmatch(r"([A-Za-z][A-Za-z0-9]*)=(.*)", line)
        assert m and section, f"line {n}: not unit syntax: {raw!r}"
        out.append((section, m.group(1), m.group(2), n))
    return out


def test_unit_syntax_and_content() -> None:
    """The documented syntax check (runs everywhere, with or without systemd)."""
    entries = _unit_entries(UNIT.read_text())
    keys: dict[str, list[str]] = {}
    for section, key, value, _ in entries:
        assert section in {"Unit", "Service", "Install"}
        keys.setdefault(f"{section}.{key}", []).append(value)
    assert keys["Service.Type"] == ["simple"]
    assert keys["Service.ExecStart"] == ["/opt/linkwatch/bin/linkwatch run"]
    assert keys["Service.Restart"] == ["on-failure"]
    assert "Service.ExecReload" not in keys  # the daemon has no reload signal
    for hardening in ("NoNewPrivileges", "ProtectHome", "PrivateTmp", "DynamicUser"):
        assert keys[f"Service.{hardening}"] == ["yes"], hardening
    assert keys["Service.ProtectSystem"] == ["strict"]
    assert keys["Service.StateDirectory"] == ["linkwatch"]
    assert keys["Service.ReadWritePaths"] == ["/var/lib/linkwatch"]
    env = dict(v.split("=", 1) for v in keys["Service.Environment"])
    assert env["LINKWATCH_DATABASE__URL"] == "sqlite:////var/lib/linkwatch/linkwatch.db"
    assert env["LINKWATCH_CONFIG"] == "/etc/linkwatch/linkwatch.toml"
    # The grace period of a stop must fit in systemd's stop timeout.
    grace = load_settings(ROOT / "config" / "linkwatch.toml", env={}).monitor.grace_s
    assert float(keys["Service.TimeoutStopSec"][0].rstrip("s")) > grace
    assert keys["Install.WantedBy"] == ["multi-user.target"]


def _verify(unit_text: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    # When available; test_unit_syntax_and_content is the documented check everywhere else.
    tool = _need("systemd-analyze", required_in_ci=False)
    true = shutil.which("true")
    assert true
    copy = tmp_path / "linkwatch.service"
    copy.write_text(unit_text.replace("/opt/linkwatch/bin/linkwatch", true))
    return subprocess.run(
        [tool, "verify", "--man=no", str(copy)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "SYSTEMD_LOG_COLOR": "0"},
    )


def _complaints(result: subprocess.CompletedProcess[str]) -> list[str]:
    return [ln for ln in (result.stdout + result.stderr).splitlines() if "linkwatch.service" in ln]


def test_unit_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    result = _verify(UNIT.read_text(), tmp_path)
    assert result.returncode == 0, result.stderr
    assert _complaints(result) == []


def test_systemd_analyze_verify_catches_mistakes(tmp_path: Path) -> None:
    """The check above can fail: a misspelt key and a bad value are reported."""
    broken = (
        UNIT.read_text()
        .replace("NoNewPrivileges=", "NoNewPrivilegs=")
        .replace("Restart=on-failure", "Restart=sometimes")
    )
    complaints = " ".join(_complaints(_verify(broken, tmp_path)))
    assert "NoNewPrivilegs" in complaints
    assert "sometimes" in complaints
