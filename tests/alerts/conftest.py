"""Fixtures of the alert tests: a real database, a real SMTP server, a real webhook receiver,
and a small "world" that writes articles, checks and transitions through the store."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import SecretStr
from sqlalchemy import select

from service.model import (
    ArchiveInfo,
    Article,
    ArticleMeta,
    Capture,
    CheckResult,
    LinkKind,
    Occurrence,
    Outcome,
)
from service.monitor.health import DeathRule
from service.settings import AlertsSettings, ChannelSettings
from service.store.db import Database, open_database
from service.store.repo import links_for_urls, record_check, sync_article
from service.store.snapshots import store_archive_info
from service.store.tables import AlertRow, NotificationRow
from tests.support.smtp_sink import SmtpSink
from tests.support.webhook import WebhookReceiver

T0 = datetime(2025, 3, 3, 12, 0, tzinfo=UTC)  # a Monday, noon UTC
RULE = DeathRule(signals=2, span=timedelta(hours=1))
SMTP_USER = "alerts"
SMTP_PASSWORD = "Smtp-Pa55word-7f3k9"
HOOK_TOKEN = "hooktoken-9d8c7b6a5f4e"
HEADER_TOKEN = "BearerSecret0123456789"
SECRETS = (SMTP_PASSWORD, HOOK_TOKEN, HEADER_TOKEN)


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = open_database(db_url)
    try:
        yield database
    finally:
        database.dispose()


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    with SmtpSink("127.0.0.1", user=SMTP_USER, password=SMTP_PASSWORD) as sink:
        yield sink


@pytest.fixture
def hook() -> Iterator[WebhookReceiver]:
    with WebhookReceiver("127.0.0.1") as receiver:
        yield receiver


def mail_url(sink: SmtpSink, password: str = SMTP_PASSWORD) -> str:
    return (
        f"mailto://{SMTP_USER}:{password}@{sink.host}:{sink.port}"
        f"?smtp={sink.host}&from=linkwatch@example.org&to=owner@example.org&secure=no"
    )


def hook_url(receiver: WebhookReceiver, path: str = "hook") -> str:
    return f"json://{receiver.host}:{receiver.port}/{path}/{HOOK_TOKEN}?+Authorization=Bearer%20{HEADER_TOKEN}"


def channel(url: str, **kwargs: object) -> ChannelSettings:
    return ChannelSettings.model_validate({"url": SecretStr(url), **kwargs})


def alerts(channels: dict[str, ChannelSettings], **kwargs: object) -> AlertsSettings:
    return AlertsSettings.model_validate({"channels": channels, **kwargs})


@dataclass
class World:
    """Articles, links and checks written through the real store code."""

    db: Database
    links: dict[str, int] = field(default_factory=dict)

    def article(
        self,
        location: str,
        title: str | None,
        links: Sequence[tuple[str, str]],
        *,
        tags: Sequence[str] = (),
        at: datetime = T0 - timedelta(days=1),
    ) -> None:
        occurrences = tuple(
            Occurrence(
                href=url, anchor_text=anchor, line=i + 1, kind=LinkKind.HTTP, url=url, position=i
            )
            for i, (url, anchor) in enumerate(links)
        )
        art = Article(
            location=location,
            format="markdown",
            meta=ArticleMeta(title=title),
            occurrences=occurrences,
        )
        with self.db.session() as session:
            sync_article(session, art, at, tags=list(tags))
            found = links_for_urls(session, [u for u, _ in links])
            for url, row in found.items():
                assert row.id is not None
                self.links[url] = row.id

    def check(
        self,
        url: str,
        outcome: Outcome,
        at: datetime,
        *,
        status: int | None = None,
        final_url: str | None = None,
    ) -> str | None:
        """Record one check; the transition it caused as 'from->to', else None."""
        result = CheckResult(
            url=url, outcome=outcome, checked_at=at, http_status=status, final_url=final_url
        )
        with self.db.session() as session:
            _, transition = record_check(session, self.links[url], result, RULE)
            return f"{transition.from_health}->{transition.to_health}" if transition else None

    def kill(self, url: str, start: datetime, *, status: int = 404) -> datetime:
        """Two dead signals an hour apart: the link becomes dead; the time it did."""
        self.check(url, Outcome.NOT_FOUND, start, status=status)
        at = start + timedelta(hours=1)
        assert self.check(url, Outcome.NOT_FOUND, at, status=status) == "suspect->dead"
        return at

    def archive(self, url: str, archive_url: str, captured: datetime) -> None:
        capture = Capture(original_url=url, timestamp=captured, archive_url=archive_url, status=200)
        info = ArchiveInfo(
            url=url, citation=capture, latest=capture, looked_up_at=T0 - timedelta(hours=12)
        )
        with self.db.session() as session:
            store_archive_info(session, self.links[url], info)

    def alerts(self) -> list[AlertRow]:
        with self.db.session() as session:
            return list(session.scalars(select(AlertRow).order_by(AlertRow.id)))  # type: ignore[arg-type]

    def notifications(self) -> list[NotificationRow]:
        with self.db.session() as session:
            return list(session.scalars(select(NotificationRow).order_by(NotificationRow.id)))  # type: ignore[arg-type]


@pytest.fixture
def world(db: Database) -> World:
    return World(db)
