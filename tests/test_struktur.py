"""Die Strukturdatei: Import, Export und Abgleich, wie die Stabsstelle sie erlebt."""

from __future__ import annotations

import datetime as dt
import tomllib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, cast

import pytest
import tomli_w
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from modelle.basis import jetzt
from modelle.datenbank import Sitzungsfabrik, erzeuge_engine, erzeuge_sitzungsfabrik
from modelle.struktur import (
    Importbericht,
    Struktur,
    StrukturFehler,
    exportiere_struktur,
    importiere_struktur,
    lies_struktur,
    parse_struktur,
)
from modelle.tabellen import (
    Aenderung,
    Person,
    Raum,
    Rollenzuweisung,
    Statusmeldung,
    Strategieprojekt,
    Themenfeld,
)
from modelle.werte import Ampel, Quelle, Rolle
from tests import datenbanken
from tests.anweisungen import mitgeschrieben

BEISPIEL = Path(__file__).parents[1] / "beispiele" / "muenster.toml"
ADMIN = "@lena.huesing:muenster.de"


@pytest.fixture
async def zweite_sitzungen(_sqlite_vorlage: Path, tmp_path: Path) -> AsyncIterator[Sitzungsfabrik]:
    """Eine zweite, leere und migrierte Datenbank (SQLite), etwa für Export → Import."""
    url = datenbanken.sqlite_kopie(_sqlite_vorlage, tmp_path / "zweite.db")
    engine = erzeuge_engine(url)
    yield erzeuge_sitzungsfabrik(engine)
    await engine.dispose()


async def importiere(
    sitzungen: Sitzungsfabrik, quelle: str | Struktur, wer: str = ADMIN
) -> Importbericht:
    """Wie `klimabot struktur import`: prüfen, dann in einer Transaktion abgleichen."""
    struktur = parse_struktur(quelle, "muenster.toml") if isinstance(quelle, str) else quelle
    async with sitzungen.begin() as sitzung:
        return await importiere_struktur(sitzung, struktur, wer)


async def exportiere(sitzungen: Sitzungsfabrik) -> str:
    async with sitzungen() as sitzung:
        return await exportiere_struktur(sitzung)


# Die Tabellen, die ein Import berühren darf.
STRUKTURTABELLEN = (
    Themenfeld,
    Raum,
    Person,
    Rollenzuweisung,
    Strategieprojekt,
    Statusmeldung,
    Aenderung,
)


async def zeilen_je_tabelle(sitzungen: Sitzungsfabrik) -> dict[str, int]:
    async with sitzungen() as sitzung:
        return {
            modell.__tablename__: await sitzung.scalar(select(func.count()).select_from(modell))
            or 0
            for modell in STRUKTURTABELLEN
        }


async def alle(sitzungen: Sitzungsfabrik, modell: type[Any], **filter: Any) -> list[Any]:
    async with sitzungen() as sitzung:
        return list((await sitzung.scalars(select(modell).filter_by(**filter))).all())


def beispiel_daten() -> dict[str, Any]:
    return tomllib.loads(BEISPIEL.read_text(encoding="utf-8"))


def eintrag(daten: dict[str, Any], art: str, kennung: str) -> dict[str, Any]:
    schluessel = "matrix_id" if art == "person" else "slug"
    return next(e for e in daten[art] if e[schluessel] == kennung)


def als_text(daten: dict[str, Any]) -> str:
    return tomli_w.dumps(daten)


# --- Beispielstruktur, Wiederholung, Rundreise ------------------------------------------------


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


async def test_export_in_dieselbe_datenbank_aendert_nichts(sitzungen: Sitzungsfabrik) -> None:
    await importiere(sitzungen, lies_struktur(BEISPIEL))
    vorher = await zeilen_je_tabelle(sitzungen)

    bericht = await importiere(sitzungen, await exportiere(sitzungen))

    assert bericht.zusammenfassung() == "keine Änderungen"
    assert await zeilen_je_tabelle(sitzungen) == vorher


async def test_export_in_leere_datenbank_ergibt_denselben_export(
    sitzungen: Sitzungsfabrik, zweite_sitzungen: Sitzungsfabrik
) -> None:
    await importiere(sitzungen, lies_struktur(BEISPIEL))
    export = await exportiere(sitzungen)

    await importiere(zweite_sitzungen, export)

    assert await exportiere(zweite_sitzungen) == export
    assert export.startswith("# Struktur des Klimabots")
    # Kommazahlen, Daten und Umlaute kommen unverändert an; Fehlendes bleibt weg.
    assert "wirkungspotenzial = 3200.5\n" in export
    assert "start = 2023-09-01\nende = 2026-06-30\n" in export
    assert 'ampel = "grün"\n' in export
    gemeinschaft = eintrag(tomllib.loads(export), "projekt", "gemeinschaftsverpflegung")
    assert "fortschritt" not in gemeinschaft
    assert "aliase" not in eintrag(tomllib.loads(export), "projekt", "reparaturorte")


async def test_export_zeigt_den_aktuellen_stand_statt_des_anfangsstands(
    sitzungen: Sitzungsfabrik,
) -> None:
    await importiere(sitzungen, lies_struktur(BEISPIEL))
    async with sitzungen.begin() as sitzung:
        projekt = await sitzung.scalar(select(Strategieprojekt).filter_by(slug="waermeplanung"))
        assert projekt is not None
        sitzung.add(
            Statusmeldung(
                projekt_id=projekt.id,
                ampel=Ampel.ROT,
                fortschritt=35,
                text="Ausschreibung verzögert sich",
                quelle=Quelle.BEFEHL,
                zeitpunkt=jetzt() + dt.timedelta(seconds=1),
            )
        )

    waermeplanung = eintrag(tomllib.loads(await exportiere(sitzungen)), "projekt", "waermeplanung")
    assert (waermeplanung["ampel"], waermeplanung["fortschritt"]) == ("rot", 35)

    # Die Datei sagt noch „gelb, 40 %“: das ist kein Anlass, die Meldung zu überschreiben.
    bericht = await importiere(sitzungen, lies_struktur(BEISPIEL))
    assert not bericht.geaendert
    assert bericht.zusammenfassung().splitlines() == [
        "keine Änderungen",
        "Hinweise:",
        "- Projekt „waermeplanung“: Anfangsstand gelb, 40 % nicht übernommen, es gibt schon "
        "Statusmeldungen (aktuell rot, 35 %)",
    ]


# --- Änderungen in der Datei ------------------------------------------------------------------


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


# --- Ungültige Dateien ------------------------------------------------------------------------

BASIS = """\
[[themenfeld]]
slug = "energie"
name = "Energie"
aliase = ["strom"]
raum = "#klima-energie:muenster.de"
abfrage = "mo 09:00"

[[themenfeld]]
slug = "mobilitaet"
name = "Mobilität"
aliase = ["verkehr"]

[[person]]
matrix_id = "@anna.becker:muenster.de"
name = "Dr. Anna Becker"
patin = ["energie"]

[[person]]
matrix_id = "@thomas.reinhardt:muenster.de"
name = "Thomas Reinhardt"
patin = ["mobilitaet"]
koordination = ["energie"]

[[projekt]]
slug = "waermeplanung"
themenfeld = "energie"
titel = "Kommunale Wärmeplanung"
start = 2024-01-01
ende = 2028-06-30
ampel = "gelb"
fortschritt = 40

[[projekt]]
slug = "radrouten"
themenfeld = "mobilitaet"
titel = "Radvorrangrouten"
"""


def ersetze(alt: str, neu: str) -> Callable[[str], str]:
    def aendern(text: str) -> str:
        assert alt in text
        return text.replace(alt, neu, 1)

    return aendern


UNGUELTIGE_DATEIEN = [
    pytest.param(
        ersetze('name = "Mobilität"', 'name = "Mobilität'),
        ["muenster.toml, Zeile 10: ungültiges TOML (Text ohne schließendes Anführungszeichen"],
        id="kaputtes-toml",
    ),
    pytest.param(
        ersetze("fortschritt = 40", "fortschritt = 40 %"),
        [
            "muenster.toml, Zeile 31: ungültiges TOML (nach einem Wert muss die Zeile enden, "
            "Spalte 18)"
        ],
        id="kaputtes-toml-mitten-im-projekt",
    ),
    pytest.param(
        ersetze('name = "Energie"', 'nmae = "Energie"'),
        [
            "muenster.toml, Themenfeld „energie“: unbekannter Schlüssel „nmae“ "
            "(meinten Sie „name“?)",
            "muenster.toml, Themenfeld „energie“: Pflichtangabe „name“ fehlt",
        ],
        id="unbekannter-schluessel",
    ),
    pytest.param(
        ersetze('slug = "radrouten"', 'slug = "waermeplanung"'),
        [
            "muenster.toml, Projekt „waermeplanung“: Slug „waermeplanung“ kommt doppelt vor "
            "(schon Projekt Nr. 1)"
        ],
        id="doppelter-slug",
    ),
    pytest.param(
        ersetze('aliase = ["verkehr"]', 'aliase = ["Strom"]'),
        [
            "muenster.toml, Themenfeld „mobilitaet“: Alias „Strom“ ist schon Alias von "
            "Themenfeld „energie“"
        ],
        id="doppelter-alias",
    ),
    pytest.param(
        ersetze('themenfeld = "mobilitaet"', 'themenfeld = "verkehr"'),
        [
            "muenster.toml, Projekt „radrouten“: Themenfeld „verkehr“ gibt es nicht "
            "(gemeint ist wohl „mobilitaet“: bitte den Slug angeben)"
        ],
        id="projekt-in-unbekanntem-themenfeld",
    ),
    pytest.param(
        ersetze('"@anna.becker:muenster.de"', '"@anna"'),
        [
            "muenster.toml, Person „@anna“: „@anna“ ist keine gültige Matrix-ID "
            "(Form @name:server)",
        ],
        id="ungueltige-matrix-id",
    ),
    pytest.param(
        ersetze('patin = ["energie"]', 'patin = ["energie", "wasser"]'),
        [
            "muenster.toml, Person „@anna.becker:muenster.de“: Themenfeld „wasser“ "
            "(in „patin“) gibt es nicht"
        ],
        id="patin-eines-unbekannten-themenfelds",
    ),
    pytest.param(
        ersetze('ampel = "gelb"', 'ampel = "lila"'),
        [
            "muenster.toml, Projekt „waermeplanung“: Ampel „lila“ unbekannt "
            "(erlaubt: grün, gelb, rot, abgeschlossen)"
        ],
        id="unbekannte-ampel",
    ),
    pytest.param(
        ersetze("fortschritt = 40", "fortschritt = 140"),
        ["muenster.toml, Projekt „waermeplanung“: Fortschritt 140 liegt nicht zwischen 0 und 100"],
        id="fortschritt-ueber-100",
    ),
    pytest.param(
        ersetze('ampel = "gelb"\n', ""),
        ["muenster.toml, Projekt „waermeplanung“: „fortschritt“ geht nur zusammen mit „ampel“"],
        id="fortschritt-ohne-ampel",
    ),
    pytest.param(
        ersetze('patin = ["mobilitaet"]\n', ""),
        ["muenster.toml, Themenfeld „mobilitaet“: keine Themenpat*in"],
        id="themenfeld-ohne-patin",
    ),
    pytest.param(
        ersetze('patin = ["mobilitaet"]\nkoordination', 'patin = ["mobilitaet", "energie"]\n#'),
        [
            "muenster.toml, Themenfeld „energie“: mehrere Themenpat*innen "
            "(@anna.becker:muenster.de, @thomas.reinhardt:muenster.de); erlaubt ist genau eine",
        ],
        id="zwei-patinnen",
    ),
    pytest.param(
        ersetze('abfrage = "mo 09:00"', 'abfrage = "mo 25:00"'),
        [
            "muenster.toml, Themenfeld „energie“: Abfrage „mo 25:00“ ungültig: die Uhrzeit "
            "„25:00“ gibt es nicht"
        ],
        id="ungueltiger-zeitplan",
    ),
    pytest.param(
        ersetze('titel = "Radvorrangrouten"\n', ""),
        ["muenster.toml, Projekt „radrouten“: Pflichtangabe „titel“ fehlt"],
        id="pflichtangabe-fehlt",
    ),
    pytest.param(
        ersetze('slug = "radrouten"', 'slug = "Rad Routen"'),
        [
            "muenster.toml, Projekt „Rad Routen“: „Rad Routen“ ist kein gültiger Slug "
            "(nur a–z, 0–9 und Bindestrich, z. B. „rad-routen“)"
        ],
        id="ungueltiger-slug",
    ),
    pytest.param(
        ersetze('name = "Mobilität"', 'name = "Mobilität"\nueberfaellig_nach_tagen = "14"'),
        [
            "muenster.toml, Themenfeld „mobilitaet“: „ueberfaellig_nach_tagen“ muss eine "
            "ganze Zahl sein, nicht „14“"
        ],
        id="falscher-typ",
    ),
    pytest.param(
        ersetze("ende = 2028-06-30", "ende = 2023-06-30"),
        ["muenster.toml, Projekt „waermeplanung“: Ende 30.06.2023 liegt vor dem Start 01.01.2024"],
        id="ende-vor-start",
    ),
    pytest.param(
        ersetze("start = 2024-01-01", 'start = "01.01.2024"'),
        [
            "muenster.toml, Projekt „waermeplanung“: „start“ muss ein Datum ohne "
            "Anführungszeichen (z. B. 2024-01-31) sein, nicht „01.01.2024“"
        ],
        id="datum-als-text",
    ),
    pytest.param(
        ersetze('raum = "#klima-energie:muenster.de"', 'raum = "klima-energie"'),
        [
            "muenster.toml, Themenfeld „energie“: „klima-energie“ ist keine gültige "
            "Raumadresse (Alias #name:server oder Raum-ID !id:server)"
        ],
        id="ungueltige-raumadresse",
    ),
    pytest.param(
        lambda text: text + "\n[[projekte]]\nslug = 'x'\n",
        ["muenster.toml: unbekannter Schlüssel „projekte“ (meinten Sie „projekt“?)"],
        id="unbekannte-tabelle",
    ),
]


@pytest.mark.parametrize(("aendern", "probleme"), UNGUELTIGE_DATEIEN)
def test_ungueltige_datei_nennt_datei_eintrag_und_problem(
    aendern: Callable[[str], str], probleme: list[str]
) -> None:
    with pytest.raises(StrukturFehler) as fehler:
        parse_struktur(aendern(BASIS), "muenster.toml")

    for problem in probleme:
        assert any(p.startswith(problem) for p in fehler.value.probleme), fehler.value.probleme
    assert len(fehler.value.probleme) == len(probleme), fehler.value.probleme
    assert str(fehler.value) == "\n".join(fehler.value.probleme)
    assert not any("line" in p or "Field" in p for p in fehler.value.probleme)


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


def test_alle_probleme_werden_auf_einmal_gemeldet() -> None:
    text = (
        BASIS.replace('ampel = "gelb"', 'ampel = "lila"')
        .replace('"@thomas.reinhardt:muenster.de"', '"thomas"')
        .replace('themenfeld = "mobilitaet"', 'themenfeld = "wasser"')
    )
    with pytest.raises(StrukturFehler) as fehler:
        parse_struktur(text, "muenster.toml")
    assert fehler.value.probleme == [
        "muenster.toml, Person „thomas“: „thomas“ ist keine gültige Matrix-ID (Form @name:server)",
        "muenster.toml, Projekt „waermeplanung“: Ampel „lila“ unbekannt "
        "(erlaubt: grün, gelb, rot, abgeschlossen)",
        "muenster.toml, Projekt „radrouten“: Themenfeld „wasser“ gibt es nicht",
    ]


def test_leere_datei_ist_keine_struktur() -> None:
    with pytest.raises(StrukturFehler, match="kein Themenfeld angegeben"):
        parse_struktur("# nur ein Kommentar\n", "leer.toml")


def test_fehlende_datei_wird_genannt(tmp_path: Path) -> None:
    with pytest.raises(StrukturFehler, match="Datei nicht gefunden"):
        lies_struktur(tmp_path / "gibt-es-nicht.toml")


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
