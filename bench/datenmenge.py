"""Daten in Menge: Befehle und Wochenbericht auf einem Bestand von fünf Jahren Wochenmeldungen.

Der Bestand kommt aus `demo.bestand` (deterministisch, mit allem, was echte Daten haben:
archivierte Felder und Projekte, Pausen, zurückgezogene Meldungen). Gemessen wird der echte
Weg eines Befehls – `Verarbeitung.verarbeite` mit Transaktion, Entdoppelung, Verzeichnis,
Handler und Ausgangskorb –, und der Wochenbericht so, wie der Planer ihn zusammenstellt.
Dazu die Zahl der SQL-Anweisungen, einmal bei kleinem und einmal bei großem Bestand: sie
darf nicht mit der Zahl der Projekte wachsen.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import os
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock
from zoneinfo import ZoneInfo

import asyncpg
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

import befehle.bericht
from befehle.bericht import wochenbericht_antwort
from befehle.diagramm import ampel_diagramm
from befehle.grundlagen import Antwort
from bot.app import baue_verarbeitung
from bot.config import BotEinstellungen, Einstellungen
from bot.ereignis import Ereignis
from demo.bestand import BEGINN, erzeuge_bestand
from modelle.berichtsdaten import ampel_verlauf
from modelle.datenbank import Anweisungen, erzeuge_engine, erzeuge_sitzungsfabrik
from modelle.migration import aktualisiere_schema
from modelle.tabellen import Statusmeldung, Strategieprojekt

BERLIN = ZoneInfo("Europe/Berlin")
BOT = "@klimabot:bench.test"
RAUM = "!bench:bench.test"
POSTGRES_VARIABLE = "KLIMABOT_BENCH_POSTGRES_URL"
POSTGRES_VORGABE = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"

# (Name, Befehlstext); der Wochenbericht ist kein Befehl, sondern der Weg des Planers.
BEFEHLE = (
    ("!status", "!status"),
    ("!status energie", "!status feld1"),
    ("!verlauf", "!verlauf projekt7"),
)
# Der Wochenbericht, wie der Planer ihn baut (`wochenbericht_antwort`): einmal ohne das
# Zeichnen des Diagramms (Abfragen, Rechnen, Text – das Zusammenstellen), einmal ganz.
WOCHENBERICHT = "Wochenbericht zusammenstellen"
WOCHENBERICHT_GANZ = "Wochenbericht mit Diagramm"
DIAGRAMM = "Ampeldiagramm zeichnen"
# Matplotlib braucht Sekunden je Bild: davon genügen wenige Proben.
WENIGE = 3


@dataclass(frozen=True)
class Groesse:
    name: str
    felder: int
    projekte_je_feld: int
    wochen: int


# Sieben aktive Felder mit je 43 Projekten, dazu ein archiviertes Feld mit vier: 305 Projekte.
# Der Generator lässt Lücken wie echte Daten (vergessene Wochen, Pausen, nie gemeldete und
# abgeschlossene Projekte); mit 300 Wochen (knapp 5¾ Jahre) ergibt das rund 80 000
# Statusmeldungen, die Menge aus Issue 6 (300 Projekte × 5 Jahre × 52 Wochen ≈ 78 000).
GROSS = Groesse("groß", felder=7, projekte_je_feld=43, wochen=300)
# Zum Vergleich der Anweisungszahl: ein Zehntel der Projekte, gleich lange Historie.
KLEIN = Groesse("klein", felder=7, projekte_je_feld=4, wochen=300)


def postgres_basis_url() -> str:
    return (
        os.environ.get(POSTGRES_VARIABLE)
        or os.environ.get("KLIMABOT_TEST_POSTGRES_URL")
        or POSTGRES_VORGABE
    )


def _asyncpg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@asynccontextmanager
async def postgres_datenbank(basis_url: str) -> AsyncIterator[str]:
    """Eine eigene Wegwerf-Datenbank neben der Basis; wird danach in jedem Fall gelöscht."""
    name = f"klimabot_bench_{os.getpid()}_{secrets.token_hex(3)}"
    verbindung = await asyncpg.connect(_asyncpg_dsn(basis_url), timeout=10)
    try:
        await verbindung.execute(f'CREATE DATABASE "{name}"')
    finally:
        await verbindung.close()
    try:
        yield make_url(basis_url).set(database=name).render_as_string(hide_password=False)
    finally:
        verbindung = await asyncpg.connect(_asyncpg_dsn(basis_url), timeout=10)
        try:
            await verbindung.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await verbindung.close()


async def _befuelle(engine: AsyncEngine, groesse: Groesse) -> dict[str, int]:
    await aktualisiere_schema(engine)
    bestand = erzeuge_bestand(
        felder=groesse.felder, projekte_je_feld=groesse.projekte_je_feld, wochen=groesse.wochen
    )
    async with engine.begin() as verbindung:
        await bestand.einfuegen(verbindung)
        if engine.dialect.name == "postgresql":
            # Ids kamen ausdrücklich; die Sequenzen müssen dahinter weiterzählen.
            for tabelle in ("themenfeld", "person", "strategieprojekt", "statusmeldung"):
                await verbindung.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{tabelle}', 'id'), "
                        f"(SELECT max(id) FROM {tabelle}))"
                    )
                )
    if engine.dialect.name == "postgresql":
        # Nach einem Massenimport tut das der Autovacuum binnen einer Minute von selbst.
        async with engine.connect() as verbindung:
            await verbindung.execution_options(isolation_level="AUTOCOMMIT")
            await verbindung.execute(text("ANALYZE"))
    async with engine.connect() as verbindung:
        projekte = await verbindung.scalar(select(func.count()).select_from(Strategieprojekt))
        meldungen = await verbindung.scalar(select(func.count()).select_from(Statusmeldung))
    return {
        "themenfelder_aktiv": groesse.felder,
        "projekte": int(projekte or 0),
        "statusmeldungen": int(meldungen or 0),
        "wochen": groesse.wochen,
    }


def _kennzahlen(werte: list[float]) -> dict[str, float]:
    geordnet = sorted(werte)
    mitte = geordnet[len(geordnet) // 2]
    p95 = geordnet[min(len(geordnet) - 1, round(0.95 * (len(geordnet) - 1)))]
    return {
        "median_ms": round(mitte, 2),
        "p95_ms": round(p95, 2),
        "max_ms": round(geordnet[-1], 2),
        "proben": len(geordnet),
    }


async def _ohne_diagramm(sitzung: AsyncSession, *, bis: dt.datetime) -> Antwort:
    """`wochenbericht_antwort` mit einem leeren Bild statt Matplotlib (nur für die Messung)."""
    with mock.patch.object(befehle.bericht, "ampel_diagramm", return_value=b""):
        return await wochenbericht_antwort(sitzung, bis=bis, zeitzone=BERLIN)


async def _miss(
    engine: AsyncEngine, groesse: Groesse, wiederholungen: int
) -> tuple[dict[str, list[float]], dict[str, int]]:
    """Misst verzahnt; mit `wiederholungen=0` nur eine Runde, um Anweisungen zu zählen."""
    sitzungen = erzeuge_sitzungsfabrik(engine)
    zaehler = Anweisungen()
    zaehler.beobachte(engine)
    # Hunderte Befehle einer Person im selben Augenblick: gemessen wird die Verarbeitung,
    # nicht die Drossel (`flut_stoss = 0` schaltet die Flutgrenze ab wie in der Konfiguration).
    einstellungen = Einstellungen.model_construct(bot=BotEinstellungen(flut_stoss=0))
    verarbeitung = baue_verarbeitung(einstellungen, sitzungen, bot_id=BOT)
    # „Jetzt“ ist das Ende des Bestands: der Wochenbericht hat eine volle Woche Meldungen.
    jetzt = BEGINN + dt.timedelta(weeks=groesse.wochen)
    nummern = itertools.count(1)

    def befehl(text_: str) -> Callable[[], Awaitable[None]]:
        async def ausfuehren() -> None:
            roh = {
                "event_id": f"$bench{next(nummern)}",
                "sender": "@person1:example.org",
                "type": "m.room.message",
                "origin_server_ts": int(jetzt.timestamp() * 1000),
                "content": {"msgtype": "m.text", "body": text_},
            }
            ereignis = Ereignis.aus_json(RAUM, roh)
            assert ereignis is not None
            await verarbeitung.verarbeite(ereignis)

        return ausfuehren

    async def wochenbericht() -> None:
        async with sitzungen() as sitzung:
            antwort = await _ohne_diagramm(sitzung, bis=jetzt)
        assert antwort.nachricht is not None
        assert antwort.thread

    async def wochenbericht_ganz() -> None:
        async with sitzungen() as sitzung:
            antwort = await wochenbericht_antwort(sitzung, bis=jetzt, zeitzone=BERLIN)
        assert antwort.thread[-1].bild is not None

    async with sitzungen() as sitzung:
        verlauf = await ampel_verlauf(sitzung, bis=jetzt, zeitzone=BERLIN)

    async def diagramm() -> None:
        ampel_diagramm(verlauf)

    ablaeufe: dict[str, Callable[[], Awaitable[None]]] = {
        name: befehl(befehlstext) for name, befehlstext in BEFEHLE
    }
    ablaeufe[WOCHENBERICHT] = wochenbericht
    ablaeufe[DIAGRAMM] = diagramm
    ablaeufe[WOCHENBERICHT_GANZ] = wochenbericht_ganz
    zeiten: dict[str, list[float]] = {name: [] for name in ablaeufe}
    anweisungen: dict[str, int] = {}
    # Das Verzeichnis hält der Bot im Speicher; geladen wird es nur beim ersten Ereignis nach
    # einer Strukturänderung (4 Anweisungen mehr). Gezählt und gemessen wird der Normalfall.
    await befehl("!themen")()
    # Eine Runde zum Aufwärmen (Caches, Verbindungspool, Matplotlib), dann verzahnt messen.
    for runde in range(wiederholungen + 1):
        for name, ablauf in ablaeufe.items():
            if name in (DIAGRAMM, WOCHENBERICHT_GANZ) and runde > min(wiederholungen, WENIGE):
                continue
            vorher = zaehler.anzahl
            beginn = time.perf_counter()
            await ablauf()
            dauer = (time.perf_counter() - beginn) * 1000
            if runde > 0:
                zeiten[name].append(dauer)
            anweisungen[name] = zaehler.anzahl - vorher
    return zeiten, anweisungen


async def _eine_groesse(
    url: str, groesse: Groesse, wiederholungen: int, fortschritt: Callable[[str], None]
) -> tuple[dict[str, int], dict[str, list[float]], dict[str, int]]:
    engine = erzeuge_engine(url)
    try:
        beginn = time.perf_counter()
        umfang = await _befuelle(engine, groesse)
        fortschritt(
            f"{engine.dialect.name}: {umfang['projekte']} Projekte, "
            f"{umfang['statusmeldungen']} Statusmeldungen geladen "
            f"({time.perf_counter() - beginn:.1f} s)"
        )
        zeiten, anweisungen = await _miss(engine, groesse, wiederholungen)
    finally:
        await engine.dispose()
    return umfang, zeiten, anweisungen


def _zusammen(
    klein: tuple[dict[str, int], dict[str, list[float]], dict[str, int]],
    gross: tuple[dict[str, int], dict[str, list[float]], dict[str, int]],
) -> dict[str, Any]:
    return {
        "umfang": gross[0],
        "zeiten": {name: _kennzahlen(werte) for name, werte in gross[1].items()},
        "anweisungen": gross[2],
        "umfang_klein": klein[0],
        "anweisungen_klein": klein[2],
    }


async def miss_datenmenge(
    verzeichnis: Path, wiederholungen: int, fortschritt: Callable[[str], None]
) -> dict[str, Any]:
    """Je Datenbank erst ein kleiner Bestand (nur für die Zahl der Anweisungen), dann der große."""
    ergebnis: dict[str, Any] = {}
    messungen = []
    for groesse in (KLEIN, GROSS):
        datei = verzeichnis / f"datenmenge-{groesse.name}.db"
        url = f"sqlite+aiosqlite:///{datei}"
        anzahl = wiederholungen if groesse is GROSS else 0
        messungen.append(await _eine_groesse(url, groesse, anzahl, fortschritt))
    ergebnis["sqlite"] = _zusammen(*messungen)
    basis = postgres_basis_url()
    try:
        messungen = []
        for groesse in (KLEIN, GROSS):
            anzahl = wiederholungen if groesse is GROSS else 0
            async with postgres_datenbank(basis) as url:
                messungen.append(await _eine_groesse(url, groesse, anzahl, fortschritt))
        ergebnis["postgresql"] = _zusammen(*messungen)
    except (OSError, asyncpg.PostgresError) as fehler:
        ergebnis["postgresql"] = {"nicht_verfuegbar": f"{type(fehler).__name__}: {fehler}"}
    return ergebnis


if __name__ == "__main__":  # zum Profilieren einzeln: python -m bench.datenmenge
    import json
    import sys
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        print(
            json.dumps(
                asyncio.run(
                    miss_datenmenge(Path(tmp), int(sys.argv[1]) if len(sys.argv) > 1 else 10, print)
                ),
                indent=2,
                ensure_ascii=False,
            )
        )
