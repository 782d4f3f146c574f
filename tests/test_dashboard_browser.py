"""Klimadashboard und Klimabericht-Kapitel in einem echten Browser: Chromium der Distribution,
headless.

Die Seiten kommen wie im Betrieb aus `klimabot dashboard` bzw. `klimabot bericht --format html`,
die Zahlen zum Vergleich aus `klimabot bericht --format json` – auf derselben Datenbank, im
selben Augenblick. Die Bildschirmfotos landen als Artefakte in `artefakte/` (oder
`KLIMABOT_ARTEFAKTE`).

Fehlt Chromium, wird übersprungen – außer in CI (`.ci/run` installiert es und setzt
`KLIMABOT_TEST_BROWSER=pflicht`): dort schlägt der Test dann fehl.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

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


@dataclass
class Besuch:
    """Was der Browser beim Laden einer Seite erlebte."""

    seite: Page
    konsole: list[str] = field(default_factory=list)
    anfragen: list[str] = field(default_factory=list)

    def ampeln(self, bericht: dict[str, Any]) -> dict[str, dict[str, int]]:
        """Die Ampelzahlen je Themenfeld, wie die Seite sie zeigt (`li[data-ampel]`)."""
        return {
            feld["slug"]: {
                ampel: int(
                    self.seite.locator(
                        f"#feld-{feld['slug']} li[data-ampel='{ampel}'] strong"
                    ).inner_text()
                )
                for ampel in [*feld["ampeln"], "ohne"]
            }
            for feld in bericht["themenfelder"]
        }


@contextlib.contextmanager
def _browser() -> Iterator[Browser]:
    chromium = _chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            yield browser
        finally:
            browser.close()


def _besuche(browser: Browser, adresse: str, bildschirmfoto: str) -> Besuch:
    """Lädt `adresse` in einem breiten Fenster, schreibt Fehler der Konsole und jede Anfrage
    mit und legt das Bildschirmfoto unter `artefakte/` ab."""
    besuch = Besuch(browser.new_page(viewport={"width": 1000, "height": 900}))
    besuch.seite.on(
        "console",
        lambda m: besuch.konsole.append(f"{m.type}: {m.text}") if m.type == "error" else None,
    )
    besuch.seite.on("pageerror", lambda fehler: besuch.konsole.append(f"pageerror: {fehler}"))
    besuch.seite.on("request", lambda anfrage: besuch.anfragen.append(anfrage.url))
    besuch.seite.goto(adresse)
    besuch.seite.wait_for_load_state("load")
    artefakte = Path(os.environ.get("KLIMABOT_ARTEFAKTE", WURZEL / "artefakte"))
    artefakte.mkdir(parents=True, exist_ok=True)
    besuch.seite.screenshot(path=str(artefakte / bildschirmfoto), full_page=True)
    return besuch


def _bericht_json(ordner: Path, *zeitraum: str) -> dict[str, Any]:
    erzeugt = klimabot("bericht", *zeitraum, "--format", "json", ordner=ordner)
    assert erzeugt.returncode == 0, erzeugt.stderr
    bericht: dict[str, Any] = json.loads(erzeugt.stdout)
    return bericht


def _erwartet(feld: dict[str, Any]) -> dict[str, int]:
    return {**feld["ampeln"], "ohne": feld["ohne_meldung"]}


def test_dashboard_im_browser_ohne_fehler_ohne_netz_mit_den_zahlen_des_berichts(
    tmp_path: Path,
) -> None:
    assert klimabot("struktur", "import", str(BEISPIEL), ordner=tmp_path).returncode == 0
    asyncio.run(_meldungen(tmp_path / "klimabot.db"))
    seite_erzeugt = klimabot("dashboard", "-o", "seite", ordner=tmp_path)
    assert seite_erzeugt.returncode == 0, seite_erzeugt.stderr
    bericht = _bericht_json(tmp_path)

    adresse = (tmp_path / "seite" / "index.html").as_uri()
    with _browser() as browser:
        besuch = _besuche(browser, adresse, "klimadashboard.png")
        auf_der_seite = besuch.ampeln(bericht)
        telefon = browser.new_page(viewport={"width": 390, "height": 844})
        telefon.goto(adresse)
        breite = telefon.evaluate("document.documentElement.scrollWidth")

    assert besuch.konsole == []
    assert besuch.anfragen == [adresse]  # nur die Seite selbst, nichts nachgeladen
    for feld in bericht["themenfelder"]:
        assert auf_der_seite[feld["slug"]] == _erwartet(feld), feld["slug"]
    assert auf_der_seite["energie"]["rot"] >= 1
    assert breite <= 390  # auf dem Telefon ohne waagerechtes Scrollen der Seite


def test_klimabericht_kapitel_im_browser_mit_bildern_und_druckbar(tmp_path: Path) -> None:
    assert klimabot("struktur", "import", str(BEISPIEL), ordner=tmp_path).returncode == 0
    asyncio.run(_meldungen(tmp_path / "klimabot.db"))
    heute = dt.datetime.now(BERLIN).date()
    zeitraum = ["--seit", f"01.01.{heute.year}", "--bis", heute.strftime("%d.%m.%Y")]
    kapitel_erzeugt = klimabot(
        "bericht", *zeitraum, "--format", "html", "-o", "kapitel.html", ordner=tmp_path
    )
    assert kapitel_erzeugt.returncode == 0, kapitel_erzeugt.stderr
    bericht = _bericht_json(tmp_path, *zeitraum)

    adresse = (tmp_path / "kapitel.html").as_uri()
    with _browser() as browser:
        besuch = _besuche(browser, adresse, "klimabericht-kapitel.png")
        # Jedes Bild geladen: ein fehlendes hätte die natürliche Breite 0.
        bildbreiten = besuch.seite.eval_on_selector_all(
            "img", "bilder => bilder.map(b => b.naturalWidth)"
        )
        auf_der_seite = besuch.ampeln(bericht)
        besuch.seite.emulate_media(media="print")
        druck = besuch.seite.pdf(format="A4")

    assert besuch.konsole == []
    bilder = [a for a in besuch.anfragen if a != adresse]
    assert len(bildbreiten) == len(bericht["themenfelder"]) + 1
    assert all(breite > 0 for breite in bildbreiten)
    # Nur die Seite und ihre Bilder aus dem Ordner daneben, nichts aus dem Netz.
    assert len(bilder) == len(bildbreiten)
    assert all(a.startswith((tmp_path / "kapitel-bilder").as_uri() + "/") for a in bilder)
    for feld in bericht["themenfelder"]:
        assert auf_der_seite[feld["slug"]] == _erwartet(feld), feld["slug"]
    assert auf_der_seite["energie"]["abgeschlossen"] >= 1
    assert druck.startswith(b"%PDF")
    assert druck.count(b"/Type /Page") >= 2
