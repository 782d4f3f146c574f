"""Gemeinsames der Strukturtests (Datei, Import, Export): Import und Export in einem Zug,
die Zeilen der Strukturtabellen, eine kleine Datei und ihre ungültigen Abwandlungen."""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from sqlalchemy import func, select

from modelle.datenbank import Sitzungsfabrik
from modelle.strukturdatei import Struktur, parse_struktur
from modelle.strukturexport import exportiere_struktur
from modelle.strukturimport import Importbericht, importiere_struktur
from modelle.tabellen import (
    Aenderung,
    Person,
    Raum,
    Rollenzuweisung,
    Statusmeldung,
    Strategieprojekt,
    Themenfeld,
)

BEISPIEL = Path(__file__).parents[1] / "beispiele" / "muenster.toml"
ADMIN = "@lena.huesing:muenster.de"


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


# --- Eine kleine Datei und was an ihr falsch sein kann ---------------------------------------

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
