"""Die eine Regel „überfällig“ (`modelle.stand.ist_ueberfaellig`) und die Listen, die sie
anwenden: die überfälligen Projekte der Erinnerungen und die des Wochenberichts."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from modelle.berichtsdaten import stelle_wochenbericht_zusammen
from modelle.datenbank import Sitzungsfabrik
from modelle.stand import ist_ueberfaellig, still_seit
from modelle.tabellen import Aenderung
from modelle.versand import ueberfaellige_projekte
from modelle.werte import Ampel
from tests import daten
from tests.anweisungen import Anweisungen
from tests.aufbau import FERTIG, GELB, GRUEN, ROT, Aufbau, tag
from tests.testbot import Testbot

# --- Die Regel ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ampel", "still", "ueberfaellig"),
    [
        pytest.param(None, None, True, id="nie gemeldet"),
        pytest.param(GRUEN, tag(-13), False, id="in der Frist"),
        pytest.param(GRUEN, tag(-14), False, id="genau an der Grenze"),
        pytest.param(ROT, tag(-14) - dt.timedelta(seconds=1), True, id="knapp darüber"),
        pytest.param(GELB, tag(-400), True, id="lange still"),
        pytest.param(FERTIG, tag(-400), False, id="abgeschlossen"),
    ],
)
def test_regel_mit_frist_von_vierzehn_tagen(
    ampel: Ampel | None, still: dt.datetime | None, ueberfaellig: bool
) -> None:
    assert ist_ueberfaellig(ampel, still, frist_tage=14, stichtag=tag(0)) is ueberfaellig


def test_still_seit_der_spaeteren_von_meldung_und_aufnahme() -> None:
    assert still_seit(None, None) is None
    assert still_seit(tag(-3), None) == tag(-3)
    assert still_seit(None, tag(-5)) == tag(-5)
    assert still_seit(tag(-3), tag(-5)) == tag(-3)
    assert still_seit(tag(-30), tag(-5)) == tag(-5)


# --- Die Liste der Erinnerungen -----------------------------------------------------------


async def test_ueberfaellig_sind_stille_und_nie_gemeldete_aber_keine_abgeschlossenen(
    aufbau: Aufbau, sitzungen: Sitzungsfabrik, anweisungen: Anweisungen
) -> None:
    energie = await aufbau.feld("energie", reihenfolge=1)
    gebaeude = await aufbau.feld("gebaeude", reihenfolge=2)
    aktuell = await aufbau.projekt("aktuell", energie)
    genau_an_der_grenze = await aufbau.projekt("grenze", energie)
    still = await aufbau.projekt("still", energie)
    await aufbau.projekt("nie", energie)
    fertig = await aufbau.projekt("fertig", energie)
    wieder_offen = await aufbau.projekt("wieder-offen", energie)
    sanierung = await aufbau.projekt("sanierung", gebaeude)
    await aufbau.meldung(aktuell, GRUEN, tag(1))
    await aufbau.meldung(genau_an_der_grenze, GRUEN, tag(0))
    await aufbau.meldung(still, GELB, tag(-20))
    await aufbau.meldung(still, GRUEN, tag(-30))
    await aufbau.meldung(fertig, FERTIG, tag(-40))
    await aufbau.meldung(wieder_offen, FERTIG, tag(-40))
    await aufbau.meldung(wieder_offen, ROT, tag(-10))
    await aufbau.meldung(sanierung, ROT, tag(-1))

    async with sitzungen() as sitzung:
        # Beide Felder erlauben 14 Tage: überfällig ist, wer seit vor `tag(0)` still ist.
        alle = await anweisungen.genau_eine(ueberfaellige_projekte(sitzung, jetzt=tag(14)))

    assert [
        (p.themenfeld_slug, p.projekt_slug, p.letzte_meldung, p.letzte_ampel, p.frist_tage)
        for p in alle
    ] == [
        ("energie", "still", tag(-20), GELB, 14),
        ("energie", "nie", None, None, 14),
        ("energie", "wieder-offen", tag(-10), ROT, 14),
        ("gebaeude", "sanierung", tag(-1), ROT, 14),
    ]


async def test_jedes_feld_hat_seine_frist(
    aufbau: Aufbau, sitzungen: Sitzungsfabrik, anweisungen: Anweisungen
) -> None:
    kurz = await aufbau.feld("kurz", reihenfolge=1, frist=7)
    lang = await aufbau.feld("lang", reihenfolge=2, frist=21)
    for feld, slug in ((kurz, "k"), (lang, "l")):
        for tage in (6, 8, 20, 22):
            projekt = await aufbau.projekt(f"{slug}{tage}", feld)
            await aufbau.meldung(projekt, GRUEN, tag(-tage))

    async with sitzungen() as sitzung:
        alle = await anweisungen.genau_eine(ueberfaellige_projekte(sitzung, jetzt=tag(0)))

    assert [(p.projekt_slug, p.frist_tage) for p in alle] == [
        ("k8", 7),
        ("k20", 7),
        ("k22", 7),
        ("l22", 21),
    ]


async def test_zurueckgezogene_meldung_zaehlt_nicht(
    aufbau: Aufbau, sitzungen: Sitzungsfabrik, anweisungen: Anweisungen
) -> None:
    await aufbau.mit_zurueckgezogener_meldung(tag(0))

    async with sitzungen() as sitzung:
        still = await anweisungen.genau_eine(ueberfaellige_projekte(sitzung, jetzt=tag(17)))

    assert [(p.projekt_slug, p.letzte_meldung, p.letzte_ampel) for p in still] == [
        ("waermeplanung", tag(0), GRUEN)
    ]


async def test_archivierte_projekte_und_felder_sind_nie_ueberfaellig(
    aufbau: Aufbau, sitzungen: Sitzungsfabrik, anweisungen: Anweisungen
) -> None:
    await aufbau.archivbestand(tag(0))

    async with sitzungen() as sitzung:
        still = await anweisungen.genau_eine(ueberfaellige_projekte(sitzung, jetzt=tag(15)))

    assert [p.projekt_slug for p in still] == ["aktiv"]


# --- Erinnerungen und Wochenbericht zählen ab der Aufnahme ----------------------------------


async def test_wieder_aufgenommenes_projekt_hat_in_beiden_seine_frist(
    sitzungen: Sitzungsfabrik, testbot: Testbot
) -> None:
    beginn = dt.datetime.now(dt.UTC)
    async with sitzungen.begin() as sitzung:
        sitzung.add(
            Aenderung(
                zeitpunkt=beginn + dt.timedelta(days=20),
                wer="Test",
                objekt_art="projekt",
                objekt="waermeplanung",
                feld="archiviert",
                alt="ja",
                neu="nein",
            )
        )
    jetzt = beginn + dt.timedelta(days=25)
    async with sitzungen() as sitzung:
        erinnern = {u.projekt_slug for u in await ueberfaellige_projekte(sitzung, jetzt=jetzt)}
        bericht = await stelle_wochenbericht_zusammen(
            sitzung, von=jetzt - dt.timedelta(days=7), bis=jetzt
        )
    im_bericht = {p.projekt_slug for f in bericht.felder for p in f.ueberfaellig}
    assert "waermeplanung" not in erinnern
    assert "waermeplanung" not in im_bericht
    assert "pv-offensive" in erinnern & im_bericht


# --- realistische Menge -------------------------------------------------------------------


@pytest.mark.langsam
async def test_ueberfaellige_stimmen_bei_drei_jahren_wochenmeldungen(
    engine: AsyncEngine, sitzungen: Sitzungsfabrik, anweisungen: Anweisungen
) -> None:
    bestand, erwartung = await daten.lege_bestand_an(engine)
    ende = daten.ENDE
    assert len({f.ueberfaellig_nach_tagen for f in bestand.felder}) > 1

    async with sitzungen() as sitzung:
        for tage in (-13, 1, 14, 60, 2000):
            jetzt = ende - dt.timedelta(days=tage)
            assert await anweisungen.genau_eine(
                ueberfaellige_projekte(sitzung, jetzt=jetzt)
            ) == erwartung.ueberfaellige(jetzt), tage
