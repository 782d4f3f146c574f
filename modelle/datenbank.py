"""Verbindung zur Datenbank: Engine und Sitzungen für SQLite (eingebettet) und PostgreSQL."""

from __future__ import annotations

import errno
import socket
from typing import Any

from sqlalchemy import Insert, Table, event, insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

Sitzungsfabrik = async_sessionmaker[AsyncSession]


def einfuegen_ohne_konflikt(
    sitzung: AsyncSession, tabelle: type[Any] | Table, werte: dict[str, Any], eindeutig: str
) -> Insert:
    """`INSERT`, das nichts tut, wenn `eindeutig` schon vergeben ist (SQLite, PostgreSQL).

    Eine Anweisung statt Nachsehen und Einfügen, und ohne Wettlauf zwischen beiden. Auf
    anderen Datenbanken ein einfaches `INSERT`: die Eindeutigkeit wirft dort IntegrityError,
    statt zu schweigen.
    """
    match sitzung.get_bind().dialect.name:
        case "postgresql":
            return (
                postgresql.insert(tabelle)
                .values(werte)
                .on_conflict_do_nothing(index_elements=[eindeutig])
            )
        case "sqlite":
            return (
                sqlite.insert(tabelle)
                .values(werte)
                .on_conflict_do_nothing(index_elements=[eindeutig])
            )
        case _:
            return insert(tabelle).values(werte)


def erzeuge_engine(url: str, **optionen: Any) -> AsyncEngine:
    """Eine Engine für `url`; SQLite bekommt Fremdschlüssel, WAL und eine Wartezeit bei Sperren.

    Ein Server (PostgreSQL) kann Verbindungen im Pool beenden (Neustart, `pg_terminate_backend`):
    ein kurzer Test beim Ausleihen ersetzt sie, statt die nächste Anfrage scheitern zu lassen.
    """
    adresse = make_url(url)
    if adresse.get_backend_name() == "sqlite":
        optionen.setdefault("connect_args", {}).setdefault("timeout", 15)
    else:
        optionen.setdefault("pool_pre_ping", True)
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


# Netzfehler, die asyncpg beim Verbinden ungewrappt durchreicht (neben ConnectionError).
_NETZ_NICHT_ERREICHBAR = {errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EHOSTDOWN, errno.ENETDOWN}


def nicht_erreichbar(fehler: BaseException) -> bool:
    """Ob `fehler` heißt: die Datenbank ist gerade nicht zu erreichen – später erneut versuchen.

    Nicht nur `OperationalError`: eine vom Server beendete Verbindung meldet asyncpg je nach
    Augenblick als schlichten `DBAPIError` oder `InternalError` (erkennbar an der verworfenen
    Verbindung), ein abgelehntes Verbinden als `DBAPIError` ohne Anweisung oder gar als
    `OSError`. Alles andere (etwa `IntegrityError`) ist ein Fehler im Programm.
    """
    if isinstance(fehler, OperationalError | InterfaceError):
        return True
    if isinstance(fehler, DBAPIError):
        return fehler.connection_invalidated or fehler.statement is None
    if isinstance(fehler, ConnectionError | TimeoutError | socket.gaierror):
        return True
    return isinstance(fehler, OSError) and fehler.errno in _NETZ_NICHT_ERREICHBAR
