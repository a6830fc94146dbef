"""The dashboard: HTML pages, the JSON API under /api, /metrics and /healthz (FastAPI + Jinja2).

Read-only by default. State-changing endpoints (add an article, ignore a link, ask for a
re-check) need `Authorization: Bearer <web.token>` and are refused when no token is configured.
Every page is rendered by Jinja2 with autoescaping; only http(s) URLs ever become links.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Query, Request, status
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup
from sqlmodel import Session

from service import __version__
from service.clock import Clock, utcnow
from service.drift.verdict import drift_score
from service.errors import LinkwatchError, StoreError, UsageError
from service.model import Health
from service.reports import html as report_html
from service.reports._text import percent, short_time, uptime
from service.reports.build import article_summaries, build_report, link_timelines
from service.reports.json_format import link_object
from service.reports.model import Availability
from service.reports.publication import (
    BY_CHOICES,
    SCOPES,
    YearRow,
    columns,
    publication_data,
    publication_report,
    year_chart_svg,
)
from service.reports.publication import summary as publication_summary
from service.reports.publication import title as publication_title
from service.settings import Settings
from service.store.db import Database
from service.store.drift import drift_history
from service.store.tables import DriftRow, LinkRow
from service.web import apidocs, metrics, queries
from service.web.auth import require_token
from service.web.schemas import (
    AddArticleIn,
    ArticleOut,
    AvailabilityOut,
    CheckOut,
    CitingOut,
    DriftOut,
    HealthzOut,
    IgnoreIn,
    LinkDetailOut,
    LinkOut,
    SnapshotOut,
)

TEMPLATES = Path(__file__).resolve().parent / "templates"
PAGE_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
    "form-action 'none'; frame-ancestors 'none'; base-uri 'none'"
)
PUBLICATION_DOMAINS = 100  # domain rows shown on /publication (all of them in /api/publication)


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=select_autoescape(enabled_extensions=("html",), default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(
        css=Markup(report_html.CSS),  # noqa: S704 - a constant of ours
        legend=Markup(report_html.legend()),  # noqa: S704 - built from constants
        chip=lambda h, n=None: Markup(  # noqa: S704 - health_chip escapes its text
            report_html.health_chip(
                h, f"{n} {h.value.replace('_', ' ')}" if n is not None else None
            )
        ),
        weblink=lambda text, url, cls="": Markup(report_html.link_html(text, url, cls)),  # noqa: S704
        strip=lambda days: Markup(report_html.strip_svg(days)),  # noqa: S704 - numbers and escaped text
        bar=lambda counts: Markup(report_html.health_bar_svg(counts)),  # noqa: S704
        drift_chip=lambda link: Markup(report_html.drift_chip(link)),  # noqa: S704 - escaped
    )
    env.filters.update(
        when=lambda value: short_time(value) if isinstance(value, datetime) else "-",
        day=lambda value: value.strftime("%Y-%m-%d") if isinstance(value, datetime | date) else "-",
        percent=lambda value: percent(value) if value is not None else "n/a",
        uptime=lambda a: uptime(a) if isinstance(a, Availability) else "-",
        drift_fact=report_html.drift_fact,
        score=lambda value: f"{value:.2f}" if isinstance(value, float) else "-",
    )
    return env


def _parse_health(value: str | None) -> set[Health] | None:
    if not value:
        return None
    out: set[Health] = set()
    for part in value.split(","):
        name = part.strip().lower()
        if not name:
            continue
        try:
            out.add(Health(name))
        except ValueError:
            raise HTTPException(
                422,
                f"unknown health {name!r}; use {', '.join(h.value for h in Health)}",
            ) from None
    return out or None


def _link_out(view: queries.LinkRowView) -> LinkOut:
    return LinkOut(
        id=view.id,
        url=view.url,
        host=view.host,
        health=view.health.value,
        since=view.since,
        last_checked_at=view.last_checked_at,
        last_outcome=view.last_outcome.value if view.last_outcome else None,
        last_status=view.last_status,
        final_url=view.last_final_url,
        next_check_at=view.next_check_at,
        ignored=view.ignored,
        retired=view.retired,
    )


def _drift_out(row: DriftRow) -> DriftOut:
    return DriftOut(
        checked_at=row.checked_at,
        verdict=row.verdict,
        drift_score=drift_score(row.cosine),
        cosine=row.cosine,
        containment=row.containment,
        title_similarity=row.title_similarity,
        word_count_capture=row.word_count_capture,
        word_count_live=row.word_count_live,
        capture_timestamp=row.capture_timestamp,
        error=row.error,
    )


def _drift_views(session: Session, link_id: int) -> tuple[DriftOut | None, list[DriftOut]]:
    """(the newest verdict, every comparison newest first) of one link."""
    history = [_drift_out(row) for row in reversed(drift_history(session, link_id))]
    latest = next((d for d in history if d.verdict in ("same", "drifted", "replaced")), None)
    return latest, history


def create_app(db: Database, settings: Settings, *, clock: Clock = utcnow) -> FastAPI:
    """The dashboard application over `db` (run it with uvicorn; see service.web.server)."""
    app = FastAPI(
        title="linkwatch",
        version=__version__,
        description="Link-rot and archive monitor: articles, links, check history, snapshots.",
        docs_url=None,  # /api/docs is our own page: Swagger UI would load its assets from a CDN
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    app.state.db = db
    app.state.settings = settings
    app.state.clock = clock
    env = _environment()

    @contextmanager
    def session() -> Iterator[Session]:
        with db.session() as s:
            yield s

    def page(name: str, /, **context: Any) -> HTMLResponse:
        text = env.get_template(name).render(now=clock(), **context)
        return HTMLResponse(
            text,
            headers={"Content-Security-Policy": PAGE_CSP, "X-Content-Type-Options": "nosniff"},
        )

    @app.exception_handler(StoreError)
    async def _store_error(request: Request, exc: StoreError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=503)

    # -- pages ------------------------------------------------------------------------------

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def articles_page() -> HTMLResponse:
        with session() as s:
            summaries = article_summaries(s)
        return page("articles.html", articles=summaries)

    @app.get("/articles/{article_id}", response_class=HTMLResponse, include_in_schema=False)
    def article_page(article_id: int) -> HTMLResponse:
        try:
            with session() as s:
                report = build_report(s, article_ids=[article_id], now=clock(), history=True)
        except LinkwatchError as exc:
            if isinstance(exc, StoreError):
                raise
            raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
        return page("article.html", article=report.articles[0])

    @app.get("/links/{link_id}", response_class=HTMLResponse, include_in_schema=False)
    def link_page(link_id: int) -> HTMLResponse:
        with session() as s:
            link = queries.get_link(s, link_id)
            if link is None:
                raise HTTPException(status.HTTP_404_NOT_FOUND, f"no link with id {link_id}")
            availability, days = link_timelines(s, [link_id], now=clock())[link_id]
            drift, drifts = _drift_views(s, link_id)
            context: dict[str, Any] = {
                "drift": drift,
                "drifts": drifts,
                "link": link,
                "availability": availability,
                "days": days,
                "cited_by": queries.citing(s, link_id),
                "snapshots": queries.snapshots(s, link_id),
                "transitions": queries.transitions(s, link_id),
                "checks": queries.history(s, link_id, limit=200),
            }
        return page("link.html", **context)

    @app.get("/publication", response_class=HTMLResponse, include_in_schema=False)
    def publication_page() -> HTMLResponse:
        now = clock()
        with session() as s:
            reports = {by: publication_report(s, by, now=now) for by in BY_CHOICES}
        tables = {by: columns(r) for by, r in reports.items()}
        years = [r for r in reports["year"].rows if isinstance(r, YearRow)]
        domain_rows = tables["domain"][1]
        return page(
            "publication.html",
            reports=reports,
            tables=tables,
            titles={by: publication_title(r) for by, r in reports.items()},
            summary=publication_summary(reports["year"]),
            chart=Markup(year_chart_svg(years)),  # noqa: S704 - numbers
            domains_shown=min(len(domain_rows), PUBLICATION_DOMAINS),
        )

    # -- JSON API ---------------------------------------------------------------------------

    @app.get("/api/articles", response_model=list[ArticleOut], tags=["articles"])
    def api_articles(
        include_inactive: Annotated[bool, Query(description="also removed articles")] = False,
    ) -> list[ArticleOut]:
        """Every article with its health counts and score."""
        with session() as s:
            summaries = article_summaries(s, include_inactive=include_inactive)
        return [
            ArticleOut(
                id=a.id,
                location=a.location,
                title=a.title,
                published=a.published,
                source_url=a.source_url,
                active=a.active,
                links=a.total,
                counts={h.value: n for h, n in a.counts.items()},
                broken=a.broken,
                score=a.score,
            )
            for a in summaries
        ]

    @app.get("/api/articles/{article_id}/links", tags=["articles"])
    def api_article_links(
        article_id: int,
        health: Annotated[str | None, Query(description="e.g. dead,suspect")] = None,
    ) -> list[dict[str, Any]]:
        """The article's link occurrences, broken first (the JSON report's objects)."""
        wanted = _parse_health(health)
        try:
            with session() as s:
                report = build_report(s, article_ids=[article_id], health=wanted, now=clock())
        except LinkwatchError as exc:
            if isinstance(exc, StoreError):
                raise
            raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
        return [link_object(link, a.title) for a in report.articles for link in a.links]

    @app.post(
        "/api/articles",
        response_model=ArticleOut,
        status_code=status.HTTP_201_CREATED,
        dependencies=[Depends(require_token)],
        tags=["articles"],
    )
    async def api_add_article(body: AddArticleIn) -> ArticleOut:
        """Watch an article (a file path on the server or a URL). Needs the bearer token."""
        from starlette.concurrency import run_in_threadpool

        from service.oneshot import load_articles
        from service.store import repo

        try:
            loaded = await load_articles(
                [body.location], settings, published=body.published, source_url=body.source_url
            )
        except LinkwatchError as exc:
            raise HTTPException(422, str(exc)) from exc
        article = loaded[0]

        def store() -> int:
            with session() as s:
                row = repo.sync_article(s, article, clock(), tags=body.tags or None)
                assert row.id is not None
                return row.id

        article_id = await run_in_threadpool(store)
        listed = [a for a in api_articles(include_inactive=True) if a.id == article_id]
        return listed[0]

    @app.get("/api/links", response_model=list[LinkOut], tags=["links"])
    def api_links(
        health: Annotated[str | None, Query(description="e.g. dead,suspect")] = None,
        article: Annotated[int | None, Query(description="only links of this article")] = None,
        limit: Annotated[int, Query(ge=1, le=10000)] = 1000,
        offset: Annotated[int, Query(ge=0)] = 0,
    ) -> list[LinkOut]:
        """Links (distinct URLs), worst health first, optionally filtered by health."""
        wanted = _parse_health(health)
        with session() as s:
            views = queries.list_links(
                s, health=wanted, article_id=article, limit=limit, offset=offset
            )
        return [_link_out(v) for v in views]

    @app.get("/api/links/{link_id}", response_model=LinkDetailOut, tags=["links"])
    def api_link(link_id: int) -> LinkDetailOut:
        """One link: its state, the articles citing it, its snapshots and availability."""
        with session() as s:
            view = queries.get_link(s, link_id)
            if view is None:
                raise HTTPException(status.HTTP_404_NOT_FOUND, f"no link with id {link_id}")
            availability, _ = link_timelines(s, [link_id], now=clock())[link_id]
            cited = queries.citing(s, link_id)
            snaps = queries.snapshots(s, link_id)
            drift, drifts = _drift_views(s, link_id)
        return LinkDetailOut(
            link=_link_out(view),
            cited_by=[
                CitingOut(
                    article_id=c.article_id,
                    article=c.article_location,
                    article_title=c.article_title,
                    anchor_text=c.anchor_text,
                    href=c.href,
                    line=c.line,
                )
                for c in cited
            ],
            snapshots=[
                SnapshotOut(
                    role=sn.role,
                    looked_up_at=sn.looked_up_at,
                    found=sn.found,
                    archive_url=sn.archive_url,
                    captured_at=sn.captured_at,
                    status=sn.status,
                    error=sn.error,
                )
                for sn in snaps
            ],
            availability=[
                AvailabilityOut(days=a.days, checks=a.checks, alive=a.alive, uptime=a.uptime)
                for a in availability
            ],
            drift=drift,
            drift_history=drifts,
        )

    @app.get("/api/publication", tags=["publication"])
    def api_publication(
        by: Annotated[str, Query(description="year | domain | source")] = "year",
        scope: Annotated[str, Query(description="all | external | internal links")] = "all",
        source: Annotated[int | None, Query(description="only this source's articles")] = None,
    ) -> dict[str, Any]:
        """Link rot of the whole publication: dead share by publication year, by linked domain
        (internal / external) or by source (what `linkwatch publication-report` prints)."""
        if by not in BY_CHOICES:
            raise HTTPException(422, f"unknown view {by!r}; use one of {', '.join(BY_CHOICES)}")
        if scope not in SCOPES:
            raise HTTPException(422, f"unknown scope {scope!r}; use one of {', '.join(SCOPES)}")
        try:
            with session() as s:
                report = publication_report(s, by, now=clock(), source_id=source, scope=scope)
        except UsageError as exc:
            raise HTTPException(422, str(exc)) from exc
        return publication_data(report)

    @app.get("/api/links/{link_id}/history", response_model=list[CheckOut], tags=["links"])
    def api_link_history(
        link_id: int, limit: Annotated[int, Query(ge=1, le=10000)] = 500
    ) -> list[CheckOut]:
        """The link's checks, newest first."""
        with session() as s:
            if queries.get_link(s, link_id) is None:
                raise HTTPException(status.HTTP_404_NOT_FOUND, f"no link with id {link_id}")
            checks = queries.history(s, link_id, limit=limit)
        return [
            CheckOut(
                checked_at=c.checked_at,
                outcome=c.outcome.value if c.outcome else None,
                http_status=c.http_status,
                final_url=c.final_url,
                latency_ms=c.latency_ms,
                error=c.error,
            )
            for c in checks
        ]

    def _update_link(link_id: int, **values: Any) -> LinkOut:
        with session() as s:
            row = s.get(LinkRow, link_id)
            if row is None:
                raise HTTPException(status.HTTP_404_NOT_FOUND, f"no link with id {link_id}")
            for key, value in values.items():
                setattr(row, key, value)
            s.flush()
            view = queries.get_link(s, link_id)
        assert view is not None
        return _link_out(view)

    @app.post(
        "/api/links/{link_id}/ignore",
        response_model=LinkOut,
        dependencies=[Depends(require_token)],
        tags=["links"],
    )
    def api_ignore(link_id: int, body: IgnoreIn | None = None) -> LinkOut:
        """Mark a link "not broken" (ignored), or clear the mark with {"ignored": false}."""
        return _update_link(link_id, ignored=(body or IgnoreIn()).ignored)

    @app.post(
        "/api/links/{link_id}/recheck",
        response_model=LinkOut,
        dependencies=[Depends(require_token)],
        tags=["links"],
    )
    def api_recheck(link_id: int) -> LinkOut:
        """Make the link due now: the daemon checks it on its next tick."""
        return _update_link(link_id, next_check_at=clock())

    # -- API documentation (self-contained: opens offline) -----------------------------------

    @app.get("/api/docs", response_class=HTMLResponse, include_in_schema=False)
    def api_docs() -> HTMLResponse:
        endpoints = apidocs.endpoints(app.openapi(), apidocs.token_routes(app))
        schemas = apidocs.schemas(app.openapi())
        return page("api_docs.html", endpoints=endpoints, schemas=schemas, version=__version__)

    # -- operations -------------------------------------------------------------------------

    @app.get("/metrics", response_class=PlainTextResponse, tags=["operations"])
    def metrics_endpoint() -> Response:
        """Prometheus text format."""
        with session() as s:
            text = metrics.render_metrics(s)
        return Response(text, media_type=metrics.CONTENT_TYPE)

    @app.get("/healthz", response_model=HealthzOut, tags=["operations"])
    def healthz() -> JSONResponse:
        """200 when the database answers, 503 otherwise."""
        try:
            db.ping()
        except StoreError:
            return JSONResponse({"status": "error", "database": "unreachable"}, status_code=503)
        return JSONResponse({"status": "ok", "database": "ok"})

    return app
