"""Verbindung zur Datenbank: Engine und Sitzungen für SQLite (eingebettet) und PostgreSQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

Sitzungsfabrik = async_sessionmaker[AsyncSession]


def erzeuge_engine(url: str, **optionen: Any) -> AsyncEngine:
    """Eine Engine für `url`; SQLite bekommt Fremdschlüssel, WAL und eine Wartezeit bei Sperren."""
    adresse = make_url(url)
    if adresse.get_backend_name() == "sqlite":
        optionen.setdefault("connect_args", {}).setdefault("timeout", 15)
    engine = create_async_engine(adresse, **optionen)
    if adresse.get_backend_name() == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_einstellen)
    return engine


def _sqlite_einstellen(dbapi_verbindung: Any, _eintrag: Any) -> None:
    cursor = dbapi_verbindung.cursor()
    try:
        # SQLite prüft Fremdschlüssel nur, wenn man es je Verbindung verlangt.
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()


def erzeuge_sitzungsfabrik(engine: AsyncEngine) -> Sitzungsfabrik:
    return async_sessionmaker(engine, expire_on_commit=False)
