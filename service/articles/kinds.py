"""Link kinds (DESIGN.md), decided from the href alone and the article's base URL: no network.

``classify_href`` never raises: whatever cannot be understood is ``invalid``.
"""

from __future__ import annotations

import re
from functools import lru_cache
from urllib.parse import unquote, urljoin

from service.articles.normalize import clean_spaces, normalize_url, split_fragment
from service.model import LinkKind

Classified = tuple[LinkKind, str | None, str | None]

_SCHEME_RE = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*):")
_TEL_SEPARATORS = re.compile(r"[\s\-.()]")
_TEL_CHARS = re.compile(r"^[+0-9*#A-Za-z]+$")


def classify_href(href: str, base_url: str | None = None) -> Classified:
    """(kind, normalised absolute URL or None, ``"#fragment"`` or None) for one href as written.

    - ``http``: http/https URLs, relative refs resolved against ``base_url``, ``//host/x``;
    - ``placeholder``: ``#``, empty or blank, ``javascript:``;
    - ``fragment``: ``#section`` (a place inside the same article);
    - ``mailto`` / ``tel``: url is ``mailto:address`` (domain lower-cased) / ``tel:number``;
    - ``relative``: a relative ref and no usable base URL;
    - ``unsupported``: any other scheme (ftp:, data:, file:, ...);
    - ``invalid``: cannot be parsed (bad host, bad port, broken IPv6, ...).
    """
    try:
        return _classify(href, base_url)
    except Exception:  # classification must never raise, whatever the input
        return LinkKind.INVALID, None, None


@lru_cache(maxsize=256)
def usable_base(base_url: str | None) -> str | None:
    """``base_url`` normalised when it is an absolute http(s) URL, else None."""
    if not base_url:
        return None
    try:
        return normalize_url(base_url)
    except ValueError:
        return None


def _classify(href: str, base_url: str | None) -> Classified:
    value = clean_spaces(href)
    if value in ("", "#"):
        return LinkKind.PLACEHOLDER, None, None
    if value.startswith("#"):
        return LinkKind.FRAGMENT, None, value
    match = _SCHEME_RE.match(value)
    if match:
        scheme = match.group(1).lower()
        if scheme in ("http", "https"):
            return _http(value)
        if scheme == "javascript":
            return LinkKind.PLACEHOLDER, None, None
        if scheme == "mailto":
            return _mailto(value[match.end() :])
        if scheme == "tel":
            return _tel(value[match.end() :])
        return LinkKind.UNSUPPORTED, None, None
    base = usable_base(base_url)
    if value.startswith("//"):
        scheme = base.partition(":")[0] if base else "https"
        return _http(f"{scheme}:{value}")
    if base is None:
        return LinkKind.RELATIVE, None, split_fragment(value)[1]
    return _http(urljoin(base, value))


def _http(url: str) -> Classified:
    without, fragment = split_fragment(url)
    try:
        return LinkKind.HTTP, normalize_url(without), fragment
    except ValueError:
        return LinkKind.INVALID, None, None


def _mailto(rest: str) -> Classified:
    addresses = unquote(rest.partition("?")[0]).strip()
    if not addresses:
        return LinkKind.INVALID, None, None
    parts = []
    for address in addresses.split(","):
        local, at, domain = address.strip().rpartition("@")
        parts.append(f"{local}@{domain.lower()}" if at else address.strip())
    return LinkKind.MAILTO, "mailto:" + ",".join(parts), None


def _tel(rest: str) -> Classified:
    number = _TEL_SEPARATORS.sub("", unquote(rest.partition(";")[0]))
    if not number or not _TEL_CHARS.match(number):
        return LinkKind.INVALID, None, None
    return LinkKind.TEL, "tel:" + number, None
