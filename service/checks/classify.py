"""Pure classification: what the checker saw (`Observation`) -> `Outcome`. No I/O here.

The table, in order (the README has it for users):

- a failure before a final answer: by its kind (dns -> dns_error, refused/unreachable/
  disconnected -> refused, timeout -> timeout, tls -> tls_error, private -> private_target,
  redirect limit or loop -> too_many_redirects, protocol or bad redirect -> server_error,
  invalid URL -> not_found, other connection failures -> refused);
- 2xx: `ok`, or `moved` when the permanent part of the redirect chain leads to a different
  page (trivial differences ignored: scheme, `www.`, trailing slash, default port);
- 400, 404, 410 -> not_found; 408 -> timeout; 429 -> rate_limited;
  401, 402, 403, 407, 451, 999 and every other 4xx -> blocked (the server refused *us*);
- 5xx and anything else -> server_error (a final 3xx only when its redirect was unusable).

Then the verdicts of issue 3 (the README), which only ever turn an answer that *looks*
fine, or a wall, into what it really is:

- a challenge page (`challenge.py`: a 403/429/503, or a 2xx, whose body is a JavaScript or
  CAPTCHA bot wall) -> blocked;
- a 2xx reached through redirects that end at the site's home or a login page (`roots.py`)
  -> redirect_to_root;
- a 2xx whose cheap signals (`soft404.cheap_verdict`) or random-sibling probe
  (`Observation.probe`, filled by the checker) say "not found" -> soft_404.
"""

from __future__ import annotations

from dataclasses import dataclass

from service.checks import roots, soft404
from service.checks.errors import ErrorKind
from service.checks.urls import same_page
from service.model import Hop, Outcome

__all__ = ["Observation", "classify", "classify_status", "describe", "same_page"]

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
    challenge: bool = False  # the answer is a bot wall / challenge page (challenge.py)
    probe: str | None = None  # the soft-404 probe's verdict (soft404.Verdict value), if probed

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
    if obs.challenge:
        return Outcome.BLOCKED
    outcome = classify_status(obs.status)
    if outcome is not Outcome.OK:
        return outcome
    if roots.redirect_to_root(obs.url, obs.final_url, bool(obs.redirects)):
        return Outcome.REDIRECT_TO_ROOT
    cheap = soft404.cheap_verdict(obs.url, obs.final_url, obs.title, obs.body)
    if cheap is soft404.Verdict.SOFT_404:
        return Outcome.SOFT_404
    if cheap is not soft404.Verdict.ALIVE and obs.probe == soft404.Verdict.SOFT_404.value:
        return Outcome.SOFT_404
    if obs.redirects and not same_page(obs.url, obs.permanent_target):
        return Outcome.MOVED
    return outcome


def describe(obs: Observation, outcome: Outcome) -> str | None:
    """A short detail for humans: the failure, or the HTTP status when it is not plain success."""
    if obs.error_detail:
        return obs.error_detail
    if obs.status is None or outcome in {Outcome.OK, Outcome.MOVED}:
        return None
    if outcome is Outcome.BLOCKED and obs.challenge:
        return f"HTTP {obs.status}: a bot challenge page"
    if outcome is Outcome.REDIRECT_TO_ROOT:
        return f"redirected to {obs.final_url}"
    if outcome is Outcome.SOFT_404:
        return f"HTTP {obs.status}, but {_soft404_reason(obs)}"
    return f"HTTP {obs.status}"


def _soft404_reason(obs: Observation) -> str:
    final = obs.final_url or obs.url
    if not same_page(obs.url, final) and soft404.not_found_url(final):
        return f"redirected to the error page {final}"
    if soft404.error_title(obs.title):
        return f"the page title says {obs.title!r}"
    return "the site answers the same page for a made-up address"
