"""Testdatenbanken: jede Testsitzung bekommt ihre eigene SQLite-Vorlage und, wenn
KLIMABOT_TEST_POSTGRES_URL gesetzt ist, ihre eigene PostgreSQL-Datenbank; dazu, was Tests an
der Datenbank selbst tun (sie sperren, Meldungen nachzählen)."""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import asyncpg
import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from modelle.basis import Basis
from modelle.datenbank import Sitzungsfabrik, erzeuge_engine
from modelle.migration import aktualisiere_schema
from modelle.tabellen import Statusmeldung  # trägt dabei alle Tabellen in Basis.metadata ein

POSTGRES_VARIABLE = "KLIMABOT_TEST_POSTGRES_URL"


def postgres_basis_url() -> str | None:
    return os.environ.get(POSTGRES_VARIABLE) or None


def ohne_postgres_ueberspringen() -> NoReturn:
    """Nur lokal ohne die Variable. In CI (`CI` gesetzt, `.ci/run` setzt auch die Variable)
    scheitert der Test stattdessen, und ein nicht erreichbares PostgreSQL lässt ihn ohnehin
    scheitern: dort wird nichts still übersprungen."""
    grund = f"PostgreSQL-Variante: {POSTGRES_VARIABLE} ist nicht gesetzt"
    if os.environ.get("CI"):
        pytest.fail(grund)
    pytest.skip(f"{grund} (CI setzt sie, dort läuft dieser Test)")


async def _migriere(url: str) -> None:
    engine = erzeuge_engine(url)
    try:
        await aktualisiere_schema(engine)
    finally:
        await engine.dispose()


def sqlite_vorlage(verzeichnis: Path) -> Path:
    vorlage = verzeichnis / "vorlage.db"
    asyncio.run(_migriere(f"sqlite+aiosqlite:///{vorlage}"))
    return vorlage


def sqlite_kopie(vorlage: Path, ziel: Path) -> str:
    shutil.copyfile(vorlage, ziel)
    return f"sqlite+aiosqlite:///{ziel}"


def asyncpg_dsn(url: str) -> str:
    """Die SQLAlchemy-URL so, wie `asyncpg.connect` sie nimmt."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def pg_ausfuehren(url: str, *befehle: str) -> None:
    verbindung = await asyncpg.connect(asyncpg_dsn(url), timeout=10)
    try:
        for befehl in befehle:
            await verbindung.execute(befehl)
    finally:
        await verbindung.close()


def postgres_laufdatenbank(basis_url: str) -> Iterator[str]:
    """Legt für diesen Testlauf eine eigene Datenbank an, migriert sie und löscht sie danach."""
    name = f"klimabot_test_{os.getpid()}_{secrets.token_hex(4)}"
    try:
        asyncio.run(pg_ausfuehren(basis_url, f'CREATE DATABASE "{name}"'))
    except (OSError, asyncpg.PostgresError) as fehler:
        raise RuntimeError(
            f"{POSTGRES_VARIABLE} ist gesetzt, aber PostgreSQL ist nicht erreichbar: {fehler}"
        ) from fehler
    url = make_url(basis_url).set(database=name).render_as_string(hide_password=False)
    try:
        asyncio.run(_migriere(url))
        yield url
    finally:
        asyncio.run(pg_ausfuehren(basis_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def postgres_leeren(url: str) -> None:
    # DELETE in umgekehrter Abhängigkeitsfolge ist bei kleinen Tabellen ~7× schneller als
    # TRUNCATE … CASCADE; die Sequenzen bleiben stehen, Tests verlassen sich nicht auf IDs.
    # Der Strukturstand ist keine Datentabelle: seine eine Zeile bleibt, wie nach der Migration.
    befehle = [
        f'DELETE FROM "{t.name}"'
        for t in reversed(Basis.metadata.sorted_tables)
        if t.name != "strukturstand"
    ]
    asyncio.run(pg_ausfuehren(url, *befehle))


class SqliteSperre:
    """Ein anderer Schreiber hält die Datei mit `BEGIN EXCLUSIVE` (lesen geht dank WAL weiter).

    `wartezeit`: so lange wartet `setzen` auf eine laufende Transaktion des Bots.
    """

    def __init__(self, datei: str | Path, *, wartezeit: float) -> None:
        self.datei = datei
        self.wartezeit = wartezeit
        self._verbindung: sqlite3.Connection | None = None

    def _sperren(self) -> sqlite3.Connection:
        verbindung = sqlite3.connect(
            self.datei, isolation_level=None, check_same_thread=False, timeout=self.wartezeit
        )
        verbindung.execute("BEGIN EXCLUSIVE")
        return verbindung

    async def setzen(self) -> None:
        # Im Thread: wartet die Sperre auf eine laufende Transaktion des Bots, darf die
        # Ereignisschleife (und damit der Bot) nicht stehen.
        sperre = asyncio.ensure_future(asyncio.to_thread(self._sperren))
        try:
            self._verbindung = await asyncio.shield(sperre)
        except asyncio.CancelledError:
            # Der Thread sperrt trotzdem zu Ende: die Sperre abwarten und wieder lösen, sonst
            # hielte eine vergessene Verbindung die Datei für immer (der Test danach hinge).
            verbindung = await sperre
            await asyncio.to_thread(verbindung.execute, "ROLLBACK")
            verbindung.close()
            raise

    async def loesen(self) -> None:
        verbindung, self._verbindung = self._verbindung, None
        if verbindung is not None:
            await asyncio.to_thread(verbindung.execute, "ROLLBACK")
            verbindung.close()


async def meldungen_je_ereignis(sitzungen: Sitzungsfabrik, event_ids: list[str]) -> dict[str, int]:
    """Wie viele Statusmeldungen aus jedem der Matrix-Ereignisse `event_ids` entstanden sind."""
    async with sitzungen() as sitzung:
        zeilen = await sitzung.execute(
            select(Statusmeldung.event_id, func.count())
            .where(Statusmeldung.event_id.in_(event_ids))
            .group_by(Statusmeldung.event_id)
        )
        gezaehlt = {str(e): n for e, n in zeilen.all()}
    return {e: gezaehlt.get(e, 0) for e in event_ids}
