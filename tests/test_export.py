"""`klimabot export`: die ganze Statushistorie für Klimadashboard und Klimabericht."""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.cli import main
from modelle.bericht import EXPORT_SPALTEN, statusmeldungen_fuer_export
from modelle.datenbank import Sitzungsfabrik, erzeuge_sitzungsfabrik
from tests import daten
from tests.test_wochenbericht import Woche, erlebe_woche, erlebe_woche_in

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
    assert (waerme["autor"], waerme["autor_matrix_id"]) == (
        "Dr. Anna Becker",
        "@anna.becker:muenster.de",
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
    bestand = daten.erzeuge_bestand(3, felder=3, projekte_je_feld=5, wochen=40)
    async with engine.begin() as verbindung:
        await bestand.einfuegen(verbindung)
    async with erzeuge_sitzungsfabrik(engine)() as sitzung:
        ids = [m.meldung_id async for p in statusmeldungen_fuer_export(sitzung) for m in p]
    erwartet = [m.id for m in sorted(bestand.meldungen, key=lambda m: m.reihung)]
    assert ids == erwartet
