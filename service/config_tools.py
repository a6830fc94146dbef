"""Operator tools over the settings: validate a file with line numbers, show it masked, document it.

Pure functions (no I/O except reading the file being checked); the `linkwatch config` commands in
service/cli/config.py only print what these return.

- `check_config(path)` -> the problems of a configuration file, each with its key and line.
- `key_lines(text)` -> the line where each key path of a TOML document is defined
  (tomllib gives no positions: every prefix of the text that parses tells which keys exist by then).
- `effective_config(settings)` / `render_toml(tree)` -> the configuration with secrets masked.
- `reference_rows()` / `reference_markdown()` -> every key: type, default, environment variable.
"""

from __future__ import annotations

import re
import sys
import tomllib
import types
import typing
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin
from urllib.parse import parse_qsl, urlencode, urlsplit

from pydantic import BaseModel, SecretStr, ValidationError
from pydantic.fields import FieldInfo

from service.settings import ENV_PREFIX, ConfigError, Settings, load_settings, read_toml

MASK = "***"

KeyPath = tuple[str | int, ...]


# --------------------------------------------------------------------------- key -> line


def _flatten(node: Any, prefix: KeyPath, out: set[KeyPath]) -> None:
    out.add(prefix)
    if isinstance(node, dict):
        for key, value in node.items():
            _flatten(value, (*prefix, key), out)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            _flatten(value, (*prefix, index), out)


_KEY_START = re.compile(r"""^\s*(?:\[\[?\s*)?(?P<key>[A-Za-z0-9_.\-"' ]+?)\s*(?:=|\]\]?)""")


def _defines(line: str, name: str) -> bool:
    """Does this line start a key assignment or table header whose last dotted part is `name`?"""
    m = _KEY_START.match(line)
    if not m:
        return False
    parts = [p.strip().strip("\"'") for p in m.group("key").split(".")]
    return bool(parts) and parts[-1] == name


def key_lines(text: str) -> dict[KeyPath, int]:
    """The 1-based line where each key path (list items as int indexes) is defined.

    A multi-line value completes on its last line; the line reported is then the one that opens
    the key (the nearest line above that assigns that name).
    """
    lines = text.splitlines()
    found: dict[KeyPath, int] = {}
    for n in range(1, len(lines) + 1):
        try:
            doc = tomllib.loads("\n".join(lines[:n]))
        except tomllib.TOMLDecodeError:
            continue
        paths: set[KeyPath] = set()
        _flatten(doc, (), paths)
        for path in paths:
            if path and path not in found:
                found[path] = n
    for path, n in list(found.items()):
        names = [p for p in path if isinstance(p, str)]
        if not names or isinstance(path[-1], int):
            continue
        for back in range(n, 0, -1):
            if _defines(lines[back - 1], names[-1]):
                found[path] = back
                break
    return found


def _path_of(loc: str) -> KeyPath:
    return tuple(int(p) if p.isdigit() else p for p in loc.split("."))


def line_of(loc: str, lines: Mapping[KeyPath, int], *, missing: bool = False) -> int | None:
    """The line of a dotted error location, else of its `_file` twin.

    A `missing` key (required, absent) is reported at the nearest parent the file defines.
    """
    path = _path_of(loc)
    while path:
        if path in lines:
            return lines[path]
        last = path[-1]
        if isinstance(last, str):
            twin = (*path[:-1], f"{last}_file")
            if twin in lines:
                return lines[twin]
        if not missing:
            return None
        path = path[:-1]
    return None


def env_name(loc: str) -> str:
    """The variable that sets a dotted key: `checks.timeout_s` -> LINKWATCH_CHECKS__TIMEOUT_S."""
    return ENV_PREFIX + "__".join(loc.split(".")).upper()


# --------------------------------------------------------------------------- check


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a configuration: where (key, line) and what."""

    key: str
    message: str
    line: int | None = None

    def render(self, file: Path) -> str:
        where = f"{file}:{self.line}" if self.line is not None else f"{file}"
        return f"{where}: {self.key}: {self.message}" if self.key else f"{where}: {self.message}"


_TOML_POS = re.compile(r"\(at line (\d+), column \d+\)")


_ENV_SUFFIX = re.compile(r" \(from the environment variable \w+\)$")


def _split(error: str) -> tuple[str, str]:
    """'key: message' -> (key, message); the loader's env-variable note is dropped, because
    check_config names the variable itself."""
    key, sep, message = error.partition(": ")
    return (key, _ENV_SUFFIX.sub("", message)) if sep else ("", error)


def _without_secret_files(tree: Any) -> Any:
    """The tree with every `<key>_file` replaced by `<key>` = a placeholder (nothing read)."""
    if isinstance(tree, dict):
        out: dict[str, Any] = {}
        for key, value in tree.items():
            if key.endswith("_file") and isinstance(value, str):
                out[key[: -len("_file")]] = "placeholder"
            else:
                out[key] = _without_secret_files(value)
        return out
    if isinstance(tree, list):
        return [_without_secret_files(v) for v in tree]
    return tree


def _validation_lines(exc: ValidationError) -> list[str]:
    out = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"])
        out.append(f"{loc}: {'unknown key' if err['type'] == 'extra_forbidden' else err['msg']}")
    return out


def check_config(path: Path, env: Mapping[str, str] | None = None) -> list[Problem]:
    """Every problem of the configuration file `path` (empty: it is valid).

    With `env` None the file is checked alone (what a service will read, whatever this shell
    holds); pass `os.environ` to check file + LINKWATCH_* overrides as the daemon would.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return [Problem("", "no such configuration file")]
    except (OSError, UnicodeDecodeError) as exc:
        return [Problem("", f"cannot read: {getattr(exc, 'strerror', None) or exc}")]
    try:
        tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = _TOML_POS.search(str(exc))
        message = _TOML_POS.sub("", str(exc)).strip()
        return [Problem("(syntax)", f"not valid TOML: {message}", int(m.group(1)) if m else None)]
    try:
        load_settings(path, env={} if env is None else env)
        return []
    except ConfigError as exc:
        errors = list(exc.errors)
    if env is None and any("cannot read secret file" in e for e in errors):
        # Secret files are read before validation; report the other mistakes in the same run.
        try:
            Settings.model_validate(_without_secret_files(read_toml(path)))
        except ValidationError as vexc:
            errors += [e for e in _validation_lines(vexc) if e not in errors]
    lines = key_lines(text)
    problems = []
    for error in errors:
        key, message = _split(error)
        line = line_of(key, lines, missing=message == "Field required") if key else None
        if line is None and env is not None and key:
            source = _env_source(key, env)
            message = f"{message} (from ${source})" if source else message
        problems.append(Problem(key, message, line))
    return sorted(problems, key=lambda p: (p.line is None, p.line or 0, p.key))


def _env_source(loc: str, env: Mapping[str, str]) -> str | None:
    names = {name.upper(): name for name in env}
    short = {"database.url": "DATABASE_URL", "wayback.base_url": "LINKWATCH_WAYBACK_URL"}
    candidates = [short.get(loc, ""), env_name(loc), env_name(loc) + "_FILE"]
    parts = loc.split(".")
    candidates += [env_name(".".join(parts[:i])) for i in range(len(parts) - 1, 0, -1)]
    for candidate in candidates:
        if candidate and candidate in names:
            return names[candidate]
    return None


# --------------------------------------------------------------------------- show (masked)

_SECRET_QUERY = re.compile(r"pass|secret|token|key|auth", re.IGNORECASE)


def mask_url(url: str) -> str:
    """A URL with its password (and secret-looking query values) replaced by ***; the rest as is."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return MASK
    out = url
    if "@" in parts.netloc:
        userinfo, _, hostport = parts.netloc.rpartition("@")
        user, sep, _password = userinfo.partition(":")
        if sep:
            out = out.replace(f"//{parts.netloc}", f"//{user}:{MASK}@{hostport}", 1)
    if parts.query:
        pairs = parse_qsl(parts.query, keep_blank_values=True)
        if any(_SECRET_QUERY.search(k) for k, _ in pairs):
            hidden = [(k, MASK if _SECRET_QUERY.search(k) else v) for k, v in pairs]
            masked = urlencode(hidden, safe="*")
            out = out.replace(f"?{parts.query}", f"?{masked}", 1)
    return out


def _mask_channel(url: str) -> str:
    """Apprise URLs carry tokens anywhere (user, host, path): only the scheme is shown."""
    scheme = url.split("://", 1)[0] if "://" in url else ""
    return f"{scheme}://{MASK}" if scheme else MASK


def _masked(node: Any, path: tuple[str, ...]) -> Any:
    if isinstance(node, BaseModel):
        return {
            name: _masked(getattr(node, name), (*path, name)) for name in type(node).model_fields
        }
    if isinstance(node, SecretStr):
        if path[:2] == ("alerts", "channels"):
            return _mask_channel(node.get_secret_value())
        return MASK
    if isinstance(node, dict):
        return {k: _masked(v, (*path, str(k))) for k, v in node.items()}
    if isinstance(node, list):
        return [_masked(v, path) for v in node]
    if isinstance(node, str) and path and path[-1] == "url" and "://" in node:
        return mask_url(node)
    return node


def effective_config(settings: Settings) -> dict[str, Any]:
    """The settings as plain data (dates, numbers, strings, None), every secret masked."""
    out = _masked(settings, ())
    assert isinstance(out, dict)
    return out


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        inner = ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items())
        return "{ " + inner + " }" if inner else "{}"
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _toml_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else '"' + key.replace('"', '\\"') + '"'


def _is_table_list(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def render_toml(tree: Mapping[str, Any], prefix: str = "") -> str:
    """TOML text for a tree; None values become `# key = (not set)` comments."""
    scalars: list[str] = []
    tables: list[str] = []
    for key, value in tree.items():
        name = f"{prefix}.{_toml_key(key)}" if prefix else _toml_key(key)
        if isinstance(value, dict) and (value or prefix == ""):
            body = render_toml(value, name)
            tables.append(f"[{name}]\n{body}" if body.strip() else f"[{name}]\n")
        elif _is_table_list(value):
            for item in value:
                tables.append(f"[[{name}]]\n" + render_toml(item, name))
        elif value is None:
            scalars.append(f"# {_toml_key(key)} = (not set)")
        else:
            scalars.append(f"{_toml_key(key)} = {_toml_value(value)}")
    # A sub-table rendered by the recursive call already carries its own header.
    head = "\n".join(scalars) + ("\n" if scalars else "")
    return head + "".join("\n" + t for t in tables)


# --------------------------------------------------------------------------- reference

NOTES: dict[str, str] = {
    "database.url": "SQLAlchemy URL; `DATABASE_URL` is a short form. PostgreSQL: `postgresql+psycopg://user:pass@host/db`",
    "database.echo": "log every SQL statement",
    "checks.connect_timeout_s": "deadline of one TCP + TLS connection",
    "checks.max_redirects": "longest redirect chain followed",
    "checks.per_host_concurrency": "requests in flight at once to one host",
    "checks.allow_private": "check links that resolve to loopback/private/link-local addresses",
    "checks.user_agent": "User-Agent of the checker (default: `linkwatch/<version>`)",
    "checks.check_fragments": "verify that `#anchors` exist in the target page",
    "checks.soft404_probe": "probe a random sibling URL to detect sites answering 200 for anything",
    "checks.canaries": "URLs checked to tell 'the monitor is offline' from 'the link is dead'",
    "checks.retry_backoff_s": "first retry delay (doubles each retry)",
    "checks.retry_after_cap_s": "longest `Retry-After` honoured inside one check",
    "wayback.enabled": "look up Wayback Machine snapshots",
    "wayback.base_url": "Wayback Machine base URL; `LINKWATCH_WAYBACK_URL` is a short form",
    "wayback.timeout_s": "deadline of one archive request",
    "wayback.cdx_per_minute": "CDX lookups per minute (the Internet Archive allows about 30)",
    "wayback.save_per_minute": "Save Page Now 2 submissions per minute",
    "wayback.refresh_days": "ask the archive about a link again after this many days",
    "wayback.access_key": "Save Page Now 2 S3 access key (with `secret_key`: enables saving)",
    "wayback.secret_key": "Save Page Now 2 S3 secret key",
    "monitor.tick_s": "how often the daemon looks for due links",
    "monitor.batch_size": "links claimed per tick",
    "monitor.lease_s": "a claimed link can be claimed again after this (crashed replica)",
    "monitor.grace_s": "in-flight checks get this long to finish on SIGTERM",
    "monitor.alive_interval_h": "re-check alive links after this many hours",
    "monitor.suspect_retry_h": "re-check suspect links after these delays, in turn",
    "monitor.dead_interval_h": "re-check dead links (to notice recovery)",
    "monitor.unknown_interval_h": "re-check links whose health is unknown",
    "monitor.jitter": "random +/- fraction applied to every interval",
    "monitor.dead_after_signals": "consecutive dead signals before a link is dead ...",
    "monitor.dead_after_hours": "... spanning at least this many hours",
    "monitor.article_refresh_h": "re-fetch articles given by URL",
    "monitor.retention_days": "raw check rows older than this are rolled up per link per day",
    "monitor.heartbeat_stale_s": "`linkwatch status` fails when the newest heartbeat is older",
    "alerts.channels.<name>.url": "Apprise URL of the channel (secret: use `url_file`)",
    "alerts.channels.<name>.events": "events sent to this channel",
    "alerts.channels.<name>.digest": "`immediate`, or one message per day",
    "alerts.retry_initial_s": "first retry delay of a failed delivery (doubles)",
    "alerts.retry_max_s": "longest delay between delivery retries",
    "alerts.digest_cap": "most links listed in one message",
    "alerts.offline_after_s": "send `monitor_offline` after the canaries fail this long",
    "alerts.reminder_days": "remind about links still dead after this many days (unset: never)",
    "web.enabled": "serve the dashboard from `linkwatch run`",
    "web.host": "dashboard bind address (0.0.0.0 in a container)",
    "web.port": "dashboard port",
    "web.token": "bearer token for state-changing API calls (secret)",
    "articles[].source": "a file path or an article URL",
    "articles[].published": "publication date (the archive copy closest to it is preferred)",
    "articles[].source_url": "where the article was originally published",
    "articles[].tags": "free tags (alerts can filter on them)",
    "articles[].interval_hours": "per-article check interval of its alive links",
    "log_format": "`text` or `json` lines",
    "log_level": "log threshold",
}


@dataclass(frozen=True)
class KeyDoc:
    """One configuration key as documented."""

    key: str
    type: str
    default: str
    env: str
    secret: bool
    description: str


def _type_name(annotation: Any) -> str:
    origin = get_origin(annotation)
    args = get_args(annotation)
    if origin is Literal:
        return " \\| ".join(f'"{a}"' for a in args)
    if origin in (Union, types.UnionType):
        names = [_type_name(a) for a in args if a is not type(None)]
        return " \\| ".join(names) + (" (optional)" if type(None) in args else "")
    if origin is list:
        return f"list of {_type_name(args[0])}"
    if origin is dict:
        return f"table of {_type_name(args[1])}"
    if annotation is SecretStr:
        return "string (secret)"
    return {str: "string", int: "integer", float: "float", bool: "boolean", date: "date"}.get(
        annotation, getattr(annotation, "__name__", str(annotation))
    )


def _default_text(info: FieldInfo) -> str:
    if info.is_required():
        return "(required)"
    value = info.get_default(call_default_factory=True)
    if value is None:
        return "(not set)"
    if isinstance(value, BaseModel):
        return ""
    return "`" + _toml_value(value) + "`"


def _model_of(annotation: Any) -> tuple[type[BaseModel] | None, str]:
    """(model, container) for a field holding a model, a dict of models or a list of models."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, ""
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is dict and isinstance(args[1], type) and issubclass(args[1], BaseModel):
        return args[1], "dict"
    if origin is list and isinstance(args[0], type) and issubclass(args[0], BaseModel):
        return args[0], "list"
    return None, ""


def _walk(model: type[BaseModel], key: str, env: str) -> Iterator[KeyDoc]:
    hints = typing.get_type_hints(model)
    for name, info in model.model_fields.items():
        annotation = hints.get(name, info.annotation)
        here = f"{key}.{name}" if key else name
        here_env = f"{env}__{name.upper()}" if env else f"{ENV_PREFIX}{name.upper()}"
        sub, container = _model_of(annotation)
        if sub is not None and container == "":
            yield from _walk(sub, here, here_env)
            continue
        if sub is not None and container == "dict":
            yield from _walk(sub, f"{here}.<name>", f"{here_env}__<NAME>")
            continue
        if sub is not None and container == "list":
            yield from _walk(sub, f"{here}[]", "")
            continue
        secret = "SecretStr" in repr(annotation)
        yield KeyDoc(
            key=here,
            type=_type_name(annotation),
            default=_default_text(info),
            env=here_env if env or not key else f"(in `{ENV_PREFIX}{key.rstrip('[]').upper()}`)",
            secret=secret,
            description=info.description or NOTES.get(here, ""),
        )


def reference_rows() -> list[KeyDoc]:
    """Every leaf key of Settings, in declaration order."""
    return list(_walk(Settings, "", ""))


BEGIN = "<!-- BEGIN GENERATED: linkwatch config reference -->"
END = "<!-- END GENERATED: linkwatch config reference -->"


def reference_markdown() -> str:
    """The Markdown table of every key (the generated block of docs/configuration.md)."""
    out = [
        "| key | type | default | environment variable | meaning |",
        "|---|---|---|---|---|",
    ]
    for row in reference_rows():
        env = f"`{row.env}`" if row.env.startswith(ENV_PREFIX) else row.env
        if row.secret:
            env += f"<br>`{row.env}_FILE`" if row.env.startswith(ENV_PREFIX) else ""
            key = f"`{row.key}`<br>`{row.key}_file`"
        else:
            key = f"`{row.key}`"
        desc = row.description.replace("|", "\\|")
        out.append(f"| {key} | {row.type} | {row.default} | {env} | {desc} |")
    return "\n".join(out) + "\n"


def update_reference(doc: Path) -> bool:
    """Rewrite the generated block of `doc`; True when it changed."""
    text = doc.read_text(encoding="utf-8")
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    new = f"{head}{BEGIN}\n{reference_markdown()}{END}{tail}"
    if new != text:
        doc.write_text(new, encoding="utf-8")
    return new != text


if __name__ == "__main__":  # python -m service.config_tools docs/configuration.md
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/configuration.md")
    print(f"{target}: {'updated' if update_reference(target) else 'up to date'}")
