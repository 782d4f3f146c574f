from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.app import setze_stabsstelle_raum
from modelle.datenbank import Sitzungsfabrik, erzeuge_engine, erzeuge_sitzungsfabrik
from modelle.strukturdatei import lies_struktur
from modelle.strukturimport import importiere_struktur
from modelle.tabellen import Aenderung, Raum, Statusmeldung
from tests import datenbanken
from tests.anweisungen import Anweisungen
from tests.aufbau import Aufbau
from tests.strukturen import BEISPIEL
from tests.testbot import BERLIN, RAUM_STABSSTELLE, Testbot

# Die Beispielstruktur trägt sonst die echte Importzeit: Abfragen vor ihr gälten als „vor der
# Aktivierung“ und fielen weg. Auf einen festen Tag vor den Uhren der Planertests gelegt, hängt
# nichts am Kalender.
IMPORTZEIT = dt.datetime(2026, 11, 25, 10, 0, tzinfo=BERLIN)


@pytest.fixture(scope="session")
def _sqlite_vorlage(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return datenbanken.sqlite_vorlage(tmp_path_factory.mktemp("sqlite"))


@pytest.fixture(scope="session")
def _postgres_lauf() -> Iterator[str | None]:
    basis = datenbanken.postgres_basis_url()
    if basis is None:
        yield None
        return
    yield from datenbanken.postgres_laufdatenbank(basis)


@pytest.fixture(params=["sqlite", "postgresql"])
def datenbank_url(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    _sqlite_vorlage: Path,
) -> str:
    """URL einer migrierten, leeren Datenbank; jeder Test bekommt sie frisch."""
    if request.param == "sqlite":
        return datenbanken.sqlite_kopie(_sqlite_vorlage, tmp_path / "klimabot.db")
    lauf: str | None = request.getfixturevalue("_postgres_lauf")
    if lauf is None:
        datenbanken.ohne_postgres_ueberspringen()
    datenbanken.postgres_leeren(lauf)
    return lauf


@pytest.fixture
async def engine(datenbank_url: str) -> AsyncIterator[AsyncEngine]:
    engine = erzeuge_engine(datenbank_url)
    yield engine
    await engine.dispose()


@pytest.fixture
def sitzungen(engine: AsyncEngine) -> Sitzungsfabrik:
    return erzeuge_sitzungsfabrik(engine)


@pytest.fixture
def anweisungen(engine: AsyncEngine) -> Iterator[Anweisungen]:
    """Die SQL-Anweisungen, die der Test über `engine` schickt (siehe tests/anweisungen.py)."""
    mitschrift = Anweisungen()
    mitschrift.beobachte(engine)
    yield mitschrift
    mitschrift.beende(engine)


@pytest.fixture
def aufbau(sitzungen: Sitzungsfabrik) -> Aufbau:
    """Kleine Bestände Zeile für Zeile (siehe tests/aufbau.py)."""
    return Aufbau(sitzungen)


@pytest.fixture
async def testbot(sitzungen: Sitzungsfabrik) -> Testbot:
    """Ein Bot mit der Beispielstruktur Münster, ohne Homeserver (siehe tests/testbot.py).

    Der Bot handelt nur in Räumen der Struktur: `RAUM_STABSSTELLE` ist der Raum der Stabsstelle.
    """
    async with sitzungen.begin() as sitzung:
        await importiere_struktur(sitzung, lies_struktur(BEISPIEL), "Test")
    await setze_stabsstelle_raum(RAUM_STABSSTELLE, sitzungen)
    async with sitzungen.begin() as sitzung:
        await sitzung.execute(
            update(Raum).where(Raum.ist_stabsstelle).values(raum_id=RAUM_STABSSTELLE)
        )
    return Testbot(sitzungen)


@pytest.fixture
async def planbar(sitzungen: Sitzungsfabrik, testbot: Testbot) -> Testbot:
    """Der `testbot`, bereit für den Planer: die Räume der Beispielstruktur gelten als aufgelöst
    (sonst tut das der Bot beim Start), Struktur und Anfangsstände als zur `IMPORTZEIT` geladen."""
    await setze_stabsstelle_raum(RAUM_STABSSTELLE, sitzungen)
    async with sitzungen.begin() as sitzung:
        await sitzung.execute(update(Raum).values(raum_id=Raum.adresse))
        await sitzung.execute(update(Aenderung).values(zeitpunkt=IMPORTZEIT))
        await sitzung.execute(update(Statusmeldung).values(zeitpunkt=IMPORTZEIT))
    return testbot
