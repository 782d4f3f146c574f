"""Das Verzeichnis bleibt zwischen Befehlen im Speicher – und jede Strukturänderung wirkt sofort.

Wichtig ist die Änderung aus einem anderen Prozess: `klimabot struktur import` läuft neben
dem Bot mit eigener Verbindung. Hier steht dafür eine zweite Engine auf derselben Datenbank.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from modelle import verzeichnis
from modelle.datenbank import Sitzungsfabrik, erzeuge_engine, erzeuge_sitzungsfabrik
from modelle.strukturdatei import parse_struktur
from modelle.strukturimport import importiere_struktur
from modelle.tabellen import Statusmeldung, Strategieprojekt, Strukturstand
from modelle.werte import Ampel, Quelle
from tests.strukturen import BEISPIEL
from tests.testbot import PATIN_ENERGIE, RAUM_ENERGIE, Testbot

NEUE_PATIN = "@neu.patin:muenster.de"


@pytest.fixture
async def konsole(datenbank_url: str) -> AsyncIterator[Sitzungsfabrik]:
    """Wie `klimabot struktur import`: eigene Engine, eigene Verbindungen."""
    engine = erzeuge_engine(datenbank_url)
    yield erzeuge_sitzungsfabrik(engine)
    await engine.dispose()


async def _importiere(sitzungen: Sitzungsfabrik, *ersetzungen: tuple[str, str]) -> None:
    inhalt = BEISPIEL.read_text(encoding="utf-8")
    for alt, neu in ersetzungen:
        assert alt in inhalt
        inhalt = inhalt.replace(alt, neu, 1)
    async with sitzungen.begin() as sitzung:
        await importiere_struktur(sitzung, parse_struktur(inhalt, "muenster.toml"), "Konsole")


async def test_umbenennung_aus_der_konsole_gilt_beim_naechsten_befehl(
    testbot: Testbot, konsole: Sitzungsfabrik
) -> None:
    assert "Energie" in (await testbot.sende("!themen", als=PATIN_ENERGIE)).text
    await _importiere(konsole, ('name = "Energie"', 'name = "Energie und Wärme"'))
    assert "Energie und Wärme" in (await testbot.sende("!themen", als=PATIN_ENERGIE)).text


async def test_neue_patin_aus_der_konsole_darf_sofort_melden(
    testbot: Testbot, konsole: Sitzungsfabrik
) -> None:
    meldung = "!meldung waermeplanung gelb 40% Ausschreibung läuft"
    abgelehnt = await testbot.sende(meldung, als=NEUE_PATIN)
    assert abgelehnt.reaktionen != ["✅"]
    await _importiere(
        konsole, ('matrix_id = "@anna.becker:muenster.de"', f'matrix_id = "{NEUE_PATIN}"')
    )
    assert (await testbot.sende(meldung, als=NEUE_PATIN)).reaktionen == ["✅"]
    assert (await testbot.sende(meldung, als=PATIN_ENERGIE)).reaktionen != ["✅"]


async def test_struktur_wird_nur_nach_einer_aenderung_neu_geladen(
    testbot: Testbot, konsole: Sitzungsfabrik, monkeypatch: pytest.MonkeyPatch
) -> None:
    geladen = 0
    original = verzeichnis.lade_verzeichnis

    async def zaehlend(sitzung: object) -> verzeichnis.Verzeichnis:
        nonlocal geladen
        geladen += 1
        return await original(sitzung)  # type: ignore[arg-type]

    monkeypatch.setattr(verzeichnis, "lade_verzeichnis", zaehlend)
    for _ in range(3):
        await testbot.sende("!status energie", als=PATIN_ENERGIE)
    assert geladen == 1
    await _importiere(konsole, ('name = "Energie"', 'name = "Energie und Wärme"'))
    await testbot.sende("!status energie", als=PATIN_ENERGIE)
    await testbot.sende("!status energie", als=PATIN_ENERGIE)
    assert geladen == 2


@pytest.mark.parametrize(
    "anweisung",
    [
        "UPDATE themenfeld SET name = 'Klima' WHERE slug = 'energie'",
        "UPDATE strategieprojekt SET titel = 'Wärme' WHERE slug = 'waermeplanung'",
        "UPDATE person SET anzeigename = 'A. Becker' WHERE matrix_id = '@anna.becker:muenster.de'",
        "DELETE FROM rollenzuweisung WHERE rolle = 'koordination'",
        "UPDATE raum SET raum_id = '!neu:muenster.de' WHERE adresse = '#klima-energie:muenster.de'",
        "INSERT INTO person (matrix_id, anzeigename) VALUES ('@x:muenster.de', 'X')",
    ],
    ids=["feld", "projekt", "person", "rolle", "raum", "neue-person"],
)
async def test_jede_aenderung_der_struktur_zaehlt_auch_per_sql(
    testbot: Testbot, engine: AsyncEngine, anweisung: str
) -> None:
    async with engine.begin() as verbindung:
        vorher = await verbindung.scalar(select(Strukturstand.version))
        await verbindung.execute(text(anweisung))
        nachher = await verbindung.scalar(select(Strukturstand.version))
    assert vorher is not None
    assert nachher is not None
    assert nachher > vorher


async def test_befehle_und_meldungen_aendern_den_strukturstand_nicht(
    testbot: Testbot, engine: AsyncEngine
) -> None:
    async with engine.connect() as verbindung:
        vorher = await verbindung.scalar(select(Strukturstand.version))
    await testbot.sende("!status energie", als=PATIN_ENERGIE)
    await testbot.sende("!meldung waermeplanung gelb 40% läuft", als=PATIN_ENERGIE)
    async with engine.connect() as verbindung:
        assert await verbindung.scalar(select(Strukturstand.version)) == vorher


async def _rote_meldung_von_hand(
    konsole: Sitzungsfabrik, slug: str, zeitpunkt: dt.datetime, *, herausforderung: str = ""
) -> None:
    """Eine Meldung, die nicht der Bot schreibt: über die zweite Engine, ohne Bot-Code."""
    async with konsole.begin() as sitzung:
        projekt_id = await sitzung.scalar(
            select(Strategieprojekt.id).where(Strategieprojekt.slug == slug)
        )
        sitzung.add(
            Statusmeldung(
                projekt_id=projekt_id,
                zeitpunkt=zeitpunkt,
                ampel=Ampel.ROT,
                text=herausforderung,
                herausforderungen=herausforderung or None,
                quelle=Quelle.IMPORT,
            )
        )


async def test_meldung_aus_einem_anderen_prozess_steht_sofort_im_feldstatus(
    testbot: Testbot, konsole: Sitzungsfabrik
) -> None:
    """`!status energie` antwortet aus dem Lagebild im Speicher – eine Meldung, die jemand
    anderes schreibt (hier per SQL über eine zweite Engine), gilt trotzdem sofort: der
    Meldungsstand in `strukturstand` zählt sie mit."""
    vorher = (await testbot.sende("!status energie", als=PATIN_ENERGIE, raum=RAUM_ENERGIE)).text
    assert "Von Hand eingetragen" not in vorher
    await _rote_meldung_von_hand(
        konsole, "waermeplanung", testbot.jetzt, herausforderung="Von Hand eingetragen"
    )
    nachher = (await testbot.sende("!status energie", als=PATIN_ENERGIE, raum=RAUM_ENERGIE)).text
    assert "Von Hand eingetragen" in nachher


@pytest.mark.parametrize(
    "anweisung",
    [
        "UPDATE statusmeldung SET zurueckgezogen = true",
        "DELETE FROM statusmeldung",
    ],
)
async def test_jede_aenderung_an_meldungen_zaehlt_im_meldungsstand(
    testbot: Testbot, engine: AsyncEngine, anweisung: str
) -> None:
    async with engine.begin() as verbindung:
        vorher = await verbindung.scalar(select(Strukturstand.meldungen))
        await verbindung.execute(text(anweisung))
        nachher = await verbindung.scalar(select(Strukturstand.meldungen))
    assert vorher is not None
    assert nachher is not None
    assert nachher > vorher


async def test_zurueckgezogene_meldung_verschwindet_aus_dem_feldstatus(testbot: Testbot) -> None:
    rot = "🔴 rot *Kommunale Wärmeplanung*"

    async def feldstatus() -> str:
        return (await testbot.sende("!status energie", als=PATIN_ENERGIE, raum=RAUM_ENERGIE)).text

    assert rot not in await feldstatus()
    meldung = await testbot.sende(
        "!meldung waermeplanung rot 10% Zurückzuziehen", als=PATIN_ENERGIE, raum=RAUM_ENERGIE
    )
    assert rot in await feldstatus()
    await testbot.loesche(meldung.event_id, als=PATIN_ENERGIE, raum=RAUM_ENERGIE)
    assert rot not in await feldstatus()


async def test_meldung_aus_einem_anderen_prozess_steht_sofort_in_der_uebersicht(
    testbot: Testbot, konsole: Sitzungsfabrik
) -> None:
    """Auch `!status` ohne Angabe (alle Felder) kommt aus dem Lagebild – und sieht fremde
    Meldungen sofort."""

    async def rote_in_energie() -> int:
        text = (await testbot.sende("!status", als=PATIN_ENERGIE)).text
        treffer = re.search(r"\*Energie\*: .*?🔴 (\d+)", text)
        assert treffer is not None, text
        return int(treffer.group(1))

    vorher = await rote_in_energie()
    await _rote_meldung_von_hand(konsole, "pv-offensive", testbot.jetzt)
    assert await rote_in_energie() == vorher + 1
