"""Der Strukturimport: Abgleich mit der Datenbank, Änderungsprotokoll und Importbericht."""

from __future__ import annotations

import datetime as dt
import tomllib
from collections.abc import Callable
from typing import cast

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from modelle.basis import jetzt
from modelle.berichtsdaten import stelle_wochenbericht_zusammen
from modelle.datenbank import Sitzungsfabrik
from modelle.strukturdatei import StrukturFehler, lies_struktur
from modelle.strukturimport import importiere_struktur
from modelle.tabellen import (
    Aenderung,
    Person,
    Raum,
    Rollenzuweisung,
    Statusmeldung,
    Strategieprojekt,
    Themenfeld,
)
from modelle.werte import Quelle, Rolle
from tests.anweisungen import mitgeschrieben
from tests.strukturen import (
    ADMIN,
    BASIS,
    BEISPIEL,
    UNGUELTIGE_DATEIEN,
    alle,
    als_text,
    beispiel_daten,
    eintrag,
    exportiere,
    importiere,
    zeilen_je_tabelle,
)

# --- Beispielstruktur und Wiederholung -------------------------------------------------------


async def test_beispielstruktur_legt_sieben_themenfelder_mit_allem_an(
    sitzungen: Sitzungsfabrik,
) -> None:
    bericht = await importiere(sitzungen, lies_struktur(BEISPIEL))

    assert bericht.geaendert
    kopf, *zeilen = bericht.zusammenfassung().splitlines()
    assert kopf == (
        "7 Themenfelder angelegt, 7 Räume angelegt, 17 Personen angelegt, 20 Rollen vergeben, "
        "23 Projekte angelegt, 15 Anfangsstände gesetzt"
    )
    assert "- Themenfeld „energie“ angelegt (Energie)" in zeilen
    assert "- Raum „#klima-energie:muenster.de“ für Themenfeld „energie“ angelegt" in zeilen
    assert "- Person „@anna.becker:muenster.de“ ist jetzt Themenpat*in von „energie“" in zeilen
    assert "- Person „@kai.overbeck:muenster.de“ gehört jetzt zur Stabsstelle Klima" in zeilen
    assert "- Projekt „waermeplanung“: Anfangsstand gelb, 40 %" in zeilen

    felder = await alle(sitzungen, Themenfeld)
    assert [f.slug for f in sorted(felder, key=lambda f: f.reihenfolge)] == [
        "energie",
        "mobilitaet",
        "gebaeude",
        "wirtschaft-wissenschaft",
        "bildung-ernaehrung",
        "haushalte-konsum",
        "klimaanpassung",
    ]
    mobilitaet = next(f for f in felder if f.slug == "mobilitaet")
    assert (mobilitaet.name, mobilitaet.aliase) == ("Mobilität", ["verkehr", "rad", "oepnv"])
    assert next(f for f in felder if f.slug == "klimaanpassung").abfrage == "30 8 * * 1"
    zahlen = await zeilen_je_tabelle(sitzungen)
    assert zahlen["raum"] == 7
    assert zahlen["rollenzuweisung"] == 20
    assert zahlen["strategieprojekt"] == 23
    patinnen = await alle(sitzungen, Rollenzuweisung, rolle=Rolle.PATIN)
    assert len({p.themenfeld_id for p in patinnen}) == 7

    anfangsstaende = await alle(sitzungen, Statusmeldung)
    assert len(anfangsstaende) == 15
    assert {(m.quelle, m.autor_id) for m in anfangsstaende} == {(Quelle.IMPORT, None)}

    protokoll = await alle(sitzungen, Aenderung)
    assert len(protokoll) == len(zeilen)
    assert {a.wer for a in protokoll} == {ADMIN}
    assert all(jetzt() - a.zeitpunkt < dt.timedelta(minutes=1) for a in protokoll)


async def test_erneuter_import_meldet_keine_aenderungen(sitzungen: Sitzungsfabrik) -> None:
    await importiere(sitzungen, lies_struktur(BEISPIEL))
    vorher = await zeilen_je_tabelle(sitzungen)

    bericht = await importiere(sitzungen, lies_struktur(BEISPIEL))

    assert bericht.zusammenfassung() == "keine Änderungen"
    assert not bericht.geaendert
    assert await zeilen_je_tabelle(sitzungen) == vorher


async def test_zurueckdatierter_import_zaehlt_im_wochenbericht_nicht_als_neu(
    sitzungen: Sitzungsfabrik,
) -> None:
    # Wie die Demo ihre Vorgeschichte lädt: der Import gilt zwölf Wochen früher.
    vor_zwoelf_wochen = jetzt() - dt.timedelta(weeks=12)
    async with sitzungen.begin() as sitzung:
        await importiere_struktur(
            sitzung, lies_struktur(BEISPIEL), ADMIN, zeitpunkt=vor_zwoelf_wochen
        )

    protokoll = await alle(sitzungen, Aenderung)
    assert protokoll
    assert {a.zeitpunkt for a in protokoll} == {vor_zwoelf_wochen}
    anfangsstaende = await alle(sitzungen, Statusmeldung)
    assert {m.zeitpunkt for m in anfangsstaende} == {vor_zwoelf_wochen}
    async with sitzungen() as sitzung:
        bericht = await stelle_wochenbericht_zusammen(
            sitzung, von=jetzt() - dt.timedelta(days=7), bis=jetzt()
        )
    assert (bericht.anzahl_neu, bericht.anzahl_wechsel) == (0, 0)
    assert bericht.projekte == 23


# --- Änderungen in der Datei -----------------------------------------------------------------


async def test_geaenderte_datei_aendert_an_ort_und_stelle_und_protokolliert(
    sitzungen: Sitzungsfabrik,
) -> None:
    await importiere(sitzungen, lies_struktur(BEISPIEL))
    vorher = {p.slug: p.id for p in await alle(sitzungen, Strategieprojekt)}
    daten = beispiel_daten()
    eintrag(daten, "projekt", "waermeplanung")["titel"] = "Kommunale Wärmeplanung 2.0"
    # Die Patenschaft für Energie wechselt: Koordinator wird Pate, die Patin koordiniert.
    eintrag(daten, "person", "@lukas.terhorst:muenster.de").update(
        patin=["energie"], koordination=["gebaeude"]
    )
    eintrag(daten, "person", "@anna.becker:muenster.de").update(patin=[], koordination=["energie"])

    bericht = await importiere(sitzungen, als_text(daten), wer="@kai.overbeck:muenster.de")

    kopf, *zeilen = bericht.zusammenfassung().splitlines()
    assert kopf == "2 Rollen vergeben, 2 Rollen entzogen, 1 Projekt geändert"
    assert (
        "- Projekt „waermeplanung“: Titel „Kommunale Wärmeplanung“ → „Kommunale Wärmeplanung 2.0“"
        in zeilen
    )
    assert "- Person „@anna.becker:muenster.de“ ist nicht mehr Themenpat*in von „energie“" in zeilen
    assert "- Person „@lukas.terhorst:muenster.de“ ist jetzt Themenpat*in von „energie“" in zeilen
    assert {p.slug: p.id for p in await alle(sitzungen, Strategieprojekt)} == vorher

    titel = await alle(sitzungen, Aenderung, objekt="waermeplanung", feld="titel")
    assert [(a.wer, a.objekt_art, a.alt, a.neu) for a in titel] == [
        (
            "@kai.overbeck:muenster.de",
            "projekt",
            "Kommunale Wärmeplanung",
            "Kommunale Wärmeplanung 2.0",
        )
    ]
    assert jetzt() - titel[0].zeitpunkt < dt.timedelta(minutes=1)
    rollen = await alle(sitzungen, Aenderung, objekt_art="rolle", wer="@kai.overbeck:muenster.de")
    assert {(a.objekt, a.feld, a.alt, a.neu) for a in rollen} == {
        ("@anna.becker:muenster.de", "patin", "energie", None),
        ("@anna.becker:muenster.de", "koordination", None, "energie"),
        ("@lukas.terhorst:muenster.de", "koordination", "energie", None),
        ("@lukas.terhorst:muenster.de", "patin", None, "energie"),
    }
    assert (await importiere(sitzungen, als_text(daten))).zusammenfassung() == "keine Änderungen"


async def test_entferntes_projekt_wird_archiviert_und_kommt_wieder(
    sitzungen: Sitzungsfabrik,
) -> None:
    await importiere(sitzungen, lies_struktur(BEISPIEL))
    daten = beispiel_daten()
    daten["projekt"] = [p for p in daten["projekt"] if p["slug"] != "waermeplanung"]

    bericht = await importiere(sitzungen, als_text(daten))

    assert bericht.zusammenfassung().splitlines() == [
        "1 Projekt archiviert",
        "- Projekt „waermeplanung“ archiviert",
    ]
    [projekt] = await alle(sitzungen, Strategieprojekt, slug="waermeplanung")
    assert projekt.archiviert
    assert len(await alle(sitzungen, Statusmeldung, projekt_id=projekt.id)) == 1
    assert 'slug = "waermeplanung"' not in await exportiere(sitzungen)
    [archiviert] = await alle(sitzungen, Aenderung, objekt="waermeplanung", feld="archiviert")
    assert (archiviert.alt, archiviert.neu) == ("nein", "ja")

    bericht = await importiere(sitzungen, lies_struktur(BEISPIEL))

    assert bericht.zusammenfassung().splitlines() == [
        "1 Projekt wieder aktiviert",
        "- Projekt „waermeplanung“ wieder aktiviert",
    ]
    [projekt] = await alle(sitzungen, Strategieprojekt, slug="waermeplanung")
    assert not projekt.archiviert
    assert len(await alle(sitzungen, Statusmeldung, projekt_id=projekt.id)) == 1


async def test_entferntes_themenfeld_wird_archiviert_personen_bleiben(
    sitzungen: Sitzungsfabrik,
) -> None:
    await importiere(sitzungen, lies_struktur(BEISPIEL))
    export_vorher = await exportiere(sitzungen)
    daten = beispiel_daten()
    daten["themenfeld"] = [f for f in daten["themenfeld"] if f["slug"] != "klimaanpassung"]
    daten["projekt"] = [p for p in daten["projekt"] if p["themenfeld"] != "klimaanpassung"]
    daten["person"] = [p for p in daten["person"] if p.get("patin") != ["klimaanpassung"]]
    for person in daten["person"]:
        if "klimaanpassung" in person.get("koordination", []):
            person["koordination"].remove("klimaanpassung")

    bericht = await importiere(sitzungen, als_text(daten))

    assert bericht.zusammenfassung().splitlines()[0] == (
        "1 Themenfeld archiviert, 1 Raum entfernt, 3 Rollen entzogen, 4 Projekte archiviert"
    )
    [feld] = await alle(sitzungen, Themenfeld, slug="klimaanpassung")
    assert feld.archiviert
    assert await alle(sitzungen, Raum, themenfeld_id=feld.id) == []
    assert await alle(sitzungen, Rollenzuweisung, themenfeld_id=feld.id) == []
    assert len(await alle(sitzungen, Person)) == 17
    export = await exportiere(sitzungen)
    assert "klimaanpassung" not in export
    assert "@miriam.oltmann:muenster.de" not in export

    bericht = await importiere(sitzungen, lies_struktur(BEISPIEL))

    assert bericht.zusammenfassung().splitlines()[0] == (
        "1 Themenfeld wieder aktiviert, 1 Raum angelegt, 3 Rollen vergeben, "
        "4 Projekte wieder aktiviert"
    )
    assert await exportiere(sitzungen) == export_vorher


async def test_neue_reihenfolge_und_feldwechsel_werden_uebernommen(
    sitzungen: Sitzungsfabrik,
) -> None:
    await importiere(sitzungen, lies_struktur(BEISPIEL))
    daten = beispiel_daten()
    daten["themenfeld"][0], daten["themenfeld"][1] = daten["themenfeld"][1], daten["themenfeld"][0]
    eintrag(daten, "projekt", "e-busflotte")["themenfeld"] = "energie"
    # Anhängen verschiebt niemanden: nur der Feldwechsel und der Tausch sind Änderungen.
    daten["projekt"].append(
        {"slug": "ladesaeulen", "themenfeld": "mobilitaet", "titel": "Öffentliche Ladesäulen"}
    )

    bericht = await importiere(sitzungen, als_text(daten))

    kopf, *zeilen = bericht.zusammenfassung().splitlines()
    assert kopf == "2 Themenfelder geändert, 1 Projekt angelegt, 1 Projekt geändert"
    assert "- Themenfeld „energie“: Position „1“ → „2“" in zeilen
    assert "- Projekt „e-busflotte“: Themenfeld „mobilitaet“ → „energie“" in zeilen
    export = tomllib.loads(await exportiere(sitzungen))
    assert [f["slug"] for f in export["themenfeld"][:2]] == ["mobilitaet", "energie"]
    assert [p["slug"] for p in export["projekt"] if p["themenfeld"] == "energie"][-1] == (
        "e-busflotte"
    )
    assert [p["slug"] for p in export["projekt"]][:4] == [
        "radvorrangrouten",
        "mobilstationen",
        "ladesaeulen",
        "waermeplanung",
    ]


async def test_neue_raumadresse_vergisst_die_aufgeloeste_raum_id(
    sitzungen: Sitzungsfabrik,
) -> None:
    await importiere(sitzungen, lies_struktur(BEISPIEL))
    async with sitzungen.begin() as sitzung:
        for raum in await sitzung.scalars(select(Raum)):
            raum.raum_id = f"!{raum.id}:muenster.de"
    daten = beispiel_daten()
    # Energie und Mobilität tauschen die Räume, Gebäude zieht um, Wirtschaft verliert seinen.
    energie, mobilitaet, gebaeude, wirtschaft = daten["themenfeld"][:4]
    energie["raum"], mobilitaet["raum"] = mobilitaet["raum"], energie["raum"]
    gebaeude["raum"] = "!neu:muenster.de"
    del wirtschaft["raum"]

    bericht = await importiere(sitzungen, als_text(daten))

    kopf, *zeilen = bericht.zusammenfassung().splitlines()
    assert kopf == "3 Räume geändert, 1 Raum entfernt"
    assert (
        "- Raum von Themenfeld „gebaeude“: „#klima-gebaeude:muenster.de“ → „!neu:muenster.de“"
        in zeilen
    )
    raeume = {r.adresse: r for r in await alle(sitzungen, Raum)}
    assert len(raeume) == 6
    assert raeume["!neu:muenster.de"].raum_id is None
    assert raeume["#klima-energie:muenster.de"].raum_id is None
    assert raeume["#klima-haushalte-konsum:muenster.de"].raum_id is not None
    [entfernt] = await alle(sitzungen, Aenderung, objekt_art="raum", feld="entfernt")
    assert (entfernt.objekt, entfernt.alt) == (
        "wirtschaft-wissenschaft",
        "#klima-wirtschaft-wissenschaft:muenster.de",
    )


async def test_import_braucht_wenige_abfragen(
    sitzungen: Sitzungsfabrik, engine: AsyncEngine
) -> None:
    with mitgeschrieben(engine) as mitschrift:
        anweisungen = mitschrift.gesendet
        await importiere(sitzungen, lies_struktur(BEISPIEL))
        erster_import = len(anweisungen)
        anweisungen.clear()
        await importiere(sitzungen, lies_struktur(BEISPIEL))

    # 7 Felder, 17 Personen, 23 Projekte: je Eintrag eine Abfrage wären über 50.
    assert erster_import <= 20, anweisungen
    assert len(anweisungen) <= 8, anweisungen


# --- Ungültige Dateien -----------------------------------------------------------------------


async def test_ungueltige_datei_aendert_nichts_an_der_datenbank(
    sitzungen: Sitzungsfabrik,
) -> None:
    await importiere(sitzungen, BASIS)
    zeilen_vorher = await zeilen_je_tabelle(sitzungen)
    export_vorher = await exportiere(sitzungen)

    for fall in UNGUELTIGE_DATEIEN:
        aendern = cast(Callable[[str], str], fall.values[0])
        with pytest.raises(StrukturFehler):
            await importiere(sitzungen, aendern(BASIS))

    assert await zeilen_je_tabelle(sitzungen) == zeilen_vorher
    assert await exportiere(sitzungen) == export_vorher


async def test_themenfeld_im_raum_der_stabsstelle_schreibt_nichts(
    sitzungen: Sitzungsfabrik,
) -> None:
    await importiere(sitzungen, BASIS)
    async with sitzungen.begin() as sitzung:
        sitzung.add(Raum(adresse="#klima-stabsstelle:muenster.de", ist_stabsstelle=True))
    vorher = await zeilen_je_tabelle(sitzungen)
    export_vorher = await exportiere(sitzungen)
    text = BASIS.replace('name = "Energie"', 'name = "Energie und Wärme"').replace(
        "#klima-energie:", "#klima-stabsstelle:"
    )

    with pytest.raises(StrukturFehler) as fehler:
        await importiere(sitzungen, text)

    assert fehler.value.probleme == [
        "muenster.toml, Themenfeld „energie“: Raum „#klima-stabsstelle:muenster.de“ ist der "
        "Raum der Stabsstelle Klima und kann nicht zugleich Raum eines Themenfelds sein"
    ]
    assert await zeilen_je_tabelle(sitzungen) == vorher
    assert await exportiere(sitzungen) == export_vorher
