"""URL normalisation: one canonical spelling per http(s) URL, so one `links` row per target.

Rules (pure, no I/O):
- surrounding whitespace and C0 controls stripped; tabs and newlines inside removed (browsers);
- scheme and host lower-cased; international host names encoded with IDNA (punycode);
- default ports dropped (80 for http, 443 for https); empty port (``host:``) dropped;
- percent-encoding normalised: hex digits upper-cased, unreserved characters decoded, stray
  ``%``, spaces, non-ASCII and other unsafe characters encoded (UTF-8);
- backslashes in the path become slashes and dot segments are removed (as browsers do);
- empty path becomes ``/``; an empty query (a bare ``?``) is dropped; the fragment is removed
  (see :func:`split_fragment` to keep it apart).

Invalid URLs raise ``ValueError`` with a short reason ("bad port", "empty host", ...).
"""

from __future__ import annotations

import ipaddress
import re
import string
from functools import lru_cache
from urllib.parse import unquote, urlsplit

import idna

HTTP_SCHEMES = frozenset({"http", "https"})
_DEFAULT_PORTS = {"http": 80, "https": 443}

_UNRESERVED = frozenset(string.ascii_letters + string.digits + "-._~")
_SUB_DELIMS = frozenset("!$&'()*+,;=")
_PATH_SAFE = _UNRESERVED | _SUB_DELIMS | frozenset(":@/")
_QUERY_SAFE = _PATH_SAFE | frozenset("?")
_USERINFO_SAFE = _UNRESERVED | _SUB_DELIMS | frozenset(":")
_HEX = frozenset(string.hexdigits)

# What browsers strip around a URL, and remove inside it.
_STRIP_CHARS = "".join(chr(c) for c in range(0x21))
_REMOVED_INSIDE = re.compile(r"[\t\n\r]")
_ASCII_HOST_CHARS = frozenset(string.ascii_lowercase + string.digits + "-_.")
_MAX_LABEL = 63
_MAX_HOST = 253


def clean_spaces(raw: str) -> str:
    """Strip surrounding whitespace/C0 controls and drop tabs and newlines inside (WHATWG)."""
    return _REMOVED_INSIDE.sub("", raw.strip(_STRIP_CHARS))


def split_fragment(url: str) -> tuple[str, str | None]:
    """Split ``url`` at its first ``#``: (URL without fragment, ``"#frag"`` or None when empty)."""
    base, sep, frag = url.partition("#")
    if not sep or not frag:
        return base, None
    return base, "#" + frag


@lru_cache(maxsize=4096)
def normalize_url(url: str) -> str:
    """The canonical form of an absolute http(s) URL; ``ValueError`` (short reason) when invalid."""
    cleaned = clean_spaces(url)
    if not cleaned:
        raise ValueError("empty URL")
    without_fragment, _ = split_fragment(cleaned)
    scheme, sep, rest = without_fragment.partition(":")
    scheme = scheme.lower()
    if not sep or scheme not in HTTP_SCHEMES:
        raise ValueError("not an http(s) URL")
    # Browsers read "http:\\host\path" like "http://host/path" for http(s).
    rest = rest.replace("\\", "/")
    if not rest.startswith("//"):
        raise ValueError("missing host")
    try:
        parts = urlsplit(scheme + ":" + rest)
    except ValueError as exc:
        reason = "bad IPv6 host" if "IPv6" in str(exc) else _short(exc)
        raise ValueError(reason) from None
    netloc = _normalize_netloc(parts.netloc, scheme)
    path = _remove_dot_segments(_normalize_percent(parts.path, _PATH_SAFE)) or "/"
    if not path.startswith("/"):
        path = "/" + path
    query = _normalize_percent(parts.query, _QUERY_SAFE)
    return f"{scheme}://{netloc}{path}" + (f"?{query}" if query else "")


def host_of(url: str) -> str:
    """The normalised host of an http(s) URL (lower-case, punycode, no port, IPv6 unbracketed)."""
    netloc = urlsplit(normalize_url(url)).netloc
    hostport = netloc.rpartition("@")[2]
    if hostport.startswith("["):
        return hostport[1 : hostport.index("]")]
    return hostport.partition(":")[0]


def _short(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _normalize_netloc(netloc: str, scheme: str) -> str:
    userinfo, at, hostport = netloc.rpartition("@")
    if hostport.startswith("["):
        end = hostport.find("]")
        if end < 0:
            raise ValueError("bad IPv6 host")
        host_raw, after = hostport[: end + 1], hostport[end + 1 :]
        if after and not after.startswith(":"):
            raise ValueError("bad host")
        port_raw = after[1:] if after else ""
        has_port = bool(after)
    else:
        host_raw, colon, port_raw = hostport.rpartition(":")
        has_port = bool(colon)
        if not colon:
            host_raw, port_raw = hostport, ""
    port = _parse_port(port_raw) if has_port else None
    host = _normalize_host(host_raw)
    result = host
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        result = f"{host}:{port}"
    if at and userinfo:
        result = _normalize_percent(userinfo, _USERINFO_SAFE) + "@" + result
    return result


def _parse_port(raw: str) -> int | None:
    if raw == "":
        return None
    if not raw.isascii() or not raw.isdigit():
        raise ValueError("bad port")
    port = int(raw)
    if port > 65535:
        raise ValueError("bad port")
    return port


def _normalize_host(raw: str) -> str:
    if not raw:
        raise ValueError("empty host")
    if raw.startswith("["):
        try:
            address = ipaddress.IPv6Address(raw[1:-1])
        except ValueError:
            raise ValueError("bad IPv6 host") from None
        return f"[{address.compressed}]"
    try:
        host = unquote(raw, errors="strict")
    except UnicodeDecodeError:
        raise ValueError("bad host") from None
    if not host:
        raise ValueError("empty host")
    if not host.isascii():
        try:
            host = idna.uts46_remap(host, std3_rules=False, transitional=False)
        except (idna.IDNAError, UnicodeError, ValueError):
            raise ValueError("bad host") from None
    host = host.lower()
    labels = host.split(".")
    if labels[-1] == "" and len(labels) > 1:
        labels = labels[:-1]
        trailing_dot = "."
    else:
        trailing_dot = ""
    encoded = [_encode_label(label) for label in labels]
    result = ".".join(encoded) + trailing_dot
    if len(result) > _MAX_HOST:
        raise ValueError("bad host")
    return result


def _encode_label(label: str) -> str:
    if not label:
        raise ValueError("bad host")
    if label.isascii():
        ascii_label = label
    else:
        try:
            ascii_label = idna.alabel(label).decode("ascii")
        except (idna.IDNAError, UnicodeError, ValueError):
            try:
                ascii_label = label.encode("idna").decode("ascii")
            except UnicodeError:
                raise ValueError("bad host") from None
    if len(ascii_label) > _MAX_LABEL or not set(ascii_label) <= _ASCII_HOST_CHARS:
        raise ValueError("bad host")
    return ascii_label


def _normalize_percent(text: str, safe: frozenset[str]) -> str:
    """Re-spell ``text`` with canonical percent-encoding; ``safe`` characters stay literal."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == "%" and i + 2 < n and text[i + 1] in _HEX and text[i + 2] in _HEX:
            byte = int(text[i + 1 : i + 3], 16)
            decoded = chr(byte)
            out.append(decoded if decoded in _UNRESERVED else f"%{byte:02X}")
            i += 3
            continue
        if ch in safe:
            out.append(ch)
        else:
            out.extend(f"%{b:02X}" for b in ch.encode("utf-8", errors="surrogatepass"))
        i += 1
    return "".join(out)


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 section 5.2.4."""
    if "." not in path:
        return path
    segments = path.split("/")
    output: list[str] = []
    for index, segment in enumerate(segments):
        last = index == len(segments) - 1
        if segment == ".":
            if last:
                output.append("")
        elif segment == "..":
            if len(output) > 1:
                output.pop()
            if last:
                output.append("")
        else:
            output.append(segment)
    result = "/".join(output)
    if path.startswith("/") and not result.startswith("/"):
        result = "/" + result
    return result
