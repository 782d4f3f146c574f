"""Das Klimadashboard (Issue 14, Teil 1): eine Seite, die die Stabsstelle veröffentlichen kann."""

from __future__ import annotations

import asyncio
import re
import tomllib
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from befehle.dashboardseite import dashboard_html, schreibe_dashboard
from befehle.grundlagen import Betrieb
from bot.config import DashboardEinstellungen
from bot.dashboard import Dashboardschreiber
from bot.planer import Planer, Zeitplaner
from modelle.berichtsdaten import stelle_wochenbericht_zusammen
from modelle.dashboarddaten import stelle_dashboard_zusammen
from modelle.datenbank import Sitzungsfabrik
from tests.kommandozeile import klimabot
from tests.strukturen import BEISPIEL
from tests.testbot import PATIN_ENERGIE, RAUM_ENERGIE, Testbot

BERLIN = ZoneInfo("Europe/Berlin")
MATRIX_ID = re.compile(r"@[a-z0-9._=/-]+:[a-z0-9.-]+", re.IGNORECASE)


async def _seite(testbot: Testbot, sitzungen: Sitzungsfabrik, *, intern: bool = False) -> str:
    async with sitzungen() as sitzung:
        dashboard = await stelle_dashboard_zusammen(
            sitzung, jetzt=testbot.jetzt, zeitzone=BERLIN, intern=intern
        )
    return dashboard_html(dashboard, BERLIN)


async def _melde(testbot: Testbot) -> None:
    antwort = await testbot.sende(
        "!meldung waermeplanung rot 30% Freitext aus dem Chat <b>fett</b> "
        "Herausforderung: Vertrauliche Herausforderung",
        als=PATIN_ENERGIE,
        raum=RAUM_ENERGIE,
    )
    assert antwort.reaktionen == ["✅"]


async def test_oeffentliche_fassung_nennt_keine_personen_ids_oder_freitexte(
    testbot: Testbot, sitzungen: Sitzungsfabrik
) -> None:
    await _melde(testbot)
    seite = await _seite(testbot, sitzungen)
    personen = tomllib.loads(BEISPIEL.read_text(encoding="utf-8"))["person"]
    for person in personen:
        assert person["name"] not in seite
        assert person["matrix_id"] not in seite
    assert not MATRIX_ID.search(seite)
    assert "Freitext" not in seite
    assert "Vertrauliche Herausforderung" not in seite
    # Was aus der Struktur kommt und die Zahlen sind da.
    assert "Kommunale Wärmeplanung" in seite
    assert "🔴 rot" in seite


async def test_interne_fassung_zeigt_herausforderung_und_wer_meldete_maskiert(
    testbot: Testbot, sitzungen: Sitzungsfabrik
) -> None:
    await testbot.sende(
        "!meldung pv-offensive gelb 30% Herausforderung: <script>alert(1)</script> Dachstatik",
        als=PATIN_ENERGIE,
        raum=RAUM_ENERGIE,
    )
    seite = await _seite(testbot, sitzungen, intern=True)
    assert "interne Fassung" in seite
    assert "Dr. Anna Becker" in seite
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Dachstatik" in seite
    assert "<script" not in seite


async def test_seite_ist_in_sich_geschlossen(testbot: Testbot, sitzungen: Sitzungsfabrik) -> None:
    """Aus `file://` wie von jedem Webserver: kein Skript, nichts Nachgeladenes."""
    seite = await _seite(testbot, sitzungen)
    assert "<script" not in seite
    assert not re.search(r"\s(src|href)\s*=", seite)
    assert not re.search(r"url\((?!#)", seite)  # nur Verweise in die Seite selbst
    assert "@import" not in seite
    # Adressen kommen nur als XML-Namensräume der SVG-Grafiken vor, die nichts laden.
    adressen = set(re.findall(r"https?://[^\"'\s<>]+", seite))
    assert adressen <= {"http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"}
    assert seite.count("<svg") == 7
    assert seite.count('role="img" aria-label="Ampeln im Themenfeld') == 7


async def test_zahlen_wie_im_wochenbericht(testbot: Testbot, sitzungen: Sitzungsfabrik) -> None:
    """Je Feld stehen dieselben Ampelzahlen wie im Wochenbericht zum selben Zeitpunkt."""
    await _melde(testbot)
    seite = await _seite(testbot, sitzungen)
    async with sitzungen() as sitzung:
        bericht = await stelle_wochenbericht_zusammen(
            sitzung, von=testbot.jetzt.replace(year=testbot.jetzt.year - 1), bis=testbot.jetzt
        )
    for feld in bericht.felder:
        abschnitt = seite.split(f'<section id="feld-{feld.themenfeld_slug}">')[1].split(
            "</section>"
        )[0]
        for ampel, anzahl in feld.ampeln.items():
            assert f"{ampel.emoji} {ampel.wort}: <strong>{anzahl}</strong>" in abschnitt
        assert f"⚪ ohne Meldung: <strong>{feld.ohne_meldung}</strong>" in abschnitt


def test_kommandozeile_schreibt_die_seite_und_ersetzt_die_alte_ganz(tmp_path: Path) -> None:
    assert klimabot("struktur", "import", str(BEISPIEL), ordner=tmp_path).returncode == 0
    ziel = tmp_path / "dashboard"
    ziel.mkdir()
    (ziel / "veraltet.html").write_text("alt", encoding="utf-8")

    ergebnis = klimabot("dashboard", "-o", str(ziel), ordner=tmp_path)

    assert ergebnis.returncode == 0, ergebnis.stderr
    assert "Dashboard (öffentlich) geschrieben" in ergebnis.stdout
    assert sorted(p.name for p in ziel.iterdir()) == ["index.html"]
    assert "Klimadashboard" in (ziel / "index.html").read_text(encoding="utf-8")
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".dashboard")] == []


def test_schreiben_scheitert_ohne_die_alte_seite_zu_verlieren(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ziel = tmp_path / "dashboard"
    schreibe_dashboard(ziel, "<p>alt</p>")

    def platte_voll(*_argumente: object, **_benannt: object) -> int:
        raise OSError("Platte voll")

    monkeypatch.setattr(Path, "write_text", platte_voll)
    with pytest.raises(OSError, match="Platte voll"):
        schreibe_dashboard(ziel, "<p>neu</p>")
    monkeypatch.undo()
    assert (ziel / "index.html").read_text(encoding="utf-8") == "<p>alt</p>"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dashboard"]


async def test_laufender_bot_schreibt_das_dashboard_in_eigenem_prozess(
    testbot: Testbot, datenbank_url: str, tmp_path: Path
) -> None:
    """`[dashboard] ordner`: der Bot schreibt die Seite in einem kurzen eigenen Prozess (die
    Adresse der Datenbank über die Standardeingabe)."""
    await _melde(testbot)
    einstellungen = DashboardEinstellungen(ordner=tmp_path / "seite", intern=True, wochen=4)
    schreiber = Dashboardschreiber(einstellungen, datenbank_url, "Europe/Berlin")
    assert await schreiber.schreibe_sicher()
    seite = (tmp_path / "seite" / "index.html").read_text(encoding="utf-8")
    assert "interne Fassung" in seite
    assert "Vertrauliche Herausforderung" in seite
    assert "die letzten 4 Wochen" in seite


async def test_scheitert_das_schreiben_steht_es_im_protokoll_und_sonst_geschieht_nichts(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    einstellungen = DashboardEinstellungen(ordner=tmp_path / "seite")
    url = f"sqlite+aiosqlite:///{tmp_path / 'fehlt' / 'klimabot.db'}"
    assert not await Dashboardschreiber(einstellungen, url, "Europe/Berlin").schreibe_sicher()
    assert "Klimadashboard nicht geschrieben (Exit-Code 1)" in caplog.text
    assert not (tmp_path / "seite").exists()


async def test_zeitplaner_schreibt_das_dashboard_gleich_beim_start(
    testbot: Testbot, sitzungen: Sitzungsfabrik, datenbank_url: str, tmp_path: Path
) -> None:
    """Nach einem Update soll die Seite nicht bis zum nächsten Termin veraltet bleiben."""
    einstellungen = DashboardEinstellungen(ordner=tmp_path / "seite", zeitplan="mo 06:00")
    geschrieben = asyncio.Event()

    class Beobachteter(Dashboardschreiber):
        async def schreibe_sicher(self) -> bool:
            try:
                return await super().schreibe_sicher()
            finally:
                geschrieben.set()

    planer = Planer(sitzungen=sitzungen, zeitzone=BERLIN, betrieb=Betrieb(), praefix="!")
    zeitplaner = Zeitplaner(
        planer,
        BERLIN,
        dashboard=Beobachteter(einstellungen, datenbank_url, "Europe/Berlin"),
    )
    zeitplaner.starte()
    try:
        await asyncio.wait_for(geschrieben.wait(), timeout=60)
    finally:
        zeitplaner.stoppe()
    assert "Klimadashboard" in (tmp_path / "seite" / "index.html").read_text(encoding="utf-8")


async def test_projekt_nur_mit_anfangsstand_zeigt_anfangsstand_nicht_noch_keine(
    testbot: Testbot, sitzungen: Sitzungsfabrik
) -> None:
    seite = await _seite(testbot, sitzungen)
    zeilen = {
        slug: zeile
        for slug, zeile in re.findall(r'<tr data-projekt="([^"]+)">(.*?)</tr>', seite, re.S)
    }
    # Die Wärmeplanung hat nur ihren Stand aus der Strukturdatei, die Fernwärme gar keinen.
    assert "Anfangsstand" in zeilen["waermeplanung"]
    assert "noch keine" in zeilen["fernwaerme-dekarbonisierung"]
