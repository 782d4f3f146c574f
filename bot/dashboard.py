"""Der laufende Bot hält das Klimadashboard aktuell (`[dashboard] ordner`, Zeitplan).

Geschrieben wird in einem kurzen, eigenen Prozess (`python -I -m bot.dashboard`, siehe
`_haupt` unten): matplotlib und Jinja2 kosteten den Bot sonst dauerhaft Speicher, und das
Zeichnen hielte die Ereignisschleife auf. Ein Fehler dabei landet im Protokoll und hält sonst
nichts an.
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
        # Isoliert (`-I`) wie der Zeichenprozess (`befehle.diagramm.kindbefehl`): sonst käme ein
        # `bot/dashboard.py` im Arbeitsverzeichnis zuerst – und bekäme die Datenbankadresse.
        befehl = [
            sys.executable,
            "-I",
            "-m",
            "bot.dashboard",
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


def _haupt() -> None:
    """`python -I -m bot.dashboard`: der kurze Prozess, in dem der laufende Bot sein Dashboard
    schreibt. Die Adresse der Datenbank kommt über die Standardeingabe (mit Passwort: nicht in
    die Befehlszeile, die jeder Nutzer des Rechners sieht)."""
    from pathlib import Path
    from zoneinfo import ZoneInfo

    from befehle.dashboardseite import schreibe_aus
    from bot.deutscher_parser import DeutscherParser
    from modelle.datenbank import erzeuge_engine, erzeuge_sitzungsfabrik

    parser = DeutscherParser(
        prog="python -m bot.dashboard",
        description="Schreibt das Klimadashboard des laufenden Bots (Datenbank über stdin).",
    )
    parser.add_argument("--ausgabe", type=Path, required=True, metavar="ORDNER", help="Zielordner")
    parser.add_argument("--zeitzone", required=True, help="z. B. Europe/Berlin")
    parser.add_argument("--wochen", type=int, required=True, help="Wochen im Verlauf")
    parser.add_argument("--intern", action="store_true", help="interne Fassung")
    argumente = parser.parse_args()
    if argumente.wochen < 1:
        parser.error("--wochen: mindestens 1")

    async def schreiben(url: str) -> None:
        engine = erzeuge_engine(url)
        try:
            async with erzeuge_sitzungsfabrik(engine)() as sitzung:
                await schreibe_aus(
                    sitzung,
                    argumente.ausgabe,
                    zeitzone=ZoneInfo(argumente.zeitzone),
                    wochen=argumente.wochen,
                    intern=argumente.intern,
                )
        finally:
            await engine.dispose()

    asyncio.run(schreiben(sys.stdin.read().strip()))


if __name__ == "__main__":
    _haupt()
