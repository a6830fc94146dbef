"""One typed settings object: config/linkwatch.toml, overridden by LINKWATCH_* environment vars.

Nested keys use a double underscore in the environment (`LINKWATCH_CHECKS__TIMEOUT_S=5`).
Secrets may be given as `<key>_file` (TOML) or `LINKWATCH_<SECTION>__<KEY>_FILE` (environment):
the file's content, stripped, becomes the value. `DATABASE_URL` and `LINKWATCH_WAYBACK_URL`
are accepted as short forms. Invalid values fail at start with the key that is wrong.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

DEFAULT_CONFIG = Path("config/linkwatch.toml")
ENV_PREFIX = "LINKWATCH_"


class ConfigError(Exception):
    """The configuration cannot be used; `errors` holds one line per problem."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DatabaseSettings(_Section):
    url: str = "sqlite:///data/linkwatch.db"
    echo: bool = False


class ChecksSettings(_Section):
    timeout_s: float = Field(
        20.0, gt=0, description="total deadline of one check, all hops and retries"
    )
    connect_timeout_s: float = Field(10.0, gt=0)
    max_body_bytes: int = Field(
        256 * 1024, ge=1024, description="body bytes read per response (decompressed)"
    )
    max_redirects: int = Field(10, ge=0, le=50)
    concurrency: int = Field(128, ge=1, description="requests in flight at once, all hosts")
    per_host_concurrency: int = Field(2, ge=1)
    per_host_interval_s: float = Field(
        1.0, ge=0, description="minimum gap between requests to one host (daemon)"
    )
    oneshot_interval_s: float = Field(0.0, ge=0, description="the same for `linkwatch check`")
    processes: int = Field(
        0,
        ge=0,
        le=64,
        description="worker processes `linkwatch check` checks in, each owning whole sites "
        "(0: one per CPU core)",
    )
    retries: int = Field(
        2, ge=0, le=10, description="retries of transient outcomes inside one check"
    )
    retry_backoff_s: float = Field(1.0, ge=0)
    retry_after_cap_s: float = Field(60.0, ge=0)
    allow_private: bool = False
    resolve: list[str] = Field(
        default_factory=list, description="HOST:IP pins, like curl --resolve"
    )
    user_agent: str | None = None
    user_agents: dict[str, str] = Field(default_factory=dict, description="per-host User-Agent")
    check_fragments: bool = False
    soft404_probe: bool = True
    soft404_cache_s: float = Field(
        3600.0, ge=0, description="reuse a soft-404 probe answer per host and directory this long"
    )
    canaries: list[str] = Field(
        default_factory=lambda: [
            "https://www.wikipedia.org/",
            "https://www.google.com/",
            "https://www.cloudflare.com/",
        ]
    )

    @field_validator("resolve")
    @classmethod
    def _pins(cls, v: list[str]) -> list[str]:
        for pin in v:
            parse_pin(pin)
        return v


class WaybackSettings(_Section):
    enabled: bool = True
    base_url: str = "https://web.archive.org"
    timeout_s: float = Field(20.0, gt=0)
    cdx_per_minute: int = Field(24, ge=1)
    save_per_minute: int = Field(6, ge=1)
    refresh_days: float = Field(30.0, gt=0)
    retry_minutes: float = Field(
        60.0, gt=0, description="look up again this long after a failed lookup"
    )
    save_max_age_days: float = Field(
        365.0, gt=0, description="resubmit alive links whose newest capture is older"
    )
    access_key: SecretStr | None = None
    secret_key: SecretStr | None = None

    @property
    def save_enabled(self) -> bool:
        return self.access_key is not None and self.secret_key is not None


class MonitorSettings(_Section):
    tick_s: float = Field(30.0, gt=0)
    batch_size: int = Field(200, ge=1)
    lease_s: float = Field(600.0, gt=0)
    grace_s: float = Field(20.0, ge=0)
    alive_interval_h: float = Field(24.0, gt=0)
    suspect_retry_h: list[float] = Field(default_factory=lambda: [1.0, 6.0, 24.0])
    dead_interval_h: float = Field(168.0, gt=0)
    unknown_interval_h: float = Field(72.0, gt=0)
    jitter: float = Field(0.1, ge=0, lt=1)
    dead_after_signals: int = Field(3, ge=1)
    dead_after_hours: float = Field(24.0, ge=0)
    article_refresh_h: float = Field(24.0, gt=0)
    retention_days: int = Field(400, ge=1)
    heartbeat_stale_s: float = Field(120.0, gt=0)


ALERT_EVENTS = (
    "broken",
    "recovered",
    "moved",
    "monitor_offline",
    "monitor_online",
    "reminder",
    "drifted",
)
_HHMM = r"(?:[01]?\d|2[0-3]):[0-5]\d"


class ChannelSettings(_Section):
    url: SecretStr | None = None  # an Apprise URL; may hold secrets, never logged
    events: list[str] = Field(
        default_factory=lambda: [
            "broken",
            "recovered",
            "monitor_offline",
            "monitor_online",
            "reminder",
        ]
    )
    articles: list[str] = Field(
        default_factory=list, description="only these article locations (empty: all)"
    )
    tags: list[str] = Field(
        default_factory=list, description="only articles with one of these tags"
    )
    digest: Literal["immediate", "daily"] = "immediate"
    daily_at: str = Field("08:00", pattern=f"^{_HHMM}$", description="UTC time of the daily digest")

    @field_validator("events")
    @classmethod
    def _known_events(cls, v: list[str]) -> list[str]:
        unknown = [e for e in v if e not in ALERT_EVENTS]
        if unknown:
            raise ValueError(
                f"unknown event(s) {', '.join(unknown)}; known: {', '.join(ALERT_EVENTS)}"
            )
        return v


class AlertsSettings(_Section):
    channels: dict[str, ChannelSettings] = Field(default_factory=dict)
    retry_initial_s: float = Field(60.0, gt=0)
    retry_max_s: float = Field(6 * 3600.0, gt=0)
    digest_cap: int = Field(20, ge=1)
    offline_after_s: float = Field(600.0, ge=0)
    reminder_days: float | None = None
    quiet_hours: str | None = Field(
        None,
        pattern=f"^{_HHMM}-{_HHMM}$",
        description="e.g. '22:00-07:00' (UTC): non-urgent messages wait",
    )


class WebSettings(_Section):
    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=1, le=65535)
    token: SecretStr | None = None


class ArticleEntry(_Section):
    source: str
    published: date | None = None
    source_url: str | None = None
    tags: list[str] = Field(default_factory=list)
    interval_hours: float | None = Field(None, gt=0)


class DriftSettings(_Section):
    """Content drift: live pages compared with their citation capture (`linkwatch drift`)."""

    enabled: bool = Field(
        True, description="compare alive links with their citation capture (needs wayback)"
    )
    interval_days: float = Field(30.0, gt=0, description="re-compare a link after this many days")
    retry_hours: float = Field(
        24.0, gt=0, description="try again this long after a comparison without verdict"
    )
    batch_size: int = Field(
        10, ge=1, description="links compared per daemon run (one archive request each)"
    )
    max_page_bytes: int = Field(
        2 * 1024 * 1024, ge=16 * 1024, description="bytes read of the live page and of the capture"
    )
    same_cosine: float = Field(
        0.8, ge=0, le=1, description="`same` at or above this TF-IDF cosine ..."
    )
    same_containment: float = Field(
        0.7, ge=0, le=1, description="... or this share of the capture's 4-word shingles kept"
    )
    replaced_cosine: float = Field(0.12, ge=0, le=1, description="`replaced` below this cosine ...")
    replaced_word_drop: float = Field(
        0.7, gt=0, le=1, description="... or when the word count fell by more than this fraction"
    )

    @model_validator(mode="after")
    def _ordered(self) -> DriftSettings:
        if self.replaced_cosine > self.same_cosine:
            raise ValueError("replaced_cosine must not exceed same_cosine")
        return self


class SourcesSettings(_Section):
    """Publication sources (sitemaps, feeds, folders): `linkwatch add --sitemap|--feed|DIR`."""

    scan_interval_h: float = Field(
        6.0, gt=0, description="re-read each sitemap, feed and folder this often"
    )
    fetch_batch: int = Field(
        500, ge=1, description="article pages fetched per daemon run of the sources job"
    )
    lastmod_refresh_days: float = Field(
        30.0,
        gt=0,
        description="re-fetch an article whose lastmod did not change after this long anyway",
    )
    max_sitemaps: int = Field(1000, ge=1, description="child sitemaps read from one sitemap index")
    max_document_bytes: int = Field(
        50 * 2**20, ge=1024, description="bytes of one sitemap or feed (decompressed)"
    )
    respect_robots: bool = Field(True, description="honour robots.txt when fetching article pages")
    max_crawl_delay_s: float = Field(30.0, ge=0, description="cap on a robots.txt Crawl-delay")


class Settings(_Section):
    database: DatabaseSettings = DatabaseSettings()
    checks: ChecksSettings = ChecksSettings()
    wayback: WaybackSettings = WaybackSettings()
    monitor: MonitorSettings = MonitorSettings()
    alerts: AlertsSettings = AlertsSettings()
    web: WebSettings = WebSettings()
    drift: DriftSettings = DriftSettings()
    sources: SourcesSettings = SourcesSettings()
    articles: list[ArticleEntry] = Field(default_factory=list)
    log_format: Literal["text", "json"] = "text"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"


def parse_pin(pin: str) -> tuple[str, str]:
    """'host:ip' (ip may be [v6]) -> (host, ip); curl's 'host:port:ip' is accepted, port ignored."""
    host, sep, rest = pin.partition(":")
    if not sep or not host or not rest:
        raise ValueError(f"bad --resolve pin {pin!r}: expected HOST:IP")
    parts = rest.split(":", 1)
    if len(parts) == 2 and parts[0].isdigit():
        rest = parts[1]
    ip = rest.strip("[]")
    import ipaddress

    try:
        ipaddress.ip_address(ip)
    except ValueError as exc:
        raise ValueError(f"bad --resolve pin {pin!r}: {ip!r} is not an IP address") from exc
    return host.lower().rstrip("."), ip


def _set_path(tree: dict[str, Any], path: list[str], value: Any) -> None:
    for key in path[:-1]:
        node = tree.setdefault(key, {})
        if not isinstance(node, dict):
            raise ConfigError([f"{'.'.join(path)}: conflicts with a non-table value"])
        tree = node
    tree[path[-1]] = value


_LIST_KEYS = frozenset({"resolve", "canaries", "events", "tags"})
"""List keys that also accept a plain comma-separated environment value."""


def _env_overrides(env: Mapping[str, str]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for name, raw in env.items():
        if not name.startswith(ENV_PREFIX) or name in {"LINKWATCH_CONFIG", "LINKWATCH_WAYBACK_URL"}:
            continue
        path = name[len(ENV_PREFIX) :].lower().split("__")
        value: Any = raw
        if raw[:1] in "[{" or raw in {"true", "false"}:
            try:
                value = tomllib.loads(f"v = {raw}")["v"]
            except tomllib.TOMLDecodeError:
                value = raw
        elif path[-1] in _LIST_KEYS and "," in raw:
            value = [p.strip() for p in raw.split(",") if p.strip()]
        elif path[-1] in _LIST_KEYS:
            value = [raw] if raw else []
        _set_path(tree, path, value)
    if "DATABASE_URL" in env:
        _set_path(tree, ["database", "url"], env["DATABASE_URL"])
    if "LINKWATCH_WAYBACK_URL" in env:
        _set_path(tree, ["wayback", "base_url"], env["LINKWATCH_WAYBACK_URL"])
    return tree


def _merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _resolve_files(tree: dict[str, Any], where: str, errors: list[str]) -> dict[str, Any]:
    """Replace every `<key>_file` entry by `<key>` = the file's stripped content."""
    out: dict[str, Any] = {}
    for key, value in tree.items():
        here = f"{where}.{key}" if where else key
        if isinstance(value, dict):
            out[key] = _resolve_files(value, here, errors)
        elif key.endswith("_file") and isinstance(value, str):
            try:
                out[key[: -len("_file")]] = Path(value).read_text(encoding="utf-8").strip()
            except OSError as exc:
                errors.append(f"{here}: cannot read secret file {value!r}: {exc.strerror or exc}")
        else:
            out[key] = value
    return out


def _env_name(loc: tuple[int | str, ...], env: Mapping[str, str]) -> str | None:
    """The LINKWATCH_* variable that set the key at `loc`, if one did."""
    keys = [str(p) for p in loc if isinstance(p, str)]
    for n in range(len(keys), 0, -1):
        name = ENV_PREFIX + "__".join(keys[:n]).upper()
        for variant in (name, name + "_FILE"):
            if variant in env:
                return variant
    return None


def _format_validation(exc: ValidationError, env: Mapping[str, str]) -> list[str]:
    lines = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"])
        msg = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
        source = _env_name(err["loc"], env)
        lines.append(
            f"{loc}: {msg}" + (f" (from the environment variable {source})" if source else "")
        )
    return lines


def config_path_from_env(env: Mapping[str, str] | None = None) -> Path | None:
    env = os.environ if env is None else env
    if "LINKWATCH_CONFIG" in env:
        return Path(env["LINKWATCH_CONFIG"])
    return DEFAULT_CONFIG if DEFAULT_CONFIG.exists() else None


def read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError as exc:
        raise ConfigError([f"{path}: no such configuration file"]) from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{path}: not valid TOML: {exc}"]) from exc
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read: {exc.strerror}"]) from exc


def load_settings(
    path: Path | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Build the effective settings: file < environment < explicit overrides (CLI flags)."""
    env = os.environ if env is None else env
    path = path if path is not None else config_path_from_env(env)
    tree: dict[str, Any] = read_toml(path) if path is not None else {}
    tree = _merge(tree, _env_overrides(env))
    if overrides:
        tree = _merge(tree, overrides)
    errors: list[str] = []
    tree = _resolve_files(tree, "", errors)
    if errors:
        raise ConfigError(errors)
    try:
        return Settings.model_validate(tree)
    except ValidationError as exc:
        raise ConfigError(_format_validation(exc, env)) from exc
