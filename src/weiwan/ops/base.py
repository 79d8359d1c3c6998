"""The declarative base shared by every operational model, and time helpers."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, DateTime, Dialect, MetaData, any_, bindparam
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import DeclarativeBase, QueryableAttribute, Session
from sqlalchemy.types import TypeDecorator

#: Explicit constraint names so migrations name (and can later drop) the same objects on
#: SQLite and PostgreSQL; batch mode on SQLite needs named constraints to alter them.
NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Base class of all ops models; one metadata for Alembic."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(UTC)


def as_utc(moment: datetime) -> datetime:
    """``moment`` as an aware UTC datetime; a naive one is taken to be UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """``TIMESTAMP WITH TIME ZONE`` that stores UTC and always returns aware UTC datetimes.

    PostgreSQL converts by itself; SQLite keeps no zone and would store an aware value's wall
    clock as given (a contact at 23:30 Shanghai and one at 23:30 UTC would compare equal), so
    values are converted to UTC before they are bound and marked UTC when read. Naive values
    are taken to be UTC.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        value = as_utc(value)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return as_utc(value)


def one_of(
    session: Session,
    column: ColumnElement[Any] | QueryableAttribute[Any],
    values: Iterable[Any],
) -> ColumnElement[bool]:
    """``column IN values``; on PostgreSQL as ``column = ANY(:values)``, one array parameter,
    so the statement's text is the same whatever the number of values: the driver parses it
    once and the server plans it once (an IN list of a few hundred ids made a new statement for
    every batch of events). Elsewhere (SQLite) the IN list."""
    listed = list(values)
    expression = column.expression if isinstance(column, QueryableAttribute) else column
    if session.get_bind().dialect.name == "postgresql":
        array = bindparam(None, listed, type_=postgresql.ARRAY(expression.type))
        return expression == any_(array)
    return expression.in_(listed)
