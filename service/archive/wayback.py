"""Blocking Wayback Machine queries through waybackpy 3.0.6, made safe to use.

waybackpy's traps (DESIGN.md) and what this module does about each:

- **No timeouts.** waybackpy calls `requests.Session().get(...)` (CDX) and `requests.get(...)`
  (availability) without `timeout=`, so a stalled archive blocks a thread forever. The modules
  `waybackpy.cdx_utils`, `waybackpy.availability_api` and `waybackpy.save_api` each look up
  the global name `requests` at call time; `install()` rebinds that name, in those three
  modules only, to `_RequestsShim`: `Session()` returns a `GuardedSession` and `get()` runs
  through one. Everything else (`requests.Response` for isinstance, exceptions) is the real
  `requests`. The rest of the process is untouched.
- **Per-call settings, thread-safe.** A `GuardedSession` reads its timeout and user agent
  from a `ContextVar` that `WaybackApi` sets around each call inside the worker thread (and
  resets after), so concurrent calls with different settings never see each other's values;
  outside a `WaybackApi` call a default timeout still applies (never "forever").
- **Hidden retries.** waybackpy mounts a urllib3 `Retry(total=5)` adapter on https://, which
  re-sends 5xx requests and sleeps through 429 `Retry-After` inside the thread, behind the
  rate limiter's back. A `GuardedSession` ignores `mount()` after construction: one call is one
  HTTP request, and retrying is linkwatch's decision.
- **429 read as "no snapshot".** waybackpy never looks at the status code: a 429 (or 5xx) body
  has no 46-character CDX lines, so `near()` raises `NoCDXRecordFound`, a false "never
  archived". A `GuardedSession` checks the status before waybackpy sees the response: 429 ->
  `ArchiveRateLimited(retry_after_s)`, 5xx and other refusals -> `ArchiveError`, timeouts ->
  `ArchiveTimeout`. Only the blocked-site answer is passed through, for waybackpy to raise its
  `BlockedSiteError` (a real answer: the site is excluded from the archive).
- **Hard-coded endpoints and the 5 s sleep.** `.endpoint` is an instance attribute of both API
  classes; it is pointed at the configured base URL, and `api_call_time_gap = 0` on the
  availability API (else its first call sleeps ~5 s).
- **Blocking.** Every method here blocks; `service.archive.lookup` runs them in worker threads
  behind the process-wide limiter.
"""

from __future__ import annotations

import contextvars
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any, cast
from urllib.parse import quote

import requests
import waybackpy
import waybackpy.availability_api
import waybackpy.cdx_utils
import waybackpy.save_api
from requests.adapters import BaseAdapter, HTTPAdapter
from waybackpy.exceptions import BlockedSiteError, WaybackError

from service import __version__
from service.checks.headers import parse_retry_after as http_retry_after
from service.errors import ArchiveError, ArchiveRateLimited
from service.model import Capture

DEFAULT_BASE_URL = "https://web.archive.org"
DEFAULT_TIMEOUT_S = 20.0
USER_AGENT = (
    f"linkwatch/{__version__} (+https://github.com/linkwatch; waybackpy {waybackpy.__version__})"
)
BLOCKED_SITE_MARKER = "AdministrativeAccessControlException: Blocked Site Error"
TIMESTAMP_FORMAT = "%Y%m%d%H%M%S"
STATUS_200_ONLY = ["statuscode:200"]


class ArchiveTimeout(ArchiveError):
    """The archive did not answer within the timeout."""


class ArchiveBlocked(ArchiveError):
    """The site is excluded from the Wayback Machine (its robots.txt or an exclusion request)."""


# -- endpoints -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WaybackEndpoints:
    """Every Wayback URL linkwatch uses, derived from one base URL."""

    base: str

    @classmethod
    def from_base(cls, base_url: str) -> WaybackEndpoints:
        base = base_url.strip().rstrip("/")
        if not re.match(r"^https?://[^/]+", base):
            raise ArchiveError(f"invalid Wayback base URL {base_url!r}: expected http(s)://HOST")
        return cls(base)

    @property
    def cdx(self) -> str:
        return f"{self.base}/cdx/search/cdx"

    @property
    def availability(self) -> str:
        return f"{self.base}/wayback/available"

    @property
    def save(self) -> str:
        return f"{self.base}/save"

    def save_status(self, job_id: str) -> str:
        return f"{self.base}/save/status/{quote(job_id, safe='')}"

    def playback(self, timestamp: str, url: str) -> str:
        """The archived page as the Wayback Machine shows it (with its toolbar, links rewritten)."""
        return f"{self.base}/web/{timestamp}/{url}"

    def raw(self, timestamp: str, url: str) -> str:
        """The archived bytes exactly as captured (`id_` playback)."""
        return f"{self.base}/web/{timestamp}id_/{url}"


# -- timestamps ------------------------------------------------------------------------------


def to_timestamp(when: datetime) -> str:
    """An aware datetime -> the 14-digit Wayback timestamp (UTC)."""
    return when.astimezone(UTC).strftime(TIMESTAMP_FORMAT)


def end_of_day(day: date) -> datetime:
    return datetime.combine(day, time(23, 59, 59), tzinfo=UTC)


def parse_timestamp(ts: str) -> datetime:
    """A Wayback timestamp (4-14 digits; missing parts: start of period) -> aware UTC."""
    digits = ts.strip()
    if not digits.isdigit() or not 4 <= len(digits) <= 14:
        raise ValueError(f"not a Wayback timestamp: {ts!r}")
    padded = digits + "0101000000"[len(digits) - 4 :] if len(digits) < 14 else digits
    return datetime.strptime(padded, TIMESTAMP_FORMAT).replace(tzinfo=UTC)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Retry-After as seconds (delta-seconds or HTTP-date); None when absent or unreadable."""
    return http_retry_after(value, now or datetime.now(UTC))


# -- CDX records (pure) ----------------------------------------------------------------------

CDX_FIELDS = ("urlkey", "timestamp", "original", "mimetype", "statuscode", "digest", "length")


@dataclass(frozen=True, slots=True)
class CdxRecord:
    """One line of a CDX answer (the 7 default fields)."""

    urlkey: str
    timestamp: str
    original: str
    mimetype: str
    statuscode: str
    digest: str
    length: str

    @property
    def status(self) -> int | None:
        return int(self.statuscode) if self.statuscode.isdigit() else None

    def capture(self, endpoints: WaybackEndpoints) -> Capture:
        return Capture(
            original_url=self.original,
            timestamp=parse_timestamp(self.timestamp),
            archive_url=endpoints.playback(self.timestamp, self.original),
            status=self.status,
            mimetype=self.mimetype,
        )


def parse_cdx_text(text: str) -> list[CdxRecord]:
    """The plain-text CDX answer: 7 space-separated fields a line; a resume key block is skipped."""
    records: list[CdxRecord] = []
    for line in text.splitlines():
        if not line.strip():
            break  # a blank line precedes the resume key
        fields = line.split(" ")
        if len(fields) != len(CDX_FIELDS):
            raise ArchiveError(f"unreadable CDX line ({len(fields)} fields): {line[:120]!r}")
        records.append(CdxRecord(*fields))
    return records


def parse_cdx_json(text: str) -> list[CdxRecord]:
    """The `output=json` CDX answer: a header row, then rows (`[]` when empty)."""
    import json

    try:
        rows = json.loads(text) if text.strip() else []
    except ValueError as exc:
        raise ArchiveError("unreadable CDX JSON answer") from exc
    if not isinstance(rows, list) or not rows:
        return []
    header = rows[0]
    if not isinstance(header, list) or not set(CDX_FIELDS) <= set(header):
        raise ArchiveError("CDX JSON answer without the 7 default fields in its header row")
    index = [header.index(name) for name in CDX_FIELDS]
    records: list[CdxRecord] = []
    for row in rows[1:]:
        if not row:
            break  # an empty row precedes the resume key
        records.append(CdxRecord(*(str(row[i]) for i in index)))
    return records


# -- the guarded requests session ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CallConfig:
    timeout_s: float = DEFAULT_TIMEOUT_S
    user_agent: str = USER_AGENT


_CALL: contextvars.ContextVar[CallConfig | None] = contextvars.ContextVar(
    "wayback_call", default=None
)


@contextmanager
def call_config(config: CallConfig) -> Iterator[None]:
    """Apply `config` to every waybackpy request this thread makes inside the block."""
    token = _CALL.set(config)
    try:
        yield
    finally:
        _CALL.reset(token)


def check_archive_response(response: requests.Response) -> None:
    """Raise the linkwatch error for an archive answer that is not a usable result."""
    status = response.status_code
    if status == 429:
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        raise ArchiveRateLimited("archive rate limited (HTTP 429)", retry_after_s=retry_after)
    if status >= 500:
        raise ArchiveError(f"archive error: HTTP {status}")
    if status >= 400:
        if BLOCKED_SITE_MARKER in response.text:
            return  # waybackpy's check_for_blocked_site turns it into BlockedSiteError
        raise ArchiveError(f"archive refused the query: HTTP {status}")


class GuardedSession(requests.Session):
    """A session for waybackpy: always a timeout, no hidden retries, status checked."""

    def __init__(self) -> None:
        super().__init__()
        adapter = HTTPAdapter(max_retries=0)
        super().mount("https://", adapter)
        super().mount("http://", adapter)
        self._sealed = True

    def mount(self, prefix: str | bytes, adapter: BaseAdapter) -> None:
        if getattr(self, "_sealed", False):
            return  # waybackpy's Retry adapters would resend requests behind the rate limiter
        super().mount(prefix, adapter)

    def request(
        self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any
    ) -> requests.Response:
        config = _CALL.get() or CallConfig()
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = (min(config.timeout_s, 10.0), config.timeout_s)
        headers = dict(cast("Mapping[str, str]", kwargs.get("headers") or {}))
        headers["User-Agent"] = config.user_agent
        kwargs["headers"] = headers
        try:
            response = super().request(method, url, *args, **kwargs)
        except requests.Timeout as exc:
            raise ArchiveTimeout("archive timeout") from exc
        except requests.ConnectionError as exc:
            raise ArchiveError(f"archive unreachable: {_short(exc)}") from exc
        except requests.RequestException as exc:
            raise ArchiveError(f"archive request failed: {_short(exc)}") from exc
        check_archive_response(response)
        return response


def _short(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:200]


class _RequestsShim:
    """The `requests` module as waybackpy sees it: guarded sessions, the rest real."""

    Session = GuardedSession

    @staticmethod
    def get(url: str, params: Any = None, **kwargs: Any) -> requests.Response:
        with GuardedSession() as session:
            return session.get(url, params=params, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(requests, name)


_SHIM = _RequestsShim()


def install() -> None:
    """Route waybackpy's HTTP through GuardedSession (idempotent; done on import of this module)."""
    for module in (waybackpy.cdx_utils, waybackpy.availability_api, waybackpy.save_api):
        if module.__dict__.get("requests") is not _SHIM:
            module.__dict__["requests"] = _SHIM


install()


# -- the blocking API ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CdxQuery:
    """One CDX request: at most `limit` records (negative: the last ones), 200 captures only."""

    url: str
    closest: str | None = None  # 14-digit timestamp; sorts by distance to it
    from_ts: str | None = None
    to_ts: str | None = None
    limit: int = 1


class WaybackApi:
    """waybackpy aimed at one archive; one HTTP request per call. Blocking: run it in a thread.

    Raises ArchiveRateLimited (429), ArchiveTimeout, ArchiveBlocked (site excluded) or ArchiveError.
    """

    def __init__(
        self,
        base_url: str = DEFAULT_BASE_URL,
        *,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        user_agent: str = USER_AGENT,
    ) -> None:
        self.endpoints = WaybackEndpoints.from_base(base_url)
        self.config = CallConfig(timeout_s=timeout_s, user_agent=user_agent)

    def capture(
        self, original: str, timestamp: str, status: int | None = 200, mimetype: str | None = None
    ) -> Capture:
        return Capture(
            original_url=original,
            timestamp=parse_timestamp(timestamp),
            archive_url=self.endpoints.playback(timestamp, original),
            status=status,
            mimetype=mimetype,
        )

    def cdx_first(self, query: CdxQuery) -> Capture | None:
        """The first record the CDX server returns for `query` (None: no such capture)."""
        api = waybackpy.WaybackMachineCDXServerAPI(
            query.url,
            user_agent=self.config.user_agent,
            start_timestamp=query.from_ts,
            end_timestamp=query.to_ts,
            filters=list(STATUS_200_ONLY),
            sort="closest" if query.closest else None,
            closest=query.closest,
            limit=str(query.limit),
        )
        api.endpoint = self.endpoints.cdx
        with call_config(self.config):
            try:
                snapshots = api.snapshots()
                # Only the first record: reading on could make waybackpy follow a resume key
                # with a second request that the rate limiter never saw.
                first = next(snapshots, None)
                snapshots.close()
            except BlockedSiteError as exc:
                raise ArchiveBlocked(f"{query.url} is excluded from the Wayback Machine") from exc
            except WaybackError as exc:
                raise ArchiveError(f"unreadable CDX answer: {_short(exc)}") from exc
        if first is None:
            return None
        status = int(first.statuscode) if first.statuscode.isdigit() else None
        if status != 200:
            return None  # the server ignored filter=statuscode:200; a 404 capture is no copy
        return self.capture(first.original, first.timestamp, status, first.mimetype)

    def available(self, url: str, timestamp: str) -> Capture | None:
        """The availability API's closest capture to `timestamp` (None when it names none)."""
        api = waybackpy.WaybackMachineAvailabilityAPI(url, user_agent=self.config.user_agent)
        api.endpoint = self.endpoints.availability
        api.api_call_time_gap = 0
        api.payload["timestamp"] = timestamp
        with call_config(self.config):
            try:
                api.setup_json()
            except WaybackError as exc:
                raise ArchiveError(f"unreadable availability answer: {_short(exc)}") from exc
        return parse_availability(api.json, self)


def parse_availability(data: Any, api: WaybackApi) -> Capture | None:
    """`{"archived_snapshots": {"closest": {...}}}` -> Capture; None when none (or not 200)."""
    if not isinstance(data, dict):
        raise ArchiveError("unreadable availability answer: not a JSON object")
    snapshots = data.get("archived_snapshots") or {}
    closest = snapshots.get("closest") if isinstance(snapshots, dict) else None
    if not isinstance(closest, dict) or not closest.get("available", True):
        return None
    if str(closest.get("status", "200")) != "200":
        return None
    ts = str(closest.get("timestamp", ""))
    try:
        parse_timestamp(ts)
    except ValueError as exc:
        raise ArchiveError(f"unreadable availability answer: timestamp {ts!r}") from exc
    original = _original_from_playback(str(closest.get("url", ""))) or str(data.get("url", ""))
    return api.capture(original, ts, 200)


def _original_from_playback(archive_url: str) -> str | None:
    m = re.match(r"^https?://[^/]+/web/\d{4,14}(?:[a-z]{2}_)?/(.+)$", archive_url)
    return m.group(1) if m else None
