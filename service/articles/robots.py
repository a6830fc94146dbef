"""robots.txt (RFC 9309) for fetching a publication's article pages: pure, no I/O.

    rules = parse_robots(text)                      # or robots_for_status(status, text)
    rules.allowed("https://example.com/post/1", "linkwatch")
    rules.crawl_delay("linkwatch")                  # seconds or None (a common extension)

- groups are chosen by product token: the group whose `User-agent` matches the crawler's
  token (case-insensitive; "linkwatch" in "linkwatch/1.0 (+url)") wins, else the `*` group;
  several groups for one agent are merged (RFC 9309 2.2.1);
- the longest matching rule wins; on a tie `Allow` wins; `*` and `$` are understood;
- paths are compared percent-encoded (as RFC 9309 2.2.2 asks);
- an unavailable robots.txt (4xx) allows everything; an unreachable one (5xx, network
  error) disallows everything for now (RFC 9309 2.3.1.3/2.3.1.4), so nothing is fetched
  from a site whose robots.txt cannot be read; `/robots.txt` itself is always allowed.
Link checks never consult robots.txt (they fetch single cited URLs, like a reader's click).
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass, field
from functools import lru_cache
from urllib.parse import quote, unquote, urlsplit

MAX_ROBOTS_BYTES = 500 * 1024  # RFC 9309 2.5: at least 500 KiB must be parsed


@dataclass(frozen=True, slots=True)
class Rule:
    allow: bool
    pattern: str  # percent-encoded path pattern, may hold * and a final $


@dataclass(frozen=True, slots=True)
class Group:
    agents: tuple[str, ...]  # lower-case product tokens ("*" for any)
    rules: tuple[Rule, ...] = ()
    crawl_delay: float | None = None


@dataclass(frozen=True, slots=True)
class RobotsRules:
    """What one site's robots.txt says."""

    groups: tuple[Group, ...] = ()
    disallow_all: bool = False  # robots.txt unreachable: nothing may be fetched yet
    sitemaps: tuple[str, ...] = field(default=())

    def _group_for(self, user_agent: str) -> tuple[list[Rule], float | None]:
        token = product_token(user_agent)
        rules: list[Rule] = []
        delay: float | None = None
        matched = False
        for group in self.groups:
            if token and token in group.agents:
                matched = True
                rules.extend(group.rules)
                delay = group.crawl_delay if group.crawl_delay is not None else delay
        if not matched:
            for group in self.groups:
                if "*" in group.agents:
                    rules.extend(group.rules)
                    delay = group.crawl_delay if group.crawl_delay is not None else delay
        return rules, delay

    def allowed(self, url: str, user_agent: str) -> bool:
        """May a crawler called `user_agent` fetch `url`?"""
        path = _path_of(url)
        if path == "/robots.txt":
            return True
        if self.disallow_all:
            return False
        rules, _ = self._group_for(user_agent)
        best: Rule | None = None
        for rule in rules:
            if rule.pattern == "" or not _matches(rule.pattern, path):
                continue
            if (
                best is None
                or len(rule.pattern) > len(best.pattern)
                or (len(rule.pattern) == len(best.pattern) and rule.allow and not best.allow)
            ):
                best = rule
        return best is None or best.allow

    def crawl_delay(self, user_agent: str) -> float | None:
        return self._group_for(user_agent)[1]


ALLOW_ALL = RobotsRules()
DISALLOW_ALL = RobotsRules(disallow_all=True)


def product_token(user_agent: str) -> str:
    """'linkwatch/1.0 (+https://...)' -> 'linkwatch'."""
    match = re.match(r"\s*([A-Za-z_-]+)", user_agent)
    return match.group(1).lower() if match else ""


def robots_for_status(status: int | None, text: str | None) -> RobotsRules:
    """The rules given the answer to GET /robots.txt (status None: network error)."""
    if status is not None and 200 <= status < 300:
        return parse_robots(text or "")
    if status is not None and 400 <= status < 500:
        return ALLOW_ALL
    return DISALLOW_ALL


def parse_robots(text: str) -> RobotsRules:
    """Parse a robots.txt body; unknown lines are ignored; never raises."""
    groups: list[Group] = []
    agents: list[str] = []
    rules: list[Rule] = []
    delay: float | None = None
    sitemaps: list[str] = []
    in_rules = False

    def close() -> None:
        if agents:
            groups.append(Group(tuple(agents), tuple(rules), delay))

    for raw in text[:MAX_ROBOTS_BYTES].splitlines():
        line = raw.split("#", 1)[0].strip()
        key, sep, value = line.partition(":")
        if not sep:
            continue
        key = key.strip().lower()
        value = value.strip()
        if key in ("user-agent", "useragent"):
            if in_rules:
                close()
                agents, rules, delay, in_rules = [], [], None, False
            agents.append(value.lower() if value == "*" else product_token(value))
        elif key in ("allow", "disallow"):
            in_rules = True
            if agents:
                rules.append(Rule(key == "allow", _encode_pattern(value)))
        elif key == "crawl-delay":
            in_rules = True
            with contextlib.suppress(ValueError):
                delay = max(0.0, float(value))
        elif key == "sitemap" and value:
            sitemaps.append(value)
    close()
    return RobotsRules(tuple(groups), False, tuple(sitemaps))


def robots_url(url: str) -> str:
    """The robots.txt URL of the site of `url`."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}/robots.txt"


def _path_of(url: str) -> str:
    parts = urlsplit(url)
    path = _encode_pattern(parts.path or "/")
    return path + ("?" + parts.query if parts.query else "")


def _encode_pattern(value: str) -> str:
    # Canonical percent-encoding: decode, then encode everything but the path's own syntax.
    return quote(unquote(value), safe="/*$?=&;:@!,'()+~-._%")


@lru_cache(maxsize=1024)
def _compiled(pattern: str) -> re.Pattern[str]:
    anchored = pattern.endswith("$")
    body = pattern[:-1] if anchored else pattern
    regex = ".*".join(re.escape(part) for part in body.split("*"))
    return re.compile(regex + ("$" if anchored else ""))


def _matches(pattern: str, path: str) -> bool:
    return _compiled(pattern).match(path) is not None
