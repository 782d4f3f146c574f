"""Grundlagen der Tabellen: deklarative Basis, Namenskonvention, zeitzonenbewusste Zeit."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import DateTime, MetaData
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

# Feste Namen für Constraints, damit Migrationen auf SQLite und PostgreSQL gleich aussehen.
NAMENSKONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Basis(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMENSKONVENTION)


class UTCZeit(TypeDecorator[dt.datetime]):
    """Ein Zeitpunkt, immer zeitzonenbewusst und in UTC.

    SQLite kennt keine Zeitzonen: dort wird UTC ohne Angabe gespeichert und beim Lesen
    wieder als UTC markiert. Naive Zeitpunkte werden abgewiesen statt geraten.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"Zeitpunkt ohne Zeitzone: {value!r}")
        utc = value.astimezone(dt.UTC)
        if dialect.name == "sqlite":
            return utc.replace(tzinfo=None)
        return utc

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        assert isinstance(value, dt.datetime)
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


def jetzt() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
