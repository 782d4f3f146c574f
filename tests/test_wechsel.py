"""Was sich in einem Zeitraum änderte (`modelle.wechsel`): Ampelwechsel; jede Abfrage ist eine
Anweisung. Ein kleiner, von Hand gebauter Fall, dann ein Bestand in realistischer Menge gegen
eine schlichte Nachrechnung in Python.
"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from demo.bestand import BEGINN
from modelle.datenbank import Sitzungsfabrik
from modelle.wechsel import Ampelwechsel, ampel_wechsel
from modelle.werte import Ampel
from tests import daten
from tests.anweisungen import Anweisungen
from tests.aufbau import FERTIG, GELB, GRUEN, ROT, Aufbau, tag

# --- ampel_wechsel ----------------------------------------------------------------------


async def test_ampel_wechsel_nennt_nur_geaenderte_projekte_und_die_ausloesende_meldung(
    aufbau: Aufbau, sitzungen: Sitzungsfabrik, anweisungen: Anweisungen
) -> None:
    energie = await aufbau.feld("energie")
    anna = await aufbau.person("Anna")
    neu = await aufbau.projekt("neu", energie, reihenfolge=1)
    kippt = await aufbau.projekt("kippt", energie, reihenfolge=2)
    gleich = await aufbau.projekt("gleich", energie, reihenfolge=3)
    hin_und_her = await aufbau.projekt("hin-und-her", energie, reihenfolge=4)
    spaeter = await aufbau.projekt("spaeter", energie, reihenfolge=5)
    abgeschlossen = await aufbau.projekt("abgeschlossen", energie, reihenfolge=6, archiviert=True)
    an_den_grenzen = await aufbau.projekt("grenzen", energie, reihenfolge=7)
    von, bis = tag(0), tag(7)

    ausloeser = {
        "neu": await aufbau.meldung(neu, GELB, tag(3), text="erste Meldung", autor_id=anna)
    }
    await aufbau.meldung(kippt, GRUEN, tag(-3))
    await aufbau.meldung(kippt, ROT, tag(1), text="kurz rot")
    ausloeser["kippt"] = await aufbau.meldung(
        kippt, GELB, tag(2), text="Ausschreibung verzögert", autor_id=anna
    )
    await aufbau.meldung(kippt, GELB, tag(5), text="weiter gelb")
    await aufbau.meldung(gleich, GRUEN, tag(-3))
    await aufbau.meldung(gleich, GRUEN, tag(4))
    await aufbau.meldung(hin_und_her, GRUEN, tag(-3))
    await aufbau.meldung(hin_und_her, GELB, tag(2))
    await aufbau.meldung(hin_und_her, GRUEN, tag(4))
    await aufbau.meldung(spaeter, GRUEN, tag(-3))
    await aufbau.meldung(spaeter, ROT, tag(8), text="nach dem Bericht")
    await aufbau.meldung(abgeschlossen, GRUEN, tag(-3))
    ausloeser["abgeschlossen"] = await aufbau.meldung(abgeschlossen, FERTIG, tag(6), text="fertig")
    # Genau zu `von` gehört zum alten Stand, genau zu `bis` zum neuen.
    await aufbau.meldung(an_den_grenzen, ROT, von)
    ausloeser["grenzen"] = await aufbau.meldung(an_den_grenzen, GRUEN, bis, text="an der Grenze")

    async with sitzungen() as sitzung:
        wechsel = await anweisungen.genau_eine(ampel_wechsel(sitzung, von, bis))
        nichts = await anweisungen.genau_eine(ampel_wechsel(sitzung, bis, bis))
        with pytest.raises(ValueError, match="nach bis"):
            await ampel_wechsel(sitzung, bis, von)

    def eintrag(
        projekt_id: int,
        slug: str,
        alt: Ampel | None,
        ampel: Ampel,
        zeit: float,
        text: str,
        autor: str | None = None,
        archiviert: bool = False,
    ) -> Ampelwechsel:
        return Ampelwechsel(
            projekt_id=projekt_id,
            projekt_slug=slug,
            projekt_titel=slug.capitalize(),
            themenfeld_id=energie,
            themenfeld_slug="energie",
            archiviert=archiviert,
            alt=alt,
            neu=ampel,
            meldung_id=ausloeser[slug],
            zeitpunkt=tag(zeit),
            autor=autor,
            text=text,
        )

    assert wechsel == [
        eintrag(neu, "neu", None, GELB, 3, "erste Meldung", "Anna"),
        # Die erste gelbe Meldung erklärt den Wechsel, nicht die letzte.
        eintrag(kippt, "kippt", GRUEN, GELB, 2, "Ausschreibung verzögert", "Anna"),
        eintrag(abgeschlossen, "abgeschlossen", GRUEN, FERTIG, 6, "fertig", archiviert=True),
        eintrag(an_den_grenzen, "grenzen", ROT, GRUEN, 7, "an der Grenze"),
    ]
    assert nichts == []


# --- realistische Menge -----------------------------------------------------------------


@pytest.mark.langsam
async def test_ampel_wechsel_stimmen_bei_drei_jahren_wochenmeldungen(
    engine: AsyncEngine, sitzungen: Sitzungsfabrik, anweisungen: Anweisungen
) -> None:
    _bestand, erwartung = await daten.lege_bestand_an(engine)
    ende = daten.ENDE
    zeitraeume = [
        (ende - dt.timedelta(days=7), ende),
        (ende - dt.timedelta(days=365), ende - dt.timedelta(days=180)),
        (BEGINN - dt.timedelta(days=1), BEGINN + dt.timedelta(days=60)),
        (BEGINN + dt.timedelta(days=400), BEGINN + dt.timedelta(days=407)),
    ]
    async with sitzungen() as sitzung:
        for von, bis in zeitraeume:
            assert await anweisungen.genau_eine(
                ampel_wechsel(sitzung, von, bis)
            ) == erwartung.ampel_wechsel(von, bis)
