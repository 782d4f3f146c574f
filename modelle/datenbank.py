"""Verbindung zur Datenbank: Engine und Sitzungen für SQLite (eingebettet) und PostgreSQL."""

from __future__ import annotations

import contextlib
import errno
import os
import socket
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Insert, Table, event, insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

Sitzungsfabrik = async_sessionmaker[AsyncSession]


def einfuegen_ohne_konflikt(
    sitzung: AsyncSession,
    tabelle: type[Any] | Table,
    werte: dict[str, Any],
    eindeutig: str,
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

    Die Werte einer Anweisung erscheinen nie in Fehlern und im Protokoll von SQLAlchemy
    (`hide_parameters`): dort stünden sonst das Zugangstoken oder der Text einer Meldung.
    Eine neue SQLite-Datei legt die Engine selbst an, nur für dieses Konto lesbar (0600);
    SQLite gibt `-wal` und `-shm` dieselben Rechte.
    """
    adresse = make_url(url)
    optionen["hide_parameters"] = True
    if adresse.get_backend_name() == "sqlite":
        optionen.setdefault("connect_args", {}).setdefault("timeout", 15)
    else:
        optionen.setdefault("pool_pre_ping", True)
    engine = create_async_engine(adresse, **optionen)
    if adresse.get_backend_name() == "sqlite":
        datei = sqlite_datei(url)
        if datei is not None:

            def anlegen(*_argumente: Any) -> None:
                _lege_datei_an(datei)

            event.listen(engine.sync_engine, "do_connect", anlegen)
        event.listen(engine.sync_engine, "connect", _sqlite_einstellen)
    return engine


def sqlite_datei(url: str) -> Path | None:
    """Die Datei einer SQLite-URL; `None` für PostgreSQL, `:memory:` und `file:`-URIs."""
    adresse = make_url(url)
    datenbank = adresse.database
    if (
        adresse.get_backend_name() != "sqlite"
        or datenbank in (None, "", ":memory:")
        or datenbank.startswith("file:")
        or adresse.query.get("uri")
    ):
        return None
    return Path(datenbank)


def sqlite_im_speicher(adresse: URL) -> bool:
    """Eine SQLite-Datenbank nur im Speicher dieses Prozesses (ein anderer sieht sie nicht)."""
    return adresse.get_backend_name() == "sqlite" and (
        adresse.database in (None, "", ":memory:") or adresse.query.get("mode") == "memory"
    )


def _lege_datei_an(datei: Path) -> None:
    """Legt eine fehlende Datenbankdatei leer und nur für dieses Konto lesbar an.

    SQLite legte sie sonst mit den Rechten der umask an (meist für alle lesbar). Scheitert
    das Anlegen (kein Ordner, keine Rechte), sagt SQLite beim Öffnen gleich, warum.
    """
    with contextlib.suppress(OSError):
        os.close(os.open(datei, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def _sqlite_einstellen(dbapi_verbindung: Any, _eintrag: Any) -> None:
    cursor = dbapi_verbindung.cursor()
    try:
        # SQLite prüft Fremdschlüssel nur, wenn man es je Verbindung verlangt.
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()


def standleser(sitzungen: Sitzungsfabrik) -> Callable[[], tuple[int, int] | None] | None:
    """Liest Struktur- und Meldungsstand (`strukturstand`) einer SQLite-Datei direkt, ohne
    SQLAlchemy und ohne den Thread von aiosqlite: eine eigene Verbindung nur zum Lesen, eine
    Abfrage kostet Mikrosekunden und hält die Ereignisschleife nicht merklich auf (WAL: Lesen
    wartet nie auf Schreibende). None für PostgreSQL und SQLite im Speicher (dort liest
    `modelle.verzeichnis.VerzeichnisSpeicher` über die Sitzung)."""
    engine = sitzungen.kw.get("bind")
    if not isinstance(engine, AsyncEngine) or engine.url.get_backend_name() != "sqlite":
        return None
    datei = sqlite_datei(engine.url.render_as_string(hide_password=False))
    if datei is None:
        return None
    verbindung: sqlite3.Connection | None = None
    geschlossen = False

    def lies() -> tuple[int, int] | None:
        nonlocal verbindung
        if geschlossen:
            raise sqlite3.ProgrammingError("Engine geschlossen")
        if verbindung is None:
            verbindung = sqlite3.connect(
                datei, isolation_level=None, check_same_thread=False, timeout=1
            )
            verbindung.execute("PRAGMA query_only = ON")
        zeile = verbindung.execute(
            "SELECT version, meldungen FROM strukturstand WHERE id = 1"
        ).fetchone()
        return None if zeile is None else (int(zeile[0]), int(zeile[1]))

    @event.listens_for(engine.sync_engine, "engine_disposed")
    def schliessen(_engine: object) -> None:
        # Mit der Engine: eine offene Verbindung hielte sonst die WAL-Datei am Leben, und wer
        # die Datei danach ersetzt (Wiederherstellen, Tests), bekäme die alte WAL dazu.
        nonlocal verbindung, geschlossen
        geschlossen = True
        if verbindung is not None:
            verbindung.close()
            verbindung = None

    return lies


def erzeuge_sitzungsfabrik(engine: AsyncEngine) -> Sitzungsfabrik:
    return async_sessionmaker(engine, expire_on_commit=False)


async def tilge_ueberschriebenes(sitzungen: Sitzungsfabrik) -> None:
    """Entfernt in SQLite die Reste überschriebener Werte aus Datei und WAL.

    Ein geänderter Wert bleibt sonst in freien Bereichen der Datei und in älteren Rahmen des
    WAL lesbar. Für seltene Anlässe (ein Geheimnis wurde ersetzt): `VACUUM` schreibt die
    Datei neu, der Checkpoint leert das WAL. PostgreSQL räumt tote Zeilen selbst (autovacuum).
    """
    async with sitzungen() as sitzung:
        if sitzung.get_bind().dialect.name != "sqlite":
            return
        verbindung = await sitzung.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
        await verbindung.exec_driver_sql("VACUUM")
        await verbindung.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")


# Netzfehler, die asyncpg beim Verbinden ungewrappt durchreicht (neben ConnectionError).
_NETZ_NICHT_ERREICHBAR = {errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EHOSTDOWN, errno.ENETDOWN}


def kurzer_grund(fehler: BaseException | None) -> str:
    """Was der Treiber meldete, in einer Zeile: ohne das SQL und die Links, die SQLAlchemy
    anhängt; ohne Text der Name der Ausnahme."""
    grund = getattr(fehler, "orig", None) or fehler
    return str(grund).partition("\n")[0] or type(grund).__name__


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


class Anweisungen:
    """Schreibt jede SQL-Anweisung mit, die eine Engine an die Datenbank schickt, solange sie
    beobachtet – für Tests, die eine Zahl von Datenbankaufrufen zusichern, und für die Bank."""

    _EREIGNIS = "before_cursor_execute"

    def __init__(self) -> None:
        self.gesendet: list[str] = []

    def _mitschreiben(self, _verbindung: Any, _cursor: Any, anweisung: str, *_rest: Any) -> None:
        self.gesendet.append(anweisung)

    def beobachte(self, engine: AsyncEngine) -> None:
        event.listen(engine.sync_engine, self._EREIGNIS, self._mitschreiben)

    def beende(self, engine: AsyncEngine) -> None:
        event.remove(engine.sync_engine, self._EREIGNIS, self._mitschreiben)

    @property
    def anzahl(self) -> int:
        return len(self.gesendet)


@contextlib.contextmanager
def mitgeschrieben(engine: AsyncEngine) -> Iterator[Anweisungen]:
    """Schreibt die Anweisungen von `engine` mit, bis der Block endet."""
    mitschrift = Anweisungen()
    mitschrift.beobachte(engine)
    try:
        yield mitschrift
    finally:
        mitschrift.beende(engine)
