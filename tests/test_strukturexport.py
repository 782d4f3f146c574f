"""Der Strukturexport: der aktive Stand als Datei, die wieder eingelesen dasselbe ergibt."""

from __future__ import annotations

import datetime as dt
import tomllib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select

from modelle.basis import jetzt
from modelle.datenbank import Sitzungsfabrik, erzeuge_engine, erzeuge_sitzungsfabrik
from modelle.strukturdatei import lies_struktur
from modelle.tabellen import Statusmeldung, Strategieprojekt
from modelle.werte import Ampel, Quelle
from tests import datenbanken
from tests.strukturen import BEISPIEL, eintrag, exportiere, importiere, zeilen_je_tabelle


@pytest.fixture
async def zweite_sitzungen(_sqlite_vorlage: Path, tmp_path: Path) -> AsyncIterator[Sitzungsfabrik]:
    """Eine zweite, leere und migrierte Datenbank (SQLite), etwa für Export → Import."""
    url = datenbanken.sqlite_kopie(_sqlite_vorlage, tmp_path / "zweite.db")
    engine = erzeuge_engine(url)
    yield erzeuge_sitzungsfabrik(engine)
    await engine.dispose()


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
