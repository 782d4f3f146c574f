"""Der Stand der Projekte (`modelle.stand`): was jede Abfrage zeigt; jede ist eine Anweisung.

Zuerst kleine, von Hand gebaute Fälle, die je eine Regel belegen; am Ende ein Bestand
in realistischer Menge (drei Jahre Wochenmeldungen), gegen eine schlichte Nachrechnung
in Python verglichen.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from demo.bestand import BEGINN
from modelle.datenbank import Sitzungsfabrik
from modelle.stand import (
    Felduebersicht,
    ampeln_zu_stichtagen,
    feld_uebersicht,
    letzte_meldungen,
    projektstand,
    verlauf,
)
from modelle.wechsel import ampel_wechsel
from modelle.werte import Ampel, Quelle
from tests import daten
from tests.anweisungen import Anweisungen
from tests.aufbau import FERTIG, GELB, GRUEN, ROT, Aufbau, tag

# --- letzte_meldungen und projektstand -------------------------------------------------


async def test_status_zeigt_je_projekt_die_neueste_meldung_mit_autor(
    aufbau: Aufbau, sitzungen: Sitzungsfabrik, anweisungen: Anweisungen
) -> None:
    energie = await aufbau.feld("energie")
    anna = await aufbau.person("Anna")
    # Reihenfolge vor Id: "netze" kommt trotz späterer Anlage zuerst.
    waerme = await aufbau.projekt("waermeplanung", energie, reihenfolge=2)
    netze = await aufbau.projekt("netze", energie, reihenfolge=1)
    still = await aufbau.projekt("still", energie, reihenfolge=2)
    await aufbau.meldung(waerme, GRUEN, tag(0), text="läuft", autor_id=anna)
    await aufbau.meldung(
        waerme,
        GELB,
        tag(7),
        text="Ausschreibung verzögert sich",
        autor_id=anna,
        fortschritt=40,
        herausforderungen="Vergabe",
    )
    await aufbau.meldung(netze, ROT, tag(3), text="Import", quelle=Quelle.IMPORT)

    async with sitzungen() as sitzung:
        staende = await anweisungen.genau_eine(letzte_meldungen(sitzung, energie))

    assert [s.projekt_slug for s in staende] == ["netze", "waermeplanung", "still"]
    netz, waermeplanung, ohne = staende
    assert (netz.ampel, netz.autor, netz.zeitpunkt) == (ROT, None, tag(3))
    assert waermeplanung.ampel is GELB
    assert waermeplanung.fortschritt == 40
    assert waermeplanung.text == "Ausschreibung verzögert sich"
    assert waermeplanung.herausforderungen == "Vergabe"
    assert waermeplanung.autor == "Anna"
    assert waermeplanung.zeitpunkt == tag(7)
    assert (waermeplanung.themenfeld_slug, waermeplanung.themenfeld_name) == ("energie", "Energie")
    assert ohne.projekt_id == still
    assert (ohne.meldung_id, ohne.ampel, ohne.zeitpunkt, ohne.autor, ohne.text) == (
        None,
        None,
        None,
        None,
        None,
    )


async def test_zurueckgezogene_meldung_gilt_nirgends(
    aufbau: Aufbau, sitzungen: Sitzungsfabrik, anweisungen: Anweisungen
) -> None:
    energie, waerme = await aufbau.mit_zurueckgezogener_meldung(tag(0))

    async with sitzungen() as sitzung:
        (stand,) = await anweisungen.genau_eine(letzte_meldungen(sitzung, energie))
        einzeln = await anweisungen.genau_eine(projektstand(sitzung, waerme))
        (uebersicht,) = await anweisungen.genau_eine(feld_uebersicht(sitzung))
        eintraege = await anweisungen.genau_eine(verlauf(sitzung, waerme))
        wechsel = await anweisungen.genau_eine(ampel_wechsel(sitzung, tag(1), tag(6)))

    assert (stand.ampel, stand.text) == (GRUEN, "gilt")
    assert einzeln == stand
    assert uebersicht.ampeln[GRUEN] == 1
    assert uebersicht.ampeln[ROT] == 0
    assert uebersicht.aelteste_meldung == tag(0)
    assert [e.text for e in eintraege] == ["gilt"]
    assert wechsel == []


async def test_bei_gleichem_zeitpunkt_gewinnt_die_spaetere_id(
    aufbau: Aufbau, sitzungen: Sitzungsfabrik, anweisungen: Anweisungen
) -> None:
    energie = await aufbau.feld("energie")
    waerme = await aufbau.projekt("waermeplanung", energie)
    # Die höhere Id wird zuerst geschrieben: es zählt die Id, nicht die Einfügereihenfolge.
    await aufbau.meldung(waerme, GELB, tag(2), text="Befehl", kennung=20)
    await aufbau.meldung(waerme, ROT, tag(2), text="Reaktion", kennung=10)
    await aufbau.meldung(waerme, GRUEN, tag(0), kennung=30)

    async with sitzungen() as sitzung:
        (stand,) = await anweisungen.genau_eine(letzte_meldungen(sitzung, energie))
        eintraege = await anweisungen.genau_eine(verlauf(sitzung, waerme))
        (wechsel,) = await anweisungen.genau_eine(ampel_wechsel(sitzung, tag(1), tag(3)))

    assert (stand.meldung_id, stand.ampel) == (20, GELB)
    assert [e.meldung_id for e in eintraege] == [20, 10, 30]
    assert (wechsel.alt, wechsel.neu, wechsel.meldung_id) == (GRUEN, GELB, 20)


async def test_archivierte_projekte_und_felder_fehlen_in_den_listen(
    aufbau: Aufbau, sitzungen: Sitzungsfabrik, anweisungen: Anweisungen
) -> None:
    bestand = await aufbau.archivbestand(tag(0))

    async with sitzungen() as sitzung:
        staende = await anweisungen.genau_eine(letzte_meldungen(sitzung, bestand.energie))
        im_archiv = await anweisungen.genau_eine(letzte_meldungen(sitzung, bestand.alt))
        uebersicht = await anweisungen.genau_eine(feld_uebersicht(sitzung))
        ruhend_stand = await anweisungen.genau_eine(projektstand(sitzung, bestand.ruhend))
        alt_stand = await anweisungen.genau_eine(projektstand(sitzung, bestand.im_alten_feld))
        aktiv_stand = await anweisungen.genau_eine(projektstand(sitzung, bestand.aktiv))

    assert [s.projekt_slug for s in staende] == ["aktiv"]
    assert im_archiv == []
    assert [(f.themenfeld_slug, f.ampeln[ROT]) for f in uebersicht] == [("energie", 1)]
    # Wer gezielt nach einem archivierten Projekt fragt, bekommt seinen letzten Stand.
    assert ruhend_stand is not None
    assert (ruhend_stand.archiviert, ruhend_stand.ampel) == (True, ROT)
    assert alt_stand is not None
    assert alt_stand.archiviert
    assert aktiv_stand is not None
    assert not aktiv_stand.archiviert


async def test_unbekanntes_projekt_hat_keinen_stand(
    sitzungen: Sitzungsfabrik, anweisungen: Anweisungen
) -> None:
    async with sitzungen() as sitzung:
        assert await anweisungen.genau_eine(projektstand(sitzung, 4711)) is None


# --- feld_uebersicht --------------------------------------------------------------------


async def test_uebersicht_zaehlt_ampeln_und_nennt_die_aelteste_laufende_meldung(
    aufbau: Aufbau, sitzungen: Sitzungsfabrik, anweisungen: Anweisungen
) -> None:
    mobilitaet = await aufbau.feld("mobilitaet", reihenfolge=2)
    energie = await aufbau.feld("energie", reihenfolge=1)
    leer = await aufbau.feld("leer", reihenfolge=3)
    ungemeldet = await aufbau.feld("ungemeldet", reihenfolge=4)
    a, b, c, d, _nie = [await aufbau.projekt(f"e{i}", energie) for i in range(5)]
    await aufbau.meldung(a, GRUEN, tag(10))
    await aufbau.meldung(b, GRUEN, tag(1))
    await aufbau.meldung(b, GRUEN, tag(8))
    await aufbau.meldung(c, ROT, tag(5))
    # Abgeschlossen seit Langem: macht das Feld nicht „still“.
    await aufbau.meldung(d, FERTIG, tag(-100))
    rad = await aufbau.projekt("rad", mobilitaet)
    await aufbau.meldung(rad, GELB, tag(2))
    await aufbau.projekt("nie1", ungemeldet)
    await aufbau.projekt("nie2", ungemeldet)

    async with sitzungen() as sitzung:
        uebersicht = await anweisungen.genau_eine(feld_uebersicht(sitzung))

    assert uebersicht == [
        Felduebersicht(
            themenfeld_id=energie,
            themenfeld_slug="energie",
            themenfeld_name="Energie",
            ampeln={GRUEN: 2, GELB: 0, ROT: 1, FERTIG: 1},
            ohne_meldung=1,
            aelteste_meldung=tag(5),
        ),
        Felduebersicht(
            themenfeld_id=mobilitaet,
            themenfeld_slug="mobilitaet",
            themenfeld_name="Mobilitaet",
            ampeln={GRUEN: 0, GELB: 1, ROT: 0, FERTIG: 0},
            ohne_meldung=0,
            aelteste_meldung=tag(2),
        ),
        Felduebersicht(
            themenfeld_id=leer,
            themenfeld_slug="leer",
            themenfeld_name="Leer",
            ampeln={GRUEN: 0, GELB: 0, ROT: 0, FERTIG: 0},
            ohne_meldung=0,
            aelteste_meldung=None,
        ),
        Felduebersicht(
            themenfeld_id=ungemeldet,
            themenfeld_slug="ungemeldet",
            themenfeld_name="Ungemeldet",
            ampeln={GRUEN: 0, GELB: 0, ROT: 0, FERTIG: 0},
            ohne_meldung=2,
            aelteste_meldung=None,
        ),
    ]
    assert [f.projekte for f in uebersicht] == [5, 1, 0, 2]


# --- verlauf ----------------------------------------------------------------------------


async def test_verlauf_zeigt_die_neuesten_meldungen_zuerst(
    aufbau: Aufbau, sitzungen: Sitzungsfabrik, anweisungen: Anweisungen
) -> None:
    energie = await aufbau.feld("energie")
    waerme = await aufbau.projekt("waermeplanung", energie)
    andere = await aufbau.projekt("andere", energie)
    anna = await aufbau.person("Anna")
    for woche in range(7):
        await aufbau.meldung(
            waerme, GRUEN, tag(7 * woche), text=f"Woche {woche}", autor_id=anna, fortschritt=woche
        )
    await aufbau.meldung(waerme, GELB, tag(50), text="per Reaktion", quelle=Quelle.REAKTION)
    await aufbau.meldung(andere, ROT, tag(60))

    async with sitzungen() as sitzung:
        fuenf = await anweisungen.genau_eine(verlauf(sitzung, waerme))
        zwei = await anweisungen.genau_eine(verlauf(sitzung, waerme, anzahl=2))
        alle = await anweisungen.genau_eine(verlauf(sitzung, waerme, anzahl=100))
        keine = await anweisungen.genau_eine(verlauf(sitzung, waerme, anzahl=0))
        with pytest.raises(ValueError, match="negativ"):
            await verlauf(sitzung, waerme, anzahl=-1)

    assert [e.text for e in fuenf] == ["per Reaktion", "Woche 6", "Woche 5", "Woche 4", "Woche 3"]
    neueste, vorige = zwei
    assert (neueste.ampel, neueste.quelle, neueste.autor) == (GELB, Quelle.REAKTION, None)
    assert (vorige.ampel, vorige.quelle, vorige.autor) == (GRUEN, Quelle.BEFEHL, "Anna")
    assert (vorige.fortschritt, vorige.zeitpunkt) == (6, tag(42))
    assert len(alle) == 8
    assert keine == []


# --- realistische Menge -----------------------------------------------------------------


@pytest.mark.langsam
async def test_alle_abfragen_stimmen_bei_drei_jahren_wochenmeldungen(
    engine: AsyncEngine, sitzungen: Sitzungsfabrik, anweisungen: Anweisungen
) -> None:
    bestand, erwartung = await daten.lege_bestand_an(engine)
    ende = daten.ENDE
    # Der Bestand enthält, was die Regeln prüft.
    gueltige = erwartung.gueltige
    assert len(bestand.meldungen) > 30_000
    assert any(m.zurueckgezogen for m in bestand.meldungen)
    assert any(not meldungen for meldungen in gueltige.values())
    assert any(m and m[0].ampel is Ampel.ABGESCHLOSSEN for m in gueltige.values())
    assert any(p.archiviert for p in bestand.projekte)
    assert any(len(m) > 1 and m[0].zeitpunkt == m[1].zeitpunkt for m in gueltige.values())

    async with sitzungen() as sitzung:
        for feld in bestand.felder:
            assert await anweisungen.genau_eine(
                letzte_meldungen(sitzung, feld.id)
            ) == erwartung.letzte_meldungen(feld.id)

        for projekt in bestand.projekte[::5]:
            assert await anweisungen.genau_eine(
                projektstand(sitzung, projekt.id)
            ) == erwartung.projektstand(projekt.id)

        assert await anweisungen.genau_eine(feld_uebersicht(sitzung)) == (
            erwartung.feld_uebersicht()
        )

        for anzahl, projekt in enumerate(bestand.projekte[::11]):
            assert await anweisungen.genau_eine(
                verlauf(sitzung, projekt.id, anzahl)
            ) == erwartung.verlauf(projekt.id, anzahl)

        # Ampeln je Stichtag: wöchentlich wie im Diagramm, durcheinander mit Doppeltem, vor
        # der ersten und nach der letzten Meldung, genau auf einer Meldung, die die Farbe
        # wechselt (der Stichtag zählt mit), genau auf zwei Meldungen derselben Sekunde mit
        # verschiedenen Farben (die spätere Id gilt, auch als letzter Stichtag), auf einer
        # zurückgezogenen, und einzeln.
        aktive = {
            feld.themenfeld_id: [
                p.projekt_id for p in erwartung.letzte_meldungen(feld.themenfeld_id)
            ]
            for feld in erwartung.feld_uebersicht()
        }
        meldungen_aktiver = [gueltige[p] for projekte in aktive.values() for p in projekte]
        wechselnd = next(
            m[-2].zeitpunkt
            for m in meldungen_aktiver
            if len(m) > 2 and m[-3].zeitpunkt > m[-2].zeitpunkt and m[-2].ampel != m[-1].ampel
        )
        gleichzeitig = next(
            m[0].zeitpunkt
            for m in (m[i:] for m in meldungen_aktiver for i in range(len(m) - 2))
            if m[0].zeitpunkt == m[1].zeitpunkt and m[2].ampel != m[0].ampel != m[1].ampel
        )
        zurueckgezogen = next(m.zeitpunkt for m in bestand.meldungen if m.zurueckgezogen)
        for stichtage in (
            [ende - dt.timedelta(weeks=k) for k in reversed(range(12))],
            [
                ende - dt.timedelta(days=3),
                BEGINN - dt.timedelta(days=1),
                wechselnd,
                gleichzeitig,
                ende + dt.timedelta(days=30),
                ende - dt.timedelta(days=3),
                zurueckgezogen,
                BEGINN + dt.timedelta(days=200),
            ],
            [gleichzeitig - dt.timedelta(days=10), gleichzeitig],
            [ende],
        ):
            erwartet: Counter[tuple[int, int, Ampel | None]] = Counter()
            for nr, stichtag in enumerate(stichtage):
                for feld_id, projekte in aktive.items():
                    for projekt_id in projekte:
                        meldung = erwartung.neueste(projekt_id, stichtag)
                        erwartet[nr, feld_id, None if meldung is None else meldung.ampel] += 1
            gezaehlt = await anweisungen.genau_eine(ampeln_zu_stichtagen(sitzung, stichtage))
            assert {(z.stichtag, z.themenfeld_id, z.ampel): z.anzahl for z in gezaehlt} == (
                erwartet
            ), stichtage
