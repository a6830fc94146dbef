"""A fake Wayback Machine: a real aiohttp server on loopback speaking the real API shapes.

Reusable by every test that needs the Internet Archive:

    captures = {"https://example.com/a": [FakeCapture("20190101120000", body="<html>...")]}
    async with FakeWayback(captures) as wb:            # on the running event loop
        settings = WaybackSettings(base_url=wb.base_url, cdx_per_minute=6000)
        ...
    with FakeWayback(captures).running_in_thread() as wb:   # for sync tests (CLI runners)
        ...

Endpoints (same paths, parameters and bodies as web.archive.org):
- `GET /cdx/search/cdx`: plain text, one capture per line with 7 space-separated fields
  (urlkey timestamp original mimetype statuscode digest length), or `output=json` (a header
  row, then rows; `[]` when empty). Supports `url` (matched on the SURT key like the real
  index: scheme and `www.` ignored), `matchType=exact|prefix|host|domain` (and a trailing `*`),
  `from`/`to` (4-14 digit timestamps), `filter=[!]field:regex` (repeatable),
  `sort=closest&closest=TS`, `sort=reverse`, `limit=N` (negative: the last N),
  `collapse=field[:N]`, `fl=`, `showResumeKey=true`/`resumeKey=`.
- `GET /wayback/available?url=&timestamp=`: `{"url", "archived_snapshots": {"closest":
  {"status", "available", "url", "timestamp"}}}`, `archived_snapshots` `{}` when none.
- `GET /web/<ts>/<url>` and `/web/<ts>id_/<url>`: the capture closest to ts; a 302 to the exact
  timestamp when it differs (like the real one); `id_` serves the stored bytes untouched, the
  plain form inserts a toolbar comment into HTML.
- `POST /save` (form `url=`, `Authorization: LOW key:secret`, `Accept: application/json`) ->
  `{"url", "job_id"}`; `GET /save/status/<job_id>` -> `{"status": "pending"}` for a few polls,
  then `{"status": "success", "timestamp", "original_url", ...}` (the capture is added to the
  index) or `{"status": "error", "status_ext": "error:...", "message"}`.

Failure modes, switchable at runtime per endpoint group ("cdx", "available", "playback",
"save", "status"): `fail_with(FailRateLimit(retry_after="120"))`, `FailStatus(503)`,
`FailStall(seconds)`, `FailBlocked()` (CDX answers the blocked-site error); `block_site(url)`
blocks one site; captures with status 404 are plain data. Every request is counted with its
time (`hits`, `count()`, `max_in_window()`).
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from typing import Any
from urllib.parse import unquote, urlsplit

from aiohttp import web

from tests.support.serving import LoopThread

CDX_FIELDS = ("urlkey", "timestamp", "original", "mimetype", "statuscode", "digest", "length")
BLOCKED_SITE_BODY = (
    "org.archive.util.io.RuntimeIOException: "
    "org.archive.wayback.exception.AdministrativeAccessControlException: Blocked Site Error\n"
)
ENDPOINTS = ("cdx", "available", "playback", "save", "status")
TOOLBAR = "<!-- BEGIN WAYBACK TOOLBAR INSERT -->\n<!-- END WAYBACK TOOLBAR INSERT -->\n"


# -- data ------------------------------------------------------------------------------------


@dataclass
class FakeCapture:
    """One capture of a URL in the fake archive."""

    timestamp: str  # 14 digits
    status: int = 200
    mimetype: str = "text/html"
    body: bytes | str = b""
    original: str | None = None  # the URL as captured (defaults to the key it is stored under)

    def data(self) -> bytes:
        return self.body.encode() if isinstance(self.body, str) else self.body

    @property
    def digest(self) -> str:
        import base64

        return base64.b32encode(hashlib.sha1(self.data()).digest()).decode()


@dataclass
class SavePlan:
    """How the fake SPN2 treats a submitted URL."""

    pending_polls: int = 2  # status polls answered "pending" before the outcome
    outcome: str = "success"  # "success" | "error"
    status_ext: str = "error:unknown"  # for outcome "error"
    submit_error: str | None = None  # e.g. "error:user-session-limit": refused at POST /save
    body: bytes | str = "<html><body>saved</body></html>"


@dataclass
class FailRateLimit:
    retry_after: str | None = None  # the Retry-After header, None: no header


@dataclass
class FailStatus:
    status: int = 503


@dataclass
class FailStall:
    seconds: float = 30.0  # sleep before answering (longer than the client's timeout)


@dataclass
class FailBlocked:
    pass


Failure = FailRateLimit | FailStatus | FailStall | FailBlocked


@dataclass(frozen=True)
class Hit:
    endpoint: str
    at: float  # server clock (time.monotonic unless injected)
    method: str
    path_qs: str
    headers: Mapping[str, str] = field(default_factory=dict)
    form: Mapping[str, str] = field(default_factory=dict)


@dataclass
class _Job:
    job_id: str
    url: str
    plan: SavePlan
    polls: int = 0
    timestamp: str | None = None


# -- pure helpers ----------------------------------------------------------------------------


def surt(url: str) -> str:
    """The SURT key the CDX index sorts by: 'https://www.Example.com/a?b' -> 'com,example)/a?b'."""
    text = url.strip()
    if "://" not in text:
        text = "http://" + text
    parts = urlsplit(text)
    host = (parts.hostname or "").lower()
    if host.startswith("www."):
        host = host[4:]
    labels = [lbl for lbl in host.split(".") if lbl]
    key = ",".join(reversed(labels)) + ")"
    path = parts.path or "/"
    key += path.lower()
    if parts.query:
        key += "?" + parts.query.lower()
    return key


def pad_timestamp(ts: str, *, upper: bool) -> str:
    """A 1-14 digit timestamp as 14 digits for comparing: start (or upper: end) of its period."""
    digits = re.sub(r"\D", "", ts)[:14]
    return digits.ljust(14, "9" if upper else "0")


def ts_seconds(ts: str) -> float:
    """Seconds since the epoch of a 4-14 digit timestamp (missing parts: start of the period)."""
    digits = re.sub(r"\D", "", ts)[:14]
    if len(digits) < 4:
        digits = digits.ljust(4, "0")
    padded = digits + "0101000000"[len(digits) - 4 :]
    return datetime.strptime(padded[:14], "%Y%m%d%H%M%S").replace(tzinfo=UTC).timestamp()


# -- the server ------------------------------------------------------------------------------


class FakeWayback:
    """The fake archive. Mutate `captures`, `fail_with()`, `save_plans` freely while it runs."""

    def __init__(
        self,
        captures: Mapping[str, Iterable[FakeCapture]] | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        access_key: str = "key",
        secret_key: str = "secret",
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.captures: dict[str, list[FakeCapture]] = {}
        for url, caps in (captures or {}).items():
            for cap in caps:
                self.add_capture(url, cap)
        self.host = host
        self.port = port
        self.access_key = access_key
        self.secret_key = secret_key
        self.clock = clock
        self.now = now
        self.failures: dict[str, Failure] = {}
        self.failure_budget: dict[str, int] = {}
        self.blocked: set[str] = set()  # SURT prefixes of excluded sites
        self.save_plans: dict[str, SavePlan] = {}
        self.default_save_plan = SavePlan()
        self.jobs: dict[str, _Job] = {}
        self.hits: list[Hit] = []
        self._job_ids = itertools.count(1)
        self._runner: web.AppRunner | None = None

    # -- configuration ---------------------------------------------------------------------

    def add_capture(self, url: str, capture: FakeCapture) -> None:
        if capture.original is None:
            capture.original = url
        self.captures.setdefault(url, []).append(capture)

    def fail_with(
        self,
        failure: Failure | None,
        *,
        endpoints: Iterable[str] = ENDPOINTS,
        times: int | None = None,
    ) -> None:
        """Make `endpoints` fail with `failure` (None heals); `times`: only the next N requests."""
        for ep in endpoints:
            if ep not in ENDPOINTS:
                raise ValueError(f"unknown endpoint group {ep!r}")
            if failure is None:
                self.failures.pop(ep, None)
                self.failure_budget.pop(ep, None)
            else:
                self.failures[ep] = failure
                if times is None:
                    self.failure_budget.pop(ep, None)
                else:
                    self.failure_budget[ep] = times

    def heal(self) -> None:
        self.failures.clear()
        self.failure_budget.clear()

    def block_site(self, url: str) -> None:
        """Exclude the site of `url` (its whole host) from the archive."""
        self.blocked.add(surt(url).split(")")[0] + ")")

    # -- counters --------------------------------------------------------------------------

    def count(self, endpoint: str | None = None) -> int:
        return sum(1 for h in self.hits if endpoint is None or h.endpoint == endpoint)

    def times(self, endpoint: str | None = None) -> list[float]:
        return [h.at for h in self.hits if endpoint is None or h.endpoint == endpoint]

    def max_in_window(
        self, window_s: float, endpoints: Iterable[str] = ("cdx", "available")
    ) -> int:
        """The most requests to `endpoints` seen in any window [t, t + window_s)."""
        wanted = set(endpoints)
        times = sorted(h.at for h in self.hits if h.endpoint in wanted)
        best = 0
        j = 0
        for i, t in enumerate(times):
            while times[j] <= t - window_s:
                j += 1
            best = max(best, i - j + 1)
        return best

    # -- lifecycle -------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/cdx/search/cdx", self._cdx)
        app.router.add_get("/wayback/available", self._available)
        app.router.add_post("/save", self._save)
        app.router.add_get("/save/status/{job_id}", self._status)
        app.router.add_post("/save/status", self._status)
        app.router.add_get("/web/{tail:.*}", self._playback)
        return app

    async def start(self) -> FakeWayback:
        self._runner = web.AppRunner(
            self.app(), shutdown_timeout=0.2, handler_cancellation=True, access_log=None
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        return self

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeWayback:
        return await self.start()

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    @contextmanager
    def running_in_thread(self) -> Iterator[FakeWayback]:
        """Serve from a background thread with its own event loop (for synchronous tests)."""
        serving = LoopThread("fake-wayback", self.start, self.close)
        serving.start(10)
        try:
            yield self
        finally:
            serving.stop()

    # -- plumbing --------------------------------------------------------------------------

    async def _record(
        self, request: web.Request, endpoint: str
    ) -> tuple[Hit, web.StreamResponse | None]:
        form: dict[str, str] = {}
        if request.method == "POST":
            form = {k: str(v) for k, v in (await request.post()).items()}
        hit = Hit(
            endpoint, self.clock(), request.method, request.path_qs, dict(request.headers), form
        )
        self.hits.append(hit)
        return hit, await self._failure(endpoint)

    async def _failure(self, endpoint: str) -> web.StreamResponse | None:
        failure = self.failures.get(endpoint)
        if failure is None:
            return None
        budget = self.failure_budget.get(endpoint)
        if budget is not None:
            if budget <= 0:
                return None
            self.failure_budget[endpoint] = budget - 1
        if isinstance(failure, FailRateLimit):
            headers = (
                {"Retry-After": failure.retry_after} if failure.retry_after is not None else {}
            )
            return web.Response(status=429, text="Too Many Requests", headers=headers)
        if isinstance(failure, FailStatus):
            return web.Response(status=failure.status, text=f"error {failure.status}")
        if isinstance(failure, FailStall):
            await asyncio.sleep(failure.seconds)
            return web.Response(status=504, text="stalled")
        if isinstance(failure, FailBlocked) and endpoint == "cdx":
            return web.Response(status=403, text=BLOCKED_SITE_BODY)
        return None

    def _is_blocked(self, key: str) -> bool:
        return any(key.startswith(prefix) for prefix in self.blocked)

    def _rows(self, key: str, match_type: str) -> list[tuple[str, FakeCapture]]:
        rows: list[tuple[str, FakeCapture]] = []
        host_part = key.split(")")[0]
        for url, caps in self.captures.items():
            k = surt(url)
            if match_type == "exact":
                ok = k == key
            elif match_type == "prefix":
                ok = k.startswith(key)
            elif match_type == "host":
                ok = k.split(")")[0] == host_part
            else:  # domain
                kh = k.split(")")[0]
                ok = kh == host_part or kh.startswith(host_part + ",")
            if ok:
                rows.extend((k, c) for c in caps)
        rows.sort(key=lambda r: (r[0], r[1].timestamp))
        return rows

    # -- CDX -------------------------------------------------------------------------------

    async def _cdx(self, request: web.Request) -> web.StreamResponse:
        _, failed = await self._record(request, "cdx")
        if failed is not None:
            return failed
        q = request.query
        url = q.get("url", "")
        if not url:
            return web.Response(
                status=400, text="org.archive.wayback.exception.BadQueryException: Empty url\n"
            )
        match_type = q.get("matchType", "exact")
        if url.endswith("*"):
            url, match_type = url[:-1], "prefix"
        if match_type not in {"exact", "prefix", "host", "domain"}:
            return web.Response(status=400, text=f"Invalid matchType {match_type}\n")
        key = surt(url)
        if match_type == "prefix" and not urlsplit(url if "://" in url else "http://" + url).path:
            key = key.rstrip("/")
        if self._is_blocked(key):
            return web.Response(status=403, text=BLOCKED_SITE_BODY)
        rows = self._rows(key, match_type)

        def record(k: str, c: FakeCapture) -> dict[str, str]:
            data = c.data()
            return {
                "urlkey": k,
                "timestamp": c.timestamp,
                "original": c.original or url,
                "mimetype": c.mimetype,
                "statuscode": str(c.status),
                "digest": c.digest,
                "length": str(len(data)),
            }

        records = [record(k, c) for k, c in rows]
        if "from" in q:
            lo = pad_timestamp(q["from"], upper=False)
            records = [r for r in records if r["timestamp"] >= lo]
        if "to" in q:
            hi = pad_timestamp(q["to"], upper=True)
            records = [r for r in records if r["timestamp"] <= hi]
        for flt in q.getall("filter", []):
            negate = flt.startswith("!")
            name, _, pattern = flt.lstrip("!").partition(":")
            if name not in CDX_FIELDS:
                return web.Response(status=400, text=f"Invalid filter field {name}\n")
            rx = re.compile(pattern)
            records = [r for r in records if bool(rx.fullmatch(r[name])) != negate]
        for col in q.getall("collapse", []):
            name, _, n = col.partition(":")
            width = int(n) if n.isdigit() else None
            kept: list[dict[str, str]] = []
            last: str | None = None
            for r in records:
                val = r.get(name, "")[:width] if width else r.get(name, "")
                if val != last:
                    kept.append(r)
                last = val
            records = kept
        sort = q.get("sort", "default")
        if sort == "closest" and q.get("closest"):
            target = ts_seconds(q["closest"])
            records.sort(key=lambda r: (abs(ts_seconds(r["timestamp"]) - target), r["timestamp"]))
        elif sort == "reverse":
            records.reverse()
        offset = 0
        resume = q.get("resumeKey")
        if resume and resume.startswith("fake-resume-"):
            offset = int(resume.rsplit("-", 1)[1])
        records = records[offset:]
        limit_text = q.get("limit")
        more_key: str | None = None
        if limit_text and re.fullmatch(r"-?\d+", limit_text):
            limit = int(limit_text)
            if limit >= 0:
                if len(records) > limit:
                    more_key = f"fake-resume-{offset + limit}"
                records = records[:limit]
            else:
                records = records[limit:]
        if q.get("showResumeKey", "false").lower() != "true":
            more_key = None
        fields = [f for f in q.get("fl", "").split(",") if f] or list(CDX_FIELDS)
        if any(f not in CDX_FIELDS for f in fields):
            return web.Response(status=400, text="Invalid field list\n")
        if q.get("output") == "json":
            out: list[list[str]] = (
                [fields, *([r[f] for f in fields] for r in records)] if records else []
            )
            if more_key and records:
                out += [[], [more_key]]
            return web.Response(text=json.dumps(out), content_type="application/json")
        text = "".join(" ".join(r[f] for f in fields) + "\n" for r in records)
        if more_key and records:
            text += f"\n{more_key}\n"
        return web.Response(text=text, content_type="text/plain")

    # -- availability ----------------------------------------------------------------------

    async def _available(self, request: web.Request) -> web.StreamResponse:
        _, failed = await self._record(request, "available")
        if failed is not None:
            return failed
        url = request.query.get("url", "")
        ts = request.query.get("timestamp")
        body: dict[str, Any] = {"url": url, "archived_snapshots": {}}
        if ts:
            body["timestamp"] = ts
        key = surt(url) if url else ""
        if url and not self._is_blocked(key):
            candidates = [c for _, c in self._rows(key, "exact") if c.status == 200]
            if candidates:
                target = ts_seconds(ts) if ts else time.time()
                best = min(
                    candidates, key=lambda c: (abs(ts_seconds(c.timestamp) - target), c.timestamp)
                )
                body["archived_snapshots"] = {
                    "closest": {
                        "status": "200",
                        "available": True,
                        "timestamp": best.timestamp,
                        "url": f"http://web.archive.org/web/{best.timestamp}/{best.original}",
                    }
                }
        return web.json_response(body)

    # -- playback --------------------------------------------------------------------------

    async def _playback(self, request: web.Request) -> web.StreamResponse:
        _, failed = await self._record(request, "playback")
        if failed is not None:
            return failed
        raw = request.raw_path
        m = re.match(r"^/web/(\d{1,14})([a-z]{2}_)?/(.+)$", raw)
        if not m:
            return web.Response(status=400, text="bad playback URL")
        ts, modifier, target = m.group(1), m.group(2) or "", unquote(m.group(3))
        target = re.sub(r"^(https?):/(?!/)", r"\1://", target)  # clients collapsing '//'
        key = surt(target)
        if self._is_blocked(key):
            return web.Response(
                status=403, text="This URL has been excluded from the Wayback Machine."
            )
        caps = [c for _, c in self._rows(key, "exact")]
        if not caps:
            return web.Response(
                status=404,
                text="Wayback Machine has not archived that URL.",
                content_type="text/html",
            )
        goal = ts_seconds(ts)
        exact = [c for c in caps if c.timestamp == ts]
        good = [c for c in caps if c.status < 400] or caps  # like the real one: a good copy first
        best = (
            exact[0]
            if exact
            else min(good, key=lambda c: (abs(ts_seconds(c.timestamp) - goal), c.timestamp))
        )
        if best.timestamp != ts:
            raise web.HTTPFound(f"/web/{best.timestamp}{modifier}/{best.original}")
        data = best.data()
        if modifier != "id_" and best.mimetype == "text/html":
            data = TOOLBAR.encode() + data
        stamp = datetime.strptime(best.timestamp, "%Y%m%d%H%M%S")
        headers = {"Memento-Datetime": stamp.strftime("%a, %d %b %Y %H:%M:%S GMT")}
        return web.Response(
            status=best.status, body=data, content_type=best.mimetype.split(";")[0], headers=headers
        )

    # -- Save Page Now 2 -------------------------------------------------------------------

    def _authorised(self, request: web.Request) -> bool:
        return (
            request.headers.get("Authorization", "") == f"LOW {self.access_key}:{self.secret_key}"
        )

    async def _save(self, request: web.Request) -> web.StreamResponse:
        hit, failed = await self._record(request, "save")
        if failed is not None:
            return failed
        if not self._authorised(request):
            return web.json_response(
                {
                    "status": "error",
                    "status_ext": "error:unauthorized",
                    "message": "You need to be logged in to use Save Page Now.",
                },
                status=401,
            )
        url = hit.form.get("url", "").strip()
        if not url:
            return web.json_response(
                {
                    "status": "error",
                    "status_ext": "error:invalid-url-syntax",
                    "message": "Invalid URL syntax.",
                }
            )
        plan = self.save_plans.get(url, self.default_save_plan)
        if plan.submit_error:
            return web.json_response(
                {
                    "status": "error",
                    "status_ext": plan.submit_error,
                    "message": f"Cannot start the capture: {plan.submit_error}",
                }
            )
        job_id = f"spn2-{next(self._job_ids):08x}"
        self.jobs[job_id] = _Job(job_id, url, plan)
        return web.json_response({"url": url, "job_id": job_id})

    async def _status(self, request: web.Request) -> web.StreamResponse:
        hit, failed = await self._record(request, "status")
        if failed is not None:
            return failed
        job_id = request.match_info.get("job_id") or hit.form.get("job_id", "")
        job = self.jobs.get(job_id)
        if job is None:
            return web.json_response(
                {"status": "error", "status_ext": "error:not-found", "message": "Job not found."},
                status=404,
            )
        job.polls += 1
        if job.polls <= job.plan.pending_polls:
            return web.json_response({"status": "pending", "job_id": job_id, "resources": []})
        if job.plan.outcome == "error":
            return web.json_response(
                {
                    "status": "error",
                    "job_id": job_id,
                    "status_ext": job.plan.status_ext,
                    "exception": "capture failed",
                    "message": f"Capture failed: {job.plan.status_ext}",
                    "resources": [],
                }
            )
        if job.timestamp is None:
            job.timestamp = self.now().astimezone(UTC).strftime("%Y%m%d%H%M%S")
            self.add_capture(job.url, FakeCapture(job.timestamp, 200, "text/html", job.plan.body))
        return web.json_response(
            {
                "status": "success",
                "job_id": job_id,
                "original_url": job.url,
                "timestamp": job.timestamp,
                "duration_sec": 1.5,
                "resources": [job.url],
                "outlinks": {},
            }
        )
