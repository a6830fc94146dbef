"""Pure classification: what the checker saw (`Observation`) -> `Outcome`. No I/O here.

The table, in order (docs/checks.md has it for users):

- a failure before a final answer: by its kind (dns -> dns_error, refused/unreachable/
  disconnected -> refused, timeout -> timeout, tls -> tls_error, private -> private_target,
  redirect limit or loop -> too_many_redirects, protocol or bad redirect -> server_error,
  invalid URL -> not_found, other connection failures -> refused);
- 2xx: `ok`, or `moved` when the permanent part of the redirect chain leads to a different
  page (trivial differences ignored: scheme, `www.`, trailing slash, default port);
- 400, 404, 410 -> not_found; 408 -> timeout; 429 -> rate_limited;
  401, 402, 403, 407, 451, 999 and every other 4xx -> blocked (the server refused *us*);
- 5xx and anything else -> server_error (a final 3xx only when its redirect was unusable).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from service.checks.errors import ErrorKind
from service.model import Hop, Outcome

PERMANENT_REDIRECTS = frozenset({301, 308})
REDIRECTS = frozenset({301, 302, 303, 307, 308})
NOT_FOUND_STATUSES = frozenset({400, 404, 410})
BLOCKED_STATUSES = frozenset({401, 402, 403, 407, 451, 999})


@dataclass(frozen=True, slots=True)
class Observation:
    """Everything one check saw, before any judgement."""

    url: str  # as requested
    status: int | None = None  # status of the final response (None: no final response)
    final_url: str | None = None  # URL of the final response
    hops: tuple[Hop, ...] = ()  # every response, redirects first, the final one last
    method: str = "HEAD"  # method of the final request ("GET" after a HEAD fallback)
    error: ErrorKind | None = None  # why there is no usable final answer
    error_detail: str | None = None
    content_type: str | None = None
    title: str | None = None  # <title> of an HTML body, when one was read
    body: bytes = b""  # at most max_body_bytes, decoded (GET only)
    body_error: str | None = None  # the body could not be read to the end or decoded
    retry_after_s: float | None = None
    latency_ms: int = 0

    @property
    def redirects(self) -> tuple[Hop, ...]:
        return tuple(h for h in self.hops if h.location is not None)

    @property
    def permanent_redirect(self) -> bool:
        """True when there was at least one redirect and every one was 301/308."""
        redirects = self.redirects
        return bool(redirects) and all(h.status in PERMANENT_REDIRECTS for h in redirects)

    @property
    def permanent_target(self) -> str:
        """Where the permanent (301/308) prefix of the redirect chain leads."""
        target = self.url
        for hop in self.redirects:
            if hop.status not in PERMANENT_REDIRECTS or hop.location is None:
                break
            target = hop.location
        return target


_DEFAULT_PORTS = {"http": 80, "https": 443}


def _page_key(url: str) -> tuple[str, int | None, str, str]:
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
    return host, port, path, parts.query


def same_page(a: str, b: str) -> bool:
    """Whether two URLs differ only trivially: http<->https, `www.`, a trailing slash, default port.

    The port is ignored when the scheme changes (an upgrade to https moves to another port).
    Fragments are ignored; path case and query are significant.
    """
    host_a, port_a, path_a, query_a = _page_key(a)
    host_b, port_b, path_b, query_b = _page_key(b)
    if (host_a, path_a, query_a) != (host_b, path_b, query_b):
        return False
    same_scheme = urlsplit(a).scheme.lower() == urlsplit(b).scheme.lower()
    return port_a == port_b or not same_scheme


_ERROR_OUTCOMES: dict[ErrorKind, Outcome] = {
    ErrorKind.DNS: Outcome.DNS_ERROR,
    ErrorKind.REFUSED: Outcome.REFUSED,
    ErrorKind.UNREACHABLE: Outcome.REFUSED,
    ErrorKind.DISCONNECTED: Outcome.REFUSED,
    ErrorKind.TIMEOUT: Outcome.TIMEOUT,
    ErrorKind.TLS: Outcome.TLS_ERROR,
    ErrorKind.PROTOCOL: Outcome.SERVER_ERROR,
    ErrorKind.PRIVATE: Outcome.PRIVATE_TARGET,
    ErrorKind.REDIRECT_LIMIT: Outcome.TOO_MANY_REDIRECTS,
    ErrorKind.REDIRECT_LOOP: Outcome.TOO_MANY_REDIRECTS,
    ErrorKind.BAD_REDIRECT: Outcome.SERVER_ERROR,
    ErrorKind.INVALID_URL: Outcome.NOT_FOUND,
    ErrorKind.CONNECTION: Outcome.REFUSED,
}


def classify_status(status: int) -> Outcome:
    """The outcome of a final (non-redirect) HTTP status, before redirect analysis."""
    if 200 <= status < 300:
        return Outcome.OK
    if status in NOT_FOUND_STATUSES:
        return Outcome.NOT_FOUND
    if status == 429:
        return Outcome.RATE_LIMITED
    if status == 408:
        return Outcome.TIMEOUT
    if status in BLOCKED_STATUSES or 400 <= status < 500:
        return Outcome.BLOCKED
    return Outcome.SERVER_ERROR


def classify(obs: Observation) -> Outcome:
    """The outcome of one check, a pure function of what was seen."""
    if obs.error is not None:
        return _ERROR_OUTCOMES[obs.error]
    if obs.status is None:  # no error and no answer: cannot happen from the checker
        return Outcome.SERVER_ERROR
    outcome = classify_status(obs.status)
    if outcome is Outcome.OK and obs.redirects and not same_page(obs.url, obs.permanent_target):
        return Outcome.MOVED
    return outcome


def describe(obs: Observation, outcome: Outcome) -> str | None:
    """A short detail for humans: the failure, or the HTTP status when it is not plain success."""
    if obs.error_detail:
        return obs.error_detail
    if obs.status is None or outcome in {Outcome.OK, Outcome.MOVED}:
        return None
    return f"HTTP {obs.status}"
