"""Das Klimadashboard in einem echten Browser: Chromium der Distribution, headless.

Die Seite kommt wie im Betrieb aus `klimabot dashboard`, die Zahlen zum Vergleich aus
`klimabot bericht --format json` – beide auf derselben Datenbank, im selben Augenblick. Das
Bildschirmfoto landet als Artefakt in `artefakte/` (oder `KLIMABOT_ARTEFAKTE`).

Fehlt Chromium, wird übersprungen – außer in CI (`.ci/run` installiert es und setzt
`KLIMABOT_TEST_BROWSER=pflicht`): dort schlägt der Test dann fehl.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import shutil
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from modelle.datenbank import erzeuge_engine, erzeuge_sitzungsfabrik
from tests.kommandozeile import klimabot
from tests.strukturen import BEISPIEL
from tests.testbot import (
    BERLIN,
    PATIN_ENERGIE,
    PATIN_MOBILITAET,
    RAUM_ENERGIE,
    RAUM_MOBILITAET,
    Testbot,
)

WURZEL = Path(__file__).resolve().parent.parent


def _chromium() -> str:
    pfad = shutil.which("chromium") or shutil.which("chromium-browser")
    if pfad is None:
        if os.environ.get("KLIMABOT_TEST_BROWSER") == "pflicht":
            pytest.fail("Chromium fehlt, wird in CI aber verlangt (siehe .ci/run)")
        pytest.skip("Chromium fehlt (apt install chromium; .ci/run installiert es)")
    return pfad


async def _meldungen(datei: Path) -> None:
    """Ein paar echte Meldungen, wie Pat*innen sie im Chat geben."""
    engine: AsyncEngine = erzeuge_engine(f"sqlite+aiosqlite:///{datei}")
    try:
        bot = Testbot(erzeuge_sitzungsfabrik(engine))
        # Jetzt, nicht wie sonst im Testbot eine Sekunde voraus: Seite und Bericht entstehen
        # gleich danach und sollen die Meldungen schon sehen. Der Import lief vorher.
        bot.jetzt = dt.datetime.now(BERLIN)
        for text, wer, raum in (
            ("!meldung waermeplanung rot 30% Gutachten fehlt", PATIN_ENERGIE, RAUM_ENERGIE),
            ("!meldung pv-offensive abgeschlossen 100% fertig", PATIN_ENERGIE, RAUM_ENERGIE),
            ("!meldung radvorrangrouten gruen 60% läuft", PATIN_MOBILITAET, RAUM_MOBILITAET),
        ):
            antwort = await bot.sende(text, als=wer, raum=raum)
            assert antwort.reaktionen == ["✅"], antwort.alle
    finally:
        await engine.dispose()


def test_dashboard_im_browser_ohne_fehler_ohne_netz_mit_den_zahlen_des_berichts(
    tmp_path: Path,
) -> None:
    chromium = _chromium()
    from playwright.sync_api import sync_playwright

    assert klimabot("struktur", "import", str(BEISPIEL), ordner=tmp_path).returncode == 0
    asyncio.run(_meldungen(tmp_path / "klimabot.db"))
    seite_erzeugt = klimabot("dashboard", "-o", "seite", ordner=tmp_path)
    assert seite_erzeugt.returncode == 0, seite_erzeugt.stderr
    bericht_erzeugt = klimabot("bericht", "--format", "json", ordner=tmp_path)
    assert bericht_erzeugt.returncode == 0, bericht_erzeugt.stderr
    bericht = json.loads(bericht_erzeugt.stdout)

    artefakte = Path(os.environ.get("KLIMABOT_ARTEFAKTE", WURZEL / "artefakte"))
    artefakte.mkdir(parents=True, exist_ok=True)
    konsole: list[str] = []
    anfragen: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            seite = browser.new_page(viewport={"width": 1000, "height": 900})
            seite.on(
                "console",
                lambda m: konsole.append(f"{m.type}: {m.text}") if m.type == "error" else None,
            )
            seite.on("pageerror", lambda fehler: konsole.append(f"pageerror: {fehler}"))
            seite.on("request", lambda anfrage: anfragen.append(anfrage.url))
            adresse = (tmp_path / "seite" / "index.html").as_uri()
            seite.goto(adresse)
            seite.wait_for_load_state("load")
            seite.screenshot(path=str(artefakte / "klimadashboard.png"), full_page=True)
            auf_der_seite = {
                feld["slug"]: {
                    ampel: int(
                        seite.locator(
                            f"#feld-{feld['slug']} li[data-ampel='{ampel}'] strong"
                        ).inner_text()
                    )
                    for ampel in [*feld["ampeln"], "ohne"]
                }
                for feld in bericht["themenfelder"]
            }
            telefon = browser.new_page(viewport={"width": 390, "height": 844})
            telefon.goto(adresse)
            breite = telefon.evaluate("document.documentElement.scrollWidth")
        finally:
            browser.close()

    assert konsole == []
    assert anfragen == [adresse]  # nur die Seite selbst, nichts nachgeladen
    for feld in bericht["themenfelder"]:
        erwartet = {**feld["ampeln"], "ohne": feld["ohne_meldung"]}
        assert auf_der_seite[feld["slug"]] == erwartet, feld["slug"]
    assert auf_der_seite["energie"]["rot"] >= 1
    assert breite <= 390  # auf dem Telefon ohne waagerechtes Scrollen der Seite
