"""Pure URL comparisons shared by classification and the soft-404/redirect heuristics."""

from __future__ import annotations

from functools import lru_cache
from urllib.parse import urlsplit

_DEFAULT_PORTS = {"http": 80, "https": 443}


@lru_cache(maxsize=8192)
def _page_key(url: str) -> tuple[str, int | None, str, str, str]:
    """(host, port, path, query, scheme) of a URL as `same_page` compares them (cached)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").rstrip(".")
    host = host.removeprefix("www.")
    try:
        port = parts.port
    except ValueError:
        port = None
    if port == _DEFAULT_PORTS.get(scheme):
        port = None
    path = parts.path.rstrip("/")
    return host, port, path, parts.query, scheme


def same_page(a: str, b: str) -> bool:
    """Whether two URLs differ only trivially: http<->https, `www.`, a trailing slash, default port.

    The port is ignored when the scheme changes (an upgrade to https moves to another port).
    Fragments are ignored; path case and query are significant.
    """
    if a == b:
        return True
    host_a, port_a, path_a, query_a, scheme_a = _page_key(a)
    host_b, port_b, path_b, query_b, scheme_b = _page_key(b)
    if (host_a, path_a, query_a) != (host_b, path_b, query_b):
        return False
    return port_a == port_b or scheme_a != scheme_b
