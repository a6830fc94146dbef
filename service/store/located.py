"""Rows addressed by id or by location (articles, sources): one lookup and one listing for both."""

from __future__ import annotations

from typing import TypeVar

from sqlmodel import Session, col, select

from service.store.tables import ArticleRow, SourceRow

Located = TypeVar("Located", ArticleRow, SourceRow)


def get_by_id_or_location(
    session: Session, model: type[Located], id_or_location: int | str
) -> Located | None:
    """A row by id, or by location (a string of digits that is no location is an id)."""
    if isinstance(id_or_location, int):
        return session.get(model, id_or_location)
    row = session.exec(select(model).where(model.location == id_or_location)).first()
    if row is None and id_or_location.strip().isdigit():
        return session.get(model, int(id_or_location))
    return row


def list_rows(session: Session, model: type[Located], *, include_inactive: bool) -> list[Located]:
    """Active rows (every row with include_inactive), in the order they were added."""
    query = select(model)
    if not include_inactive:
        query = query.where(col(model.active).is_(True))
    return list(session.exec(query.order_by(col(model.id))))
