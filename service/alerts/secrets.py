"""Keeping the secrets of Apprise URLs out of every log line, error message and report.

A channel is always named by its configured name. Its URL may hold passwords and tokens
(in the user info, the host of token-style schemes, path segments, query values, headers);
`secret_fragments` finds them, and `mask` replaces every one of them in any text by `***`.
Channel URLs are registered process-wide (`register_url`), and `install_log_masking` puts
a filter on the loggers of the libraries that may print them (Apprise, urllib3, requests).
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable
from urllib.parse import parse_qsl, quote, quote_plus, unquote, unquote_plus

MASK = "***"
MIN_SECRET_LEN = 4

# Query keys of Apprise URLs that are configuration, not credentials.
_PUBLIC_QUERY_KEYS = frozenset(
    {
        "to",
        "from",
        "cc",
        "bcc",
        "name",
        "smtp",
        "secure",
        "mode",
        "format",
        "overflow",
        "method",
        "verify",
        "rto",
        "cto",
        "emojis",
        "tz",
        "priority",
        "tag",
        "tags",
        "avatar",
        "image",
        "footer",
        "reply",
        "retry",
        "wait",
        "optional",
        "lang",
        "title",
        "discovery",
        "store",
        "batch",
        "cache",
        "user",
        "port",
        "header",
        "template",
        "type",
        "pgp",
        "wkd",
    }
)
# Schemes whose host is a real network host (elsewhere the "host" is often a token).
_EMAIL_SCHEMES = frozenset({"mailto", "mailtos", "email", "smtp", "smtps"})

_USERINFO = re.compile(
    r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<user>[^:/@\s]*):(?P<pw>[^@\s/]+)@"
)
_KEYVALUE = re.compile(
    r"(?i)(?P<key>\b(?:token|secret|password|passwd|pass|pwd|apikey|api_key|key|auth|authorization"
    r"|access_token|webhook)\s*[=:]\s*)(?P<val>(?:Bearer\s+|Basic\s+)?[^\s&'\",;]+)"
)
_HOSTLIKE = re.compile(
    r"^(?:localhost|\d{1,3}(?:\.\d{1,3}){3}|\[[0-9a-fA-F:.]+\]|[^.\s]+\.[^\s]+)$"
)


def _variants(value: str) -> set[str]:
    out = {
        value,
        unquote(value),
        unquote_plus(value),
        quote(value, safe=""),
        quote_plus(value, safe=""),
    }
    return {v for v in out if len(v) >= MIN_SECRET_LEN}


def _split_netloc(rest: str) -> tuple[str, str, str]:
    """(userinfo, host, path+query) of 'userinfo@host/path?query' without strict parsing."""
    end = len(rest)
    for sep in "/?#":
        idx = rest.find(sep)
        if idx != -1:
            end = min(end, idx)
    netloc, tail = rest[:end], rest[end:]
    userinfo, _, host = netloc.rpartition("@")
    return userinfo, host, tail


def _is_token(segment: str) -> bool:
    """A path segment that looks like a credential rather than a word ('hook', 'api')."""
    if "@" in segment or len(segment) < MIN_SECRET_LEN:
        return False
    return len(segment) >= 8 or any(c.isdigit() for c in segment)


def secret_fragments(url: str) -> set[str]:
    """Every part of an Apprise URL that may be a credential (and its quoted forms)."""
    found: set[str] = set()
    url = url.strip()
    if not url:
        return found
    found |= _variants(url)
    scheme, sep, rest = url.partition("://")
    if not sep:
        return found
    scheme = scheme.lower()
    userinfo, host, tail = _split_netloc(rest)
    if userinfo:
        user, has_pw, password = userinfo.partition(":")
        if has_pw:
            found |= _variants(password)
        if scheme not in _EMAIL_SCHEMES and user and (_is_token(user) or not has_pw):
            found |= _variants(user)  # pushover://USER_KEY@TOKEN, ...
    host_only = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    if host_only and not _HOSTLIKE.match(host_only):
        found |= _variants(host_only)  # slack://TokenA/..., discord://webhook_id/..., ntfy://topic
    if host.count(":") == 1 and not host.rsplit(":", 1)[1].isdigit():
        found |= _variants(host)  # tgram://123456:ABCDEF/...: a token with a colon
    path, _, query = tail.partition("?")
    query = query.partition("#")[0]
    for segment in path.split("/"):
        if _is_token(unquote(segment)):
            found |= _variants(segment)
    for key, value in parse_qsl(query, keep_blank_values=False):
        bare = key.lstrip("+-:").lower()
        if key[:1] in "+:" or bare not in _PUBLIC_QUERY_KEYS:
            found |= _variants(value)
            for word in value.split():
                if _is_token(word):
                    found |= _variants(word)
    return {f for f in found if len(f) >= MIN_SECRET_LEN}


class SecretMasker:
    """Replaces known secrets, and anything shaped like a credential, by `***`."""

    def __init__(self, urls: Iterable[str] = ()) -> None:
        self._lock = threading.Lock()
        self._secrets: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        for url in urls:
            self.register_url(url)

    def register_url(self, url: str) -> None:
        self.register(secret_fragments(url))

    def register(self, secrets: Iterable[str]) -> None:
        with self._lock:
            before = len(self._secrets)
            self._secrets.update(s for s in secrets if len(s) >= MIN_SECRET_LEN)
            if len(self._secrets) != before:
                ordered = sorted(self._secrets, key=len, reverse=True)
                self._pattern = re.compile("|".join(re.escape(s) for s in ordered))

    def mask(self, text: str) -> str:
        pattern = self._pattern
        if pattern is not None:
            text = pattern.sub(MASK, text)
        text = _USERINFO.sub(lambda m: f"{m['scheme']}{m['user']}:{MASK}@", text)
        return _KEYVALUE.sub(lambda m: f"{m['key']}{MASK}", text)


# The process-wide masker: every channel URL is registered here when the channel is built.
MASKER = SecretMasker()


def register_url(url: str) -> None:
    MASKER.register_url(url)


def mask(text: str) -> str:
    """`text` with every registered secret and credential-shaped value replaced by `***`."""
    return MASKER.mask(text)


class MaskingFilter(logging.Filter):
    """A logging filter that masks secrets in the formatted message (and drops the args)."""

    def __init__(self, masker: SecretMasker = MASKER) -> None:
        super().__init__()
        self._masker = masker

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: keep the raw template
            message = str(record.msg)
        masked = self._masker.mask(message)
        if masked != message or record.args:
            record.msg, record.args = masked, None
        if record.exc_info and record.exc_info[1] is not None:
            # Tracebacks may carry URLs: keep only a masked one-line summary.
            exc = record.exc_info[1]
            record.msg = f"{record.msg} ({type(exc).__name__}: {self._masker.mask(str(exc))})"
            record.exc_info = None
            record.exc_text = None
        return True


# Loggers that may print a notification URL (or part of it) while sending.
NOISY_LOGGERS = ("apprise", "urllib3", "urllib3.connectionpool", "requests", "linkwatch.alerts")
_installed: set[str] = set()


def install_log_masking() -> None:
    """Put the masking filter on every logger that may print a channel's URL (idempotent)."""
    for name in NOISY_LOGGERS:
        if name not in _installed:
            logging.getLogger(name).addFilter(MaskingFilter())
            _installed.add(name)
