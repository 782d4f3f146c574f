"""Der laufende Bot hält das Klimadashboard aktuell (`[dashboard] ordner`, Zeitplan).

Geschrieben wird in einem kurzen, eigenen Prozess (`python -m befehle.dashboardseite`):
matplotlib und Jinja2 kosteten den Bot sonst dauerhaft Speicher, und das Zeichnen hielte die
Ereignisschleife auf. Ein Fehler dabei landet im Protokoll und hält sonst nichts an.
"""

from __future__ import annotations

import asyncio
import logging
import sys

from bot.config import DashboardEinstellungen

log = logging.getLogger(__name__)

# Start, Abfragen, Zeichnen: wenige Sekunden; auf einer ausgelasteten Maschine mehr.
ZEITLIMIT_S = 120.0


class Dashboardschreiber:
    def __init__(
        self, einstellungen: DashboardEinstellungen, datenbank_url: str, zeitzone: str
    ) -> None:
        self._einstellungen = einstellungen
        self._url = datenbank_url
        self._zeitzone = zeitzone

    async def schreibe_sicher(self) -> bool:
        """Schreibt das Dashboard; `False` (und ein Eintrag im Protokoll), wenn es scheitert."""
        ordner = self._einstellungen.ordner
        if ordner is None:
            return False
        befehl = [
            sys.executable,
            "-m",
            "befehle.dashboardseite",
            "--ausgabe",
            str(ordner),
            "--zeitzone",
            self._zeitzone,
            "--wochen",
            str(self._einstellungen.wochen),
        ]
        if self._einstellungen.intern:
            befehl.append("--intern")
        prozess = await asyncio.create_subprocess_exec(
            *befehl,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            async with asyncio.timeout(ZEITLIMIT_S):
                _, fehler = await prozess.communicate(self._url.encode())
        except TimeoutError:
            prozess.kill()
            await prozess.wait()
            log.error("Klimadashboard nicht geschrieben: nach %.0f s abgebrochen", ZEITLIMIT_S)
            return False
        if prozess.returncode != 0:
            zeilen = fehler.decode(errors="replace").strip().splitlines()
            log.error(
                "Klimadashboard nicht geschrieben (Exit-Code %s): %s",
                prozess.returncode,
                zeilen[-1] if zeilen else "ohne Ausgabe",
            )
            return False
        log.info("Klimadashboard geschrieben: %s", ordner / "index.html")
        return True
